"""Opening a database: only ours is written to, a dangling symbolic link or a foreign file is
one line, report reads a read-only database, and the fingerprint key stays outside it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import CAPTURES, ROOT
from vrrpwatch.cli import cli
from vrrpwatch.fingerprints import ENV_KEY, fingerprint
from vrrpwatch.store.db import StoreError, open_db
from vrrpwatch.store.keys import fingerprint_key

FAILOVER = CAPTURES / "v2-failover.pcap"  # VRRPv2 simple-text passwords
VRRPWATCH = str(ROOT / ".venv" / "bin" / "vrrpwatch")


def _invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, r.stdout, r.stderr


def _one_error(stderr: str) -> str:
    (line,) = stderr.splitlines()
    assert line.startswith("Error: ")
    return line


# -- a dangling symbolic link --------------------------------------------------------------------


def test_a_dangling_symlink_is_one_store_error(tmp_path: Path) -> None:
    link = tmp_path / "x.db"
    link.symlink_to(tmp_path / "gone" / "x.db")
    with pytest.raises(StoreError, match="a symbolic link to .*gone/x.db, which does not exist"):
        open_db(link)
    with pytest.raises(StoreError, match="which does not exist"):
        open_db(link, read_only=True)


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_a_dangling_symlink_as_db_is_one_error_line(tmp_path: Path, command: str) -> None:
    link = tmp_path / "x.db"
    link.symlink_to(tmp_path / "missing.db")
    args = [command, str(FAILOVER)] if command == "analyze" else [command]
    code, _, err = _invoke(*args, "--db", str(link))
    assert code == 2
    assert "which does not exist" in _one_error(err)
    assert link.is_symlink() and not link.exists()


# -- another application's file ------------------------------------------------------------------

FOREIGN = {
    "runs-view": """
        CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        INSERT INTO jobs VALUES (1, 'backup');
        CREATE VIEW runs AS SELECT id, name AS kind FROM jobs;
        """,
    "not-null-alerts": """
        CREATE TABLE alerts (id INTEGER PRIMARY KEY, host TEXT NOT NULL, level INTEGER NOT NULL);
        INSERT INTO alerts VALUES (1, 'db1', 3);
        """,
    "their-meta": """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO meta VALUES ('app', 'inventory'), ('version', '7');
        CREATE TABLE runs (id INTEGER PRIMARY KEY, host TEXT);
        """,
}


@pytest.mark.parametrize("schema", sorted(FOREIGN))
@pytest.mark.parametrize("command", ["analyze", "report", "report-json"])
def test_a_foreign_sqlite_file_is_refused_and_left_byte_identical(
    tmp_path: Path, schema: str, command: str
) -> None:
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.executescript(FOREIGN[schema])
    con.commit()
    con.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    files = sorted(p.name for p in tmp_path.iterdir())
    if command == "analyze":
        code, out, err = _invoke("analyze", str(FAILOVER), "--db", str(path))
    else:
        extra = ["--json"] if command == "report-json" else []
        code, out, err = _invoke("report", "--db", str(path), *extra)
    assert code == 2 and out == ""
    assert _one_error(err) == (
        f"Error: {path}: not a vrrpwatch database (no meta table with a schema_version); "
        "left unchanged"
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no -wal, no key file


def test_a_file_that_is_not_sqlite_is_one_line_and_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"shopping list\n" * 200)
    for args in (["analyze", str(FAILOVER)], ["report"]):
        code, _, err = _invoke(*args, "--db", str(path))
        assert code == 2 and "file is not a database" in _one_error(err)
    assert path.read_bytes() == b"shopping list\n" * 200


# -- report on a read-only database --------------------------------------------------------------


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    prefix = []
    if os.geteuid() == 0:  # root reads and writes whatever the modes say
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop root")
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    return subprocess.run([*prefix, VRRPWATCH, *args], capture_output=True, text=True, cwd="/")


@pytest.mark.parametrize("where", ["read-only file", "read-only directory"])
def test_report_works_on_a_read_only_database(where: str, request: pytest.FixtureRequest) -> None:
    home = Path(tempfile.mkdtemp(prefix="vrrpwatch-ro-"))  # not under a 0700 parent
    request.addfinalizer(lambda: (home.chmod(0o755), shutil.rmtree(home)))
    db = home / "x.db"
    assert _invoke("analyze", str(FAILOVER), "--db", str(db))[0] == 0
    want = json.loads(_invoke("report", "--db", str(db), "--json")[1])
    before = db.read_bytes()
    db.chmod(0o444)
    home.chmod(0o555 if where == "read-only directory" else 0o777)
    try:
        r = _as_nobody("report", "--db", str(db), "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == want
        r = _as_nobody("report", "--db", str(db), "--fail-on", "critical")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("run 1 (analyze ")
    finally:
        home.chmod(0o755)
    assert db.read_bytes() == before


def test_report_upgrades_an_older_database_only_if_it_can_write_it(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert _invoke("analyze", str(FAILOVER), "--db", str(db))[0] == 0
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    assert _invoke("report", "--db", str(db))[0] == 0  # writable: upgraded, then read
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() != ("1",)


# -- the fingerprint key -------------------------------------------------------------------------


def _fingerprints(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT password_fingerprint FROM advertisers").fetchall()
    return {r[0] for r in rows if r[0] is not None}


def test_the_key_is_a_0600_file_beside_the_database_never_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    db = tmp_path / "x.db"
    assert _invoke("analyze", str(FAILOVER), "--db", str(db))[0] == 0
    key_file = tmp_path / "x.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = bytes.fromhex(key_file.read_text())
    assert len(key) == 32
    con = sqlite3.connect(db)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert "fingerprint_key" not in meta
    for value in meta.values():  # a copied database holds nothing of the key
        assert key.hex() not in value
    assert key.hex().encode() not in db.read_bytes()
    assert _fingerprints(db) == {fingerprint(b"vrrp4me", key)}  # under the file's key
    # the next run uses the same key: its fingerprints compare with the first run's
    assert _invoke("analyze", str(CAPTURES / "v2-auth-mismatch.pcap"), "--db", str(db))[0] == 0
    assert bytes.fromhex(key_file.read_text()) == key


def test_the_environment_key_makes_no_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_KEY, "from the environment")
    db = tmp_path / "x.db"
    assert _invoke("analyze", str(FAILOVER), "--db", str(db))[0] == 0
    assert not (tmp_path / "x.db.key").exists()
    assert fingerprint_key(open_db(db)) == b"from the environment"


def test_a_key_in_meta_is_moved_out_and_old_fingerprints_stay_comparable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    db = tmp_path / "x.db"
    assert _invoke("analyze", str(FAILOVER), "--db", str(db))[0] == 0
    # make it a database of the schema-1 era: the key in meta, no key file
    key = bytes.fromhex((tmp_path / "x.db.key").read_text())
    (tmp_path / "x.db.key").unlink()
    con = sqlite3.connect(db)
    con.execute("INSERT INTO meta VALUES ('fingerprint_key', ?)", [key.hex()])
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    old = _fingerprints(db)
    assert _invoke("analyze", str(CAPTURES / "v2-auth-mismatch.pcap"), "--db", str(db))[0] == 0
    assert bytes.fromhex((tmp_path / "x.db.key").read_text()) == key
    assert stat.S_IMODE((tmp_path / "x.db.key").stat().st_mode) == 0o600
    assert con.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone() is None
    assert _invoke("analyze", str(FAILOVER), "--db", str(db))[0] == 0  # replaces run 1
    assert _fingerprints(db) >= old


def test_a_key_file_that_disagrees_with_meta_is_one_error(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    open_db(db).close()
    con = sqlite3.connect(db)
    con.execute("INSERT INTO meta VALUES ('fingerprint_key', ?)", ["11" * 32])
    con.commit()
    (tmp_path / "x.db.key").write_text("22" * 32 + "\n")
    code, _, err = _invoke("analyze", str(FAILOVER), "--db", str(db))
    assert code == 2 and "holds another fingerprint key" in _one_error(err)
    (tmp_path / "x.db.key").write_text("not hex\n")
    with pytest.raises(StoreError, match="not a fingerprint key"):
        fingerprint_key(open_db(db))
