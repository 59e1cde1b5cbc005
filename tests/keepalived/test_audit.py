"""audit: config-vs-config checks, failover estimates and the comparison with observed adverts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from dissectors.frame import build_ethernet
from dissectors.ip import IPPROTO_VRRP, IPv4Header, IPv6Header, build_ipv4, build_ipv6
from dissectors.packet import decode_packet
from dissectors.vrrp import VRRP_MCAST_V4, VRRP_MCAST_V6, VrrpV2, VrrpV3, build_vrrp
from vrrpwatch.keepalived.audit import audit
from vrrpwatch.keepalived.config import KeepalivedConfig, parse_config
from vrrpwatch.keepalived.report import AuditSeverity, GroupKey
from vrrpwatch.keepalived.wire import Advert, advert_from_decoded
from vrrpwatch.rfc import master_down_interval, skew_time

KACONF = Path(__file__).parent / "confs"
R1 = KACONF / "lab-v2" / "r1.conf"
R2 = KACONF / "lab-v2" / "r2.conf"


def cfg(*paths: Path) -> list[KeepalivedConfig]:
    return [parse_config(p) for p in paths]


def ids(paths: list[Path], severity: AuditSeverity | None = None) -> set[str]:
    report = audit(cfg(*paths))
    return {f.id for f in report.findings if severity is None or f.severity is severity}


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def instance_conf(
    router: str,
    *,
    vrid: int = 1,
    interface: str = "eth0",
    priority: int = 100,
    vips: str = "192.0.2.1/24",
    extra: str = "",
) -> str:
    return (
        f"global_defs {{\n router_id {router}\n}}\n"
        f"vrrp_instance VI_{vrid} {{\n interface {interface}\n virtual_router_id {vrid}\n"
        f" priority {priority}\n{extra}"
        f" virtual_ipaddress {{\n {vips}\n }}\n}}\n"
    )


# -- config against config -----------------------------------------------------------------


def test_lab_pair_has_only_the_plaintext_warning() -> None:
    report = audit(cfg(R1, R2))
    assert [(f.severity, f.id) for f in report.findings] == [
        (AuditSeverity.WARNING, "plaintext-auth"),
        (AuditSeverity.WARNING, "plaintext-auth"),
    ]
    assert report.exit_code() == 0
    assert report.exit_code(strict=True) == 1
    (group,) = report.groups
    assert group.key == GroupKey(vrid=1, interface="eth0", family=4)
    assert [m.label for m in group.members] == ["r1/VI_1", "r2/VI_1"]


def test_failover_estimates_follow_rfc_timers() -> None:
    (group,) = audit(cfg(R1, R2)).groups
    r1, r2 = group.failover
    assert (r1.router, r1.role, r2.router, r2.role) == ("r1", "master", "r2", "backup")
    # RFC 3768 section 6.1: skew (256 - 100) / 256 = 0.609375 s; MDI 3 x 1 s + skew.
    assert r2.skew_s == 0.609375 and r2.clean_stop_s == 0.609375
    assert r2.master_down_s == 3.609375
    assert r1.master_down_s == 3.21875


def test_v3_failover_uses_the_interval() -> None:
    report = audit(cfg(KACONF / "lab-v3" / "r1.conf", KACONF / "lab-v3" / "r2.conf"))
    assert report.findings == ()
    v4, v6 = report.groups
    assert (v4.key.family, v6.key.family) == (4, 6)
    backup = v4.failover[1]
    # RFC 5798 section 6.1: skew = (256 - 150) x 0.5 s / 256 = 0.20703125 s.
    assert backup.skew_s == 0.20703125
    assert backup.master_down_s == 1.70703125


def test_timer_functions() -> None:
    assert skew_time(100, 1.0, 2) == 0.609375
    assert skew_time(100, 3.0, 2) == 0.609375  # v2 skew does not scale with the interval
    assert skew_time(100, 2.0, 3) == 1.21875
    assert master_down_interval(254, 1.0, 3) == 3.0078125


@pytest.mark.parametrize(
    ("variant", "errors", "warnings"),
    [
        ("r2-badpass.conf", {"auth-mismatch"}, {"plaintext-auth"}),
        ("r2-interval.conf", {"interval-mismatch"}, {"plaintext-auth"}),
        ("r2-v3.conf", {"version-mismatch"}, {"plaintext-auth", "auth-ignored-v3"}),
        ("r2-vips.conf", {"vip-mismatch"}, {"plaintext-auth"}),
        ("r2-prio0.conf", {"priority-out-of-range"}, {"plaintext-auth"}),
        ("r2-equal.conf", set(), {"plaintext-auth", "equal-priorities"}),
        ("r2-master.conf", set(), {"plaintext-auth", "master-lower-priority"}),
        ("r2-vipdev.conf", set(), {"plaintext-auth", "vip-dev-mismatch"}),
    ],
)
def test_broken_variants(variant: str, errors: set[str], warnings: set[str]) -> None:
    paths = [R1, KACONF / "broken" / variant]
    assert ids(paths, AuditSeverity.ERROR) == errors
    assert ids(paths, AuditSeverity.WARNING) == warnings
    assert audit(cfg(*paths)).exit_code() == (1 if errors else 0)


def test_two_owners() -> None:
    report = audit(cfg(KACONF / "broken" / "r1-owner.conf", KACONF / "broken" / "r2-owner.conf"))
    (err,) = report.errors
    assert err.id == "two-owners"
    assert err.message == (
        "VRID 1 on eth0 (IPv4): 2 address owners (priority 255): r1/VI_1, r2/VI_1"
    )
    assert "equal-priorities" not in {f.id for f in report.findings}


def test_messages_name_the_disagreement_without_the_password() -> None:
    report = audit(cfg(R1, KACONF / "broken" / "r2-badpass.conf"))
    (err,) = report.errors
    assert err.message == (
        "VRID 1 on eth0 (IPv4): peers disagree on authentication: r1/VI_1 PASS password A, "
        "r2/VI_1 PASS password B; adverts are dropped and both sides become master"
    )
    assert "s3cre" not in err.message
    assert err.routers == ("r1", "r2")
    (err,) = audit(cfg(R1, KACONF / "broken" / "r2-interval.conf")).errors
    assert "r1/VI_1 1s, r2/VI_1 2s" in err.message


def test_vip_dev_mismatch_points_at_the_vip_line() -> None:
    report = audit(cfg(R1, KACONF / "broken" / "r2-vipdev.conf"))
    (f,) = [f for f in report.findings if f.id == "vip-dev-mismatch"]
    assert f.source is not None and f.source.endswith("broken/r2-vipdev.conf:11")
    assert f.message == "r2/VI_1: VIP 192.0.2.1 is on eth1, the instance runs on eth0"


def test_master_lower_priority_names_the_better_peer() -> None:
    (f,) = [
        f
        for f in audit(cfg(R1, KACONF / "broken" / "r2-master.conf")).findings
        if f.id == "master-lower-priority"
    ]
    assert f.message == "r2/VI_1: state MASTER with priority 100, below r1/VI_1"


def test_grouping_by_vrid_interface_and_family(tmp_path: Path) -> None:
    a = write(tmp_path, "a.conf", instance_conf("a", interface="eth0.10", priority=200))
    b = write(tmp_path, "b.conf", instance_conf("b", interface="eth0.10", vips="192.0.2.2/24"))
    c = write(tmp_path, "c.conf", instance_conf("c", interface="eth0.20", vips="192.0.2.3/24"))
    d = write(tmp_path, "d.conf", instance_conf("d", interface="eth0.10", vips="2001:db8::1/64"))
    report = audit(cfg(a, b, c, d))
    keys = [(g.key.interface, g.key.vlan, g.key.family, len(g.members)) for g in report.groups]
    assert keys == [("eth0.10", 10, 4, 2), ("eth0.10", 10, 6, 1), ("eth0.20", 20, 4, 1)]
    assert {f.id for f in report.errors} == {"vip-mismatch"}  # only a and b are peers
    assert sum(f.id == "single-router" for f in report.findings) == 2


def test_duplicate_router_names_fall_back_to_paths(tmp_path: Path) -> None:
    a = write(tmp_path, "a.conf", instance_conf("same", priority=200))
    b = write(tmp_path, "b.conf", instance_conf("same"))
    report = audit(cfg(a, b))
    assert report.routers == (str(a), str(b))


def test_duplicate_vrid_in_one_config(tmp_path: Path) -> None:
    text = instance_conf("x") + instance_conf("x").split("}\n", 1)[1].replace("VI_1", "VI_9")
    report = audit(cfg(write(tmp_path, "x.conf", text)))
    assert "duplicate-vrid" in {f.id for f in report.errors}


def test_vrid_out_of_range(tmp_path: Path) -> None:
    report = audit(cfg(write(tmp_path, "x.conf", instance_conf("x", vrid=256))))
    assert {f.id for f in report.errors} == {"vrid-out-of-range"}


def test_v3_groups_ignore_auth_differences(tmp_path: Path) -> None:
    auth = " version 3\n authentication {\n auth_type PASS\n auth_pass %s\n }\n"
    a = write(tmp_path, "a.conf", instance_conf("a", priority=200, extra=auth % "one"))
    b = write(tmp_path, "b.conf", instance_conf("b", extra=auth % "two"))
    report = audit(cfg(a, b))
    assert report.errors == ()
    assert {f.id for f in report.warnings} == {"auth-ignored-v3"}


# -- config against the wire ----------------------------------------------------------------

SRC1 = ipaddress.IPv4Address("192.0.2.253")
SRC2 = ipaddress.IPv4Address("192.0.2.254")
VIP = frozenset({ipaddress.IPv4Address("192.0.2.1")})


def adv(
    src: ipaddress.IPv4Address = SRC1,
    *,
    vrid: int = 1,
    priority: int = 200,
    interval_cs: int = 100,
    addresses: frozenset[ipaddress.IPv4Address] = VIP,
    password: bytes | None = b"s3cret",
    version: int = 2,
) -> Advert:
    return Advert(
        time=0.0,
        src=src,
        vrid=vrid,
        family=4,
        version=version,
        priority=priority,
        interval_cs=interval_cs,
        addresses=addresses,
        auth_type=1 if password is not None else 0,
        password=password,
    )


def wire_ids(adverts: list[Advert], *paths: Path) -> list[tuple[str, str]]:
    report = audit(cfg(*(paths or (R1, R2))), adverts)
    return [(f.id, f.message) for f in report.findings if f.id != "plaintext-auth"]


def test_wire_matches_config() -> None:
    report = audit(cfg(R1, R2), [adv(), adv(), adv(priority=0), adv(SRC2, priority=100)])
    assert [f.id for f in report.findings] == ["plaintext-auth", "plaintext-auth"]
    assert report.advertisers is not None
    a1, a2 = report.advertisers
    assert (a1.src, a1.count, a1.released, a1.matched) == (SRC1, 3, True, "r1/VI_1")
    assert (a2.src, a2.priorities, a2.matched) == (SRC2, frozenset({100}), "r2/VI_1")


def test_wire_differences() -> None:
    assert wire_ids([adv(interval_cs=200)]) == [
        (
            "wire-interval-differs",
            "r1/VI_1 (192.0.2.253): advertises every 2s, configured 1s",
        )
    ]
    two = frozenset({*VIP, ipaddress.IPv4Address("192.0.2.2")})
    assert wire_ids([adv(addresses=two)]) == [
        (
            "wire-vips-differ",
            "r1/VI_1 (192.0.2.253): advertises {192.0.2.1, 192.0.2.2}, configured {192.0.2.1}",
        )
    ]
    ((ident, message),) = wire_ids([adv(password=b"guess")])
    assert ident == "wire-password-differs" and "guess" not in message
    assert wire_ids([adv(password=None)])[0][0] == "wire-password-differs"
    assert wire_ids([adv(version=3, password=None)])[0][0] == "wire-version-differs"


def test_unknown_advertisers() -> None:
    rogue = ipaddress.IPv4Address("192.0.2.66")
    # A third source at a priority no config has, with another password: not r2 (silent here).
    found = wire_ids([adv(), adv(rogue, priority=150, password=b"x")])
    assert found == [
        (
            "unknown-advertiser",
            "192.0.2.66 advertises VRID 1 on eth0 (IPv4) at priority 150 (1 adverts) "
            "and matches no configured router",
        )
    ]
    assert wire_ids([adv(vrid=9)])[0] == (
        "unknown-advertiser",
        "192.0.2.253 advertises VRID 9 (IPv4), which no config has, at priority 200 "
        "(1 adverts) and matches no configured router",
    )


def test_leftover_advertiser_with_other_priority_is_the_weighted_router(tmp_path: Path) -> None:
    # b's priority moves with a track weight: the one unexplained source with b's settings is b.
    weighted = " track_interface {\n eth1 weight -20\n }\n"
    a = write(tmp_path, "a.conf", instance_conf("a", priority=200))
    b = write(tmp_path, "b.conf", instance_conf("b", extra=weighted))
    assert parse_config(b).instances[0].dynamic_priority
    report = audit(cfg(a, b), [adv(password=None), adv(SRC2, priority=80, password=None)])
    assert [(f.severity, f.id, f.message) for f in report.findings] == [
        (
            AuditSeverity.WARNING,
            "wire-priority-differs",
            "b/VI_1 (192.0.2.254): advertises priority 80, configured 100",
        )
    ]
    # Never at 255: weights cannot reach it, an owner-priority stranger is a rogue.
    report = audit(cfg(a, b), [adv(password=None), adv(SRC2, priority=255, password=None)])
    assert [f.id for f in report.errors] == ["unknown-advertiser"]


def test_leftover_advertiser_without_weights_is_unknown() -> None:
    # r2 has no track weights, so a source at priority 90 with r2's settings is a stranger.
    found = wire_ids([adv(), adv(SRC2, priority=90)])
    assert [f[0] for f in found] == ["unknown-advertiser"]


def test_dynamic_priority_from_track_blocks(tmp_path: Path) -> None:
    plain = write(tmp_path, "p.conf", instance_conf("p", extra=" track_interface {\n eth1\n }\n"))
    script = write(tmp_path, "s.conf", instance_conf("s", extra=" track_script {\n chk\n }\n"))
    assert not parse_config(plain).instances[0].dynamic_priority
    assert parse_config(script).instances[0].dynamic_priority


def test_configured_source_address_wins_over_priority(tmp_path: Path) -> None:
    a = write(
        tmp_path, "a.conf", instance_conf("a", priority=200, extra=" unicast_src_ip 192.0.2.254\n")
    )
    b = write(tmp_path, "b.conf", instance_conf("b", priority=100))
    report = audit(cfg(a, b), [adv(SRC2, priority=100, password=None)])
    assert report.advertisers is not None
    assert report.advertisers[0].matched == "a/VI_1"
    # No track weights in a's config: a priority other than the configured one is an error.
    assert [(f.severity, f.id) for f in report.findings] == [
        (AuditSeverity.ERROR, "wire-priority-differs")
    ]


def test_group_not_observed_is_info() -> None:
    report = audit(cfg(R1, R2), [])
    (f,) = [f for f in report.findings if f.id == "not-observed"]
    assert f.severity is AuditSeverity.INFO and report.exit_code() == 0


def _frame4(pkt: VrrpV2 | VrrpV3, src: ipaddress.IPv4Address) -> bytes:
    payload = build_vrrp(pkt, src=src, dst=VRRP_MCAST_V4)
    ip = build_ipv4(IPv4Header(src=src, dst=VRRP_MCAST_V4, protocol=IPPROTO_VRRP), payload)
    return build_ethernet(b"\x01\x00\x5e\x00\x00\x12", b"\x00\x00\x5e\x00\x01\x01", 0x0800, ip)


def test_advert_from_decoded_v2_and_v3() -> None:
    v2 = VrrpV2(
        vrid=1,
        priority=200,
        count_ip_addrs=1,
        auth_type=1,
        addresses=(ipaddress.IPv4Address("192.0.2.1"),),
        auth_data=b"s3cret\0\0",
    )
    d = decode_packet(_frame4(v2, SRC1), 1)
    assert d is not None
    a = advert_from_decoded(d, 5.0)
    assert a == Advert(
        time=5.0,
        src=SRC1,
        vrid=1,
        family=4,
        version=2,
        priority=200,
        interval_cs=100,
        addresses=VIP,
        auth_type=1,
        password=b"s3cret",
    )
    src6 = ipaddress.IPv6Address("fe80::1")
    v3 = VrrpV3(
        vrid=6,
        priority=150,
        count_ip_addrs=1,
        max_adver_int_cs=50,
        addresses=(ipaddress.IPv6Address("2001:db8::6"),),
        family=6,
    )
    payload = build_vrrp(v3, src=src6, dst=VRRP_MCAST_V6)
    ip6 = build_ipv6(IPv6Header(src=src6, dst=VRRP_MCAST_V6, next_header=IPPROTO_VRRP), payload)
    frame = build_ethernet(b"\x33\x33\x00\x00\x00\x12", b"\x00\x00\x5e\x00\x02\x06", 0x86DD, ip6)
    d6 = decode_packet(frame, 1)
    assert d6 is not None
    a6 = advert_from_decoded(d6)
    assert a6 is not None
    assert (a6.family, a6.version, a6.interval_cs, a6.password) == (6, 3, 50, None)


def test_v3_interval_mismatch_is_a_warning(tmp_path: Path) -> None:
    # RFC 5798 section 6.4.2: a v3 backup adopts the master's interval; v2 drops the advert.
    a = write(tmp_path, "a.conf", instance_conf("a", priority=200, extra=" version 3\n"))
    b = write(tmp_path, "b.conf", instance_conf("b", extra=" version 3\n advert_int 0.5\n"))
    report = audit(cfg(a, b))
    assert report.errors == ()
    (warning,) = report.warnings
    assert warning.id == "interval-mismatch"
    assert warning.message.endswith(
        "a/VI_1 1s, b/VI_1 0.5s; VRRPv3 backups adopt the master's, "
        "so failover times depend on who is master"
    )
    b2 = write(tmp_path, "b2.conf", instance_conf("b", extra=" advert_int 2\n"))
    a2 = write(tmp_path, "a2.conf", instance_conf("a", priority=200))
    assert [f.id for f in audit(cfg(a2, b2)).errors] == ["interval-mismatch"]


def test_nopreempt_with_state_master_is_ignored(tmp_path: Path) -> None:
    a = write(tmp_path, "a.conf", instance_conf("a", extra=" state MASTER\n nopreempt\n"))
    b = write(tmp_path, "b.conf", instance_conf("b", extra=" state MASTER\n preempt_delay 5\n"))
    c = write(tmp_path, "c.conf", instance_conf("c", extra=" nopreempt\n"))
    found = [(f.id, f.message) for f in audit(cfg(a, b, c)).findings if f.id.startswith("preempt")]
    assert found == [
        (
            "preempt-setting-ignored",
            "a/VI_1: nopreempt has no effect with state MASTER "
            "(keepalived.conf(5): the initial state must be BACKUP)",
        ),
        (
            "preempt-setting-ignored",
            "b/VI_1: preempt_delay has no effect with state MASTER "
            "(keepalived.conf(5): the initial state must be BACKUP)",
        ),
    ]


def test_config_without_instances(tmp_path: Path) -> None:
    empty = write(tmp_path, "lvs.conf", "virtual_server 192.0.2.80 80 {\n delay_loop 6\n}\n")
    report = audit(cfg(R1, R2, empty))
    (f,) = [f for f in report.findings if f.id == "no-instances"]
    assert f.severity is AuditSeverity.WARNING
    assert f.message == f"{empty} has no vrrp_instance: nothing to check"


def test_ah_keys_must_agree(tmp_path: Path) -> None:
    ah = " authentication {\n auth_type AH\n auth_pass %s\n }\n"
    a = write(tmp_path, "a.conf", instance_conf("a", priority=200, extra=ah % "key-one"))
    b = write(tmp_path, "b.conf", instance_conf("b", extra=ah % "key-two"))
    (err,) = audit(cfg(a, b)).errors
    assert err.id == "auth-mismatch"
    assert "a/VI_1 AH password A, b/VI_1 AH password B" in err.message
    c = write(tmp_path, "c.conf", instance_conf("c", extra=ah % "key-one"))
    assert audit(cfg(a, c)).errors == ()


@pytest.mark.timeout(30)
def test_many_instances_of_one_group_audit_in_linear_time(tmp_path: Path) -> None:
    # 20,000 instances of one group in one config (4 MiB holds 100,000), every one MASTER: the
    # duplicate check recounted the routers for each member, and each MASTER below a peer
    # listed every better peer (quadratic time and output: minutes, gigabytes).
    import dataclasses
    import time

    (inst,) = parse_config(write(tmp_path, "x.conf", instance_conf("x"))).instances
    many = tuple(
        dataclasses.replace(inst, name=f"VI_{i}", state="MASTER", priority=1 + i % 250)
        for i in range(20_000)
    )
    config = KeepalivedConfig(path="x.conf", router_id="x", instances=many)
    started = time.monotonic()
    report = audit([config])
    assert time.monotonic() - started < 10
    assert [f.id for f in report.errors] == ["duplicate-vrid"]
    below = [f for f in report.warnings if f.id == "master-lower-priority"]
    assert len(below) == 20_000 - 80  # all but the 80 at priority 250
    assert below[0].message == (
        "x/VI_0: state MASTER with priority 1, below x/VI_249, x/VI_499, x/VI_749, x/VI_999, "
        "x/VI_1249 and 19915 more"
    )
    assert max(len(f.message) for f in report.findings if f.id != "equal-priorities") < 200


def test_distinct_passwords_are_told_apart_past_z(tmp_path: Path) -> None:
    import dataclasses

    (inst,) = parse_config(
        write(tmp_path, "x.conf", instance_conf("x", extra=" authentication {\n auth_pass p\n }\n"))
    ).instances
    configs = [
        KeepalivedConfig(
            path=f"r{i}.conf", router_id=f"r{i}",
            instances=(dataclasses.replace(inst, auth_type="PASS", auth_pass=f"pw{i}"),),
        )
        for i in range(28)
    ]  # fmt: skip
    (mismatch,) = [f for f in audit(configs).errors if f.id == "auth-mismatch"]
    assert "r25/VI_1 PASS password Z, r26/VI_1 PASS password AA, r27/VI_1 PASS password AB" in (
        mismatch.message
    )


@pytest.mark.timeout(30)
def test_many_advertisers_match_many_members_in_linear_time(tmp_path: Path) -> None:
    # 20,000 configured routers of one group and 20,000 sources in the capture: each source
    # scanned every free member (quadratic: minutes).
    import dataclasses
    import time

    from vrrpwatch.keepalived.report import WireAdvertiser

    (inst,) = parse_config(write(tmp_path, "x.conf", instance_conf("x"))).instances
    configs = [
        KeepalivedConfig(
            path=f"r{i}.conf", router_id=f"r{i}",
            instances=(dataclasses.replace(inst, priority=1 + i % 250),),
        )
        for i in range(20_000)
    ]  # fmt: skip
    base = int(ipaddress.ip_address("2001:db8::"))
    observed = [
        WireAdvertiser(
            src=ipaddress.ip_address(base + i), vrid=1, family=4, count=1,
            versions=frozenset({2}), priorities=frozenset({1 + (i + 1) % 250}), released=False,
            intervals_cs=frozenset({100}),
            address_sets=frozenset({frozenset({ipaddress.ip_address("192.0.2.1")})}),
            auth_types=frozenset({0}), passwords=frozenset(),
        )
        for i in range(20_000)
    ]  # fmt: skip
    started = time.monotonic()
    report = audit(configs, observed=observed)
    assert time.monotonic() - started < 10
    assert report.advertisers is not None
    # Each takes the first free router of its priority, in config order.
    assert [a.matched for a in report.advertisers[:3]] == ["r1/VI_1", "r2/VI_1", "r3/VI_1"]
    assert report.advertisers[249].matched == "r0/VI_1"
    assert report.advertisers[250].matched == "r251/VI_1"
    assert all(a.matched for a in report.advertisers)
    assert not [f for f in report.findings if f.id.startswith(("wire-", "unknown-"))]
