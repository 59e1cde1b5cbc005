"""The capability sets of deploy/systemd, proven in the lab: sniff as an unprivileged user
holding CAP_NET_RAW only, join holding CAP_NET_RAW and CAP_NET_ADMIN only (setpriv, as the
units' DynamicUser= and AmbientCapabilities= would), both against real keepalived."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import lab_unavailable
from tests.lab import Daemon, Host, Lab, missing_prerequisites
from tests.ops.labtools import Sniff, free_port, scrape, value, wait_until

VIP = "192.0.2.1"
R1, J = "192.0.2.253", "192.0.2.250"
NOBODY = 65534


def as_nobody(*caps: str) -> tuple[str, ...]:
    c = ",".join(f"+{x}" for x in caps)
    return (
        "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
        f"--inh-caps=-all,{c}", f"--ambient-caps={c}", f"--bounding-set=-all,{c}", "--",
    )  # fmt: skip


@pytest.fixture
def vwu_lab(tmp_path: Path) -> Iterator[Lab]:
    missing = missing_prerequisites()
    if shutil.which("setpriv") is None:
        missing.append("setpriv (util-linux)")
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(prefix=f"vwu{secrets.token_hex(2)}", workdir=tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.close()


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_sniff_with_cap_net_raw_and_join_with_net_admin_as_nobody(
    vwu_lab: Lab, tmp_path: Path
) -> None:
    lab = vwu_lab
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4=f"{R1}/24")
    j = lab.host("j", lan, addr4=f"{J}/24")
    mon = lab.host("mon", lan, ipv6=False)
    k1 = r1.keepalived(priority=200, vrid=5, vips=[f"{VIP}/24"])
    r1.wait_for_address(VIP, timeout=10)
    # The units' StateDirectory/RuntimeDirectory: the user's own, where it can reach it (pytest's
    # tmp_path sits under a directory only root may enter).
    state = Path(tempfile.mkdtemp(prefix="vrrpwatch-units-"))
    os.chown(state, NOBODY, NOBODY)
    try:
        _run(lab, r1, j, mon, k1, state, tmp_path)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _run(lab: Lab, r1: Host, j: Host, mon: Host, k1: Daemon, state: Path, tmp_path: Path) -> None:

    # sniff, CAP_NET_RAW only: captures, follows the master, serves metrics.
    port = free_port(mon)
    sniff = Sniff(lab, mon, "eth0", "--json", "--db", str(state / "sniff.db"),
                  "--metrics", f"127.0.0.1:{port}", prefix=as_nobody("net_raw"))  # fmt: skip
    wait_until(
        "sniff as nobody follows r1",
        lambda: (
            (s := scrape(mon, port)) is not None
            and value(s, "vrrpwatch_advertiser_master", address=R1, vrid="5") == 1
        ),
        20,
    )
    status = mon.run(["cat", f"/proc/{sniff.proc.pid}/status"]).stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[0] == str(NOBODY)
    assert int(fields["CapEff"], 16) == 1 << 13  # CAP_NET_RAW, nothing else

    # join, CAP_NET_RAW + CAP_NET_ADMIN: backup under r1, master with the VIP after r1 stops.
    log = tmp_path / "join.log"
    argv = [
        *as_nobody("net_raw", "net_admin"), sys.executable, "-m", "vrrpwatch", "join", "--json",
        "--vrid", "5", "--priority", "50", "--interface", "eth0",
        "--db", str(state / "join.db"), "--state-file", str(state / "join.json"),
    ]  # fmt: skip
    proc = j.popen(argv, log=log)

    def states() -> list[str]:
        out = []
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            if line.startswith("{"):
                e = json.loads(line)
                if e.get("event") == "state":
                    out.append(e["new"])
        return out

    wait_until("join backup", lambda: "BACKUP" in states() or proc.poll() is not None, 20)
    assert proc.poll() is None, log.read_text()
    k1.stop()
    wait_until("join master", lambda: "MASTER" in states(), 15)
    j.wait_for_address(VIP, timeout=5)  # added with CAP_NET_ADMIN
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, log.read_text()
    j.wait_for_address(VIP, timeout=5, present=False)
    time.sleep(0.5)
    rc, err = sniff.finish(signal.SIGTERM)
    assert rc == 0, err
    kinds = [x["kind"] for x in sniff.json_lines()]
    assert "master-change" in kinds  # r1 -> join, seen by the unprivileged sniff


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_sighup_rereads_known_routers(vwu_lab: Lab, tmp_path: Path) -> None:
    """``systemctl reload`` (ExecReload: SIGHUP) re-reads --known-routers while sniff runs; a
    list that cannot be read keeps the previous one."""
    lab = vwu_lab
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4=f"{R1}/24")
    mon = lab.host("mon", lan, ipv6=False)
    r1.keepalived(priority=200, vrid=5, vips=[f"{VIP}/24"])
    known = tmp_path / "known.toml"
    known.write_text(f'[[router]]\naddress = "{R1}"\n')
    sniff = Sniff(lab, mon, "eth0", "--json", "--db", str(tmp_path / "s.db"),
                  "--known-routers", str(known))  # fmt: skip

    def kinds() -> list[str]:
        return [j["kind"] for j in sniff.json_lines()]

    wait_until("r1 heard", sniff.json_lines, 15)
    time.sleep(2)
    assert "rogue-advertiser" not in kinds()
    known.write_text("[[router]\n")  # broken: the old list stays
    sniff.proc.send_signal(signal.SIGHUP)
    time.sleep(2)
    assert sniff.alive() and "rogue-advertiser" not in kinds()
    known.write_text('[[router]]\naddress = "192.0.2.99"\n')
    sniff.proc.send_signal(signal.SIGHUP)
    rogue = wait_until(
        "rogue after reload",
        lambda: [j for j in sniff.json_lines() if j["kind"] == "rogue-advertiser"],
        10,
    )
    assert rogue[0]["source"] == R1
    rc, err = sniff.finish(signal.SIGTERM)
    assert rc == 0
    lines = err.splitlines()
    assert lines[0].startswith(f"Warning: --known-routers {known}: not valid TOML")
    assert lines[0].endswith("; keeping the previous list")
    assert lines[1] == f"--known-routers {known}: re-read (1 routers)"
