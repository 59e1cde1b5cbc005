"""sniff's SIGHUP: --known-routers re-read between two batches; a broken list keeps the old one."""

from __future__ import annotations

from pathlib import Path

import pytest

from vrrpwatch.cli.sniff import _Reload
from vrrpwatch.watch.monitor import Monitor


def test_a_broken_list_keeps_the_previous_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = tmp_path / "known.toml"
    known.write_text('[[router]]\naddress = "192.0.2.253"\n')
    monitor = Monitor(fingerprint=lambda pw: "fp")
    ticks: list[float] = []
    reload = _Reload(known, monitor, then=ticks.append)
    reload.request(1, None)
    reload.tick(1.0)
    assert monitor.known is not None and set(monitor.known.routers) == {"192.0.2.253"}
    assert "re-read (1 routers)" in capsys.readouterr().err
    known.write_text("[[router]\n")
    reload.request(1, None)
    reload.tick(2.0)  # no exception: sniff goes on
    err = capsys.readouterr().err
    assert err.startswith(f"Warning: --known-routers {known}: not valid TOML")
    assert err.endswith("; keeping the previous list\n")
    assert set(monitor.known.routers) == {"192.0.2.253"}
    assert ticks == [1.0, 2.0]
