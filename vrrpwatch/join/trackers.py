"""The I/O side of tracking: run an instance's vrrp_scripts, read its tracked interfaces and
files, and turn what changed into the router's inputs.

``tracking_setup`` maps a keepalived.conf instance to a ``TrackingSetup`` (what ``join
--config`` carries in its options). ``Trackers`` is the loop's hook (``loop.Runtime``):

* ``start(now)`` resolves the scripts (``scripts.resolve_command``: path, user, security),
  reads the interfaces and files once and starts the scripts' first runs;
* ``deadline()`` is its next wake-up (a script's next run, a running script's exit check, the
  next interface/file read);
* ``poll(now, router)`` does what is due and returns the router's actions for what changed:
  ``router.set_priority`` for a new effective priority, ``router.set_track_fault`` for a
  FAULT verdict; ``stop()`` kills a running script.

Interfaces and files are read every ``POLL_S`` (keepalived reacts to netlink and inotify at
once; reading /sys and a small file 10 times a second is the cheap equivalent here). Lines go
through ``log`` (the instance's ``InstanceLog.line``): a script's result when its state changes
("VRRP_Script(NAME) succeeded"), a run skipped because the last one still runs, a tracked
interface or file change, and "Changing effective priority from A to B (cause)" with the
``effective_priority``, ``previous_priority``, ``base_priority`` and ``cause`` fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrrpwatch.join.router import Action, VirtualRouter
from vrrpwatch.join.scripts import (
    ScriptError,
    ScriptRunner,
    default_user,
    resolve_command,
    user_ids,
)
from vrrpwatch.join.tracking import Kind, ScriptCounter, Tracked, Tracking, TrackingChange

if TYPE_CHECKING:
    from vrrpwatch.keepalived.model import KeepalivedConfig, VrrpInstance

__all__ = ["POLL_S", "ScriptSetup", "Trackers", "TrackingSetup", "tracking_setup"]

POLL_S = 0.1
IFF_UP = 0x1

Log = Callable[..., None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptSetup:
    name: str
    text: str
    interval_s: float
    timeout_s: float
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    user: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingSetup:
    """An instance's trackers and how its scripts run (global_defs)."""

    items: tuple[Tracked, ...] = ()
    scripts: tuple[ScriptSetup, ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # (name, path)
    script_user: str | None = None
    script_group: str | None = None
    script_security: bool = False


def tracking_setup(
    config: KeepalivedConfig, inst: VrrpInstance
) -> tuple[TrackingSetup | None, list[str]]:
    """The instance's track_interface / track_script / track_file lines with what they refer
    to; warnings for what keepalived ignores too (an unknown script or file, a duplicate)."""
    warnings: list[str] = []
    items: list[Tracked] = []
    scripts: list[ScriptSetup] = []
    files: list[tuple[str, str]] = []
    seen: set[tuple[Kind, str]] = set()

    def add(item: Tracked) -> bool:
        key = (item.kind, item.name)
        if key in seen:
            warnings.append(f"duplicate track_{item.kind} {item.name}: ignored")
            return False
        seen.add(key)
        items.append(item)
        return True

    for tif in inst.track_interface:
        add(Tracked(kind=Kind.INTERFACE, name=tif.name, weight=tif.weight, reverse=tif.reverse))
    for tsc in inst.track_script:
        vs = config.script(tsc.name)
        if vs is None or not vs.script:
            warnings.append(f"track script {tsc.name} not found (or has no script): ignored")
            continue
        weight = vs.weight if tsc.weight is None else tsc.weight
        reverse = vs.reverse if tsc.reverse is None else tsc.reverse
        if add(Tracked(kind=Kind.SCRIPT, name=tsc.name, weight=weight, reverse=reverse)):
            scripts.append(
                ScriptSetup(
                    name=vs.name,
                    text=vs.script,
                    interval_s=vs.interval_s,
                    timeout_s=vs.effective_timeout_s,
                    rise=vs.rise,
                    fall=vs.fall,
                    init_fail=vs.init_fail,
                    user=vs.user,
                    group=vs.group,
                )
            )
    for tfi in inst.track_file:
        vf = config.track_file(tfi.name)
        if vf is None or not vf.path:
            warnings.append(f"track file {tfi.name} not found (or has no file): ignored")
            continue
        weight = vf.weight if tfi.weight is None else tfi.weight
        if add(Tracked(kind=Kind.FILE, name=tfi.name, weight=weight)):
            files.append((vf.name, vf.path))
    if not items:
        return None, warnings
    sec = config.script_security
    setup = TrackingSetup(
        items=tuple(items),
        scripts=tuple(scripts),
        files=tuple(files),
        script_user=sec.user,
        script_group=sec.group,
        script_security=sec.enabled,
    )
    return setup, warnings


def interface_up(name: str) -> bool:
    """keepalived's IF_FLAGS_UP: administratively up and running (operstate up, or unknown
    for interfaces without carrier reporting such as dummy); a missing interface is down."""
    base = Path("/sys/class/net", name)
    try:
        flags = int((base / "flags").read_text(), 16)
        oper = (base / "operstate").read_text().strip()
    except (OSError, ValueError):
        return False
    return bool(flags & IFF_UP) and oper in ("up", "unknown")


_STRTOL = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def read_track_file(path: str) -> int:
    """keepalived's ``process_track_file``: the number the file starts with (C strtol, base
    0), clamped to -254..254; 0 when missing, unreadable or not a number."""
    try:
        with open(path, "rb") as f:
            text = f.read(127).decode("ascii", "replace")
    except OSError:
        return 0
    m = _STRTOL.match(text)
    if m is None:
        return 0
    digits = m.group(2)
    if digits[:2] in ("0x", "0X"):
        value = int(digits, 16)
    else:
        value = int(digits, 8 if digits.startswith("0") else 10)
    value = -value if m.group(1) == "-" else value
    return max(-254, min(254, value))


@dataclass
class Trackers:
    """One instance's trackers, driven by the loop (see the module docstring)."""

    setup: TrackingSetup
    base_priority: int
    log: Log | None = None
    read_interface: Callable[[str], bool] = interface_up
    read_file: Callable[[str], int] = read_track_file
    tracking: Tracking = field(init=False)
    runners: dict[str, ScriptRunner] = field(default_factory=dict, init=False)
    _counters: dict[str, ScriptCounter] = field(default_factory=dict, init=False)
    _next_read: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tracking = Tracking(base_priority=self.base_priority, items=self.setup.items)

    def _line(self, kind: str, message: str, **fields: Any) -> None:
        if self.log is not None:
            self.log(kind, message, **fields)

    def start(self, now: float, router: VirtualRouter) -> list[Action]:
        self._start_scripts(now)
        self._next_read = now
        return self.poll(now, router)

    def _start_scripts(self, now: float) -> None:
        setup = self.setup
        if not setup.scripts:
            return
        if not setup.script_security:
            # keepalived's own warning when scripts run without script security.
            self._line(
                "warning",
                "scripts are being executed but script_security is not enabled "
                "(global_defs enable_script_security)",
            )
        for spec in setup.scripts:
            try:
                if spec.user is not None:
                    uid, gid = user_ids(spec.user, spec.group)
                else:
                    uid, gid = default_user(
                        setup.script_user, setup.script_group, security=setup.script_security
                    )
                cmd = resolve_command(
                    spec.text, uid, gid, security=setup.script_security, warn=self._warner(spec)
                )
            except ScriptError as exc:
                # keepalived removes a disabled script from tracking.
                self._line("warning", f"Disabling track script {spec.name}: {exc}")
                continue
            runner = ScriptRunner(
                name=spec.name, command=cmd, interval_s=spec.interval_s, timeout_s=spec.timeout_s
            )
            runner.start(now)
            self.runners[spec.name] = runner
            self._counters[spec.name] = ScriptCounter(
                rise=spec.rise, fall=spec.fall, init_fail=spec.init_fail
            )

    def _warner(self, spec: ScriptSetup) -> Callable[[str], None]:
        def warn(text: str) -> None:
            self._line("warning", f"vrrp_script {spec.name}: {text}")

        return warn

    def deadline(self) -> float | None:
        times = [r.deadline() for r in self.runners.values()]
        times.append(self._next_read)
        pending = [t for t in times if t is not None]
        return min(pending) if pending else None

    def poll(self, now: float, router: VirtualRouter) -> list[Action]:
        changes: list[TrackingChange | None] = []
        if self._next_read is not None and now >= self._next_read:
            self._next_read = now + POLL_S
            changes += self._read_interfaces_and_files()
        for name, runner in self.runners.items():
            for outcome in runner.poll(now):
                if outcome.how == "skipped":
                    self._line(
                        "track",
                        f"Track script {name} is {outcome.detail}, expect idle - skipping run",
                        tracker="script",
                        name=name,
                    )
                    continue
                reported = self._counters[name].record(outcome.success)
                if reported is None:
                    continue
                detail = f" ({outcome.detail})" if outcome.detail else ""
                self._line(
                    "track",
                    f"VRRP_Script({name}) {outcome.how}{detail}",
                    tracker="script",
                    name=name,
                    ok=reported,
                )
                changes.append(self.tracking.update(Kind.SCRIPT, name, reported))
        actions: list[Action] = []
        for change in changes:
            if change is not None:
                actions += self._apply(now, change, router)
        return actions

    def stop(self) -> None:
        for runner in self.runners.values():
            runner.stop()

    def _read_interfaces_and_files(self) -> list[TrackingChange | None]:
        out: list[TrackingChange | None] = []
        known = self.tracking.states
        for item in self.setup.items:
            key = (item.kind, item.name)
            if item.kind is Kind.INTERFACE:
                up = self.read_interface(item.name)
                if known.get(key) != up:
                    word = "UP" if up else "DOWN"
                    self._line(
                        "track",
                        f"Tracked interface {item.name} is {word}",
                        tracker="interface",
                        name=item.name,
                        ok=up,
                    )
                out.append(self.tracking.update(Kind.INTERFACE, item.name, up))
        for name, path in self.setup.files:
            value = self.read_file(path)
            if known.get((Kind.FILE, name)) != value:
                self._line(
                    "track",
                    f"Tracked file {name} ({path}) reads {value}",
                    tracker="file",
                    name=name,
                    value=value,
                )
            out.append(self.tracking.update(Kind.FILE, name, value))
        return out

    def _apply(self, now: float, change: TrackingChange, router: VirtualRouter) -> list[Action]:
        actions: list[Action] = []
        if change.priority_changed and not router.is_owner:
            self._line(
                "priority",
                f"Changing effective priority from {change.previous_priority} to "
                f"{change.priority} ({change.cause})",
                effective_priority=change.priority,
                previous_priority=change.previous_priority,
                base_priority=self.base_priority,
                cause=change.cause,
            )
            actions += router.set_priority(now, change.priority)
        if change.fault_changed:
            what = "fault" if change.fault else "fault cleared"
            self._line(
                "track",
                f"Tracking {what}: {change.cause}",
                tracker="fault",
                fault=change.fault,
                cause=change.cause,
            )
            actions += router.set_track_fault(now, change.fault)
        return actions
