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
    return int(ipaddress.ip_address(address_a)) > int(ipaddress.ip_address(address_b))
