"""Terminal rendering of summaries, alerts and transitions (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from vrrpwatch.text import vlan_label
from vrrpwatch.times import format_time

_SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}
# How a router's group id is named per protocol (``vrid`` holds VRID, HSRP group, CARP vhid).
_ID_LABEL = {"vrrp": "VRID", "hsrp": "HSRP group", "carp": "CARP vhid"}


def router_title(r: dict[str, Any]) -> str:
    """``vlan 10 IPv4 VRID 1``, ``vlan - IPv6 HSRP group 2``."""
    ident = _ID_LABEL.get(r.get("protocol") or "vrrp", str(r.get("protocol")))
    return f"vlan {vlan_label(r['vlan'])} IPv{r['family']} {ident} {r['vrid']}"


# The text summary shows at most this many rows of one timeline or of the alerts (the first
# and the last halves); --json and report --json have all. A flood gives a row per advert.
MAX_TEXT_ROWS = 200


def _shown(rows: list[Any]) -> tuple[list[Any], int, list[Any]]:
    """The rows to show: the first ones, how many are left out, the last ones."""
    if len(rows) <= MAX_TEXT_ROWS:
        return rows, 0, []
    half = MAX_TEXT_ROWS // 2
    return rows[:half], len(rows) - 2 * half, rows[-half:]


def _omitted(n: int, what: str) -> str:
    return f"… {n} more {what} left out here; --json has them all"


def alert_line(a: dict[str, Any]) -> str:
    return f"{format_time(a['time'])} {a['severity'].upper():8} {a['kind']:22} {a['message']}"


def run_line(run: dict[str, Any]) -> str:
    """``run 3 (analyze a.pcap): complete``: which run, and whether it is whole."""
    return f"run {run['id']} ({run['kind']} {run['source']}): {run['status']}"


def render_summary(doc: dict[str, Any], console: Console) -> None:
    console.print(run_line(doc["run"]), markup=False, highlight=False)
    console.print(
        f"{doc['packets']} packets, {doc['vrrp_adverts']} VRRP adverts, {doc['garps']} gratuitous "
        f"ARPs, {doc['nas']} neighbour advertisements, {doc['malformed']} malformed"
        + (f", {doc['carp']} CARP" if doc["carp"] else "")
        + (f", {doc['hsrp']} HSRP" if doc.get("hsrp") else ""),
        highlight=False,
    )
    table = Table(title="Virtual routers", show_lines=False)
    for col in (
        "VLAN", "Protocol", "Family", "VRID", "Ver", "Master", "Prio", "Interval", "VIPs", "Auth",
        "Advertisers", "Transitions", "Alerts",
    ):  # fmt: skip
        table.add_column(col, overflow="fold")
    for r in doc["virtual_routers"]:
        master = r["master"] or "-"
        if r.get("standby"):
            master += f" (standby {r['standby']})"
        table.add_row(
            vlan_label(r["vlan"]),
            r.get("protocol") or "vrrp",
            f"IPv{r['family']}",
            str(r["vrid"]),
            str(r["version"] or "-"),
            master,
            str(r["priority"] if r["priority"] is not None else "-"),
            f"{r['interval_ms']} ms" if r["interval_ms"] is not None else "-",
            ", ".join(r["vips"]),
            str(r["auth_type"] if r["auth_type"] is not None else "-"),
            str(len(r["advertisers"])),
            str(len(r["transitions"])),
            str(r["alerts"]),
        )
    console.print(table)
    for r in doc["virtual_routers"]:
        hsrp = r.get("protocol") == "hsrp"
        timelines = [("Active" if hsrp else "Master", r["transitions"])]
        if hsrp:
            timelines.append(("Standby", r.get("standby_transitions") or []))
        for what, trs in timelines:
            if trs:
                console.print(_timeline(f"{what} timeline: {router_title(r)}", trs))
    if doc["alerts"]:
        console.print(f"[bold]Alerts ({len(doc['alerts'])})[/bold]")
        head, left_out, tail = _shown(doc["alerts"])
        for a in head + tail:
            if left_out and a is tail[0]:
                console.print(_omitted(left_out, "alerts"), markup=False, highlight=False)
            console.print(
                alert_line(a), style=_SEVERITY_STYLE.get(a["severity"], ""), highlight=False,
                markup=False,
            )  # fmt: skip
    else:
        console.print("No alerts.")


def _timeline(title: str, transitions: list[dict[str, Any]]) -> Table:
    t = Table(title=title)
    for col in ("Time", "Frame", "From", "To", "Cause", "Gap", "RFC"):
        t.add_column(col)
    head, left_out, tail = _shown(transitions)
    for tr in head + tail:
        if left_out and tr is tail[0]:
            t.add_row(f"… {left_out} more", end_section=True)
            t.caption = _omitted(left_out, "transitions")
        t.add_row(
            format_time(tr["time"]),
            str(tr["frame"]),
            tr["from"] or "-",
            tr["to"],
            tr["cause"],
            f"{tr['gap_ms']:.0f} ms" if tr["gap_ms"] is not None else "-",
            f"{tr['expected_ms']:.0f} ms" if tr["expected_ms"] is not None else "-",
        )
    return t
