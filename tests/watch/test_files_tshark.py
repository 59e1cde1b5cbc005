"""--engine tshark: tshark's own reason reaches the Error line."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from tests.helpers import CAPTURES, lab_unavailable
from vrrpwatch.cli import cli
from vrrpwatch.watch.files import tshark_message


def test_the_root_warning_and_prefix_go_the_reason_stays() -> None:
    err = (
        'Running as user "root" and group "root". This could be dangerous.\n'
        'tshark: The file "/home/root/x.pcap" appears to have been cut short in the middle '
        "of a packet.\n"
    )
    # The old rule dropped every line holding "root", here the reason itself.
    assert tshark_message(err, 2) == (
        'The file "/home/root/x.pcap" appears to have been cut short in the middle of a packet.'
    )
    assert tshark_message("", 1) == "exit status 1, no message"
    assert tshark_message("tshark: a\n  b\n", 2) == "a b"


def test_real_tshark_reason_in_a_path_holding_root(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        lab_unavailable("tshark is not installed")
    d = tmp_path / "root-owned"
    d.mkdir()
    data = (CAPTURES / "v2-failover.pcap").read_bytes()
    cut = d / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 5])
    r = CliRunner().invoke(
        cli, ["analyze", "--engine", "tshark", str(cut), "--db", str(tmp_path / "x.db")]
    )
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: ")
    assert "appears to have been cut short" in r.stderr
    assert "Running as user" not in r.stderr
