"""The RFC formulas and rules that the passive watcher and the active router both use.

Pure functions, no I/O. Each cites the section it comes from; when a rule changes, it changes
here, once, for ``watch`` (what the monitor expects of a failover) and ``join`` (what the
router does).
"""

from __future__ import annotations

import ipaddress

from dissectors.common import IPAddress


def skew_time(priority: int, master_adver_interval_s: float, version: int = 3) -> float:
    """Skew_Time in seconds.

    RFC 5798 section 6.1: ((256 - Priority) * Master_Adver_Interval) / 256.
    RFC 3768 section 6.1: (256 - Priority) / 256 (seconds, independent of the interval).
    """
    if version == 2:
        return (256 - priority) / 256
    return (256 - priority) * master_adver_interval_s / 256


def master_down_interval(priority: int, master_adver_interval_s: float, version: int = 3) -> float:
    """Master_Down_Interval = 3 * (Master_)Adver_Interval + Skew_Time (RFC 5798/3768 6.1)."""
    return 3 * master_adver_interval_s + skew_time(priority, master_adver_interval_s, version)


def outranks(
    priority_a: int, address_a: IPAddress | str, priority_b: int, address_b: IPAddress | str
) -> bool:
    """Whether router A wins the election against router B.

    RFC 5798 section 6.4.3 (RFC 3768 the same): the higher priority wins; on a tie, the higher
    primary IP address, compared as an unsigned integer in network byte order.
    """
    if priority_a != priority_b:
        return priority_a > priority_b
    return _as_int(address_a) > _as_int(address_b)


def _as_int(address: IPAddress | str) -> int:
    # an address object is its integer at once (parsing its text again is slow)
    return int(ipaddress.ip_address(address) if isinstance(address, str) else address)


# -- CARP (no RFC: OpenBSD's carp(4), which FreeBSD's carp and ucarp follow) ---------------------

# An advert with advbase and advskew both 255 is a "bow out": OpenBSD's carp (and ucarp) send
# it when they stop being master, and a backup takes over at once (it can never be on time).
CARP_BOW_OUT = 255
# ucarp's --deadratio (default 3); OpenBSD and FreeBSD fix the factor at 3.
CARP_DEAD_RATIO = 3


def carp_interval_s(advbase_s: int, advskew: int) -> float:
    """How often a CARP master advertises: advbase + advskew / 256 seconds (carp_setrun)."""
    return advbase_s + advskew / 256


def carp_master_down(advbase_s: int, advskew: int, dead_ratio: int = CARP_DEAD_RATIO) -> float:
    """How long a CARP backup waits for the master's advert before it takes over: 3 x advbase
    + advskew / 256 seconds, with the backup's own advbase and advskew.

    Where the implementations differ: OpenBSD and FreeBSD fix the factor at 3 (carp_setrun's
    BACKUP case); ucarp makes it ``--deadratio`` (default 3). FreeBSD folds its demotion into
    the advskew it sends and uses (capped at 240), OpenBSD sends it in the demote field and
    compares it before the timing (a higher demote count loses, and a backup takes over from
    a master with a higher one at once, preempt or not); ucarp sends demote 0. A tie (same
    advbase and advskew) keeps the master in ucarp and breaks on the source address, while
    OpenBSD's and FreeBSD's masters step down on an equal advert."""
    return dead_ratio * advbase_s + advskew / 256


def carp_outranks(
    advbase_a: int, advskew_a: int, demote_a: int, advbase_b: int, advskew_b: int, demote_b: int
) -> bool:
    """Whether CARP router A wins against B: the lower demote count (OpenBSD), then the one
    that advertises more often (advbase + advskew / 256 smaller); a tie outranks nobody."""
    if demote_a != demote_b:
        return demote_a < demote_b
    return carp_interval_s(advbase_a, advskew_a) < carp_interval_s(advbase_b, advskew_b)


# -- HSRP (RFC 2281) -------------------------------------------------------------------------


def hsrp_active_down(holdtime_s: float) -> float:
    """RFC 2281 section 5.3: the Active timer runs for the Holdtime of the active router's
    hellos; when it expires the standby becomes active. So a standby takes over after the
    hold time (IOS default 10 s, three times the 3 s hello; v2 and v1 millisecond timers
    carry it in milliseconds)."""
    return holdtime_s


def hsrp_outranks(
    priority_a: int, address_a: IPAddress | str, priority_b: int, address_b: IPAddress | str
) -> bool:
    """RFC 2281 section 5.2 (Priority): the higher priority wins; on a tie, the higher IP
    address, as in VRRP."""
    return outranks(priority_a, address_a, priority_b, address_b)
