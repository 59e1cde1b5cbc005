"""join's metrics: the Runtime driven by a FakeClock and a FakeTransport at exact times, scraped
through prometheus-client's real HTTP server on 127.0.0.1 from the server's own thread while
the loop runs, parsed with prometheus_client.parser."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import ME, VIP, FakeClock, FakeTransport, rx, v2_bytes
from vrrpwatch import __version__
from vrrpwatch.cli import cli
from vrrpwatch.join.loop import Runtime
from vrrpwatch.join.router import DiscardReason, RouterConfig, VirtualRouter
from vrrpwatch.join.transport import LinkChange, Received
from vrrpwatch.ops.join import JOIN_STATES, JoinMetrics, instance_label
from vrrpwatch.ops.server import MetricsError
from vrrpwatch.rfc import master_down_interval

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {lab: v for (n, lab), v in samples.items() if n == name}


@pytest.fixture
def metrics() -> Iterator[JoinMetrics]:
    m = JoinMetrics("127.0.0.1:0", "VI_1")
    yield m
    m.close()


def runtime(script: list[tuple[float, Received | LinkChange]]) -> tuple[Runtime, FakeTransport]:
    clock = FakeClock()
    transport = FakeTransport(clock, script)
    config = RouterConfig(
        vrid=1, priority=50, primary_address=ME, addresses=(VIP,), version=2, auth_pass=b"s3cret"
    )
    rt = Runtime(
        router=VirtualRouter(config),
        transport=transport,
        emit=lambda e: None,
        prefixes={VIP: 24},
        clock=clock,
    )
    return rt, transport


def test_a_takeover_flips_the_state_set_and_counts_adverts_and_discards(
    metrics: JoinMetrics,
) -> None:
    # The master advertises at 0..3 s, with one advert of a wrong password and one that
    # cannot be decoded in between; then it falls silent and we take over.
    script: list[tuple[float, Received | LinkChange]] = [
        (float(t), rx(v2_bytes(100))) for t in range(4)
    ]
    script += [(1.25, rx(b"\x21\x01")), (1.5, rx(v2_bytes(100, password=b"wrong")))]
    rt, tr = runtime(script)
    clock = tr.clock
    port = metrics.server.port
    before = scrape(port)  # before the runtime exists: the version only
    assert value(before, "vrrpwatch_build_info", version=__version__) == 1
    assert series(before, "vrrpwatch_join_state") == {}
    metrics.attach(rt)
    scraped: dict[str, Samples] = {}

    def until() -> bool:
        # Runs on the loop's thread between two steps; the scrape is served by the HTTP
        # server's thread, reading the runtime as the loop left it.
        for at, name in ((2.0, "backup"), (10.0, "master")):
            if clock.now >= at and name not in scraped:
                scraped[name] = scrape(port)
        return clock.now >= 20.0

    rt.run(until=until)
    after = scrape(port)

    b = scraped["backup"]
    assert {dict(k)["state"]: v for k, v in series(b, "vrrpwatch_join_state").items()} == {
        "initialize": 0,
        "backup": 1,
        "master": 0,
        "fault": 0,
    }
    # 0, 1 and 2 s, the undecodable one and the one with the wrong password.
    assert value(b, "vrrpwatch_join_adverts_received_total", instance="VI_1") == 5
    assert value(b, "vrrpwatch_join_adverts_sent_total", instance="VI_1") == 0
    assert value(b, "vrrpwatch_join_become_master_total", instance="VI_1") == 0
    discards = series(b, "vrrpwatch_join_discards_total")
    # Every reason from 0, so increase() sees the first one.
    assert {dict(k)["reason"] for k in discards} == {str(r) for r in DiscardReason}
    assert {dict(k)["reason"]: v for k, v in discards.items() if v} == {
        "auth-failure": 1,
        "malformed": 1,
    }
    assert value(b, "vrrpwatch_join_priority", instance="VI_1") == 50
    assert value(b, "vrrpwatch_join_master_adver_interval_seconds", instance="VI_1") == 1.0

    m = scraped["master"]
    takeover = 3.0 + master_down_interval(50, 1.0, version=2)
    assert takeover == 6.8046875
    assert value(m, "vrrpwatch_join_state", instance="VI_1", state="master") == 1
    assert value(m, "vrrpwatch_join_state", instance="VI_1", state="backup") == 0
    assert value(m, "vrrpwatch_join_become_master_total", instance="VI_1") == 1
    # Adverts at 6.8046875 + 0..4 s: the loop stopped right after the one at 10.8046875.
    assert value(m, "vrrpwatch_join_adverts_sent_total", instance="VI_1") == 5
    assert value(m, "vrrpwatch_join_adverts_received_total", instance="VI_1") == 6

    # Stopped: back to initialize (after the priority-0 advert); counters kept.
    assert value(after, "vrrpwatch_join_state", instance="VI_1", state="initialize") == 1
    assert value(after, "vrrpwatch_join_state", instance="VI_1", state="master") == 0
    assert value(after, "vrrpwatch_join_become_master_total", instance="VI_1") == 1
    # 6.8046875 + 0..14 s (the loop stops after the first step past 20 s), then priority 0.
    sent = len(tr.kinds("advert"))
    assert value(after, "vrrpwatch_join_adverts_sent_total", instance="VI_1") == sent == 16


def test_the_state_set_has_one_series_per_router_state() -> None:
    assert JOIN_STATES == ("initialize", "backup", "master", "fault")


def test_link_down_reads_as_fault(metrics: JoinMetrics) -> None:
    rt, tr = runtime([(1.0, LinkChange(up=False))])
    metrics.attach(rt)
    seen: list[Samples] = []

    def until() -> bool:
        if tr.clock.now >= 1.0:
            seen.append(scrape(metrics.server.port))
            return True
        return False

    rt.run(until=until)
    states = series(seen[0], "vrrpwatch_join_state")
    assert {dict(k)["state"]: v for k, v in states.items() if v} == {"fault": 1}


def test_instance_is_the_config_name_else_vi_vrid() -> None:
    assert instance_label(51, None) == "VI_51"
    assert instance_label(51, "edge-gw") == "edge-gw"


def test_a_port_in_use_is_one_line() -> None:
    first = JoinMetrics("127.0.0.1:0", "VI_1")
    try:
        with pytest.raises(MetricsError, match=r"^--metrics 127\.0\.0\.1:\d+: cannot listen"):
            JoinMetrics(f"127.0.0.1:{first.server.port}", "VI_1")
    finally:
        first.close()


@pytest.mark.parametrize("bad", ["9568", "localhost:9568", "127.0.0.1:99999"])
def test_join_rejects_a_bad_listen_address(bad: str, tmp_path: Any) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "join",
            "--vrid",
            "1",
            "--priority",
            "50",
            "--metrics",
            bad,
            "--db",
            str(tmp_path / "x.db"),
        ],
    )
    assert result.exit_code == 2
    assert "Invalid value for '--metrics'" in result.output
    assert not (tmp_path / "x.db").exists()


KEEPALIVED_CONF = """\
vrrp_instance edge-gw {
    interface eth0
    virtual_router_id 7
    priority 80
    virtual_ipaddress { 192.0.2.7/24 }
}
"""


@pytest.mark.parametrize(
    ("args", "instance"),
    [(["--config", "{conf}"], "edge-gw"), (["--vrid", "7", "--priority", "80"], "VI_7")],
)
def test_join_cli_serves_the_instance_it_runs(
    args: list[str], instance: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # setup.join replaced: the CLI's hooks start the server once the checks pass and hand it
    # the runtime; the scrape runs while "join" runs, the server closes with the command.
    from vrrpwatch.join import setup
    from vrrpwatch.ops.server import parse_listen

    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    probe = JoinMetrics("127.0.0.1:0", "probe")
    port = probe.server.port  # a free port
    probe.close()
    seen: list[Samples] = []

    def fake_join(
        opts: Any, sink: Any, before_start: Any = None, on_runtime: Any = None, **_: Any
    ) -> int:
        before_start()
        rt, _tr = runtime([])
        on_runtime(rt)
        seen.append(scrape(port))
        return 0

    monkeypatch.setattr(setup, "join", fake_join)
    argv = [a.format(conf=conf) for a in args]
    listen = f"127.0.0.1:{port}"
    assert parse_listen(listen) == ("127.0.0.1", port)
    result = CliRunner().invoke(
        cli, ["join", *argv, "--metrics", listen, "--db", str(tmp_path / "j.db")]
    )
    assert result.exit_code == 0, result.output
    assert value(seen[0], "vrrpwatch_join_state", instance=instance, state="initialize") == 1
    with pytest.raises(OSError):
        scrape(port)  # closed with the command
