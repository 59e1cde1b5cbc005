"""The output contract of ``decode``: one JSON object per packet that is ours (README "JSON
fields of decode"), built from the decoder's result. ``decode --json`` prints these objects as
they are; the text lines are rendered from them by the command line.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

from dissectors.ah import AhCheck, check_ah, split_ah
from dissectors.arp import ArpPacket
from dissectors.common import DecodeError
from dissectors.frame import format_mac, parse_link
from dissectors.hsrp import HsrpMessage, HsrpV1, HsrpV1Advert, HsrpV2
from dissectors.ip import UdpHeader
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
    elif isinstance(msg, HsrpV1 | HsrpV1Advert | HsrpV2):
        assert d.udp is not None  # the decoder keeps HSRP's UDP header
        out.update(hsrp_fields(msg, d.udp, reveal_secrets=reveal_secrets, key=key))
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


def _name(value: int) -> str | int:
    """A known code by its name (``active``, ``hello``), an unknown one as the number."""
    return value.name.lower() if isinstance(value, enum.IntEnum) else value


def hsrp_fields(
    msg: HsrpMessage, udp: UdpHeader, *, reveal_secrets: bool = False, key: bytes | None = None
) -> dict[str, Any]:
    """The HSRP part of a record (README "JSON fields of decode"). Times in milliseconds for
    both versions (HSRPv1 sends seconds); HSRPv2's first group state TLV (a message carries
    one in every capture seen). A text password is a fingerprint unless ``reveal_secrets``, as
    VRRP's; the MD5 TLV's key id and digest are data (the digest gives the key away only to a
    dictionary attack, as the packet itself does)."""
    out: dict[str, Any] = {
        "version": msg.protocol_version,
        "opcode": _name(msg.op_code) if not isinstance(msg, HsrpV2) else None,
        "state": None,
        "group": None,
        "priority": None,
        "hello_ms": None,
        "hold_ms": None,
        "virtual_ip": None,
        "ip_version": None,
        "identifier": None,
        "active_groups": None,
        "passive_groups": None,
    }
    password: bytes | None = None
    md5 = None
    if isinstance(msg, HsrpV1):
        out.update(
            state=_name(msg.state),
            group=msg.group,
            priority=msg.priority,
            hello_ms=msg.hello_time_ms,
            hold_ms=msg.hold_time_ms,
            virtual_ip=str(msg.virtual_ip_address),
            ip_version=4,
        )
        md5 = msg.md5_auth
        # RFC 2281 section 5.1: the 8 bytes are always there, the MD5 TLV or not.
        password = msg.password
    elif isinstance(msg, HsrpV1Advert):
        out.update(
            state=_name(msg.state),
            active_groups=msg.active_groups,
            passive_groups=msg.passive_groups,
        )
    else:
        gs = msg.group_state
        if gs is not None:
            out.update(
                opcode=_name(gs.op_code),
                state=_name(gs.state),
                group=gs.group,
                priority=gs.priority,
                hello_ms=gs.hello_time_ms,
                hold_ms=gs.hold_time_ms,
                virtual_ip=None if gs.virtual_ip_address is None else str(gs.virtual_ip_address),
                ip_version=gs.ip_version,
                identifier=format_mac(gs.identifier),
            )
        iface = msg.interface_state
        if iface is not None:
            out.update(active_groups=iface.active_groups, passive_groups=iface.passive_groups)
        md5 = msg.md5_auth
        password = msg.password
    out["auth_type"] = "md5" if md5 is not None else "none" if password is None else "text"
    if password is not None:
        out["password_fingerprint"] = fingerprint(password, key or session_key())
        if reveal_secrets:
            out["password"] = password.decode("latin-1")
    if md5 is not None:
        out.update(
            md5_algorithm=md5.algorithm,
            md5_flags=md5.flags,
            md5_ip=str(md5.ip_address),
            md5_key_id=md5.key_id,
            md5_digest=md5.authentication_data.hex(),
        )
    out["unknown_tlvs"] = 0 if isinstance(msg, HsrpV1Advert) else msg.unknown_tlv_count
    out["src_port"], out["dst_port"] = udp.src_port, udp.dst_port
    # RFC 768: 0 is no checksum (the decoder flags it over IPv6, where it is required).
    out["checksum"] = {True: "good", False: "bad", None: "none"}[udp.checksum_ok]
    return out


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
