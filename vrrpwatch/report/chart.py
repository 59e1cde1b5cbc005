"""The lane chart of one virtual router, as plain geometry for the SVG template.

Pure: a router's entries from ``store.timeline.report_data`` in, rows of numbers and text out.
No markup is built here; the template escapes every string it prints.

Reading the timeline: only the master advertises (RFC 5798 section 6.4.3), so a master span
runs from a transition to the old master's last advert before the next one (the next
transition's time minus its gap); the last span ends with its master's last advert. A
split-brain contender (it kept advertising while another was master, so it believed itself
master too) gets a span from its first advert to its last, clipped by its own master spans.
A priority-0 mark is each ``master-resigned`` alert (the master's priority-0 advert) and the
last advert of any advertiser whose last priority was 0.
"""

from __future__ import annotations

import datetime
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from vrrpwatch.times import format_time

# The chart's coordinate system (the SVG viewBox); the page scales it to its width.
WIDTH = 1000.0
PLOT_X0 = 200.0
PLOT_X1 = 960.0
AXIS_H = 30.0
LANE_H = 36.0
ALERT_ROW_H = 11.0
EVENTS_H = 18.0
BOTTOM_H = 6.0

# A failover slower than the RFC expectation by more than this gets the warning colour.
SLOW_MS = 50.0

SEVERITIES = ("critical", "warning", "info")

# Tick steps from 10 ms to 30 days; the first giving at most TARGET_TICKS ticks wins.
_TICK_STEPS_S = (
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
)  # fmt: skip
TARGET_TICKS = 9


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str
    date: str  # the day, on the first tick and where the day changes; else ""


@dataclass(frozen=True, slots=True)
class Scale:
    """Epoch seconds to chart x, over the run's span (shared by every chart of a page)."""

    t0: float
    t1: float

    @classmethod
    def for_span(cls, first: float | None, last: float | None) -> Scale:
        if first is None:
            first = last = 0.0
        assert last is not None
        span = max(last - first, 1.0)
        pad = span * 0.02
        return cls(first - pad, first + span + pad)

    def x(self, t: float) -> float:
        width = self.t1 - self.t0  # 0 where floats cannot tell the ends apart (t ~ 1e19 s)
        frac = (t - self.t0) / width if width > 0 else 0.0
        return round(PLOT_X0 + min(max(frac, 0.0), 1.0) * (PLOT_X1 - PLOT_X0), 2)

    def ticks(self) -> list[Tick]:
        span = self.t1 - self.t0
        step = next((s for s in _TICK_STEPS_S if span / s <= TARGET_TICKS), _TICK_STEPS_S[-1])
        first = math.ceil(self.t0 / step) * step
        out: list[Tick] = []
        last_day = ""
        n = 0
        while (t := first + n * step) <= self.t1 and n < 100:
            n += 1
            try:
                when = datetime.datetime.fromtimestamp(t, datetime.UTC)
            except (OverflowError, OSError, ValueError):
                # outside datetime's range (a capture's bogus timestamps): raw epoch seconds,
                # as format_time writes them everywhere else
                out.append(Tick(self.x(t), format_time(t), ""))
                continue
            day = when.strftime("%Y-%m-%d")
            out.append(Tick(self.x(t), _tick_label(when, step), day if day != last_day else ""))
            last_day = day
        return out


def _tick_label(when: datetime.datetime, step: float) -> str:
    if step >= 86400:
        return when.strftime("%b %d")
    if step >= 60:
        return when.strftime("%H:%M")
    if step >= 1:
        return when.strftime("%H:%M:%S")
    digits = 1 if step >= 0.1 else 2
    return when.strftime("%H:%M:%S.%f")[: 9 + digits]


def utc(t: float | None) -> str:
    """Epoch seconds as UTC with milliseconds (truncated, as the terminal tables show them)."""
    if t is None:
        return "-"
    sec = math.floor(t)
    us = round((t - sec) * 1e6)
    if us >= 1_000_000:
        sec, us = sec + 1, 0
    try:
        return f"{_utc_second(sec)}.{us // 1000:03d}"
    except (OverflowError, OSError, ValueError):
        return format_time(t)  # outside the calendar's range: raw epoch seconds


@lru_cache(maxsize=1 << 16)
def _utc_second(sec: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))


class Files:
    """The capture files frames count in, named short: the base name, or the whole path
    where two files of the run share a base name. The page lists the whole paths once."""

    def __init__(self, paths: Iterable[str | None]) -> None:
        self.paths = sorted({p for p in paths if p})
        names = Counter(PurePath(p).name for p in self.paths)
        self._short = {
            p: PurePath(p).name if names[PurePath(p).name] == 1 else p for p in self.paths
        }

    def where(self, file: str | None, frame: int | None) -> str:
        """File and frame number, as Wireshark's ``-r FILE -g FRAME`` takes them."""
        if frame is None:
            return "-"
        return f"{self._short.get(file, file)} #{frame}" if file else f"frame {frame} (live)"

    @staticmethod
    def command(file: str) -> str:
        return f"wireshark -r {_shell_quote(file)} -g FRAME"


def _shell_quote(text: str) -> str:
    safe = all(c.isalnum() or c in "/._-+:" for c in text)
    return text if safe and text else "'" + text.replace("'", "'\"'\"'") + "'"


@dataclass(slots=True)
class Lane:
    address: str
    label: str
    sub: str
    y: float  # top of the lane


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    kind: str  # master | contender
    title: str


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True)
class Failover:
    index: int  # position in the router's transitions
    x: float
    y_from: float
    y_to: float
    slow: bool
    cause: str
    label: str  # "" when it would overlap an earlier label in its lane
    label_x: float
    title: str


@dataclass(frozen=True, slots=True)
class AlertMark:
    id: int
    x: float
    y: float
    severity: str
    title: str


@dataclass(frozen=True, slots=True)
class EventMark:
    x: float
    count: int
    title: str


@dataclass(slots=True)
class Chart:
    height: float
    lanes: list[Lane] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    zero_marks: list[Mark] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)
    alerts: list[AlertMark] = field(default_factory=list)
    events: list[EventMark] = field(default_factory=list)
    presence: list[Bar] = field(default_factory=list)
    alerts_y: float = 0.0
    events_y: float = 0.0


def gap_text(t: dict[str, Any]) -> str:
    gap, exp = t["gap_ms"], t["expected_ms"]
    if gap is None:
        return ""
    return f"{gap:.0f} ms" + (f" / RFC {exp:.0f} ms" if exp is not None else "")


def is_slow(t: dict[str, Any]) -> bool:
    gap, exp = t["gap_ms"], t["expected_ms"]
    return gap is not None and exp is not None and gap - exp > SLOW_MS


Span = tuple[str, float, float]  # address, start, end


def master_spans(vr: dict[str, Any], alerts: list[dict[str, Any]]) -> list[Span]:
    """(address, start, end) of each span in which an advertiser was master, master-lost
    episodes (sniff) cut out."""
    last_seen = {a["address"]: a["last_seen"] for a in vr["advertisers"]}
    trs = vr["transitions"]
    spans: list[Span] = []
    for i, t in enumerate(trs):
        if i + 1 < len(trs):
            nxt = trs[i + 1]
            end = nxt["time"] - (nxt["gap_ms"] or 0.0) / 1000
        else:
            end = last_seen.get(t["to"], t["time"])
        spans.append((t["to"], t["time"], max(end, t["time"])))
    lost = [a for a in alerts if a["kind"] in ("master-lost", "master-lost-cleared")]
    if not lost:
        return spans
    out = []
    for addr, start, end in spans:
        cur = start
        for a in lost:
            if a["kind"] == "master-lost" and a["source"] == addr and cur < a["time"] < end:
                out.append((addr, cur, a["time"]))
                back = [
                    b["time"]
                    for b in lost
                    if b["kind"] == "master-lost-cleared" and a["time"] < b["time"] <= end
                ]
                cur = min(back) if back else end
        if cur < end or cur == start:
            out.append((addr, cur, end))
    return out


# What a master-resigned mark says, per protocol.
_RESIGN_WORDS = {
    "vrrp": "advertised priority 0 (resigned)",
    "hsrp": "sent a Resign",
    "carp": "bowed out (advbase and advskew 255)",
}


def contender_spans(
    vr: dict[str, Any], alerts: list[dict[str, Any]], spans: list[Span]
) -> list[Span]:
    """Split brain: advertisers that kept advertising while another was master."""
    out: list[Span] = []
    for al in alerts:
        if al["kind"] != "split-brain":
            continue
        at = al["time"]
        for a in vr["advertisers"]:
            addr = a["address"]
            resigning = vr.get("protocol", "vrrp") == "vrrp" and set(a["priority"]) == {0}
            if not a["first_seen"] <= at <= a["last_seen"] or resigning:
                continue
            own = [(s, e) for x, s, e in spans if x == addr]
            if any(s <= at <= e for s, e in own):
                continue  # it was the master then
            lo = max([a["first_seen"], *(e for s, e in own if e <= at)])
            hi = min([a["last_seen"], *(s for s, e in own if s >= at)])
            if not any(x == addr and s == lo for x, s, _ in out):
                out.append((addr, lo, hi))
    return out


def _advertiser_sub(a: dict[str, Any]) -> str:
    prios = "/".join(str(p) for p in a["priority"])
    return f"prio {prios} · {a['interval_ms']} ms · v{a['version']}"


@dataclass(frozen=True, slots=True)
class _Place:
    """Where one chart's marks go: its time scale, its lanes, and whether it is a close-up
    (only what falls inside ``scale`` is drawn)."""

    scale: Scale
    lanes: dict[str, Lane]
    closeup: bool

    def inside(self, t: float) -> bool:
        return not self.closeup or self.scale.t0 <= t <= self.scale.t1

    def shown(self, start: float, end: float) -> bool:
        return not self.closeup or (end >= self.scale.t0 and start <= self.scale.t1)

    def bar(self, addr: str, start: float, end: float, kind: str, title: str, h: float) -> Bar:
        x0, x1 = self.scale.x(start), self.scale.x(end)
        lane = self.lanes[addr]
        return Bar(x0, lane.y + LANE_H - 8 - h, max(x1 - x0, 1.5), kind, title)


def _lanes(vr: dict[str, Any]) -> dict[str, Lane]:
    """One lane per address: masters in the order they first took over, then the other
    advertisers."""
    order: list[str] = []
    for t in vr["transitions"]:
        if t["to"] not in order:
            order.append(t["to"])
    by_addr = {a["address"]: a for a in vr["advertisers"]}
    order += [a for a in by_addr if a not in order]
    return {
        addr: Lane(
            addr,
            addr,
            _advertiser_sub(by_addr[addr]) if addr in by_addr else "",
            AXIS_H + i * LANE_H,
        )
        for i, addr in enumerate(order)
    }


def build_chart(
    vr: dict[str, Any],
    alerts: list[dict[str, Any]],
    scale: Scale,
    files: Files,
    *,
    closeup: bool = False,
) -> Chart:
    """The lane chart of one router; ``alerts`` are the run's alerts for this router.
    ``closeup``: a stretch of the run (``scale`` covers it): lanes, masters and failovers
    only, nothing outside it."""
    lanes = _lanes(vr)
    place = _Place(scale, lanes, closeup)
    alerts_y = AXIS_H + len(lanes) * LANE_H + 4
    events_y = alerts_y + ALERT_ROW_H * len(SEVERITIES) + 4
    chart = Chart(
        height=alerts_y + BOTTOM_H if closeup else events_y + EVENTS_H + BOTTOM_H,
        lanes=list(lanes.values()),
        alerts_y=alerts_y,
        events_y=events_y,
    )
    chart.presence = _presence_bars(vr, place)
    chart.bars = _master_bars(vr, alerts, place)
    chart.zero_marks = _zero_marks(vr, alerts, place, files)
    chart.failovers = _failover_marks(vr, place, files)
    if not closeup:
        chart.alerts = alert_marks(alerts, scale, alerts_y, files)
        chart.events = event_marks(vr["address_events"], scale, files)
    return chart


def _presence_bars(vr: dict[str, Any], place: _Place) -> list[Bar]:
    """A thin bar per advertiser, from its first advert to its last."""
    return [
        place.bar(
            a["address"],
            a["first_seen"],
            a["last_seen"],
            "presence",
            f"{a['address']} advertised {a['adverts']} times, "
            f"{utc(a['first_seen'])} to {utc(a['last_seen'])} UTC",
            2,
        )  # fmt: skip
        for a in vr["advertisers"]
        if place.shown(a["first_seen"], a["last_seen"])
    ]


def _master_bars(vr: dict[str, Any], alerts: list[dict[str, Any]], place: _Place) -> list[Bar]:
    """Who was master when, then who also acted as master (split brain)."""
    out: list[Bar] = []
    spans = master_spans(vr, alerts)
    for addr, start, end in spans:
        if place.shown(start, end):
            out.append(
                place.bar(addr, start, end, "master",
                    f"{addr} master {utc(start)} to {utc(end)} UTC ({end - start:.1f} s)", 12)
            )  # fmt: skip
    for addr, start, end in contender_spans(vr, alerts, spans):
        if place.shown(start, end):
            out.append(
                place.bar(addr, start, end, "contender",
                    f"{addr} also acted as master (split brain) {utc(start)} to {utc(end)} UTC",
                    12)
            )  # fmt: skip
    return out


def _zero_marks(
    vr: dict[str, Any], alerts: list[dict[str, Any]], place: _Place, files: Files
) -> list[Mark]:
    """A mark where a master resigned (a master-resigned alert), and where a VRRP advertiser's
    last advert had priority 0 without such an alert."""
    out: list[Mark] = []
    lanes = place.lanes
    zero: set[tuple[str, float]] = set()
    protocol = vr.get("protocol") or "vrrp"
    for al in alerts:
        if al["kind"] == "master-resigned" and al["source"] in lanes and place.inside(al["time"]):
            zero.add((al["source"], al["time"]))
            out.append(
                Mark(
                    place.scale.x(al["time"]),
                    lanes[al["source"]].y + 7,
                    f"{al['source']} {_RESIGN_WORDS.get(protocol, _RESIGN_WORDS['vrrp'])} "
                    f"at {utc(al['time'])} UTC,"
                    f" {files.where(al['file'], al['frame'])}",
                )  # fmt: skip
            )
    for a in vr["advertisers"] if protocol == "vrrp" else ():  # CARP's advskew 0 is no resignation
        if (
            a.get("last_priority") == 0
            and (a["address"], a["last_seen"]) not in zero
            and place.inside(a["last_seen"])
        ):
            out.append(
                Mark(
                    place.scale.x(a["last_seen"]),
                    lanes[a["address"]].y + 7,
                    f"{a['address']} advertised priority 0 at {utc(a['last_seen'])} UTC",
                )  # fmt: skip
            )
    return out


def _failover_marks(vr: dict[str, Any], place: _Place, files: Files) -> list[Failover]:
    """An arrow per failover, labelled with its cause and gap where the label does not overlap
    an earlier one of the same lane."""
    out: list[Failover] = []
    lanes = place.lanes
    vrrp = (vr.get("protocol") or "vrrp") == "vrrp"
    label_end: dict[str, float] = {}  # per lane: labels of one lane must not overlap
    for i, t in enumerate(vr["transitions"]):
        if t["from"] is None or not place.inside(t["time"]):
            continue
        x = place.scale.x(t["time"])
        cause = "resigned (priority 0)" if t["cause"] == "resigned" and vrrp else t["cause"]
        text = f"{cause} {gap_text(t)}".strip()
        label, label_x = "", x + 6
        width = 5.8 * len(text)
        if label_x + width > WIDTH:  # no room on the right: the label goes left of the marker
            label_x = x - 6 - width
        if label_x > label_end.get(t["to"], -1e9):
            label = text
            label_end[t["to"]] = label_x + width + 8
        out.append(
            Failover(
                index=i,
                x=x,
                y_from=lanes[t["from"]].y + LANE_H - 14 if t["from"] in lanes else AXIS_H,
                y_to=lanes[t["to"]].y + LANE_H - 14,
                slow=is_slow(t),
                cause=t["cause"],
                label=label,
                label_x=round(label_x, 2),
                title=f"{utc(t['time'])} UTC {t['from']} -> {t['to']}: {text}"
                + (" (more than 50 ms slower than the RFC)" if is_slow(t) else "")
                + f", {files.where(t['file'], t['frame'])}",
            )
        )
    return out


# A close-up is drawn where failovers come closer than this share of the run's span (about
# 4 units of the chart's width), at least CLOSEUP_MIN of them in one stretch; it shows the
# first CLOSEUP_MAX of them at most, so they stay apart (and the page small) when a router
# flaps for hours; the tables list every one.
CLOSEUP_SHARE = 1 / 200
CLOSEUP_MIN = 3
CLOSEUP_MAX = 40


def busiest_stretch(vr: dict[str, Any], scale: Scale) -> Scale | None:
    """The stretch of the run with the most failovers too close together to tell apart on
    the whole run's axis, as the scale of a close-up chart; None when every one is visible."""
    times = sorted(t["time"] for t in vr["transitions"] if t["from"] is not None)
    near = (scale.t1 - scale.t0) * CLOSEUP_SHARE
    best: list[float] = []
    run: list[float] = []
    for t in times:
        if run and t - run[-1] > near:
            run = []
        run.append(t)
        if len(run) > len(best):
            best = list(run)
    if len(best) < CLOSEUP_MIN:
        return None
    best = best[:CLOSEUP_MAX]
    pad = max((best[-1] - best[0]) * 0.05, 5.0)
    return Scale(best[0] - pad, best[-1] + pad)


def alert_marks(
    alerts: list[dict[str, Any]], scale: Scale, top: float, files: Files
) -> list[AlertMark]:
    """One marker per alert, never merged: one row per severity."""
    return [
        AlertMark(
            id=al["id"],
            x=scale.x(al["time"]),
            y=top + ALERT_ROW_H * SEVERITIES.index(al["severity"]) + ALERT_ROW_H / 2,
            severity=al["severity"],
            title=f"{utc(al['time'])} UTC {al['severity']} {al['kind']}: {al['message']}"
            f" ({files.where(al['file'], al['frame'])})",
        )
        for al in alerts
    ]


# GARP/NA bursts: events of one (kind, address, MAC) closer than this are one mark, and at
# most one mark per chart unit: they are not transitions or alerts, so they may be thinned.
_BURST_S = 1.0


def event_bursts(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    bursts: list[list[dict[str, Any]]] = []
    open_: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in events:
        k = (e["kind"], e["address"], e["mac"])
        cur = open_.get(k)
        if cur is not None and e["time"] - cur[-1]["time"] <= _BURST_S:
            cur.append(e)
            continue
        open_[k] = [e]
        bursts.append(open_[k])
    return bursts


def event_marks(events: list[dict[str, Any]], scale: Scale, files: Files) -> list[EventMark]:
    out: list[EventMark] = []
    seen: set[tuple[int, str, str]] = set()
    for b in event_bursts(events):
        e = b[0]
        x = scale.x(e["time"])
        cell = (int(x), e["address"], e["mac"])
        if cell in seen:
            continue
        seen.add(cell)
        what = "gratuitous ARP" if e["kind"] == "garp" else "unsolicited NA"
        out.append(
            EventMark(
                x,
                len(b),
                f"{utc(e['time'])} UTC {len(b)} x {what} {e['address']} is-at {e['mac']}"
                f" ({files.where(e['file'], e['frame'])})",
            )  # fmt: skip
        )
    return out
