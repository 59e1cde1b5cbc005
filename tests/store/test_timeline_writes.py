"""The store writes a router's timeline incrementally (a flood of takeovers was quadratic when
each flush rewrote it whole), and what it holds is always the monitor's timeline: also when a
takeover already written is settled (replaced by the better backup) at a later flush."""

from __future__ import annotations

import random
from pathlib import Path

from tests.helpers import KEY, R1, R2, R3, Feed, advert
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store


def _db_timeline(store: Store) -> list[tuple[float, str | None, str, str]]:
    return [
        (r[0], r[1], r[2], r[3])
        for r in store.db.execute(
            "SELECT time, from_address, to_address, cause FROM transitions ORDER BY id"
        ).fetchall()
    ]


def _monitor_timeline(f: Feed) -> list[tuple[float, str | None, str, str]]:
    return [(t.time, t.old, t.new, str(t.cause)) for t in f.m.routers[KEY].transitions]


def test_a_takeover_settled_after_it_was_written(tmp_path: Path) -> None:
    f = Feed()
    store = Store(open_db(tmp_path / "m.db"))
    store.begin_run(kind="analyze", source="test")
    f(0.0, advert(R1, 200))
    f(0.5, advert(R1, 0))  # resigns
    f(0.6, advert(R3, 50))  # a backup takes over ...
    store.flush(f.m)
    assert [t[2] for t in _db_timeline(store)] == [R1, R3]
    f(0.61, advert(R2, 100))  # ... and the better one wins: the takeover is R2's
    store.flush(f.m)
    assert _db_timeline(store) == _monitor_timeline(f)
    assert [t[2] for t in _db_timeline(store)] == [R1, R2]


def test_random_takeovers_and_flushes_agree_with_the_monitor(tmp_path: Path) -> None:
    rng = random.Random(5)
    for trial in range(20):
        f = Feed()
        store = Store(open_db(tmp_path / f"m{trial}.db"))
        store.begin_run(kind="analyze", source="test")
        t = 0.0
        for _ in range(60):
            t += rng.choice((0.001, 0.01, 0.3, 1.0, 4.0))
            src = rng.choice((R1, R2, R3))
            f(t, advert(src, rng.choice((0, 50, 100, 200))))
            if rng.random() < 0.3:
                store.flush(f.m)
                assert _db_timeline(store) == _monitor_timeline(f), trial
        store.flush(f.m)
        assert _db_timeline(store) == _monitor_timeline(f), trial
        store.db.close()
