"""Two ``vrrpwatch join`` backups of equal priority take over at the same moment (issue 11,
"join against hostile peers", last item): both learnt the group from a keepalived master that
then stops with priority 0, so both Master_Down_Timers (Skew_Time from one packet) run out
together and both become Master. The one with the higher primary address wins (RFC 5798
section 6.4.3). The capture is taken on the segment's bridge itself.

What must hold: the loser drops the VIP before anything else it does as Backup (its BACKUP
notify script sees no VIP), no ARP for the VIP comes from the loser's MAC after the winner's
last gratuitous ARP although a client asks for the VIP all along (the winner announces again
when it hears the loser's advert and with its next advert; keepalived sends two such bursts
too), and that client's neighbour entry for the VIP ends at the winner's MAC.
"""

from __future__ import annotations

import ipaddress
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Join, make_lab
from tests.lab import Daemon, Host, Lab
from tests.lab_capture import arp_frames

pytestmark = pytest.mark.integration

VIP = ipaddress.IPv4Address("192.0.2.1")
# The notify script: what the namespace's eth0 holds when each state's script starts.
NOTIFY = """#!/bin/sh
ip -o -4 addr show dev eth0 > "{dir}/$3-$$"
"""


# A client asking for the VIP every 2 ms (broadcast ARP requests, as a host with no entry
# does): while both hold the VIP, both kernels answer.
ASK = r"""
import socket, sys, time
mac = bytes.fromhex(open("/sys/class/net/eth0/address").read().strip().replace(":", ""))
me, vip = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 1])
arp = bytes.fromhex("0001080006040001") + mac + me + bytes(6) + vip  # who-has VIP tell me
req = b"\xff" * 6 + mac + b"\x08\x06" + arp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    s.send(req)
    time.sleep(0.002)
"""


@pytest.fixture
def dlab(tmp_path: Path) -> Iterator[Lab]:
    yield from make_lab(tmp_path, prefix="vwj")


def _bridge_capture(lab: Lab, path: Path) -> Daemon:
    """tcpdump on the bridge of the lab's first segment: every frame any port sends."""
    seg = lab.segments[0]
    log = lab.workdir / "tcpdump-br.log"
    proc = lab.popen_in(
        seg.ns,
        ["tcpdump", "-n", "-U", "--immediate-mode", "-i", seg.bridge, "-w", str(path), "arp"],
        log=log,
    )
    daemon = Daemon(lab, "tcpdump@bridge", [proc], log)
    daemon.wait_for_log(r"listening on")
    return daemon


def _vip_arps(pcap: Path) -> list[tuple[float, bytes, bool]]:
    """ARP frames whose sender IP is the VIP: (time, source MAC, gratuitous)."""
    return [
        (ts, mac, arp.target_ip == VIP) for ts, mac, arp in arp_frames(pcap) if arp.sender_ip == VIP
    ]


def _notify_script(host: Host) -> tuple[Path, Path]:
    out = host.workdir / "notified"
    out.mkdir()
    script = host.workdir / "notify.sh"
    script.write_text(NOTIFY.format(dir=out))
    script.chmod(0o755)
    return script, out


def test_double_takeover_loser_drops_vip_first_and_client_ends_at_winner(
    dlab: Lab, tmp_path: Path
) -> None:
    lan = dlab.segment()
    ka = dlab.host("ka", lan, addr4="192.0.2.252/24")
    loser = dlab.host("r1", lan, addr4="192.0.2.253/24")
    winner = dlab.host("r2", lan, addr4="192.0.2.254/24")
    client = dlab.host("cl", lan, addr4="192.0.2.10/24")
    k = ka.keepalived(
        vrid=1, priority=200, state="MASTER", vips=["192.0.2.1/24"], auth_type="PASS",
        auth_pass="s3cret",
    )  # fmt: skip
    ka.wait_for_address(str(VIP), timeout=10)
    assert client.ping(str(VIP))
    script, notified = _notify_script(loser)
    joins = {
        "r1": Join(loser, "--vrid", "1", "--priority", "100", "--notify", str(script)),
        "r2": Join(winner, "--vrid", "1", "--priority", "100"),
    }
    for j in joins.values():
        j.wait_state("BACKUP", 8)
    cap = _bridge_capture(dlab, tmp_path / "br.pcap")
    asker = client.popen([sys.executable, "-c", ASK, "2.0"])
    time.sleep(0.3)
    # Priority 0: both backups time Skew_Time from the same packet and take over together.
    k.stop()
    joins["r2"].wait_state("MASTER", 5)
    joins["r1"].wait_for(lambda e: e["event"] == "state" and e["old"] == "MASTER", 5)
    # The winner's bursts: on taking over, on hearing the loser, with its next advert (1 s);
    # its garp_delay burst is 5 s away: what the client holds before it counts.
    joins["r2"].wait_for(lambda e: sum(x["event"] == "garp" for x in joins["r2"].events()) >= 3, 3)
    asker.wait(5)
    time.sleep(0.2)
    mac_w, mac_l = winner.mac(), loser.mac()
    neigh = client.run(["ip", "neigh", "show", str(VIP), "dev", "eth0"]).stdout
    cap.stop()

    # Both became Master (the race happened), and the lower address went back to Backup.
    assert joins["r1"].states() == ["BACKUP", "MASTER", "BACKUP"], joins["r1"].text()[-2000:]
    assert joins["r2"].states() == ["BACKUP", "MASTER"], joins["r2"].text()[-2000:]
    assert not loser.has_address(str(VIP)) and winner.has_address(str(VIP))
    # Leaving Master the loser removed the VIP before its first Backup action: in its log
    # the removal comes before the state change, and its BACKUP script (started after the
    # state change; the scripts run concurrently, so the two BACKUP runs are told apart by
    # nothing but their snapshots) never saw the VIP.
    events = [e["event"] for e in joins["r1"].events()]
    master_at = next(i for i, e in enumerate(joins["r1"].events()) if e.get("new") == "MASTER")
    after = events[master_at:]
    assert after.index("vip-remove") < after.index("state", 1), after
    seen = sorted(p.name.split("-")[0] for p in notified.iterdir())
    assert seen == ["BACKUP", "BACKUP", "MASTER"], seen
    for p in notified.glob("BACKUP-*"):
        text = p.read_text()
        assert "192.0.2.253" in text and f"{VIP}/" not in text, text

    arps = _vip_arps(tmp_path / "br.pcap")
    w = bytes.fromhex(mac_w.replace(":", ""))
    lo = bytes.fromhex(mac_l.replace(":", ""))
    from_w = [t for t, src, garp in arps if src == w and garp]
    from_l = [t for t, src, _ in arps if src == lo]
    assert from_w, arps
    # Winner: 5 when it took over, 5 when it heard the loser's advert, 5 with its next advert.
    assert len(from_w) == 15, len(from_w)
    last_w = max(from_w)
    late = [t - last_w for t in from_l if t >= last_w]
    assert late == [], f"loser's ARPs for the VIP after the winner's last: {late}"
    if from_l:
        print(
            f"loser's ARPs for the VIP: {len(from_l)} in {(max(from_l) - min(from_l)) * 1000:.1f}"
            f" ms, the last {(last_w - max(from_l)) * 1000:.1f} ms before the winner's last"
        )
    assert f"lladdr {mac_w}" in neigh, neigh
