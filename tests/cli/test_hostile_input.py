"""Command-line input an unlucky operator gives (issue 11, "CLI input"): one Error line, exit 2,
nothing recorded that disagrees with the exit code."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import CAPTURES
from vrrpwatch.cli import cli

FAILOVER = CAPTURES / "v2-failover.pcap"


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, r.stdout, r.stderr


def one_error(code: int, stderr: str, *needles: str) -> None:
    assert code == 2
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'[[router]]\naddress = "\xff"\n', "not UTF-8 text (byte 22)"),
        (b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
        (b'[[router]]\naddress = "192.0.2.1"\nmac = "nope"\n', "router #1: mac: expected"),
        (b'[[router]]\naddress = "192.0.2.1"\nvrids = [true, 2]\n', "router #1: vrids"),
        (b'[[router]]\naddress = "fe80::1%eth0"\n', "has a zone index"),
        (b"x" * (1 << 20 | 1), "larger than 1 MiB"),
    ],
)
def test_known_routers_file(tmp_path: Path, content: bytes, needle: str) -> None:
    known = tmp_path / "known.toml"
    known.write_bytes(content)
    code, _, err = run(
        "analyze", str(FAILOVER), "--known-routers", str(known), "--db", str(tmp_path / "x.db")
    )
    one_error(code, err, "--known-routers", needle)


def test_known_routers_device_is_not_read(tmp_path: Path) -> None:
    code, _, err = run(
        "analyze", str(FAILOVER), "--known-routers", "/dev/zero", "--db", str(tmp_path / "x.db")
    )
    one_error(code, err, "not a regular file")


def test_a_capture_name_that_is_not_utf8(tmp_path: Path) -> None:
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/cap-\xff.pcap"))
    odd.write_bytes(FAILOVER.read_bytes())
    db = tmp_path / "x.db"
    code, out, err = run("analyze", str(odd), "--db", str(db), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["run"]["source"].endswith("/cap-\\xff.pcap")
    code, out, err = run("decode", "--json", str(odd), str(FAILOVER))
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["file"].endswith("/cap-\\xff.pcap")
    code, _, err = run("decode", str(tmp_path / "x\udcfe"))
    one_error(code, err, "x\\xfe: no such file")


def test_a_database_name_that_is_not_utf8(tmp_path: Path) -> None:
    db = os.fsdecode(bytes(tmp_path) + b"/\xff.db")
    code, _, err = run("analyze", str(FAILOVER), "--db", db)
    one_error(code, err, "\\xff.db: not a UTF-8 file name")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("dest", ["missing-dir/r.html", ""])
def test_html_destination_checked_before_the_run(tmp_path: Path, dest: str) -> None:
    db = tmp_path / "x.db"
    target = str(tmp_path / dest) if dest not in ("", ".") else dest
    code, _, err = run("analyze", str(FAILOVER), "--db", str(db), "--html", target)
    one_error(code, err, "--html")
    if db.exists():  # no run was begun, so none is left "complete" behind an exit 2
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
