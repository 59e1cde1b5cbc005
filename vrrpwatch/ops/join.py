"""``join --metrics ADDR:PORT``: one joined instance as Prometheus metrics.

``JoinCollector`` reads the runtime (``join.loop.Runtime``) and its router when Prometheus
scrapes, from the HTTP server's thread: the state (an enum attribute), the counters the runtime
keeps (``sent_adverts``, ``received_adverts``, ``became_master``: plain ints), the router's
``discards`` (one dict lookup per reason) and its Master_Adver_Interval. Each is one read of
a value the loop replaces whole, so a scrape takes no lock and the loop never waits for it.
Until the runtime exists (while join learns the group from the wire) only
``vrrpwatch_build_info`` is served.

Names are a contract (add, never rename), like sniff's: the state is a state set (one series
per state, 0 or 1), counters end in ``_total`` and carry no ``state`` label. ``instance`` is
the keepalived instance name with ``--config``, else ``VI_<vrid>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vrrpwatch.join.loop import Runtime
from vrrpwatch.join.router import DiscardReason, State
from vrrpwatch.ops.server import MetricsError, MetricsServer, build_info, registry_for

# The state set's series, one per router state (State.INITIALIZE is "initialize", ...).
JOIN_STATES = tuple(s.name.lower() for s in State)


def instance_label(vrid: int, config_instance: str | None) -> str:
    """The ``instance`` label: the keepalived instance name with --config, else VI_<vrid>."""
    return config_instance if config_instance is not None else f"VI_{vrid}"


class JoinCollector(Collector):
    """The ``vrrpwatch_join_*`` families of one join instance, read at scrape time."""

    def __init__(self, instance: str, runtime: Runtime | None = None) -> None:
        self.instance = instance
        self.runtime = runtime

    def attach(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        yield build_info()
        rt = self.runtime
        if rt is None:
            return
        # One series per instance join runs (join --config with several: their names).
        units = rt.units
        names = [u.instance for u in units] if len(units) > 1 else [self.instance]
        il = ["instance"]
        state = GaugeMetricFamily(
            "vrrpwatch_join_state",
            "The instance's VRRP state, one series per state: initialize, backup, master, "
            "fault (our interface is down).",
            labels=[*il, "state"],
        )
        counters = [
            CounterMetricFamily(name, text, labels=il)
            for name, text in (
                ("vrrpwatch_join_adverts_sent", "Advertisements sent."),
                (
                    "vrrpwatch_join_adverts_received",
                    "VRRP packets received for our group (accepted or discarded).",
                ),
                ("vrrpwatch_join_become_master", "Times the instance became master."),
            )
        ]
        discards = CounterMetricFamily(
            "vrrpwatch_join_discards",
            "Received advertisements dropped, by reason (RFC 5798 / RFC 3768 section 7.1).",
            labels=[*il, "reason"],
        )
        prio = GaugeMetricFamily(
            "vrrpwatch_join_priority", "The priority the instance advertises.", labels=il
        )
        interval = GaugeMetricFamily(
            "vrrpwatch_join_master_adver_interval_seconds",
            "Master_Adver_Interval (RFC 5798 section 6.1): the master's advertisement "
            "interval as learnt (VRRPv3), or ours (VRRPv2).",
            labels=il,
        )
        for unit, name in zip(units, names, strict=True):
            router = unit.router
            labels = [name]
            current = router.state
            for s, sname in zip(State, JOIN_STATES, strict=True):
                state.add_metric([*labels, sname], 1 if s is current else 0)
            for c, value in zip(
                counters,
                (unit.sent_adverts, unit.received_adverts, unit.became_master),
                strict=True,
            ):
                c.add_metric(labels, value)
            counts = router.discards
            for reason in DiscardReason:
                discards.add_metric([*labels, str(reason)], counts.get(reason, 0))
            prio.add_metric(labels, router.config.priority)
            interval.add_metric(labels, router.master_adver_interval_cs / 100)
        yield state
        yield from counters
        yield discards
        yield prio
        yield interval


class JoinMetrics:
    """``join --metrics``: the server, started before the runtime exists, and its collector."""

    def __init__(self, listen: str, instance: str) -> None:
        self.collector = JoinCollector(instance)
        try:
            self.server = MetricsServer(listen, registry_for(self.collector))
        except MetricsError as exc:
            raise MetricsError(f"--metrics {exc}") from None

    def attach(self, runtime: Runtime) -> None:
        self.collector.attach(runtime)

    def close(self) -> None:
        self.server.close()
