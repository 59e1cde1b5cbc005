"""Rules over one advert and over the advertisers of one router.

``packet_alerts`` (``finding_alerts``): what one advert shows by itself (TTL, checksum, source
MAC, layout, a plaintext password, priority 255, a source not in ``--known-routers``:
``rogue.rogue_advertiser``, the rule all protocols share).
``discarded_advert``: an advert every receiver discards (RFC 5798 section 7.1), which the
monitor does not follow. ``consistency_alerts``: advertisers of one router that disagree (auth,
VIPs, interval, version) and, without a known routers list, one that differs from the
established router (``rogue``). ``split_brain``: two sources advertising beyond a
Master_Down_Interval. ``priority_255``: the address owner's priority (RFC 5798 section 5.2.4),
judged again when a GARP contradicts it.
"""

from __future__ import annotations

from dissectors.common import Finding
from dissectors.frame import format_mac
from dissectors.packet import Decoded
from dissectors.vrrp import auth_type_label, virtual_mac
from vrrpwatch.rfc import master_down_interval
from vrrpwatch.watch.catalogue import AlertKind, Severity
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.known import KnownRouters
from vrrpwatch.watch.model import SILENCE_FACTOR, Advertiser, Event, ObservedRouter, RouterKey
from vrrpwatch.watch.rogue import differs_from_established, rogue_advertiser

# Findings that mean the advert breaks the message layout: reported as "malformed".
_LAYOUT_FINDINGS = frozenset(
    {
        Finding.COUNT_MISMATCH,
        Finding.SHORT_AUTH_DATA,
        Finding.INTERVAL_ZERO,
        Finding.BAD_TYPE,
        Finding.FAMILY_MISMATCH,
    }
)


def packet_alerts(
    book: AlertBook,
    known: KnownRouters | None,
    vr: ObservedRouter,
    a: Advertiser,
    pkt: Decoded,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    if pkt.findings:
        finding_alerts(
            book,
            vr.key,
            a.address,
            pkt.ip.ttl if pkt.ip is not None else 255,
            a.mac,
            pkt,
            frame,
            time,
            events,
        )
    key = vr.key
    src = a.address
    if a.auth_type == 1:
        book.raise_alert(
            events, AlertKind.PLAINTEXT_AUTH, key, src, time, frame,
            f"{key.label()}: {src} sends its VRRPv2 password in clear text "
            f"({a.fingerprint}); anyone on the segment can read it",
        )  # fmt: skip
    if a.last_priority == 255:
        priority_255(book, known, vr, a, frame, time, events)
    if known is not None:  # without the list there is no evidence in one advert (rogue.py)
        rogue_advertiser(book, known, vr, a, frame, time, events)


def finding_alerts(
    book: AlertBook,
    key: RouterKey,
    src: str,
    ttl: int,
    mac: str | None,
    pkt: Decoded,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    """The alerts of an advert's own findings (followed or discarded)."""
    findings = set(pkt.findings)
    if Finding.TTL_NOT_255 in findings:
        book.raise_alert(
            events, AlertKind.TTL_NOT_255, key, src, time, frame,
            f"{key.label()}: advert from {src} with TTL/hop limit {ttl}, not 255 "
            "(RFC 5798 section 7.1: receivers discard it; it did not originate on this link)",
        )  # fmt: skip
    if Finding.BAD_CHECKSUM in findings:
        book.raise_alert(
            events, AlertKind.BAD_CHECKSUM, key, src, time, frame,
            f"{key.label()}: advert from {src} with a bad checksum",
        )  # fmt: skip
    if Finding.BAD_SOURCE_MAC in findings:
        book.raise_alert(
            events, AlertKind.BAD_SOURCE_MAC, key, src, time, frame,
            f"{key.label()}: {src} advertises from {mac or '?'}, not the "
            "virtual MAC (keepalived without use_vmac does this)",
        )  # fmt: skip
    layout = sorted(str(f) for f in findings & _LAYOUT_FINDINGS)
    if layout:
        book.raise_alert(
            events, AlertKind.MALFORMED, key, src, time, frame,
            f"{key.label()}: advert from {src} breaks the RFC layout: {', '.join(layout)}",
        )  # fmt: skip


def discarded_advert(
    book: AlertBook,
    key: RouterKey,
    src: str,
    ttl: int,
    mac: str | None,
    priority: int,
    discards: tuple[Finding, ...],
    pkt: Decoded,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    """An advert every receiver discards (RFC 5798 section 7.1): its findings and
    ``spoofed-advert``; the caller follows it no further."""
    finding_alerts(book, key, src, ttl, mac, pkt, frame, time, events)
    book.raise_alert(
        events, AlertKind.SPOOFED_ADVERT, key, src, time, frame,
        f"{key.label()}: advert from {src} ({mac or '?'}) at priority {priority} is discarded "
        f"by every router ({', '.join(str(f) for f in discards)}; RFC 5798 section 7.1): "
        "not followed",
    )  # fmt: skip


def priority_255(
    book: AlertBook,
    known: KnownRouters | None,
    vr: ObservedRouter,
    a: Advertiser,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    # RFC 5798 section 5.2.4: 255 is reserved for the router that owns the virtual
    # addresses; it preempts everyone at once.
    key = vr.key
    owns = a.address in a.vips
    unknown = known is not None and not known.allows(a.address, a.mac, key.vrid)
    vmac = format_mac(virtual_mac(key.vrid, key.family))
    # A MAC that announced a virtual address is evidence against the owner, except that of a
    # VRRP router of the group when this advertiser was master and lost it (the owner returning:
    # the backup that took over announced the VIPs, RFC 5798 section 6.4.2, from its own MAC
    # when it has no virtual MAC). A MAC of no VRRP router is evidence either way.
    returning = a.address in vr.former_masters
    foreign = [
        (vip, mac)
        for vip in a.vips
        for mac in sorted(vr.announcers.get(vip, ()))
        if mac not in a.macs
        and mac != vmac
        and not (returning and any(mac in o.macs for o in vr.advertisers.values()))
    ]
    if unknown or foreign:
        sev = Severity.CRITICAL
        why = (
            "it is not a known router"
            if unknown
            else (f"{foreign[0][0]} is also announced by {foreign[0][1]}")
        )
    elif not owns:
        sev, why = Severity.WARNING, "its address is not one of the virtual addresses"
    else:
        sev, why = Severity.INFO, "it owns the virtual address"
    book.raise_alert(
        events, AlertKind.PRIORITY_255, key, a.address, time, frame,
        f"{key.label()}: {a.address} claims address ownership (priority 255) and preempts "
        f"every other router; {why}",
        severity=sev,
        episode_extra=str(sev),
    )  # fmt: skip
    if foreign and not owns:
        # Another station announced the virtual address before: this one is taking over
        # an address it does not own.
        book.raise_alert(
            events, AlertKind.ROGUE_ADVERTISER, key, a.address, time, frame,
            f"{key.label()}: {a.address} takes the group over with priority 255 but does not "
            f"own {foreign[0][0]} ({foreign[0][1]} announced it)",
        )  # fmt: skip


def consistency_alerts(
    book: AlertBook,
    known: KnownRouters | None,
    vr: ObservedRouter,
    a: Advertiser,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    key = vr.key
    src = a.address
    # Every advertiser with one profile: none differs from another (the loop would find
    # nothing), so a flood of like sources costs nothing here.
    others = vr.advertisers.values() if len(vr.profiles) > 1 else ()
    for other in others:
        if other is a or other.last_priority == 0 and other.adverts == 1:
            continue
        if (other.auth_type, other.fingerprint) != (a.auth_type, a.fingerprint):
            # RFC 3768 section 7.1: a receiver discards adverts whose authentication does not
            # match its own.
            book.raise_alert(
                events, AlertKind.AUTH_MISMATCH, key, src, time, frame,
                f"{key.label()}: {src} uses auth {_auth_desc(a)} but {other.address} uses "
                f"{_auth_desc(other)}; each drops the other's adverts and both become master",
            )  # fmt: skip
        if frozenset(other.vips) != frozenset(a.vips):
            book.raise_alert(
                events, AlertKind.VIP_MISMATCH, key, src, time, frame,
                f"{key.label()}: {src} advertises {', '.join(a.vips) or 'no addresses'} but "
                f"{other.address} advertises {', '.join(other.vips) or 'no addresses'}",
            )  # fmt: skip
        if other.interval_cs != a.interval_cs:
            book.raise_alert(
                events, AlertKind.INTERVAL_MISMATCH, key, src, time, frame,
                f"{key.label()}: {src} advertises every {a.interval_cs * 10} ms but "
                f"{other.address} every {other.interval_cs * 10} ms",
            )  # fmt: skip
        if other.version != a.version:
            book.raise_alert(
                events, AlertKind.VERSION_MISMATCH, key, src, time, frame,
                f"{key.label()}: {src} speaks VRRPv{a.version} but {other.address} "
                f"VRRPv{other.version}",
            )  # fmt: skip
    if known is None and vr.reference is not None and a.address != vr.master:
        # Without --known-routers: one that differs from the established router (rogue.py).
        prof = a.profile()
        if prof != vr.reference:
            rogue_advertiser(
                book, known, vr, a, frame, time, events,
                evidence=differs_from_established(prof, vr.reference),
            )  # fmt: skip


def split_brain(
    book: AlertBook,
    vr: ObservedRouter,
    a: Advertiser,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    if a.last_priority == 0:
        return
    if time - a.streak_start <= 3 * a.interval_s:
        # No pair with ``a`` can have overlapped beyond 3 intervals (the test below, with the
        # larger interval of the two): a source that has just started advertising, as every
        # one of a flood of sources has, costs nothing here.
        return
    for other in vr.advertisers.values():
        if other is a or other.last_priority == 0:
            continue
        if other.version != a.version:
            # RFC 5798 section 7.1: a's peers discard the other version's adverts (only an
            # advertiser of the master's version gets here: timeline.other_version_than_master)
            continue
        if time - other.last_seen > SILENCE_FACTOR * other.interval_s:
            continue  # not advertising any more
        overlap = time - max(a.streak_start, other.streak_start)
        interval_s = max(a.interval_s, other.interval_s)
        if overlap <= 3 * interval_s:
            continue  # within any Master_Down_Interval (3 intervals + Skew_Time)
        # RFC 5798 section 6.4.2: a backup hearing the master never advertises beyond
        # Master_Down_Interval; two sources doing so each believe they are master.
        mdi = master_down_interval(
            max(1, min(a.last_priority, other.last_priority, 254)), interval_s, a.version
        )
        if overlap > mdi and not book.is_open(AlertKind.SPLIT_BRAIN, vr.key, other.address):
            # one episode per pair, whichever of the two is named as the source
            book.raise_alert(
                events, AlertKind.SPLIT_BRAIN, vr.key, a.address, time, frame,
                f"{vr.key.label()}: {a.address} and {other.address} have both advertised "
                f"for {overlap:.1f} s (Master_Down_Interval {mdi:.2f} s): two masters",
                peer=other.address,
            )  # fmt: skip


def _auth_desc(a: Advertiser) -> str:
    label = auth_type_label(a.auth_type)
    return f"{label} ({a.fingerprint})" if a.fingerprint else str(label)
