"""The systemd units in deploy/systemd: the settings the issue asks for, and
``systemd-analyze verify`` where it runs (ExecStart pointed at this tree's vrrpwatch)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, lab_unavailable

UNITS = ROOT / "deploy/systemd"
VRRPWATCH = Path(sys.executable).parent / "vrrpwatch"


def settings(name: str) -> dict[str, list[str]]:
    """key -> every value it is given (units may repeat a key)."""
    out: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        out.setdefault(key, []).append(value)
    return out


COMMON = {
    "DynamicUser": ["yes"],
    "NoNewPrivileges": ["yes"],
    "ProtectSystem": ["strict"],
    "Restart": ["on-failure"],
}


def test_sniff_unit_holds_cap_net_raw_only() -> None:
    s = settings("vrrpwatch-sniff@.service")
    for key, value in COMMON.items():
        assert s[key] == value, key
    assert s["AmbientCapabilities"] == s["CapabilityBoundingSet"] == ["CAP_NET_RAW"]
    assert s["StateDirectory"] == ["vrrpwatch-sniff-%i"]
    assert s["Environment"] == ["VRRPWATCH_DB=%S/vrrpwatch-sniff-%i/vrrpwatch.db"]
    assert set(s["RestrictAddressFamilies"][0].split()) == {
        "AF_PACKET", "AF_NETLINK", "AF_INET", "AF_INET6", "AF_UNIX",
    }  # fmt: skip
    assert s["EnvironmentFile"] == ["-/etc/vrrpwatch/sniff.env", "-/etc/vrrpwatch/sniff-%i.env"]
    assert s["ExecStart"] == ["/usr/local/bin/vrrpwatch sniff %I $VRRPWATCH_SNIFF_OPTS"]


def test_join_unit_adds_cap_net_admin_and_a_runtime_directory() -> None:
    s = settings("vrrpwatch-join@.service")
    for key, value in COMMON.items():
        assert s[key] == value, key
    caps = ["CAP_NET_RAW CAP_NET_ADMIN"]
    assert s["AmbientCapabilities"] == s["CapabilityBoundingSet"] == caps
    assert s["StateDirectory"] == ["vrrpwatch-join-%i"]
    assert s["RuntimeDirectory"] == ["vrrpwatch-join-%i"]
    # No --state-file (it takes one instance only): join puts one state file per instance in
    # $RUNTIME_DIRECTORY, which RuntimeDirectory= sets; SIGHUP re-reads --config.
    assert s["ExecStart"] == ["/usr/local/bin/vrrpwatch join $VRRPWATCH_JOIN_OPTS"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["RuntimeDirectoryPreserve"] == ["restart"]
    assert s["EnvironmentFile"] == ["/etc/vrrpwatch/join-%i.env"]


@pytest.mark.parametrize(
    ("unit", "instance"),
    [("vrrpwatch-sniff@.service", "eth0"), ("vrrpwatch-join@.service", "VI_1")],
)
def test_systemd_analyze_verify(unit: str, instance: str, tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        lab_unavailable("systemd-analyze not installed")
    assert tool is not None
    text = (UNITS / unit).read_text().replace("/usr/local/bin/vrrpwatch", str(VRRPWATCH))
    path = tmp_path / unit.replace("@.", f"@{instance}.")
    path.write_text(text)
    r = subprocess.run([tool, "verify", "--man=no", str(path)], capture_output=True, text=True)
    # verify exits 0 on settings it ignores but says so: nothing at all must be said
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_verify_would_catch_a_bad_setting(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        lab_unavailable("systemd-analyze not installed")
    assert tool is not None
    text = (UNITS / "vrrpwatch-sniff@.service").read_text()
    text = text.replace("/usr/local/bin/vrrpwatch", str(VRRPWATCH))
    path = tmp_path / "vrrpwatch-sniff@eth0.service"
    path.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=stricter"))
    r = subprocess.run([tool, "verify", "--man=no", str(path)], capture_output=True, text=True)
    assert "stricter" in r.stderr
