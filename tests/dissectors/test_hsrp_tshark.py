"""``dissectors.hsrp`` against tshark, field by field, on every HSRP packet of the public
captures (HSRPv1, its Advertise, HSRPv2 over IPv4 and IPv6, text and MD5 authentication, and
HSRP mirrored inside ERSPAN over GRE).

tshark runs once per file (``-Y hsrp -T json``); our side walks the same frames with
``vrrpwatch.pcap.iter_capture``, ``dissectors.frame`` and ``dissectors.ip`` down to the UDP
payload and decodes it with ``parse_hsrp``. Both are put in tshark's vocabulary (its field
names) and compared: the IP and UDP carrier, then every HSRP field, TLV by TLV.

Where Wireshark and we differ on purpose, a test below pins both behaviours on a crafted
capture:

- HSRPv1 or v2: Wireshark goes by the destination address (224.0.0.2 is v1), we by the first
  byte (v1's Version is 0, RFC 2281 section 5.1; v2 starts with a TLV type). A v1 header with a
  Version other than 0 is v1 to Wireshark and undecodable (or a TLV) to us.
- A known HSRPv2 TLV type with the wrong length: Wireshark stops dissecting there and shows
  the rest as data; we refuse the message (DecodeError, so ``malformed``).
- The MD5 TLV after an HSRPv1 message: Wireshark looks for it only when the payload is exactly
  50 bytes; we decode TLVs after any 20-byte v1 message. On 50 bytes (what IOS sends) both agree.
- An unknown HSRPv2 TLV: Wireshark stops dissecting there; we skip it, count it and decode
  the TLVs after it.
- Text passwords: Wireshark shows the string up to the first NUL, we keep the 8 raw bytes; the
  comparison cuts ours at the first NUL.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dissectors.common import DecodeError
from dissectors.frame import ETH_P_IP, ETH_P_IPV6, build_ethernet, parse_link
from dissectors.hsrp import (
    GroupState,
    HsrpMessage,
    HsrpV1,
    HsrpV1Advert,
    HsrpV2,
    InterfaceState,
    Md5Auth,
    TextAuth,
    UnknownTlv,
    build_hsrp,
    is_hsrp_port,
    parse_hsrp,
)
from dissectors.ip import (
    IPPROTO_UDP,
    IPv4Header,
    UdpHeader,
    build_ipv4,
    build_udp,
    parse_ipv4,
    parse_ipv6,
    parse_udp,
)
from dissectors.packet import Kind, decode_packet
from tests.conftest import PUBLIC_CAPTURES, ROOT, lab_unavailable
from tests.crafted import CRAFTED_HSRP, write_crafted
from vrrpwatch.pcap import iter_capture

# The public captures: the repo's copy when it is there, else the shared directory.
CAPTURE_DIR = ROOT / "tests" / "data" / "public"
if not CAPTURE_DIR.is_dir():
    CAPTURE_DIR = PUBLIC_CAPTURES
PATTERNS = (
    "HSRP_*.pcap",
    "hsrp*.pcap*",
    "erspan-type-ii-2.pcap",  # HSRPv1 and v2 mirrored inside ERSPAN type II over GRE
)
IPPROTO_GRE = 47
GRE_ERSPAN_II = 0x88BE
GRE_TEB = 0x6558  # transparent Ethernet bridging


def _captures() -> list[str]:
    if not CAPTURE_DIR.is_dir():
        return []
    return sorted({p.name for pattern in PATTERNS for p in CAPTURE_DIR.glob(pattern)})


@pytest.fixture(scope="module")
def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        lab_unavailable("tshark is not installed")
        raise AssertionError("unreachable")
    return path


# --- tshark's side -----------------------------------------------------------------------------


@functools.cache
def tshark_view(tshark: str, path: Path) -> dict[int, dict[str, Any]]:
    """Frame number -> tshark's HSRP fields and carrier, for every packet it calls HSRP.

    Cached: one tshark process per file for the whole module; callers must not mutate it."""
    proc = subprocess.run(
        [tshark, "-r", str(path), "-Y", "hsrp", "-T", "json", "--no-duplicate-keys"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out: dict[int, dict[str, Any]] = {}
    for pkt in json.loads(proc.stdout or "[]"):
        layers = pkt["_source"]["layers"]
        out[int(layers["frame"]["frame.number"])] = _describe(layers)
    return out


def _last(value: Any) -> Any:
    # With --no-duplicate-keys a layer seen twice (ERSPAN: outer and inner IP) is a list.
    return value[-1] if isinstance(value, list) else value


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


_TREES = {
    "hsrp2.group_state_tlv_tree": "group_state",
    "hsrp2.interface_state_tlv_tree": "interface_state",
    "hsrp2.text_auth_tlv_tree": "text_auth",
    "hsrp2.md5_auth_tlv_tree": "md5_auth",
}


def _describe(layers: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    if "ipv6" in layers:
        ip = _last(layers["ipv6"])
        rec.update(src=ip["ipv6.src"], dst=ip["ipv6.dst"], ttl=int(ip["ipv6.hlim"]))
    else:
        ip = _last(layers["ip"])
        rec.update(src=ip["ip.src"], dst=ip["ip.dst"], ttl=int(ip["ip.ttl"]))
    udp = _last(layers["udp"])
    rec.update(src_port=int(udp["udp.srcport"]), dst_port=int(udp["udp.dstport"]))
    hsrp = _last(layers["hsrp"])
    rec["hsrp"] = {k: v for k, v in hsrp.items() if not k.endswith("_tlv") and k not in _TREES}
    tlvs: dict[str, list[dict[str, str]]] = {}
    for key, kind in _TREES.items():
        for tree in _many(hsrp.get(key)):
            tlvs.setdefault(kind, []).append(tree)
    rec["tlvs"] = tlvs
    return rec


# --- our side ----------------------------------------------------------------------------------


def _peel_gre(payload: bytes) -> bytes | None:
    """The Ethernet frame inside GRE (RFC 2784/2890) carrying ERSPAN type II or bridged frames."""
    flags, proto = struct.unpack_from("!HH", payload)
    off = 4 + 4 * sum(bool(flags & bit) for bit in (0x8000, 0x2000, 0x1000))
    if proto == GRE_ERSPAN_II:
        return payload[off + 8 :]
    if proto == GRE_TEB:
        return payload[off:]
    return None


def _udp_in(frame: bytes, linktype: int) -> tuple[Any, UdpHeader, bytes] | None:
    link, off = parse_link(frame, linktype)
    if link.ethertype == ETH_P_IP:
        ip: Any
        ip, payload = parse_ipv4(frame, off)
    elif link.ethertype == ETH_P_IPV6:
        ip, payload = parse_ipv6(frame, off)
    else:
        return None
    if ip.protocol == IPPROTO_GRE:
        inner = _peel_gre(payload)
        return None if inner is None else _udp_in(inner, 1)
    if ip.protocol != IPPROTO_UDP:
        return None
    udp, data = parse_udp(payload, src=ip.src, dst=ip.dst)
    return ip, udp, data


def our_view(path: Path) -> dict[int, dict[str, Any]]:
    """Frame number -> our decode in tshark's vocabulary, for every UDP datagram to HSRP's port."""
    out: dict[int, dict[str, Any]] = {}
    for pkt in iter_capture(path):
        found = _udp_in(pkt.data, pkt.linktype)
        if found is None:
            continue
        ip, udp, data = found
        if not is_hsrp_port(ip.family, udp.dst_port):
            continue
        rec: dict[str, Any] = {
            "src": str(ip.src),
            "dst": str(ip.dst),
            "ttl": ip.ttl,
            "src_port": udp.src_port,
            "dst_port": udp.dst_port,
        }
        try:
            msg = parse_hsrp(data, family=ip.family, dst_port=udp.dst_port)
        except DecodeError as exc:
            rec["malformed"] = str(exc)
        else:
            rec.update(render(msg))
        out[pkt.frame] = rec
    return out


def _text(auth: bytes) -> str:
    return auth.split(b"\0")[0].decode("latin-1")


def _hexbytes(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def _md5(tlv: Md5Auth) -> dict[str, str]:
    return {
        "hsrp2.md5_algorithm": str(tlv.algorithm),
        "hsrp2.md5_padding": f"0x{tlv.padding:02x}",
        "hsrp2.md5_flags": str(tlv.flags),
        "hsrp.md5_ip_address": str(tlv.ip_address),
        "hsrp2.md5_key_id": str(tlv.key_id),
        "hsrp2.md5_auth_data": _hexbytes(tlv.authentication_data),
    }


def render(msg: HsrpMessage) -> dict[str, Any]:
    """``msg`` as tshark's fields: top-level HSRPv1 ones, and HSRPv2 TLV trees by kind."""
    hsrp: dict[str, str] = {}
    tlvs: dict[str, list[dict[str, str]]] = {}
    if isinstance(msg, HsrpV1):
        hsrp = {
            "hsrp.version": str(msg.version),
            "hsrp.opcode": str(msg.op_code),
            "hsrp.state": str(msg.state),
            "hsrp.hellotime": str(msg.hellotime_s),
            "hsrp.holdtime": str(msg.holdtime_s),
            "hsrp.priority": str(msg.priority),
            "hsrp.group": str(msg.group),
            "hsrp.reserved": str(msg.reserved),
            "hsrp.auth_data": _text(msg.authentication_data),
            "hsrp.virt_ip": str(msg.virtual_ip_address),
        }
        md5 = msg.md5_auth
        if md5 is not None:
            tlvs["md5_auth"] = [_md5(md5)]
    elif isinstance(msg, HsrpV1Advert):
        hsrp = {
            "hsrp.version": str(msg.version),
            "hsrp.opcode": str(msg.op_code),
            "hsrp.adv.tlvtype": str(msg.type),
            "hsrp.adv.tlvlength": str(msg.length),
            "hsrp.adv.state": str(msg.state),
            "hsrp.adv.reserved1": str(msg.reserved1),
            "hsrp.adv.activegrp": str(msg.active_groups),
            "hsrp.adv.passivegrp": str(msg.passive_groups),
            "hsrp.adv.reserved2": str(msg.reserved2),
        }
    else:
        for tlv in msg.tlvs:
            kind, fields = _tlv_fields(tlv)
            if kind:
                tlvs.setdefault(kind, []).append(fields)
    return {"hsrp": hsrp, "tlvs": tlvs}


def _tlv_fields(tlv: Any) -> tuple[str, dict[str, str]]:
    if isinstance(tlv, GroupState):
        vip_key = "hsrp2.virt_ip_v6" if tlv.ip_version == 6 else "hsrp2.virt_ip"
        fields = {
            "hsrp2.version": str(tlv.version),
            "hsrp2.opcode": str(tlv.op_code),
            "hsrp2.state": str(tlv.state),
            "hsrp2.ipversion": str(tlv.ip_version),
            "hsrp2.group": str(tlv.group),
            "hsrp2.identifier": _hexbytes(tlv.identifier),
            "hsrp2.priority": str(tlv.priority),
            "hsrp2.hellotime": str(tlv.hello_time_ms),
            "hsrp2.holdtime": str(tlv.hold_time_ms),
            vip_key: str(tlv.virtual_ip_address),
        }
        return "group_state", fields
    if isinstance(tlv, InterfaceState):
        return "interface_state", {
            "hsrp2.active_groups": str(tlv.active_groups),
            "hsrp2.passive_groups": str(tlv.passive_groups),
        }
    if isinstance(tlv, TextAuth):
        return "text_auth", {"hsrp2.auth_data": _text(tlv.authentication_data)}
    if isinstance(tlv, Md5Auth):
        return "md5_auth", _md5(tlv)
    assert isinstance(tlv, UnknownTlv)
    return "", {}  # Wireshark stops at an unknown TLV; nothing of it to compare


def compare(
    name: str, theirs: dict[int, dict[str, Any]], mine: dict[int, dict[str, Any]]
) -> list[str]:
    """Every disagreement, as a readable line; empty when tshark and we agree."""
    problems: list[str] = []
    for frame in sorted(theirs.keys() | mine.keys()):
        t, m = theirs.get(frame), mine.get(frame)
        where = f"{name} frame {frame}"
        if t is None or m is None:
            problems.append(
                f"{where}: tshark {'HSRP' if t else 'nothing'}, we {'HSRP' if m else 'nothing'}"
            )
            continue
        if "malformed" in m:
            problems.append(f"{where}: we say malformed ({m['malformed']}), tshark decodes it")
            continue
        for key in ("src", "dst", "ttl", "src_port", "dst_port", "hsrp"):
            if t[key] != m[key]:
                problems.append(f"{where}: {key}: tshark {t[key]!r}, we {m[key]!r}")
        for kind in sorted(t["tlvs"].keys() | m["tlvs"].keys()):
            want, got = t["tlvs"].get(kind, []), m["tlvs"].get(kind, [])
            if want != got:
                problems.append(f"{where}: {kind}: tshark {want!r}, we {got!r}")
    return problems


@pytest.mark.parametrize("name", _captures())
def test_public_capture_agrees_with_tshark(tshark: str, name: str) -> None:
    path = CAPTURE_DIR / name
    assert compare(name, tshark_view(tshark, path), our_view(path)) == []


def test_public_captures_present() -> None:
    if not CAPTURE_DIR.is_dir():
        lab_unavailable(f"public captures not found at {CAPTURE_DIR}")
    names = set(_captures())
    assert names == {
        "HSRP_coup.pcap", "HSRP_election.pcap", "HSRP_failover.pcap", "erspan-type-ii-2.pcap",
        "hsrp0.pcap", "hsrp2.pcap", "hsrp2_ipv6.pcapng",
    }  # fmt: skip


def test_every_public_hsrp_packet_is_compared(tshark: str) -> None:
    """The packet counts the MANIFEST gives: v1, v1 Advertise, v2 over IPv4 and IPv6, MD5."""
    if not CAPTURE_DIR.is_dir():
        lab_unavailable(f"public captures not found at {CAPTURE_DIR}")
    counts = {name: len(tshark_view(tshark, CAPTURE_DIR / name)) for name in _captures()}
    assert sum(counts.values()) == 197
    assert counts["HSRP_coup.pcap"] == 51 and counts["hsrp2_ipv6.pcapng"] == 36
    assert counts["erspan-type-ii-2.pcap"] == 16


def test_compare_notices_disagreement(tshark: str) -> None:
    path = CAPTURE_DIR / "hsrp2_ipv6.pcapng"
    if not path.is_file():
        lab_unavailable(f"{path} not found")
    theirs, mine = tshark_view(tshark, path), our_view(path)
    assert compare("x", theirs, mine) == []
    assert theirs[3]["tlvs"]["md5_auth"][0]["hsrp2.md5_key_id"] == "0"
    mine[1] = {**mine[1], "ttl": 1}
    gs = dict(mine[3]["tlvs"]["group_state"][0], **{"hsrp2.priority": "1"})
    mine[3] = {**mine[3], "tlvs": {**mine[3]["tlvs"], "group_state": [gs]}}
    del mine[4]
    problems = compare("x", theirs, mine)
    assert problems[0] == "x frame 1: ttl: tshark 255, we 1"
    assert problems[1].startswith("x frame 3: group_state: tshark [{'hsrp2.version': '2'")
    assert "'hsrp2.priority': '105'" in problems[1] and "'hsrp2.priority': '1'" in problems[1]
    assert problems[2:] == ["x frame 4: tshark HSRP, we nothing"]


# --- the crafted captures (tests/crafted.py) --------------------------------------------------


# What tshark itself shows in each crafted capture, frame by frame: for HSRPv2 (op code, state,
# IP version, priority, authentication), for HSRPv1 (version, op code, state, hellotime,
# holdtime). Op codes 0 hello, 2 resign; v2 states 4 speak, 5 standby, 6 active; v1 state 4
# speak.
def _hello(state: str, prio: str, auth: str = "cisco", ipv: str = "4") -> tuple[str, ...]:
    return ("0", state, ipv, prio, auth)


ELECTION = (
    [_hello("4", "150"), _hello("4", "100")] * 4
    + [_hello("5", "150"), _hello("4", "100"), _hello("6", "150"), _hello("5", "100")]
    + [_hello("6", "150"), _hello("5", "100")] * 3
)
CRAFTED_TSHARK: dict[str, list[tuple[str, ...]]] = {
    "v2-hellos": [_hello("6", "150"), _hello("5", "100")],
    "v2-ipv6-hellos": [_hello("6", "150", ipv="6"), _hello("5", "100", ipv="6")],
    "v2-text-auth": [_hello("6", "150", "MY_KEY"), _hello("5", "100", "MY_KEY")],
    "v2-md5-key-chain": [_hello("6", "150", "md5 key 1 from 192.0.2.1")],
    "v2-md5-key-string": [_hello("6", "150", "md5 key 0 from 192.0.2.1")],
    "v2-resign": [("2", "6", "4", "150", "cisco"), ("interface state", "1", "0")],
    "v2-election": ELECTION,
    "v1-millisecond-timers": [("v1", "0", "4", "0", "0")],
    "hsrp-garps": [],
}


def _tshark_summary(view: dict[int, dict[str, Any]]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for _, rec in sorted(view.items()):
        h, tlvs = rec["hsrp"], rec["tlvs"]
        if "hsrp.version" in h:
            out.append(("v1", h["hsrp.opcode"], h["hsrp.state"], h["hsrp.hellotime"],
                        h["hsrp.holdtime"]))  # fmt: skip
            continue
        if "group_state" not in tlvs:
            (i,) = tlvs["interface_state"]
            out.append(("interface state", i["hsrp2.active_groups"], i["hsrp2.passive_groups"]))
            continue
        (gs,) = tlvs["group_state"]
        if "md5_auth" in tlvs:
            (md5,) = tlvs["md5_auth"]
            auth = f"md5 key {md5['hsrp2.md5_key_id']} from {md5['hsrp.md5_ip_address']}"
        else:
            (text,) = tlvs["text_auth"]
            auth = text["hsrp2.auth_data"]
        out.append((gs["hsrp2.opcode"], gs["hsrp2.state"], gs["hsrp2.ipversion"],
                    gs["hsrp2.priority"], auth))  # fmt: skip
    return out


@pytest.mark.parametrize("name", sorted(CRAFTED_HSRP))
def test_crafted_capture_agrees_with_tshark(tshark: str, tmp_path: Path, name: str) -> None:
    """The crafted HSRP frames standing in for unlicensed captures: tshark decodes them as
    their layout says, and we decode every field as tshark does."""
    path = write_crafted(tmp_path, name)
    theirs = tshark_view(tshark, path)
    assert _tshark_summary(theirs) == CRAFTED_TSHARK[name]
    assert compare(name, theirs, our_view(path)) == []


def test_crafted_hsrp_garps_agree_with_tshark(tshark: str, tmp_path: Path) -> None:
    """Gratuitous ARP replies from HSRP's virtual MACs: gratuitous to tshark and to us."""
    path = write_crafted(tmp_path, "hsrp-garps")
    out = subprocess.run(
        [tshark, "-r", str(path), "-Y", "arp.isgratuitous", "-T", "fields", "-e", "eth.src",
         "-e", "arp.src.proto_ipv4", "-e", "arp.opcode"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    theirs = [tuple(line.split("\t")) for line in out.splitlines()]
    ours = []
    for pkt in iter_capture(path):
        d = decode_packet(pkt.data, pkt.linktype)
        assert d is not None and d.kind is Kind.GARP
        arp = d.message
        ours.append((arp.sender_mac.hex(":"), str(arp.sender_ip), str(int(arp.oper))))  # type: ignore[union-attr]
    assert (
        theirs
        == ours
        == [
            ("00:00:0c:07:ac:01", "192.0.2.254", "2"),
            ("00:00:0c:07:ac:01", "192.0.2.254", "2"),
            ("00:00:0c:9f:f0:01", "192.0.2.254", "2"),
        ]
    )


# --- documented differences, pinned on crafted captures --------------------------------------

SRC = ipaddress.IPv4Address("192.0.2.10")
V1_GROUP = ipaddress.IPv4Address("224.0.0.2")
V1_HELLO = bytes.fromhex("00001003 0a640100 636973636f000000 c0000201".replace(" ", ""))


def _pcap(path: Path, payloads: list[bytes], dst: ipaddress.IPv4Address = V1_GROUP) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, payload in enumerate(payloads):
        udp = build_udp(UdpHeader(src_port=1985, dst_port=1985), payload, src=SRC, dst=dst)
        ip = build_ipv4(IPv4Header(src=SRC, dst=dst, protocol=IPPROTO_UDP, ttl=1), udp)
        frame = build_ethernet(
            bytes.fromhex("01005e000002"), bytes.fromhex("00000c07ac01"), 0x0800, ip
        )
        out.append(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def test_v1_md5_agrees(tshark: str, tmp_path: Path) -> None:
    """No public capture has HSRPv1 with MD5: a crafted one, 50 bytes as IOS sends it."""
    md5 = Md5Auth(ip_address=SRC, key_id=3, authentication_data=bytes(range(16)))
    msg = parse_hsrp(V1_HELLO, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV1)
    with_md5 = build_hsrp(
        HsrpV1(**{**{f: getattr(msg, f) for f in msg.__dataclass_fields__}, "tlvs": (md5,)})
    )
    assert len(with_md5) == 50
    path = _pcap(tmp_path / "v1md5.pcap", [with_md5])
    theirs, mine = tshark_view(tshark, path), our_view(path)
    assert theirs[1]["tlvs"]["md5_auth"][0]["hsrp2.md5_key_id"] == "3"
    assert compare("v1md5.pcap", theirs, mine) == []


def test_version_by_first_byte_not_destination(tshark: str, tmp_path: Path) -> None:
    v1_version_1 = b"\x01" + V1_HELLO[1:]
    path = _pcap(tmp_path / "v1ver1.pcap", [v1_version_1])
    theirs, mine = tshark_view(tshark, path), our_view(path)
    assert (
        theirs[1]["hsrp"]["hsrp.version"] == "1"
        and theirs[1]["hsrp"]["hsrp.virt_ip"] == "192.0.2.1"
    )
    # To us the first byte 1 is a group state TLV type, and its length (0) is not 40.
    assert mine[1]["malformed"] == "HSRP: TLV type 1 has length 0, not 40"


def test_known_tlv_with_wrong_length_is_malformed(tshark: str, tmp_path: Path) -> None:
    v2_group = ipaddress.IPv4Address("224.0.0.102")
    good = bytes.fromhex("020400010000")  # interface state
    bad = bytes.fromhex("0205000100000000")  # interface state with length 5
    path = _pcap(tmp_path / "v2len.pcap", [good + bad], dst=v2_group)
    theirs, mine = tshark_view(tshark, path), our_view(path)
    # Wireshark dissects the first TLV and shows the rest as data.
    assert theirs[1]["tlvs"] == {
        "interface_state": [{"hsrp2.active_groups": "1", "hsrp2.passive_groups": "0"}]
    }
    assert mine[1]["malformed"] == "HSRP: TLV type 2 has length 5, not 4"


def test_unknown_tlv_skipped_where_wireshark_stops(tshark: str, tmp_path: Path) -> None:
    v2_group = ipaddress.IPv4Address("224.0.0.102")
    unknown = bytes.fromhex("0902abcd")  # type 9, 2 bytes
    interface = bytes.fromhex("020400010000")
    path = _pcap(tmp_path / "v2unknown.pcap", [unknown + interface], dst=v2_group)
    theirs, mine = tshark_view(tshark, path), our_view(path)
    assert theirs[1]["tlvs"] == {}
    assert mine[1]["tlvs"] == {
        "interface_state": [{"hsrp2.active_groups": "1", "hsrp2.passive_groups": "0"}]
    }
    msg = parse_hsrp(unknown + interface, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV2) and msg.unknown_tlv_count == 1
