"""``sniff --retain DAYS``: the event rows of sniff runs older than a cut-off, deleted in small
transactions so a long-running sniff keeps its database bounded.

Event rows are ``transitions`` (and HSRP's ``standby_transitions``), ``alerts`` and
``address_events``; the per-router and
per-advertiser rows and the counters are state, rewritten in place, and stay. Only rows of
``sniff`` runs are pruned (this one and earlier ones): an analyze run's times are those of its
capture, however old. Each router keeps its latest transition (who is master now; and its
latest standby change), as the
monitor's own trim does (``Monitor.trim``): the store rewrites a router's timeline from the
monitor's, and both must agree on what is kept.
"""

from __future__ import annotations

import sqlite_utils

BATCH_ROWS = 500  # rows deleted per transaction: a writer waits at most one batch
MAX_BATCHES = 20  # per call; what is left goes at the next call

_SNIFF = "run_id IN (SELECT id FROM runs WHERE kind = 'sniff')"
_WHERE = {
    "alerts": _SNIFF,
    "address_events": _SNIFF,
    **{
        table: _SNIFF + f" AND id NOT IN (SELECT MAX(id) FROM {table}"
        " GROUP BY run_id, vlan, family, vrid, protocol)"
        for table in ("transitions", "standby_transitions")
    },
}


def prune_events(
    db: sqlite_utils.Database,
    cutoff: float,
    *,
    batch: int = BATCH_ROWS,
    max_batches: int = MAX_BATCHES,
) -> int:
    """Delete sniff runs' event rows with ``time < cutoff`` (Unix time), ``batch`` rows per
    transaction, at most ``max_batches`` transactions; return how many rows went."""
    deleted = 0
    batches = 0
    for table, where in _WHERE.items():
        while batches < max_batches:
            batches += 1
            with db.atomic():
                cur = db.execute(
                    f"DELETE FROM [{table}] WHERE id IN (SELECT id FROM [{table}]"
                    f" WHERE time < ? AND {where} ORDER BY time LIMIT ?)",
                    [cutoff, batch],
                )
            deleted += cur.rowcount
            if cur.rowcount < batch:
                break
    return deleted
