"""``sniff --retain``'s database side: sniff runs' event rows older than the cut-off go, in
small transactions; analyze runs and each router's latest transition stay."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import MAC1, MAC2, R1, R2, Feed, advert, garp
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store
from vrrpwatch.store.retention import prune_events


def feed() -> Feed:
    """r1 (200) 0..9 s, resigns at 10 s; r2 (100) from 10.625 s; r1 preempts at 40 s."""
    f = Feed()
    f.every(0.0, 10.0, 1.0, advert(R1, 200))
    f(0.5, garp(MAC1))
    f(10.0, advert(R1, 0))
    f.every(10.625, 40.0, 1.0, advert(R2, 100, mac=MAC2))
    f(10.75, garp(MAC2))
    f.every(40.0, 45.0, 1.0, advert(R1, 200))
    return f


def counts(db, run: int) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    return tuple(  # type: ignore[return-value]
        db.execute(f"SELECT count(*) FROM [{t}] WHERE run_id = ?", [run]).fetchone()[0]
        for t in ("transitions", "alerts", "address_events")
    )


def test_prune_drops_old_sniff_rows_in_batches(tmp_path: Path) -> None:
    db = open_db(tmp_path / "r.db")
    runs = {}
    for kind in ("analyze", "sniff", "sniff"):
        f = feed()
        store = Store(db)
        runs.setdefault(kind, []).append(store.begin_run(kind=kind, source="x"))
        store.flush(f.m)
    alerts = len(f.m.alerts)
    old_alerts = sum(1 for a in f.m.alerts if a.time < 35.0)
    assert 0 < old_alerts < alerts
    for run in runs["sniff"] + runs["analyze"]:
        assert counts(db, run) == (3, alerts, 2)

    # Two rows per transaction, at most three transactions: a first call stops early.
    first = prune_events(db, 35.0, batch=2, max_batches=3)
    assert first == 6
    total = prune_events(db, 35.0, batch=2, max_batches=1000) + first
    # Per sniff run: two transitions (the third is after the cut-off), the old alerts, both
    # address events. The analyze run is untouched.
    assert total == 2 * (2 + old_alerts + 2)
    for run in runs["sniff"]:
        assert counts(db, run) == (1, alerts - old_alerts, 0)
    assert counts(db, runs["analyze"][0]) == (3, alerts, 2)
    assert prune_events(db, 35.0) == 0

    # Past everything: each router keeps its latest transition.
    prune_events(db, 1e12)
    for run in runs["sniff"]:
        assert counts(db, run) == (1, 0, 0)
        (cause,) = db.execute("SELECT cause FROM transitions WHERE run_id = ?", [run]).fetchone()
        assert cause == "preempted"


def test_the_store_writes_on_after_a_trim(tmp_path: Path) -> None:
    # The monitor's trim and the store agree: the rewritten timeline is the kept one, and the
    # alerts raised after a trim are written once.
    db = open_db(tmp_path / "r.db")
    f = feed()
    store = Store(db)
    run = store.begin_run(kind="sniff", source="x")
    store.flush(f.m)
    f.m.trim(35.0)
    store.prune(35.0)
    store.flush(f.m)
    f.every(45.0, 47.0, 1.0, advert(R2, 250, mac=MAC2))  # r2 preempts: one more change
    store.flush(f.m)
    rows = db.execute("SELECT cause FROM transitions WHERE run_id = ? ORDER BY id", [run])
    assert [r[0] for r in rows] == ["preempted", "preempted"]
    n = db.execute("SELECT count(*) FROM alerts WHERE run_id = ?", [run]).fetchone()[0]
    assert n == len(f.m.alerts) and f.m.alerts.trimmed > 0
