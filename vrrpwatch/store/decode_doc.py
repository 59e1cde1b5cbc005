"""The output contract of ``decode``: one JSON object per packet that is ours (README "JSON
fields of decode"), built from the decoder's result. ``decode --json`` prints these objects as
they are; the text lines are rendered from them by the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dissectors.ah import AhCheck, check_ah, split_ah
from dissectors.arp import ArpPacket
from dissectors.common import DecodeError
from dissectors.frame import format_mac, parse_link
from dissectors.nd import NeighborAdvert
from dissectors.packet import SUPPORTED_LINKTYPES, Decoded, decode_packet
from dissectors.vrrp import AuthType, CarpPacket, VrrpV2, VrrpV3, auth_type_label
from vrrpwatch.fingerprints import fingerprint, session_key
from vrrpwatch.pcap import CaptureError, RawPacket, iter_capture

_ARP_OPS = {1: "request", 2: "reply"}


def _mac(mac: bytes | None) -> str | None:
    return None if mac is None else format_mac(mac)


def record(
    pkt: RawPacket,
    d: Decoded,
    *,
    reveal_secrets: bool = False,
    key: bytes | None = None,
    ah_key: bytes | None = None,
) -> dict[str, Any]:
    """The JSON object for one decoded packet (fields documented in README.md). With
    ``ah_key`` (keepalived's auth_type AH key) an advert in AH gets ``ah_icv``."""
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
            if ah_key is not None:
                out["ah_icv"] = _ah_icv(pkt, ah_key)
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


def _ah_icv(pkt: RawPacket, ah_key: bytes) -> str:
    """keepalived's check of an AH advert (dissectors.ah): "good", "bad" (ICV), "bad-spi",
    or "unchecked" (not IPv4). The TTL is left out of the ICV for unicast, as keepalived."""
    try:
        _, off = parse_link(pkt.data, pkt.linktype)
        sealed = split_ah(pkt.data[off:])
    except DecodeError:
        return "unchecked"
    unicast = pkt.data[off + 16] < 224  # the destination is not IPv4 multicast
    verdict = check_ah(ah_key, sealed, zero_ttl=unicast)
    return {AhCheck.OK: "good", AhCheck.BAD_SPI: "bad-spi"}.get(verdict, "bad")


def malformed_record(pkt: RawPacket, exc: DecodeError) -> dict[str, Any]:
    """The JSON object for a frame that is ours but cannot be decoded."""
    return {
        "frame": pkt.frame,
        "time": pkt.time,
        "kind": "malformed",
        "vlan": [],
        "error": str(exc),
    }


def decode_file(
    path: str,
    *,
    reveal_secrets: bool,
    key: bytes,
    warn: Callable[[str], None] | None = None,
    ah_key: bytes | None = None,
) -> Iterator[dict[str, Any]]:
    """Records for the packets of one capture that are ours, malformed ones included.

    Raises CaptureError for an unreadable file (after the records before the damage) and when
    no frame has a link type we can decode; ``warn`` gets a line for frames of link types not
    decoded in an otherwise readable file.
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
            yield malformed_record(pkt, exc)
            continue
        if d is not None:
            yield record(pkt, d, reveal_secrets=reveal_secrets, key=key, ah_key=ah_key)
    if unsupported:
        types = ", ".join(str(t) for t in sorted(unsupported))
        if sum(unsupported.values()) == frames:
            raise CaptureError(f"{path}: unsupported link type {types}, nothing decoded")
        skipped = sum(unsupported.values())
        if warn is not None:
            warn(f"{path}: {skipped} frames of link type {types} not decoded")
