"""What keepalived.conf says about VRRP, as frozen dataclasses: the model the parser fills,
the audit checks and join takes its settings from.

Values follow keepalived's own normalisation (keepalived/vrrp/vrrp.c, ``vrrp_complete_instance``):
the default priority is 100 and the default state BACKUP; ``advert_int`` defaults to 1 s; a VRRPv2
interval is rounded to whole seconds (1..255), a VRRPv3 one to centiseconds (1..4095, the 12-bit
Max Adver Int of RFC 5798 section 5.2.4); an instance with IPv6 addresses always runs VRRPv3.
Priorities and VRIDs are kept as written, even out of range, so that ``vrrpwatch audit`` can
report them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.text import raw_bytes

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

DEFAULT_PRIORITY = 100
DEFAULT_ADVERT_INT_MS = 1000


def printable(text: str) -> str:
    """``text`` as a terminal shows it for what it is: control characters and bytes that are
    not UTF-8 (kept by ``surrogateescape``) written as escapes (``\\x1b``, ``\\xff``)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if "\udc80" <= ch <= "\udcff":  # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{ord(ch) - 0xDC00:02x}"
    return ascii(ch)[1:-1]


class KaConfError(VrrpwatchError, ValueError):
    """The configuration cannot be parsed. ``str()`` is one line: ``FILE:LINE: message``,
    printable (names and paths from the files may hold control characters)."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path  # line 0: the file as a whole
        super().__init__(printable(f"{where}: {message}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a definition was read from (1-based line)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualAddress:
    """One line of ``virtual_ipaddress`` / ``virtual_ipaddress_excluded``.

    ``address`` keeps the prefix length (``/32`` or ``/128`` when none is written, as keepalived).
    """

    address: IPInterface
    dev: str | None = None
    brd: IPAddress | None = None
    label: str | None = None
    scope: str | None = None
    source: Source

    @property
    def ip(self) -> IPAddress:
        return self.address.ip


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedInterface:
    name: str
    weight: int = 0
    reverse: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyLine:
    """A ``notify_master`` / ``notify_backup`` / ``notify_fault`` / ``notify_stop`` /
    ``notify`` line: the script as argv (keepalived re-splits its first argument with quotes
    and escapes, vrrp_notify.c / notify.c ``set_script_params_array``), and the optional
    ``username [groupname]`` after it."""

    keyword: str
    argv: tuple[str, ...]
    user: str | None = None
    group: str | None = None
    source: Source


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncGroup:
    """A ``vrrp_sync_group NAME { group { VI_1 VI_2 } notify_* ... }`` block."""

    name: str
    members: tuple[str, ...]
    notify: tuple[NotifyLine, ...] = ()
    # Keywords of the block join does not act on (smtp_alert, track_*, ...), as written.
    ignored: tuple[str, ...] = ()
    source: Source


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedScript:
    """One line of an instance's ``track_script`` block; None: the vrrp_script's own value."""

    name: str
    weight: int | None = None
    reverse: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedFile:
    """One line of an instance's ``track_file`` block; None: the vrrp_track_file's weight."""

    name: str
    weight: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpScript:
    """A ``vrrp_script`` block, with keepalived's defaults (vrrp_data.c ``alloc_vrrp_script``:
    interval 1 s, timeout 0 = the interval, weight 0, rise 1, fall 1)."""

    name: str
    script: str | None = None  # the script text: one word, quoted when it holds several
    interval_s: int = 1
    timeout_s: int | None = None
    weight: int = 0
    reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False
    source: Source

    @property
    def effective_timeout_s(self) -> int:
        """vrrp_scheduler.c: a script without a timeout is given its interval."""
        return self.timeout_s or self.interval_s


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpTrackFile:
    """A ``vrrp_track_file`` block (default weight 1, vrrp_data.c ``alloc_vrrp_file``)."""

    name: str
    path: str | None = None
    weight: int = 1
    source: Source


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptSecurity:
    """global_defs ``script_user USER [GROUP]`` and ``enable_script_security``."""

    user: str | None = None
    group: str | None = None
    enabled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpInstance:
    """A ``vrrp_instance`` block, with keepalived's defaults and normalisation applied."""

    name: str
    interface: str | None
    state: str = "BACKUP"  # MASTER or BACKUP
    vrid: int
    priority: int = DEFAULT_PRIORITY
    version: int = 2
    advert_int_ms: int = DEFAULT_ADVERT_INT_MS
    auth_type: str | None = None  # PASS or AH
    auth_pass: str | None = None
    vips: tuple[VirtualAddress, ...] = ()
    excluded_vips: tuple[VirtualAddress, ...] = ()
    unicast_src_ip: IPAddress | None = None
    mcast_src_ip: IPAddress | None = None
    unicast_peers: tuple[IPAddress, ...] = ()
    preempt: bool = True
    preempt_delay_s: float = 0.0
    # ``accept`` (True) / ``no_accept`` (False): RFC 5798 Accept_Mode; None when neither
    accept: bool | None = None
    use_vmac: bool = False
    vmac_interface: str | None = None  # use_vmac NAME (None: keepalived's default name)
    vmac_address: str | None = None  # use_vmac's MAC argument (keepalived 2.3+), as written
    vmac_xmit_base: bool = False  # adverts from the base interface (with use_vmac only)
    track_interface: tuple[TrackedInterface, ...] = ()
    track_script: tuple[TrackedScript, ...] = ()
    track_file: tuple[TrackedFile, ...] = ()
    # The running priority may differ from ``priority``: weighted track_interface entries, or
    # track_script / track_file / track_process / track_bfd blocks (keepalived.conf(5)).
    dynamic_priority: bool = False
    notify: tuple[NotifyLine, ...] = ()
    # Keywords of the block that are not modelled above, as written (join warns about them).
    ignored: tuple[str, ...] = ()
    source: Source

    @property
    def family(self) -> int:
        """4 or 6: the family of the VIPs (keepalived requires them to agree), else of the
        unicast addresses, else IPv4."""
        addrs: list[IPAddress] = [v.ip for v in self.vips]
        if self.unicast_src_ip is not None:
            addrs.append(self.unicast_src_ip)
        addrs.extend(self.unicast_peers)
        return addrs[0].version if addrs else 4

    @property
    def advert_int_cs(self) -> int:
        return self.advert_int_ms // 10

    @property
    def auth_pass_wire(self) -> bytes | None:
        """The password as sent: keepalived uses only its first 8 characters (RFC 3768
        section 5.3.10 gives Authentication Data 8 octets)."""
        if self.auth_type != "PASS" or self.auth_pass is None:
            return None
        return raw_bytes(self.auth_pass)[:8]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeepalivedConfig:
    path: str
    router_id: str | None = None
    vrrp_version: int = 2  # global_defs vrrp_version
    instances: tuple[VrrpInstance, ...] = ()
    files: tuple[str, ...] = ()  # every file read, the main one first
    config_id: str | None = None  # keepalived -i, for @ID conditional lines
    sync_groups: tuple[SyncGroup, ...] = ()
    # global_defs notify_fifo / vrrp_notify_fifo: the FIFOs VRRP state lines are written to.
    notify_fifos: tuple[str, ...] = ()
    # global_defs keywords of the VRRP part and top-level VRRP sections not modelled.
    ignored: tuple[str, ...] = ()
    scripts: tuple[VrrpScript, ...] = ()  # vrrp_script blocks
    track_files: tuple[VrrpTrackFile, ...] = ()  # vrrp_track_file blocks
    script_security: ScriptSecurity = ScriptSecurity()

    def script(self, name: str) -> VrrpScript | None:
        return next((s for s in self.scripts if s.name == name), None)

    def track_file(self, name: str) -> VrrpTrackFile | None:
        return next((f for f in self.track_files if f.name == name), None)

    @property
    def label(self) -> str:
        """The file, with ``@ID`` when a config id selected its conditional lines."""
        return f"{self.path}@{self.config_id}" if self.config_id else self.path

    @property
    def name(self) -> str:
        """How to call this router in reports: its router_id, else the file's name (with
        ``@ID``)."""
        return self.router_id or Path(self.label).name

    def instance(self, name: str | None = None) -> VrrpInstance:
        """The instance called ``name``, or the only one when ``name`` is None.

        Raises :class:`KaConfError` (``FILE: message``) otherwise.
        """
        names = ", ".join(i.name for i in self.instances) or "none"
        if name is None:
            if len(self.instances) == 1:
                return self.instances[0]
            raise KaConfError(self.path, 0, f"choose an instance with --instance (found: {names})")
        for inst in self.instances:
            if inst.name == name:
                return inst
        raise KaConfError(self.path, 0, f"no vrrp_instance {name!r} (found: {names})")

    def select(self, names: tuple[str, ...] = ()) -> tuple[VrrpInstance, ...]:
        """The instances called ``names`` (in the file's order), or every one when empty;
        :class:`KaConfError` for a name that is not there, or a file with no instance."""
        if not self.instances:
            raise KaConfError(self.path, 0, "no vrrp_instance in the file")
        for name in names:
            self.instance(name)  # the error for an unknown name
        return tuple(i for i in self.instances if not names or i.name in names)


__all__ = [
    "DEFAULT_ADVERT_INT_MS",
    "DEFAULT_PRIORITY",
    "IPAddress",
    "IPInterface",
    "KaConfError",
    "KeepalivedConfig",
    "NotifyLine",
    "Source",
    "SyncGroup",
    "ScriptSecurity",
    "Source",
    "TrackedFile",
    "TrackedInterface",
    "TrackedScript",
    "VirtualAddress",
    "VrrpInstance",
    "VrrpScript",
    "VrrpTrackFile",
    "printable",
]
