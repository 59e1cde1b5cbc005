"""Alert push: a real Monitor fed the bundled captures, its episodes pushed to a real
Alertmanager (Debian prometheus-alertmanager) started by the test on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CAPTURES, lab_unavailable
from tests.ops.labtools import Alertmanager, alertmanager_binary, local_free_port, wait_until
from vrrpwatch.ops.alertmanager import AlertPusher, rfc3339
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.rfc import master_down_interval
from vrrpwatch.watch.catalogue import EVENT_HOLD_S
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor

SENSOR = "sensor-a lab0"


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    if alertmanager_binary() is None:
        lab_unavailable("prometheus-alertmanager not installed (Debian package; scripts/setup)")
    a = Alertmanager(tmp_path / "am", local_free_port())
    a.start()
    try:
        yield a
    finally:
        a.stop()


def analyze(name: str) -> Monitor:
    m = Monitor(fingerprint=lambda pw: "fp")
    run_files([str(CAPTURES / name)], m)
    return m


def by_name(alerts: list[dict[str, Any]] | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in alerts or []:
        out.setdefault(a["labels"]["alertname"], []).append(a)
    return out


def test_split_brain_is_pushed_with_its_labels_then_resolved(am: Alertmanager) -> None:
    m = analyze("v2-auth-mismatch.pcap")
    book = EpisodeBook(m)
    pusher = AlertPusher(book, [am.url], sensor=SENSOR, tick_s=3600)
    pusher.start()  # sender threads only: the test steps the pusher with capture time
    try:
        docs = pusher.step(m.last_time)
        # warning and above: plaintext-auth (x2), garp-conflict, split-brain; never info
        assert sorted(d["labels"]["alertname"] for d in docs) == [
            "garp-conflict", "plaintext-auth", "plaintext-auth", "split-brain",
        ]  # fmt: skip
        got = wait_until("split-brain in Alertmanager", lambda: by_name(am.alerts()), 10)
        (sb,) = got["split-brain"]
        split = next(a for a in m.alerts if a.kind == "split-brain")
        assert sb["labels"] == {
            "alertname": "split-brain",
            "severity": "critical",
            "family": "4",
            "vrid": "2",
            "source": split.source,
            "job": "vrrpwatch",
        }
        assert sb["annotations"] == {"summary": split.message, "sensor": SENSOR}
        assert sb["startsAt"] == rfc3339(split.time)
        assert sb["status"]["state"] == "active"
        assert len(got["plaintext-auth"]) == 2

        # Nothing more to send a second later; both sources silent long enough: resolved.
        assert pusher.step(m.last_time + 1) == []
        vr = m.routers[split.key]  # type: ignore[index]
        last = max(a.last_seen for a in vr.advertisers.values())
        end = last + master_down_interval(1, 1.0, 2) + 1
        m.expire(end)  # what sniff's loop does every 100 ms: the catalogue's ends
        docs = pusher.step(end)
        # split-brain over (resolved), and nobody advertises any more: master-lost opens.
        assert sorted((d["labels"]["alertname"], "endsAt" in d) for d in docs) == [
            ("master-lost", False),
            ("split-brain", True),
        ]
        wait_until(
            "split-brain resolved",
            lambda: "split-brain" not in (got := by_name(am.alerts())) and "master-lost" in got,
            10,
        )
    finally:
        pusher.close()
    assert pusher.targets[0].errors == 0 and pusher.targets[0].dropped == 0


def test_open_alerts_are_resent_and_one_shots_end(am: Alertmanager) -> None:
    m = analyze("v2-failover.pcap")
    pusher = AlertPusher(EpisodeBook(m), [am.url], sensor=SENSOR, resend_s=30, tick_s=3600)
    pusher.start()
    try:
        t0 = m.last_time
        assert {d["labels"]["alertname"] for d in pusher.step(t0)} == {"plaintext-auth"}
        assert pusher.step(t0 + 29) == []
        again = pusher.step(t0 + 31)  # re-sent within the 60 s the API expects
        assert [d["labels"]["alertname"] for d in again] == ["plaintext-auth"] * 2
        assert all("endsAt" not in d for d in again)
        wait_until("pushed", lambda: len(by_name(am.alerts()).get("plaintext-auth", [])) == 2, 10)
        # plaintext-auth ends once its source has been silent EVENT_HOLD_S: r2's first.
        vr = next(iter(m.routers.values()))
        end = vr.advertisers["192.0.2.254"].last_seen + EVENT_HOLD_S + 1
        assert end < vr.advertisers["192.0.2.253"].last_seen + EVENT_HOLD_S
        m.expire(end)
        ended = pusher.step(end)
        assert [
            (d["labels"]["source"], d.get("endsAt"))
            for d in ended
            if d["labels"]["alertname"] == "plaintext-auth"
        ] == [("192.0.2.254", rfc3339(end)), ("192.0.2.253", None)]  # r1's re-sent, open
    finally:
        pusher.close()


def test_info_threshold_pushes_info_kinds(am: Alertmanager) -> None:
    m = analyze("v2-failover.pcap")
    pusher = AlertPusher(EpisodeBook(m), [am.url], min_severity="info", tick_s=3600)
    docs = pusher.step(m.last_time)
    assert {"master-change", "master-resigned", "plaintext-auth"} <= {
        d["labels"]["alertname"] for d in docs
    }


def test_unreachable_alertmanager_never_blocks_and_drops_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A listener that never answers: every send hangs until its timeout, in the sender thread.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    url = f"http://127.0.0.1:{hole.getsockname()[1]}"
    m = analyze("v2-auth-mismatch.pcap")
    pusher = AlertPusher(
        EpisodeBook(m), [url], sensor=SENSOR, tick_s=3600, queue_max=2, timeout_s=0.5
    )
    pusher.start()
    try:
        start = time.monotonic()
        for i in range(5):
            pusher.step(m.last_time + 31 * i)
        assert time.monotonic() - start < 0.2  # queued, never sent from the caller
        t = pusher.targets[0]
        wait_until("a failed send", lambda: t.errors >= 1, 5)
        assert t.dropped >= 2  # four alerts, room for two
        assert len(t.pending) <= 2
        fams = {f.name: f for f in pusher.metrics()}
        assert fams["vrrpwatch_alertmanager_dropped"].samples[0].value == t.dropped
    finally:
        pusher.close()
        hole.close()
    drops = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(drops) == 1  # logged once


def test_alertmanager_back_receives_what_waited(tmp_path: Path) -> None:
    if alertmanager_binary() is None:
        lab_unavailable("prometheus-alertmanager not installed (Debian package; scripts/setup)")
    am = Alertmanager(tmp_path / "am", local_free_port())
    m = analyze("v2-auth-mismatch.pcap")
    pusher = AlertPusher(EpisodeBook(m), [am.url], tick_s=3600, timeout_s=1)
    pusher.start()
    try:
        pusher.step(m.last_time)  # Alertmanager not started yet: refused, retried with backoff
        wait_until("a refused send", lambda: pusher.targets[0].errors >= 1, 5)
        am.start()
        got = wait_until("retried", lambda: by_name(am.alerts()).get("split-brain"), 20)
        assert len(got) == 1
    finally:
        pusher.close()
        am.stop()


def test_bad_severity_is_an_error() -> None:
    m = Monitor(fingerprint=lambda pw: "fp")
    with pytest.raises(ValueError, match="--alertmanager-severity 'loud'"):
        AlertPusher(EpisodeBook(m), ["http://127.0.0.1:9"], min_severity="loud")
