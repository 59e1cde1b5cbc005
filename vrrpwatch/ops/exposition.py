"""Serving ``/metrics`` cheaply: families that render their own sample lines.

prometheus-client turns every sample into a ``Sample`` tuple, sorts and escapes its labels and
formats its value, at every scrape: with 1,000 routers (16,000 series) that is most of a
scrape's CPU. A collector here may instead hand over a ``TextFamily``: a family whose sample
lines it wrote itself, from label strings it rendered once. Everything else stays
prometheus-client's: the HTTP server (``server.MetricsServer``), content negotiation
(``choose_encoder``), the header lines of every family (rendered by the chosen encoder from an
empty family of the same name, type and help), every ``Metric`` a collector yields that the
fast lines cannot write the same (a unit, timestamps, exemplars, ``_created``) and, for any
request the fast path does not cover (``name[]`` filters, an escaping that would rewrite names,
a registry of plain collectors), the whole answer.

A sample line is ``name{labels} value``: labels sorted by name, values escaped (backslash,
newline, double quote) and numbers written by ``floatToGoString``, exactly as both the
Prometheus text format and OpenMetrics 1.0 write them; tests/ops/test_exposition.py compares
the bytes with prometheus-client's own rendering and runs ``promtool check metrics``.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from prometheus_client.exposition import (
    choose_encoder,
    generate_latest,
    gzip_accepted,
    make_wsgi_app,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

# Our own answers are compressed fast: level 1 takes 3 ms for 1,000 routers where
# prometheus-client's default (9) takes 36 ms, for 67 KB instead of 52 KB.
GZIP_LEVEL = 1
# The escapings (OpenMetrics and text 1.0 ``escaping=``) under which legacy names and label
# values come out unchanged; "dots" and "values" rewrite names, so those go the slow way.
FAST_ESCAPINGS = ("underscores", "allow-utf-8")
OPENMETRICS = "application/openmetrics-text"
_EOF = "# EOF\n"

_go_string: Callable[[float], str] = floatToGoString
_INF = float("inf")


def number(value: float) -> str:
    """A sample value as prometheus-client writes it (``floatToGoString``)."""
    if type(value) is int and 0 <= value < 1_000_000:
        return f"{value}.0"  # repr(float(value)), as floatToGoString writes it below 1e6
    if type(value) is float and 0.0 < value < _INF:  # a timestamp, an interval (NaN: False)
        # floatToGoString's own steps for a positive finite float, without its other cases:
        # Go writes an exponent from 1e7 on (floatToGoString: "dot > 6", two digits at least).
        text = repr(value)
        dot = text.find(".")
        if dot > 6:
            mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
        return text
    return _go_string(value)


# A name both formats and both fast escapings write unchanged (OpenMetrics' "underscores"
# rewrites even ':' in sample names).
_PLAIN_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Samples the text format moves into families of their own.
_MOVED_SUFFIXES = ("_created", "_gsum", "_gcount")


def metric_lines(metric: Metric) -> list[str] | None:
    """The sample lines of a prometheus-client ``Metric`` as both formats write them, or None
    when it has anything they write differently or that needs escaping (a unit, timestamps,
    exemplars, native histograms, samples the text format moves, names outside
    ``[a-zA-Z_][a-zA-Z0-9_]*``): prometheus-client's encoder writes those."""
    if metric.unit:
        return None
    out = []
    plain = _PLAIN_NAME.fullmatch
    for s in metric.samples:
        if s.timestamp is not None or s.exemplar or s.native_histogram or s.value is None:
            return None
        if not plain(s.name) or s.name.endswith(_MOVED_SUFFIXES):
            return None
        if s.labels:
            items = sorted(s.labels.items())
            if not all(plain(k) for k, _v in items):
                return None
            labels = ",".join(f'{k}="{label_value(v)}"' for k, v in items)
            out.append(f"{s.name}{{{labels}}} {number(s.value)}\n")
        else:
            out.append(f"{s.name} {number(s.value)}\n")
    return out


def label_value(text: str) -> str:
    """A label value escaped as both formats escape it."""
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@dataclass(frozen=True, slots=True)
class TextFamily:
    """A metric family with its sample lines already written.

    ``name`` and ``type`` are a ``Metric``'s (a counter's name without ``_total``); each string
    of ``lines`` is one or more whole sample lines, each ending in a newline."""

    name: str
    type: str
    documentation: str
    lines: list[str]

    def metric(self) -> Metric:
        """The same family as prometheus-client's ``Metric`` (for ``collect()``)."""
        text = _header(TEXT_0_0_4, generate_latest, self.name, self.type, self.documentation)
        (family,) = text_string_to_metric_families(text + "".join(self.lines))
        return family


Part = Metric | TextFamily


class RendersText(Protocol):
    """A collector whose families may come pre-rendered (see ``TextFamily``)."""

    def parts(self) -> list[Part]: ...


class Registry(CollectorRegistry):
    """A ``CollectorRegistry`` that remembers its collectors' order, so the fast path can
    render them in the order ``collect()`` yields them."""

    def __init__(self) -> None:
        super().__init__(auto_describe=False)
        self.collectors: list[Collector] = []
        # id -> (the Metric, its fast lines or None) of the last answer (``render``)
        self.written: dict[int, tuple[Metric, list[str] | None]] = {}

    def register(self, collector: Collector) -> None:
        super().register(collector)
        self.collectors.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        self.collectors.remove(collector)


class _Metrics:
    """Metrics already collected, as the "registry" an encoder reads."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


TEXT_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"
HEADERS_KEPT = 1024  # header texts cached (content types come from clients: bounded)
_headers: dict[tuple[str, str, str, str], str] = {}


def _header(
    content_type: str, encoder: Callable[..., bytes], name: str, typ: str, documentation: str
) -> str:
    """The HELP/TYPE lines ``encoder`` (the one ``content_type`` names) writes for a family,
    rendered from an empty family of the same name, type and help."""
    key = (content_type, name, typ, documentation)
    text = _headers.get(key)
    if text is None:
        text = encoder(_Metrics([Metric(name, documentation, typ)])).decode().removesuffix(_EOF)
        if len(_headers) >= HEADERS_KEPT:
            _headers.clear()
        _headers[key] = text
    return text


def _fast(content_type: str) -> bool:
    """Whether the answer ``choose_encoder`` picked may use pre-rendered lines."""
    params = dict(
        p.strip().split("=", 1) for p in content_type.split(";")[1:] if "=" in p
    )  # fmt: skip
    if params.get("escaping", "underscores") not in FAST_ESCAPINGS:
        return False
    if content_type.startswith(OPENMETRICS):
        return params.get("version", "").split(".")[0] == "1"
    return True


def render(registry: Registry, encoder: Callable[..., bytes], content_type: str) -> bytes:
    """The registry's families in the chosen format; ``TextFamily`` lines as they are."""
    out: list[str] = []
    pending: list[Metric] = []

    def flush() -> None:
        if pending:
            out.append(encoder(_Metrics(pending)).decode().removesuffix(_EOF))
            pending.clear()

    # The lines of each Metric object, kept from the last answer for the next: a collector
    # that yields the same object again (a family whose values did not change) costs nothing.
    written = registry.written
    kept: dict[int, tuple[Metric, list[str] | None]] = {}
    for collector in list(registry.collectors):
        parts: Iterable[Part] = (
            collector.parts() if hasattr(collector, "parts") else list(collector.collect())
        )
        for part in parts:
            if isinstance(part, TextFamily):
                lines: list[str] | None = part.lines
            else:
                hit = written.get(id(part))
                lines = hit[1] if hit is not None and hit[0] is part else metric_lines(part)
                kept[id(part)] = (part, lines)
            if lines is None:
                assert not isinstance(part, TextFamily)
                pending.append(part)  # the encoder writes what the fast lines cannot
                continue
            flush()
            out.append(_header(content_type, encoder, part.name, part.type, part.documentation))
            out.extend(lines)
    flush()
    registry.written = kept
    if content_type.startswith(OPENMETRICS):
        out.append(_EOF)
    return "".join(out).encode()


StartResponse = Callable[[str, list[tuple[str, str]]], Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_app(registry: CollectorRegistry) -> App:
    """prometheus-client's WSGI app for ``registry``, with the fast path for a ``Registry``."""
    base = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (
            not isinstance(registry, Registry)
            or registry.get_target_info()
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("PATH_INFO") == "/favicon.ico"
            or "name[]" in parse_qs(environ.get("QUERY_STRING", ""))
        ):
            return base(environ, start_response)  # type: ignore[no-any-return]
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        if not _fast(content_type):
            return base(environ, start_response)  # type: ignore[no-any-return]
        output = render(registry, encoder, content_type)
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            output = gzip.compress(output, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [output]

    return app


def collect_parts(parts: Iterable[Part]) -> Iterator[Metric]:
    """``collect()`` for a ``RendersText`` collector: its parts as ``Metric`` objects."""
    for part in parts:
        yield part.metric() if isinstance(part, TextFamily) else part
