"""``vrrpwatch analyze`` and ``vrrpwatch report`` through CliRunner: exit codes, the JSON
contract, redaction, the store."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import CAPTURES
from tests.crafted import write_crafted
from vrrpwatch.cli import cli

FAILOVER = str(CAPTURES / "v2-failover.pcap")
MISMATCH = str(CAPTURES / "v2-auth-mismatch.pcap")


def run(*args: str, db: Path) -> Any:
    return CliRunner().invoke(cli, [*args, "--db", str(db)])


def analyze_json(path: str, db: Path, *extra: str) -> dict[str, Any]:
    r = run("analyze", path, "--json", *extra, db=db)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_json_document_contract(tmp_path: Path) -> None:
    doc = analyze_json(FAILOVER, tmp_path / "x.db")
    for field in ("packets", "vrrp_adverts", "garps", "virtual_routers", "alerts"):
        assert field in doc
    (vr,) = doc["virtual_routers"]
    assert {"vlan", "family", "vrid", "version", "master", "advertisers", "transitions"} <= set(vr)
    assert vr["vlan"] == [] and vr["family"] == 4 and vr["vrid"] == 1 and vr["version"] == 2
    adv = vr["advertisers"][0]
    assert {"address", "mac", "priority", "interval_ms", "auth_type", "vips", "adverts"} <= set(adv)
    assert isinstance(adv["priority"], list) and adv["interval_ms"] == 1000
    assert adv["auth_type"] == "simple"
    t = vr["transitions"][0]
    assert set(t) == {"time", "frame", "file", "from", "to", "cause", "gap_ms", "expected_ms"}
    assert t["file"] == FAILOVER
    assert t["from"] is None and t["cause"] == "first-seen"
    assert [x["cause"] for x in vr["transitions"][1:]] == [
        "resigned", "preempted", "silent", "preempted",
    ]  # fmt: skip
    a = doc["alerts"][0]
    assert set(a) >= {"kind", "severity", "vlan", "family", "vrid", "source", "time", "frame",
                      "message"}  # fmt: skip
    assert doc["packets"] > doc["vrrp_adverts"] > 0


def test_password_is_redacted_unless_revealed(tmp_path: Path) -> None:
    truth = json.loads((CAPTURES / "v2-failover.json").read_text())
    password = truth["routers"][0]["password"]
    db = tmp_path / "x.db"
    r = run("analyze", FAILOVER, "--json", db=db)
    assert password not in r.output
    assert "password_fingerprint" in r.output
    r = run("analyze", FAILOVER, db=db)
    assert password not in r.output
    raw = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("x.db-*"))
    assert password.encode() not in raw
    r = run("analyze", FAILOVER, "--json", "--reveal-secrets", db=tmp_path / "y.db")
    advertisers = json.loads(r.output)["virtual_routers"][0]["advertisers"]
    assert {a["password"] for a in advertisers} == {password}


def test_fingerprints_stay_comparable_within_a_database(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    one = analyze_json(FAILOVER, db)["virtual_routers"][0]["advertisers"]
    two = analyze_json(FAILOVER, db)["virtual_routers"][0]["advertisers"]
    assert one[0]["password_fingerprint"] == two[0]["password_fingerprint"]
    assert len({a["password_fingerprint"] for a in one}) == 1  # both routers, one password
    fps = {
        a["password_fingerprint"]
        for a in analyze_json(MISMATCH, db)["virtual_routers"][0]["advertisers"]
    }
    assert len(fps) == 2


def test_same_file_twice_does_not_duplicate(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    analyze_json(FAILOVER, db)
    copy = tmp_path / "copy.pcap"
    shutil.copy(FAILOVER, copy)
    analyze_json(str(copy), db)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    n_trans = con.execute("SELECT count(*) FROM transitions").fetchone()[0]
    assert n_trans == 5
    analyze_json(MISMATCH, db)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 2


def test_database_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    analyze_json(FAILOVER, db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_db_from_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    r = CliRunner().invoke(cli, ["analyze", FAILOVER], env={"VRRPWATCH_DB": str(db)})
    assert r.exit_code == 0, r.output
    assert db.exists()


def test_readme_queries_work(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    analyze_json(FAILOVER, db)
    analyze_json(MISMATCH, db)
    con = sqlite3.connect(db)
    masters = con.execute(
        "SELECT vlan, family, vrid, master FROM virtual_routers ORDER BY run_id, vrid"
    ).fetchall()
    assert masters[0][3] == "192.0.2.253"
    plaintext = con.execute(
        "SELECT DISTINCT address FROM advertisers WHERE auth_type = 'simple' ORDER BY address"
    ).fetchall()
    assert len(plaintext) == 4
    slow = con.execute("SELECT * FROM transitions WHERE gap_ms > expected_ms + 50").fetchall()
    assert slow == []


def test_fail_on(tmp_path: Path) -> None:
    # v2-failover: a healthy group, no critical alert; plaintext-auth is a warning.
    assert run("analyze", FAILOVER, "--fail-on", "critical", db=tmp_path / "a.db").exit_code == 0
    assert run("analyze", FAILOVER, "--fail-on", "warning", db=tmp_path / "b.db").exit_code == 1
    assert run("analyze", MISMATCH, "--fail-on", "critical", db=tmp_path / "c.db").exit_code == 1


def test_known_routers(tmp_path: Path) -> None:
    known = tmp_path / "known.toml"
    known.write_text('[[router]]\naddress = "192.0.2.253"\n')
    doc = analyze_json(FAILOVER, tmp_path / "x.db", "--known-routers", str(known))
    rogue = [a for a in doc["alerts"] if a["kind"] == "rogue-advertiser"]
    assert [a["source"] for a in rogue] == ["192.0.2.254"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[[router]]\nmac = 1\n")
    r = run("analyze", FAILOVER, "--known-routers", str(bad), db=tmp_path / "y.db")
    assert r.exit_code == 2
    assert r.output.strip().startswith("Error: --known-routers")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: str(d / "missing.pcap"), "no such file"),
        (lambda d: str(d), "is a directory"),
        (lambda d: _write(d / "text.pcap", b"hello, this is not a capture\n"), "not a pcap"),
        (lambda d: _write(d / "empty.pcap", b""), "not a pcap"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, make: Any, message: str) -> None:
    r = run("analyze", make(tmp_path), db=tmp_path / "x.db")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and message in lines[-1]
    assert "Traceback" not in r.output


def _write(p: Path, data: bytes) -> str:
    p.write_bytes(data)
    return str(p)


def test_truncated_capture_commits_what_was_read(tmp_path: Path) -> None:
    data = Path(FAILOVER).read_bytes()
    cut = _write(tmp_path / "cut.pcap", data[: len(data) * 2 // 3 + 5])
    db = tmp_path / "x.db"
    r = run("analyze", cut, db=db)
    assert r.exit_code == 2
    assert "truncated capture" in r.output.strip().splitlines()[-1]
    con = sqlite3.connect(db)
    status, packets = con.execute("SELECT status, packets FROM runs").fetchone()
    assert status.startswith("error: ") and packets > 10
    assert con.execute("SELECT count(*) FROM transitions").fetchone()[0] >= 2


def test_unsupported_link_type(tmp_path: Path) -> None:
    data = bytearray(Path(FAILOVER).read_bytes())
    data[20:24] = (147).to_bytes(4, "little")  # LINKTYPE_USER0
    r = run("analyze", _write(tmp_path / "user0.pcap", bytes(data)), db=tmp_path / "x.db")
    assert r.exit_code == 2
    assert "unsupported link type 147" in r.output


def test_tshark_engine_equals_native(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        from tests.conftest import lab_unavailable

        lab_unavailable("tshark is not installed")
    for path in sorted(CAPTURES.glob("*.pcap")):
        native = analyze_json(str(path), tmp_path / "n.db")
        shark = analyze_json(str(path), tmp_path / "n.db", "--engine", "tshark")
        for doc in (native, shark):
            del doc["run"]
        assert shark == native, path.name


def test_tshark_engine_reads_what_native_cannot(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        from tests.conftest import lab_unavailable

        lab_unavailable("tshark is not installed")
    import gzip

    gz = tmp_path / "f.pcap.gz"
    gz.write_bytes(gzip.compress(Path(FAILOVER).read_bytes()))
    assert run("analyze", str(gz), db=tmp_path / "a.db").exit_code == 2
    doc = analyze_json(str(gz), tmp_path / "b.db", "--engine", "tshark")
    assert len(doc["virtual_routers"][0]["transitions"]) == 5


def test_report_prints_the_same_summary(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    doc = analyze_json(FAILOVER, db)
    r = run("report", "--json", db=db)
    assert r.exit_code == 0
    assert json.loads(r.output) == doc
    table = run("report", db=db)
    assert "192.0.2.253" in table.output and "preempted" in table.output


def test_report_errors(tmp_path: Path) -> None:
    r = run("report", db=tmp_path / "none.db")
    assert r.exit_code == 2 and "no such database" in r.output
    analyze_json(FAILOVER, tmp_path / "x.db")
    r = run("report", "--run", "99", db=tmp_path / "x.db")
    assert r.exit_code == 2 and "no run 99" in r.output


def test_table_output(tmp_path: Path) -> None:
    r = run("analyze", FAILOVER, db=tmp_path / "x.db")
    assert r.exit_code == 0
    out = r.output
    assert "Virtual routers" in out and "Master timeline" in out
    assert "resigned" in out and "3610 ms" in out and "3609 ms" in out
    assert "plaintext-auth" in out


def test_several_files_are_one_capture_and_frames_name_their_file(tmp_path: Path) -> None:
    """Rotated files: the second continues the first; each frame number counts in its own file."""
    from vrrpwatch.pcap import iter_capture

    packets = list(iter_capture(FAILOVER))
    cut = 30  # after the preemption at frame 26, before the cable pull
    header = Path(FAILOVER).read_bytes()[:24]

    def write(name: str, part: list[Any]) -> str:
        import struct

        body = b"".join(
            struct.pack("<IIII", int(p.time), round((p.time % 1) * 1e6), len(p.data), len(p.data))
            + p.data
            for p in part
        )
        return _write(tmp_path / name, header + body)

    one, two = write("one.pcap", packets[:cut]), write("two.pcap", packets[cut:])
    doc = analyze_json(one, tmp_path / "x.db", two)
    whole = analyze_json(FAILOVER, tmp_path / "y.db")
    got = doc["virtual_routers"][0]["transitions"]
    want = whole["virtual_routers"][0]["transitions"]
    assert [(t["to"], t["cause"]) for t in got] == [(t["to"], t["cause"]) for t in want]
    assert [(t["file"], t["frame"]) for t in got] == [
        (one, 1), (one, 10), (one, 26), (two, 34 - cut), (two, 50 - cut),
    ]  # fmt: skip
    assert {a["file"] for a in doc["alerts"]} == {one, two}
    assert doc["packets"] == whole["packets"]


def test_an_older_database_gains_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    # ours (a 0.1-era meta table, no schema_version yet), with a table of fewer columns
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, run_id INTEGER, kind TEXT)")
    con.commit()
    analyze_json(FAILOVER, db)
    cols = {r[1] for r in con.execute("PRAGMA table_info(alerts)")}
    assert {"file", "message", "severity"} <= cols


def test_report_fail_on(tmp_path: Path) -> None:
    """The same verdict as analyze --fail-on, from the stored run."""
    db = tmp_path / "x.db"
    analyze_json(MISMATCH, db)  # auth-mismatch: critical
    r = run("report", "--fail-on", "critical", "--json", db=db)
    assert r.exit_code == 1 and json.loads(r.stdout)["alerts"]
    analyze_json(FAILOVER, db)  # the latest run: warnings only
    assert run("report", "--fail-on", "critical", db=db).exit_code == 0
    assert run("report", "--fail-on", "warning", db=db).exit_code == 1
    assert run("report", "--fail-on", "critical", "--run", "1", db=db).exit_code == 1
    r = run("report", "--fail-on", "severe", db=db)
    assert r.exit_code == 2 and "'severe' is not one of" in r.output


def test_a_database_error_during_the_run_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses a batch mid-run (another writer held the lock): the run stops with
    one Error line, exit 2; what was read up to then is committed, the run closed as an error."""
    from vrrpwatch.store.db import LOCK_TIMEOUT_S
    from vrrpwatch.store.recorder import Store
    from vrrpwatch.watch import feed, files

    monkeypatch.setattr(files, "FLUSH_EVERY_S", 0.0)  # a batch at every tick of the feed,
    monkeypatch.setattr(feed, "TICK_EVERY", 1)  # and a tick after every packet
    real_flush = Store.flush
    calls: list[int] = []

    def flush(self: Store, monitor: Any, **kw: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        real_flush(self, monitor, **kw)

    monkeypatch.setattr(Store, "flush", flush)
    db = tmp_path / "x.db"
    r = run("analyze", FAILOVER, db=db)
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        f"Error: {db}: cannot write the database (database is locked: another process holds "
        f"it; waited {LOCK_TIMEOUT_S:g} s) (what was committed before is in {db}, run 1)"
    ]
    assert "Traceback" not in r.output
    con = sqlite3.connect(db)
    (status,) = con.execute("SELECT status FROM runs").fetchone()
    assert status == (
        f"error: {db}: cannot write the database (database is locked: another process holds "
        f"it; waited {LOCK_TIMEOUT_S:g} s)"
    )
    assert con.execute("SELECT count(*) FROM virtual_routers").fetchone() == (1,)
    assert len(calls) == 2  # the refused batch, then the last one


def _pcap(path: Path, frames: list[tuple[float, bytes]]) -> str:
    import struct

    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in frames:
            sec, usec = int(t), round((t - int(t)) * 1e6)
            fh.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    return str(path)


def _carp_frame(src: str, advskew: int, vhid: int = 1) -> bytes:
    import ipaddress

    from dissectors.frame import ETH_P_IP, build_ethernet
    from dissectors.ip import IPv4Header, build_ipv4
    from dissectors.vrrp import CarpPacket, build_carp

    v4 = ipaddress.IPv4Address
    body = build_carp(CarpPacket(vhid=vhid, advskew=advskew, advbase_s=1))
    ip = build_ipv4(IPv4Header(src=v4(src), dst=v4("224.0.0.18"), protocol=112, ttl=255), body)
    mac = bytes.fromhex("00005e0001") + bytes((vhid,))
    return build_ethernet(bytes.fromhex("01005e000012"), mac, ETH_P_IP, ip)


def test_carp_group_beside_vrrp_in_json_text_and_database(tmp_path: Path) -> None:
    """Issue 15: a CARP vhid is a virtual_routers entry with protocol carp, its timeline
    judged by 3 x advbase + advskew/256; the VRRP entries gain only ``protocol``."""
    t0 = 1_764_000_000.0
    frames = [(t0 + i, _carp_frame("192.0.2.10", 0)) for i in range(5)]
    frames += [(t0 + 4 + 3.5 + i, _carp_frame("192.0.2.11", 128)) for i in range(3)]
    path = _pcap(tmp_path / "carp.pcap", frames)
    db = tmp_path / "x.db"
    doc = analyze_json(path, db)
    (vr,) = doc["virtual_routers"]
    assert (vr["protocol"], vr["vrid"], vr["master"], vr["auth_type"]) == (
        "carp", 1, "192.0.2.11", "hmac",
    )  # fmt: skip
    assert [(t["cause"], t["gap_ms"], t["expected_ms"]) for t in vr["transitions"]] == [
        ("first-seen", None, None),
        ("silent", 3500.0, 3500.0),
    ]
    assert doc["carp"] == 8 and doc["hsrp"] == 0
    assert [a["protocol"] for a in doc["alerts"]] == ["carp"]
    r = run("report", db=db)
    assert r.exit_code == 0
    assert "Master timeline: vlan - IPv4 CARP vhid 1" in r.output and "carp" in r.output
    con = sqlite3.connect(db)
    assert con.execute("SELECT protocol, vrid, master FROM virtual_routers").fetchall() == [
        ("carp", 1, "192.0.2.11")
    ]
    vrrp = analyze_json(FAILOVER, tmp_path / "v.db")
    assert [v["protocol"] for v in vrrp["virtual_routers"]] == ["vrrp"]
    assert "standby" not in vrrp["virtual_routers"][0]


PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"


def test_analyze_public_hsrp_failover_prints_groups_timelines_and_alerts(tmp_path: Path) -> None:
    """Issue 15's "done when": analyze on a public HSRP capture (RFC 2281 v1, three routers)
    gives the group, its active and standby timelines and its alerts, in JSON and text."""
    path = str(PUBLIC / "HSRP_failover.pcap")
    db = tmp_path / "x.db"
    doc = analyze_json(path, db)
    (vr,) = doc["virtual_routers"]
    assert (vr["protocol"], vr["family"], vr["vrid"], vr["version"]) == ("hsrp", 4, 1, 1)
    assert (vr["master"], vr["standby"], vr["hold_ms"]) == ("192.168.0.30", "192.168.0.20", 10000)
    assert [
        (t["from"], t["to"], t["cause"], t["gap_ms"], t["expected_ms"]) for t in vr["transitions"]
    ] == [
        (None, "192.168.0.10", "first-seen", None, None),
        ("192.168.0.10", "192.168.0.30", "hold-expired", 10000.506, 10000.0),
    ]
    assert [(t["from"], t["to"], t["cause"]) for t in vr["standby_transitions"]] == [
        (None, "192.168.0.30", "first-seen"),
        ("192.168.0.30", "192.168.0.20", "promoted"),
    ]
    kinds = {a["kind"] for a in doc["alerts"]}
    assert {"plaintext-auth", "default-password", "master-change"} <= kinds
    assert doc["hsrp"] > 0 and "cisco" not in json.dumps(doc)
    r = run("report", db=db)
    assert r.exit_code == 0
    out = r.output
    assert "Active timeline: vlan - IPv4 HSRP group 1" in out
    assert "Standby timeline: vlan - IPv4 HSRP group 1" in out
    assert "hold-expired" in out and "promoted" in out


@pytest.mark.parametrize(
    ("name", "family", "vrid", "version"),
    [
        ("v2-ipv6-hellos", 6, 1, 2),  # tests/crafted.py (checked against tshark)
        ("v2-election", 4, 1, 2),
        ("hsrp0.pcap", 4, 10, 1),
    ],
)
def test_analyze_public_hsrp_captures(
    name: str, family: int, vrid: int, version: int, tmp_path: Path
) -> None:
    path = PUBLIC / name if "." in name else write_crafted(tmp_path, name)
    doc = analyze_json(str(path), tmp_path / "x.db")
    hsrp = [v for v in doc["virtual_routers"] if v["protocol"] == "hsrp"]
    assert (hsrp[0]["family"], hsrp[0]["vrid"], hsrp[0]["version"]) == (family, vrid, version)
    assert hsrp[0]["master"] is not None and hsrp[0]["transitions"][0]["cause"] == "first-seen"
