"""join's transport: the link watcher it reads link changes from (no sockets but a pair)."""

from __future__ import annotations

import struct

from vrrpwatch import netif


def _newlink(index: int, flags: int, mtype: int = netif.RTM_NEWLINK) -> bytes:
    # struct nlmsghdr + struct ifinfomsg (rtnetlink(7)), host byte order.
    body = struct.pack("=BxHiII", 0, 1, index, flags, 0xFFFFFFFF)
    return struct.pack("=IHHII", 16 + len(body), mtype, 0, 0, 0) + body


def test_link_watcher_reports_changes_of_our_link_only() -> None:
    import socket

    watcher = netif.LinkWatcher(7, up=True)
    watcher.sock.close()
    feed, watcher.sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    watcher.sock.setblocking(False)
    up = netif.IFF_UP | netif.IFF_RUNNING
    assert watcher.read() is None
    feed.send(_newlink(7, up) + _newlink(8, 0))  # still up; another link went down
    assert watcher.read() is None
    feed.send(_newlink(7, netif.IFF_UP))  # carrier lost
    assert watcher.read() is False
    feed.send(_newlink(7, netif.IFF_UP))
    assert watcher.read() is None
    feed.send(_newlink(7, up))
    feed.send(_newlink(7, 0, netif.RTM_DELLINK))
    assert watcher.read() is None  # the latest message wins: down, as before
    feed.send(_newlink(7, up))
    assert watcher.read() is True
    feed.send(_newlink(7, up))
    feed.send(_newlink(7, 0, netif.RTM_DELLINK))
    assert watcher.read() is False
    watcher.close()
    feed.close()
