"""Decorator bundles for options shared by several commands, and the CLI's error type."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.smallfile import MIB, SmallFileError, read_small_file

F = TypeVar("F", bound=Callable[..., Any])


class InputError(VrrpwatchError):
    """Bad input found by a command (a file, a flag's value): ``Error: ...``, exit 2."""


class _Seconds(click.ParamType[float]):
    """A positive, finite number of seconds (``nan`` and ``inf`` are refused)."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            seconds = value
        else:
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value} is not a positive, finite number of seconds", param, ctx)
        return seconds


SECONDS = _Seconds()


def db_option(f: F) -> F:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default="vrrpwatch.db",
        show_default=True,
        envvar="VRRPWATCH_DB",
        show_envvar=True,
        help="SQLite database to write (created with mode 0600).",
    )(f)


def fail_on_option(f: F) -> F:
    """--fail-on SEVERITY, as analyze and report take it: the verdict that exits 1."""
    return click.option(
        "--fail-on",
        type=click.Choice(["info", "warning", "critical"]),
        help="Exit 1 when an alert of this severity or worse was raised.",
    )(f)


def html_option(f: F) -> F:
    """--html FILE, as analyze and report take it: the failover report page (``report/``)."""
    return click.option(
        "--html",
        "html_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the failover report: one self-contained HTML file (see README).",
    )(f)


def monitor_options(f: F) -> F:
    """--known-routers and --reveal-secrets, as analyze and sniff take them."""
    f = click.option(
        "--reveal-secrets",
        is_flag=True,
        help="Show and store VRRPv2 plaintext passwords instead of fingerprints.",
    )(f)
    f = click.option(
        "--known-routers",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML file of [[router]] tables (address, optional mac and vrids); "
        "any other advertiser raises rogue-advertiser.",
    )(f)
    return f


def check_output_file(path: Path, flag: str) -> None:
    """Refuse, before any work, an output file that cannot be created: so that a run is not
    recorded ``complete`` and then fail (exit 2) on its last step. A write error at the end
    (a full disk) can still happen, and is reported the same way."""
    import os

    if str(path) in ("", "."):
        raise InputError(f"{flag}: an empty file name")
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{flag} {path}: no such directory {str(parent)!r}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{flag} {path}: permission denied")


# A list of known routers is a few KiB; TOML is parsed in memory whole.
_KNOWN_ROUTERS_MAX_BYTES = MIB


def load_known_routers(path: Path | None) -> Any:
    from vrrpwatch.watch.monitor import KnownRouters

    if path is None:
        return None
    try:
        data = read_small_file(path, _KNOWN_ROUTERS_MAX_BYTES, what="TOML file")
        if len(data) > _KNOWN_ROUTERS_MAX_BYTES:
            raise SmallFileError(f"larger than {_KNOWN_ROUTERS_MAX_BYTES // MIB} MiB")
        text = data.decode()
    except SmallFileError as exc:
        raise InputError(f"--known-routers {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"--known-routers {path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return KnownRouters.from_toml(text)
    except ValueError as exc:
        raise InputError(f"--known-routers {path}: {exc}") from None


def open_monitor(db_path: Path, known: Any, reveal_secrets: bool) -> tuple[Any, Any, Any]:
    """The database, a Monitor fingerprinting with the database's key (kept beside it, see
    store/keys.py), and a Store on it:
    what analyze and sniff both start from."""
    from vrrpwatch.fingerprints import fingerprint
    from vrrpwatch.store.db import open_db
    from vrrpwatch.store.keys import fingerprint_key
    from vrrpwatch.store.recorder import Store
    from vrrpwatch.watch.monitor import Monitor

    db = open_db(db_path)
    click.get_current_context().call_on_close(db.close)
    key = fingerprint_key(db)
    monitor = Monitor(
        fingerprint=lambda pw: fingerprint(pw, key),
        known_routers=known,
        reveal_secrets=reveal_secrets,
    )
    return db, monitor, Store(db)
