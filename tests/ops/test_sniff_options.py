"""sniff --metrics / --alertmanager: a bad value is one error line and exit 2, before any
capture starts (no root needed)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from vrrpwatch.cli import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics", "9567"], "'9567': expected ADDR:PORT"),
        (["--metrics", "localhost:9567"], "'localhost' is not an IP address"),
        (["--alertmanager", "ftp://am:9093"], "'ftp://am:9093': expected http://HOST:PORT"),
        (["--alertmanager", "http://am:99999"], "bad port"),
        (["--alertmanager-severity", "loud"], "'loud' is not one of"),
    ],
)
def test_bad_ops_option_is_exit_2(args: list[str], message: str) -> None:
    r = CliRunner().invoke(cli, ["sniff", "no-such-if0", *args])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output
