"""``vrrpwatch join`` argument handling: one-line errors, no tracebacks (no network needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vrrpwatch import netif
from vrrpwatch.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["join", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_help_has_example() -> None:
    code, out = run("--help")
    assert code == 0
    assert "vrrpwatch join --vrid 1 --priority 50" in out
    for flag in (
        "--vip",
        "--version",
        "--advert-int",
        "--auth-pass",
        "--interface",
        "--unicast-peer",
        "--no-preempt",
        "--preempt-delay",
        "--dry-run",
        "--notify",
        "--json",
        "--db",
    ):
        assert flag in out


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--vrid", "0", "--priority", "50"], "Error: invalid VRID 0: must be 1..255\n"),
        (["--vrid", "256", "--priority", "50"], "Error: invalid VRID 256: must be 1..255\n"),
        (
            ["--vrid", "1", "--priority", "0"],
            "Error: invalid priority 0: must be 1..255 (0 is reserved)\n",
        ),
        (
            ["--vrid", "1", "--priority", "256"],
            "Error: invalid priority 256: must be 1..255 (0 is reserved)\n",
        ),
        (
            ["--vrid", "1", "--priority", "50", "--version", "4"],
            "Error: invalid --version 4: must be 2 or 3\n",
        ),
        (
            ["--vrid", "1", "--priority", "50", "--advert-int", "0"],
            "Error: --advert-int must be positive\n",
        ),
    ],
)
def test_invalid_arguments(args: list[str], line: str) -> None:
    assert run(*args) == (2, line)


def test_missing_priority_is_a_usage_error() -> None:
    code, out = run("--vrid", "1")
    assert code == 2 and "Missing option '--priority'" in out


def test_no_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netif, "is_root", lambda: False)
    assert run("--vrid", "1", "--priority", "50") == (
        2,
        "Error: join needs root (raw sockets and address changes); run it with sudo\n",
    )


def test_unknown_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netif, "is_root", lambda: True)
    code, out = run("--vrid", "1", "--priority", "50", "--interface", "nosuchif0")
    assert (code, out) == (2, "Error: no interface named 'nosuchif0'\n")


def test_sink_survives_a_closed_pipe_and_a_failing_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from vrrpwatch.cli import join as join_cli

    sink = join_cli._Sink(True, tmp_path / "j.db")
    sink.open_db()
    event = {
        "time": 0.0,
        "event": "state",
        "message": "(VI_1) Entering MASTER STATE",
        "old": "BACKUP",
        "new": "MASTER",
    }

    def broken(*_: object, **__: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(join_cli.click, "echo", broken)
    sink(event)  # no exception: the router goes on
    assert sink.output_broken
    assert sink.db["join_events"].count == 1
    sink.db.conn.close()
    sink(event)  # closed database: writes stop, no exception
    assert sink.db is None


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_no_root_for_real(tmp_path: Path) -> None:
    """As an unprivileged user (nobody) the real command says so on one line."""
    exe = Path(sys.executable).parent / "vrrpwatch"
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(exe), "join",
         "--vrid", "1", "--priority", "50"],
        capture_output=True, text=True, cwd=tmp_path, timeout=30,
    )  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (
        2,
        "",
        "Error: join needs root (raw sockets and address changes); run it with sudo\n",
    )


KEEPALIVED_CONF = """\
global_defs { router_id r2 }
vrrp_instance VI_7 {
    state BACKUP
    interface eth0
    virtual_router_id 7
    priority 80
    advert_int 1
    nopreempt
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        192.0.2.7/24 dev eth0
    }
}
vrrp_instance VI_8 {
    interface eth0
    virtual_router_id 8
    use_vmac
    virtual_ipaddress { 192.0.2.8/24 }
}
"""


def _captured_options(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, object]:
    """Run the CLI with runtime.join replaced: the options it would run the router with."""
    from vrrpwatch.join import runtime

    seen: list[object] = []

    def fake_join(opts: object, sink: object, before_start: object = None) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setattr(runtime, "join", fake_join)
    result = CliRunner().invoke(cli, ["join", *args])
    return result.exit_code, result.output, seen[0] if seen else None


def test_config_gives_the_instance_settings_and_flags_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    code, out, opts = _captured_options(
        monkeypatch, "--config", str(conf), "--instance", "VI_7", "--db", str(tmp_path / "j.db")
    )
    assert code == 0, out
    assert (opts.vrid, opts.priority, opts.interface) == (7, 80, "eth0")  # type: ignore[attr-defined]
    assert opts.vips == ("192.0.2.7/24",) and opts.version == 2  # type: ignore[attr-defined]
    assert opts.auth_pass == "s3cret" and opts.advert_int_s == 1.0  # type: ignore[attr-defined]
    assert opts.preempt is False and opts.instance == "VI_7"  # type: ignore[attr-defined]
    code, out, opts = _captured_options(
        monkeypatch, "--config", str(conf), "--instance", "VI_7", "--priority", "50",
        "--interface", "eth1", "--db", str(tmp_path / "j.db"),
    )  # fmt: skip
    assert code == 0, out
    assert (opts.priority, opts.interface, opts.vrid) == (50, "eth1", 7)  # type: ignore[attr-defined]


def test_config_warnings_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    code, out, opts = _captured_options(
        monkeypatch, "--config", str(conf), "--instance", "VI_8", "--db", str(tmp_path / "j.db")
    )
    assert code == 0 and "use_vmac is ignored" in out
    assert opts.priority == 100  # type: ignore[attr-defined]  # keepalived's default
    # several instances and no --instance: one line naming them
    code, out, _ = _captured_options(monkeypatch, "--config", str(conf))
    assert code == 2 and out.startswith("Error: ") and len(out.strip().splitlines()) == 1
    bad = tmp_path / "bad.conf"
    bad.write_text("vrrp_instance VI_1 {\n  priority\n")
    code, out, _ = _captured_options(monkeypatch, "--config", str(bad))
    assert code == 2 and f"{bad}:" in out and len(out.strip().splitlines()) == 1
    code, out, _ = _captured_options(monkeypatch, "--config", str(tmp_path / "missing.conf"))
    assert code == 2 and "Error:" in out
    code, out, _ = _captured_options(monkeypatch, "--instance", "VI_1", "--vrid", "1")
    assert code == 2 and "--instance needs --config" in out
    code, out, _ = _captured_options(monkeypatch, "--priority", "50")
    assert code == 2 and "--vrid" in out
