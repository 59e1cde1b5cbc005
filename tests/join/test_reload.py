"""join's SIGHUP reload (``join.reload.Reload``, with ``join.setup``'s start) without
sockets: what it says about an instance it cannot start."""

from __future__ import annotations

import functools
from typing import Any

from vrrpwatch.join import setup
from vrrpwatch.join.reload import Reload, Stop
from vrrpwatch.join.settings import JoinOptions, JoinPlan


class FakeRuntime:
    mux = None

    def __init__(self) -> None:
        self.stopped: list[Any] = []
        self.configured: list[tuple[list[Any], list[Any]]] = []

    def stop_units(self, units: Any) -> None:
        self.stopped += list(units)

    def reconfigure(self, units: Any, groups: Any, mux: Any) -> None:
        self.configured.append((list(units), list(groups)))


def test_an_instance_a_reload_adds_without_vips_is_not_started_with_one_warning() -> None:
    # Learning the group from the wire would hold up the running instances: the config must
    # give the VIPs, and the line says so.
    events: list[dict[str, Any]] = []
    added = JoinOptions(vrid=3, priority=100, interface="lo", instance="VI_3")
    stop = Stop([])
    start = functools.partial(setup._start_instance, emit=events.append, stop=stop, transports=[])
    reload = Reload(lambda: JoinPlan(instances=(added,)), events.append, stop, {}, [], start=start)
    runtime = FakeRuntime()
    reload(runtime)  # type: ignore[arg-type]
    assert [(e["event"], e["message"]) for e in events] == [
        ("reload", "Reloading configuration file"),
        (
            "warning",
            "Reload: VI_3 not started: an instance a reload starts does not learn its group "
            "from the wire; give its virtual_ipaddress in the config",
        ),
    ]
    assert events[1]["instance"] == "VI_3"
    assert runtime.configured == [([], [])]
