"""audit's library call and its JSON document: the analyze engine's advertisers as the audit's
wire input, and the ``audit --json`` mapping."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from dissectors.frame import build_ethernet
from dissectors.ip import IPPROTO_VRRP, IPv4Header, build_ipv4
from dissectors.packet import decode_packet
from dissectors.vrrp import VRRP_MCAST_V4, VrrpV2, build_vrrp
from vrrpwatch.keepalived.audit import audit
from vrrpwatch.keepalived.config import parse_config
from vrrpwatch.store.audit_doc import audit_document, run_audit, wire_advertisers
from vrrpwatch.watch.monitor import Monitor

KACONF = Path(__file__).resolve().parents[1] / "keepalived" / "confs"
SRC1 = ipaddress.IPv4Address("192.0.2.253")
VIP = frozenset({ipaddress.IPv4Address("192.0.2.1")})


def instance_conf(router: str, *, interface: str, priority: int) -> str:
    return (
        f"global_defs {{\n router_id {router}\n}}\n"
        f"vrrp_instance VI_1 {{\n interface {interface}\n virtual_router_id 1\n"
        f" priority {priority}\n virtual_ipaddress {{\n 192.0.2.1/24\n }}\n}}\n"
    )


def _frame(pkt: VrrpV2, vlans: tuple[int, ...] = ()) -> bytes:
    payload = build_vrrp(pkt, src=SRC1, dst=VRRP_MCAST_V4)
    ip = build_ipv4(IPv4Header(src=SRC1, dst=VRRP_MCAST_V4, protocol=IPPROTO_VRRP), payload)
    return build_ethernet(
        b"\x01\x00\x5e\x00\x00\x12", b"\x00\x00\x5e\x00\x01\x01", 0x0800, ip, vlans=vlans
    )


def _monitor(frame: bytes, count: int) -> Monitor:
    monitor = Monitor(fingerprint=lambda pw: "x", reveal_secrets=True)
    for n in range(count):
        d = decode_packet(frame, 1)
        assert d is not None
        monitor.observe(n + 1, float(n), d)
    return monitor


def test_wire_advertisers_prefer_the_group_on_the_advert_vlan(tmp_path: Path) -> None:
    confs = []
    for name, iface, prio in (
        ("a", "eth0.10", 200),
        ("b", "eth0.10", 100),
        ("c", "eth0.20", 200),
        ("d", "eth0.20", 100),
    ):
        path = tmp_path / f"{name}.conf"
        path.write_text(instance_conf(name, interface=iface, priority=prio))
        confs.append(parse_config(path))
    pkt = VrrpV2(vrid=1, priority=200, count_ip_addrs=1, addresses=tuple(VIP))
    observed = wire_advertisers(_monitor(_frame(pkt, vlans=(20,)), 3))
    assert [(a.src, a.vlan, a.count, a.priorities) for a in observed] == [
        (SRC1, (20,), 3, frozenset({200}))
    ]
    report = audit(confs, observed=observed)
    assert report.advertisers is not None
    assert report.advertisers[0].matched == "c/VI_1"
    assert report.errors == ()


def test_wire_advertisers_keep_the_password_for_comparison() -> None:
    pkt = VrrpV2(
        vrid=1,
        priority=0,
        count_ip_addrs=1,
        auth_type=1,
        addresses=tuple(VIP),
        auth_data=b"s3cret\0\0",
    )
    (a,) = wire_advertisers(_monitor(_frame(pkt), 1))
    assert (a.priorities, a.released, a.auth_types, a.passwords) == (
        frozenset(),
        True,
        frozenset({1}),
        frozenset({b"s3cret"}),
    )
    assert (a.versions, a.intervals_cs, a.address_sets) == (
        frozenset({2}),
        frozenset({100}),
        frozenset({VIP}),
    )


def test_document_exit_code_follows_strict() -> None:
    report = run_audit([str(KACONF / "lab-v2" / "r1.conf"), str(KACONF / "lab-v2" / "r2.conf")])
    assert [f.id for f in report.warnings] == ["plaintext-auth", "plaintext-auth"]
    doc = audit_document(report)
    assert (doc["errors"], doc["warnings"], doc["exit_code"]) == (0, 2, 0)
    assert audit_document(report, strict=True)["exit_code"] == 1
    assert [f["severity"] for f in doc["findings"]] == ["warning", "warning"]
    assert "observed" not in doc
