"""``vrrpwatch decode``: one line per VRRP, CARP, ARP and Neighbor Advertisement in captures."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any

import click

from dissectors.arp import ArpPacket
from dissectors.common import DecodeError
from dissectors.frame import format_mac
from dissectors.nd import NeighborAdvert
from dissectors.packet import SUPPORTED_LINKTYPES, Decoded, Kind, decode_packet
from dissectors.vrrp import AuthType, CarpPacket, VrrpV2, VrrpV3, auth_type_label
from vrrpwatch.fingerprints import fingerprint, session_key
from vrrpwatch.pcap import CaptureError, RawPacket, iter_capture

from . import cli

_ARP_OPS = {1: "request", 2: "reply"}


def _mac(mac: bytes | None) -> str | None:
    return None if mac is None else format_mac(mac)


def record(
    pkt: RawPacket, d: Decoded, *, reveal_secrets: bool = False, key: bytes | None = None
) -> dict[str, Any]:
    """The JSON object for one decoded packet (fields documented in README.md)."""
    out: dict[str, Any] = {
        "frame": pkt.frame,
        "time": pkt.time,
        "kind": str(d.kind),
        "vlan": list(d.link.vlans),
        "src": None,
        "dst": None,
        "src_mac": _mac(d.link.src_mac),
        "dst_mac": _mac(d.link.dst_mac),
        "ttl": None,
    }
    if d.ip is not None:
        out["src"], out["dst"], out["ttl"] = str(d.ip.src), str(d.ip.dst), d.ip.ttl
    msg = d.message
    if isinstance(msg, VrrpV2 | VrrpV3):
        out.update(
            version=msg.version,
            type=msg.type,
            vrid=msg.vrid,
            priority=msg.priority,
            count=msg.count_ip_addrs,
            interval_ms=msg.interval_cs * 10,
            auth_type=auth_type_label(msg.auth_type),
            addresses=[str(a) for a in msg.addresses],
            checksum=str(msg.checksum_status),
        )
        if isinstance(msg, VrrpV2) and msg.auth_type == AuthType.SIMPLE:
            password = msg.password or b""
            out["password_fingerprint"] = fingerprint(password, key or session_key())
            if reveal_secrets:
                out["password"] = password.decode("latin-1")
        if d.ah is not None:
            out["ah_spi"], out["ah_sequence"] = d.ah.spi, d.ah.sequence
    elif isinstance(msg, CarpPacket):
        out.update(
            version=msg.version,
            type=msg.type,
            vhid=msg.vhid,
            advskew=msg.advskew,
            advbase_s=msg.advbase_s,
            demotion=msg.demotion,
            counter=msg.counter.hex(),
            checksum="good" if msg.checksum_ok else "bad",
        )
    elif isinstance(msg, ArpPacket):
        out.update(
            src=str(msg.sender_ip),
            dst=str(msg.target_ip),
            op=_ARP_OPS.get(msg.oper, msg.oper),
            sender_mac=format_mac(msg.sender_mac),
            sender_ip=str(msg.sender_ip),
            target_mac=format_mac(msg.target_mac),
            target_ip=str(msg.target_ip),
            gratuitous=msg.is_gratuitous,
            probe=msg.is_probe,
            announcement=msg.is_announcement,
        )
    elif isinstance(msg, NeighborAdvert):
        out.update(
            target=str(msg.target),
            router=msg.router,
            solicited=msg.solicited,
            override=msg.override,
            target_ll_addr=_mac(msg.target_ll_addr),
            checksum="good" if msg.checksum_ok else "bad",
        )
    out["findings"] = [str(f) for f in d.findings]
    return out


def _timestamp(t: float) -> str:
    when = datetime.datetime.fromtimestamp(t, datetime.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def render_line(rec: dict[str, Any]) -> str:
    """The human-readable line for a record made by :func:`record`."""
    head = f"{rec['frame']:>6} {_timestamp(rec['time'])}"
    if rec["vlan"]:
        head += " vlan " + ".".join(str(v) for v in rec["vlan"])
    kind = rec["kind"]
    if kind == "malformed":
        return f"{head} malformed: {rec['error']}"
    parts = [head, f"{rec['src']} → {rec['dst']}"]
    if kind == Kind.VRRP:
        interval = rec["interval_ms"]
        iv = f"{interval // 1000}s" if interval % 1000 == 0 else f"{interval}ms"
        auth = rec["auth_type"]
        if "password" in rec:
            auth = f"{auth} password {rec['password']!r}"
        elif "password_fingerprint" in rec:
            auth = f"{auth} password {rec['password_fingerprint']}"
        parts.append(
            f"VRRPv{rec['version']} vrid {rec['vrid']} prio {rec['priority']} int {iv} "
            f"auth {auth} ttl {rec['ttl']} [{', '.join(rec['addresses'])}]"
        )
    elif kind == Kind.CARP:
        parts.append(
            f"CARP vhid {rec['vhid']} advbase {rec['advbase_s']}s advskew {rec['advskew']} "
            f"demote {rec['demotion']} ttl {rec['ttl']}"
        )
    elif kind in (Kind.GARP, Kind.ARP):
        label = "GARP" if kind == Kind.GARP else "ARP"
        what = " probe" if rec["probe"] else " announcement" if rec["announcement"] else ""
        parts.append(f"{label} {rec['op']}{what} {rec['sender_ip']} is-at {rec['sender_mac']}")
    elif kind == Kind.NA:
        flags = (
            "".join(
                f
                for f, on in (("R", rec["router"]), ("S", rec["solicited"]), ("O", rec["override"]))
                if on
            )
            or "-"
        )
        ll = rec["target_ll_addr"] or "no lladdr"
        parts.append(f"NA {rec['target']} is-at {ll} flags {flags} hlim {rec['ttl']}")
    line = "  ".join(parts)
    if rec["findings"]:
        line += "  !! " + ",".join(rec["findings"])
    return line


def decode_file(path: str, *, reveal_secrets: bool, key: bytes) -> Iterable[dict[str, Any]]:
    """Records for the packets of one capture that are ours, malformed ones included.

    Raises CaptureError for an unreadable file (after the records before the damage) and when
    no frame has a link type we can decode.
    """
    frames = 0
    unsupported: dict[int, int] = {}
    for pkt in iter_capture(path, candidates_only=True):
        frames += 1
        if pkt.linktype not in SUPPORTED_LINKTYPES:
            unsupported[pkt.linktype] = unsupported.get(pkt.linktype, 0) + 1
            continue
        try:
            d = decode_packet(pkt.data, pkt.linktype)
        except DecodeError as exc:
            yield {
                "frame": pkt.frame,
                "time": pkt.time,
                "kind": "malformed",
                "vlan": [],
                "error": str(exc),
            }
            continue
        if d is not None:
            yield record(pkt, d, reveal_secrets=reveal_secrets, key=key)
    if unsupported:
        types = ", ".join(str(t) for t in sorted(unsupported))
        if sum(unsupported.values()) == frames:
            raise CaptureError(f"{path}: unsupported link type {types}, nothing decoded")
        skipped = sum(unsupported.values())
        click.echo(f"Warning: {path}: {skipped} frames of link type {types} not decoded", err=True)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (see README).")
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="Show VRRPv2 plaintext passwords instead of only a fingerprint.",
)
def decode(files: tuple[str, ...], as_json: bool, reveal_secrets: bool) -> None:
    """Print every VRRP, CARP, ARP/GARP and Neighbor Advertisement packet in pcap/pcapng FILES.

    One line per packet: frame number, time (UTC), VLANs, source → destination, the protocol's
    fields and any findings (bad checksum, TTL not 255, ...). Plaintext VRRP passwords are shown
    as a keyed fingerprint unless --reveal-secrets is given.

    \b
    Example:
        vrrpwatch decode --json captures/v2-failover.pcap | jq 'select(.kind == "vrrp")'
    """
    key = session_key()
    failed = False
    for path in files:
        if len(files) > 1 and not as_json:
            click.echo(f"# {path}")
        try:
            for rec in decode_file(path, reveal_secrets=reveal_secrets, key=key):
                if as_json:
                    if len(files) > 1:
                        rec = {"file": path} | rec
                    click.echo(json.dumps(rec, ensure_ascii=False))
                else:
                    click.echo(render_line(rec))
        except CaptureError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed = True
    if failed:
        raise SystemExit(1)
