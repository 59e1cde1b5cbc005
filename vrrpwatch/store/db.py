"""Opening the SQLite store shared by ``analyze``, ``sniff`` and ``report`` (the only
sqlite_utils user), and its write transactions.

``open_db`` opens a file in WAL mode with the schema ensured (schema.py); a new database file is
created with mode 0600 (it may hold password fingerprints, and plaintext passwords with
``--reveal-secrets``); SQLite gives its -wal and -shm files the same mode. Writes go in
transactions (``write_transaction``: the write lock at once, waiting at most LOCK_TIMEOUT_S for
another process's), so a killed process loses at most the open batch (recorder.py writes a run).

A file is ours when it has a ``meta`` table with a ``schema_version`` row (or is empty): any
other SQLite file is refused before anything is written to it. The password fingerprints' key
is kept outside the database (keys.py).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.store.schema import META_KEYS, TABLES, ensure_schema, schema_is_current
from vrrpwatch.text import path_label

DEFAULT_DB = "vrrpwatch.db"
LOCK_TIMEOUT_S = 10.0  # how long a write waits for another process's transaction


class StoreError(VrrpwatchError):
    """The database cannot be opened or written; a one-line message."""


def open_db(path: str | Path, *, read_only: bool = False) -> sqlite_utils.Database:
    """Open the database at ``path`` in WAL mode, schema ensured; a new file is created with
    mode 0600. ``read_only`` (report): open it read-only, so a read-only file or directory
    works; a database of an older schema is then upgraded if it can be written, else refused.

    A file that is not ours (an SQLite file of another application, not SQLite at all), a
    directory or a dangling symbolic link gives a one-line StoreError and is left untouched."""
    p = Path(path)
    try:
        str(p).encode()
    except UnicodeEncodeError:
        # SQLite reports its file names as UTF-8 (PRAGMA database_list): refuse before creating.
        raise StoreError(f"{path_label(p)}: not a UTF-8 file name, which SQLite needs") from None
    exists = _check_path(p)
    if read_only and not exists:
        raise StoreError(f"{p}: no such database")
    if read_only:
        db = _connect(p, read_only=True)
        try:
            state = _schema_state(db, p)
        except BaseException:
            db.close()
            raise
        if state == "current":
            return db
        db.close()
        if state == "empty":
            raise StoreError(f"{p}: the database holds no run yet")
    try:
        if not exists:
            fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.close(fd)
    except FileExistsError:
        pass  # made by another process meanwhile
    except OSError as exc:
        raise StoreError(f"{p}: cannot open database ({exc.strerror})") from None
    db = _connect(p, read_only=False)
    try:
        state = _schema_state(db, p)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        if state != "current":
            with write_transaction(db):
                ensure_schema(db)
    except sqlite3.Error as exc:
        db.close()
        raise StoreError(f"{p}: cannot open database ({sqlite_message(exc)})") from None
    except BaseException:
        db.close()
        raise
    return db


def _check_path(p: Path) -> bool:
    """Whether the database file exists; StoreError for a directory, a dangling symbolic link
    or a path that cannot be looked at."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            raise StoreError(
                f"{p}: a symbolic link to {os.readlink(p)}, which does not exist"
            ) from None
        return False
    except OSError as exc:
        raise StoreError(f"{p}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{p}: is a directory")
    return True


def _connect(p: Path, *, read_only: bool) -> sqlite_utils.Database:
    try:
        if read_only:
            # A WAL database needs its -shm file: in a read-only directory that cannot be made,
            # and the file is read as immutable (a writer there would have to make one too).
            for query in ("mode=ro", "mode=ro&immutable=1"):
                conn = sqlite3.connect(
                    f"{p.absolute().as_uri()}?{query}",
                    uri=True,
                    timeout=LOCK_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    break
                except sqlite3.OperationalError:
                    conn.close()
                    if "immutable" in query:
                        raise
                except sqlite3.DatabaseError:
                    conn.close()
                    raise
        else:
            conn = sqlite3.connect(
                p, timeout=LOCK_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
    except sqlite3.Error as exc:
        raise StoreError(f"{p}: cannot open database ({exc})") from None
    return sqlite_utils.Database(conn)


def sqlite_message(exc: sqlite3.Error) -> str:
    """SQLite's message; a lock says how long it was waited for."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{text}: another process holds it; waited {LOCK_TIMEOUT_S:g} s"
    return text


def _schema_state(db: sqlite_utils.Database, p: Path) -> str:
    """ "empty", "current" or "old" (ours, of an earlier version); StoreError if not ours.
    Only reads."""
    try:
        kinds = dict(db.execute("SELECT name, type FROM sqlite_master").fetchall())
        if not kinds:
            return "empty"
        ours = kinds.get("meta") == "table" and {"key", "value"} <= {
            r[1] for r in db.execute("PRAGMA table_info(meta)")
        }
        if ours:  # schema 0 (0.1) had no schema_version: then only our keys, if any
            keys = {r[0] for r in db.execute("SELECT key FROM meta")}
            ours = "schema_version" in keys or keys <= META_KEYS
        if not ours:
            raise StoreError(
                f"{p}: not a vrrpwatch database (no meta table with a schema_version); "
                "left unchanged"
            )
        clash = [n for n in TABLES if n in kinds and kinds[n] != "table"]
        if clash:
            raise StoreError(f"{p}: not a vrrpwatch database ({clash[0]} is a {kinds[clash[0]]})")
        return "current" if schema_is_current(db) else "old"
    except sqlite3.Error as exc:
        raise StoreError(f"{p}: cannot open database ({sqlite_message(exc)})") from None


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """A write transaction that takes the write lock at once (BEGIN IMMEDIATE), so it waits
    up to LOCK_TIMEOUT_S for another writer instead of failing when a read snapshot it holds
    went stale. Nested in an open transaction: a savepoint."""
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    db.conn.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
