"""The store: incremental flushes keep the database equal to the monitor's state."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.helpers import MAC2, MAC3, R1, R2, R3, Feed, advert
from vrrpwatch.store.db import Store, open_db


def test_flush_between_a_takeover_and_its_settling(tmp_path: Path) -> None:
    db = open_db(tmp_path / "s.db")
    store = Store(db)
    store.begin_run(kind="sniff", source="test")
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R3, 200, mac=MAC3))
    f(5.7, advert(R1, 100))  # tentative new master ...
    store.flush(f.m)
    con = sqlite3.connect(tmp_path / "s.db")
    rows = "SELECT from_address, to_address, cause FROM transitions ORDER BY time"
    assert con.execute(rows).fetchall()[-1] == (R3, R1, "silent")
    f(5.71, advert(R2, 100, mac=MAC2))  # ... the better backup wins the same takeover
    store.flush(f.m)
    assert con.execute(rows).fetchall() == [(None, R3, "first-seen"), (R3, R2, "silent")]
    f.every(6.71, 9.0, 1.0, advert(R2, 100, mac=MAC2))
    store.flush(f.m)  # adverts without a new transition leave the timeline alone
    assert con.execute(rows).fetchall() == [(None, R3, "first-seen"), (R3, R2, "silent")]
    (adverts,) = con.execute("SELECT adverts FROM advertisers WHERE address = ?", [R2]).fetchone()
    assert adverts == 4
    store.end_run()
    assert con.execute("SELECT status FROM runs").fetchone() == ("complete",)
