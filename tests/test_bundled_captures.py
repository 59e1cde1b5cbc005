"""Every committed capture in captures/ holds what its truth JSON says.

Two decoders look at each pcap: tshark (independent of us) and our own (``dissectors.packet.
decode_packet``, plus the lab's small frame walker around ``dissectors.vrrp.parse_vrrp``). The
routers, masters and failover gaps of the JSON are recomputed from tshark's view, so a silent
lab failure (an empty capture, a daemon that never started, a wrong truth) fails here.
No root needed: these tests only read files.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from functools import cache
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dissectors.packet import Kind, decode_packet  # noqa: E402
from dissectors.vrrp import ChecksumStatus, VrrpV2  # noqa: E402
from tests.conftest import lab_unavailable  # noqa: E402
from tests.lab import (  # noqa: E402
    Advert,
    master_down_interval_s,
    masters_and_failovers,
    pcap_frames,
    read_adverts,
    skew_time_s,
)

CAPTURES = ROOT / "captures"
NAMES = [
    "v2-failover",
    "v2-auth-mismatch",
    "v2-ah",
    "v3-ipv4-fast",
    "v3-ipv6",
    "vlans",
    "unicast",
    "vmac",
    "frr-keepalived",
    "rogue",
    "carp-ucarp",
    "v2-three-routers",
]
RECORDED = sorted(p.stem for p in CAPTURES.glob("*.json"))
ALERT_KINDS = {
    "plaintext-auth", "auth-mismatch", "rogue-advertiser", "priority-255", "vip-mismatch",
    "interval-mismatch", "version-mismatch", "ttl-not-255", "bad-checksum", "bad-source-mac",
    "split-brain", "master-flap", "master-change", "master-resigned", "garp-conflict",
    "carp-on-vrrp-segment", "malformed",
}  # fmt: skip
TSHARK_FIELDS = [
    "frame.time_epoch", "vlan.id", "eth.src", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
    "ip.ttl", "ipv6.hlim", "vrrp.version", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.auth_type",
    "vrrp.adver_int", "vrrp.short_adver_int", "vrrp.ip_addr", "vrrp.ipv6_addr",
    "vrrp.auth_string", "ah.spi",
]  # fmt: skip


def load(name: str) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())
    return truth


# A truth file without "protocol" is VRRP. CARP captures (ucarp) are checked against tshark's
# CARP dissector in tests/test_bundled_carp_captures.py; the rules below read VRRP fields.
VRRP_RECORDED = [n for n in RECORDED if load(n).get("protocol", "vrrp") == "vrrp"]


def group_of(d: dict[str, Any]) -> tuple[tuple[int, ...], int, int]:
    return (tuple(d["vlan"]), d["family"], d["vrid"])


@cache
def tshark_adverts(name: str) -> list[dict[str, Any]]:
    """Every VRRP advert of the capture as tshark sees it."""
    if shutil.which("tshark") is None:
        lab_unavailable("tshark not installed (Debian package tshark)")
    argv = ["tshark", "-n", "-r", str(CAPTURES / f"{name}.pcap"), "-Y", "vrrp", "-T", "fields"]
    argv += ["-E", "separator=|", "-E", "aggregator=,", "-E", "occurrence=a"]
    for f in TSHARK_FIELDS:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        v = dict(zip(TSHARK_FIELDS, line.split("|"), strict=True))
        ttl = v["ip.ttl"] or v["ipv6.hlim"]
        interval_cs = int(v["vrrp.adver_int"]) * 100 if v["vrrp.version"] == "2" else None
        if interval_cs is None:
            interval_cs = int(v["vrrp.short_adver_int"])
        rows.append(
            {
                "time": float(v["frame.time_epoch"]),
                "vlan": [int(x) for x in v["vlan.id"].split(",")] if v["vlan.id"] else [],
                "mac": v["eth.src"],
                "src": v["ip.src"] or v["ipv6.src"],
                "dst": v["ip.dst"] or v["ipv6.dst"],
                "family": 4 if v["ip.src"] else 6,
                "ttl": int(ttl.split(",")[-1]),
                "version": int(v["vrrp.version"]),
                "vrid": int(v["vrrp.virt_rtr_id"]),
                "priority": int(v["vrrp.prio"]),
                "auth_type": int(v["vrrp.auth_type"]) if v["vrrp.auth_type"] else 0,
                "interval_cs": interval_cs,
                "vips": [
                    x for x in (v["vrrp.ip_addr"] + "," + v["vrrp.ipv6_addr"]).split(",") if x
                ],
                "password": v["vrrp.auth_string"] or None,
                "ah": bool(v["ah.spi"]),
            }
        )
    return rows


def test_the_reference_set_is_complete_and_named_as_agreed() -> None:
    assert "v2-failover" in RECORDED  # the README's demo
    assert set(RECORDED) <= set(NAMES)
    pcaps = sorted(p.stem for p in CAPTURES.glob("*.pcap"))
    assert pcaps == RECORDED, "every pcap needs its truth JSON and vice versa"


@pytest.mark.parametrize("name", RECORDED)
def test_capture_file_is_small_classic_ethernet_pcap(name: str) -> None:
    path = CAPTURES / f"{name}.pcap"
    assert path.stat().st_size < 1_000_000
    head = path.read_bytes()[:24]
    assert head[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")  # tcpdump -w, microseconds
    assert int.from_bytes(head[20:24], "little" if head[0] == 0xD4 else "big") == 1  # Ethernet


@pytest.mark.parametrize("name", RECORDED)
def test_truth_file_is_well_formed(name: str) -> None:
    t = load(name)
    assert t["capture"] == f"{name}.pcap"
    assert t["description"] and isinstance(t["no_critical"], bool)
    carp = t.get("protocol") == "carp"
    assert t.get("protocol", "vrrp") in ("vrrp", "carp")
    for r in t["routers"]:
        if carp:  # CARP has no priority or version: advbase and advskew rank the routers
            assert r["implementation"] == "ucarp" and r["protocol"] == "carp"
            assert r["auth_type"] == "hmac-sha1" and r["password"]
            assert 1 <= r["advbase_s"] <= 255 and 0 <= r["advskew"] <= 254
            assert r["family"] == 4 and 1 <= r["vrid"] <= 255
        else:
            assert r["implementation"] in ("keepalived", "frr")
            assert r["auth_type"] in ("none", "simple", "ah")
            assert (r["password"] is None) == (r["auth_type"] == "none")
            assert r["version"] in (2, 3) and r["family"] in (4, 6) and 1 <= r["priority"] <= 255
        for a in (r["address"], *r["vips"], *r.get("unicast_peers", ())):
            ip = ipaddress.ip_address(a)
            doc = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
            assert ip.is_link_local or any(ip in ipaddress.ip_network(n) for n in doc), a
    times = [e["time"] for e in t["events"]]
    assert times == sorted(times) and t["events"][0]["action"].startswith("start ")
    names = {r["name"] for r in t["routers"]}
    for e in t["events"]:
        verb, who = e["action"].split(" ", 1)
        assert verb in ("start", "stop", "link-down", "link-up") and who in names, e
    for a in t["expected_alerts"]:
        assert a["kind"] in ALERT_KINDS, a
        assert set(a) == {"kind", "vlan", "family", "vrid", "source"}
    sinces = [m["since"] for m in t["masters"]]
    assert t["masters"] and sinces == sorted(sinces)


@pytest.mark.parametrize("name", VRRP_RECORDED)
def test_every_advert_comes_from_a_configured_router_as_configured(name: str) -> None:
    t = load(name)
    rows = tshark_adverts(name)
    assert len(rows) >= 3, "a capture with (almost) no adverts means the lab failed silently"
    routers = {(r["address"], group_of(r)): r for r in t["routers"]}
    for row in rows:
        r = routers.get((row["src"], (tuple(row["vlan"]), row["family"], row["vrid"])))
        assert r is not None, f"advert from an unconfigured router: {row}"
        assert row["version"] == r["version"] and row["ttl"] == 255
        assert row["priority"] in (0, r["priority"])
        assert row["mac"] == r["mac"]
        assert row["interval_cs"] * 10 == r["advert_int_ms"]
        assert row["vips"] == r["vips"]
        if r["unicast_peers"]:
            assert row["dst"] in r["unicast_peers"]
        else:
            assert row["dst"] == ("224.0.0.18" if r["family"] == 4 else "ff02::12")
        if r["version"] == 2:
            assert row["auth_type"] == {"none": 0, "simple": 1, "ah": 2}[r["auth_type"]]
            assert row["ah"] == (r["auth_type"] == "ah")
            if r["auth_type"] == "simple":
                assert row["password"] == r["password"]
    # Every configured router that should have been master advertised.
    assert {m["address"] for m in t["masters"]} <= {row["src"] for row in rows}


@pytest.mark.parametrize("name", VRRP_RECORDED)
def test_our_decoders_agree_with_tshark(name: str) -> None:
    rows = tshark_adverts(name)
    ours = read_adverts(CAPTURES / f"{name}.pcap")
    decoded = []
    for _, frame in pcap_frames(CAPTURES / f"{name}.pcap"):
        d = decode_packet(frame, 1)
        if d is not None and d.kind is Kind.VRRP:
            decoded.append(d)
    assert len(ours) == len(rows) == len(decoded)
    for row, a, d in zip(rows, ours, decoded, strict=True):
        assert abs(a.time - row["time"]) < 1e-6
        assert (a.src, a.dst, list(a.vlan), a.ttl) == (
            row["src"],
            row["dst"],
            row["vlan"],
            row["ttl"],
        )
        p = a.packet
        assert d.message == p and list(d.link.vlans) == row["vlan"]
        assert (p.version, p.vrid, p.priority) == (row["version"], row["vrid"], row["priority"])
        assert p.interval_cs == row["interval_cs"]
        assert [str(x) for x in p.addresses] == row["vips"]
        assert p.checksum_status is ChecksumStatus.GOOD
        assert a.in_ah == row["ah"] == (d.ah is not None)
        if row["password"]:
            assert p.password == row["password"].encode()


def _runs_from_tshark(
    rows: list[dict[str, Any]],
) -> dict[tuple[Any, ...], list[list[dict[str, Any]]]]:
    """Per (group, source): runs of adverts. A run ends at priority 0, after > 3 intervals + 1 s
    of silence, or after > 1.5 intervals of silence during which a better router advertised."""
    runs: dict[tuple[Any, ...], list[list[dict[str, Any]]]] = {}
    for i, row in enumerate(rows):
        group = (tuple(row["vlan"]), row["family"], row["vrid"])
        lst = runs.setdefault((*group, row["src"]), [])
        prev = lst[-1][-1] if lst else None
        new = prev is None or prev["priority"] == 0
        if prev is not None and not new:
            gap = row["time"] - prev["time"]
            interval = row["interval_cs"] / 100
            better = any(
                (tuple(o["vlan"]), o["family"], o["vrid"]) == group
                and o["src"] != row["src"]
                and prev["time"] < o["time"] < row["time"]
                and _better(o, prev)
                for o in rows[max(0, i - 400) : i]
            )
            new = gap > 3 * interval + 1.0 or (better and gap > 1.5 * interval)
        if new and row["priority"] == 0:
            continue
        if new:
            lst.append([row])
        else:
            lst[-1].append(row)
    return runs


def _merge_split(runs: dict[tuple[Any, ...], list[list[dict[str, Any]]]]) -> None:
    """Two sources advertising at once for more than an interval: each is one run."""
    keys = list(runs)
    for k1 in keys:
        for k2 in keys:
            if k1[:3] != k2[:3] or k1[3] >= k2[3]:
                continue
            if any(
                min(r1[-1]["time"], r2[-1]["time"]) - max(r1[0]["time"], r2[0]["time"])
                > r1[0]["interval_cs"] / 100
                for r1 in runs[k1]
                for r2 in runs[k2]
            ):
                for k in keys:
                    if k[:3] == k1[:3]:
                        runs[k] = [[row for run in runs[k] for row in run]]


def _drop_contests(runs: dict[tuple[Any, ...], list[list[dict[str, Any]]]]) -> None:
    """Two backups timing out together both advertise; the outranked one yields at the other's
    first advert (RFC 3768 section 6.4.3): its adverts, all within one interval of the
    winner's first, are no master run."""
    starts = [(k, run[0]) for k, lst in runs.items() for run in lst]
    for key, lst in runs.items():
        keep = []
        for run in lst:
            interval = run[0]["interval_cs"] / 100
            lost = any(
                k[:3] == key[:3]
                and k[3] != key[3]
                and abs(first["time"] - run[0]["time"]) <= interval
                and run[-1]["time"] < first["time"] + interval
                and _better(first, run[-1])
                for k, first in starts
            )
            if not lost:
                keep.append(run)
        lst[:] = keep


def _better(o: dict[str, Any], prev: dict[str, Any]) -> bool:
    if o["priority"] != prev["priority"]:
        return bool(o["priority"] > prev["priority"])
    return ipaddress.ip_address(o["src"]) > ipaddress.ip_address(prev["src"])


@pytest.mark.parametrize("name", VRRP_RECORDED)
def test_masters_and_failover_gaps_match_the_pcap(name: str) -> None:
    t = load(name)
    runs = _runs_from_tshark(tshark_adverts(name))
    _merge_split(runs)
    _drop_contests(runs)
    flat = sorted(
        (run[0]["time"], key[3], key[:3], run) for key, lst in runs.items() for run in lst
    )
    assert [(m["since"], m["address"], group_of(m)) for m in t["masters"]] == [
        (pytest.approx(s, abs=1e-6), a, g) for s, a, g, _ in flat
    ]
    # Failovers: consecutive master runs of a group, unless the old master kept advertising
    # after the new one had been master for an interval (both masters: no failover).
    seen = []
    by_group: dict[tuple[Any, ...], list[tuple[float, str, list[dict[str, Any]]]]] = {}
    for s, a, g, run in flat:
        by_group.setdefault(g, []).append((s, a, run))
    for g, lst in by_group.items():
        for (_, a_addr, a_run), (b_start, b_addr, b_run) in zip(lst, lst[1:], strict=False):
            interval_s = b_run[0]["interval_cs"] / 100
            if a_addr == b_addr or a_run[-1]["time"] > b_start + interval_s:
                continue
            gap = b_start - a_run[-1]["time"]
            if a_run[-1]["priority"] == 0:
                cause = "resigned"
            elif gap < 2 * interval_s and b_run[0]["priority"] > a_run[-1]["priority"]:
                cause = "preempted"
            else:
                cause = "silent"
            seen.append((b_start, list(g[0]), g[1], g[2], a_addr, b_addr, cause, gap * 1000))
    seen.sort()
    assert [
        (f["vlan"], f["family"], f["vrid"], f["from"], f["to"], f["cause"], f["gap_ms"])
        for f in t["failovers"]
    ] == [(*x[1:7], pytest.approx(x[7], abs=0.01)) for x in seen]

    routers = {(r["address"], group_of(r)): r for r in t["routers"]}
    for f in t["failovers"]:
        g = group_of(f)
        new = routers[(f["to"], g)]
        interval_s = new["advert_int_ms"] / 1000
        if f["cause"] == "resigned":
            expected = skew_time_s(new["priority"], interval_s, new["version"])
        elif f["cause"] == "silent":
            expected = master_down_interval_s(new["priority"], interval_s, new["version"])
        else:
            assert f["expected_ms"] is None
            assert new["priority"] > routers[(f["from"], g)]["priority"]
            continue
        assert f["expected_ms"] == pytest.approx(expected * 1000, abs=0.01)
        # What the real daemons did on the wire agrees with the RFC timer, give or take
        # scheduling latency.
        assert (
            -5 - 0.05 * f["expected_ms"]
            < f["gap_ms"] - f["expected_ms"]
            < 150 + 0.25 * f["expected_ms"]
        ), f


@pytest.mark.parametrize("name", RECORDED)
def test_new_masters_announce_their_vips(name: str) -> None:
    """Each master run is accompanied by gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) for
    its VIPs (RFC 5798 section 6.4.1 / RFC 3768 section 6.4.1)."""
    t = load(name)
    adverts_only = t.get("capture_filter") == "ip proto 112"
    announced: set[str] = set()
    for _, frame in pcap_frames(CAPTURES / f"{name}.pcap"):
        d = decode_packet(frame, 1)
        if adverts_only:  # recorded with tcpdump 'ip proto 112' (captures/README.md)
            assert d is not None and d.kind is Kind.VRRP
            continue
        if d is not None and d.kind is Kind.GARP:
            announced.add(str(d.message.sender_ip))  # type: ignore[union-attr]
        elif d is not None and d.kind is Kind.NA:
            announced.add(str(d.message.target))  # type: ignore[union-attr]
    if adverts_only:
        return
    for m in t["masters"]:
        r = next(
            r for r in t["routers"] if r["address"] == m["address"] and group_of(r) == group_of(m)
        )
        for vip in r["vips"]:
            if not ipaddress.ip_address(vip).is_link_local:
                assert vip in announced, f"{vip} of {r['name']} never announced"


def test_demo_capture_shows_every_failover_kind() -> None:
    t = load("v2-failover")
    assert [f["cause"] for f in t["failovers"]] == ["resigned", "preempted", "silent", "preempted"]
    assert {r["auth_type"] for r in t["routers"]} == {"simple"}
    assert any(row["priority"] == 0 for row in tshark_adverts("v2-failover"))


# -- the rules record.py measures with (tests/lab.py), on synthetic adverts ------------------


def _adv(t: float, src: str, prio: int) -> Advert:
    pkt = VrrpV2(vrid=1, priority=prio, count_ip_addrs=1, addresses=(IPv4Address("192.0.2.1"),))
    return Advert(
        t, (), "02:00:00:00:00:01", "01:00:5e:00:00:12", src, "224.0.0.18", 255, False, pkt
    )


def _timeline(
    *spans: tuple[str, int, float, float], resign: tuple[str, float] | None = None
) -> list[Advert]:
    out = [
        _adv(start + i, src, prio)
        for src, prio, start, end in spans
        for i in range(int(end - start) + 1)
    ]
    if resign:
        out.append(_adv(resign[1], resign[0], 0))
    return out


def test_truth_rules_resigned_and_silent_failovers() -> None:
    a, b = "192.0.2.253", "192.0.2.254"
    # a advertises 0..2 s, resigns at 2.5 s; b (100) starts after its Skew_Time.
    masters, fos = masters_and_failovers(
        _timeline((a, 200, 0, 2), (b, 100, 3.109375, 6.109375), resign=(a, 2.5))
    )
    assert [m["address"] for m in masters] == [a, b]
    assert [(f["cause"], f["gap_ms"], f["expected_ms"]) for f in fos] == [
        ("resigned", 609.375, 609.375)
    ]
    # a falls silent after 2 s; b takes over after Master_Down_Interval.
    _, fos = masters_and_failovers(_timeline((a, 200, 0, 2), (b, 100, 5.609375, 8.609375)))
    assert [(f["cause"], f["gap_ms"], f["expected_ms"]) for f in fos] == [
        ("silent", 3609.375, 3609.375)
    ]


def test_truth_rules_preemption_ends_the_old_masters_run() -> None:
    a, b = "192.0.2.253", "192.0.2.254"
    # b master 0..5 s; a (200) preempts at 5.5 s and is silent after 8.5 s; b returns 3.6 s
    # later. b's silence (5 -> 12.1 s) is under 3 intervals + 1 s only because a advertised.
    adverts = _timeline((b, 100, 0, 5), (a, 200, 5.5, 8.5), (b, 100, 12.109375, 14.109375))
    masters, fos = masters_and_failovers(adverts)
    assert [m["address"] for m in masters] == [b, a, b]
    assert [(f["from"], f["to"], f["cause"]) for f in fos] == [
        (b, a, "preempted"),
        (a, b, "silent"),
    ]
    assert fos[0]["expected_ms"] is None and fos[0]["gap_ms"] == 500.0


def test_truth_rules_split_brain_is_one_run_per_source_and_no_failover() -> None:
    a, b = "192.0.2.253", "192.0.2.254"
    # Both advertise at once; b irregularly (as keepalived does when its timer is reset).
    adverts = _timeline((a, 200, 0, 10), (b, 100, 0.5, 1.5), (b, 100, 4.5, 9.5))
    masters, fos = masters_and_failovers(adverts)
    assert [(m["address"], m["since"]) for m in masters] == [(a, 0), (b, 0.5)]
    assert fos == []


def test_truth_rules_two_backups_timing_out_together_is_no_master_run() -> None:
    a, b, c = "192.0.2.111", "192.0.2.112", "192.0.2.113"
    # c master, a (200) preempts and falls silent; b and c (100) time out together, b first
    # by 20 us, and b yields at c's advert (RFC 3768 section 6.4.3).
    adverts = _timeline((c, 100, 0, 5), (a, 200, 5.5, 7.5), (c, 100, 11.109395, 14.109395))
    adverts.append(_adv(11.109375, b, 100))
    masters, fos = masters_and_failovers(adverts)
    assert [m["address"] for m in masters] == [c, a, c]
    assert [(f["from"], f["to"], f["cause"]) for f in fos] == [
        (c, a, "preempted"),
        (a, c, "silent"),
    ]
    # b advertising on after c's first advert is a master run again (here: a split brain).
    adverts += [_adv(11.109375 + i, b, 100) for i in (1, 2, 3)]
    masters, _ = masters_and_failovers(adverts)
    assert b in [m["address"] for m in masters]
