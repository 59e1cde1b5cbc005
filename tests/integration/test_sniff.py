"""``vrrpwatch sniff`` on a monitor host of the namespace lab, against real keepalived routers.

One lab run, two sniffers side by side on the monitor's ``eth0``: ``A`` prints JSON lines and
is killed with SIGKILL at the end (its database must still be sound and complete up to the
last second); ``B`` prints log lines, keeps a pcap and stops on SIGTERM (exit 0, run closed).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, lab_unavailable
from tests.lab import (
    Host,
    KeepalivedInstance,
    Lab,
    master_down_interval_s,
    missing_prerequisites,
    read_adverts,
)

VIP = "192.0.2.1"
R1, R2, R3 = "192.0.2.253", "192.0.2.254", "192.0.2.252"
ALERT_FIELDS = {
    "kind",
    "severity",
    "vlan",
    "family",
    "vrid",
    "protocol",
    "source",
    "time",
    "frame",
    "file",
    "message",
}  # analyze's alert fields (file is null live; protocol: issue 15)


@pytest.fixture
def vwc_lab(tmp_path: Path) -> Iterator[Lab]:
    """A lab with this file's own prefix (``vwc`` + 4 hex digits), torn down in all cases."""
    missing = missing_prerequisites()
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(prefix=f"vwc{secrets.token_hex(2)}", workdir=tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.close()


class Sniff:
    """``vrrpwatch sniff`` running in a lab namespace; stdout lines kept with arrival times."""

    def __init__(self, lab: Lab, host: Host, *args: str) -> None:
        argv = ["ip", "netns", "exec", host.ns, sys.executable, "-m", "vrrpwatch", "sniff"]
        self.proc = subprocess.Popen(
            [*argv, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        lab.processes.append(self.proc)  # type: ignore[arg-type]  # stopped by PID at close()
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))

    def wait_for(self, text: str, timeout: float) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, line in list(self.lines):
                if text in line:
                    return t, line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
        raise AssertionError(f"no {text!r} in sniff output within {timeout} s: {self.lines} {err}")

    def finish(self, sig: int) -> tuple[int, str]:
        self.proc.send_signal(sig)
        rc = self.proc.wait(15)
        self._reader.join(5)
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read()


def run_on_terminal(argv: list[str], timeout: float = 30.0) -> str:
    """Run ``argv`` with a pseudo-terminal as stdout; everything it wrote, ANSI included."""
    import pty
    import select

    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", "LINES": "50", "TERM": "xterm"}
    proc = subprocess.Popen(
        argv, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, cwd=ROOT, env=env
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([leader], [], [], 0.2)[0]:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(10) == 0, out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    return out.decode(errors="replace")


def report(db: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "vrrpwatch", "report", "--db", str(db), "--json"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def wait_for_master(db: Path, master: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = report(db) if db.exists() else None
        if doc and doc["virtual_routers"] and doc["virtual_routers"][0]["master"] == master:
            return doc
        if time.monotonic() > deadline:
            raise AssertionError(f"report never showed master {master}: {doc}")
        time.sleep(0.2)


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_sniff_follows_keepalived_live(vwc_lab: Lab, tmp_path: Path) -> None:
    lab = vwc_lab
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4=f"{R1}/24")
    r2 = lab.host("r2", lan, addr4=f"{R2}/24")
    r3 = lab.host("r3", lan, addr4=f"{R3}/24")
    mon = lab.host("mon", lan, ipv6=False)
    group = {"vrid": 1, "vips": [f"{VIP}/24"], "auth_type": "PASS", "auth_pass": "s3cret"}
    k1 = r1.keepalived(priority=200, **group)
    k2 = r2.keepalived(priority=100, **group)
    r1.wait_for_address(VIP, timeout=10)

    db_a, db_b, pcap = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "out.pcap"
    a = Sniff(lab, mon, "eth0", "--json", "--db", str(db_a))
    b = Sniff(lab, mon, "eth0", "--db", str(db_b), "--pcap-out", str(pcap))

    # The first master is recorded, and report shows it while sniff runs.
    b.wait_for(f"first master {R1}", timeout=10)
    doc = wait_for_master(db_a, R1, timeout=5)
    assert doc["run"]["kind"] == "sniff" and doc["run"]["status"] == "running"

    # plaintext-auth is raised without the password.
    _, line = a.wait_for('"plaintext-auth"', timeout=5)
    assert json.loads(line)["source"] == R1

    # The monitor's own cable: an alert each way, and sniffing goes on.
    mon.link_down()
    a.wait_for('"interface-down"', timeout=5)
    time.sleep(1.0)
    mon.link_up()
    a.wait_for('"interface-up"', timeout=5)
    before = report(db_a)["vrrp_adverts"]
    time.sleep(2.5)
    assert report(db_a)["vrrp_adverts"] > before

    # Cable pull on the master: master-change to the backup, gap within 50 ms of the RFC's
    # Master_Down_Interval (RFC 3768 section 6.4.2), and no master-lost (the backup took over).
    r1.link_down()
    _, line = a.wait_for('"master-change"', timeout=10)
    change = json.loads(line)
    assert change["source"] == R2 and change["severity"] == "info"
    r1.link_up()
    a.wait_for(f"master {R2} -> {R1}", timeout=10)  # preempted back

    # A third keepalived with another password: it never hears the master, takes over and
    # advertises with its own password.
    k3 = r3.keepalived(priority=50, **{**group, "auth_pass": "0ther"})
    _, line = a.wait_for('"auth-mismatch"', timeout=15)
    assert json.loads(line)["severity"] == "critical"
    k3.stop()

    # Both routers stop: master-lost within Master_Down_Interval + 0.5 s of the last advert.
    k2.stop()
    k1.stop()
    _, line = a.wait_for('"master-lost"', timeout=15)
    lost = json.loads(line)
    assert lost["source"] == R1 and lost["severity"] == "critical"

    time.sleep(1.2)  # a full second of commits after the last alert
    kill_at = time.time()
    rc_a, _ = a.finish(signal.SIGKILL)
    assert rc_a == -signal.SIGKILL
    rc_b, err_b = b.finish(signal.SIGTERM)
    assert rc_b == 0, err_b
    assert err_b == ""

    # -- what A printed: JSON lines with exactly analyze's alert fields -------------------------
    printed = [json.loads(line) for _, line in a.lines]
    assert printed and all(set(p) == ALERT_FIELDS for p in printed)
    kinds = [p["kind"] for p in printed]
    assert "s3cret" not in "\n".join(line for _, line in a.lines + b.lines)
    changes = [p for p in printed if p["kind"] == "master-change"]
    assert [c["source"] for c in changes[:2]] == [R2, R1]

    # -- A's database after SIGKILL: sound, and holding every alert printed a second before ------
    con = sqlite3.connect(db_a)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {
        (k, s, round(t, 6))
        for k, s, t in con.execute("SELECT kind, source, time FROM alerts WHERE run_id = 1")
    }
    for (t, _line), p in zip(a.lines, printed, strict=True):
        if t < kill_at - 1.0:
            assert (p["kind"], p["source"], round(p["time"], 6)) in stored, p
    (status,) = con.execute("SELECT status FROM runs WHERE id = 1").fetchone()
    assert status == "running"  # killed: never closed
    con.close()
    for f in tmp_path.glob("*.db*"):
        assert b"s3cret" not in f.read_bytes(), f

    # -- B's database after SIGTERM: closed run, agrees with what B printed ----------------------
    doc_b = report(db_b)
    run = doc_b["run"]
    assert run["status"] == "complete" and run["stopped"] >= run["started"]
    assert run["kernel_drops"] == 0
    (vr,) = doc_b["virtual_routers"]
    trans = vr["transitions"]
    assert [t["to"] for t in trans[:3]] == [R1, R2, R1]
    assert [t["cause"] for t in trans[:3]] == ["first-seen", "silent", "preempted"]
    takeover = trans[1]
    assert takeover["expected_ms"] == pytest.approx(master_down_interval_s(100, 1.0, 2) * 1000)
    assert abs(takeover["gap_ms"] - takeover["expected_ms"]) <= 50, takeover
    printed_b = [
        line
        for _, line in b.lines
        if not line.startswith("sniffing on ") and line.split()[2] != "MASTER"
    ]
    assert len(printed_b) == len(doc_b["alerts"])
    for alert in doc_b["alerts"]:
        assert any(alert["message"] in line for line in printed_b), alert

    # Nothing but master-lost at the end, and it came on time: after the Master_Down_Interval
    # of the slowest backup seen (r3, priority 50), within 0.5 s of it.
    assert kinds.count("master-lost") == 1
    lost_b = [x for x in doc_b["alerts"] if x["kind"] == "master-lost"]
    assert len(lost_b) == 1
    last_r1 = max(t for t, adv in _adverts_from(pcap, R1))
    mdi = master_down_interval_s(50, 1.0, 2)
    print(
        f"takeover gap {takeover['gap_ms']:.1f} ms (RFC {takeover['expected_ms']:.1f} ms); "
        f"master-lost {lost['time'] - last_r1:.3f} s after the last advert (MDI {mdi:.3f} s)"
    )
    assert mdi <= lost["time"] - last_r1 <= mdi + 0.5, (lost["time"] - last_r1, mdi)
    assert "auth-mismatch" in kinds and "plaintext-auth" in kinds

    # -- the pcap B kept is what it analyzed: analyze finds the same timeline --------------------
    out = subprocess.run(
        [sys.executable, "-m", "vrrpwatch", "analyze", "--db", str(tmp_path / "c.db"), "--json",
         str(pcap)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    again = json.loads(out.stdout)
    # sniff --json printed analyze's alert objects: the same fields as analyze's alerts[].
    assert again["alerts"] and all(set(x) == ALERT_FIELDS for x in again["alerts"])
    assert again["vrrp_adverts"] == doc_b["vrrp_adverts"]
    assert [t["to"] for t in again["virtual_routers"][0]["transitions"]] == [t["to"] for t in trans]


def _adverts_from(pcap: Path, src: str) -> list[tuple[float, Any]]:
    return [(a.time, a) for a in read_adverts(pcap) if a.src == src]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_sniff_two_interfaces_and_802_1q_tags(vwc_lab: Lab, tmp_path: Path) -> None:
    """One VRID on two VLANs of a trunk (the kernel strips the tag; sniff puts it back from
    PACKET_AUXDATA) and a third router on another interface: three routers, kept apart."""
    lab = vwc_lab
    v10, v20 = lab.segment(vlan=10), lab.segment(vlan=20)
    lan = lab.segment("lan")
    r1 = lab.host("r1", v10, addr4=f"{R1}/24")
    r2 = lab.host("r2", v20, addr4="198.51.100.253/24")
    r3 = lab.host("r3", lan, addr4="203.0.113.253/24", addr6="2001:db8::253/64")
    mon = lab.trunk_monitor("mon")
    mon.attach(lan, "eth1")
    r1.keepalived(vrid=1, priority=150, state="MASTER", vips=[f"{VIP}/24"])
    r2.keepalived(vrid=1, priority=120, state="MASTER", version=3, advert_int=0.5,
                  vips=["198.51.100.1/24"])  # fmt: skip
    r3.keepalived(
        KeepalivedInstance(vrid=5, priority=100, state="MASTER", vips=("203.0.113.1/24",)),
        # IPv6: VRRPv3 over IPv6 and unsolicited neighbour advertisements through the filter.
        KeepalivedInstance(
            vrid=6, priority=100, state="MASTER", version=3, vips=("2001:db8::1/64",)
        ),
    )
    for host, vip in ((r1, VIP), (r2, "198.51.100.1"), (r3, "203.0.113.1"), (r3, "2001:db8::1")):
        host.wait_for_address(vip, timeout=10)

    db = tmp_path / "v.db"
    # On a terminal: the live view (rich) of the routers, redrawn twice a second.
    screen = run_on_terminal(
        ["ip", "netns", "exec", mon.ns, sys.executable, "-m", "vrrpwatch", "sniff", "eth0",
         "eth1", "--duration", "3.5", "--db", str(db)],
    )  # fmt: skip
    assert "Virtual routers" in screen and "sniffing on eth0, eth1" in screen
    for master in (R1, "198.51.100.253", "203.0.113.253"):
        assert master in screen
    assert "first master 203.0.113.253" in screen  # log lines above the view
    doc = report(db)
    routers = {(tuple(r["vlan"]), r["vrid"]): r for r in doc["virtual_routers"]}
    assert set(routers) == {((10,), 1), ((20,), 1), ((), 5), ((), 6)}
    assert routers[(10,), 1]["master"] == R1 and routers[(10,), 1]["version"] == 2
    assert routers[(20,), 1]["master"] == "198.51.100.253"
    assert routers[(20,), 1]["interval_ms"] == 500 and routers[(20,), 1]["version"] == 3
    assert routers[(), 5]["master"] == "203.0.113.253"
    assert routers[(), 6]["family"] == 6 and routers[(), 6]["vips"] == ["2001:db8::1"]
    assert doc["run"]["source"] == "eth0 eth1" and doc["run"]["kernel_drops"] == 0
    assert not [a for a in doc["alerts"] if a["severity"] == "critical"]
