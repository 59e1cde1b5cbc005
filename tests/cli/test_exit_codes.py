"""The exit-code contract of every command (README "Exit codes"), one row per situation:

0 done; 1 a verdict the user asked for (--fail-on, audit findings); 2 any error, with exactly one
``Error: ...`` line and no traceback; 130 on Ctrl-C in a batch command; sniff and join exit 0
when a signal stops them.

Most rows run in-process through CliRunner. Ctrl-C is a KeyboardInterrupt raised where the
command reads its input (standard input that raises on read), or a real SIGINT to a child
process. Rows that need raw sockets run as root and skip (fail under CI) without it.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import CAPTURES, ROOT, lab_unavailable
from vrrpwatch import netif
from vrrpwatch.cli import cli
from vrrpwatch.store import db as store_db
from vrrpwatch.store.db import open_db

FAILOVER = CAPTURES / "v2-failover.pcap"  # warnings (plaintext-auth), no critical alert
KACONF = ROOT / "tests" / "keepalived" / "confs"
R1, R2 = KACONF / "lab-v2" / "r1.conf", KACONF / "lab-v2" / "r2.conf"
BADPASS = KACONF / "broken" / "r2-badpass.conf"
VRRPWATCH = [sys.executable, "-m", "vrrpwatch"]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


class _CtrlC(io.RawIOBase):
    """Standard input on which the user presses Ctrl-C: reading raises KeyboardInterrupt."""

    def readable(self) -> bool:
        return True

    def readinto(self, b: object) -> int:
        raise KeyboardInterrupt


def _invoke(args: list[str], *, stdin: object = None) -> Outcome:
    r = CliRunner().invoke(cli, args, input=stdin)
    # An uncaught exception (other than SystemExit) is a traceback for the user: a bug.
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return Outcome(r.exit_code, r.stdout, r.stderr)


def _ctrl_c() -> io.BufferedReader:
    return io.BufferedReader(_CtrlC())


def _needs_root() -> None:
    if os.geteuid() != 0:
        lab_unavailable("needs root (raw sockets)")


def _analyzed(tmp: Path) -> Path:
    db = tmp / "x.db"
    assert _invoke(["analyze", str(FAILOVER), "--db", str(db)]).code == 0
    return db


# -- decode --------------------------------------------------------------------------------------


def decode_ok(tmp: Path) -> Outcome:
    return _invoke(["decode", str(FAILOVER)])


def decode_missing_file(tmp: Path) -> Outcome:
    return _invoke(["decode", str(tmp / "missing.pcap")])


def decode_not_a_capture(tmp: Path) -> Outcome:
    (tmp / "text.pcap").write_text("not a capture\n")
    return _invoke(["decode", str(tmp / "text.pcap")])


def decode_no_files(tmp: Path) -> Outcome:
    return _invoke(["decode"])


def decode_ctrl_c(tmp: Path) -> Outcome:
    return _invoke(["decode", "-"], stdin=_ctrl_c())


# -- analyze -------------------------------------------------------------------------------------


def analyze_ok(tmp: Path) -> Outcome:
    return _invoke(["analyze", str(FAILOVER), "--db", str(tmp / "x.db")])


def analyze_fail_on_warning(tmp: Path) -> Outcome:
    return _invoke(["analyze", str(FAILOVER), "--fail-on", "warning", "--db", str(tmp / "x.db")])


def analyze_fail_on_critical_not_met(tmp: Path) -> Outcome:
    return _invoke(["analyze", str(FAILOVER), "--fail-on", "critical", "--db", str(tmp / "x.db")])


def analyze_missing_file(tmp: Path) -> Outcome:
    return _invoke(["analyze", str(tmp / "missing.pcap"), "--db", str(tmp / "x.db")])


def analyze_truncated(tmp: Path) -> Outcome:
    data = FAILOVER.read_bytes()
    (tmp / "cut.pcap").write_bytes(data[: len(data) // 2 + 5])
    return _invoke(["analyze", str(tmp / "cut.pcap"), "--db", str(tmp / "x.db")])


def analyze_bad_known_routers(tmp: Path) -> Outcome:
    (tmp / "known.toml").write_text("[[router]]\nmac = 1\n")
    args = ["analyze", str(FAILOVER), "--known-routers", str(tmp / "known.toml")]
    return _invoke([*args, "--db", str(tmp / "x.db")])


def analyze_bad_fail_on(tmp: Path) -> Outcome:
    return _invoke(["analyze", str(FAILOVER), "--fail-on", "loud", "--db", str(tmp / "x.db")])


def analyze_database_is_a_directory(tmp: Path) -> Outcome:
    return _invoke(["analyze", str(FAILOVER), "--db", str(tmp)])


def analyze_locked_database(tmp: Path) -> Outcome:
    db = tmp / "x.db"
    with _locked(db):
        out = _invoke(["analyze", str(FAILOVER), "--db", str(db)])
    assert "database is locked" in out.stderr
    return out


@contextmanager
def _locked(db: Path) -> Iterator[None]:
    """Another process holds the write lock on ``db`` and does not let go (for longer than
    the store's lock timeout, shortened here)."""
    open_db(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(store_db, "LOCK_TIMEOUT_S", 0.2)
            yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _dangling(tmp: Path) -> Path:
    link = tmp / "link.db"
    link.symlink_to(tmp / "gone.db")
    return link


def _foreign(tmp: Path) -> Path:
    """Another application's SQLite file, with a ``runs`` view and a NOT NULL ``alerts``."""
    path = tmp / "app.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE VIEW runs AS SELECT id, name AS kind FROM jobs;
        CREATE TABLE alerts (id INTEGER PRIMARY KEY, host TEXT NOT NULL);
        """
    )
    con.commit()
    con.close()
    return path


def analyze_dangling_symlink_db(tmp: Path) -> Outcome:
    out = _invoke(["analyze", str(FAILOVER), "--db", str(_dangling(tmp))])
    assert "which does not exist" in out.stderr
    return out


def analyze_foreign_database(tmp: Path) -> Outcome:
    path = _foreign(tmp)
    before = path.read_bytes()
    out = _invoke(["analyze", str(FAILOVER), "--db", str(path)])
    assert "not a vrrpwatch database" in out.stderr and path.read_bytes() == before
    return out


def analyze_empty_file_name(tmp: Path) -> Outcome:
    out = _invoke(["analyze", "", "--db", str(tmp / "x.db")])
    assert "is a directory" not in out.stderr and "empty file name" in out.stderr
    return out


def analyze_stdin_twice(tmp: Path) -> Outcome:
    out = _invoke(["analyze", "-", "-", "--db", str(tmp / "x.db")], stdin=FAILOVER.read_bytes())
    assert "standard input" in out.stderr
    return out


def analyze_ctrl_c(tmp: Path) -> Outcome:
    out = _invoke(["analyze", "-", "--db", str(tmp / "x.db")], stdin=_ctrl_c())
    con = sqlite3.connect(tmp / "x.db")
    assert con.execute("SELECT status FROM runs").fetchall() == [("error: interrupted",)]
    return out


# -- report --------------------------------------------------------------------------------------


def report_ok(tmp: Path) -> Outcome:
    return _invoke(["report", "--db", str(_analyzed(tmp))])


def report_fail_on_warning(tmp: Path) -> Outcome:
    return _invoke(["report", "--fail-on", "warning", "--db", str(_analyzed(tmp))])


def report_fail_on_critical_not_met(tmp: Path) -> Outcome:
    return _invoke(["report", "--fail-on", "critical", "--json", "--db", str(_analyzed(tmp))])


def report_no_database(tmp: Path) -> Outcome:
    return _invoke(["report", "--db", str(tmp / "none.db")])


def report_no_such_run(tmp: Path) -> Outcome:
    return _invoke(["report", "--run", "99", "--db", str(_analyzed(tmp))])


def report_empty_database(tmp: Path) -> Outcome:
    open_db(tmp / "empty.db").close()
    return _invoke(["report", "--db", str(tmp / "empty.db")])


def _interrupted(tmp: Path) -> Path:
    """A database whose last run's process was killed (kill -9): still ``running``."""
    db = _analyzed(tmp)
    gone = subprocess.Popen(["true"])
    gone.wait()
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET status = 'running', stopped = NULL, pid = ?", [gone.pid])
    con.commit()
    con.close()
    return db


def report_interrupted(tmp: Path) -> Outcome:
    out = _invoke(["report", "--db", str(_interrupted(tmp))])
    assert out.stdout.startswith("run 1 (analyze ") and ": interrupted\n" in out.stdout
    return out


def report_fail_on_interrupted(tmp: Path) -> Outcome:
    out = _invoke(["report", "--fail-on", "critical", "--db", str(_interrupted(tmp))])
    assert "was interrupted" in out.stderr
    return out


def report_run_too_large(tmp: Path) -> Outcome:
    return _invoke(["report", "--run", "99999999999999999999", "--db", str(_analyzed(tmp))])


def report_dangling_symlink_db(tmp: Path) -> Outcome:
    return _invoke(["report", "--db", str(_dangling(tmp))])


def report_foreign_database(tmp: Path) -> Outcome:
    path = _foreign(tmp)
    before = path.read_bytes()
    out = _invoke(["report", "--db", str(path)])
    assert "not a vrrpwatch database" in out.stderr and path.read_bytes() == before
    return out


def report_ctrl_c(tmp: Path) -> Outcome:
    db = _analyzed(tmp)
    import vrrpwatch.store.summary as summary

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(summary, "summarize", interrupted)
        return _invoke(["report", "--db", str(db)])


# -- audit ---------------------------------------------------------------------------------------


def audit_clean(tmp: Path) -> Outcome:
    return _invoke(["audit", str(R1), str(R2)])


def audit_findings(tmp: Path) -> Outcome:
    return _invoke(["audit", str(R1), str(BADPASS)])


def audit_missing_config(tmp: Path) -> Outcome:
    return _invoke(["audit", str(tmp / "nope.conf")])


def audit_unreadable_capture(tmp: Path) -> Outcome:
    (tmp / "text.pcap").write_text("not a capture\n")
    return _invoke(["audit", str(R1), str(R2), "--capture", str(tmp / "text.pcap")])


def audit_ctrl_c(tmp: Path) -> Outcome:
    return _invoke(["audit", str(R1), str(R2), "--capture", "-"], stdin=_ctrl_c())


# -- sniff ---------------------------------------------------------------------------------------


def sniff_unknown_interface(tmp: Path) -> Outcome:
    return _invoke(["sniff", "nosuch0", "--duration", "1", "--db", str(tmp / "x.db")])


def sniff_bad_duration(tmp: Path) -> Outcome:
    return _invoke(["sniff", "lo", "--duration", "0", "--db", str(tmp / "x.db")])


def sniff_duration_nan(tmp: Path) -> Outcome:
    return _invoke(["sniff", "lo", "--duration", "nan", "--db", str(tmp / "x.db")])


def sniff_dangling_symlink_db(tmp: Path) -> Outcome:
    _needs_root()
    out = _invoke(["sniff", "lo", "--duration", "0.2", "--db", str(_dangling(tmp))])
    assert "which does not exist" in out.stderr
    return out


def sniff_pcap_out_full_disk(tmp: Path) -> Outcome:
    """--pcap-out /dev/full: the first flush fails; the run ends as an error, committed."""
    _needs_root()
    db = tmp / "x.db"
    out = _invoke(["sniff", "lo", "--duration", "5", "--pcap-out", "/dev/full", "--db", str(db)])
    assert "--pcap-out /dev/full: No space left on device" in out.stderr
    con = sqlite3.connect(db)
    (status,) = con.execute("SELECT status FROM runs").fetchone()
    assert status == "error: --pcap-out /dev/full: No space left on device"
    return out


def sniff_duration_ends(tmp: Path) -> Outcome:
    _needs_root()
    return _invoke(["sniff", "lo", "--duration", "0.2", "--db", str(tmp / "x.db")])


def sniff_locked_database(tmp: Path) -> Outcome:
    _needs_root()
    db = tmp / "x.db"
    with _locked(db):
        out = _invoke(["sniff", "lo", "--duration", "0.2", "--db", str(db)])
    assert "database is locked" in out.stderr
    return out


def sniff_sigint(tmp: Path) -> Outcome:
    return _signalled(["sniff", "lo", "--db", str(tmp / "x.db")], "sniffing on lo", signal.SIGINT)


def sniff_sigterm(tmp: Path) -> Outcome:
    args = ["sniff", "lo", "--db", str(tmp / "x.db")]
    return _signalled(args, "sniffing on lo", signal.SIGTERM)


def sniff_as_nobody(tmp: Path) -> Outcome:
    return _as_nobody(["sniff", "lo", "--duration", "1", "--db", str(tmp / "x.db")], tmp)


# -- join ----------------------------------------------------------------------------------------


def join_invalid_vrid(tmp: Path) -> Outcome:
    return _invoke(["join", "--vrid", "0", "--priority", "50", "--db", str(tmp / "j.db")])


def join_invalid_priority(tmp: Path) -> Outcome:
    return _invoke(["join", "--vrid", "1", "--priority", "256", "--db", str(tmp / "j.db")])


def join_missing_priority(tmp: Path) -> Outcome:
    return _invoke(["join", "--vrid", "1", "--db", str(tmp / "j.db")])


def join_unknown_interface(tmp: Path) -> Outcome:
    args = ["join", "--vrid", "1", "--priority", "50", "--interface", "nosuch0"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(netif, "is_root", lambda: True)  # the interface is looked up first
        return _invoke([*args, "--db", str(tmp / "j.db")])


def join_no_root(tmp: Path) -> Outcome:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(netif, "is_root", lambda: False)
        return _invoke(["join", "--vrid", "1", "--priority", "50", "--db", str(tmp / "j.db")])


def join_as_nobody(tmp: Path) -> Outcome:
    return _as_nobody(["join", "--vrid", "1", "--priority", "50", "--db", str(tmp / "j.db")], tmp)


def _join_on_lo(tmp: Path) -> list[str]:
    # VRID 231 on loopback: nobody advertises, so join waits to learn until the signal.
    args = ["join", "--vrid", "231", "--priority", "50", "--interface", "lo"]
    return [*args, "--learn-timeout", "60", "--db", str(tmp / "j.db")]


def join_dangling_symlink_db(tmp: Path) -> Outcome:
    _needs_root()
    args = _join_on_lo(tmp)
    args[args.index("--db") + 1] = str(_dangling(tmp))
    out = _invoke(args)
    assert "which does not exist" in out.stderr
    return out


def join_sigterm(tmp: Path) -> Outcome:
    return _signalled(_join_on_lo(tmp), "Listening on lo", signal.SIGTERM)


def join_sigint(tmp: Path) -> Outcome:
    return _signalled(_join_on_lo(tmp), "Listening on lo", signal.SIGINT)


# -- child processes -----------------------------------------------------------------------------


def _signalled(args: list[str], ready: str, sig: int) -> Outcome:
    """Start the command, wait until it prints ``ready``, send ``sig``, collect its exit."""
    _needs_root()
    proc = subprocess.Popen(
        [*VRRPWATCH, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert ready in first, first
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Outcome(proc.returncode, first + stdout, stderr)


def _as_nobody(args: list[str], tmp: Path) -> Outcome:
    """Run as an unprivileged user: this one, or nobody when the tests run as root."""
    if os.geteuid() != 0:
        r = subprocess.run(
            [*VRRPWATCH, *args], capture_output=True, text=True, cwd=ROOT, timeout=60
        )
        return Outcome(r.returncode, r.stdout, r.stderr)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        lab_unavailable("setpriv is needed to drop root")
    os.chmod(tmp, 0o777)
    r = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         *VRRPWATCH, *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    return Outcome(r.returncode, r.stdout, r.stderr)


CASES: list[tuple[str, Callable[[Path], Outcome], int]] = [
    ("decode", decode_ok, 0),
    ("decode", decode_missing_file, 2),
    ("decode", decode_not_a_capture, 2),
    ("decode", decode_no_files, 2),
    ("decode", decode_ctrl_c, 130),
    ("analyze", analyze_ok, 0),
    ("analyze", analyze_fail_on_critical_not_met, 0),
    ("analyze", analyze_fail_on_warning, 1),
    ("analyze", analyze_missing_file, 2),
    ("analyze", analyze_truncated, 2),
    ("analyze", analyze_bad_known_routers, 2),
    ("analyze", analyze_bad_fail_on, 2),
    ("analyze", analyze_database_is_a_directory, 2),
    ("analyze", analyze_locked_database, 2),
    ("analyze", analyze_dangling_symlink_db, 2),
    ("analyze", analyze_foreign_database, 2),
    ("analyze", analyze_empty_file_name, 2),
    ("analyze", analyze_stdin_twice, 2),
    ("analyze", analyze_ctrl_c, 130),
    ("report", report_ok, 0),
    ("report", report_fail_on_critical_not_met, 0),
    ("report", report_fail_on_warning, 1),
    ("report", report_no_database, 2),
    ("report", report_no_such_run, 2),
    ("report", report_empty_database, 2),
    ("report", report_interrupted, 0),
    ("report", report_fail_on_interrupted, 2),
    ("report", report_run_too_large, 2),
    ("report", report_dangling_symlink_db, 2),
    ("report", report_foreign_database, 2),
    ("report", report_ctrl_c, 130),
    ("audit", audit_clean, 0),
    ("audit", audit_findings, 1),
    ("audit", audit_missing_config, 2),
    ("audit", audit_unreadable_capture, 2),
    ("audit", audit_ctrl_c, 130),
    ("sniff", sniff_duration_ends, 0),
    ("sniff", sniff_sigint, 0),
    ("sniff", sniff_sigterm, 0),
    ("sniff", sniff_unknown_interface, 2),
    ("sniff", sniff_bad_duration, 2),
    ("sniff", sniff_duration_nan, 2),
    ("sniff", sniff_dangling_symlink_db, 2),
    ("sniff", sniff_pcap_out_full_disk, 2),
    ("sniff", sniff_locked_database, 2),
    ("sniff", sniff_as_nobody, 2),
    ("join", join_sigint, 0),
    ("join", join_sigterm, 0),
    ("join", join_invalid_vrid, 2),
    ("join", join_invalid_priority, 2),
    ("join", join_missing_priority, 2),
    ("join", join_unknown_interface, 2),
    ("join", join_no_root, 2),
    ("join", join_dangling_symlink_db, 2),
    ("join", join_as_nobody, 2),
]


@pytest.mark.parametrize(
    ("command", "situation", "expected"),
    CASES,
    ids=[f"{c}-{s.__name__.removeprefix(c + '_')}-{e}" for c, s, e in CASES],
)
def test_exit_code(
    command: str, situation: Callable[[Path], Outcome], expected: int, tmp_path: Path
) -> None:
    out = situation(tmp_path)
    assert out.code == expected, (out.stdout[-500:], out.stderr)
    assert "Traceback" not in out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    if expected == 2:
        assert len(errors) == 1, out.stderr
        assert out.stderr.count("Error") == 1, out.stderr
    else:
        assert errors == [], out.stderr


def test_a_real_ctrl_c_stops_analyze_with_130(tmp_path: Path) -> None:
    """SIGINT while analyze reads a pipe: exit 130, the run closed as interrupted."""
    db = tmp_path / "x.db"
    proc = subprocess.Popen(
        [*VRRPWATCH, "analyze", "-", "--db", str(db)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(FAILOVER.read_bytes())  # a whole capture, but no end of file
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        while not _has_running_run(db):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT status FROM runs").fetchall() == [("error: interrupted",)]


def _has_running_run(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        con = sqlite3.connect(db)
        try:
            return bool(con.execute("SELECT 1 FROM runs WHERE status = 'running'").fetchall())
        finally:
            con.close()
    except sqlite3.Error:
        return False


def test_the_readme_documents_the_codes_once() -> None:
    from vrrpwatch.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_VERDICT

    readme = (ROOT / "README.md").read_text()
    assert readme.count("## Exit codes\n") == 1
    section = readme.split("## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    codes = [
        int(line.split("|")[1])
        for line in section.splitlines()
        if line[:3] in {"| 0", "| 1", "| 2"}
    ]
    assert codes == [EXIT_OK, EXIT_VERDICT, EXIT_ERROR, EXIT_INTERRUPTED]
    assert {c for c, _, _ in CASES} == set(cli.commands)  # every command has its rows
