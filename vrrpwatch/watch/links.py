"""Live monitoring: the sniffed interfaces as monitor inputs.

The sniffer only reports what it sees: the interface a frame came in on and link changes. The
rules are here: ``interface-down`` and ``interface-up``; ``router-on-two-interfaces`` when one
router key is heard on two interfaces (routers are keyed by VLAN ids, family and VRID as in
analyze, whatever the interface, so they are followed as one); and the blind window. While an
interface is down, and for one Master_Down_Interval (at priority 1, the longest, plus
``EXPIRE_SLACK_S``) after it is up again, master-lost is not judged for the routers heard on
it: adverts missed while we were blind are no silence of the master (RFC 5798 section 6.4.2).
Likewise when the kernel reports drops on an interface (``dropped``) after a master's last
advert: its silence may be our loss, so master-lost waits; when it fires, it says whether drops
were counted on that interface.
"""

from __future__ import annotations

from collections.abc import Mapping

from vrrpwatch.rfc import master_down_interval
from vrrpwatch.watch.catalogue import EXPIRE_SLACK_S, AlertKind
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.model import Event, ObservedRouter, RouterKey


class Links:
    def __init__(self, book: AlertBook) -> None:
        self._book = book
        self.down: set[str] = set()
        # Interface -> until when master-lost is not judged for the routers heard on it.
        self._blind_until: dict[str, float] = {}
        # Interface -> when drops were last reported, and the drops counted on it so far
        # (only interfaces whose drop counters are read, i.e. sniff).
        self.drops_at: dict[str, float] = {}
        self.drops: dict[str, int] = {}

    def dropped(self, name: str, now: float, count: int) -> None:
        """The kernel dropped ``count`` frames on ``name`` since the last report (read at
        ``now``): they were lost at some time before ``now``."""
        self.drops[name] = self.drops.get(name, 0) + count
        if count > 0:
            self.drops_at[name] = now

    def lost_to_drops(self, vr: ObservedRouter) -> bool:
        """Whether frames were dropped on ``vr``'s interface since its master's last advert."""
        cur = vr.current
        at = self.drops_at.get(vr.interface) if vr.interface is not None else None
        return cur is not None and at is not None and at > cur.last_seen

    def drop_note(self, vr: ObservedRouter) -> str:
        """What master-lost says about drops on ``vr``'s interface ("" when not counted)."""
        name = vr.interface
        if name is None or name not in self.drops:
            return ""
        return f"; the kernel dropped no frames on {name} since its last advert"

    def heard_on(
        self, vr: ObservedRouter, iface: str, frame: int, time: float, events: list[Event]
    ) -> None:
        first = vr.interface
        if first is None:
            vr.interface = iface
        elif first != iface and not self._book.any_open(AlertKind.ROUTER_ON_TWO_INTERFACES, vr.key):
            self._book.raise_alert(
                events, AlertKind.ROUTER_ON_TWO_INTERFACES, vr.key, iface, time, frame,
                f"{vr.key.label()} is seen on {first} and {iface}: both are followed as one "
                "router; sniff the two segments in separate runs",
            )  # fmt: skip

    def interface_down(
        self, name: str, now: float, frame: int, removed: bool, events: list[Event]
    ) -> None:
        if name in self.down and not removed:
            return
        self.down.add(name)
        self._blind_until[name] = float("inf")
        self._book.raise_alert(
            events, AlertKind.INTERFACE_DOWN, None, name, now, frame,
            f"{name}: interface removed; no longer sniffed" if removed else
            f"{name}: link down (no carrier or set down); sniffing goes on when it is up",
            episode_extra="removed" if removed else "",
        )  # fmt: skip

    def interface_up(
        self,
        name: str,
        now: float,
        frame: int,
        routers: Mapping[RouterKey, ObservedRouter],
        events: list[Event],
    ) -> None:
        if name not in self.down:
            return
        self.down.discard(name)
        hold = max(
            (
                master_down_interval(1, vr.current.interval_s, vr.current.version)
                for vr in routers.values()
                if vr.current is not None
            ),
            default=0.0,
        )
        self._blind_until[name] = now + hold + EXPIRE_SLACK_S
        self._book.resolve(events, now, AlertKind.INTERFACE_DOWN, None, name)
        self._book.raise_alert(
            events, AlertKind.INTERFACE_UP, None, name, now, frame, f"{name}: link up again"
        )

    def blind(self, now: float) -> set[str]:
        """The interfaces whose routers master-lost does not judge at ``now``."""
        until = self._blind_until
        if not until:
            return set()
        for name in [n for n, t in until.items() if now >= t]:
            del until[name]
        return set(until)
