"""The ``--json`` text of analyze, report and audit is ``json.dumps(doc, indent=2)``'s, byte
for byte (the streaming writer, vrrpwatch/store/json_text.py), for the bundled captures and
configs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.bench.gen import write
from tests.helpers import CAPTURES, PUBLIC_CAPTURES, ROOT
from vrrpwatch.cli import cli
from vrrpwatch.store.audit_doc import audit_document, run_audit
from vrrpwatch.store.db import open_db
from vrrpwatch.store.summary import latest_run, summarize

BUNDLED = sorted(CAPTURES.glob("*.pcap")) + sorted(
    p for p in PUBLIC_CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".cap")
)
KACONF = ROOT / "tests" / "keepalived" / "confs"


@pytest.mark.parametrize("capture", BUNDLED, ids=[p.name for p in BUNDLED])
def test_analyze_and_report_json_text(capture: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "x.db"
    analyzed = CliRunner().invoke(cli, ["analyze", str(capture), "--db", str(db_path), "--json"])
    assert analyzed.exit_code in (0, 1), analyzed.output
    reported = CliRunner().invoke(cli, ["report", "--db", str(db_path), "--json"])
    assert reported.exit_code == 0, reported.output
    db = open_db(db_path, read_only=True)
    try:
        expected = json.dumps(summarize(db, latest_run(db)), indent=2) + "\n"
    finally:
        db.close()
    assert analyzed.stdout == expected
    assert reported.stdout == expected


AUDITS = [
    [KACONF / "v2-failover" / "r1.conf", KACONF / "v2-failover" / "r2.conf"],
    [KACONF / "v2-failover" / "r1.conf", KACONF / "broken" / "r2-interval.conf"],
    [KACONF / "shared" / "keepalived.conf@r1", KACONF / "shared" / "keepalived.conf@r2"],
    [KACONF / "split" / "keepalived.conf"],
]


@pytest.mark.parametrize("confs", AUDITS, ids=lambda c: "+".join(p.name for p in c))
@pytest.mark.parametrize("strict", [False, True])
def test_audit_json_text(confs: list[Path], strict: bool) -> None:
    args = ["audit", "--json", *map(str, confs), *(["--strict"] if strict else [])]
    result = CliRunner().invoke(cli, args)
    report = run_audit(tuple(map(str, confs)), None)
    assert result.exit_code == report.exit_code(strict=strict)
    assert result.stdout == json.dumps(audit_document(report, strict=strict), indent=2) + "\n"


def test_audit_json_text_of_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    conf = tmp_path / "bad-\udcff.conf"
    conf.write_bytes(
        b"vrrp_instance caf\xc3\xa9\xff {\n interface eth0\n virtual_router_id 1\n"
        b" priority 100\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n"
    )
    result = CliRunner().invoke(cli, ["audit", "--json", str(conf)])
    report = run_audit((str(conf),), None)
    assert result.stdout == json.dumps(audit_document(report, strict=False), indent=2) + "\n"
    assert '"caf\\u00e9\\\\xff"' in result.stdout


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path: Path) -> None:
    """``report --json | head -c 100``: no traceback, and the exit code stays the command's (not
    click's 1 for a broken pipe, which reads as a verdict)."""
    capture, db = tmp_path / "flood.pcap", tmp_path / "x.db"
    write("flood-preempt6", 3000, capture)  # a document of about 2 MB: more than a pipe holds
    analyzed = CliRunner().invoke(cli, ["analyze", str(capture), "--db", str(db)])
    assert analyzed.exit_code == 0, analyzed.output
    proc = subprocess.Popen(
        [sys.executable, "-m", "vrrpwatch", "report", "--db", str(db), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert head.startswith(b'{\n  "run": {') and err == b""
