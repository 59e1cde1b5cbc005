"""``vrrpwatch audit``: check keepalived configs against each other (and a capture)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from vrrpwatch.text import vlan_label

from . import cli

EXIT_USAGE = 2


def _observed(path: str) -> Any:
    """Run the analyze engine over the capture; its advertisers, summarised for the audit."""
    import os

    from vrrpwatch.fingerprints import fingerprint
    from vrrpwatch.keepalived.audit import from_monitor
    from vrrpwatch.watch.files import run_files
    from vrrpwatch.watch.monitor import Monitor

    key = os.urandom(32)
    # reveal_secrets keeps the passwords in memory so they can be compared with the configs;
    # the audit never prints them.
    monitor = Monitor(fingerprint=lambda pw: fingerprint(pw, key), reveal_secrets=True)
    try:
        run_files([path], monitor)
    finally:
        monitor.finish()
    return from_monitor(monitor.routers.values())


def _split_config_id(arg: str) -> tuple[str, str | None]:
    """``FILE@ID``: the config id for keepalived's ``@ID`` lines (``keepalived -i ID``), unless
    a file of that very name exists."""
    import os

    path, sep, config_id = arg.rpartition("@")
    if sep and path and config_id and not os.path.exists(arg):
        return path, config_id
    return arg, None


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)


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
    interface. Exit 2: a config or capture cannot be read. One file shared by several routers
    through keepalived's @ID conditional lines is given once per router as FILE@ID.

    \b
    Example:
        vrrpwatch audit r1/keepalived.conf r2/keepalived.conf --capture lan.pcap
    """
    from vrrpwatch.keepalived.audit import audit as run_audit
    from vrrpwatch.keepalived.config import KaConfError, parse_config
    from vrrpwatch.pcap import CaptureError

    try:
        parsed = [parse_config(*_split_config_id(path)) for path in configs]
    except KaConfError as exc:
        _fail(str(exc))
    observed = None
    if capture is not None:
        try:
            observed = _observed(capture)
        except CaptureError as exc:
            _fail(str(exc))
    report = run_audit(parsed, observed=observed)
    if as_json:
        click.echo(json.dumps(_as_json(report, strict), indent=2))
    else:
        _render(report)
    raise click.exceptions.Exit(report.exit_code(strict=strict))


def _group_json(key: Any) -> dict[str, Any]:
    return {
        "vrid": key.vrid,
        "interface": key.interface or None,
        "vlan": key.vlan,
        "family": key.family,
    }


def _as_json(report: Any, strict: bool) -> dict[str, Any]:
    groups = []
    for g in report.groups:
        by_label = {(m.router, m.instance.name): m for m in g.members}
        routers = []
        for est in g.failover:
            inst = by_label[(est.router, est.instance)].instance
            routers.append(
                {
                    "router": est.router,
                    "instance": est.instance,
                    "file": inst.source.path,
                    "line": inst.source.line,
                    "state": inst.state,
                    "priority": inst.priority,
                    "version": inst.version,
                    "advert_int_ms": inst.advert_int_ms,
                    "auth_type": inst.auth_type,
                    "vips": [str(v.address) for v in inst.vips],
                    "preempt": inst.preempt,
                    "role": est.role,
                    "skew_s": round(est.skew_s, 6),
                    "failover_s": round(est.master_down_s, 6),
                    "failover_clean_stop_s": round(est.clean_stop_s, 6),
                }
            )
        groups.append({**_group_json(g.key), "routers": routers})
    out: dict[str, Any] = {
        "routers": list(report.routers),
        "groups": groups,
        "findings": [
            {
                "severity": str(f.severity),
                "id": f.id,
                "message": f.message,
                "group": _group_json(f.group) if f.group else None,
                "routers": list(f.routers),
                "source": f.source,
            }
            for f in report.findings
        ],
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "exit_code": report.exit_code(strict=strict),
    }
    if report.advertisers is not None:
        out["observed"] = [
            {
                "src": str(a.src),
                "vlan": list(a.vlan),
                "vrid": a.vrid,
                "family": a.family,
                "adverts": a.count,
                "versions": sorted(a.versions),
                "priorities": sorted(a.priorities),
                "released": a.released,
                "intervals_cs": sorted(a.intervals_cs),
                "vips": sorted(str(x) for s in a.address_sets for x in s),
                "matched": a.matched,
            }
            for a in report.advertisers
        ]
    return out


def _render(report: Any) -> None:
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
                str(g.key) if i == 0 else "",
                est.router,
                est.instance,
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
                a.matched or "UNKNOWN",
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
                f.message,
                f.source or "",
            )
        console.print(table)
    console.print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
