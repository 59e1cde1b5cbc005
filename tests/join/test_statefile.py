"""join's state file and lock against planted files, symlinks, wrong shapes and a second join."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ME, VIP, FakeClock, FakeTransport
from vrrpwatch.join.settings import JoinError
from vrrpwatch.join.statefile import InstanceLock, StateFile, lock_name, remove_stale_addresses

A = ipaddress.ip_address
OTHER = A("198.51.100.7")


def plant(path: Path, data: Any, *, mode: int = 0o600, uid: int | None = None) -> None:
    path.write_text(json.dumps(data))
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, uid)


def cleanup(path: Path) -> tuple[int, FakeTransport, list[dict[str, Any]]]:
    tr = FakeTransport(FakeClock(), [])
    tr.addresses |= {VIP, ME, OTHER}
    events: list[dict[str, Any]] = []
    n = remove_stale_addresses(path, tr, events.append, interface="eth0", vips=(VIP,), primary=ME)
    return n, tr, events


LISTING = {"interface": "eth0", "pid": 1, "addresses": [["192.0.2.254", 24], ["192.0.2.1", 24]]}


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to nobody needs root")
def test_a_planted_file_of_another_owner_removes_nothing(tmp_path: Path) -> None:
    """The red team's file: owned by nobody, pid 1, listing the interface's only address."""
    path = tmp_path / "state.json"
    plant(path, LISTING, uid=65534)
    n, tr, events = cleanup(path)
    assert n == 0 and tr.kinds("remove") == []
    assert [e["message"] for e in events] == [
        f"Warning: ignoring state file {path}: owned by uid 65534, not root or us; nothing removed"
    ]


def test_a_file_that_others_can_write_or_read_removes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    plant(path, LISTING, mode=0o644)
    n, tr, events = cleanup(path)
    assert n == 0 and tr.kinds("remove") == []
    assert events[0]["message"].endswith("mode 0644, not 0600; nothing removed")
    link = tmp_path / "link.json"
    plant(path, LISTING)
    link.symlink_to(path)
    n, tr, events = cleanup(link)
    assert n == 0 and events[0]["message"].endswith(": a symlink; nothing removed")


def test_never_the_primary_nor_an_address_outside_our_vips(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    data = dict(LISTING, addresses=[["192.0.2.254", 24], ["198.51.100.7", 24], ["192.0.2.1", 24]])
    plant(path, data)
    n, tr, events = cleanup(path)
    assert n == 1 and tr.kinds("remove") == [(0.0, "192.0.2.1/24")]
    assert ME in tr.addresses and OTHER in tr.addresses
    assert [e["message"] for e in events] == [
        "Warning: not removing 192.0.2.254/24 listed in the state file: our primary address",
        "Warning: not removing 198.51.100.7/24 listed in the state file: not a virtual address"
        " of ours",
        "Removed stale VIP 192.0.2.1/24 left by a previous run (pid 1)",
    ]
    # Written for another interface: not ours at all.
    plant(path, dict(LISTING, interface="eth1"))
    n, tr, events = cleanup(path)
    assert n == 0 and "written for interface eth1" in events[0]["message"]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ([["192.0.2.1", 24]], "a JSON list, expected an object"),
        (None, "a JSON null, expected an object"),
        ("x", "a JSON str, expected an object"),
        ({"addresses": "192.0.2.1"}, "'addresses' is not a list"),
        ({"addresses": [["192.0.2.1", "24"]]}, "is not [address, prefix length]"),
        ({"addresses": [[1, 24]]}, "is not [address, prefix length]"),
        ({"addresses": [["192.0.2.1", True]]}, "is not [address, prefix length]"),
        ({"addresses": [["x", 24]]}, "'x' is not an IP address"),
        ({"addresses": [["192.0.2.1", -1]]}, "bad prefix length -1 for 192.0.2.1"),
        ({"addresses": [], "pid": "1"}, "'pid' is not an integer"),
        ({"addresses": [], "interface": 3}, "'interface' is not a string"),
    ],
)
def test_a_wrong_shape_is_one_error_line(tmp_path: Path, data: Any, why: str) -> None:
    path = tmp_path / "state.json"
    plant(path, data)
    with pytest.raises(JoinError) as info:
        cleanup(path)
    assert why in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(f"state file {path}: ")


def test_not_json_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{")
    path.chmod(0o600)
    with pytest.raises(JoinError, match="not JSON"):
        cleanup(path)


def test_writes_go_through_a_fresh_name_never_a_symlink(tmp_path: Path) -> None:
    """The old writer used ``state.tmp`` and followed a symlink planted there, as root."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = tmp_path / "state.json"
    (tmp_path / "state.tmp").symlink_to(victim)
    path.symlink_to(victim)
    StateFile(path, "eth0").write([(VIP, 24)])
    assert victim.read_text() == "precious"
    assert not path.is_symlink() and (path.stat().st_mode & 0o777) == 0o600
    assert json.loads(path.read_text())["addresses"] == [["192.0.2.1", 24]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.tmp", "victim"]
    n, tr, _ = cleanup(path)  # what we write, we trust
    assert n == 1


def _unique_lock() -> str:
    # an abstract name of its own per test (a real join in this namespace has another)
    return lock_name(f"test{os.getpid()}x{time.monotonic_ns()}", 1, 4)


def test_a_second_join_on_the_same_instance_is_refused() -> None:
    lock_path = _unique_lock()
    first = InstanceLock(lock_path, "eth0 VRID 1 IPv4")
    with pytest.raises(JoinError) as info:
        InstanceLock(lock_path, "eth0 VRID 1 IPv4")
    assert str(info.value) == (
        f"another join (pid {os.getpid()}) is running on eth0 VRID 1 IPv4; stop it first"
    )
    first.close()
    InstanceLock(lock_path, "eth0 VRID 1 IPv4").close()


def test_the_lock_goes_with_its_process_even_on_sigkill() -> None:
    lock_path = _unique_lock()
    code = (
        "import sys, time; "
        "from vrrpwatch.join.statefile import InstanceLock; "
        f"held = InstanceLock({lock_path!r}, 'x'); print('held', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(JoinError, match=f"pid {child.pid}"):
            InstanceLock(lock_path, "x")
    finally:
        child.kill()
        child.wait()
    InstanceLock(lock_path, "x").close()
