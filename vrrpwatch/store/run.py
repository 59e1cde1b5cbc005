"""One run in the store, from begin to end, the same way for analyze and sniff.

``recorded_run`` begins the run, lets the caller feed the monitor, then always finishes the
monitor, commits the last batch and ends the run ``complete``, ``error: ...`` or ``error:
interrupted``. What stopped the body is kept in the ``RunOutcome`` instead of being raised, so
the command can still show what was read; ``outcome.check()`` then raises it. A database error
(``sqlite3.Error``: locked, full, read-only) becomes a ``StoreError``, never a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.store.db import StoreError, sqlite_message
from vrrpwatch.store.recorder import Store
from vrrpwatch.watch.monitor import Event, Monitor


class RunError(VrrpwatchError):
    """A run stopped by an error; the message says where what was read before it is."""


@dataclass
class RunOutcome:
    run_id: int
    db_file: str
    error: VrrpwatchError | None = None
    interrupted: bool = False
    # set by the body when the identity is known only once the input is read (analyze)
    identity: str | None = None

    @property
    def status(self) -> str:
        """The ``runs.status`` this outcome is recorded as."""
        if self.interrupted:
            return "error: interrupted"
        if self.error is not None:
            return f"error: {self.error}"
        return "complete"

    def check(self) -> None:
        """Raise what stopped the run: KeyboardInterrupt, or a RunError; nothing if complete."""
        if self.interrupted:
            raise KeyboardInterrupt
        if self.error is not None:
            where = f"{self.db_file}, run {self.run_id}" if self.db_file else f"run {self.run_id}"
            raise RunError(f"{self.error} (what was committed before is in {where})")


def database_error(store: Store, exc: sqlite3.Error) -> StoreError:
    return StoreError(
        f"{_db_file(store) or 'database'}: cannot write the database ({sqlite_message(exc)})"
    )


@contextmanager
def recorded_run(
    store: Store,
    monitor: Monitor,
    *,
    kind: str,
    source: str,
    identity: str | None = None,
    flush: Callable[[], None] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> Iterator[RunOutcome]:
    """Begin a run in ``store`` (StoreError if the database refuses it), run the body, then
    finish: ``monitor.finish()`` (its events to ``on_event``), the last ``flush`` (default
    ``store.flush(monitor)``), ``store.end_run(outcome.status)``.

    A ``VrrpwatchError``, ``sqlite3.Error`` or ``KeyboardInterrupt`` in the body, or an error
    while finishing, is recorded in the outcome; call ``outcome.check()`` to raise it.
    """
    try:
        run_id = store.begin_run(kind=kind, source=source, identity=identity)
    except sqlite3.Error as exc:
        raise database_error(store, exc) from None
    outcome = RunOutcome(run_id=run_id, db_file=_db_file(store))
    try:
        yield outcome
    except VrrpwatchError as exc:
        outcome.error = exc
    except sqlite3.Error as exc:
        outcome.error = database_error(store, exc)
    except KeyboardInterrupt:
        outcome.interrupted = True
    try:
        for e in monitor.finish():
            if on_event is not None:
                on_event(e)
        (flush or (lambda: store.flush(monitor)))()
    except sqlite3.Error as exc:
        outcome.error = outcome.error or database_error(store, exc)
    except VrrpwatchError as exc:
        outcome.error = outcome.error or exc
    try:
        store.end_run(outcome.status, identity=outcome.identity)
    except sqlite3.Error as exc:
        outcome.error = outcome.error or database_error(store, exc)


def _db_file(store: Store) -> str:
    """The database's file name ("" in memory), read without a lock."""
    try:
        row = store.db.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return ""
    return str(row[2]) if row is not None and row[2] else ""
