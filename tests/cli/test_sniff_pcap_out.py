"""``sniff --pcap-out`` without a network (fake packet sockets, a fake clock): a full disk ends
the run as an error with everything received committed, and the files are created 0600."""

from __future__ import annotations

import socket
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import vrrpwatch.watch.live as live
from tests.helpers import R1, advert
from vrrpwatch.cli import cli

T0 = 1_700_000_000.0
_SNIFFER = live.Sniffer


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 0.05
        return self.now


class _Socket:
    """Always readable; hands out the frames due by the clock."""

    def __init__(self, clock: _Clock, frames: list[tuple[float, bytes]]) -> None:
        self.name, self.index, self.drops = "fake0", 0, 0
        self.sock, self._peer = socket.socketpair()
        self._peer.send(b"x")
        self.clock, self.queue = clock, frames

    def read(self, limit: int = 256) -> list[tuple[float, bytes]]:
        due = [f for f in self.queue if f[0] <= self.clock.now][:limit]
        del self.queue[: len(due)]
        return due

    def update_stats(self) -> None:
        pass

    def close(self) -> None:
        self.sock.close()
        self._peer.close()


def _sniff(
    monkeypatch: pytest.MonkeyPatch, frames: list[tuple[float, bytes]], *args: str
) -> tuple[Any, list[Any]]:
    clock = _Clock()
    made: list[Any] = []

    def sniffer(*a: Any, **kw: Any) -> Any:
        made.append(_SNIFFER(*a, **kw, watch_links=False, clock=clock))
        return made[-1]

    monkeypatch.setattr(live, "resolve_interfaces", lambda names: [("fake0", 0)])
    monkeypatch.setattr(live, "PacketSocket", lambda name, index: _Socket(clock, list(frames)))
    monkeypatch.setattr(live, "Sniffer", sniffer)
    result = CliRunner().invoke(cli, ["sniff", "fake0", *args])
    return result, made


@pytest.mark.parametrize(
    "when",
    [
        "flush",  # a few adverts: the buffered header and frames fail at the first flush
        "write",  # a burst larger than the write buffer: a write fails mid-batch
    ],
)
def test_pcap_out_on_a_full_disk_ends_the_run_as_an_error_with_what_was_received(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    if when == "flush":
        frames = [(T0 + 0.01 * i, advert(R1, 200)) for i in range(5)]
    else:
        frames = [(T0 + 0.0001 * i, advert(R1, 200)) for i in range(250)]
    db = tmp_path / "x.db"
    r, (sniffer,) = _sniff(
        monkeypatch, frames, "--duration", "3", "--pcap-out", "/dev/full", "--db", str(db)
    )
    assert r.exit_code == 2, r.output
    assert r.stderr.splitlines() == [
        "Error: --pcap-out /dev/full: No space left on device "
        f"(what was committed before is in {db}, run 1)"
    ]
    con = sqlite3.connect(db)
    status, packets, stopped = con.execute("SELECT status, packets, stopped FROM runs").fetchone()
    assert status == "error: --pcap-out /dev/full: No space left on device" and stopped
    assert packets == sniffer.frames > 0  # everything received is committed
    (adverts,) = con.execute("SELECT adverts FROM advertisers WHERE address = ?", [R1]).fetchone()
    if when == "flush":
        assert adverts == packets == 5
    else:  # the frame whose write failed was received but not analyzed
        assert adverts == packets - 1 and packets < 250


def test_pcap_out_files_are_created_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [(T0 + 0.01 * i, advert(R1, 200)) for i in range(5)]
    old = tmp_path / "old.pcap"
    old.write_bytes(b"")
    old.chmod(0o644)  # a file left by an earlier version: tightened too
    for out in (tmp_path / "new.pcap", old):
        r, _ = _sniff(
            monkeypatch, frames, "--duration", "1", "--pcap-out", str(out),
            "--db", str(tmp_path / "x.db"),
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert out.stat().st_size > 24
