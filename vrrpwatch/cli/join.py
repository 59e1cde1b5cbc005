"""``vrrpwatch join``: become a real member (backup by default) of a VRRP group."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, cast

import click

from vrrpwatch.join.settings import (
    DEFAULT_GARP_DELAY_S,
    DEFAULT_GARP_REPEAT,
    DEFAULT_LEARN_TIMEOUT_S,
    DEFAULT_PREEMPT_DELAY_S,
    JoinValues,
)
from vrrpwatch.times import format_time

from . import cli
from .options import InputError, db_option


def _text_line(event: dict[str, Any]) -> str:
    return f"{format_time(event['time'], 'syslog')}: {event['message']}"


class _Sink:
    """Prints each event (text or JSON lines) and records state changes in the database."""

    def __init__(self, as_json: bool, db_path: Path) -> None:
        self.as_json = as_json
        self.db_path = db_path
        self.db: Any = None
        self.output_broken = False

    def open_db(self) -> None:
        from vrrpwatch.join.settings import JoinError
        from vrrpwatch.store.db import StoreError, open_db

        try:
            self.db = open_db(self.db_path)
        except StoreError as exc:
            raise JoinError(str(exc)) from None

    def __call__(self, event: dict[str, Any]) -> None:
        # A router must not die of its log: a closed pipe or a locked database stops that
        # output, not the router (which still has to send its priority 0 and remove its VIPs).
        from vrrpwatch.store.recorder import write_join_event

        if not self.output_broken:
            try:
                if self.as_json:
                    out = dict(event)
                    out["time"] = format_time(event["time"], "iso")
                    click.echo(json.dumps(out, sort_keys=True))
                else:
                    err = event["event"] in ("warning", "discard", "error")
                    click.echo(_text_line(event), err=err)
                sys.stdout.flush()
            except OSError:
                self.output_broken = True
        if self.db is not None and event["event"] in ("state", "learnt", "stale-vip-removed"):
            try:
                write_join_event(self.db, event)
            except Exception as exc:  # sqlite3.Error and friends
                self.db = None
                with contextlib.suppress(OSError):
                    click.echo(f"Warning: database writes stopped: {exc}", err=True)

    def close(self) -> None:
        if self.db is not None:
            self.db.conn.close()


@cli.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="keepalived.conf to take the instance's settings from; flags override them.",
)
@click.option(
    "--instance",
    "instances",
    multiple=True,
    metavar="NAME",
    help="Run this vrrp_instance of --config (repeatable; default: every one).",
)
@click.option("--vrid", type=int, help="Virtual router id of the group (1..255).")
@click.option("--priority", type=int, help="Our priority (1..254; 255 = address owner).")
@click.option("--interface", "-i", help="Interface (default: that of the default route).")
@click.option(
    "--vip",
    "vips",
    multiple=True,
    metavar="ADDR[/LEN]",
    help="Virtual address (repeatable); default: learnt from the master's advert.",
)
@click.option("--version", "version", type=int, help="VRRP version 2 or 3 (default: learnt).")
@click.option("--advert-int", type=float, help="Advert interval in seconds (default: learnt).")
@click.option(
    "--auth-pass",
    help="VRRPv2 simple password (default: learnt from the wire); visible in ps, prefer "
    "--auth-pass-file.",
)
@click.option(
    "--auth-pass-file",
    type=click.Path(dir_okay=False),
    help="Read the VRRPv2 simple password (or AH key) from the first line of this file.",
)
@click.option(
    "--auth-type",
    type=click.Choice(["pass", "ah"], case_sensitive=False),
    help="VRRPv2 authentication: pass (simple password) or ah (keepalived's IPsec AH, "
    "HMAC-MD5-96 keyed with --auth-pass-file); default: pass with a password, else learnt.",
)
@click.option(
    "--unicast-peer",
    "unicast_peers",
    multiple=True,
    metavar="ADDR",
    help="Send adverts to this peer instead of multicast (repeatable).",
)
@click.option("--no-preempt", is_flag=True, help="Never take over from a lower-priority master.")
@click.option(
    "--preempt-delay",
    type=float,
    show_default=str(DEFAULT_PREEMPT_DELAY_S),
    help="Seconds before preempting.",
)
@click.option("--accept-mode", is_flag=True, help="RFC 5798 Accept_Mode (default off).")
@click.option(
    "--learn-timeout",
    type=float,
    show_default=str(DEFAULT_LEARN_TIMEOUT_S),
    help="Seconds to wait for the master's advert.",
)
@click.option(
    "--garp-repeat",
    type=int,
    show_default=str(DEFAULT_GARP_REPEAT),
    help="Gratuitous ARPs / NAs per burst on becoming master.",
)
@click.option(
    "--garp-delay",
    type=float,
    show_default=str(DEFAULT_GARP_DELAY_S),
    help="Seconds until the second burst (0: none).",
)
@click.option(
    "--use-vmac",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[NAME]",
    help="keepalived use_vmac: run on a macvlan with the virtual MAC (named NAME, default "
    "vrrp.VRID); removed at the end.",
)
@click.option(
    "--vmac-xmit-base", is_flag=True, help="With --use-vmac: send adverts from the interface."
)
@click.option("--dry-run", is_flag=True, help="Run the state machine but never send or add.")
@click.option("--notify", metavar="CMD", help="Run CMD INSTANCE NAME STATE PRIORITY on changes.")
@click.option("--state-file", type=click.Path(dir_okay=False), help="Where VIPs held are noted.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.option(
    "--metrics",
    metavar="ADDR:PORT",
    callback=lambda ctx, param, value: _check_listen(value),
    help="Serve Prometheus metrics on http://ADDR:PORT/metrics (e.g. 127.0.0.1:9568).",
)
def join(
    config_path: str | None,
    instances: tuple[str, ...],
    vrid: int | None,
    priority: int | None,
    interface: str | None,
    vips: tuple[str, ...],
    version: int | None,
    advert_int: float | None,
    auth_pass: str | None,
    auth_pass_file: str | None,
    auth_type: str | None,
    unicast_peers: tuple[str, ...],
    no_preempt: bool,
    preempt_delay: float | None,
    accept_mode: bool,
    learn_timeout: float | None,
    garp_repeat: int | None,
    garp_delay: float | None,
    use_vmac: str | None,
    vmac_xmit_base: bool,
    dry_run: bool,
    notify: str | None,
    state_file: str | None,
    db_path: Path,
    as_json: bool,
    metrics: str | None,
) -> None:
    """Join a VRRP group as a real router (backup unless we have the highest priority).

    With only --vrid and --priority the group's version, interval, virtual addresses and
    password are learnt from the current master's advert. Stop with Ctrl-C or SIGTERM: as
    master it sends a priority-0 advert and removes the addresses.

    With --config, the vrrp_instances of an existing keepalived.conf give every setting the
    command line does not: join runs every instance of the file (or those named with
    --instance), each on its own interface, in one process, with the file's vrrp_sync_groups
    and notify scripts. Flags that set an instance's value need exactly one instance.

    \b
    Example:
        vrrpwatch join --vrid 1 --priority 50
        vrrpwatch join --vrid 5 --priority 120 --vip 192.0.2.5/24 --version 3 --advert-int 0.1
        vrrpwatch join --config /etc/keepalived/keepalived.conf --instance VI_1 --priority 50
        vrrpwatch join --config /etc/keepalived/keepalived.conf
        vrrpwatch join --vrid 1 --priority 50 --metrics 127.0.0.1:9568
        vrrpwatch join --vrid 3 --priority 50 --auth-type ah --auth-pass-file /etc/vrrp.key
        vrrpwatch join --vrid 7 --priority 50 --use-vmac
    """
    from vrrpwatch.errors import VrrpwatchError
    from vrrpwatch.join import settings as join_settings
    from vrrpwatch.join import setup

    # The options the user gave (None: not given), by JoinOptions field; they win over
    # --config's, which win over the defaults.
    flags: dict[str, object] = {
        "vrid": vrid,
        "priority": priority,
        "interface": interface,
        "vips": vips or None,
        "version": version,
        "advert_int_s": advert_int,
        "auth_pass": auth_pass,
        "auth_pass_file": auth_pass_file,
        "auth_type": auth_type.lower() if auth_type else None,
        "unicast_peers": unicast_peers or None,
        "preempt": False if no_preempt else None,
        "preempt_delay_s": preempt_delay,
        "accept_mode": accept_mode or None,
        "learn_timeout_s": learn_timeout,
        "dry_run": dry_run or None,
        "notify": notify,
        "state_file": state_file,
        "garp_repeat": garp_repeat,
        "garp_delay_s": garp_delay,
        "use_vmac": use_vmac,
        "vmac_xmit_base": vmac_xmit_base or None,
    }
    given = cast(JoinValues, {k: v for k, v in flags.items() if v is not None})
    if auth_pass is not None:
        click.echo(
            "Warning: --auth-pass is visible to every local user (ps, /proc/PID/cmdline); "
            "use --auth-pass-file FILE or --config",
            err=True,
        )

    plan: Any = None
    label: str | None = None
    if config_path is not None:
        from vrrpwatch.keepalived.config import KaConfError

        try:
            config = join_settings.load_join_config(config_path, instances)
        except KaConfError as exc:
            raise InputError(str(exc)) from None
        except OSError as exc:
            raise InputError(f"{config_path}: {exc.strerror}") from None
        for warning in config.warnings:
            click.echo(f"Warning: {config_path}: {warning}", err=True)
        label = config.settings[0].instance
    elif instances:
        raise click.UsageError("--instance needs --config")
    try:
        if config_path is not None:
            plan = join_settings.resolve_plan(given, config)
        else:
            plan = join_settings.resolve_options(given)
        first = plan if isinstance(plan, join_settings.JoinOptions) else plan.instances[0]
        # SIGHUP re-reads --config (passed only then).
        extra: dict[str, Any] = {}
        if config_path is not None:
            extra["reread"] = _rereader(config_path, instances, given)
        sink = _Sink(as_json, db_path)
        ctx = click.get_current_context()
        ctx.call_on_close(sink.close)
        if metrics is None:
            code = setup.join(plan, sink, before_start=sink.open_db, **extra)
        else:
            serve = _Metrics(metrics, first.vrid, label, ctx)
            code = setup.join(
                plan,
                sink,
                before_start=serve.then(sink.open_db),
                on_runtime=serve.attach,
                **extra,
            )
    except VrrpwatchError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"network error: {exc}") from None
    sys.exit(code)


def _rereader(path: str, instances: tuple[str, ...], given: JoinValues) -> Any:
    """SIGHUP: the config read again, its warnings printed, the options resolved as at start."""

    def reread() -> Any:
        from vrrpwatch.join import settings as join_settings

        try:
            config = join_settings.load_join_config(path, instances)
        except OSError as exc:
            raise join_settings.JoinError(f"{path}: {exc.strerror}") from None
        for warning in config.warnings:
            with contextlib.suppress(OSError):
                click.echo(f"Warning: {path}: {warning}", err=True)
        return join_settings.resolve_plan(given, config)

    return reread


def _check_listen(value: str | None) -> str | None:
    from vrrpwatch.ops.server import MetricsError, parse_listen

    if value is not None:
        try:
            parse_listen(value)
        except MetricsError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


class _Metrics:
    """--metrics (vrrpwatch.ops.join): listening once join's checks pass, reading the runtime
    once it exists, closed with the command."""

    def __init__(
        self, listen: str, vrid: int, config_instance: str | None, ctx: click.Context
    ) -> None:
        self.listen = listen
        self.vrid = vrid
        self.config_instance = config_instance
        self.ctx = ctx
        self.ops: Any = None

    def then(self, first: Any) -> Any:
        def before_start() -> None:
            first()
            self.start()

        return before_start

    def start(self) -> None:
        from vrrpwatch.join.settings import JoinError
        from vrrpwatch.ops.join import JoinMetrics, instance_label
        from vrrpwatch.ops.server import MetricsError

        try:
            self.ops = JoinMetrics(self.listen, instance_label(self.vrid, self.config_instance))
        except MetricsError as exc:
            raise JoinError(str(exc)) from None
        self.ctx.call_on_close(self.ops.close)

    def attach(self, runtime: Any) -> None:
        self.ops.attach(runtime)
