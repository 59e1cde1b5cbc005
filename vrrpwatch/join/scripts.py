"""Running a vrrp_script as keepalived runs it (keepalived/core/notify.c, vrrp_scheduler.c).

* **argv, no shell.** The script text is split into words (quotes and backslashes as
  keepalived's ``alloc_strvec_quoted_escaped``) and executed directly. A shell runs it only
  when the text needs one: keepalived passes a text starting ``</`` (an "is this file
  openable" check, e.g. ``</dev/tcp/127.0.0.1/80``) to ``system()``, and a file without a
  ``#!`` line or an executable's magic (keepalived's libmagic check) goes through ``/bin/sh``.
* **Path and user.** A bare name is looked up in ``PATH`` (with keepalived's "Please specify
  full path" warning). The script runs as its ``user USER [GROUP]``, else global_defs
  ``script_user``, else ``keepalived_script`` if that user exists, else as we run; a script the
  user cannot execute is disabled.
* **Security** (``check_security``): a script run as root whose file, or any directory on its
  path (a directory with the sticky bit excepted), is not owned by root or is writable by a
  non-root group or by everyone is insecure: disabled under ``enable_script_security``,
  otherwise run with a warning.
* **One run at a time, timeouts.** Each run starts in its own process group; a run still
  going at the next interval is not started again ("expect idle - skipping run"); after the
  timeout the group gets SIGTERM, 2 s later SIGKILL, and the run counts as failed
  (``timed_out``). Exit status 0 is success, anything else (or a signal) a failure. The loop
  never waits for a script: ``poll`` reaps without blocking.
"""

from __future__ import annotations

import contextlib
import enum
import grp
import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Command",
    "Outcome",
    "ScriptError",
    "ScriptRunner",
    "default_user",
    "resolve_command",
    "split_script",
    "user_ids",
]

# How often a running script is checked for having exited (the loop never blocks on it).
CHECK_S = 0.01
# keepalived: SIGTERM at the timeout, SIGKILL 2 s later.
KILL_AFTER_S = 2.0
DEFAULT_SCRIPT_USER = "keepalived_script"


class ScriptError(ValueError):
    """A script that cannot be run (not found, not executable, insecure, unknown user)."""


def split_script(text: str) -> list[str]:
    """The script text's words (quotes and backslash escapes, as keepalived splits them)."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ScriptError(f"cannot split {text!r}: {exc}") from None


def user_ids(user: str, group: str | None = None) -> tuple[int, int]:
    """(uid, gid) of ``user`` (its own group unless ``group`` is given)."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise ScriptError(f"script user {user!r} does not exist") from None
    gid = pw.pw_gid
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise ScriptError(f"script group {group!r} does not exist") from None
    return pw.pw_uid, gid


def default_user(user: str | None, group: str | None, *, security: bool) -> tuple[int, int]:
    """global_defs ``script_user``, else ``keepalived_script`` if it exists, else as we run
    (notify.c ``get_default_script_user``; with script security a missing keepalived_script
    is an error)."""
    if user is not None:
        return user_ids(user, group)
    try:
        return user_ids(DEFAULT_SCRIPT_USER)
    except ScriptError:
        if security:
            raise ScriptError(
                f"no script_user and no {DEFAULT_SCRIPT_USER} user "
                "(needed with enable_script_security)"
            ) from None
        return os.getuid(), os.getgid()


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A resolved script: what to execute, as whom."""

    argv: tuple[str, ...]
    uid: int
    gid: int
    shell: bool = False  # argv is ("/bin/sh", "-c", text)


def _executable(st: os.stat_result, uid: int, gid: int) -> bool:
    if uid == 0:
        return bool(st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _insecure(path: str) -> str | None:
    """notify.c ``check_security``: the first part of ``path`` a non-root user could change."""
    parts = Path(path).parts
    for i in range(1, len(parts) + 1):
        part = str(Path(*parts[:i]))
        try:
            st = os.lstat(part)
        except OSError as exc:
            return f"{part}: {exc.strerror}"
        last = i == len(parts)
        if not last and not stat.S_ISDIR(st.st_mode):
            return f"{part} is not a directory"
        guarded_dir = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
        writable = (st.st_gid and st.st_mode & stat.S_IWGRP) or st.st_mode & stat.S_IWOTH
        if st.st_uid or (not guarded_dir and writable):
            return part
    return None


def _needs_shell(path: str) -> bool:
    """No ``#!`` and not an executable format: execve would fail with ENOEXEC."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return not (head.startswith(b"#!") or head == b"\x7fELF")


def resolve_command(
    text: str, uid: int, gid: int, *, security: bool, warn: Callable[[str], None]
) -> Command:
    """keepalived's ``check_script_secure`` for one script text; ``ScriptError`` when it
    disables the script. ``warn`` gets keepalived's warnings."""
    stripped = text.lstrip()
    if stripped.startswith("<") and stripped[1:].lstrip(" \t").startswith("/"):
        return Command(argv=("/bin/sh", "-c", text), uid=uid, gid=gid, shell=True)
    argv = split_script(text)
    if not argv:
        raise ScriptError("empty script")
    name = argv[0]
    if "/" not in name:
        found = shutil.which(name)
        if found is None:
            raise ScriptError(f"cannot find script {name} in path")
        warn(f"script {name} resolved by path search to {found}; please specify the full path")
        name = argv[0] = found
    real = os.path.realpath(name)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise ScriptError(f"script {name} cannot be accessed: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode) or not _executable(st, uid, gid):
        raise ScriptError(f"script {name} is not executable for uid:gid {uid}:{gid}")
    setuid_root = (st.st_uid == 0 and st.st_mode & stat.S_ISUID) or (
        st.st_gid == 0 and st.st_mode & stat.S_ISGID
    )
    if uid == 0 or gid == 0 or setuid_root:
        # The path with symbolic links resolved, as keepalived checks it after realpath().
        bad = _insecure(real)
        if bad is not None and security:
            raise ScriptError(f"unsafe permissions for script {name} ({bad}): disabled")
        if bad is not None:
            warn(f"unsafe permissions found for script {name} ({bad})")
    if _needs_shell(real):
        warn(f"please add a #! shebang to script {name}")
        return Command(argv=("/bin/sh", "-c", shlex.join(argv)), uid=uid, gid=gid, shell=True)
    return Command(argv=tuple(argv), uid=uid, gid=gid)


class RunState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    TERMINATING = "terminating"  # SIGTERM sent at the timeout
    KILLING = "killing"  # SIGKILL sent


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One run's end (or a run not started: ``skipped``)."""

    success: bool
    how: str  # "succeeded", "failed", "timed_out", "skipped"
    detail: str = ""


@dataclass
class ScriptRunner:
    """One vrrp_script's runs: every ``interval_s`` from ``start``, at most one at a time."""

    name: str
    command: Command
    interval_s: float
    timeout_s: float
    state: RunState = field(default=RunState.IDLE, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _next_run: float | None = field(default=None, init=False)
    _check_at: float | None = field(default=None, init=False)
    _signal_at: float | None = field(default=None, init=False)

    def start(self, now: float) -> None:
        """keepalived runs a script at once (``thread_add_event``), then every interval."""
        self._next_run = now

    def deadline(self) -> float | None:
        times = [t for t in (self._next_run, self._check_at, self._signal_at) if t is not None]
        return min(times) if times else None

    def poll(self, now: float) -> list[Outcome]:
        out: list[Outcome] = []
        if self._proc is not None:
            done = self._reap()
            if done is not None:
                out.append(done)
            elif self._signal_at is not None and now >= self._signal_at:
                self._escalate(now)
            if self._proc is not None:
                self._check_at = now + CHECK_S
        if self._next_run is not None and now >= self._next_run:
            nxt = self._next_run + self.interval_s
            self._next_run = nxt if nxt > now else now + self.interval_s
            if self._proc is not None:
                out.append(Outcome(success=False, how="skipped", detail=self.state.value))
            else:
                started = self._launch(now)
                if started is not None:
                    out.append(started)
        return out

    def stop(self) -> None:
        """Kill a running script's process group and reap it."""
        self._next_run = self._check_at = self._signal_at = None
        proc, self._proc = self._proc, None
        self.state = RunState.IDLE
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)

    def _launch(self, now: float) -> Outcome | None:
        cmd = self.command
        change = cmd.uid != os.getuid() or cmd.gid != os.getgid()
        try:
            self._proc = subprocess.Popen(
                cmd.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,  # its own process group, killed as one
                user=cmd.uid if change else None,
                group=cmd.gid if change else None,
                extra_groups=[] if change else None,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self._proc = None
            return Outcome(success=False, how="failed", detail=f"cannot be run: {exc}")
        self.state = RunState.RUNNING
        self._check_at = now + CHECK_S
        self._signal_at = now + self.timeout_s
        return None

    def _escalate(self, now: float) -> None:
        assert self._proc is not None
        sig = signal.SIGTERM if self.state is RunState.RUNNING else signal.SIGKILL
        self.state = RunState.TERMINATING if sig is signal.SIGTERM else RunState.KILLING
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)
        self._signal_at = now + KILL_AFTER_S

    def _reap(self) -> Outcome | None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is None:
            return None
        pid, state = self._proc.pid, self.state
        self._proc = None
        self.state = RunState.IDLE
        self._check_at = self._signal_at = None
        if code == 0:
            return Outcome(success=True, how="succeeded")
        if code > 0:
            return Outcome(success=False, how="failed", detail=f"exited with status {code}")
        sig = -code
        if state is RunState.TERMINATING and sig == signal.SIGTERM:
            # What it started may still run: the whole group goes (keepalived does the same).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if (state is RunState.TERMINATING and sig == signal.SIGTERM) or (
            state is RunState.KILLING and sig in (signal.SIGKILL, signal.SIGTERM)
        ):
            return Outcome(success=False, how="timed_out")
        return Outcome(success=False, how="failed", detail=f"due to signal {sig}")
