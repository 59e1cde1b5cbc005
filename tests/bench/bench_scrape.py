"""How long one scrape of ``sniff --metrics`` takes with many virtual routers.

A real Monitor is fed decoded adverts of N routers (4 VLANs x N/4 VRIDs, two advertisers each:
a backup first, then the master preempting it, so every router has a master change), then its
collector is scraped through the metrics server on 127.0.0.1 twice over: as a plain client asks
(no Accept header: the Prometheus text format, uncompressed) and as Prometheus asks (its Accept
header, which picks OpenMetrics, and gzip). Wall times include the machine's load; the CPU time
of one scrape is measured by calling the WSGI application the server serves in this thread (so
the same script measures a tree from before the fast writer: copy it and tests/ops/generated.py
there).
Target (issue 12): under 50 ms with 1,000 routers.

    .venv/bin/python tests/bench/bench_scrape.py [--routers 1000] [--scrapes 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.ops.generated import monitor_with  # noqa: E402
from vrrpwatch.ops.episodes import EpisodeBook  # noqa: E402
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for  # noqa: E402

# What a plain client sends (nothing), and what Prometheus 2.42 (Debian 12) sends.
CLIENTS: dict[str, dict[str, str]] = {
    "plain": {},
    "prometheus": {
        "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "Accept-Encoding": "gzip",
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=30)
    args = ap.parse_args()
    m = monitor_with(args.routers)
    now = m.last_time + 2
    server = MetricsServer(
        "127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m), clock=lambda: now))
    )
    url = f"http://127.0.0.1:{server.port}/metrics"
    wall: dict[str, list[float]] = {k: [] for k in CLIENTS}
    sizes: dict[str, int] = {}
    body = b""
    try:
        for _ in range(args.scrapes):
            for client, headers in CLIENTS.items():
                start = time.perf_counter()
                req = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(req, timeout=10) as r:
                    raw = r.read()
                wall[client].append((time.perf_counter() - start) * 1000)
                sizes[client] = len(raw)
                if not headers:
                    body = raw
        app = server._httpd.get_app()  # what /metrics answers with
    finally:
        server.close()
    assert app is not None
    cpu: dict[str, list[float]] = {k: [] for k in CLIENTS}
    for _ in range(10):
        for client, headers in CLIENTS.items():
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""}
            environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
            t = time.thread_time()
            app(environ, lambda status, headers: None)
            cpu[client].append((time.thread_time() - t) * 1000)
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    print(f"routers {args.routers}, series {series}, body {sizes['plain'] / 1024:.0f} KiB "
          f"({sizes['prometheus'] / 1024:.0f} KiB gzipped)")  # fmt: skip
    for client, times in wall.items():
        print(
            f"{client:>10}: wall ms median {statistics.median(times):.1f}, "
            f"p90 {sorted(times)[int(0.9 * len(times)) - 1]:.1f}, max {max(times):.1f} "
            f"({args.scrapes} scrapes); cpu ms median of 10: {statistics.median(cpu[client]):.1f}"
        )


if __name__ == "__main__":
    main()
