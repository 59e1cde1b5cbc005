"""Two masters at once for the protocols whose rule is a silence timer: HSRP (two routers in
Active beyond the hold time) and CARP (two advertisers beyond 3 x advbase + advskew / 256).

VRRP's split brain (``consistency.split_brain``) measures Master_Down_Interval; here each
advertiser carries its protocol's limit (``Advertiser.down_s``). A router that hears the other
master gives way within that time (RFC 2281 section 5.3: an active hearing a higher active
goes to Speak; CARP: a master hearing a more frequent one goes to backup), so two that keep
claiming the role beyond it do not hear each other.
"""

from __future__ import annotations

from collections.abc import Callable

from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.model import Advertiser, Event, ObservedRouter


def two_masters(
    book: AlertBook,
    vr: ObservedRouter,
    a: Advertiser,
    claims: Callable[[Advertiser], bool],
    frame: int,
    time: float,
    events: list[Event],
    *,
    role: str,
    rule: str,
) -> None:
    """``a`` claims the master role (``claims``): split-brain when another advertiser of
    ``vr`` has claimed it all along for longer than the limit of either (once per pair).
    ``role`` names the role ("active", "master"), ``rule`` the limit ("hold time")."""
    if not claims(a):
        return
    key = vr.key
    for other in vr.advertisers.values():
        if other is a or not claims(other):
            continue
        if time - other.last_seen > other.silence_s:
            continue  # not claiming it any more
        overlap = time - max(a.streak_start, other.streak_start)
        limit = max(a.down_s or 0.0, other.down_s or 0.0)
        if overlap > limit and not book.is_open(AlertKind.SPLIT_BRAIN, key, other.address):
            book.raise_alert(
                events, AlertKind.SPLIT_BRAIN, key, a.address, time, frame,
                f"{key.label()}: {a.address} and {other.address} have both been {role} for "
                f"{overlap:.1f} s ({rule} {limit:.2f} s): two {role}s",
                peer=other.address,
            )  # fmt: skip
