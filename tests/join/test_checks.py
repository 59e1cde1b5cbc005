"""join's checks of what it is given and what it learns, before anything is sent."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from dissectors.vrrp import VrrpV3
from tests.helpers import MASTER
from vrrpwatch import netif
from vrrpwatch.join.checks import max_vips, read_auth_pass
from vrrpwatch.join.settings import JoinError, JoinOptions, JoinSettings, resolve_options
from vrrpwatch.join.setup import Learnt, build_config

A = ipaddress.ip_address


def iface(*addrs: str) -> netif.Interface:
    parsed = []
    for a in addrs:
        i = ipaddress.ip_interface(a)
        parsed.append((i.ip, i.network.prefixlen))
    return netif.Interface(name="eth0", index=2, mac=b"\x02" * 6, up=True, addresses=tuple(parsed))


def learnt(*addresses: str, family: int = 4) -> Learnt:
    addrs = tuple(A(a) for a in addresses)
    adv = VrrpV3(vrid=1, priority=100, count_ip_addrs=len(addrs), addresses=addrs, family=family)
    return Learnt(adv, MASTER)


def test_a_hostile_master_cannot_make_us_add_a_multicast_or_broadcast_address() -> None:
    """What is learnt from the wire is checked as --vip is: a master listing 224.0.0.1, or the
    broadcast address of the interface's subnet, is refused before the router starts."""
    eth = iface("192.0.2.254/24")
    with pytest.raises(JoinError, match=r"^the master's advert: 224\.0\.0\.1 is a multicast"):
        build_config(JoinOptions(vrid=1, priority=50), eth, learnt("192.0.2.1", "224.0.0.1"))
    with pytest.raises(JoinError, match=r"192\.0\.2\.255 is the broadcast address of 192\.0\.2"):
        build_config(JoinOptions(vrid=1, priority=50), eth, learnt("192.0.2.255"))
    with pytest.raises(JoinError, match="lists none"):
        build_config(JoinOptions(vrid=1, priority=50), eth, learnt())


def test_vips_must_fit_one_advert_on_the_interface_mtu() -> None:
    """8-bit count (RFC 5798 section 5.2.5) and the MTU: 1500 carries 90 IPv6 addresses
    (40 + 8 + 16 x 90 = 1488 bytes), 255 IPv4 ones."""
    assert max_vips(6, 3, 1500) == 90
    assert max_vips(4, 2, 1500) == 255
    assert max_vips(4, 3, 1000) == (1000 - 28) // 4
    vips = tuple(f"2001:db8::{i + 1:x}" for i in range(91))
    eth = iface("fe80::1/64", "2001:db8::ffff/64")
    with pytest.raises(JoinError, match="at most 90 IPv6 addresses"):
        build_config(JoinOptions(vrid=1, priority=50, vips=vips), eth, None, mtu=1500)
    cfg, _ = build_config(JoinOptions(vrid=1, priority=50, vips=vips[:90]), eth, None, mtu=1500)
    assert len(cfg.addresses) == 90


def test_a_unicast_peer_of_the_learnt_family_only() -> None:
    eth = iface("192.0.2.254/24", "fe80::1/64")
    opts = JoinOptions(vrid=1, priority=50, unicast_peers=("2001:db8::2",))
    with pytest.raises(JoinError, match="2001:db8::2 is IPv6, the group is IPv4"):
        build_config(opts, eth, learnt("192.0.2.1"))


def test_read_auth_pass(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_bytes(b"s3cret\n")
    assert read_auth_pass(str(f)) == "s3cret"
    f.write_bytes(b"s3cret\r\nsecond line\n")
    assert read_auth_pass(str(f)) == "s3cret"
    f.write_bytes(b"123456789\n")
    with pytest.raises(JoinError, match="at most 8 characters"):
        read_auth_pass(str(f))
    f.write_bytes(b"\n")
    with pytest.raises(JoinError, match="first line is empty"):
        read_auth_pass(str(f))
    with pytest.raises(JoinError, match=f"^--auth-pass-file: {tmp_path}/missing: No such file"):
        read_auth_pass(str(tmp_path / "missing"))
    with pytest.raises(JoinError, match="is a directory, not a password file"):
        read_auth_pass(str(tmp_path))
    with pytest.raises(JoinError, match="not a regular file"):
        read_auth_pass("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(JoinError, match="not a regular file"):
        read_auth_pass(str(fifo))  # opened non-blocking: no hang
    with pytest.raises(JoinError, match="not a regular file"):
        read_auth_pass("/dev/zero")


def test_auth_pass_file_wins_over_the_configs_password() -> None:
    settings = JoinSettings(
        instance="VI_1", vrid=1, priority=100, interface="eth0", version=2, family=4,
        advert_int_cs=100, vips=(), auth_pass="fromconf", unicast_src_ip=None,
        unicast_peers=(), preempt=True, preempt_delay_s=0.0, state="BACKUP",
    )  # fmt: skip
    opts = resolve_options({"auth_pass_file": "/etc/pw"}, settings)
    assert (opts.auth_pass, opts.auth_pass_file) == (None, "/etc/pw")
    assert resolve_options({}, settings).auth_pass == "fromconf"
