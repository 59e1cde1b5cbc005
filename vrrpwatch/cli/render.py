"""Terminal rendering of summaries, alerts and transitions (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from vrrpwatch.text import vlan_label
from vrrpwatch.times import format_time

_SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


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
        "VLAN", "Family", "VRID", "Ver", "Master", "Prio", "Interval", "VIPs", "Auth",
        "Advertisers", "Transitions", "Alerts",
    ):  # fmt: skip
        table.add_column(col, overflow="fold")
    for r in doc["virtual_routers"]:
        table.add_row(
            vlan_label(r["vlan"]),
            f"IPv{r['family']}",
            str(r["vrid"]),
            str(r["version"] or "-"),
            r["master"] or "-",
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
        if not r["transitions"]:
            continue
        t = Table(
            title=f"Master timeline: vlan {vlan_label(r['vlan'])} IPv{r['family']} VRID {r['vrid']}"
        )
        for col in ("Time", "Frame", "From", "To", "Cause", "Gap", "RFC"):
            t.add_column(col)
        for tr in r["transitions"]:
            t.add_row(
                format_time(tr["time"]),
                str(tr["frame"]),
                tr["from"] or "-",
                tr["to"],
                tr["cause"],
                f"{tr['gap_ms']:.0f} ms" if tr["gap_ms"] is not None else "-",
                f"{tr['expected_ms']:.0f} ms" if tr["expected_ms"] is not None else "-",
            )
        console.print(t)
    if doc["alerts"]:
        console.print(f"[bold]Alerts ({len(doc['alerts'])})[/bold]")
        for a in doc["alerts"]:
            console.print(
                alert_line(a), style=_SEVERITY_STYLE.get(a["severity"], ""), highlight=False,
                markup=False,
            )  # fmt: skip
    else:
        console.print("No alerts.")
