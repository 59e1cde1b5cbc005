"""How the lab starts processes (tests/lab.py ``Lab.start_daemon``, ``Host.vrrpwatch``): every
one is recorded and stopped by PID, and a daemon that never gets ready is killed at once."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab import Lab, LabError


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_daemon_that_never_gets_ready_is_killed_before_the_error(lab: Lab) -> None:
    h = lab.host("h", addr4="192.0.2.2/24")
    with pytest.raises(LabError, match=r"stuck@h: no 'ready' in 0.5 s"):
        h.start_daemon(
            "stuck",
            ["sh", "-c", "echo starting; exec sleep 30"],
            h.workdir / "stuck.log",
            ready=lambda d: d.wait_for_log("ready", timeout=0.5),
        )
    (proc,) = lab.processes
    assert proc.poll() is not None  # killed and reaped, not left to the lab's close()
    assert lab.living_pids() == []


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_a_daemon_that_exits_is_reported_with_its_log(lab: Lab) -> None:
    h = lab.host("h", addr4="192.0.2.2/24")
    with pytest.raises(LabError, match=r"(?s)gone@h exited waiting for 'ready'.*no luck"):
        h.start_daemon("gone", ["sh", "-c", "echo no luck"], h.workdir / "gone.log", ready="ready")
    assert lab.living_pids() == []


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_vrrpwatch_runs_this_tree_in_the_namespace_and_is_stopped_at_close(lab: Lab) -> None:
    h = lab.host("h", addr4="192.0.2.2/24")
    helped = h.vrrpwatch("--help", stdout=subprocess.PIPE)
    out, _ = helped.communicate(timeout=30)
    assert helped.returncode == 0 and "audit" in out
    sniff = h.vrrpwatch("sniff", "eth0", "--db", str(h.workdir / "s.db"))
    # `ip netns exec` enters the namespace, then execs python: same PID, the namespace's netns.
    want = os.stat(f"/run/netns/{h.ns}").st_ino
    deadline = time.monotonic() + 10
    while os.stat(f"/proc/{sniff.pid}/ns/net").st_ino != want:
        assert time.monotonic() < deadline, "sniff never entered the namespace"
        time.sleep(0.02)
    time.sleep(1.0)
    assert sniff.poll() is None, "sniff runs until it is stopped"
    pids = list(lab.pids)
    lab.close()
    assert all(_gone(pid) for pid in pids)
    assert lab.namespaces() == []
