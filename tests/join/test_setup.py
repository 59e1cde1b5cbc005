"""join's set-up: learning the group from the wire, building the router's configuration,
checking the options (no sockets)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from pathlib import Path

import pytest

from dissectors.vrrp import VrrpV3, build_vrrp, parse_vrrp
from tests.helpers import GROUP, MASTER, ME, VIP, FakeClock, FakeTransport, rx, v2_bytes
from vrrpwatch import netif
from vrrpwatch.join.settings import JoinError, JoinOptions
from vrrpwatch.join.setup import (
    Learnt,
    build_config,
    check_options,
    default_state_file,
    learn_group,
)
from vrrpwatch.join.transport import LinkChange, Received

A = ipaddress.ip_address


def test_learn_group_picks_our_vrid_and_times_out() -> None:
    other = VrrpV3(vrid=7, priority=100, count_ip_addrs=1, addresses=(VIP,))
    ours = VrrpV3(vrid=1, priority=100, count_ip_addrs=1, max_adver_int_cs=10, addresses=(VIP,))
    script: list[tuple[float, Received | LinkChange]] = [
        (0.1, rx(build_vrrp(other, src=MASTER, dst=GROUP))),
        (0.2, rx(build_vrrp(ours, src=MASTER, dst=GROUP), ttl=64)),
        (0.3, rx(build_vrrp(ours, src=MASTER, dst=GROUP))),
    ]
    clock = FakeClock()
    learnt = learn_group(FakeTransport(clock, script), 1, 5.0, clock=clock)
    assert learnt == Learnt(ours, MASTER)
    assert clock.now == 0.3
    assert learn_group(FakeTransport(clock, []), 1, 2.0, clock=clock) is None
    assert clock.now == 2.3


def iface(*addrs: str) -> netif.Interface:
    parsed = []
    for a in addrs:
        i = ipaddress.ip_interface(a)
        parsed.append((i.ip, i.network.prefixlen))
    return netif.Interface(name="eth0", index=2, mac=b"\x02" * 6, up=True, addresses=tuple(parsed))


def test_build_config_from_learnt_v2_pass() -> None:
    adv = parse_vrrp(v2_bytes(100), src=MASTER, dst=GROUP)
    cfg, prefixes = build_config(
        JoinOptions(vrid=1, priority=50), iface("192.0.2.254/24", "fe80::1/64"), Learnt(adv, MASTER)
    )
    assert cfg.version == 2 and cfg.auth_pass == b"s3cret"
    assert cfg.addresses == (VIP,) and cfg.primary_address == ME
    assert cfg.advertisement_interval_cs == 100 and cfg.preempt_mode
    assert prefixes == {VIP: 24}


def test_build_config_v3_ipv6_learnt_and_overrides() -> None:
    vip6 = A("2001:db8::1")
    adv = VrrpV3(
        vrid=1, priority=100, count_ip_addrs=1, max_adver_int_cs=10, addresses=(vip6,), family=6
    )
    cfg, prefixes = build_config(
        JoinOptions(vrid=1, priority=50),
        iface("192.0.2.254/24", "fe80::2/64", "2001:db8::2/64"),
        Learnt(adv, A("fe80::1")),
    )
    assert cfg.version == 3 and cfg.advertisement_interval_cs == 10
    assert cfg.primary_address == A("fe80::2") and prefixes == {vip6: 64}
    # --vip outside every subnet gets a host prefix; flags win over what was learnt.
    cfg, prefixes = build_config(
        JoinOptions(vrid=1, priority=50, vips=("203.0.113.9",), version=3, advert_int_s=0.5),
        iface("192.0.2.254/24"),
        None,
    )
    assert prefixes == {A("203.0.113.9"): 32}
    assert cfg.version == 3 and cfg.advertisement_interval_cs == 50


@pytest.mark.parametrize(
    ("opts", "iface_addrs", "msg"),
    [
        (JoinOptions(vrid=1, priority=255, vips=("192.0.2.1",)), ("192.0.2.254/24",), "owner"),
        (
            JoinOptions(vrid=1, priority=50, vips=("2001:db8::1",)),
            ("192.0.2.254/24",),
            "link-local",
        ),
        (JoinOptions(vrid=1, priority=50, vips=("x",)), ("192.0.2.254/24",), "not an IP"),
        (JoinOptions(vrid=1, priority=50), ("192.0.2.254/24",), "no virtual address"),
        (
            JoinOptions(vrid=1, priority=50, vips=("2001:db8::1",), version=2),
            ("fe80::1/64",),
            "IPv4 only",
        ),
    ],
)
def test_build_config_errors(opts: JoinOptions, iface_addrs: tuple[str, ...], msg: str) -> None:
    with pytest.raises(JoinError, match=msg):
        build_config(opts, iface(*iface_addrs), None)


def test_primary_address_is_not_a_left_over_vip() -> None:
    adv = parse_vrrp(v2_bytes(100), src=MASTER, dst=GROUP)
    cfg, _ = build_config(
        JoinOptions(vrid=1, priority=50),
        iface("192.0.2.1/24", "192.0.2.254/24"),  # a killed run's VIP listed first
        Learnt(adv, MASTER),
    )
    assert cfg.primary_address == ME


def test_owner_priority_accepted_when_vip_is_ours() -> None:
    cfg, _ = build_config(
        JoinOptions(vrid=1, priority=255, vips=("192.0.2.254",)), iface("192.0.2.254/24"), None
    )
    assert cfg.priority == 255


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(vrid=0, priority=50), "invalid VRID 0"),
        (dict(vrid=256, priority=50), "invalid VRID 256"),
        (dict(vrid=1, priority=0), "invalid priority 0"),
        (dict(vrid=1, priority=256), "invalid priority 256"),
    ],
)
def test_check_options(kw: dict[str, int], msg: str) -> None:
    with pytest.raises(JoinError, match=msg):
        check_options(JoinOptions(**kw))


def test_learn_group_stops_on_request() -> None:
    other = VrrpV3(vrid=7, priority=100, count_ip_addrs=1, addresses=(VIP,))
    clock = FakeClock()
    transport = FakeTransport(clock, [(1.0, rx(build_vrrp(other, src=MASTER, dst=GROUP)))])
    calls = iter([False, True])
    assert learn_group(transport, 1, 5.0, clock=clock, stop=lambda: next(calls)) is None
    assert clock.now == 1.0  # gave up at the first wake-up after the request, not at 5 s


def test_default_state_file_is_per_network_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    inode = os.stat("/proc/self/ns/net").st_ino
    assert default_state_file("eth0.2", 1, 4) == Path(
        f"/run/vrrpwatch/join-eth0.2-vrid1-ipv4-netns-{inode}.json"
    )


def test_default_state_file_is_in_systemds_runtime_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The unit's RuntimeDirectory= (systemd sets RUNTIME_DIRECTORY, ':'-separated when several):
    # one file per instance, so several instances of one --config need no --state-file.
    inode = os.stat("/proc/self/ns/net").st_ino
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/vrrpwatch-join-lan:/run/other")
    assert [default_state_file("eth0", v, 4) for v in (1, 2)] == [
        Path(f"/run/vrrpwatch-join-lan/join-eth0-vrid{v}-ipv4-netns-{inode}.json") for v in (1, 2)
    ]
    monkeypatch.setenv("RUNTIME_DIRECTORY", "relative/dir")  # not systemd's: ignored
    assert default_state_file("eth0", 1, 6).parent == Path("/run/vrrpwatch")


def test_learn_group_learns_only_what_the_router_would_accept() -> None:
    """The same RFC 5798 section 7.1 checks as the router's (``discard_reason``): a bad count
    or an IPv6 address list over IPv4 teaches nothing; a leaving master (priority 0) neither."""
    ours = VrrpV3(vrid=1, priority=100, count_ip_addrs=1, max_adver_int_cs=10, addresses=(VIP,))
    bad_count = build_vrrp(dataclasses.replace(ours, trailing=bytes(4)), src=MASTER, dst=GROUP)
    six = VrrpV3(vrid=1, priority=100, count_ip_addrs=1, addresses=(A("2001:db8::1"),))
    script: list[tuple[float, Received | LinkChange]] = [
        (0.1, rx(bad_count)),
        (0.2, rx(build_vrrp(six, src=MASTER, dst=GROUP))),
        (0.3, rx(build_vrrp(dataclasses.replace(ours, priority=0), src=MASTER, dst=GROUP))),
        (0.4, Received(build_vrrp(ours, src=MASTER, dst=ME), MASTER, ME, 255)),  # unicast
    ]
    clock = FakeClock()
    assert learn_group(FakeTransport(clock, script), 1, 5.0, clock=clock) == Learnt(ours, MASTER)
    assert clock.now == 0.4
