"""vrrp_script runs as keepalived runs them: argv, path search, security, one run at a time,
timeouts (real processes, short ones)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from vrrpwatch.join import scripts
from vrrpwatch.join.scripts import (
    Command,
    Outcome,
    ScriptError,
    ScriptRunner,
    resolve_command,
    split_script,
)


def write_script(path: Path, body: str, mode: int = 0o755) -> Path:
    path.write_text(body)
    path.chmod(mode)
    return path


def resolve(text: str, *, security: bool = False, uid: int | None = None) -> tuple[Command, list]:
    warnings: list[str] = []
    uid = os.getuid() if uid is None else uid
    cmd = resolve_command(text, uid, os.getgid(), security=security, warn=warnings.append)
    return cmd, warnings


def run_once(runner: ScriptRunner, limit_s: float = 10.0) -> list[Outcome]:
    """Drive ``poll`` at its deadlines until the first run has ended."""
    now = time.monotonic()
    runner.start(now)
    out: list[Outcome] = []
    end = now + limit_s
    while not out and time.monotonic() < end:
        deadline = runner.deadline()
        assert deadline is not None
        time.sleep(max(0.0, deadline - time.monotonic()))
        out += [o for o in runner.poll(time.monotonic()) if o.how != "skipped"]
    runner.stop()
    return out


def test_split_keeps_quoted_words() -> None:
    assert split_script("/usr/bin/test -f '/run/a b'") == ["/usr/bin/test", "-f", "/run/a b"]
    assert split_script(r"/bin/echo a\ b") == ["/bin/echo", "a b"]
    with pytest.raises(ScriptError):
        split_script("/bin/echo 'unclosed")


def test_argv_without_a_shell(tmp_path: Path) -> None:
    cmd, warnings = resolve("/bin/echo $HOME ; rm -rf /")
    assert cmd.argv == ("/bin/echo", "$HOME", ";", "rm", "-rf", "/") and not cmd.shell
    assert warnings == []


def test_bare_name_is_searched_with_a_warning() -> None:
    cmd, warnings = resolve("true")
    assert cmd.argv[0].endswith("/true") and cmd.argv[0].startswith("/")
    assert "please specify the full path" in warnings[0]
    with pytest.raises(ScriptError, match="cannot find script"):
        resolve("no-such-command-vrrpwatch")


def test_open_check_and_shebangless_files_use_a_shell(tmp_path: Path) -> None:
    cmd, _ = resolve("</dev/null")
    assert cmd.shell and cmd.argv == ("/bin/sh", "-c", "</dev/null")
    plain = write_script(tmp_path / "plain", "exit 0\n")
    cmd, warnings = resolve(str(plain))
    assert cmd.shell and cmd.argv == ("/bin/sh", "-c", str(plain))
    assert "shebang" in warnings[0]


def test_not_executable_is_refused(tmp_path: Path) -> None:
    script = write_script(tmp_path / "chk", "#!/bin/sh\nexit 0\n", mode=0o644)
    with pytest.raises(ScriptError, match="not executable"):
        resolve(str(script))


@pytest.mark.skipif(os.geteuid() != 0, reason="the security check is for scripts run as root")
def test_world_writable_script_is_insecure(tmp_path: Path) -> None:
    script = write_script(tmp_path / "chk", "#!/bin/sh\nexit 0\n", mode=0o777)
    os.chmod(script, 0o777)  # past the umask
    with pytest.raises(ScriptError, match="unsafe permissions"):
        resolve(str(script), security=True, uid=0)
    cmd, warnings = resolve(str(script), security=False, uid=0)
    assert cmd.argv == (str(script),)
    assert "unsafe permissions" in warnings[0]
    script.chmod(0o755)
    (tmp_path).chmod(0o700)
    cmd, warnings = resolve(str(script), security=True, uid=0)
    assert warnings == []


def runner(
    argv: tuple[str, ...], *, interval_s: float = 5.0, timeout_s: float = 5.0
) -> ScriptRunner:
    cmd = Command(argv=argv, uid=os.getuid(), gid=os.getgid())
    return ScriptRunner(name="chk", command=cmd, interval_s=interval_s, timeout_s=timeout_s)


def test_exit_status() -> None:
    assert run_once(runner(("/bin/true",))) == [Outcome(success=True, how="succeeded")]
    out = run_once(runner(("/bin/sh", "-c", "exit 3")))
    assert out == [Outcome(success=False, how="failed", detail="exited with status 3")]
    out = run_once(runner(("/nonexistent/chk",)))
    assert out[0].how == "failed" and "cannot be run" in out[0].detail


def test_timeout_terminates_the_process_group() -> None:
    start = time.monotonic()
    out = run_once(runner(("/bin/sleep", "5"), timeout_s=0.2))
    took = time.monotonic() - start
    assert out == [Outcome(success=False, how="timed_out")]
    assert 0.2 <= took < 1.0


def test_sigterm_ignored_gets_sigkill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scripts, "KILL_AFTER_S", 0.3)
    start = time.monotonic()
    out = run_once(
        runner(("/bin/sh", "-c", "trap '' TERM; sleep 5 & wait; sleep 5"), timeout_s=0.2)
    )
    took = time.monotonic() - start
    assert out == [Outcome(success=False, how="timed_out")]
    assert 0.5 <= took < 1.5


def test_never_two_runs_at_once() -> None:
    r = runner(("/bin/sleep", "0.5"), interval_s=0.1, timeout_s=2.0)
    now = time.monotonic()
    r.start(now)
    seen: list[Outcome] = []
    end = now + 1.0
    while time.monotonic() < end:
        deadline = r.deadline()
        assert deadline is not None
        time.sleep(max(0.0, min(deadline, end) - time.monotonic()))
        seen += r.poll(time.monotonic())
    r.stop()
    skipped = [o for o in seen if o.how == "skipped"]
    done = [o for o in seen if o.how == "succeeded"]
    # 0.5 s runs every 0.1 s: the ticks while one runs are skipped, never a second process.
    assert len(done) in (1, 2) and len(skipped) >= 4
    assert r.state is scripts.RunState.IDLE
