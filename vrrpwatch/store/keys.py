"""The key of a database's password fingerprints, kept outside the database.

A fingerprint (``fingerprints.py``) is an HMAC of the password under a key. Whoever has both
can test guesses at the speed of HMAC-SHA256, so the key must not travel with the database:
it is ``VRRPWATCH_FINGERPRINT_KEY`` when set, else the file ``DB.key`` beside the database
(mode 0600, made on first use: 64 hex digits). A database from before that kept the key in its
``meta`` table: the key is moved to ``DB.key`` (and deleted from the database) the first time
the database is opened for writing, so its old fingerprints stay comparable with new ones.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import tempfile
from pathlib import Path

import sqlite_utils

from vrrpwatch.fingerprints import ENV_KEY, session_key
from vrrpwatch.store.db import StoreError, write_transaction

KEY_SUFFIX = ".key"
_META_KEY = "fingerprint_key"  # where schema 1 kept it


def key_file(db: sqlite_utils.Database) -> Path | None:
    """``DB.key`` beside the database file; None for a database in memory."""
    row = db.execute("PRAGMA database_list").fetchone()
    if row is None or not row[2]:
        return None
    return Path(row[2] + KEY_SUFFIX)


def fingerprint_key(db: sqlite_utils.Database) -> bytes:
    """The key for the database's password fingerprints: ``VRRPWATCH_FINGERPRINT_KEY`` if set,
    else ``DB.key`` (made on first use). Moves a key found in ``meta`` out to ``DB.key``.
    A database in memory uses the process's key."""
    path = key_file(db)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", [_META_KEY]).fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the database's meta table ({exc})") from None
    if row is not None and path is not None:
        _move_out(db, bytes.fromhex(row[0]), path)
    env = os.environ.get(ENV_KEY)
    if env:
        return env.encode()
    if path is None:
        return bytes.fromhex(row[0]) if row is not None else session_key()
    return _read(path) if path.exists() else _create(path, secrets.token_bytes(32))


def _move_out(db: sqlite_utils.Database, key: bytes, path: Path) -> None:
    held = _read(path) if path.exists() else _create(path, key)
    if held != key:
        raise StoreError(
            f"{path}: holds another fingerprint key than the one in the database's meta table; "
            "move one of them away"
        )
    try:
        with write_transaction(db):
            db.execute("DELETE FROM meta WHERE key = ?", [_META_KEY])
    except sqlite3.Error as exc:
        raise StoreError(f"cannot remove the fingerprint key from the database ({exc})") from None


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as fh:
            text = fh.read(200).strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: cannot read the fingerprint key ({exc})") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise StoreError(f"{path}: not a fingerprint key (64 hex digits expected)")
    return key


def _create(path: Path, key: bytes) -> bytes:
    """Write ``key`` to ``path`` (0600), whole or not at all; a key another process wrote
    there first wins."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(key.hex() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)  # fails if the name exists; never follows a planted link
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except FileExistsError:
        return _read(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write the fingerprint key ({exc.strerror})") from None
    return key
