"""``vrrpwatch join`` argument handling: one-line errors, no tracebacks (no network needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
        "--auth-pass-file",
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


BASE = ["--vrid", "1", "--priority", "50"]
MANY_VIPS = [x for i in range(300) for x in ("--vip", f"198.51.{100 + i // 200}.{1 + i % 200}")]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--advert-int", "nan"],
            "Error: --advert-int must be a finite number of seconds, not nan",
        ),
        (
            ["--advert-int", "inf"],
            "Error: --advert-int must be a finite number of seconds, not inf",
        ),
        (["--advert-int", "300"], "Error: --advert-int 300 is too long: at most 255 s"),
        (
            ["--learn-timeout", "nan"],
            "Error: --learn-timeout must be a finite number of seconds, not nan",
        ),
        (
            ["--learn-timeout", "inf"],
            "Error: --learn-timeout must be a finite number of seconds, not inf",
        ),
        (
            ["--learn-timeout", "1e300"],
            "Error: --learn-timeout 1e+300 is too long: at most 86400 s",
        ),
        (
            MANY_VIPS,
            "Error: --vip: 300 addresses; an advert carries at most 255 (Count IPvX Addr is "
            "8 bits, RFC 5798 section 5.2.5)",
        ),
        (
            ["--vip", "192.0.2.1/-1"],
            "Error: --vip: bad prefix length in '192.0.2.1/-1': must be 1..32",
        ),
        (
            ["--vip", "192.0.2.1/99"],
            "Error: --vip: bad prefix length in '192.0.2.1/99': must be 1..32",
        ),
        (
            ["--vip", "2001:db8::1/129"],
            "Error: --vip: bad prefix length in '2001:db8::1/129': must be 1..128",
        ),
        (
            ["--vip", "224.0.0.18"],
            "Error: --vip: 224.0.0.18 is a multicast address, not a usable virtual address",
        ),
        (
            ["--vip", "ff02::12"],
            "Error: --vip: ff02::12 is a multicast address, not a usable virtual address",
        ),
        (
            ["--vip", "255.255.255.255"],
            "Error: --vip: 255.255.255.255 is the broadcast address, not a usable virtual address",
        ),
        (
            ["--vip", "192.0.2.255/24"],
            "Error: --vip: 192.0.2.255 is the broadcast address of 192.0.2.0/24, not a usable "
            "virtual address",
        ),
        (
            ["--vip", "192.0.2.1", "--vip", "192.0.2.1/24"],
            "Error: --vip: 192.0.2.1 is given twice",
        ),
        (
            ["--vip", "192.0.2.1", "--unicast-peer", "2001:db8::2"],
            "Error: --unicast-peer: 2001:db8::2 is IPv6, the group is IPv4",
        ),
        (
            ["--vip", "2001:db8::1", "--unicast-peer", "192.0.2.2"],
            "Error: --unicast-peer: 192.0.2.2 is IPv4, the group is IPv6",
        ),
        (
            ["--unicast-peer", "192.0.2.2", "--unicast-peer", "2001:db8::2"],
            "Error: --unicast-peer: 2001:db8::2 is IPv6, the group is IPv4",
        ),
        (
            ["--preempt-delay", "nan"],
            "Error: --preempt-delay must be a finite number of seconds, not nan",
        ),
        (
            ["--garp-delay", "inf"],
            "Error: --garp-delay must be a finite number of seconds, not inf",
        ),
        (["--garp-repeat", "1000000000"], "Error: --garp-repeat 1000000000: must be 0..255"),
        (
            ["--notify", "/bin/echo 'unbalanced"],
            'Error: --notify: cannot split "/bin/echo \'unbalanced": No closing quotation',
        ),
        (["--notify", " "], "Error: --notify: empty command"),
        (
            ["--auth-pass", "a", "--auth-pass-file", "f"],
            "Error: give --auth-pass or --auth-pass-file, not both",
        ),
    ],
)
def test_hostile_values_are_one_error_line_before_anything_is_opened(
    monkeypatch: pytest.MonkeyPatch, args: list[str], line: str
) -> None:
    """Each is refused before root, the interface or a socket is looked at: nothing is sent."""

    def no(*_: object) -> object:
        raise AssertionError("join went past its option checks")

    monkeypatch.setattr(netif, "is_root", no)
    result = CliRunner().invoke(cli, ["join", *BASE, *args])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1:] == [line]
    assert [x for x in result.stderr.splitlines() if x.startswith("Error:")] == [line]


def test_missing_vrid_or_priority_is_one_error_line() -> None:
    assert run("--vrid", "1") == (2, "Error: Missing option '--priority' (or give --config).\n")
    assert run("--priority", "50") == (2, "Error: Missing option '--vrid' (or give --config).\n")


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
    preempt_delay 3
    virtual_ipaddress { 192.0.2.8/24 }
}
"""


def _captured_options(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, object]:
    """Run the CLI with setup.join replaced: the options it would run the router with."""
    from vrrpwatch.join import setup

    seen: list[object] = []

    def fake_join(opts: object, sink: object, before_start: object = None, **_: object) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setattr(setup, "join", fake_join)
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
    # several instances and no --instance: join runs them all, in one plan
    code, out, plan = _captured_options(monkeypatch, "--config", str(conf))
    assert code == 0, out
    assert [o.instance for o in plan.instances] == ["VI_7", "VI_8"]  # type: ignore[attr-defined]
    # ... and an instance's own flag with several is one error line naming the flag
    code, out, _ = _captured_options(monkeypatch, "--config", str(conf), "--priority", "50")
    errors = [line for line in out.splitlines() if not line.startswith("Warning: ")]
    assert code == 2 and errors == [
        "Error: --priority sets one instance's value, but join runs 2 (VI_7, VI_8); choose "
        "one with --instance or set it in the config"
    ]
    code, out, plan = _captured_options(
        monkeypatch, "--config", str(conf), "--instance", "VI_8", "--instance", "VI_7",
        "--dry-run", "--learn-timeout", "0",
    )  # fmt: skip
    assert code == 0, out
    assert [(o.instance, o.dry_run, o.learn_timeout_s) for o in plan.instances] == [  # type: ignore[attr-defined]
        ("VI_7", True, 0.0),
        ("VI_8", True, 0.0),
    ]
    code, out, _ = _captured_options(monkeypatch, "--config", str(conf), "--instance", "VI_9")
    assert code == 2 and "no vrrp_instance 'VI_9' (found: VI_7, VI_8)" in out
    bad = tmp_path / "bad.conf"
    bad.write_text("vrrp_instance VI_1 {\n  priority\n")
    code, out, _ = _captured_options(monkeypatch, "--config", str(bad))
    assert code == 2 and out.startswith(f"Error: {bad}:") and len(out.strip().splitlines()) == 1
    missing = tmp_path / "missing.conf"
    code, out, _ = _captured_options(monkeypatch, "--config", str(missing))
    assert code == 2 and out.startswith(f"Error: {missing}") and len(out.splitlines()) == 1
    code, out, _ = _captured_options(monkeypatch, "--instance", "VI_1", "--vrid", "1")
    assert code == 2 and "--instance needs --config" in out
    code, out, _ = _captured_options(monkeypatch, "--priority", "50")
    assert (code, out) == (2, "Error: Missing option '--vrid' (or give --config).\n")


def test_a_flag_given_at_its_default_still_overrides_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    args = ("--config", str(conf), "--instance", "VI_8", "--db", str(tmp_path / "j.db"))
    code, out, opts = _captured_options(monkeypatch, *args)
    assert code == 0, out
    assert opts.preempt_delay_s == 3.0  # type: ignore[attr-defined]
    code, out, opts = _captured_options(monkeypatch, *args, "--preempt-delay", "0")
    assert code == 0, out
    assert opts.preempt_delay_s == 0.0  # type: ignore[attr-defined]
    # Without --config, what the user did not give has JoinOptions' defaults.
    code, out, opts = _captured_options(monkeypatch, "--vrid", "1", "--priority", "50")
    assert code == 0, out
    assert (opts.preempt_delay_s, opts.learn_timeout_s, opts.garp_repeat) == (0.0, 5.0, 5)  # type: ignore[attr-defined]
    assert (opts.garp_delay_s, opts.preempt, opts.instance) == (5.0, True, "VI_1")  # type: ignore[attr-defined]


def test_unopenable_database_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vrrpwatch.join import setup

    def fake_join(opts: object, sink: object, before_start: Any = None, **_: object) -> int:
        before_start()
        return 0

    monkeypatch.setattr(setup, "join", fake_join)
    db = tmp_path / "no-such-dir" / "j.db"
    result = CliRunner().invoke(cli, ["join", "--vrid", "1", "--priority", "50", "--db", str(db)])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {db}: cannot open database")
    assert len(result.output.splitlines()) == 1


def test_every_flag_reaches_its_join_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vrrpwatch.join.settings import JoinOptions

    code, out, opts = _captured_options(
        monkeypatch, "--vrid", "9", "--priority", "120", "--interface", "eth1",
        "--vip", "192.0.2.9/24", "--vip", "192.0.2.10", "--version", "3", "--advert-int", "0.5",
        "--auth-pass", "pw", "--unicast-peer", "192.0.2.1", "--no-preempt",
        "--preempt-delay", "2", "--accept-mode", "--learn-timeout", "1", "--garp-repeat", "3",
        "--garp-delay", "0", "--dry-run", "--notify", "/bin/true", "--state-file", "s.json",
        "--db", str(tmp_path / "j.db"),
    )  # fmt: skip
    assert code == 0, out
    assert opts == JoinOptions(
        vrid=9,
        priority=120,
        interface="eth1",
        vips=("192.0.2.9/24", "192.0.2.10"),
        version=3,
        advert_int_s=0.5,
        auth_pass="pw",
        unicast_peers=("192.0.2.1",),
        preempt=False,
        preempt_delay_s=2.0,
        accept_mode=True,
        learn_timeout_s=1.0,
        dry_run=True,
        notify="/bin/true",
        state_file="s.json",
        garp_repeat=3,
        garp_delay_s=0.0,
    )


def test_auth_pass_on_the_command_line_warns_and_the_file_route_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ("--db", str(tmp_path / "j.db"))
    result_code, out, opts = _captured_options(monkeypatch, *BASE, "--auth-pass", "pw", *db)
    assert result_code == 0
    assert out.splitlines() == [
        "Warning: --auth-pass is visible to every local user (ps, /proc/PID/cmdline); "
        "use --auth-pass-file FILE or --config"
    ]
    result_code, out, opts = _captured_options(monkeypatch, *BASE, "--auth-pass-file", "pw", *db)
    assert (result_code, out) == (0, "")
    assert opts.auth_pass_file == "pw" and opts.auth_pass is None  # type: ignore[attr-defined]


def test_auth_pass_file_is_read_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """setup.join reads the file right after the root check and runs with its password."""
    from vrrpwatch.join.settings import JoinOptions
    from vrrpwatch.join.setup import with_password_file

    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    opts = JoinOptions(vrid=1, priority=50, auth_pass_file=str(pw))
    assert with_password_file(opts) == JoinOptions(vrid=1, priority=50, auth_pass="s3cret")
    monkeypatch.setattr(netif, "is_root", lambda: True)
    code, out = run(*BASE, "--auth-pass-file", str(tmp_path / "none"))
    assert (code, out) == (
        2,
        f"Error: --auth-pass-file: {tmp_path}/none: No such file or directory\n",
    )
