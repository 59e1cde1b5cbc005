"""The VRRP part of keepalived.conf: :func:`parse_config` reads a file into the model.

One job a module: ``lexer`` turns the files into tokens (comments, quotes, includes, ``@ID``
conditional lines, ``$NAME`` parameters), ``statements`` builds them into blocks, this module reads
global_defs and the instances and calls ``sync`` (sync groups), ``notify`` (notify scripts) and
``tracking`` (track_*, vrrp_script, vrrp_track_file) for theirs; ``model`` holds the frozen
dataclasses it returns.

Grammar above the lines, as keepalived 2.x reads it (keepalived.conf(5), "DESCRIPTION"):

* Blocks are delimited by ``{`` and ``}`` (``statements``).
* ``global_defs``: only ``router_id``, ``vrrp_version`` and ``notify_fifo`` /
  ``vrrp_notify_fifo`` matter here.
* ``vrrp_instance NAME { ... }``: the keywords modelled by :class:`VrrpInstance`; every other
  keyword is recorded in ``VrrpInstance.ignored``; ``vrrp_sync_group NAME { group { ... } }``
  with its notify scripts is a :class:`SyncGroup`; every other top-level section
  (``virtual_server``, ...) is skipped.
* ``vrrp_script NAME { ... }`` and ``vrrp_track_file NAME { ... }``: what an instance's
  ``track_script`` / ``track_file`` lines refer to; ``global_defs`` ``script_user`` and
  ``enable_script_security`` say how scripts run.

Values follow keepalived's own normalisation (see ``model``); priorities and VRIDs are kept as
written, even out of range, so that ``vrrpwatch audit`` can report them; anything that is not a
number at all is a parse error.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from vrrpwatch.keepalived.lexer import Lexer
from vrrpwatch.keepalived.model import DEFAULT_ADVERT_INT_MS as DEFAULT_ADVERT_INT_MS
from vrrpwatch.keepalived.model import DEFAULT_PRIORITY as DEFAULT_PRIORITY
from vrrpwatch.keepalived.model import IPAddress as IPAddress
from vrrpwatch.keepalived.model import IPInterface as IPInterface
from vrrpwatch.keepalived.model import KaConfError as KaConfError
from vrrpwatch.keepalived.model import KeepalivedConfig as KeepalivedConfig
from vrrpwatch.keepalived.model import NotifyLine as NotifyLine
from vrrpwatch.keepalived.model import ScriptSecurity as ScriptSecurity
from vrrpwatch.keepalived.model import Source as Source
from vrrpwatch.keepalived.model import SyncGroup as SyncGroup
from vrrpwatch.keepalived.model import TrackedFile as TrackedFile
from vrrpwatch.keepalived.model import TrackedInterface as TrackedInterface
from vrrpwatch.keepalived.model import TrackedScript as TrackedScript
from vrrpwatch.keepalived.model import VirtualAddress as VirtualAddress
from vrrpwatch.keepalived.model import VrrpInstance as VrrpInstance
from vrrpwatch.keepalived.model import VrrpScript as VrrpScript
from vrrpwatch.keepalived.model import VrrpTrackFile as VrrpTrackFile
from vrrpwatch.keepalived.notify import NOTIFY_KEYWORDS as NOTIFY_KEYWORDS
from vrrpwatch.keepalived.notify import notify_fifo, notify_line
from vrrpwatch.keepalived.statements import (
    Stmt,
    build_tree,
    err,
    need_block,
    no_block,
    one_arg,
    read_int,
    read_ip,
    read_seconds,
    shown,
)
from vrrpwatch.keepalived.sync import sync_groups
from vrrpwatch.keepalived.tracking import (
    parse_tracking,
    track_interface_line,
    tracked_files,
    tracked_scripts,
)
from vrrpwatch.text import raw_bytes

# Options of a virtual_ipaddress line (keepalived.conf(5), "virtual_ipaddress"): those taking a
# value and bare flags. The ones we model are stored; the others are accepted and ignored.
_VIP_VALUE_OPTIONS = frozenset(
    {"brd", "dev", "scope", "label", "peer", "preferred_lft", "track_group"}
)
_VIP_FLAGS = frozenset(
    {"home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac"}
)
_SCOPES = frozenset({"site", "link", "host", "nowhere", "global"})


def _vip_line(stmt: Stmt) -> VirtualAddress:
    no_block(stmt)
    words = (stmt.keyword, *stmt.args)
    first = words[0]
    try:
        address: IPInterface = ipaddress.ip_interface(first.text)
    except ValueError:
        raise err(first, f"{shown(first.text)} is not an IP address[/prefix]") from None
    opts: dict[str, str] = {}
    i = 1
    while i < len(words):
        w = words[i]
        if w.text in _VIP_FLAGS:
            i += 1
            continue
        if w.text not in _VIP_VALUE_OPTIONS:
            raise err(w, f"unknown virtual_ipaddress option {shown(w.text)}")
        if i + 1 >= len(words):
            raise err(w, f"virtual_ipaddress option {w.text} needs a value")
        opts[w.text] = words[i + 1].text
        i += 2
    brd: IPAddress | None = None
    if "brd" in opts:
        try:
            brd = ipaddress.ip_address(opts["brd"])
        except ValueError:
            raise err(first, f"brd {shown(opts['brd'])} is not an IP address") from None
    scope = opts.get("scope")
    if scope is not None and scope not in _SCOPES and not scope.isdigit():
        raise err(first, f"unknown scope {shown(scope)}")
    return VirtualAddress(
        address=address,
        dev=opts.get("dev"),
        brd=brd,
        label=opts.get("label"),
        scope=scope,
        source=first.src,
    )


def _vip_block(stmt: Stmt) -> list[VirtualAddress]:
    return [_vip_line(s) for s in need_block(stmt)]


@dataclass(slots=True)
class _Instance:
    """What a ``vrrp_instance`` block's lines have said so far (keepalived's ``vrrp_t`` while
    vrrp_parser.c reads it); each handler of ``_INSTANCE_KEYWORDS`` reads one line into it."""

    state: str = "BACKUP"
    interface: str | None = None
    vrid: int | None = None
    priority: int = DEFAULT_PRIORITY
    version: int | None = None
    advert_s: Decimal | None = None
    auth_type: str | None = None
    auth_pass: str | None = None
    src_ips: dict[str, IPAddress] = field(default_factory=dict)
    preempt: bool = True
    preempt_delay_s: float = 0.0
    use_vmac: bool = False
    vmac_interface: str | None = None
    vmac_address: str | None = None
    xmit_base: bool = False
    native_ipv6: bool = False
    accept: bool | None = None
    tracks_other: bool = False
    vips: list[VirtualAddress] = field(default_factory=list)
    excluded: list[VirtualAddress] = field(default_factory=list)
    peers: list[IPAddress] = field(default_factory=list)
    tracked: list[TrackedInterface] = field(default_factory=list)
    notify: list[NotifyLine] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    scripts_tracked: list[TrackedScript] = field(default_factory=list)
    files_tracked: list[TrackedFile] = field(default_factory=list)


def _state(i: _Instance, s: Stmt) -> None:
    no_block(s)
    v = one_arg(s)
    if v.text not in ("MASTER", "BACKUP"):
        raise err(v, f"state must be MASTER or BACKUP, not {shown(v.text)}")
    # keepalived ignores "state BACKUP" after "state MASTER" (vrrp_state_handler).
    if i.state != "MASTER":
        i.state = v.text


def _interface(i: _Instance, s: Stmt) -> None:
    no_block(s)
    i.interface = one_arg(s).text


def _vrid(i: _Instance, s: Stmt) -> None:
    no_block(s)
    i.vrid = read_int(one_arg(s), "virtual_router_id")


def _priority(i: _Instance, s: Stmt) -> None:
    no_block(s)
    i.priority = read_int(one_arg(s), "priority")


def _version(i: _Instance, s: Stmt) -> None:
    no_block(s)
    v = one_arg(s)
    if v.text not in ("2", "3"):
        raise err(v, f"version must be 2 or 3, not {shown(v.text)}")
    i.version = int(v.text)


def _advert_int(i: _Instance, s: Stmt) -> None:
    no_block(s)
    v = one_arg(s)
    i.advert_s = read_seconds(v, "advert_int")
    if i.advert_s == 0:
        raise err(v, "advert_int must be greater than 0")


def _authentication(i: _Instance, s: Stmt) -> None:
    for a in need_block(s):
        no_block(a)
        if a.keyword.text == "auth_type":
            v = one_arg(a)
            if v.text not in ("PASS", "AH"):
                raise err(v, f"auth_type must be PASS or AH, not {shown(v.text)}")
            i.auth_type = v.text
        elif a.keyword.text == "auth_pass":
            i.auth_pass = one_arg(a).text
        else:
            raise err(a.keyword, f"unknown authentication keyword {shown(a.keyword.text)}")


def _virtual_ipaddress(i: _Instance, s: Stmt) -> None:
    i.vips.extend(_vip_block(s))


def _virtual_ipaddress_excluded(i: _Instance, s: Stmt) -> None:
    i.excluded.extend(_vip_block(s))


def _src_ip(i: _Instance, s: Stmt) -> None:
    no_block(s)
    kw = s.keyword.text
    i.src_ips[kw] = read_ip(one_arg(s), kw)


def _unicast_peer(i: _Instance, s: Stmt) -> None:
    for p in need_block(s):
        no_block(p)
        i.peers.append(read_ip(p.keyword, "unicast_peer"))


def _preempt(i: _Instance, s: Stmt) -> None:
    i.preempt = s.keyword.text == "preempt"


def _preempt_delay(i: _Instance, s: Stmt) -> None:
    no_block(s)
    delay = read_seconds(one_arg(s), "preempt_delay")
    if delay > 1000:
        raise err(s.args[0], "preempt_delay must be between 0 and 1000 seconds")
    i.preempt_delay_s = float(delay)


def _vmac(i: _Instance, s: Stmt) -> None:
    i.use_vmac = True
    i.vmac_interface, i.vmac_address = _use_vmac(s)


def _vmac_xmit_base(i: _Instance, s: Stmt) -> None:
    no_block(s)
    i.xmit_base = True


def _track_interface(i: _Instance, s: Stmt) -> None:
    for t in need_block(s):
        no_block(t)
        i.tracked.append(track_interface_line(t))


def _native_ipv6(i: _Instance, s: Stmt) -> None:
    i.native_ipv6 = True


def _accept(i: _Instance, s: Stmt) -> None:
    no_block(s)
    i.accept = s.keyword.text == "accept"


def _track_script(i: _Instance, s: Stmt) -> None:
    i.scripts_tracked.extend(tracked_scripts(s))
    i.tracks_other = i.tracks_other or bool(s.block)


def _track_file(i: _Instance, s: Stmt) -> None:
    i.files_tracked.extend(tracked_files(s))
    i.tracks_other = i.tracks_other or bool(s.block)


def _track_other(i: _Instance, s: Stmt) -> None:
    # track_process, track_bfd: not modelled, but they change the priority.
    i.tracks_other = i.tracks_other or bool(s.block)
    i.ignored.append(s.keyword.text)


def _notify(i: _Instance, s: Stmt) -> None:
    i.notify.append(notify_line(s))


# The instance keywords read (keepalived vrrp_parser.c, ``init_vrrp_keywords``); any other one
# (garp settings, smtp_alert, ...) is recorded in ``VrrpInstance.ignored``: join warns.
_INSTANCE_KEYWORDS: dict[str, Callable[[_Instance, Stmt], None]] = {
    "state": _state,
    "interface": _interface,
    "virtual_router_id": _vrid,
    "priority": _priority,
    "version": _version,
    "advert_int": _advert_int,
    "authentication": _authentication,
    "virtual_ipaddress": _virtual_ipaddress,
    "virtual_ipaddress_excluded": _virtual_ipaddress_excluded,
    "unicast_src_ip": _src_ip,
    "mcast_src_ip": _src_ip,
    "unicast_peer": _unicast_peer,
    "nopreempt": _preempt,
    "preempt": _preempt,
    "preempt_delay": _preempt_delay,
    "use_vmac": _vmac,
    "vmac_xmit_base": _vmac_xmit_base,
    "track_interface": _track_interface,
    "native_ipv6": _native_ipv6,
    "accept": _accept,
    "no_accept": _accept,
    "track_script": _track_script,
    "track_file": _track_file,
    "track_process": _track_other,
    "track_bfd": _track_other,
    **dict.fromkeys(NOTIFY_KEYWORDS, _notify),
}


def _parse_instance(stmt: Stmt, global_version: int) -> VrrpInstance:
    if len(stmt.args) != 1:
        raise err(stmt.keyword, "vrrp_instance needs exactly one name")
    name = stmt.args[0].text
    i = _Instance()
    for s in need_block(stmt):
        handler = _INSTANCE_KEYWORDS.get(s.keyword.text)
        if handler is None:
            i.ignored.append(s.keyword.text)
        else:
            handler(i, s)

    if i.vrid is None:
        raise err(stmt.keyword, f"vrrp_instance {name} has no virtual_router_id")
    families = {v.ip.version for v in i.vips}
    if len(families) > 1:
        raise err(
            stmt.keyword,
            f"vrrp_instance {name}: virtual_ipaddress mixes IPv4 and IPv6 "
            "(use virtual_ipaddress_excluded for the other family)",
        )
    # keepalived resets it: "preempt_delay is incompatible with nopreempt mode".
    preempt_delay_s = i.preempt_delay_s if i.preempt else 0.0
    # keepalived.conf(5) "version": IPv6 instances always use VRRPv3.
    resolved = 3 if (6 in families or i.native_ipv6) else (i.version or global_version)
    return VrrpInstance(
        name=name,
        interface=i.interface,
        state=i.state,
        vrid=i.vrid,
        priority=i.priority,
        version=resolved,
        advert_int_ms=_normalise_advert(i.advert_s, resolved),
        auth_type=i.auth_type,
        auth_pass=i.auth_pass,
        vips=tuple(i.vips),
        excluded_vips=tuple(i.excluded),
        unicast_src_ip=i.src_ips.get("unicast_src_ip"),
        mcast_src_ip=i.src_ips.get("mcast_src_ip"),
        unicast_peers=tuple(i.peers),
        preempt=i.preempt,
        accept=i.accept,
        preempt_delay_s=preempt_delay_s,
        use_vmac=i.use_vmac,
        vmac_interface=i.vmac_interface,
        vmac_address=i.vmac_address,
        # keepalived: "vmac_xmit_base is only valid with a vmac" (cleared otherwise).
        vmac_xmit_base=i.xmit_base and i.use_vmac,
        track_interface=tuple(i.tracked),
        track_script=tuple(i.scripts_tracked),
        track_file=tuple(i.files_tracked),
        dynamic_priority=i.tracks_other or any(t.weight for t in i.tracked),
        notify=tuple(i.notify),
        ignored=tuple(dict.fromkeys(i.ignored)),
        source=stmt.src,
    )


# Top-level sections of the VRRP part that are not modelled (virtual_server and the other
# LVS/BFD sections are not VRRP's: not listed).
_IGNORED_VRRP_SECTIONS = frozenset(
    {
        "vrrp_track_process",
        "track_process",
        "static_ipaddress",
        "static_routes",
        "static_rules",
        "garp_group",
        "linkbeat_interfaces",
    }
)


def _vrrp_global(keyword: str) -> bool:
    """A global_defs keyword of the VRRP part (``vrrp_*``, the script settings) join does not
    act on (``script_user`` and ``enable_script_security`` it does: ``parse_tracking``)."""
    return keyword.startswith("vrrp_") or keyword in (
        "notify_fifo_script",
        "dynamic_interfaces",
        "max_auto_priority",
    )


def _use_vmac(stmt: Stmt) -> tuple[str | None, str | None]:
    """``use_vmac [NAME] [MAC]`` (vrrp_parser.c, ``vrrp_vmac_handler``): a word with a colon is
    the MAC (interface names cannot hold one), the other the name. A name the kernel would
    refuse (``dev_valid_name``) is ignored, as keepalived ignores it: the default is used."""
    no_block(stmt)
    name: str | None = None
    mac: str | None = None
    for arg in stmt.args:
        text = arg.text
        if ":" in text:
            mac = mac or text
        elif name is None:
            name = text
    if name is not None and (
        len(raw_bytes(name)) >= 16
        or name in (".", "..")
        or any(ch == "/" or ch.isspace() for ch in name)
    ):
        name = None
    return name, mac


def _normalise_advert(configured_s: Decimal | None, version: int) -> int:
    """keepalived's effective interval in ms (vrrp.c, ``vrrp_complete_instance``): v2 rounds
    half up to whole seconds in 1..255 (RFC 3768 section 5.3.7: Adver Int is in seconds, 8 bits);
    v3 rounds half up to centiseconds in 1..4095 (RFC 5798 section 5.2.4: 12 bits of cs)."""
    if configured_s is None:
        return DEFAULT_ADVERT_INT_MS
    if version == 2:
        secs = int(configured_s.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return min(max(secs, 1), 255) * 1000
    cs = int((configured_s * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return min(max(cs, 1), 4095) * 10


def parse_config(path: str | Path, config_id: str | None = None) -> KeepalivedConfig:
    """Read ``path`` (and its includes) and return its VRRP configuration.

    ``config_id`` is keepalived's ``-i`` config id, which selects ``@ID`` conditional lines
    (one file shared by several routers); without it such lines are an error.
    Raises :class:`KaConfError` (one line, naming file and line) for anything it cannot parse.
    """
    lexer = Lexer(config_id)
    tree = build_tree(lexer.lex(Path(path)))
    router_id: str | None = None
    global_version = 2
    fifos: list[str] = []
    ignored: list[str] = []
    # global_defs may come after the instances; read it first.
    for stmt in tree:
        if stmt.keyword.text != "global_defs":
            continue
        for g in need_block(stmt):
            if g.keyword.text == "router_id":
                router_id = one_arg(g).text
            elif g.keyword.text == "vrrp_version":
                v = one_arg(g)
                if v.text not in ("2", "3"):
                    raise err(v, f"vrrp_version must be 2 or 3, not {shown(v.text)}")
                global_version = int(v.text)
            elif g.keyword.text in ("notify_fifo", "vrrp_notify_fifo"):
                fifos.append(notify_fifo(g))
            elif _vrrp_global(g.keyword.text):
                ignored.append(f"global_defs {g.keyword.text}")
    ignored += [stmt.keyword.text for stmt in tree if stmt.keyword.text in _IGNORED_VRRP_SECTIONS]
    scripts, track_files, security = parse_tracking(tree)
    instances: list[VrrpInstance] = []
    seen: dict[str, Source] = {}
    for stmt in tree:
        if stmt.keyword.text != "vrrp_instance":
            continue
        inst = _parse_instance(stmt, global_version)
        if inst.name in seen:
            raise err(
                stmt.keyword, f"vrrp_instance {inst.name} already defined at {seen[inst.name]}"
            )
        seen[inst.name] = inst.source
        instances.append(inst)
    return KeepalivedConfig(
        path=str(path),
        config_id=config_id,
        router_id=router_id,
        vrrp_version=global_version,
        instances=tuple(instances),
        files=tuple(lexer.files),
        sync_groups=sync_groups(tree),
        notify_fifos=tuple(dict.fromkeys(fifos)),
        ignored=tuple(dict.fromkeys(ignored)),
        scripts=scripts,
        track_files=track_files,
        script_security=security,
    )


def split_config_id(arg: str) -> tuple[str, str | None]:
    """``FILE@ID`` to ``(FILE, ID)``: the config id for keepalived's ``@ID`` conditional lines
    (``keepalived -i ID``), unless a file of that very name exists; ``(arg, None)`` otherwise."""
    path, sep, config_id = arg.rpartition("@")
    if sep and path and config_id and not os.path.exists(arg):
        return path, config_id
    return arg, None


__all__ = [
    "DEFAULT_ADVERT_INT_MS",
    "DEFAULT_PRIORITY",
    "KaConfError",
    "KeepalivedConfig",
    "NOTIFY_KEYWORDS",
    "NotifyLine",
    "ScriptSecurity",
    "Source",
    "SyncGroup",
    "TrackedFile",
    "TrackedInterface",
    "TrackedScript",
    "VirtualAddress",
    "VrrpInstance",
    "VrrpScript",
    "VrrpTrackFile",
    "parse_config",
]
