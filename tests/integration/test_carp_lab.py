"""CARP against a real peer: ucarp hosts in namespaces, vrrpwatch watching from another one.

One lab run (module fixture ``run``, about 25 s): r1 (advskew 0) and r2 (advskew 100), both
``--preempt``, share 192.0.2.40 on vhid 4; a silent monitor host records with tcpdump and runs
``vrrpwatch sniff``. r1 becomes master, loses its cable (r2 takes over), gets it back (r1
preempts) and is stopped with SIGTERM (ucarp sends nothing; r2 takes over after its timer).

- (a) the truth of the run: who holds the VIP when (``ip addr`` in the namespaces), and the
  same timeline in the capture (tests/lab_carp.py), with ucarp's takeover delays;
- (b) ``analyze --json``'s CARP timeline on that capture, and on the committed
  captures/carp-ucarp.pcap, matches the truth;
- (c) ``sniff`` followed the master live (``report --json`` while it ran).

(b) and (c) read the CARP entries of ``virtual_routers[]`` (``protocol: "carp"``, ``vrid`` =
vhid, ``master``, ``transitions[]`` like VRRP's, ``expected_ms`` = 3 x advbase +
advskew/256 s); they fail until analyze and sniff follow CARP groups.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CAPTURES, ROOT, lab_unavailable
from tests.lab import Daemon, Host, Lab, missing_prerequisites, read_adverts
from tests.lab_carp import carp_masters_and_failovers, master_down_s, read_carp_adverts

VIP, VHID, PASSWORD = "192.0.2.40", 4, "carp4lab"
R1, R2 = "192.0.2.41", "192.0.2.42"
SKEW = {R1: 0, R2: 100}
# ucarp checks its master-down timer only when its poll() wakes, every advbase + advskew/256 s
# once the master is silent: it takes over up to one of its own intervals late. And it hears
# adverts through libpcap opened with a 1 s packet buffer timeout (ucarp.h CAPTURE_TIMEOUT 1000,
# pcap_open_live without immediate mode): the master's last advert may reach it up to 1 s after
# it was on the wire, and its master-down timer starts from then (seen: 1.73 s late).
CAPTURE_TIMEOUT_S = 1.0
LATE_S = 1 + SKEW[R2] / 256 + CAPTURE_TIMEOUT_S


@dataclass
class Run:
    """What the lab did and saw; filled by the ``run`` fixture."""

    pcap: Path  # tcpdump's
    db: Path  # sniff's
    sniff_pcap: Path  # the frames sniff analyzed (--pcap-out)
    events: list[tuple[float, str]] = field(default_factory=list)
    holders: list[tuple[float, str]] = field(default_factory=list)  # (time seen, VIP holder)
    both_or_none: list[tuple[float, str]] = field(default_factory=list)
    sniff_saw: list[tuple[str, float | None, dict[str, Any] | None]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    sniff_rc: int | None = None
    sniff_err: str = ""


def _carp_entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in doc["virtual_routers"] if v.get("protocol") == "carp"]


def _report(db: Path) -> dict[str, Any] | None:
    r = subprocess.run(
        [sys.executable, "-m", "vrrpwatch", "report", "--db", str(db), "--json"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(r.stdout) if r.returncode == 0 else None


Seen = tuple[float | None, dict[str, Any] | None]


def _sniff_master(db: Path, want: str, timeout: float) -> Seen:
    """Poll ``report --json`` until the CARP entry's master is ``want``: (seconds, entry)."""
    start = time.monotonic()
    entry = None
    while time.monotonic() - start < timeout:
        doc = _report(db) if db.exists() else None
        entries = _carp_entries(doc) if doc else []
        entry = next((e for e in entries if e["vrid"] == VHID), None)
        if entry is not None and entry["master"] == want:
            return time.monotonic() - start, entry
        time.sleep(0.2)
    return None, entry


def _holder(r1: Host, r2: Host) -> str | None:
    has = {R1: r1.has_address(VIP), R2: r2.has_address(VIP)}
    held = [a for a, h in has.items() if h]
    return held[0] if len(held) == 1 else None


def _wait_holder(run: Run, r1: Host, r2: Host, want: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (got := _holder(r1, r2)) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"{want} never held {VIP} alone (last: {got}); {run.events}")
        time.sleep(0.02)
    run.holders.append((time.time(), want))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if missing := missing_prerequisites(ucarp=True):
        lab_unavailable("; ".join(missing))
    tmp = tmp_path_factory.mktemp("carp")
    lab = Lab(prefix=f"vwu{secrets.token_hex(2)}", workdir=tmp / "lab")
    out = Run(pcap=tmp / "live.pcap", db=tmp / "sniff.db", sniff_pcap=tmp / "sniff.pcap")
    daemons: dict[str, Daemon] = {}
    try:
        lan = lab.segment()
        r1 = lab.host("r1", lan, addr4=f"{R1}/24")
        r2 = lab.host("r2", lan, addr4=f"{R2}/24")
        mon = lab.host("mon", lan, ipv6=False)
        cap = mon.tcpdump(out.pcap)
        sniff = mon.vrrpwatch(
            "sniff", "eth0", "--db", str(out.db), "--pcap-out", str(out.sniff_pcap),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip  # stopped by PID at close() if not before

        def event(what: str) -> None:
            out.events.append((time.time(), what))

        group = {"vhid": VHID, "password": PASSWORD, "vip": f"{VIP}/24", "preempt": True}
        event("start r1")
        daemons["r1"] = r1.ucarp(advskew=SKEW[R1], **group)
        _wait_holder(out, r1, r2, R1, timeout=8)
        out.sniff_saw.append((R1, *_sniff_master(out.db, R1, timeout=4)))
        event("start r2")
        daemons["r2"] = r2.ucarp(advskew=SKEW[R2], **group)
        time.sleep(1.5)

        event("link-down r1")
        r1.link_down()
        _wait_holder(out, r1, r2, R2, timeout=8)
        out.sniff_saw.append((R2, *_sniff_master(out.db, R2, timeout=4)))

        event("link-up r1")
        r1.link_up()
        _wait_holder(out, r1, r2, R1, timeout=12)  # ucarp rechecks its carrier every few s
        out.sniff_saw.append((R1, *_sniff_master(out.db, R1, timeout=4)))
        time.sleep(1.0)

        event("stop r1")
        daemons["r1"].stop()
        if r1.has_address(VIP):
            out.both_or_none.append((time.time(), "r1 kept the VIP after SIGTERM"))
        _wait_holder(out, r1, r2, R2, timeout=8)
        out.sniff_saw.append((R2, *_sniff_master(out.db, R2, timeout=4)))
        time.sleep(1.0)
        event("end")
        time.sleep(0.3)
        cap.stop()
        sniff.send_signal(signal.SIGTERM)
        out.sniff_rc = sniff.wait(15)
        out.sniff_err = sniff.stderr.read() if sniff.stderr else ""
        out.logs = {n: d.log for n, d in daemons.items()}
        yield out
    finally:
        lab.close()


def _when(run: Run, what: str) -> float:
    return next(t for t, e in run.events if e == what)


# -- (a) the truth of a live run --------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_ucarp_failover_as_seen_in_the_namespaces_and_on_the_wire(run: Run) -> None:
    # ip addr: r1, then r2 after the cable pull, r1 again (preempts), r2 after r1's SIGTERM.
    assert [h for _, h in run.holders] == [R1, R2, R1, R2]
    assert run.both_or_none == []
    for name in ("r1", "r2"):
        assert "Switching to state: MASTER" in run.logs[name]
    assert "preemption" in run.logs["r1"]

    adverts = read_carp_adverts(run.pcap)
    assert adverts and not read_adverts(run.pcap), "CARP only: nothing decodes as VRRP"
    assert {a.src for a in adverts} == {R1, R2}
    assert all(a.packet.vhid == VHID and a.packet.advskew == SKEW[a.src] for a in adverts)
    masters, failovers = carp_masters_and_failovers(adverts)
    assert [m["address"] for m in masters] == [R1, R2, R1, R2]
    assert [(f["from"], f["to"], f["cause"]) for f in failovers] == [
        (R1, R2, "silent"), (R2, R1, "preempted"), (R1, R2, "silent"),
    ]  # fmt: skip
    # Each master's first advert follows the action that made it master, and its up script
    # had put the VIP in place by then (ucarp runs it before its first advert as master).
    actions = ["start r1", "link-down r1", "link-up r1", "stop r1"]
    for m, (seen, holder), action in zip(masters, run.holders, actions, strict=True):
        assert m["address"] == holder
        assert _when(run, action) < m["since"] < seen + 0.5, (m, action)
    # SIGTERM: ucarp (with --shutdown) ran its down script and sent nothing more.
    stop = _when(run, "stop r1")
    assert not [a for a in adverts if a.src == R1 and a.time > stop + 0.05]
    for f in (failovers[0], failovers[2]):
        assert f["expected_ms"] == pytest.approx(master_down_s(1, SKEW[R2]) * 1000)
        late_ms = f["gap_ms"] - f["expected_ms"]
        assert 0 <= late_ms < (LATE_S + 0.25) * 1000, f


# -- (b) analyze's CARP timeline matches the truth --------------------------------------------


def _analyze(path: Path, db: Path) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, "-m", "vrrpwatch", "analyze", str(path), "--db", str(db), "--json"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def check_timeline(doc: dict[str, Any], masters: list[dict[str, Any]],
                   failovers: list[dict[str, Any]]) -> None:  # fmt: skip
    """analyze's CARP entry against a truth's masters and failovers (one vhid)."""
    entries = _carp_entries(doc)
    assert [e["vrid"] for e in entries] == [masters[0]["vrid"]], (
        f"analyze shows no CARP group (protocol 'carp') for vhid {masters[0]['vrid']}: "
        f"{[(v.get('protocol'), v['vrid']) for v in doc['virtual_routers']]}"
    )
    (vr,) = entries
    assert vr["master"] == masters[-1]["address"]
    trans = vr["transitions"]
    assert [t["to"] for t in trans] == [m["address"] for m in masters]
    for t, m in zip(trans, masters, strict=True):
        assert t["time"] == pytest.approx(m["since"], abs=1e-6)
    assert trans[0]["from"] is None and trans[0]["cause"] == "first-seen"
    assert [(t["from"], t["to"], t["cause"]) for t in trans[1:]] == [
        (f["from"], f["to"], f["cause"]) for f in failovers
    ]
    for t, f in zip(trans[1:], failovers, strict=True):
        assert t["gap_ms"] == pytest.approx(f["gap_ms"], abs=5.0)
        if f["expected_ms"] is None:
            assert t["expected_ms"] is None
        else:
            assert t["expected_ms"] == pytest.approx(f["expected_ms"], abs=1.0)


def test_analyze_carp_timeline_of_the_bundled_ucarp_capture(tmp_path: Path) -> None:
    """No root needed: the committed capture against its truth file."""
    truth = json.loads((CAPTURES / "carp-ucarp.json").read_text())
    doc = _analyze(CAPTURES / "carp-ucarp.pcap", tmp_path / "a.db")
    check_timeline(doc, truth["masters"], truth["failovers"])


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_analyze_carp_timeline_of_the_live_capture(run: Run, tmp_path: Path) -> None:
    masters, failovers = carp_masters_and_failovers(read_carp_adverts(run.pcap))
    check_timeline(_analyze(run.pcap, tmp_path / "a.db"), masters, failovers)


# -- (c) sniff followed it live -----------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_sniff_follows_the_ucarp_master_live(run: Run) -> None:
    assert run.sniff_rc == 0, run.sniff_err
    for want, seconds, entry in run.sniff_saw:
        assert seconds is not None, f"sniff's report never showed master {want}: {entry}"
    doc = _report(run.db)
    assert doc is not None and doc["run"]["kind"] == "sniff"
    # The truth of what sniff read (its own timestamps), and the same story as tcpdump's.
    masters, failovers = carp_masters_and_failovers(read_carp_adverts(run.sniff_pcap))
    truth = carp_masters_and_failovers(read_carp_adverts(run.pcap))
    assert [m["address"] for m in masters] == [m["address"] for m in truth[0]]
    check_timeline(doc, masters, failovers)


# -- captures/record.py re-records the bundled CARP capture --------------------------------------


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_record_script_regenerates_the_ucarp_capture(tmp_path: Path) -> None:
    if missing := missing_prerequisites(ucarp=True):
        lab_unavailable("; ".join(missing))
    spec = importlib.util.spec_from_file_location("captures_record", CAPTURES / "record.py")
    assert spec is not None and spec.loader is not None
    record = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = record  # dataclasses look their module up there
    spec.loader.exec_module(record)
    assert record.main(["--out", str(tmp_path), "carp-ucarp"]) == 0
    new = json.loads((tmp_path / "carp-ucarp.json").read_text())
    old = json.loads((CAPTURES / "carp-ucarp.json").read_text())

    def stable(routers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "arp_mac"} for r in routers]  # random MACs

    assert stable(new["routers"]) == stable(old["routers"])
    assert [e["action"] for e in new["events"]] == [e["action"] for e in old["events"]]
    assert [(f["from"], f["to"], f["cause"], f["expected_ms"]) for f in new["failovers"]] == [
        (f["from"], f["to"], f["cause"], f["expected_ms"]) for f in old["failovers"]
    ]
    assert new["protocol"] == "carp" and (tmp_path / "carp-ucarp.pcap").stat().st_size < 50_000
