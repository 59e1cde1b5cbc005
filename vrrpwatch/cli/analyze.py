"""``vrrpwatch analyze`` and ``vrrpwatch report``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vrrpwatch.text import path_label

from . import EXIT_VERDICT, cli
from .options import (
    InputError,
    check_output_file,
    db_option,
    fail_on_option,
    html_option,
    load_known_routers,
    monitor_options,
    open_monitor,
)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (see README).")
@monitor_options
@fail_on_option
@click.option(
    "--engine",
    type=click.Choice(["native", "tshark"]),
    default="native",
    show_default=True,
    help="native: our pcap/pcapng reader; tshark: any format Wireshark reads.",
)
@html_option
def analyze(
    files: tuple[str, ...],
    db_path: Path,
    as_json: bool,
    known_routers: Path | None,
    reveal_secrets: bool,
    fail_on: str | None,
    engine: str,
    html_path: Path | None,
) -> None:
    """Analyze pcap/pcapng FILES: virtual routers, master timeline, failover gaps, alerts.

    Several files are read in order as one capture (e.g. rotated files). Results go to the
    SQLite database; analyzing the same files again replaces the earlier run. Use - for stdin.

    \b
    Example:
        vrrpwatch analyze captures/v2-failover.pcap
        vrrpwatch analyze --json --fail-on critical capture.pcapng | jq .alerts
        vrrpwatch analyze captures/v2-failover.pcap --html report.html
    """
    from vrrpwatch.store.run import recorded_run
    from vrrpwatch.store.summary import fails_on, summarize
    from vrrpwatch.watch.files import ContentIdentity, run_files

    known = load_known_routers(known_routers)
    if html_path is not None:
        check_output_file(html_path, "--html")
    if files.count("-") > 1:
        raise InputError("- (standard input) can be read only once")
    for f in files:
        if f == "":
            raise InputError("'': an empty file name")
        if f != "-" and Path(f).is_dir():
            raise InputError(f"{path_label(f)}: is a directory, not a capture file")
        if f != "-" and not Path(f).exists():
            raise InputError(f"{path_label(f)}: no such file")
    db, monitor, store = open_monitor(db_path, known, reveal_secrets)
    identity = ContentIdentity(files, engine)
    progress_cb, finish_progress = _progress(files)
    with recorded_run(
        store, monitor, kind="analyze", source=" ".join(map(path_label, files))
    ) as run:
        try:
            run_files(
                files, monitor, store, engine=engine, on_progress=progress_cb, identity=identity
            )
        finally:
            finish_progress()
            run.identity = identity.hexdigest()  # known once read: set when the run ends
    doc = summarize(db, run.run_id)
    if html_path is not None:
        _write_html(db, run.run_id, html_path, reveal_secrets)
    _render(doc, as_json)
    run.check()
    if fails_on(doc, fail_on):
        raise click.exceptions.Exit(EXIT_VERDICT)


def _render(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        from .jsonout import print_json

        print_json(doc)
    else:
        from rich.console import Console

        from .render import render_summary

        render_summary(doc, Console(highlight=False, width=None if sys.stdout.isatty() else 160))


def _progress(files: tuple[str, ...]) -> tuple[Any, Any]:
    """A progress bar on stderr for large files when stderr is a terminal."""
    big = sum(Path(f).stat().st_size for f in files if f != "-" and Path(f).is_file())
    if not sys.stderr.isatty() or big < 50 << 20:
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    prog = Progress(
        "{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    prog.start()
    tasks: dict[str, Any] = {}

    def update(fp: Any, done: int) -> None:
        if fp.name not in tasks:
            tasks[fp.name] = prog.add_task(fp.name, total=fp.size)
        prog.update(tasks[fp.name], completed=done)

    return update, prog.stop


@cli.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--run",
    "run_id",
    type=click.IntRange(1, 2**63 - 1),
    help="Run id (default: the latest run).",
)
@html_option
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="--html shows the passwords a --reveal-secrets run stored, not fingerprints.",
)
@fail_on_option
def report(
    db_path: Path,
    as_json: bool,
    run_id: int | None,
    html_path: Path | None,
    reveal_secrets: bool,
    fail_on: str | None,
) -> None:
    """Print the summary of a run from the database (works while sniff is writing it, and on
    a read-only database; changes nothing). With --fail-on, a run that was interrupted or
    ended in an error is an error (exit 2): its alerts cover part of the input only.

    \b
    Example:
        vrrpwatch report --db vrrpwatch.db --json | jq '.virtual_routers[].master'
        vrrpwatch report --fail-on critical || echo "critical alerts in the last run"
        vrrpwatch report --db lan.db --html report.html
    """
    from vrrpwatch.store.db import open_db
    from vrrpwatch.store.summary import NoRun, check_complete, fails_on, latest_run, summarize

    db = open_db(db_path, read_only=True)
    click.get_current_context().call_on_close(db.close)
    try:
        doc = summarize(db, run_id if run_id is not None else latest_run(db))
        if html_path is not None:
            _write_html(db, doc["run"]["id"], html_path, reveal_secrets)
    except NoRun as exc:
        raise InputError(f"{db_path}: {exc}") from None
    _render(doc, as_json)
    if fail_on is not None:
        check_complete(doc)
    if fails_on(doc, fail_on):
        raise click.exceptions.Exit(EXIT_VERDICT)


def _write_html(db: Any, run_id: int, path: Path, reveal_secrets: bool) -> None:
    """--html: the report page of the run (``vrrpwatch.report``)."""
    from vrrpwatch.report.html import ReportError, write_report
    from vrrpwatch.store.timeline import report_data

    try:
        write_report(path, report_data(db, run_id), reveal_secrets=reveal_secrets)
    except ReportError as exc:
        raise InputError(str(exc)) from None
