"""``vrrpwatch sniff``: live monitoring (live.py) with alerts, a live view and the store."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from vrrpwatch.pcap import CaptureError, PcapWriter  # stdlib only: --help stays fast

from . import cli
from .options import (
    SECONDS,
    InputError,
    db_option,
    load_known_routers,
    monitor_options,
    open_monitor,
)

_SYSLOG_PRIORITY = {"info": 6, "warning": 4, "critical": 2}  # LOG_INFO, LOG_WARNING, LOG_CRIT


@cli.command()
@click.argument("interfaces", nargs=-1, required=True)
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON line per alert (for jq).")
@click.option("--quiet", is_flag=True, help="Print alerts of warning and above only.")
@click.option("--syslog", "to_syslog", is_flag=True, help="Also send alerts to syslog.")
@monitor_options
@click.option(
    "--pcap-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the captured frames in FILE (then FILE.1, FILE.2, … by size).",
)
@click.option(
    "--pcap-out-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="MB per --pcap-out file.",
)
@click.option(
    "--duration",
    type=SECONDS,
    help="Stop after SECONDS (default: until Ctrl-C or SIGTERM).",
)
@click.option(
    "--retain",
    "retain_days",
    type=click.FloatRange(min=0, min_open=True),
    metavar="DAYS",
    help="Drop transitions, alerts and address events older than DAYS (checked every minute).",
)
@click.option(
    "--metrics",
    metavar="ADDR:PORT",
    callback=lambda ctx, param, value: _check_ops(_listen, value),
    help="Serve Prometheus metrics on http://ADDR:PORT/metrics (e.g. 127.0.0.1:9567), "
    "and the run's report page, reloading itself, on /.",
)
@click.option(
    "--alertmanager",
    "alertmanagers",
    metavar="URL",
    multiple=True,
    callback=lambda ctx, param, value: tuple(_check_ops(_url, v) for v in value),
    help="Push alerts to this Alertmanager (API v2); repeat for an HA pair.",
)
@click.option(
    "--alertmanager-severity",
    type=click.Choice(["info", "warning", "critical"]),
    default="warning",
    show_default=True,
    help="Push alerts of this severity and above.",
)
def sniff(
    interfaces: tuple[str, ...],
    db_path: Path,
    as_json: bool,
    quiet: bool,
    to_syslog: bool,
    known_routers: Path | None,
    reveal_secrets: bool,
    pcap_out: Path | None,
    pcap_out_size: int,
    duration: float | None,
    retain_days: float | None,
    metrics: str | None,
    alertmanagers: tuple[str, ...],
    alertmanager_severity: str,
) -> None:
    """Monitor VRRP live on INTERFACES: master changes, master-lost, and every analyze alert.

    Captures VRRP (also in AH and 802.1Q), ARP and neighbour advertisements with a kernel
    filter, writes the same tables as analyze (committed twice a second, so report works
    meanwhile) and stops cleanly on Ctrl-C or SIGTERM. Needs root or CAP_NET_RAW.

    \b
    Example:
        vrrpwatch sniff eth0 eth1 --db lan.db
        vrrpwatch sniff eth0 --json --quiet | jq -r .message
        vrrpwatch sniff eth0 --duration 60 --pcap-out vrrp.pcap
        vrrpwatch sniff eth0 --retain 30 --db /var/lib/vrrpwatch/lan.db
        vrrpwatch sniff eth0 --metrics 127.0.0.1:9567 --alertmanager http://127.0.0.1:9093
    """
    from vrrpwatch.store.run import recorded_run
    from vrrpwatch.watch.live import LiveError, PacketSocket, Sniffer, resolve_interfaces

    known = load_known_routers(known_routers)
    sockets: list[PacketSocket] = []
    try:
        for name, index in resolve_interfaces(interfaces):
            sockets.append(PacketSocket(name, index))
        pcap = _PcapOut(pcap_out, pcap_out_size << 20) if pcap_out is not None else None
    except (LiveError, CaptureError):
        for s in sockets:
            s.close()
        raise
    db, monitor, store = open_monitor(db_path, known, reveal_secrets)
    names = [s.name for s in sockets]
    out = _Output(monitor, as_json=as_json, quiet=quiet, to_syslog=to_syslog)
    reload = _Reload(known_routers, monitor, then=out.tick)
    retain_s = retain_days * 86400 if retain_days is not None else None
    sniffer = Sniffer(
        sockets, monitor, store, pcap=pcap, on_event=out.event, on_tick=reload.tick,
        retain_s=retain_s,
    )  # fmt: skip
    out.stop = sniffer.stop
    ops = _start_ops(monitor, sniffer, metrics, alertmanagers, alertmanager_severity, db_path)

    def _stop(signum: int, frame: Any) -> None:
        sniffer.stop()

    # A signal is how sniff is meant to stop: it ends the run complete, exit 0.
    old = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    old[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload.request)
    try:
        with recorded_run(
            store,
            monitor,
            kind="sniff",
            source=" ".join(names),
            flush=sniffer.flush,
            on_event=out.event,
        ) as run:
            if ops is not None:
                ops.serve_run(run.run_id)
            out.start(names)
            try:
                sniffer.run(duration)
            except OSError as exc:
                raise LiveError(f"capture failed: {exc.strerror or exc}") from None
            if sniffer.error is not None:
                raise LiveError(sniffer.error)
    finally:
        if ops is not None:
            ops.close()
        sniffer.close()
        db.close()
        out.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    run.check()


class _Reload:
    """SIGHUP re-reads --known-routers (without it, SIGHUP does nothing). The handler only sets
    a flag; the loop applies the new list between two batches of packets. A list that cannot
    be read keeps the previous one, with one line on stderr."""

    def __init__(self, path: Path | None, monitor: Any, *, then: Any) -> None:
        self.path = path
        self.monitor = monitor
        self.then = then  # the live view's tick
        self.requested = False

    def tick(self, now: float) -> None:
        self.apply()
        self.then(now)

    def request(self, signum: int, frame: Any) -> None:
        self.requested = True

    def apply(self) -> None:
        if not self.requested:
            return
        self.requested = False
        if self.path is None:
            return
        try:
            known = load_known_routers(self.path)
        except InputError as exc:
            click.echo(f"Warning: {exc}; keeping the previous list", err=True)
            return
        self.monitor.set_known_routers(known)
        click.echo(f"--known-routers {self.path}: re-read ({len(known.routers)} routers)", err=True)


def _listen(text: str) -> str:
    from vrrpwatch.ops.metrics import parse_listen

    parse_listen(text)
    return text


def _url(text: str) -> str:
    from vrrpwatch.ops.alertmanager import check_url

    return check_url(text)


def _check_ops(check: Any, value: str | None) -> str | None:
    from vrrpwatch.ops.metrics import MetricsError

    if value is None:
        return None
    try:
        return str(check(value))
    except (MetricsError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None


def _start_ops(
    monitor: Any,
    sniffer: Any,
    metrics: str | None,
    alertmanagers: tuple[str, ...],
    severity: str,
    db_path: Path | None = None,
) -> Any:
    """--metrics and --alertmanager (vrrpwatch.ops); None without them."""
    if metrics is None and not alertmanagers:
        return None
    import socket

    from vrrpwatch.ops.sniff import OpsError, SniffOps

    sensor = f"{socket.gethostname()} {' '.join(s.name for s in sniffer.sockets)}"
    try:
        return SniffOps(
            monitor, sniffer, metrics=metrics, alertmanagers=alertmanagers,
            min_severity=severity, sensor=sensor, db_file=db_path,
        )  # fmt: skip
    except OpsError as exc:
        sniffer.close()  # no run was begun yet; the database closes with the command
        raise InputError(str(exc)) from None


class _PcapOut(PcapWriter):
    """--pcap-out, where a write error (a full disk) is one CaptureError naming the file: it
    stops the run, which ends ``error: ...`` with everything received committed (the run's
    last flush). The writer then writes nothing more, so that flush and close go through."""

    failed = False

    def _fail(self, exc: OSError) -> CaptureError:
        self.failed = True
        with contextlib.suppress(OSError):
            super().close()
        return CaptureError(f"--pcap-out {self.files[-1]}: {exc.strerror or exc}")

    def write(self, when: float, data: bytes) -> None:
        if self.failed:
            return
        try:
            super().write(when, data)
        except OSError as exc:
            raise self._fail(exc) from None

    def flush(self) -> None:
        if self.failed:
            return
        try:
            super().flush()
        except OSError as exc:
            raise self._fail(exc) from None

    def close(self) -> None:
        if self.failed:
            return
        try:
            super().close()
        except OSError as exc:
            raise self._fail(exc) from None


class _Output:
    """Where events go: JSON lines, log lines, or a live view with log lines above it."""

    def __init__(self, monitor: Any, *, as_json: bool, quiet: bool, to_syslog: bool) -> None:
        from vrrpwatch.watch.monitor import Alert, Severity, Transition

        self.monitor = monitor
        self.as_json = as_json
        self.min_severity = Severity.WARNING if quiet else Severity.INFO
        self.quiet = quiet
        self._alert_type = Alert
        self._transition_type = Transition
        self.stop: Any = None
        self.alerts_per_router: dict[Any, int] = {}
        self.live: Any = None
        self.console: Any = None
        self._next_refresh = 0.0
        self._syslog: Any = None
        if to_syslog:
            import syslog

            syslog.openlog("vrrpwatch", syslog.LOG_PID, syslog.LOG_DAEMON)
            self._syslog = syslog
        if not as_json and sys.stdout.isatty():
            from rich.console import Console
            from rich.live import Live

            self.console = Console(highlight=False)
            self.live = Live(
                console=self.console, auto_refresh=False, transient=False, redirect_stdout=False
            )

    def start(self, names: list[str]) -> None:
        if self.live is not None:
            self.live.start()
            self.console.print(f"sniffing on {', '.join(names)} (Ctrl-C to stop)", style="dim")
            self.tick(time.time())
        elif not self.as_json and not self.quiet:
            self._line(f"sniffing on {', '.join(names)}")

    def event(self, e: Any) -> None:
        from vrrpwatch.store.rows import alert_json
        from vrrpwatch.times import format_time

        from .render import alert_line

        if isinstance(e, self._alert_type):
            if e.key is not None:
                self.alerts_per_router[e.key] = self.alerts_per_router.get(e.key, 0) + 1
            if e.severity < self.min_severity:
                return
            doc = alert_json(e)
            if self._syslog is not None:
                self._syslog.syslog(_SYSLOG_PRIORITY[doc["severity"]], f"{e.kind}: {e.message}")
            if self.as_json:
                self._line(json.dumps(doc))
            else:
                self._line(alert_line(doc))
        elif isinstance(e, self._transition_type) and not self.as_json and not self.quiet:
            if e.old is None:
                what = f"first master {e.new}"
            else:
                what = f"master {e.old} -> {e.new} ({e.cause})"
            self._line(f"{format_time(e.time)} {'MASTER':8} {e.key.label()}: {what}")

    def _line(self, text: str) -> None:
        try:
            if self.console is not None:
                self.console.print(text, markup=False, highlight=False)
            else:
                click.echo(text)
        except BrokenPipeError:  # `sniff --json | head -3`: stop, quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            if self.stop is not None:
                self.stop()

    def tick(self, now: float) -> None:
        if self.live is None or now < self._next_refresh:
            return
        self._next_refresh = now + 0.5
        self.live.update(self._table(now), refresh=True)

    def _table(self, now: float) -> Any:
        from rich.table import Table

        from vrrpwatch.text import vlan_label

        table = Table(title=f"Virtual routers — {self.monitor.counters.packets} frames")
        for col in ("VLAN", "Family", "VRID", "Master", "Prio", "Interval", "Last advert",
                    "State", "Alerts"):  # fmt: skip
            table.add_column(col)
        for k in sorted(self.monitor.routers):
            vr = self.monitor.routers[k]
            cur = vr.current
            if cur is None:
                continue
            state = "[bold red]LOST[/]" if vr.lost else "resigned" if vr.resigned else "ok"
            table.add_row(
                vlan_label(k.vlan),
                f"IPv{k.family}",
                str(k.vrid) if k.protocol == "vrrp" else f"{k.vrid} ({k.protocol})",
                vr.master or "-",
                str(cur.last_priority),
                f"{cur.interval_ms} ms",
                f"{now - cur.last_seen:.1f} s ago",
                state,
                str(self.alerts_per_router.get(k, 0)),
            )
        return table

    def close(self) -> None:
        if self.live is not None:
            self._next_refresh = 0.0
            self.tick(time.time())
            self.live.stop()
