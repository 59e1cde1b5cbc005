"""``sniff --retain``: the Sniffer with a fake socket and a fake clock trims the monitor and
prunes the database every minute, while the metrics' counters stay monotonic."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from tests.helpers import MAC2, R1, R2, advert
from vrrpwatch.cli import cli
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.metrics import SniffCollector
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store
from vrrpwatch.watch.live import RETAIN_EVERY_S, Sniffer
from vrrpwatch.watch.monitor import Monitor

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


class FakeSocket:
    """Always readable (a socketpair with a byte in it); hands out the frames due by the clock."""

    def __init__(self, clock: Clock, frames: list[tuple[float, bytes]]) -> None:
        self.name, self.index, self.drops = "fake0", 0, 0
        self.sock, self._peer = socket.socketpair()
        self._peer.send(b"x")
        self.clock = clock
        self.queue = list(frames)

    def read(self, limit: int = 256) -> list[tuple[float, bytes]]:
        due = [f for f in self.queue if f[0] <= self.clock.now][:limit]
        del self.queue[: len(due)]
        return due

    def update_stats(self) -> None:
        pass

    def close(self) -> None:
        self.sock.close()
        self._peer.close()


def samples(c: SniffCollector) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value for fam in c.collect() for s in fam.samples
    }


def test_sniffer_retain_trims_memory_and_database_counters_stay(tmp_path: Path) -> None:
    # r1 (200) masters from T0 and resigns at T0 + 10; r2 (100) advertises from T0 + 10.625
    # to the end of a 300 s run; events are kept 100 s.
    clock = Clock(T0)
    frames = [(T0 + i, advert(R1, 200)) for i in range(10)] + [(T0 + 10, advert(R1, 0))]
    frames += [(T0 + 10.625 + i, advert(R2, 100, mac=MAC2)) for i in range(290)]
    sock = FakeSocket(clock, frames)
    db = open_db(tmp_path / "s.db")
    monitor = Monitor(fingerprint=lambda pw: "fp")
    store = Store(db)
    run = store.begin_run(kind="sniff", source="fake0")
    collector = SniffCollector(monitor, EpisodeBook(monitor), clock=lambda: clock.now)
    seen: dict[str, dict[tuple[str, frozenset[tuple[str, str]]], float]] = {}
    stored: list[tuple[int, int]] = []

    def tick(now: float) -> None:
        if now >= T0 + 30 and "early" not in seen:
            seen["early"] = samples(collector)
            stored.append(
                db.execute(
                    "SELECT (SELECT count(*) FROM transitions), (SELECT count(*) FROM alerts)"
                ).fetchone()
            )

    sniffer = Sniffer(
        [sock], monitor, store, watch_links=False, clock=clock, on_tick=tick,  # type: ignore[list-item]
        retain_s=100.0,
    )  # fmt: skip
    sniffer.run(duration_s=300.0)
    sniffer.flush()
    sniffer.close()
    late = samples(collector)

    # At T0 + 30 everything was still kept: first-seen r1, r1 -> r2, and their alerts.
    assert stored[0][0] == 2 and stored[0][1] >= 2
    # At the end (trimmed at about T0 + 240 with a cut-off of T0 + 140): the router keeps only
    # its latest transition, in memory and in the database; the old alerts are gone from both.
    vr = next(iter(monitor.routers.values()))
    assert [t.cause for t in vr.transitions] == ["resigned"] and vr.transitions.trimmed == 1
    assert list(monitor.alerts) == [] and monitor.alerts.trimmed == stored[0][1]
    rows = db.execute("SELECT cause FROM transitions WHERE run_id = ?", [run]).fetchall()
    assert rows == [("resigned",)]
    assert db.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
    # The counters did not go back.
    for name, labels in (
        ("vrrpwatch_master_changes_total", {"cause": "resigned"}),
        ("vrrpwatch_alerts_total", {"kind": "master-change", "severity": "info"}),
    ):
        early = [
            v for (n, lab), v in seen["early"].items() if n == name and set(labels.items()) <= lab
        ]
        after = [v for (n, lab), v in late.items() if n == name and set(labels.items()) <= lab]
        assert early == after == [1.0], name
    assert RETAIN_EVERY_S == 60.0


def test_retain_must_be_positive() -> None:
    result = CliRunner().invoke(cli, ["sniff", "lo", "--retain", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--retain'" in result.output
