"""The CARP captures in captures/ (recorded from ucarp) hold what their truth JSON says, and
what ucarp puts on the wire, where it differs from OpenBSD's carp(4), is pinned here.

Two decoders look at each pcap: tshark's CARP dissector (a heuristic that Wireshark 4.0 only
tries before its VRRP dissector with ``ip.try_heuristic_first``; by default it calls these
frames VRRPv2) and ours (``dissectors.packet.decode_packet`` and ``tests.lab_carp``). No root
needed: these tests only read files.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import shutil
import subprocess
from functools import cache
from typing import Any

import pytest

from dissectors.frame import format_mac
from dissectors.packet import Kind, decode_packet
from dissectors.vrrp import CarpPacket
from tests.conftest import CAPTURES, lab_unavailable
from tests.lab import pcap_frames
from tests.lab_carp import CarpAdvert, carp_masters_and_failovers, master_down_s, read_carp_adverts

CARP_RECORDED = sorted(
    p.stem for p in CAPTURES.glob("*.json") if json.loads(p.read_text()).get("protocol") == "carp"
)
FIELDS = [
    "frame.time_epoch", "eth.src", "eth.dst", "ip.src", "ip.dst", "ip.ttl", "ip.dsfield",
    "ip.flags.df", "carp.version", "carp.type", "carp.vhid", "carp.advskew", "carp.authlen",
    "carp.demotion", "carp.adver_int", "carp.checksum.status", "carp.counter", "carp.hmac",
]  # fmt: skip
# OpenBSD carp(4) sends from the virtual MAC 00:00:5e:00:01:<vhid> (carp_set_vhe_enaddr).
OPENBSD_MAC = "00:00:5e:00:01:{:02x}"


def load(name: str) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())
    return truth


def _tshark(name: str, *opts: str) -> list[dict[str, str]]:
    if shutil.which("tshark") is None:
        lab_unavailable("tshark not installed (Debian package tshark)")
    argv = ["tshark", "-n", *opts, "-r", str(CAPTURES / f"{name}.pcap"), "-T", "fields"]
    argv += ["-E", "separator=|", "-E", "occurrence=f"]
    for f in FIELDS:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [dict(zip(FIELDS, line.split("|"), strict=True)) for line in out.splitlines()]


@cache
def tshark_carp(name: str) -> list[dict[str, str]]:
    """Every CARP advert as tshark's CARP dissector sees it."""
    rows = _tshark(name, "-o", "ip.try_heuristic_first:TRUE", "-Y", "carp")
    assert rows, "no CARP frame: the lab failed silently"
    return rows


def _as_advert(row: dict[str, str]) -> CarpAdvert:
    """A tshark row as the truth rules' input (our decoder not involved)."""
    pkt = CarpPacket(
        vhid=int(row["carp.vhid"]),
        advskew=int(row["carp.advskew"]),
        advbase_s=int(row["carp.adver_int"]),
        counter=int(row["carp.counter"]).to_bytes(8, "big"),
        hmac=bytes.fromhex(row["carp.hmac"]),
    )
    return CarpAdvert(
        time=float(row["frame.time_epoch"]), vlan=(), src_mac=row["eth.src"],
        dst_mac=row["eth.dst"], src=row["ip.src"], dst=row["ip.dst"], ttl=int(row["ip.ttl"]),
        tos=int(row["ip.dsfield"], 16), dont_fragment=row["ip.flags.df"] in ("1", "True"),
        packet=pkt, raw=b"",
    )  # fmt: skip


def test_there_is_a_ucarp_capture() -> None:
    assert "carp-ucarp" in CARP_RECORDED


@pytest.mark.parametrize("name", CARP_RECORDED)
def test_every_advert_is_ucarp_carp_as_configured(name: str) -> None:
    """What ucarp sends: CARP version 2, type 1 (advertisement), authlen 7, demotion 0,
    advbase/advskew as configured, TTL 255, TOS 0x10 and DF, to 224.0.0.18 from
    00:00:5e:00:00:<vhid> (every ucarp host the same MAC; OpenBSD uses 00:00:5e:00:01:<vhid>),
    with a valid checksum."""
    t = load(name)
    routers = {(r["address"], r["vrid"]): r for r in t["routers"]}
    rows = tshark_carp(name)
    for row in rows:
        r = routers.get((row["ip.src"], int(row["carp.vhid"])))
        assert r is not None, f"advert from an unconfigured router: {row}"
        assert (row["carp.version"], row["carp.type"], row["carp.authlen"]) == ("2", "1", "7")
        assert row["carp.demotion"] == "0"
        assert int(row["carp.adver_int"]) == r["advbase_s"]
        assert int(row["carp.advskew"]) == r["advskew"]
        assert row["carp.checksum.status"] == "1"  # PROTO_CHECKSUM_E_GOOD
        assert (row["ip.dst"], row["eth.dst"]) == ("224.0.0.18", "01:00:5e:00:00:12")
        assert int(row["ip.ttl"]) == 255
        assert int(row["ip.dsfield"], 16) == 0x10 and row["ip.flags.df"] in ("1", "True")
        assert row["eth.src"] == r["mac"] == f"00:00:5e:00:00:{r['vrid']:02x}"
        assert row["eth.src"] not in (OPENBSD_MAC.format(r["vrid"]), r["arp_mac"])
    # Every router that should have been master advertised; only masters advertise.
    assert {m["address"] for m in t["masters"]} == {row["ip.src"] for row in rows}


@pytest.mark.parametrize("name", CARP_RECORDED)
def test_hmac_is_sha1_over_version_type_vhid_vip_and_counter(name: str) -> None:
    """The 20-byte digest is HMAC-SHA1 keyed with the password over version, type, vhid, the
    virtual address and the 8-byte counter (ucarp carp_hmac_prepare/carp_hmac_generate;
    OpenBSD hashes every address of the carp interface, so one VIP gives the same digest)."""
    t = load(name)
    routers = {(r["address"], r["vrid"]): r for r in t["routers"]}
    for row in tshark_carp(name):
        r = routers[(row["ip.src"], int(row["carp.vhid"]))]
        (vip,) = r["vips"]
        msg = bytes([2, 1, r["vrid"]]) + ipaddress.IPv4Address(vip).packed
        msg += int(row["carp.counter"]).to_bytes(8, "big")
        want = hmac.new(r["password"].encode(), msg, hashlib.sha1).hexdigest()
        assert row["carp.hmac"] == want
        wrong = hmac.new(b"not-" + r["password"].encode(), msg, hashlib.sha1).hexdigest()
        assert row["carp.hmac"] != wrong


@pytest.mark.parametrize("name", CARP_RECORDED)
def test_counter_is_random_until_a_peer_is_heard_then_carried_on(name: str) -> None:
    """ucarp draws a fresh random 64-bit counter for every advert until it has heard a peer
    (carp_prepare_ad with sc_init_counter set); then it sends the last counter it heard + 1,
    across masters. OpenBSD sends one random replay cookie for the life of the vhid."""
    counters = [(row["ip.src"], int(row["carp.counter"])) for row in tshark_carp(name)]
    handover = next(i for i, (src, _) in enumerate(counters) if src != counters[0][0])
    lone = [c for _, c in counters[:handover]]
    assert len(lone) >= 3 and all(b != a + 1 for a, b in zip(lone, lone[1:], strict=False))
    later = counters[len(lone) :]
    assert later[0][1] == lone[-1] + 1  # the first takeover continues the old master's count
    seen = set(lone)
    for _, c in later:
        assert c - 1 in seen, "each counter follows one heard before"
        seen.add(c)


@pytest.mark.parametrize("name", CARP_RECORDED)
def test_our_decoders_agree_with_tshark(name: str) -> None:
    rows = tshark_carp(name)
    ours = read_carp_adverts(CAPTURES / f"{name}.pcap")
    decoded = []
    for _, frame in pcap_frames(CAPTURES / f"{name}.pcap"):
        d = decode_packet(frame, 1)
        if d is not None and d.kind is Kind.CARP:
            decoded.append(d)
    assert len(ours) == len(rows) == len(decoded)
    for row, a, d in zip(rows, ours, decoded, strict=True):
        p = a.packet
        assert abs(a.time - float(row["frame.time_epoch"])) < 1e-6
        assert (a.src, a.dst, a.ttl, a.src_mac) == (
            row["ip.src"], row["ip.dst"], int(row["ip.ttl"]), row["eth.src"],
        )  # fmt: skip
        assert d.message == p
        assert (p.version, p.type, p.vhid, p.advskew, p.authlen, p.demotion, p.advbase_s) == (
            tuple(int(row[f]) for f in FIELDS[8:15])
        )
        assert int.from_bytes(p.counter, "big") == int(row["carp.counter"])
        assert p.hmac.hex() == row["carp.hmac"] and p.checksum_ok


@pytest.mark.parametrize("name", CARP_RECORDED)
def test_wireshark_by_default_calls_them_vrrp(name: str) -> None:
    """Without ip.try_heuristic_first, tshark decodes every CARP advert as VRRP; we do not."""
    default = _tshark(name, "-Y", "vrrp")
    assert [r["frame.time_epoch"] for r in default] == [
        r["frame.time_epoch"] for r in tshark_carp(name)
    ]
    assert not _tshark(name, "-Y", "carp")


@pytest.mark.parametrize("name", CARP_RECORDED)
def test_masters_and_failover_gaps_match_the_pcap(name: str) -> None:
    t = load(name)
    masters, failovers = carp_masters_and_failovers(_as_advert(r) for r in tshark_carp(name))
    assert [(m["address"], m["vrid"]) for m in masters] == [
        (m["address"], m["vrid"]) for m in t["masters"]
    ]
    for got, want in zip(masters, t["masters"], strict=True):
        assert got["since"] == pytest.approx(want["since"], abs=1e-6)
    assert [(f["from"], f["to"], f["cause"]) for f in failovers] == [
        (f["from"], f["to"], f["cause"]) for f in t["failovers"]
    ]
    routers = {(r["address"], r["vrid"]): r for r in t["routers"]}
    for got, f in zip(failovers, t["failovers"], strict=True):
        assert got["gap_ms"] == pytest.approx(f["gap_ms"], abs=0.01)
        new = routers[(f["to"], f["vrid"])]
        if f["cause"] == "preempted":
            assert f["expected_ms"] is None
            assert new["advskew"] < routers[(f["from"], f["vrid"])]["advskew"]
            continue
        assert f["cause"] == "silent"  # ucarp never bows out
        expected_s = master_down_s(new["advbase_s"], new["advskew"])
        assert f["expected_ms"] == pytest.approx(expected_s * 1000, abs=0.01)
        # ucarp is late: a backup looks at its master-down timer only when its poll() wakes,
        # every advbase + advskew/256 s once the master is silent, so it takes over up to one
        # of its own advert intervals after 3 x advbase + advskew/256 s.
        interval_ms = (new["advbase_s"] + new["advskew"] / 256) * 1000
        assert 0 <= f["gap_ms"] - f["expected_ms"] < interval_ms + 150, f


@pytest.mark.parametrize("name", CARP_RECORDED)
def test_new_masters_announce_the_vip_from_their_own_mac(name: str) -> None:
    """ucarp's gratuitous ARPs carry the host's real MAC, not the advert's 00:00:5e MAC."""
    t = load(name)
    garps: dict[str, set[str]] = {}
    for _, frame in pcap_frames(CAPTURES / f"{name}.pcap"):
        d = decode_packet(frame, 1)
        if d is not None and d.kind is Kind.GARP:
            m = d.message
            mac = format_mac(m.sender_mac)  # type: ignore[union-attr]
            garps.setdefault(str(m.sender_ip), set()).add(mac)  # type: ignore[union-attr]
    for m in t["masters"]:
        r = next(r for r in t["routers"] if r["address"] == m["address"])
        for vip in r["vips"]:
            assert r["arp_mac"] in garps.get(vip, set()), (vip, r["name"])
    masters = {m["address"] for m in t["masters"]}
    announcers = {r["arp_mac"] for r in t["routers"] if r["address"] in masters}
    assert set().union(*garps.values()) == announcers


# -- the truth rules (tests/lab_carp.py) on synthetic adverts ----------------------------------


def _adv(t: float, src: str, advskew: int, *, advbase: int = 1) -> CarpAdvert:
    pkt = CarpPacket(vhid=5, advskew=advskew, advbase_s=advbase)
    return CarpAdvert(
        time=t, vlan=(), src_mac="00:00:5e:00:00:05", dst_mac="01:00:5e:00:00:12", src=src,
        dst="224.0.0.18", ttl=255, tos=0x10, dont_fragment=True, packet=pkt, raw=b"",
    )  # fmt: skip


def test_rules_silence_preemption_and_the_old_masters_last_word() -> None:
    a, b = "192.0.2.51", "192.0.2.52"
    # b (advskew 128: every 1.5 s) master 0..6 s; a (0) preempts at 6.7 s, b answers once at
    # 6.8 s (ucarp does before it goes back to BACKUP), a advertises on; a is silent after 9.7 s
    # and b takes over 4 s later (its 3 x 1 + 128/256 = 3.5 s, late by 0.5 s).
    adverts = [_adv(1.5 * i, b, 128) for i in range(5)]
    adverts += [_adv(6.7, a, 0), _adv(6.8, b, 128), _adv(7.7, a, 0), _adv(8.7, a, 0)]
    adverts += [_adv(9.7, a, 0), _adv(13.7, b, 128), _adv(15.2, b, 128)]
    masters, fos = carp_masters_and_failovers(adverts)
    assert [(m["address"], m["since"]) for m in masters] == [(b, 0.0), (a, 6.7), (b, 13.7)]
    assert [(f["from"], f["to"], f["cause"], f["expected_ms"]) for f in fos] == [
        (b, a, "preempted", None),
        (a, b, "silent", 3500.0),
    ]
    assert fos[0]["gap_ms"] == pytest.approx(700.0)  # from b's last advert before a's first
    assert fos[1]["gap_ms"] == pytest.approx(4000.0)


def test_rules_openbsd_bow_out_is_a_resignation() -> None:
    a, b = "192.0.2.51", "192.0.2.52"
    adverts = [_adv(float(i), a, 0) for i in range(3)] + [_adv(2.5, a, 255, advbase=255)]
    adverts += [_adv(2.6, b, 50), _adv(3.795, b, 50)]
    masters, fos = carp_masters_and_failovers(adverts)
    assert [m["address"] for m in masters] == [a, b]
    assert [(f["cause"], f["expected_ms"]) for f in fos] == [("resigned", 0.0)]
    assert fos[0]["gap_ms"] == pytest.approx(100.0)
