"""How every output writes a VLAN stack: one function, pure, so the monitor's alert messages,
the store's columns and the command line share it. Times are ``vrrpwatch.times``."""

from __future__ import annotations

from collections.abc import Sequence


def vlan_label(vlans: Sequence[int], *, untagged: str = "-") -> str:
    """VLAN ids, outermost first, joined with "." ("10.20"); ``untagged`` when there are none
    ("-" in human text, "" in the database's ``vlan`` columns)."""
    return ".".join(map(str, vlans)) if vlans else untagged
