"""``vrrpwatch decode`` through click's CliRunner: output, JSON fields, redaction, exit codes."""

from __future__ import annotations

import ipaddress
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dissectors.arp import build_arp, gratuitous_arp
from dissectors.frame import BROADCAST_MAC, build_ethernet
from dissectors.hsrp import (
    AdvertState,
    GroupState,
    HsrpV1,
    HsrpV1Advert,
    HsrpV2,
    InterfaceState,
    Md5Auth,
    OpCode,
    TextAuth,
    UnknownTlv,
    V1State,
    V2State,
)
from dissectors.ip import IPv4Header, IPv6Header, build_ipv4, build_ipv6
from dissectors.nd import build_na, unsolicited_na
from dissectors.vrrp import CarpPacket, VrrpV2, VrrpV3, build_carp, build_vrrp
from tests.crafted import write_crafted
from tests.helpers import hsrp_frame
from vrrpwatch.cli import cli
from vrrpwatch.fingerprints import ENV_KEY, fingerprint

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
SRC4, GROUP4 = V4("192.0.2.10"), V4("224.0.0.18")
VMAC = bytes.fromhex("00005e000101")
MCAST = bytes.fromhex("01005e000012")
T0 = 1700000000.25  # 2023-11-14 22:13:20.25 UTC, exact in binary


def write_pcap(path: Path, frames: list[bytes], linktype: int = 1, t0: float = T0) -> Path:
    """A classic little-endian microsecond pcap, one frame per second from ``t0``."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for i, data in enumerate(frames):
        t = t0 + i
        out.append(struct.pack("<IIII", int(t), round(t % 1 * 1e6), len(data), len(data)) + data)
    path.write_bytes(b"".join(out))
    return path


def v2_frame(
    *, vrid: int = 1, ttl: int = 255, password: bytes | None = None, vlans: tuple[int, ...] = ()
) -> bytes:
    adv = VrrpV2(
        vrid=vrid,
        priority=100,
        count_ip_addrs=1,
        addresses=(V4("192.0.2.1"),),
        auth_type=1 if password is not None else 0,
        auth_data=(password or b"").ljust(8, b"\x00"),
    )
    ip = build_ipv4(
        IPv4Header(src=SRC4, dst=GROUP4, protocol=112, ttl=ttl),
        build_vrrp(adv, src=SRC4, dst=GROUP4),
    )
    return build_ethernet(MCAST, bytes.fromhex("00005e0001") + bytes((vrid,)), 0x0800, ip, vlans)


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["decode", *args], env=env)


def lines(result: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_human_line_exact(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "a.pcap", [v2_frame(ttl=64, vlans=(100, 10))])
    result = run(str(pcap))
    assert result.exit_code == 0, result.output
    assert result.output == (
        "     1 2023-11-14 22:13:20.250000 vlan 100.10  192.0.2.10 → 224.0.0.18  "
        "VRRPv2 vrid 1 prio 100 int 1s auth none ttl 64 [192.0.2.1]  !! ttl-not-255\n"
    )


def test_json_fields(tmp_path: Path) -> None:
    s6, all_nodes = V6("fe80::1"), V6("ff02::1")
    v3 = VrrpV3(
        vrid=7, priority=150, count_ip_addrs=1, max_adver_int_cs=35, addresses=(V4("192.0.2.7"),)
    )
    carp = CarpPacket(vhid=3, advskew=10, counter=bytes(range(8)))
    frames = [
        v2_frame(vlans=(20,)),
        build_ethernet(
            MCAST,
            VMAC,
            0x0800,
            build_ipv4(
                IPv4Header(src=SRC4, dst=V4("198.51.100.1"), protocol=112),
                build_vrrp(v3, src=SRC4, dst=V4("198.51.100.1"), pseudo_header=False),
            ),
        ),
        build_ethernet(
            MCAST,
            VMAC,
            0x0800,
            build_ipv4(IPv4Header(src=SRC4, dst=GROUP4, protocol=112), build_carp(carp)),
        ),
        build_ethernet(
            BROADCAST_MAC, VMAC, 0x0806, build_arp(gratuitous_arp(VMAC, V4("192.0.2.1")))
        ),
        build_ethernet(
            bytes.fromhex("333300000001"),
            VMAC,
            0x86DD,
            build_ipv6(
                IPv6Header(src=s6, dst=all_nodes, next_header=58),
                build_na(unsolicited_na(VMAC, V6("2001:db8::1")), src=s6, dst=all_nodes),
            ),
        ),
        build_ethernet(
            MCAST,
            VMAC,
            0x0800,
            build_ipv4(  # proto 112, empty payload
                IPv4Header(src=SRC4, dst=GROUP4, protocol=112), b""
            ),
        ),
        build_ethernet(
            MCAST,
            VMAC,
            0x0800,
            build_ipv4(  # TCP: not ours, not shown
                IPv4Header(src=SRC4, dst=GROUP4, protocol=6), bytes(20)
            ),
        ),
    ]
    result = run("--json", str(write_pcap(tmp_path / "b.pcap", frames)))
    assert result.exit_code == 0, result.output
    v2, v3r, carpr, garp, na, bad = lines(result)
    assert v2 == {
        "frame": 1,
        "time": T0,
        "kind": "vrrp",
        "vlan": [20],
        "src": "192.0.2.10",
        "dst": "224.0.0.18",
        "src_mac": "00:00:5e:00:01:01",
        "dst_mac": "01:00:5e:00:00:12",
        "ttl": 255,
        "version": 2,
        "type": 1,
        "vrid": 1,
        "priority": 100,
        "count": 1,
        "interval_ms": 1000,
        "auth_type": "none",
        "addresses": ["192.0.2.1"],
        "checksum": "good",
        "findings": [],
    }
    assert (v3r["frame"], v3r["time"], v3r["version"], v3r["interval_ms"]) == (2, T0 + 1, 3, 350)
    assert v3r["checksum"] == "good-without-pseudo-header"
    # VRID 7 sent from 00:00:5e:00:01:01 (VRID 1's virtual MAC).
    assert v3r["findings"] == ["unicast-destination", "bad-source-mac"] and v3r["vlan"] == []
    assert carpr["kind"] == "carp" and carpr["vhid"] == 3 and carpr["advskew"] == 10
    assert carpr["counter"] == "0001020304050607" and "vrid" not in carpr
    assert garp["kind"] == "garp" and garp["op"] == "request" and garp["announcement"] is True
    assert (garp["src"], garp["dst"], garp["ttl"]) == ("192.0.2.1", "192.0.2.1", None)
    assert na["kind"] == "na" and na["target"] == "2001:db8::1" and na["ttl"] == 255
    assert (na["router"], na["solicited"], na["override"]) == (True, False, True)
    assert na["target_ll_addr"] == "00:00:5e:00:01:01" and na["checksum"] == "good"
    assert bad == {
        "frame": 6,
        "time": T0 + 5,
        "kind": "malformed",
        "vlan": [],
        "error": "VRRP: need 1 bytes, have 0",
    }


def test_password_redacted_by_default(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "p.pcap", [v2_frame(password=b"s3cr3t!")])
    env = {ENV_KEY: "test-key"}
    for args in ([str(pcap)], ["--json", str(pcap)]):
        result = run(*args, env=env)
        assert result.exit_code == 0
        assert "s3cr3t" not in result.output
        assert fingerprint(b"s3cr3t!", b"test-key") in result.output
    (rec,) = lines(run("--json", str(pcap), env=env))
    assert rec["auth_type"] == "simple" and "password" not in rec
    assert rec["password_fingerprint"] == fingerprint(b"s3cr3t!", b"test-key")
    assert (
        rec["password_fingerprint"].startswith("hmac:") and len(rec["password_fingerprint"]) == 13
    )
    (rec,) = lines(run("--json", "--reveal-secrets", str(pcap), env=env))
    assert rec["password"] == "s3cr3t!"
    assert "password 's3cr3t!'" in run("--reveal-secrets", str(pcap)).output


def test_fingerprint_key_changes_fingerprint() -> None:
    assert fingerprint(b"abc", b"k1") != fingerprint(b"abc", b"k2")
    assert fingerprint(b"abc", b"k1") == fingerprint(b"abc", b"k1")


def test_public_vrrp_pcap(public_captures: Path) -> None:
    result = run("--json", str(public_captures / "vrrp.pcap"))
    assert result.exit_code == 0
    recs = lines(result)
    assert [r["frame"] for r in recs] == list(range(1, 166))
    assert {r["vrid"] for r in recs} == {42, 43, 44, 45, 46}
    assert "abcdefgh" not in result.output
    v42 = [r for r in recs if r["vrid"] == 42]
    assert all(r["auth_type"] == "simple" and "password_fingerprint" in r for r in v42)
    revealed = lines(run("--json", "--reveal-secrets", str(public_captures / "vrrp.pcap")))
    assert {r["password"] for r in revealed if r["vrid"] == 42} == {"abcdefgh"}
    # PBB + 802.1Q: the B-VLAN, and the customer frame's virtual MAC.
    (pbb,) = [
        r for r in lines(run("--json", str(public_captures / "pbb.pcap"))) if r["kind"] == "vrrp"
    ]
    assert pbb["vlan"] == [4051] and pbb["src_mac"] == "00:00:5e:00:01:33"


def test_multiple_files_and_errors(tmp_path: Path) -> None:
    good = write_pcap(tmp_path / "good.pcap", [v2_frame()])
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"this is not a capture at all")
    truncated = tmp_path / "cut.pcap"
    truncated.write_bytes(good.read_bytes()[:-3])
    result = run(
        "--json",
        str(good),
        str(tmp_path / "missing.pcap"),
        str(garbage),
        str(truncated),
        str(tmp_path),
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["file"], r["frame"]) for r in out] == [(str(good), 1)]
    errors = result.stderr.splitlines()
    assert len(errors) == 4 and all(e.startswith("Error: ") for e in errors)
    assert "no such file" in errors[0] and "not a pcap" in errors[1]
    assert "truncated" in errors[2] and "directory" in errors[3]
    assert "Traceback" not in result.output


def test_unsupported_link_type(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "x.pcap", [b"\x00" * 40], linktype=147)
    result = run(str(pcap))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {pcap}: unsupported link type 147, nothing decoded\n"


def test_no_files_is_usage_error() -> None:
    result = run()
    assert result.exit_code == 2 and "Missing argument" in result.output


@pytest.mark.parametrize("args", [["decode", "--help"], ["--help"]])
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and "decode" in result.output
    if args[0] == "decode":
        assert "Example:" in result.output and "--reveal-secrets" in result.output


def test_partly_unsupported_link_types_warn(tmp_path: Path) -> None:
    # pcapng with two interfaces: Ethernet (ours) and link type 147 (not decoded).
    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    frame = v2_frame()
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idbs = block(1, struct.pack("<HHI", 1, 0, 0)) + block(1, struct.pack("<HHI", 147, 0, 0))
    epbs = b"".join(
        block(6, struct.pack("<IIIII", ifid, 0, 0, len(data), len(data)) + data)
        for ifid, data in ((0, frame), (1, b"\x00" * 30))
    )
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(shb + idbs + epbs)
    result = run("--json", str(path))
    assert result.exit_code == 0
    assert [r["frame"] for r in lines(result)] == [1]
    assert result.stderr == f"Warning: {path}: 1 frames of link type 147 not decoded\n"


def test_session_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from vrrpwatch.fingerprints import session_key

    monkeypatch.delenv(ENV_KEY, raising=False)
    key = session_key()
    assert len(key) == 32 and session_key() == key  # random, but fixed for the process
    monkeypatch.setenv(ENV_KEY, "shared key")
    assert session_key() == b"shared key"


# -- HSRP ------------------------------------------------------------------------------------

HSRP_MAC = bytes.fromhex("00000c07ac01")
HSRP_VIP = V4("192.0.2.1")


def hsrp_frames() -> list[bytes]:
    """HSRPv1 hello (802.1Q), a v1 coup with TTL 64, a v1 advertise, a v2 resign with text
    auth and millisecond timers, and v2 over IPv6 with an unknown TLV, MD5 and interface
    state."""
    return [
        hsrp_frame(
            HsrpV1(state=V1State.ACTIVE, group=1, priority=110, virtual_ip_address=HSRP_VIP),
            vlans=(10,),
        ),
        hsrp_frame(
            HsrpV1(
                op_code=OpCode.COUP,
                state=V1State.SPEAK,
                group=1,
                priority=200,
                virtual_ip_address=HSRP_VIP,
                authentication_data=b"s3cr3t!\0",
            ),
            ttl=64,
            src=V4("192.0.2.3"),
        ),
        hsrp_frame(HsrpV1Advert(state=AdvertState.ACTIVE, active_groups=1, passive_groups=0)),
        hsrp_frame(
            HsrpV2(
                tlvs=(
                    GroupState(
                        op_code=OpCode.RESIGN,
                        state=V2State.ACTIVE,
                        group=4095,
                        identifier=HSRP_MAC,
                        priority=150,
                        hello_time_ms=300,
                        hold_time_ms=1000,
                        virtual_ip_address=HSRP_VIP,
                    ),
                    TextAuth(authentication_data=b"MY_KEY\0\0"),
                )
            ),
            ttl=255,
        ),
        hsrp_frame(
            HsrpV2(
                tlvs=(
                    GroupState(
                        state=V2State.STANDBY,
                        ip_version=6,
                        group=16,
                        identifier=HSRP_MAC,
                        virtual_ip_address=V6("fe80::5:73ff:fea0:10"),
                        virtual_ip_padding=b"",
                    ),
                    UnknownTlv(type=9, value=b"\xab\xcd"),
                    Md5Auth(
                        ip_address=V4("192.0.2.2"), key_id=7, authentication_data=bytes(range(16))
                    ),
                    InterfaceState(active_groups=0, passive_groups=1),
                )
            ),
            src=V6("fe80::2"),
            ttl=255,
        ),
    ]


def test_hsrp_lines_exact(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "h.pcap", hsrp_frames())
    env = {ENV_KEY: "test-key"}
    result = run(str(pcap), env=env)
    assert result.exit_code == 0, result.output
    fp = {pw: fingerprint(pw, b"test-key") for pw in (b"cisco", b"s3cr3t!", b"MY_KEY")}
    assert result.output.splitlines() == [
        "     1 2023-11-14 22:13:20.250000 vlan 10  192.0.2.2 → 224.0.0.2  HSRPv1 hello group 1 "
        f"active prio 110 hello 3s hold 10s vip 192.0.2.1 auth text password {fp[b'cisco']} ttl 1",
        "     2 2023-11-14 22:13:21.250000  192.0.2.3 → 224.0.0.2  HSRPv1 coup group 1 speak "
        f"prio 200 hello 3s hold 10s vip 192.0.2.1 auth text password {fp[b's3cr3t!']} ttl 64"
        "  !! ttl-not-1",
        "     3 2023-11-14 22:13:22.250000  192.0.2.2 → 224.0.0.2  HSRPv1 advertise active "
        "groups 1 active 0 passive ttl 1",
        "     4 2023-11-14 22:13:23.250000  192.0.2.2 → 224.0.0.102  HSRPv2 resign group 4095 "
        "active prio 150 hello 300ms hold 1s vip 192.0.2.1 id 00:00:0c:07:ac:01 auth text "
        f"password {fp[b'MY_KEY']} ttl 255",
        "     5 2023-11-14 22:13:24.250000  fe80::2 → ff02::66  HSRPv2 hello group 16 standby "
        "prio 100 hello 3s hold 10s vip fe80::5:73ff:fea0:10 id 00:00:0c:07:ac:01 groups 0 "
        "active 1 passive auth md5 key 7 unknown-tlvs 1 ttl 255",
    ]
    revealed = run("--reveal-secrets", str(pcap)).output
    assert "password 'cisco'" in revealed and "password 's3cr3t!'" in revealed


def test_hsrp_json_fields(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "h.pcap", hsrp_frames())
    env = {ENV_KEY: "test-key"}
    result = run("--json", str(pcap), env=env)
    assert result.exit_code == 0, result.output
    v1, coup, advert, v2, v6 = lines(result)
    assert v1 == {
        "frame": 1,
        "time": T0,
        "kind": "hsrp",
        "vlan": [10],
        "src": "192.0.2.2",
        "dst": "224.0.0.2",
        "src_mac": "00:00:0c:07:ac:01",
        "dst_mac": "01:00:5e:00:00:02",
        "ttl": 1,
        "version": 1,
        "opcode": "hello",
        "state": "active",
        "group": 1,
        "priority": 110,
        "hello_ms": 3000,
        "hold_ms": 10000,
        "virtual_ip": "192.0.2.1",
        "ip_version": 4,
        "identifier": None,
        "active_groups": None,
        "passive_groups": None,
        "auth_type": "text",
        "password_fingerprint": fingerprint(b"cisco", b"test-key"),
        "unknown_tlvs": 0,
        "src_port": 1985,
        "dst_port": 1985,
        "checksum": "good",
        "findings": [],
    }
    assert (coup["opcode"], coup["state"], coup["findings"]) == ("coup", "speak", ["ttl-not-1"])
    assert "password" not in coup and "s3cr3t" not in result.output
    assert (advert["opcode"], advert["state"], advert["auth_type"]) == (
        "advertise",
        "active",
        "none",
    )
    assert (advert["group"], advert["active_groups"], advert["passive_groups"]) == (None, 1, 0)
    assert "password_fingerprint" not in advert
    assert (v2["version"], v2["opcode"], v2["group"], v2["hello_ms"], v2["hold_ms"]) == (
        2,
        "resign",
        4095,
        300,
        1000,
    )
    assert v2["identifier"] == "00:00:0c:07:ac:01" and v2["auth_type"] == "text"
    assert v2["password_fingerprint"] == fingerprint(b"MY_KEY", b"test-key")
    # The MD5 TLV is data, not a secret: shown without --reveal-secrets.
    assert {k: v6[k] for k in v6 if k.startswith("md5_")} == {
        "md5_algorithm": 1,
        "md5_flags": 0,
        "md5_ip": "192.0.2.2",
        "md5_key_id": 7,
        "md5_digest": "000102030405060708090a0b0c0d0e0f",
    }
    assert (v6["auth_type"], v6["unknown_tlvs"], v6["ip_version"]) == ("md5", 1, 6)
    assert (v6["src_port"], v6["dst_port"], v6["virtual_ip"]) == (
        2029,
        2029,
        "fe80::5:73ff:fea0:10",
    )
    assert (v6["active_groups"], v6["passive_groups"]) == (0, 1)
    assert "password_fingerprint" not in v6
    revealed = lines(run("--json", "--reveal-secrets", str(pcap)))
    assert [r.get("password") for r in revealed] == ["cisco", "s3cr3t!", None, "MY_KEY", None]


def test_hsrp_findings_and_malformed(tmp_path: Path) -> None:
    """Findings are data (UDP checksum, destination, ports); a broken TLV is malformed."""
    bad_sum = bytearray(
        hsrp_frame(HsrpV1(state=V1State.ACTIVE, group=1, virtual_ip_address=HSRP_VIP))
    )
    bad_sum[14 + 20 + 6] ^= 0xFF
    unicast = hsrp_frame(
        HsrpV1(state=V1State.ACTIVE, group=1, virtual_ip_address=HSRP_VIP),
        dst=V4("192.0.2.9"),
        src_port=40000,
    )
    v2 = HsrpV2(
        tlvs=(
            GroupState(
                state=V2State.ACTIVE, group=1, identifier=HSRP_MAC, virtual_ip_address=HSRP_VIP
            ),
        )
    )
    broken = bytearray(hsrp_frame(v2, ttl=255))
    broken[14 + 20 + 8 + 1] = 39  # group state TLV length 39, not 40
    result = run(
        "--json", str(write_pcap(tmp_path / "f.pcap", [bytes(bad_sum), unicast, bytes(broken)]))
    )
    assert result.exit_code == 0, result.output
    a, b, c = lines(result)
    assert (a["checksum"], a["findings"]) == ("bad", ["bad-checksum"])
    assert b["findings"] == ["unicast-destination", "bad-port"] and b["src_port"] == 40000
    assert c["kind"] == "malformed" and c["error"] == "HSRP: TLV type 1 has length 39, not 40"


def test_public_hsrp_captures(public_captures: Path, tmp_path: Path) -> None:
    """Every HSRP packet the link layer carries (ERSPAN-tunnelled ones are not decoded), in the
    public captures and in tests/crafted.py's (HSRPv2 authentication, resign, IPv6, an
    election, v1 millisecond timers; each checked against tshark in test_hsrp_tshark.py)."""
    public = {
        "HSRP_coup.pcap": 51,
        "HSRP_election.pcap": 49,
        "HSRP_failover.pcap": 39,
        "hsrp0.pcap": 4,
        "hsrp2.pcap": 2,
        "hsrp2_ipv6.pcapng": 36,
        "erspan-type-ii-2.pcap": 0,
    }
    crafted = {
        "v2-election": 18,  # and one gratuitous ARP
        "v2-resign": 2,
        "v2-text-auth": 2,
        "v2-md5-key-chain": 1,
        "v2-md5-key-string": 1,
        "v2-hellos": 2,
        "v2-ipv6-hellos": 2,
        "v1-millisecond-timers": 1,
    }
    paths = {public_captures / name: count for name, count in public.items()}
    paths |= {write_crafted(tmp_path, name): count for name, count in crafted.items()}
    for path, count in paths.items():
        result = run("--json", str(path))
        assert result.exit_code == 0, path.name
        recs = [r for r in lines(result) if r["kind"] in ("hsrp", "malformed")]
        assert len(recs) == count and all(r["kind"] == "hsrp" for r in recs), path.name
    coup = lines(run("--json", str(public_captures / "HSRP_coup.pcap")))
    assert coup[21]["frame"] == 22 and coup[21]["opcode"] == "coup"
    assert "cisco" not in run(str(public_captures / "HSRP_coup.pcap")).output
    plain, _ = lines(run("--json", "--reveal-secrets", str(tmp_path / "v2-text-auth.pcap")))
    assert plain["password"] == "MY_KEY" and plain["auth_type"] == "text"
    assert "MY_KEY" not in run(str(tmp_path / "v2-text-auth.pcap")).output
    resign, _ = lines(run("--json", str(tmp_path / "v2-resign.pcap")))
    assert resign["opcode"] == "resign" and resign["state"] == "active"


def test_analyze_counts_what_decode_shows(public_captures: Path, tmp_path: Path) -> None:
    """analyze counts HSRP (``hsrp`` in the JSON document and the summary line) without
    following it as VRRP: no VRRP router, no VRRP advert counted (its groups are HSRP's)."""
    path = str(public_captures / "HSRP_coup.pcap")
    db = str(tmp_path / "h.db")
    result = CliRunner().invoke(cli, ["analyze", path, "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["hsrp"], doc["vrrp_adverts"]) == (51, 0)
    assert doc["virtual_routers"] and {r["protocol"] for r in doc["virtual_routers"]} == {"hsrp"}
    assert doc["malformed"] == 0 and doc["findings"] == {}
    text = CliRunner().invoke(cli, ["analyze", path, "--db", str(tmp_path / "t.db")])
    assert text.exit_code == 0, text.output
    assert "0 VRRP adverts" in text.output and ", 51 HSRP" in text.output
