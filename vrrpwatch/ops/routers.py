"""The per-router families of ``sniff --metrics``, written as text (``exposition.TextFamily``).

With 1,000 routers these are 16,000 of a scrape's series. A router's key and an advertiser's
address never change, so the label part of each of their lines (``name{labels} ``) is rendered
once, when the router or advertiser first shows up, and a scrape only appends the values; the
four lines of the state set are kept whole, one text per state. Nothing here writes to the
monitor: it reads the routers as the packet loop leaves them (atomic copies of dicts and lists),
from the metrics thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Protocol

from vrrpwatch.ops.exposition import TextFamily, label_value, number
from vrrpwatch.store.rows import vlan_column as vlan_text
from vrrpwatch.watch.model import Advertiser, ObservedRouter, RouterKey
from vrrpwatch.watch.timeline import other_version_than_master

ROUTER_STATES = ("ok", "lost", "resigned", "split-brain")

# (name, type, help) of each family, in the order they are served.
MASTER = (
    "vrrpwatch_advertiser_master",
    "gauge",
    "1 for the advertiser followed as the router's master, 0 for the others seen.",
)
MASTERS = (
    "vrrpwatch_router_masters",
    "gauge",
    "Sources currently advertising (priority > 0, within 1.5 of their intervals): "
    "2 or more is split brain, 0 means no master.",
)
# A state set with a ``state`` label (prometheus-client's StateSetMetricFamily would name the
# label after the metric): one series per state, exactly one of them 1.
STATE = (
    "vrrpwatch_router_state",
    "gauge",
    "The router's state, one series per state: ok, lost (master-lost open), resigned "
    "(the master's latest advert had priority 0) or split-brain (an episode is open).",
)
LAST = (
    "vrrpwatch_router_last_advert_timestamp_seconds",
    "gauge",
    "When the master's latest advert arrived (Unix time).",
)
INTERVAL = (
    "vrrpwatch_router_interval_seconds",
    "gauge",
    "The master's advertisement interval.",
)
PRIORITY = (
    "vrrpwatch_advertiser_priority",
    "gauge",
    "Priority of the advertiser's latest advert.",
)
ADVERTS = ("vrrpwatch_adverts", "counter", "Adverts received from the advertiser.")
CHANGES = (
    "vrrpwatch_master_changes",
    "counter",
    "Master changes (first masters not counted), by cause: resigned, silent, preempted.",
)


Family = tuple[str, str, str]  # (name, type, help)


class Counted(Protocol):
    """A router's master changes as the metrics count them (``metrics._Counted``)."""

    @property
    def changes(self) -> Mapping[str, int]: ...  # cause -> count

    @property
    def total(self) -> int: ...  # their sum


@dataclass(frozen=True, slots=True)
class Names:
    """One set of per-router families: their names, and how a router's key becomes labels.

    ``groups`` False: VRRP's (``family``, ``vlan``, ``vrid``); True: HSRP's and CARP's
    (``family``, ``group``, ``protocol``, ``vlan``: the group id under a name of its own, the
    protocol beside it, so an HSRP group, a CARP vhid and a VRRP router with one VLAN and id
    are three series). ``protocols``: the routers served (``RouterKey.protocol``)."""

    master: Family
    masters: Family
    state: Family
    last: Family
    interval: Family
    priority: Family
    adverts: Family
    changes: Family
    protocols: tuple[str, ...] = ("vrrp",)
    groups: bool = False

    def labels(self, key: RouterKey) -> tuple[str, str]:
        """A router's labels, sorted by name as prometheus-client writes them: those before
        ``state`` and those after it (``address`` and ``cause`` go before both)."""
        family, vlan = str(key.family), label_value(vlan_text(key.vlan))
        if self.groups:
            protocol = label_value(str(key.protocol))
            return f'family="{family}",group="{key.vrid}",protocol="{protocol}"', f'vlan="{vlan}"'
        return f'family="{family}"', f'vlan="{vlan}",vrid="{key.vrid}"'


VRRP = Names(MASTER, MASTERS, STATE, LAST, INTERVAL, PRIORITY, ADVERTS, CHANGES)


class _AdvertiserText:
    """The label text of one advertiser's lines (labels sorted by name, as prometheus-client
    writes them: address first)."""

    __slots__ = ("master_yes", "master_no", "priority", "adverts", "priority_of", "priority_line")

    def __init__(self, address: str, router: str, names: Names) -> None:
        labels = f'{{address="{label_value(address)}",{router}}} '
        self.master_yes = f"{names.master[0]}{labels}1.0\n"
        self.master_no = f"{names.master[0]}{labels}0.0\n"
        self.priority = names.priority[0] + labels
        self.adverts = names.adverts[0] + "_total" + labels
        # the latest priority line and the value it was written for (it seldom changes)
        self.priority_of: int | None = None
        self.priority_line = ""


class _RouterText:
    """The label text of one router's lines."""

    __slots__ = (
        *("names", "labels", "before", "after", "masters", "last", "interval", "states"),
        *("changes", "advertisers", "masters_of", "masters_line", "interval_of"),
        *("interval_line", "changes_of", "changes_lines", "last_of", "last_line"),
    )

    def __init__(self, key: RouterKey, names: Names) -> None:
        self.names = names
        self.before, self.after = names.labels(key)
        self.labels = f"{self.before},{self.after}"
        r = "{" + self.labels + "} "
        self.masters, self.last = names.masters[0] + r, names.last[0] + r
        self.interval = names.interval[0] + r
        self.states = {st: self._state_lines(st) for st in ROUTER_STATES}
        self.changes: dict[str, str] = {}
        self.advertisers: dict[str, _AdvertiserText] = {}
        # Lines whose values seldom change, with the values they were written for.
        self.masters_of, self.masters_line = -1, ""
        self.interval_of, self.interval_line = -1.0, ""
        self.last_of, self.last_line = -1.0, ""  # unchanged when scraped faster than adverts
        self.changes_of: tuple[int, Sequence[str]] | None = None  # (total changes, causes)
        self.changes_lines = ""

    def _state_lines(self, current: str) -> str:
        name, before, after = self.names.state[0], self.before, self.after
        return "".join(
            f'{name}{{{before},state="{s}",{after}}} {"1.0" if s == current else "0.0"}\n'
            for s in ROUTER_STATES
        )

    def change(self, cause: str) -> str:
        text = self.changes.get(cause)
        if text is None:
            text = self.changes[cause] = (
                f'{self.names.changes[0]}_total{{cause="{label_value(cause)}",{self.labels}}} '
            )
        return text

    def advertiser(self, address: str) -> _AdvertiserText:
        text = self.advertisers.get(address)
        if text is None:
            text = self.advertisers[address] = _AdvertiserText(address, self.labels, self.names)
        return text


def router_state(vr: ObservedRouter, split: bool) -> str:
    """Which of ROUTER_STATES the router is in."""
    if split:
        return "split-brain"
    if vr.lost:
        return "lost"
    if vr.resigned or vr.master is None:
        return "resigned"
    return "ok"


class RouterFamilies:
    """The per-router families, with each router's label text kept across scrapes."""

    def __init__(
        self, names: Names = VRRP, claims: Mapping[str, Callable[[Advertiser], bool]] | None = None
    ) -> None:
        """``claims``: by protocol, whether an advertiser says it is the master (HSRP: the
        active), for ``masters``; VRRP's rule (priority above 0) for the others."""
        self.names = names
        self.claims = dict(claims or {})
        self._keys: list[RouterKey] = []
        self._order: list[int] = []
        self._texts: dict[RouterKey, _RouterText] = {}
        self._aligned: list[_RouterText] = []  # the texts in ``_order``
        self.version = 0  # how many times the set of routers changed

    def sorted_routers(self, routers: Mapping[RouterKey, ObservedRouter]) -> list[ObservedRouter]:
        """The monitor's routers of ``names.protocols`` by key (sorted again only when a
        router came or went). VRRP's families leave HSRP groups and CARP vhids out: their
        labels (vlan, family, vrid) could equal a VRRP router's on the same VLAN, and a
        duplicate series fails the whole scrape; the group families carry those."""
        protocols = self.names.protocols
        if protocols == ("vrrp",):
            items = [(k, vr) for k, vr in routers.items() if k.protocol == "vrrp"]
        else:
            items = [(k, vr) for k, vr in routers.items() if k.protocol in protocols]
        keys = [k for k, _vr in items]
        if keys != self._keys:  # the same key objects while no router came or went: cheap
            self._keys = keys
            self._order = sorted(range(len(keys)), key=keys.__getitem__)
            names = self.names
            self._texts = {k: self._texts.get(k) or _RouterText(k, names) for k in keys}
            self._aligned = [self._texts[keys[i]] for i in self._order]
            self.version += 1
        return [items[i][1] for i in self._order]

    def families(
        self,
        routers: Sequence[ObservedRouter],
        now: float,
        split: Set[RouterKey | None],
        changes: Sequence[Counted],
        causes: Mapping[str, Sequence[str]],
    ) -> list[TextFamily]:
        """The families of ``routers`` as ``sorted_routers`` last returned them; ``changes``:
        each one's master changes, in the same order; ``causes``: by protocol, the causes each
        router shows (every one, from 0)."""
        master: list[str] = []
        masters: list[str] = []
        state: list[str] = []
        last: list[str] = []
        interval: list[str] = []
        priority: list[str] = []
        adverts: list[str] = []
        changed: list[str] = []
        claims = self.claims
        # The appends bound once (a scrape makes several per router and per advertiser).
        add_master, add_masters, add_state = master.append, masters.append, state.append
        add_last, add_interval, add_priority = last.append, interval.append, priority.append
        add_adverts, add_changed = adverts.append, changed.append
        only = next(iter(causes.values())) if len(causes) == 1 else None
        for vr, rt, counted in zip(routers, self._aligned, changes, strict=True):
            n = 0
            followed = vr.master
            claim = claims.get(vr.key.protocol) if claims else None
            advertisers = list(vr.advertisers.values())
            texts = rt.advertisers
            if len(texts) > len(advertisers):  # one was forgotten: drop its text
                texts = rt.advertisers = {a.address: rt.advertiser(a.address) for a in advertisers}
            for a in advertisers:
                at = texts.get(a.address) or rt.advertiser(a.address)
                add_master(at.master_yes if a.address == followed else at.master_no)
                p = a.last_priority
                if p != at.priority_of:
                    at.priority_of = p
                    at.priority_line = at.priority + number(p) + "\n"
                add_priority(at.priority_line)
                count = a.adverts
                add_adverts(
                    f"{at.adverts}{count}.0\n"  # number(count) for the usual counts
                    if type(count) is int and 0 <= count < 1_000_000
                    else at.adverts + number(count) + "\n"
                )
                if (
                    (p > 0 and not other_version_than_master(vr, a, now))
                    if claim is None
                    else claim(a)
                ) and now - a.last_seen <= a.silence_s:
                    n += 1
            if n != rt.masters_of:
                rt.masters_of, rt.masters_line = n, rt.masters + number(n) + "\n"
            add_masters(rt.masters_line)
            add_state(rt.states[router_state(vr, bool(split) and vr.key in split)])
            cur = vr.advertisers.get(followed) if followed else None  # vr.current
            if cur is not None:
                if cur.last_seen != rt.last_of:
                    rt.last_of = cur.last_seen
                    rt.last_line = rt.last + number(cur.last_seen) + "\n"
                add_last(rt.last_line)
                if cur.interval_s != rt.interval_of:
                    rt.interval_of = cur.interval_s
                    rt.interval_line = rt.interval + number(cur.interval_s) + "\n"
                add_interval(rt.interval_line)
            # Every cause of every router from 0 on, so increase() sees a router's first change.
            # Counts only grow, so their total tells whether the lines must be written again.
            shown = only if only is not None else causes[vr.key.protocol]
            seen = (counted.total, shown)
            if seen != rt.changes_of:
                rt.changes_of = seen
                counts = counted.changes
                rt.changes_lines = "".join(
                    rt.change(c) + number(counts.get(c, 0)) + "\n" for c in shown
                )
            add_changed(rt.changes_lines)
        n_ = self.names
        return [
            TextFamily(*n_.master, master),
            TextFamily(*n_.masters, masters),
            TextFamily(*n_.state, state),
            TextFamily(*n_.last, last),
            TextFamily(*n_.interval, interval),
            TextFamily(*n_.priority, priority),
            TextFamily(*n_.adverts, adverts),
            TextFamily(*n_.changes, changed),
        ]
