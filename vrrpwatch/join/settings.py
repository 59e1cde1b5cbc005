"""What ``join`` runs with, and where each value comes from.

Three sources, in order of precedence: what the user gave (the command line's flags), the
``vrrp_instance`` of a keepalived.conf (``join --config``), and the defaults of
``JoinOptions``. Values still missing after that (version, interval, addresses, password) are
learnt from the wire at set-up.

The merge is a library function over field names of ``JoinOptions`` (``resolve_options``); the
command line only says which options the user gave, as a ``JoinValues`` dict.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from dissectors.common import IPAddress
from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.text import raw_bytes

if TYPE_CHECKING:
    from vrrpwatch.join.trackers import TrackingSetup
    from vrrpwatch.keepalived.config import KeepalivedConfig, NotifyLine, VrrpInstance

__all__ = [
    "DEFAULT_GARP_DELAY_S",
    "DEFAULT_GARP_REPEAT",
    "DEFAULT_LEARN_TIMEOUT_S",
    "DEFAULT_PREEMPT_DELAY_S",
    "JoinError",
    "GroupPlan",
    "JoinConfig",
    "JoinOptions",
    "JoinPlan",
    "JoinSettings",
    "JoinValues",
    "Script",
    "load_join_config",
    "resolve_plan",
    "join_settings",
    "load_join_settings",
    "resolve_options",
]

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

DEFAULT_PREEMPT_DELAY_S = 0.0
DEFAULT_LEARN_TIMEOUT_S = 5.0
# keepalived's garp_master_repeat and garp_master_delay defaults.
DEFAULT_GARP_REPEAT = 5
DEFAULT_GARP_DELAY_S = 5.0


class JoinError(VrrpwatchError):
    """A one-line, operator-facing reason why ``join`` cannot start."""


@dataclass(frozen=True, slots=True)
class Script:
    """A notify command as argv, run as ``user``/``group`` when given (keepalived's optional
    ``username [groupname]`` after the script); never through a shell."""

    argv: tuple[str, ...]
    user: str | None = None
    group: str | None = None

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""


# notify_* keyword -> the JoinOptions.notify_scripts key.
NOTIFY_KINDS = {
    "notify_master": "master",
    "notify_backup": "backup",
    "notify_fault": "fault",
    "notify_stop": "stop",
    "notify": "notify",
}


def _scripts(lines: tuple[NotifyLine, ...]) -> tuple[tuple[str, Script], ...]:
    """A config's notify lines as (kind, Script); a later line of a kind replaces an earlier."""
    out = {NOTIFY_KINDS[n.keyword]: Script(n.argv, n.user, n.group) for n in lines}
    return tuple(out.items())


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinOptions:
    vrid: int
    priority: int
    interface: str | None = None
    vips: tuple[str, ...] = ()
    version: int | None = None
    advert_int_s: float | None = None
    auth_pass: str | None = None
    auth_pass_file: str | None = None
    # "pass" or "ah" (keepalived's auth_type AH, key from auth_pass); None: PASS when a
    # password is given, else learnt.
    auth_type: str | None = None
    unicast_peers: tuple[str, ...] = ()
    preempt: bool = True
    preempt_delay_s: float = DEFAULT_PREEMPT_DELAY_S
    accept_mode: bool = False
    learn_timeout_s: float = DEFAULT_LEARN_TIMEOUT_S
    dry_run: bool = False
    notify: str | None = None
    state_file: str | None = None
    garp_repeat: int = DEFAULT_GARP_REPEAT
    garp_delay_s: float = DEFAULT_GARP_DELAY_S
    # The instance's name in log lines, events and notifies: the config's, else VI_<vrid>.
    instance: str = ""
    # The config's notify scripts, by kind (master, backup, fault, stop, notify); --notify
    # replaces the generic one.
    notify_scripts: tuple[tuple[str, Script], ...] = ()
    notify_fifos: tuple[str, ...] = ()
    tracking: TrackingSetup | None = None  # --config's track_* lines (join.trackers)
    use_vmac: str | None = None  # None: off; "": keepalived's default name; else the name
    vmac_xmit_base: bool = False

    def __post_init__(self) -> None:
        if not self.instance:
            object.__setattr__(self, "instance", f"VI_{self.vrid}")


class JoinValues(TypedDict, total=False):
    """Some of ``JoinOptions``'s fields, by name: those a source gives."""

    vrid: int
    priority: int
    interface: str | None
    vips: tuple[str, ...]
    version: int | None
    advert_int_s: float | None
    auth_pass: str | None
    auth_pass_file: str | None
    auth_type: str | None
    unicast_peers: tuple[str, ...]
    preempt: bool
    preempt_delay_s: float
    accept_mode: bool
    learn_timeout_s: float
    dry_run: bool
    notify: str | None
    state_file: str | None
    garp_repeat: int
    garp_delay_s: float
    instance: str
    notify_scripts: tuple[tuple[str, Script], ...]
    notify_fifos: tuple[str, ...]
    tracking: TrackingSetup | None
    use_vmac: str | None
    vmac_xmit_base: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinSettings:
    """What ``vrrpwatch join --config FILE [--instance NAME]`` takes from an instance.

    The options the user gives override these field by field (``resolve_options``).
    """

    instance: str
    vrid: int
    priority: int
    interface: str | None
    version: int
    family: int
    advert_int_cs: int
    vips: tuple[IPInterface, ...]
    # VRRPv2's simple password (PASS), its first 8 characters; with auth_type "ah" the key.
    auth_pass: str | None
    unicast_src_ip: IPAddress | None
    unicast_peers: tuple[IPAddress, ...]
    preempt: bool
    preempt_delay_s: float
    state: str
    accept_mode: bool = False
    warnings: tuple[str, ...] = field(default=())
    notify_scripts: tuple[tuple[str, Script], ...] = ()
    tracking: TrackingSetup | None = None
    auth_type: str | None = None  # "pass" or "ah" (VRRPv2), with auth_pass as the AH key
    use_vmac: str | None = None
    vmac_xmit_base: bool = False

    @property
    def advert_int_s(self) -> float:
        return self.advert_int_cs / 100

    def values(self) -> JoinValues:
        """The settings as ``JoinOptions`` fields."""
        values = JoinValues(
            instance=self.instance,
            vrid=self.vrid,
            priority=self.priority,
            interface=self.interface,
            vips=tuple(str(v) for v in self.vips),
            version=self.version,
            advert_int_s=self.advert_int_s,
            auth_pass=self.auth_pass,
            unicast_peers=tuple(str(p) for p in self.unicast_peers),
            preempt=self.preempt,
            preempt_delay_s=self.preempt_delay_s,
            **_vmac_values(self),
        )
        if self.accept_mode:
            values["accept_mode"] = True
        if self.notify_scripts:
            values["notify_scripts"] = self.notify_scripts
        if self.tracking is not None:
            values["tracking"] = self.tracking
        if self.auth_type is not None:
            values["auth_type"] = self.auth_type
        return values


def _vmac_values(settings: JoinSettings) -> JoinValues:
    """use_vmac / vmac_xmit_base as options, when the instance has them."""
    if settings.use_vmac is None:
        return JoinValues()
    return JoinValues(use_vmac=settings.use_vmac, vmac_xmit_base=settings.vmac_xmit_base)


def join_settings(inst: VrrpInstance) -> JoinSettings:
    """Map an instance to ``join`` settings. ``warnings`` lists what join cannot reproduce."""
    warnings: list[str] = []
    if inst.auth_type is not None and inst.version == 3:
        warnings.append("authentication is ignored with VRRPv3")
    if inst.vmac_address is not None:
        warnings.append(
            f"use_vmac {inst.vmac_address}: a chosen MAC is not supported; "
            "using the RFC's virtual MAC"
        )
    if inst.excluded_vips:
        warnings.append("virtual_ipaddress_excluded is ignored")
    if inst.accept is False and inst.priority != 255:
        # RFC 5798 section 6.4.3: a non-owner Master with Accept_Mode False drops packets to
        # the VIPs. join filters nothing: the kernel accepts what is sent to an address it holds.
        warnings.append(
            "no_accept is not enforced: as master, this host accepts traffic to the virtual "
            "addresses it holds"
        )
    for kw, addr in (("unicast_src_ip", inst.unicast_src_ip), ("mcast_src_ip", inst.mcast_src_ip)):
        if addr is not None:
            warnings.append(f"{kw} is ignored: adverts go from the interface's primary address")
    warnings += [f"{kw} is ignored" for kw in inst.ignored]
    password = inst.auth_pass_wire
    auth_type = None
    if inst.auth_type == "AH" and inst.version == 2:
        # keepalived (vrrp_complete_instance) runs an AH instance without a password, or of
        # IPv6, without authentication. The key is auth_pass, cut to 8 bytes where it is made
        # (dissectors.ah.ah_key).
        if not inst.auth_pass or inst.family != 4:
            why = "IPv6" if inst.auth_pass else "no auth_pass"
            warnings.append(f"auth_type AH with {why}: no authentication, as keepalived")
        else:
            auth_type, password = "ah", raw_bytes(inst.auth_pass)
    return JoinSettings(
        accept_mode=inst.accept is True,
        instance=inst.name,
        vrid=inst.vrid,
        priority=inst.priority,
        interface=inst.interface,
        version=inst.version,
        family=inst.family,
        advert_int_cs=inst.advert_int_cs,
        vips=tuple(v.address for v in inst.vips),
        # surrogateescape: the bytes come back as they are (text.raw_bytes), even where the
        # 8-byte cut falls inside a UTF-8 character
        auth_pass=password.decode("utf-8", "surrogateescape")
        if password and inst.version == 2
        else None,
        unicast_src_ip=inst.unicast_src_ip,
        unicast_peers=inst.unicast_peers,
        preempt=inst.preempt,
        preempt_delay_s=inst.preempt_delay_s,
        state=inst.state,
        warnings=tuple(warnings),
        notify_scripts=_scripts(inst.notify),
        auth_type=auth_type,
        use_vmac=(inst.vmac_interface or "") if inst.use_vmac else None,
        vmac_xmit_base=inst.vmac_xmit_base,
    )


def load_join_settings(path: str | Path, instance: str | None = None) -> JoinSettings:
    """``join --config PATH [--instance NAME]`` in one call; ``KaConfError`` on failure
    (unreadable or unparsable file, no such instance, several instances and no name)."""
    from vrrpwatch.keepalived.config import parse_config

    config = parse_config(path)
    inst = config.instance(instance)
    _check_name(inst)
    return _tracked(config, inst)


def _tracked(config: KeepalivedConfig, inst: VrrpInstance) -> JoinSettings:
    """The instance's settings with its track_* lines (join.trackers) and their warnings."""
    from vrrpwatch.join.trackers import tracking_setup

    settings = join_settings(inst)
    tracking, warnings = tracking_setup(config, inst)
    return dataclasses.replace(
        settings,
        tracking=tracking,
        warnings=settings.warnings + tuple(warnings),
        notify_scripts=with_script_user(settings.notify_scripts, config),
    )


def with_script_user(
    scripts: tuple[tuple[str, Script], ...], config: KeepalivedConfig
) -> tuple[tuple[str, Script], ...]:
    """Notify scripts without ``username`` run as keepalived runs them (notify.c
    ``get_default_script_user``): as global_defs ``script_user``, else as ``keepalived_script``
    when that user exists, else as join runs."""
    import pwd

    sec = config.script_security
    user, group = sec.user, sec.group
    if user is None:
        try:
            pwd.getpwnam("keepalived_script")
        except KeyError:
            return scripts
        user, group = "keepalived_script", None
    return tuple(
        (kind, s if s.user is not None else dataclasses.replace(s, user=user, group=group))
        for kind, s in scripts
    )


def _check_name(inst: VrrpInstance) -> None:
    from vrrpwatch.keepalived.config import KaConfError

    if not inst.name.isprintable():
        # The name prefixes join's log lines and goes into its database: a control character
        # would reach the terminal, a byte that is not UTF-8 would fail to encode mid-run.
        raise KaConfError(
            inst.source.path, inst.source.line, f"vrrp_instance name {inst.name!r} is not text"
        )


def resolve_options(given: JoinValues, settings: JoinSettings | None = None) -> JoinOptions:
    """The options join runs with: each value the user ``given`` wins over the config's
    ``settings``, which win over ``JoinOptions``'s defaults. ``JoinError`` when the VRID or
    the priority is given by neither."""
    values: JoinValues = settings.values() if settings is not None else JoinValues()
    if "auth_pass_file" in given:
        values.pop("auth_pass", None)  # the user's password file wins over the config's
    values.update(given)
    if settings is not None:
        values["instance"] = settings.instance  # the instance the config was read for
    for name in ("vrid", "priority"):
        if name not in values:
            raise JoinError(f"Missing option '--{name}' (or give --config).")
    return JoinOptions(**values)


# --- several instances and sync groups (join --config FILE [--instance NAME]...) -----------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupPlan:
    """A ``vrrp_sync_group`` join runs: its members (all selected) and notify scripts."""

    name: str
    members: tuple[str, ...]
    notify_scripts: tuple[tuple[str, Script], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinConfig:
    """What ``join --config FILE`` takes from the file: the selected instances, the sync
    groups among them, the notify FIFOs, and one warning per thing join does not act on."""

    settings: tuple[JoinSettings, ...]
    groups: tuple[GroupPlan, ...] = ()
    notify_fifos: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # "NAME: text", NAME an instance or a sync group


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinPlan:
    """Every instance join runs in one process, and the sync groups among them."""

    instances: tuple[JoinOptions, ...]
    groups: tuple[GroupPlan, ...] = ()
    notify_fifos: tuple[str, ...] = ()


def load_join_config(path: str | Path, names: tuple[str, ...] = ()) -> JoinConfig:
    """``join --config PATH [--instance NAME]...``: every instance of the file, or those
    named; ``KaConfError`` on failure (unreadable or unparsable file, no such instance)."""
    from vrrpwatch.keepalived.config import parse_config

    config = parse_config(path)
    selected = config.select(names)
    for inst in selected:
        _check_name(inst)
    settings = tuple(_tracked(config, i) for i in selected)
    warnings = [f"{kw} is ignored" for kw in config.ignored]
    warnings += [f"{s.instance}: {w}" for s in settings for w in s.warnings]
    groups, group_warnings = _group_plans(config, {s.instance for s in settings})
    return JoinConfig(
        settings=settings,
        groups=groups,
        notify_fifos=config.notify_fifos,
        warnings=tuple(warnings + group_warnings),
    )


def _group_plans(
    config: KeepalivedConfig, selected: set[str]
) -> tuple[tuple[GroupPlan, ...], list[str]]:
    """keepalived's vrrp_sync_set_group: an instance is in one sync group at most (a later
    group naming it again leaves it out), a name that is no instance is ignored; a group left
    with fewer than two members of those join runs does nothing."""
    known = {i.name for i in config.instances}
    taken: dict[str, str] = {}
    plans: list[GroupPlan] = []
    warnings: list[str] = []
    for g in config.sync_groups:
        members: list[str] = []
        for m in g.members:
            if m not in known:
                warnings.append(f"{g.name}: instance {m} does not exist; ignored")
            elif m in taken:
                warnings.append(f"{g.name}: {m} is already in sync group {taken[m]}; ignored")
            else:
                taken[m] = g.name
                if m in selected:
                    members.append(m)
        warnings += [f"{g.name}: {kw} is ignored" for kw in g.ignored]
        if len(members) < 2:
            warnings.append(
                f"{g.name}: sync group has {len(members)} of the instances join runs; ignored"
            )
            continue
        plans.append(
            GroupPlan(
                name=g.name,
                members=tuple(members),
                notify_scripts=with_script_user(_scripts(g.notify), config),
            )
        )
    return tuple(plans), warnings


# Options that set one instance's values: with several instances, giving one is an error.
PER_INSTANCE = {
    "vrid": "--vrid",
    "priority": "--priority",
    "interface": "--interface",
    "vips": "--vip",
    "version": "--version",
    "advert_int_s": "--advert-int",
    "auth_pass": "--auth-pass",
    "auth_pass_file": "--auth-pass-file",
    "unicast_peers": "--unicast-peer",
    "preempt": "--no-preempt",
    "preempt_delay_s": "--preempt-delay",
    "accept_mode": "--accept-mode",
    "state_file": "--state-file",
}


def resolve_plan(given: JoinValues, config: JoinConfig) -> JoinOptions | JoinPlan:
    """One selected instance: its options (``resolve_options``); several: a ``JoinPlan``
    whose instances all take the options that are not an instance's own (--learn-timeout,
    --garp-*, --dry-run, --notify); ``JoinError`` naming an instance's own option given."""
    if len(config.settings) == 1:
        opts = resolve_options(given, config.settings[0])
        return _with_fifos(opts, config.notify_fifos)
    for name, flag in PER_INSTANCE.items():
        if name in given:
            names = ", ".join(s.instance for s in config.settings)
            raise JoinError(
                f"{flag} sets one instance's value, but join runs {len(config.settings)} "
                f"({names}); choose one with --instance or set it in the config"
            )
    instances = tuple(
        _with_fifos(resolve_options(given, s), config.notify_fifos) for s in config.settings
    )
    return JoinPlan(instances=instances, groups=config.groups, notify_fifos=config.notify_fifos)


def _with_fifos(opts: JoinOptions, fifos: tuple[str, ...]) -> JoinOptions:
    import dataclasses

    return dataclasses.replace(opts, notify_fifos=fifos) if fifos else opts
