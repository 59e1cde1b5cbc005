"""``vrrpwatch decode --json`` against tshark (through pyshark), field by field.

Every VRRP, CARP, HSRP, ARP and Neighbor Advertisement packet in the public captures is
compared: version, VRID, priority, count, addresses, auth type, password, interval, checksum
status, plus VLANs, addresses, TTL/hop limit, source MAC and time; for HSRP, ARP and NA their
own fields (HSRP: UDP ports and checksum, op code, state, group, priority, hello and hold time,
virtual IP, identifier, interface state, text password, MD5 TLV). Wireshark
runs with ``ip.defragment`` off so that it dissects a first fragment as we do (flagged
``fragmented``) instead of waiting for a reassembly that never comes.

Where Wireshark and we differ on purpose, a test pins both behaviours on a crafted capture:
CARP (Wireshark calls it VRRP), the VRRPv3-over-IPv4 checksum without pseudo-header
(Wireshark says bad unless ``vrrp.v3_checksum_as_in_v2`` is set), and VRRP versions other than
2 and 3 (Wireshark dissects any version nibble with the v2 layout; we refuse to decode them).
For HSRP: the version by the first byte, not by the destination (a v1 header with Version 1 is
malformed to us, HSRPv1 to Wireshark); an unknown TLV skipped and counted (Wireshark stops
there); HSRPv2 state 0 named ``disabled`` (Wireshark has no name for it). Our ``version`` is
HSRP's (1 or 2), not the wire's Version field (0 in HSRPv1, RFC 2281 section 5.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dissectors.frame import build_ethernet
from dissectors.hsrp import GroupState, HsrpV1, HsrpV2, UnknownTlv, V1State, V2State
from dissectors.ip import IPv4Header, build_ipv4
from dissectors.vrrp import CarpPacket, VrrpV3, build_carp, build_vrrp
from tests.crafted import CRAFTED_HSRP, EMPTY_VRRP_FRAME, write_crafted, write_pcap
from tests.helpers import CAPTURES, PUBLIC_CAPTURES, hsrp_frame, lab_unavailable
from vrrpwatch.cli import cli

# IP protocol 112 without a VRRP layer too: Wireshark shows an empty one as bare IP.
DISPLAY_FILTER = (
    "vrrp or carp or hsrp or arp or icmpv6.type == 136 or ip.proto == 112 or ipv6.nxt == 112"
)
# UDP checksums verified (HSRP's); Wireshark leaves them unverified by default.
PREFS = {"ip.defragment": "FALSE", "udp.check_checksum": "TRUE"}
# How long tshark may take to exit after its last output (a loaded machine: generous).
TSHARK_EXIT_S = 60.0
# Wireshark's expert severity for errors (PI_ERROR): the packet is malformed in its eyes.
_PI_ERROR = 8388608
# Frames where we deliberately refuse what Wireshark dissects (see module docstring).
UNKNOWN_VERSION = {("fuzz-2020-02-16-11740.pcap", 161), ("vrrp-vrrp_print-oobr-2.pcap", 10)}


def _captures() -> list[str]:
    if not PUBLIC_CAPTURES.is_dir():
        return []
    return sorted(
        p.name for p in PUBLIC_CAPTURES.iterdir() if p.suffix in (".pcap", ".cap", ".pcapng")
    )


def _project_captures() -> list[str]:
    return sorted(p.name for p in CAPTURES.glob("*.pcap*"))


@pytest.fixture(scope="module")
def pyshark_mod() -> Any:
    if shutil.which("tshark") is None:
        lab_unavailable("tshark is not installed")
    try:
        import pyshark
    except ImportError:
        lab_unavailable("pyshark is not installed")
    return pyshark


def _fields(layer: Any, name: str) -> list[str]:
    f = layer.get_field(name)
    if f is None:
        return []
    return [x.show for x in f.all_fields]


def _one(layer: Any, name: str) -> str | None:
    values = _fields(layer, name)
    return values[0] if values else None


def _malformed(pkt: Any) -> bool:
    for layer in pkt.layers:
        # "_ws.unreassembled": a fragment that ends inside the message ("BoundError").
        if layer.layer_name in ("_ws.malformed", "_ws.unreassembled"):
            return True
        for sev in _fields(layer, "_ws.expert.severity"):
            if int(sev) >= _PI_ERROR:
                return True
    return False


def _status(show: str | None) -> str | None:
    # Wireshark's PROTO_CHECKSUM_E_BAD = 0, _GOOD = 1, _UNVERIFIED = 2 (it says so for an
    # unreassembled fragment, as we do).
    return {"0": "bad", "1": "good", "2": "unverified"}.get(show or "")


def tshark_view(
    pyshark: Any, path: Path, prefs: dict[str, str] | None = None
) -> dict[int, dict[str, Any]]:
    """What tshark says about each packet of ours, in the vocabulary of our JSON records."""
    out: dict[int, dict[str, Any]] = {}
    # pyshark needs an event loop in this thread (pytest may have closed the default one).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    cap = _capture_class(pyshark)(
        str(path),
        display_filter=DISPLAY_FILTER,
        keep_packets=False,
        override_prefs={**PREFS, **(prefs or {})},
    )
    try:
        for pkt in cap:
            out[int(pkt.number)] = _describe(pkt)
    finally:
        try:
            cap.close()
        finally:
            _reap(loop, cap.tshark_processes)
            loop.close()
            asyncio.set_event_loop(None)
    return out


def _capture_class(pyshark: Any) -> Any:
    """pyshark's FileCapture, letting tshark exit by itself at the end of the file.

    pyshark kills tshark as soon as it reads EOF on tshark's output. tshark is exiting then, and
    ``Process.kill()`` goes through ``Popen.send_signal()``, which first polls the child with
    ``waitpid``: when tshark had already exited (more likely under load), that poll reaped it
    before asyncio's child watcher could, the watcher then reported "unknown child process,
    returncode 255", and pyshark raised TSharkCrashException (retcode 255, stderr only tshark's
    "Running as user root" line). Here, at EOF, the watcher is given time to see tshark's own
    exit status; a tshark that really fails (non-zero exit) still raises as before.
    """

    class Capture(pyshark.FileCapture):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kw: Any) -> None:
            self.tshark_processes: list[Any] = []
            super().__init__(*args, **kw)

        def _created_new_process(self, parameters: Any, process: Any, *args: Any) -> None:
            self.tshark_processes.append(process)
            super()._created_new_process(parameters, process, *args)

        async def _cleanup_subprocess(self, process: Any) -> None:
            if process.returncode is None and self._eof_reached:
                await asyncio.wait_for(process.wait(), TSHARK_EXIT_S)
            await super()._cleanup_subprocess(process)

    return Capture


def _reap(loop: asyncio.AbstractEventLoop, processes: list[Any]) -> None:
    """Before the loop closes, wait until asyncio has seen every tshark exit: a Popen left with
    ``returncode None`` would later ``waitpid`` a pid the kernel may have given to another
    child of ours."""
    for proc in processes:
        loop.run_until_complete(asyncio.wait_for(proc.wait(), TSHARK_EXIT_S))


_TUNNELS = frozenset(("udp", "tcp", "gre", "capwap.data", "erspan", "vxlan"))


def _describe(pkt: Any) -> dict[str, Any]:
    names = [layer.layer_name for layer in pkt.layers]
    rec: dict[str, Any] = {"malformed": _malformed(pkt), "time": float(pkt.frame_info.time_epoch)}
    ours = [i for i, n in enumerate(names) if n in ("vrrp", "hsrp", "arp", "icmpv6")]
    carrier = names[: ours[0]] if ours else []
    if ours and names[ours[0]] == "hsrp" and carrier[-1:] == ["udp"]:
        carrier = carrier[:-1]  # HSRP's own UDP
    if any(n in _TUNNELS for n in carrier):
        # ARP in CAPWAP, VRRP in GRE...: we decode the link layer only.
        return {"tunnelled": True}
    rec["vlan"] = [
        int(v)
        for layer in pkt.layers
        if layer.layer_name == "vlan"
        for v in _fields(layer, "vlan.id")
    ]
    if "ieee8021ah" in names:
        rec["src_mac"] = _one(pkt["ieee8021ah"], "ieee8021ah.csrc")
    elif "eth" in names:
        rec["src_mac"] = _one(pkt["eth"], "eth.src")
    elif "sll" in names:
        rec["src_mac"] = _one(pkt["sll"], "sll.src.eth")
    if "ip" in names:
        ip = pkt["ip"]
        rec.update(src=_one(ip, "ip.src"), dst=_one(ip, "ip.dst"), ttl=_int(_one(ip, "ip.ttl")))
    elif "ipv6" in names:
        ip = pkt["ipv6"]
        rec.update(
            src=_one(ip, "ipv6.src"), dst=_one(ip, "ipv6.dst"), ttl=_int(_one(ip, "ipv6.hlim"))
        )
    if "ah" in names:
        ah = pkt["ah"]
        rec.update(ah_spi=_int(_one(ah, "ah.spi")), ah_sequence=_int(_one(ah, "ah.sequence")))
    if "vrrp" in names:
        v = pkt["vrrp"]
        version = _int(_one(v, "vrrp.version"))
        rec.update(
            kind="vrrp",
            version=version,
            type=_int(_one(v, "vrrp.type")),
            vrid=_int(_one(v, "vrrp.virt_rtr_id")),
            priority=_int(_one(v, "vrrp.prio")),
            count=_int(_one(v, "vrrp.addr_count")),
            checksum=_status(_one(v, "vrrp.checksum.status")),
        )
        rec["addresses"] = _fields(v, "vrrp.ip_addr") + _fields(v, "vrrp.ipv6_addr")
        if version == 3:
            cs = _int(_one(v, "vrrp.short_adver_int"))
            rec["interval_ms"] = None if cs is None else cs * 10
            rec["auth_type"] = "none"
        else:
            s = _int(_one(v, "vrrp.adver_int"))
            rec["interval_ms"] = None if s is None else s * 1000
            auth = _int(_one(v, "vrrp.auth_type"))
            rec["auth_type"] = {0: "none", 1: "simple", 2: "ah"}.get(auth, auth)  # type: ignore[arg-type]
            if auth == 1:
                rec["password"] = _one(v, "vrrp.auth_string")
    elif "hsrp" in names:
        rec.update(_hsrp(pkt["hsrp"], pkt["udp"]))
    elif "carp" in names:  # only with ip.try_heuristic_first (see test_carp_is_not_vrrp)
        c = pkt["carp"]
        counter = _int(_one(c, "carp.counter"))
        rec.update(
            kind="carp",
            version=_int(_one(c, "carp.version")),
            type=_int(_one(c, "carp.type")),
            vhid=_int(_one(c, "carp.vhid")),
            advskew=_int(_one(c, "carp.advskew")),
            advbase_s=_int(_one(c, "carp.adver_int")),
            demotion=_int(_one(c, "carp.demotion")),
            counter=None if counter is None else f"{counter:016x}",
            checksum=_status(_one(c, "carp.checksum.status")),
        )
    elif "arp" in names:
        a = pkt["arp"]
        op = _int(_one(a, "arp.opcode"))
        gratuitous = _one(a, "arp.isgratuitous") in ("1", "True")
        rec.update(
            kind="garp" if gratuitous else "arp",
            op={1: "request", 2: "reply"}.get(op, op),  # type: ignore[arg-type]
            sender_mac=_one(a, "arp.src.hw_mac"),
            sender_ip=_one(a, "arp.src.proto_ipv4"),
            target_mac=_one(a, "arp.dst.hw_mac"),
            target_ip=_one(a, "arp.dst.proto_ipv4"),
            gratuitous=gratuitous,
        )
        rec.update(src=rec["sender_ip"], dst=rec["target_ip"], ttl=None)
    elif "icmpv6" in names:
        i = pkt["icmpv6"]
        rec.update(
            kind="na",
            target=_one(i, "icmpv6.nd.na.target_address"),
            router=_flag(_one(i, "icmpv6.nd.na.flag.r")),
            solicited=_flag(_one(i, "icmpv6.nd.na.flag.s")),
            override=_flag(_one(i, "icmpv6.nd.na.flag.o")),
            target_ll_addr=_one(i, "icmpv6.opt.linkaddr"),
            checksum=_status(_one(i, "icmpv6.checksum.status")),
        )
    return rec


def _named(layer: Any, name: str) -> str | int | None:
    """A code by Wireshark's own name for it, lower case (``Active (16)`` -> ``active``); the
    number when Wireshark does not know it (``Unknown (0)``)."""
    f = layer.get_field(name)
    if f is None:
        return None
    word = f.showname_value.split(" (")[0]
    return int(f.show, 0) if word == "Unknown" else word.lower()


def _hsrp(h: Any, udp: Any) -> dict[str, Any]:
    """tshark's HSRP fields under our JSON names. Wireshark takes the v1 layout for packets to
    224.0.0.2 (``hsrp.*`` fields) and the v2 TLVs otherwise (``hsrp2.*``)."""
    rec: dict[str, Any] = {
        "kind": "hsrp",
        "src_port": _int(_one(udp, "udp.srcport")),
        "dst_port": _int(_one(udp, "udp.dstport")),
        # 3: PROTO_CHECKSUM_E_NOT_PRESENT (0 over IPv4)
        "checksum": {"3": "none"}.get(_one(udp, "udp.checksum.status") or "")
        or _status(_one(udp, "udp.checksum.status")),
    }
    password: str | None = None
    if _one(h, "hsrp.opcode") is not None:
        # Our ``version`` is HSRP's (1 or 2); HSRPv1's Version field is 0 (RFC 2281 5.1).
        rec.update(version=1, opcode=_named(h, "hsrp.opcode"))
        if _one(h, "hsrp.adv.state") is not None:
            rec.update(
                state=_named(h, "hsrp.adv.state"),
                active_groups=_int(_one(h, "hsrp.adv.activegrp")),
                passive_groups=_int(_one(h, "hsrp.adv.passivegrp")),
            )
        else:
            hello, hold = _int(_one(h, "hsrp.hellotime")), _int(_one(h, "hsrp.holdtime"))
            rec.update(
                state=_named(h, "hsrp.state"),
                group=_int(_one(h, "hsrp.group")),
                priority=_int(_one(h, "hsrp.priority")),
                hello_ms=None if hello is None else hello * 1000,
                hold_ms=None if hold is None else hold * 1000,
                virtual_ip=_one(h, "hsrp.virt_ip"),
                ip_version=4,
                identifier=None,
            )
            password = _one(h, "hsrp.auth_data")
    else:
        rec["version"] = 2
        if _one(h, "hsrp2.group") is not None:
            rec.update(
                opcode=_named(h, "hsrp2.opcode"),
                state=_named(h, "hsrp2.state"),
                group=_int(_one(h, "hsrp2.group")),
                priority=_int(_one(h, "hsrp2.priority")),
                hello_ms=_int(_one(h, "hsrp2.hellotime")),
                hold_ms=_int(_one(h, "hsrp2.holdtime")),
                virtual_ip=_one(h, "hsrp2.virt_ip") or _one(h, "hsrp2.virt_ip_v6"),
                ip_version=_int(_one(h, "hsrp2.ipversion")),
                identifier=_one(h, "hsrp2.identifier"),
            )
        if _one(h, "hsrp2.active_groups") is not None:
            rec.update(
                active_groups=_int(_one(h, "hsrp2.active_groups")),
                passive_groups=_int(_one(h, "hsrp2.passive_groups")),
            )
        password = _one(h, "hsrp2.auth_data")
    digest = _one(h, "hsrp2.md5_auth_data")
    if digest is not None:
        rec.update(
            auth_type="md5",
            md5_algorithm=_int(_one(h, "hsrp2.md5_algorithm")),
            md5_flags=_int(_one(h, "hsrp2.md5_flags")),
            md5_ip=_one(h, "hsrp.md5_ip_address"),
            md5_key_id=_int(_one(h, "hsrp2.md5_key_id")),
            md5_digest=digest.replace(":", ""),
        )
    else:
        rec["auth_type"] = "none" if password is None else "text"
    if password is not None:
        rec["password"] = password
    return rec


def _int(show: str | None) -> int | None:
    if show is None:
        return None
    return int(show, 0)


def _flag(show: str | None) -> bool | None:
    return None if show is None else show in ("1", "True")


def ours(path: Path) -> dict[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["decode", "--json", "--reveal-secrets", str(path)])
    assert result.exit_code == 0, result.output
    return {r["frame"]: r for r in map(json.loads, result.stdout.splitlines())}


def compare(
    name: str, theirs: dict[int, dict[str, Any]], mine: dict[int, dict[str, Any]]
) -> list[str]:
    """Every disagreement, as a readable line; empty when tshark and we agree."""
    problems: list[str] = []
    for frame in sorted(theirs.keys() | mine.keys()):
        t, m = theirs.get(frame), mine.get(frame)
        where = f"{name} frame {frame}"
        if t is None:
            problems.append(f"{where}: we say {m and m['kind']}, tshark shows nothing of ours")
            continue
        if t.get("tunnelled"):
            if m is not None:
                problems.append(f"{where}: we decode {m['kind']} where tshark sees a tunnel")
            continue
        if m is None:
            problems.append(f"{where}: tshark shows {t.get('kind')}, we show nothing")
            continue
        if m["kind"] == "malformed":
            if "kind" in t and not t["malformed"] and (name, frame) not in UNKNOWN_VERSION:
                problems.append(f"{where}: we say malformed ({m['error']}), tshark decodes it")
            continue
        for key, want in t.items():
            if key == "malformed":
                continue
            if want is None and t["malformed"]:
                continue  # tshark gave up before this field
            if key == "addresses" and t["malformed"] and want != m.get(key):
                # tshark lists the addresses it could read before the damage.
                if m.get(key, [])[: len(want)] == want:
                    continue
            got = m.get(key)
            if key == "time":
                ok = got is not None and abs(got - want) < 1e-6
            elif key == "password" and want is not None:
                # tshark shows the string up to the first NUL, as stripped padding.
                ok = got is not None and got.split("\0")[0] == want
            else:
                ok = got == want
            if not ok:
                problems.append(f"{where}: {key}: tshark {want!r}, we {got!r}")
    return problems


@pytest.mark.parametrize("name", _captures())
def test_public_capture_agrees_with_tshark(pyshark_mod: Any, name: str) -> None:
    path = PUBLIC_CAPTURES / name
    theirs = tshark_view(pyshark_mod, path)
    mine = ours(path)
    assert compare(name, theirs, mine) == []


@pytest.mark.parametrize("name", _project_captures())
def test_project_capture_agrees_with_tshark(pyshark_mod: Any, name: str) -> None:
    """The bundled recordings of real keepalived, FRR and ucarp routers (AH, unicast, IPv6,
    CARP, ...). Wireshark tries its CARP heuristic first here, so that it dissects ucarp's
    adverts as CARP (its VRRP dissector still takes every VRRP advert of these files)."""
    path = CAPTURES / name
    theirs = tshark_view(pyshark_mod, path, {"ip.try_heuristic_first": "TRUE"})
    assert compare(name, theirs, ours(path)) == []


def test_public_captures_present(public_captures: Path) -> None:
    # The cross-check above is parametrized over what is there; make sure that is something.
    names = set(_captures())
    assert {"vrrp.pcap", "VRRP-V2.pcap", "pbb.pcap", "linuxsll-arp.pcap"} <= names


# --- documented differences, pinned on crafted captures ------------------------------------

SRC4, GROUP4 = ipaddress.IPv4Address("192.0.2.10"), ipaddress.IPv4Address("224.0.0.18")
VMAC = bytes.fromhex("00005e000101")
MCAST = bytes.fromhex("01005e000012")


def _pcap(path: Path, payloads: list[bytes]) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, vrrp in enumerate(payloads):
        ip = build_ipv4(IPv4Header(src=SRC4, dst=GROUP4, protocol=112), vrrp)
        frame = build_ethernet(MCAST, VMAC, 0x0800, ip)
        out.append(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def test_carp_is_not_vrrp(pyshark_mod: Any, tmp_path: Path) -> None:
    carp = CarpPacket(vhid=1, advskew=0, counter=bytes(range(8)), hmac=bytes(20))
    path = _pcap(tmp_path / "carp.pcap", [build_carp(carp)])
    theirs = tshark_view(pyshark_mod, path)
    # Wireshark 4.0 dissects CARP as VRRPv2 by default (its CARP heuristic is off).
    assert theirs[1]["kind"] == "vrrp" and theirs[1]["version"] == 2
    (rec,) = ours(path).values()
    assert rec["kind"] == "carp" and rec["vhid"] == 1 and rec["checksum"] == "good"


def test_v3_checksum_without_pseudo_header(pyshark_mod: Any, tmp_path: Path) -> None:
    adv = VrrpV3(
        vrid=1, priority=100, count_ip_addrs=1, addresses=(ipaddress.IPv4Address("192.0.2.1"),)
    )
    path = _pcap(
        tmp_path / "v3.pcap",
        [
            build_vrrp(adv, src=SRC4, dst=GROUP4, pseudo_header=True),
            build_vrrp(adv, src=SRC4, dst=GROUP4, pseudo_header=False),
        ],
    )
    default = tshark_view(pyshark_mod, path)
    as_v2 = tshark_view(pyshark_mod, path, {"vrrp.v3_checksum_as_in_v2": "TRUE"})
    mine = ours(path)
    assert (default[1]["checksum"], as_v2[1]["checksum"], mine[1]["checksum"]) == (
        "good",
        "bad",
        "good",
    )
    assert (default[2]["checksum"], as_v2[2]["checksum"], mine[2]["checksum"]) == (
        "bad",
        "good",
        "good-without-pseudo-header",
    )
    # Everything else agrees.
    assert compare("v3.pcap", {1: default[1]}, {1: mine[1]}) == []


def test_empty_vrrp_payload(pyshark_mod: Any, tmp_path: Path) -> None:
    """tests/crafted.py's empty protocol-112 frame (TTL 5, unicast, to the virtual MAC):
    tshark sees the IPv4 header and no VRRP at all; we count it malformed."""
    path = write_pcap(tmp_path / "empty.pcap", [EMPTY_VRRP_FRAME])
    theirs = tshark_view(pyshark_mod, path)
    assert theirs == {
        1: {"malformed": False, "time": 1700000000.0, "vlan": [], "src_mac": "02:00:00:00:00:66",
            "src": "198.51.100.66", "dst": "192.0.2.1", "ttl": 5},
    }  # fmt: skip
    (rec,) = ours(path).values()
    assert rec["kind"] == "malformed" and rec["error"] == "VRRP: need 1 bytes, have 0"


def test_unknown_version_refused(pyshark_mod: Any, tmp_path: Path) -> None:
    v2ish = bytes.fromhex("71016401000100000c000201") + bytes(8)  # version 7, otherwise v2
    path = _pcap(tmp_path / "v7.pcap", [v2ish])
    theirs = tshark_view(pyshark_mod, path)
    assert theirs[1]["kind"] == "vrrp" and theirs[1]["version"] == 7
    (rec,) = ours(path).values()
    assert rec["kind"] == "malformed" and rec["error"] == "VRRP: unknown version 7"


def test_compare_notices_disagreement(pyshark_mod: Any, public_captures: Path) -> None:
    path = public_captures / "vrrp.pcap"
    theirs, mine = tshark_view(pyshark_mod, path), ours(path)
    assert len(theirs) == 165 and theirs[1]["password"] == "abcdefgh"
    assert set(theirs[1]) >= {
        "version",
        "vrid",
        "priority",
        "count",
        "addresses",
        "auth_type",
        "interval_ms",
        "checksum",
        "ttl",
        "src",
        "dst",
        "src_mac",
        "vlan",
    }
    mine[1] = mine[1] | {"priority": 1}
    mine[6] = mine[6] | {"addresses": mine[6]["addresses"][:1]}
    del mine[7]
    assert compare("vrrp.pcap", theirs, mine) == [
        "vrrp.pcap frame 1: priority: tshark 191, we 1",
        "vrrp.pcap frame 6: addresses: tshark ['fe80::200:5eff:fe00:22d', '2001::abcd:a'], "
        "we ['fe80::200:5eff:fe00:22d']",
        "vrrp.pcap frame 7: tshark shows vrrp, we show nothing",
    ]


# --- HSRP --------------------------------------------------------------------------------


def test_every_public_hsrp_packet_is_compared(pyshark_mod: Any, public_captures: Path) -> None:
    """197 HSRP packets in the public captures (the MANIFEST's count); the 16 inside ERSPAN
    are tunnelled (we decode only what the link layer carries), the other 181 compared."""
    decoded = tunnelled = 0
    for name in _captures():
        if "hsrp" not in name.lower() and "erspan" not in name:
            continue  # the MANIFEST lists every HSRP capture: these names
        theirs = tshark_view(pyshark_mod, public_captures / name)
        decoded += sum(t.get("kind") == "hsrp" for t in theirs.values())
        tunnelled += sum(bool(t.get("tunnelled")) for t in theirs.values())
    assert (decoded, tunnelled) == (181, 16)


@pytest.mark.parametrize("name", sorted(CRAFTED_HSRP))
def test_crafted_hsrp_agrees_with_tshark(pyshark_mod: Any, tmp_path: Path, name: str) -> None:
    """decode --json on tests/crafted.py's HSRP frames (HSRPv2 text and MD5 authentication,
    resign, IPv6, v1 millisecond timers, virtual-MAC GARPs) field by field against tshark."""
    path = write_crafted(tmp_path, name)
    theirs = tshark_view(pyshark_mod, path)
    assert len(theirs) == len(CRAFTED_HSRP[name]())
    assert compare(name, theirs, ours(path)) == []


def test_hsrp_compare_notices_disagreement(pyshark_mod: Any, public_captures: Path) -> None:
    path = public_captures / "hsrp2_ipv6.pcapng"
    theirs, mine = tshark_view(pyshark_mod, path), ours(path)
    assert compare("x", theirs, mine) == []
    assert set(theirs[3]) >= {
        "version",
        "opcode",
        "state",
        "group",
        "priority",
        "hello_ms",
        "hold_ms",
        "virtual_ip",
        "identifier",
        "md5_key_id",
        "md5_digest",
        "src_port",
        "checksum",
    }
    assert (theirs[3]["state"], theirs[3]["hello_ms"], theirs[3]["checksum"]) == (
        "speak",
        10000,
        "good",
    )
    mine[3] = mine[3] | {"priority": 1}
    mine[4] = mine[4] | {"md5_digest": "00"}
    assert compare("x", theirs, mine)[:2] == [
        "x frame 3: priority: tshark 105, we 1",
        f"x frame 4: md5_digest: tshark {theirs[4]['md5_digest']!r}, we '00'",
    ]


def _hsrp_pcap(path: Path, frames: list[bytes]) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, frame in enumerate(frames):
        out.append(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def test_hsrp_documented_differences(pyshark_mod: Any, tmp_path: Path) -> None:
    vip = ipaddress.IPv4Address("192.0.2.1")
    gs = GroupState(
        state=V2State.DISABLED, group=1, identifier=bytes.fromhex("00000c9ff001"),
        virtual_ip_address=vip,
    )  # fmt: skip
    v1 = hsrp_frame(HsrpV1(state=V1State.ACTIVE, group=1, virtual_ip_address=vip))
    v1_version_1 = bytearray(v1)
    v1_version_1[14 + 20 + 8] = 1
    v1_version_1[14 + 20 + 6 : 14 + 20 + 8] = b"\0\0"  # no UDP checksum: still valid
    frames = [
        hsrp_frame(HsrpV2(tlvs=(gs,)), ttl=255),
        bytes(v1_version_1),
        hsrp_frame(HsrpV2(tlvs=(UnknownTlv(type=9, value=b"ab"), gs)), ttl=255),
    ]
    path = _hsrp_pcap(tmp_path / "hsrp.pcap", frames)
    theirs, mine = tshark_view(pyshark_mod, path), ours(path)
    # HSRPv2 state 0: "disabled" to us, a bare number to Wireshark; the rest agrees.
    assert (theirs[1]["state"], mine[1]["state"]) == (0, "disabled")
    assert compare("x", {1: theirs[1] | {"state": "disabled"}}, {1: mine[1]}) == []
    # A v1 header with Version 1: HSRPv1 to Wireshark (by its destination), to us a group
    # state TLV of length 0 (by its first byte), so malformed.
    assert theirs[2]["version"] == 1 and theirs[2]["virtual_ip"] == "192.0.2.1"
    assert mine[2]["kind"] == "malformed"
    assert mine[2]["error"] == "HSRP: TLV type 1 has length 0, not 40"
    # An unknown TLV: Wireshark stops there, we skip it, count it and decode what follows.
    assert "group" not in theirs[3] and theirs[3]["version"] == 2
    assert (mine[3]["unknown_tlvs"], mine[3]["group"], mine[3]["state"]) == (1, 1, "disabled")
