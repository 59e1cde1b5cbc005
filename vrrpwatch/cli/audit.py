"""``vrrpwatch audit``: check keepalived configs against each other (and a capture)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from vrrpwatch.text import vlan_label

from . import cli

if TYPE_CHECKING:
    from rich.text import Text

    from vrrpwatch.keepalived.report import AuditReport


@cli.command()
@click.argument("configs", nargs=-1, required=True, metavar="CONF...")
@click.option(
    "--capture",
    "capture",
    metavar="FILE",
    help="pcap/pcapng to compare with the configs (- for standard input).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def audit(configs: tuple[str, ...], capture: str | None, as_json: bool, strict: bool) -> None:
    """Check keepalived configs (one per router) for what breaks or weakens VRRP.

    Peers of one virtual router are instances with the same VRID, interface name and address
    family. Errors (exit 1): peers disagreeing on version, interval, authentication or VIPs; two
    priority-255 owners; priority or VRID out of range; with --capture, advertisers or values the
    configs do not explain. Warnings (exit 1 only with --strict): plaintext passwords,
    authentication with VRRPv3, equal priorities, state MASTER below a peer, a VIP on another
    interface. Exit 2: a config or capture cannot be read; 130: interrupted. One file shared by
    several routers through keepalived's @ID conditional lines is given once per router as FILE@ID.

    \b
    Example:
        vrrpwatch audit r1/keepalived.conf r2/keepalived.conf --capture lan.pcap
    """
    from vrrpwatch.store.audit_doc import audit_document, run_audit

    from .jsonout import print_json

    # Library errors (exit 2) and Ctrl-C (exit 130) are the command group's to map.
    report = run_audit(configs, capture)
    if as_json:
        print_json(audit_document(report, strict=strict))
    else:
        _render(report)
    raise click.exceptions.Exit(report.exit_code(strict=strict))


def _render(report: AuditReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False)
    groups = Table(
        title="Virtual routers (failover: 3 x interval + skew; after a clean stop: skew)"
    )
    for col in ("Group", "Router", "Instance", "State", "Prio", "Ver", "Interval", "Role"):
        groups.add_column(col)
    groups.add_column("Failover", justify="right")
    groups.add_column("Clean stop", justify="right")
    for g in report.groups:
        by_label = {(m.router, m.instance.name): m for m in g.members}
        for i, est in enumerate(g.failover):
            inst = by_label[(est.router, est.instance)].instance
            groups.add_row(
                _text(str(g.key)) if i == 0 else "",
                _text(est.router),
                _text(est.instance),
                inst.state,
                str(inst.priority),
                f"v{inst.version}",
                f"{inst.advert_int_ms / 1000:g}s",
                est.role,
                f"{est.master_down_s:.3f}s",
                f"{est.clean_stop_s:.3f}s",
            )
    console.print(groups)
    if report.advertisers is not None:
        seen = Table(title="Observed advertisers")
        for col in ("VRID", "Source", "Adverts", "Prio", "Interval", "VIPs", "Config"):
            seen.add_column(col)
        for a in report.advertisers:
            seen.add_row(
                f"{a.vrid} (IPv{a.family}" + (f", VLAN {vlan_label(a.vlan)})" if a.vlan else ")"),
                str(a.src),
                str(a.count),
                ", ".join(str(p) for p in sorted(a.priorities)) + (" +0" if a.released else ""),
                ", ".join(f"{cs / 100:g}s" for cs in sorted(a.intervals_cs)),
                ", ".join(sorted({str(x) for s in a.address_sets for x in s})),
                _text(a.matched) if a.matched else "UNKNOWN",
            )
        console.print(seen)
    if report.findings:
        table = Table(title="Findings")
        table.add_column("Severity", no_wrap=True)
        table.add_column("Id", no_wrap=True)
        table.add_column("Message", ratio=3)
        table.add_column("Where", ratio=1, overflow="fold")
        style = {"error": "bold red", "warning": "yellow", "info": "dim"}
        for f in report.findings:
            table.add_row(
                f"[{style[str(f.severity)]}]{f.severity}[/]",
                f.id,
                _text(f.message),
                _text(f.source or ""),
            )
        console.print(table)
    console.print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")


def _text(value: str) -> Text:
    """A name, path or message from a config (or the wire) as a table cell: never markup
    (``rich.markup.escape`` still turns ``\\[`` into ``[``), and printable."""
    from rich.text import Text

    from vrrpwatch.keepalived.model import printable

    return Text(printable(value))
