"""The rogue-advertiser rule, one for VRRP, HSRP and CARP (catalogue: ``rogue-advertiser``).

A source is a stranger to its group when the ``--known-routers`` list does not allow it: its
address, the MAC of its latest advert and the group id (VRID, HSRP group, CARP vhid), by
``KnownRouters.allows``, whatever the protocol. The list is checked on each advert (VRRP, CARP)
or hello (HSRP); the alert names what the source sends (``ADVERTISES``, ``SENDS_HELLOS``).

Without that list each protocol has its own evidence that a source does not belong to the
group it found established, and hands it in as ``evidence`` when it sees it:

* VRRP: an advertiser other than the master whose version, auth, VIP set or interval differs
  from the established (first) master's (``differs_from_established``, judged by
  ``consistency.consistency_alerts`` when the router's profiles change);
* HSRP: a Coup from a source first heard after the group had had an active for a hold time
  (``newcomer``; ``stranger`` is the same verdict with or without the list, which
  ``priority-takeover`` asks too);
* CARP: none: its adverts carry no addresses, and their HMAC cannot be checked without the
  password.

A listed source is never a stranger; a priority-255 advertiser taking over a VIP another MAC
announced is rogue with or without the list, by what it does rather than who it is
(``consistency.priority_255`` raises that, RFC 5798 section 5.2.4).
"""

from __future__ import annotations

from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.known import KnownRouters
from vrrpwatch.watch.model import Advertiser, Event, ObservedRouter, Profile

# What a source sends, as the known-routers alert says it.
ADVERTISES = "advertises"  # VRRP, CARP
SENDS_HELLOS = "sends HSRP hellos"

# The hold time assumed when the established HSRP active's is not known (RFC 2281 section 5.1:
# Holdtime 10 s by default).
_DEFAULT_HOLD_S = 10.0


def rogue_advertiser(
    book: AlertBook,
    known: KnownRouters | None,
    vr: ObservedRouter,
    a: Advertiser,
    frame: int,
    time: float,
    events: list[Event],
    *,
    sends: str = ADVERTISES,
    evidence: str | None = None,
) -> None:
    """``rogue-advertiser`` for ``a`` of ``vr``: with ``known`` (``--known-routers``), when
    the list does not allow it; without the list, when the protocol found ``evidence`` against
    it (the rest of the alert's sentence after the source's address; None: none)."""
    if known is not None:
        if known.allows(a.address, a.mac, vr.key.vrid):
            return
        why = f"({a.mac or '?'}) {sends} but is not in the known routers list"
    elif evidence is None:
        return
    else:
        why = evidence
    book.raise_alert(
        events, AlertKind.ROGUE_ADVERTISER, vr.key, a.address, time, frame,
        f"{vr.key.label()}: {a.address} {why}",
    )  # fmt: skip


def stranger(known: KnownRouters | None, vr: ObservedRouter, a: Advertiser) -> bool:
    """HSRP: whether ``a`` is not known to the group: not in ``--known-routers``; without
    that list, a ``newcomer``."""
    if known is not None:
        return not known.allows(a.address, a.mac, vr.key.vrid)
    return newcomer(vr, a)


def newcomer(vr: ObservedRouter, a: Advertiser) -> bool:
    """HSRP: ``a`` was first heard after the group had had an active for a hold time (the
    established active's, RFC 2281 section 5.3: its standby's Active timer)."""
    if not vr.transitions:
        return False
    first = vr.transitions[0]
    est = vr.advertisers.get(first.new)
    hold = est.down_s if est is not None and est.down_s is not None else _DEFAULT_HOLD_S
    return a.first_seen - first.time > hold


def differs_from_established(profile: Profile, reference: Profile) -> str:
    """VRRP: the evidence against an advertiser whose ``profile`` (``Advertiser.profile``)
    is not the established router's (``ObservedRouter.reference``): what differs."""
    diffs = [
        name
        for name, x, y in (
            ("version", profile[0], reference[0]),
            ("auth", (profile[1], profile[2]), (reference[1], reference[2])),
            ("virtual addresses", profile[3], reference[3]),
            ("interval", profile[4], reference[4]),
        )
        if x != y
    ]
    return f"advertises with a {', '.join(diffs)} that differs from the established router's"
