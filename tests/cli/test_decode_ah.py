"""``vrrpwatch decode --auth-pass-file``: keepalived's AH ICVs checked on captures/v2-ah.pcap."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.helpers import CAPTURES
from vrrpwatch.cli import cli

AH_PCAP = str(CAPTURES / "v2-ah.pcap")


def _decode(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["decode", *args])
    return result.exit_code, result.stdout, result.stderr


def _key(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ah.key"
    path.write_text(text + "\n")
    return str(path)


def test_every_ah_advert_of_the_capture_verifies_with_its_key(tmp_path: Path) -> None:
    code, out, _ = _decode("--json", "--auth-pass-file", _key(tmp_path, "ahsecret"), AH_PCAP)
    assert code == 0
    vrrp = [json.loads(line) for line in out.splitlines() if '"vrrp"' in line]
    assert [r["ah_sequence"] for r in vrrp] == [1, 2, 3, 4, 5, 6, 7]
    assert {r["ah_icv"] for r in vrrp} == {"good"}


def test_a_wrong_key_says_bad_and_no_key_checks_nothing(tmp_path: Path) -> None:
    code, out, _ = _decode("--auth-pass-file", _key(tmp_path, "nottheky"), AH_PCAP)
    assert code == 0
    lines = [line for line in out.splitlines() if "VRRPv2" in line]
    assert len(lines) == 7 and all("auth ah seq " in x and " icv bad " in x for x in lines)
    code, out, _ = _decode("--json", AH_PCAP)
    assert code == 0 and "ah_icv" not in out


def test_an_unreadable_key_file_is_one_error_line(tmp_path: Path) -> None:
    code, out, err = _decode("--auth-pass-file", str(tmp_path / "missing"), AH_PCAP)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"Error: --auth-pass-file: {tmp_path / 'missing'}: No such file or directory"
    ]
