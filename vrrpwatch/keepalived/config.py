"""The VRRP part of keepalived.conf: :func:`parse_config` reads a file into the model.

Three jobs, three modules: ``lexer`` turns the files into tokens (comments, quotes, includes,
``@ID`` conditional lines, ``$NAME`` parameters), this module builds the blocks and reads their
meaning, ``model`` holds the frozen dataclasses it returns.

Grammar above the lines, as keepalived 2.x reads it (keepalived.conf(5), "DESCRIPTION"):

* Blocks are delimited by ``{`` and ``}``. A block may open on the keyword's line or on the next
  line, and may hold statements on the same line (``authentication { auth_type PASS }``).
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
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from vrrpwatch.keepalived.lexer import Lexer, Token
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
from vrrpwatch.text import raw_bytes

# --------------------------------------------------------------------------------------------
# Tree: tokens -> statements (keyword, args, optional block).


@dataclass(frozen=True, slots=True)
class _Stmt:
    keyword: Token
    args: tuple[Token, ...]
    block: tuple[_Stmt, ...] | None = None

    @property
    def src(self) -> Source:
        return self.keyword.src


def _build_tree(tokens: Iterator[Token]) -> tuple[_Stmt, ...]:
    # Each level: the statements so far, the head of the block being opened.
    stack: list[tuple[list[_Stmt], _Stmt | None]] = [([], None)]
    line: list[Token] = []  # words of the statement being collected
    last_simple: _Stmt | None = None  # a finished one-line statement a lone "{" may attach to

    def flush() -> None:
        nonlocal last_simple
        if line:
            stmt = _Stmt(line[0], tuple(line[1:]))
            stack[-1][0].append(stmt)
            last_simple = stmt
            line.clear()

    for tok in tokens:
        if tok.text == "{" and not tok.quoted:
            if line:
                head = _Stmt(line[0], tuple(line[1:]))
                line.clear()
            elif last_simple is not None and stack[-1][0] and stack[-1][0][-1] is last_simple:
                # The block opens on the line after its keyword.
                head = stack[-1][0].pop()
            else:
                raise KaConfError(tok.path, tok.line, "'{' without a keyword before it")
            stack.append(([], head))
            last_simple = None
        elif tok.text == "}" and not tok.quoted:
            flush()
            if len(stack) == 1:
                raise KaConfError(tok.path, tok.line, "'}' without a matching '{'")
            body, opened = stack.pop()
            assert opened is not None
            stack[-1][0].append(_Stmt(opened.keyword, opened.args, tuple(body)))
            last_simple = None
        else:
            line.append(tok)
        if tok.eol:
            flush()
    flush()
    if len(stack) > 1:
        unclosed = stack[-1][1]
        assert unclosed is not None
        kw = unclosed.keyword
        raise KaConfError(kw.path, kw.line, f"'{kw.text} {{' is never closed")
    return tuple(stack[0][0])


# --------------------------------------------------------------------------------------------
# Semantics.


def _err(tok: Token, message: str) -> KaConfError:
    return KaConfError(tok.path, tok.line, message)


def _one_arg(stmt: _Stmt) -> Token:
    if len(stmt.args) != 1:
        raise _err(stmt.keyword, f"{stmt.keyword.text} takes one value")
    return stmt.args[0]


_SHOWN_CHARS = 40


def _shown(text: str) -> str:
    """``text`` quoted for an error message, cut short when long (one line stays readable)."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return f"{text[:_SHOWN_CHARS]!r}... ({len(text)} characters)"


# Integers longer than this are out of any range keepalived reads (and Python will not even
# convert one of more than 4,300 digits); seconds above _MAX_SECONDS likewise, far beyond any
# interval (at most 255 s) or delay (1000 s), which keeps the Decimal arithmetic exact.
_MAX_INT_DIGITS = 18
_MAX_SECONDS = Decimal(10**6)


def _int(tok: Token, what: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", tok.text):
        raise _err(tok, f"{what}: {_shown(tok.text)} is not an integer")
    if len(tok.text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        raise _err(tok, f"{what}: {_shown(tok.text)} is out of range")
    return int(tok.text)


def _seconds(tok: Token, what: str) -> Decimal:
    try:
        value = Decimal(tok.text)
    except InvalidOperation:
        raise _err(tok, f"{what}: {_shown(tok.text)} is not a number of seconds") from None
    if not value.is_finite() or value < 0:
        raise _err(tok, f"{what}: {_shown(tok.text)} is not a number of seconds")
    if value > _MAX_SECONDS:
        raise _err(tok, f"{what}: {_shown(tok.text)} is out of range")
    return value


def _ip(tok: Token, what: str) -> IPAddress:
    try:
        return ipaddress.ip_address(tok.text)
    except ValueError:
        raise _err(tok, f"{what}: {_shown(tok.text)} is not an IP address") from None


def _no_block(stmt: _Stmt) -> None:
    if stmt.block is not None:
        raise _err(stmt.keyword, f"{stmt.keyword.text} does not take a block")


def _need_block(stmt: _Stmt) -> tuple[_Stmt, ...]:
    if stmt.block is None:
        raise _err(stmt.keyword, f"{stmt.keyword.text} needs a {{ ... }} block")
    return stmt.block


# Options of a virtual_ipaddress line (keepalived.conf(5), "virtual_ipaddress"): those taking a
# value and bare flags. The ones we model are stored; the others are accepted and ignored.
_VIP_VALUE_OPTIONS = frozenset(
    {"brd", "dev", "scope", "label", "peer", "preferred_lft", "track_group"}
)
_VIP_FLAGS = frozenset(
    {"home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac"}
)
_SCOPES = frozenset({"site", "link", "host", "nowhere", "global"})


def _vip_line(stmt: _Stmt) -> VirtualAddress:
    _no_block(stmt)
    words = (stmt.keyword, *stmt.args)
    first = words[0]
    try:
        address: IPInterface = ipaddress.ip_interface(first.text)
    except ValueError:
        raise _err(first, f"{_shown(first.text)} is not an IP address[/prefix]") from None
    opts: dict[str, str] = {}
    i = 1
    while i < len(words):
        w = words[i]
        if w.text in _VIP_FLAGS:
            i += 1
            continue
        if w.text not in _VIP_VALUE_OPTIONS:
            raise _err(w, f"unknown virtual_ipaddress option {_shown(w.text)}")
        if i + 1 >= len(words):
            raise _err(w, f"virtual_ipaddress option {w.text} needs a value")
        opts[w.text] = words[i + 1].text
        i += 2
    brd: IPAddress | None = None
    if "brd" in opts:
        try:
            brd = ipaddress.ip_address(opts["brd"])
        except ValueError:
            raise _err(first, f"brd {_shown(opts['brd'])} is not an IP address") from None
    scope = opts.get("scope")
    if scope is not None and scope not in _SCOPES and not scope.isdigit():
        raise _err(first, f"unknown scope {_shown(scope)}")
    return VirtualAddress(
        address=address,
        dev=opts.get("dev"),
        brd=brd,
        label=opts.get("label"),
        scope=scope,
        source=first.src,
    )


def _vip_block(stmt: _Stmt) -> list[VirtualAddress]:
    return [_vip_line(s) for s in _need_block(stmt)]


def _parse_instance(stmt: _Stmt, global_version: int) -> VrrpInstance:
    if len(stmt.args) != 1:
        raise _err(stmt.keyword, "vrrp_instance needs exactly one name")
    name = stmt.args[0].text
    body = _need_block(stmt)
    state = "BACKUP"
    interface: str | None = None
    vrid: int | None = None
    priority = DEFAULT_PRIORITY
    version: int | None = None
    advert_s: Decimal | None = None
    auth_type: str | None = None
    auth_pass: str | None = None
    src_ips: dict[str, IPAddress] = {}
    preempt = True
    preempt_delay_s = 0.0
    use_vmac = False
    vmac_interface: str | None = None
    vmac_address: str | None = None
    xmit_base = False
    native_ipv6 = False
    accept: bool | None = None
    tracks_other = False
    vips: list[VirtualAddress] = []
    excluded: list[VirtualAddress] = []
    peers: list[IPAddress] = []
    tracked: list[TrackedInterface] = []
    notify: list[NotifyLine] = []
    ignored: list[str] = []
    scripts_tracked: list[TrackedScript] = []
    files_tracked: list[TrackedFile] = []
    for s in body:
        kw = s.keyword.text
        if kw == "state":
            _no_block(s)
            v = _one_arg(s)
            if v.text not in ("MASTER", "BACKUP"):
                raise _err(v, f"state must be MASTER or BACKUP, not {_shown(v.text)}")
            # keepalived ignores "state BACKUP" after "state MASTER" (vrrp_state_handler).
            if state != "MASTER":
                state = v.text
        elif kw == "interface":
            _no_block(s)
            interface = _one_arg(s).text
        elif kw == "virtual_router_id":
            _no_block(s)
            vrid = _int(_one_arg(s), "virtual_router_id")
        elif kw == "priority":
            _no_block(s)
            priority = _int(_one_arg(s), "priority")
        elif kw == "version":
            _no_block(s)
            v = _one_arg(s)
            if v.text not in ("2", "3"):
                raise _err(v, f"version must be 2 or 3, not {_shown(v.text)}")
            version = int(v.text)
        elif kw == "advert_int":
            _no_block(s)
            v = _one_arg(s)
            advert_s = _seconds(v, "advert_int")
            if advert_s == 0:
                raise _err(v, "advert_int must be greater than 0")
        elif kw == "authentication":
            for a in _need_block(s):
                _no_block(a)
                if a.keyword.text == "auth_type":
                    v = _one_arg(a)
                    if v.text not in ("PASS", "AH"):
                        raise _err(v, f"auth_type must be PASS or AH, not {_shown(v.text)}")
                    auth_type = v.text
                elif a.keyword.text == "auth_pass":
                    auth_pass = _one_arg(a).text
                else:
                    raise _err(
                        a.keyword, f"unknown authentication keyword {_shown(a.keyword.text)}"
                    )
        elif kw == "virtual_ipaddress":
            vips.extend(_vip_block(s))
        elif kw == "virtual_ipaddress_excluded":
            excluded.extend(_vip_block(s))
        elif kw in ("unicast_src_ip", "mcast_src_ip"):
            _no_block(s)
            src_ips[kw] = _ip(_one_arg(s), kw)
        elif kw == "unicast_peer":
            for p in _need_block(s):
                _no_block(p)
                peers.append(_ip(p.keyword, "unicast_peer"))
        elif kw == "nopreempt":
            preempt = False
        elif kw == "preempt":
            preempt = True
        elif kw == "preempt_delay":
            _no_block(s)
            delay = _seconds(_one_arg(s), "preempt_delay")
            if delay > 1000:
                raise _err(s.args[0], "preempt_delay must be between 0 and 1000 seconds")
            preempt_delay_s = float(delay)
        elif kw == "use_vmac":
            use_vmac = True
            vmac_interface, vmac_address = _use_vmac(s)
        elif kw == "vmac_xmit_base":
            _no_block(s)
            xmit_base = True
        elif kw == "track_interface":
            for t in _need_block(s):
                _no_block(t)
                tracked.append(_tracked(t))
        elif kw == "native_ipv6":
            native_ipv6 = True
        elif kw in ("accept", "no_accept"):
            _no_block(s)
            accept = kw == "accept"
        elif kw == "track_script":
            scripts_tracked.extend(_tracked_scripts(s))
            tracks_other = tracks_other or bool(s.block)
        elif kw == "track_file":
            files_tracked.extend(_tracked_files(s))
            tracks_other = tracks_other or bool(s.block)
        elif kw in ("track_process", "track_bfd"):
            tracks_other = tracks_other or bool(s.block)
            ignored.append(kw)
        elif kw in NOTIFY_KEYWORDS:
            notify.append(_notify_line(s))
        else:
            # Any other keyword (garp settings, smtp_alert, ...) is not modelled: join warns.
            ignored.append(kw)

    if vrid is None:
        raise _err(stmt.keyword, f"vrrp_instance {name} has no virtual_router_id")
    families = {v.ip.version for v in vips}
    if len(families) > 1:
        raise _err(
            stmt.keyword,
            f"vrrp_instance {name}: virtual_ipaddress mixes IPv4 and IPv6 "
            "(use virtual_ipaddress_excluded for the other family)",
        )
    if not preempt:
        # keepalived resets it: "preempt_delay is incompatible with nopreempt mode".
        preempt_delay_s = 0.0
    # keepalived.conf(5) "version": IPv6 instances always use VRRPv3.
    resolved = 3 if (6 in families or native_ipv6) else (version or global_version)
    return VrrpInstance(
        name=name,
        interface=interface,
        state=state,
        vrid=vrid,
        priority=priority,
        version=resolved,
        advert_int_ms=_normalise_advert(advert_s, resolved),
        auth_type=auth_type,
        auth_pass=auth_pass,
        vips=tuple(vips),
        excluded_vips=tuple(excluded),
        unicast_src_ip=src_ips.get("unicast_src_ip"),
        mcast_src_ip=src_ips.get("mcast_src_ip"),
        unicast_peers=tuple(peers),
        preempt=preempt,
        accept=accept,
        preempt_delay_s=preempt_delay_s,
        use_vmac=use_vmac,
        vmac_interface=vmac_interface,
        vmac_address=vmac_address,
        # keepalived: "vmac_xmit_base is only valid with a vmac" (cleared otherwise).
        vmac_xmit_base=xmit_base and use_vmac,
        track_interface=tuple(tracked),
        track_script=tuple(scripts_tracked),
        track_file=tuple(files_tracked),
        dynamic_priority=tracks_other or any(t.weight for t in tracked),
        notify=tuple(notify),
        ignored=tuple(dict.fromkeys(ignored)),
        source=stmt.src,
    )


# --------------------------------------------------------------------------------------------
# Notify scripts and sync groups (keepalived vrrp_parser.c, vrrp_notify.c).

NOTIFY_KEYWORDS = frozenset(
    {"notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"}
)


def _notify_line(stmt: _Stmt) -> NotifyLine:
    """``notify_master SCRIPT [username [groupname]]``: keepalived re-reads the line with
    quotes and escapes, takes its first word as the script and splits that again into argv
    (notify.c ``notify_script_init``, ``set_script_params_array``); so an unquoted
    ``notify_master /bin/x a`` runs ``/bin/x`` as user ``a``, and a script with arguments is
    quoted: ``notify_master "/bin/x a"``."""
    _no_block(stmt)
    kw = stmt.keyword.text
    line = " ".join(f'"{t.text}"' if t.quoted else t.text for t in stmt.args)
    try:
        words = shlex.split(line)
        argv = tuple(shlex.split(words[0])) if words else ()
    except ValueError as exc:
        raise _err(stmt.keyword, f"{kw}: cannot split {_shown(line)}: {exc}") from None
    if not argv:
        raise _err(stmt.keyword, f"{kw} needs a script")
    if len(words) > 3:
        raise _err(
            stmt.keyword, f"{kw}: unexpected {_shown(' '.join(words[3:]))} after the user and group"
        )
    return NotifyLine(
        keyword=kw,
        argv=argv,
        user=words[1] if len(words) > 1 else None,
        group=words[2] if len(words) > 2 else None,
        source=stmt.src,
    )


def _parse_sync_group(stmt: _Stmt) -> SyncGroup:
    if len(stmt.args) != 1:
        raise _err(stmt.keyword, "vrrp_sync_group needs exactly one name")
    name = stmt.args[0].text
    members: list[str] = []
    notify: list[NotifyLine] = []
    ignored: list[str] = []
    for s in _need_block(stmt):
        kw = s.keyword.text
        if kw == "group":
            for m in _need_block(s):
                _no_block(m)
                members += [m.keyword.text, *(a.text for a in m.args)]
        elif kw in NOTIFY_KEYWORDS:
            notify.append(_notify_line(s))
        else:
            ignored.append(kw)
    # No ``group { ... }`` (keepalived's own sample keepalived.conf.vrrp.lvs_syncd lists the
    # names bare): keepalived warns of the unknown keywords and drops the empty group; so does
    # join (settings: "sync group has 0 of the instances join runs; ignored").
    return SyncGroup(
        name=name,
        members=tuple(dict.fromkeys(members)),
        notify=tuple(notify),
        ignored=tuple(dict.fromkeys(ignored)),
        source=stmt.src,
    )


def _sync_groups(tree: tuple[_Stmt, ...]) -> tuple[SyncGroup, ...]:
    groups: list[SyncGroup] = []
    seen: dict[str, Source] = {}
    for stmt in tree:
        if stmt.keyword.text != "vrrp_sync_group":
            continue
        group = _parse_sync_group(stmt)
        if group.name in seen:
            raise _err(
                stmt.keyword, f"vrrp_sync_group {group.name} already defined at {seen[group.name]}"
            )
        seen[group.name] = group.source
        groups.append(group)
    return tuple(groups)


def _notify_fifo(stmt: _Stmt) -> str:
    """global_defs ``notify_fifo FILE [username [groupname]]`` (and ``vrrp_notify_fifo``)."""
    _no_block(stmt)
    if not stmt.args:
        raise _err(stmt.keyword, f"{stmt.keyword.text} needs a file name")
    return stmt.args[0].text


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
    act on (``script_user`` and ``enable_script_security`` it does: ``_parse_tracking``)."""
    return keyword.startswith("vrrp_") or keyword in (
        "notify_fifo_script",
        "dynamic_interfaces",
        "max_auto_priority",
    )


def _use_vmac(stmt: _Stmt) -> tuple[str | None, str | None]:
    """``use_vmac [NAME] [MAC]`` (vrrp_parser.c, ``vrrp_vmac_handler``): a word with a colon is
    the MAC (interface names cannot hold one), the other the name. A name the kernel would
    refuse (``dev_valid_name``) is ignored, as keepalived ignores it: the default is used."""
    _no_block(stmt)
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


def _tracked(stmt: _Stmt) -> TrackedInterface:
    args = [a.text for a in stmt.args]
    weight = 0
    if args and args[0] == "weight":
        if len(args) < 2:
            raise _err(stmt.keyword, "track_interface weight needs a value")
        weight = _int(stmt.args[1], "track_interface weight")
        args = args[2:]
    elif args:
        raise _err(stmt.args[0], f"unexpected {_shown(args[0])} in track_interface")
    reverse = args == ["reverse"]
    if args and args not in (["reverse"], ["noreverse"], ["no_reverse"]):
        raise _err(stmt.keyword, f"unexpected {_shown(' '.join(args))} in track_interface")
    return TrackedInterface(name=stmt.keyword.text, weight=weight, reverse=reverse)


# --------------------------------------------------------------------------------------------
# Tracking: vrrp_script, vrrp_track_file, global_defs script_user / enable_script_security, and
# an instance's track_script / track_file lines (keepalived's vrrp_parser.c, vrrp_track.c).


def _weight(stmt: _Stmt, words: tuple[Token, ...], what: str) -> tuple[int, bool | None]:
    """``N [reverse|noreverse]`` (vrrp_track.c: -253..253, +/-254 set to +/-253)."""
    if not words:
        raise _err(stmt.keyword, f"{what} weight needs a value")
    weight = _int(words[0], f"{what} weight")
    if not -254 <= weight <= 254:
        raise _err(words[0], f"{what} weight must be between -253 and 253")
    weight = max(-253, min(253, weight))
    reverse: bool | None = None
    if len(words) >= 2:
        if words[1].text not in ("reverse", "noreverse") or len(words) > 2:
            raise _err(words[1], f"unexpected {_shown(words[1].text)} in {what}")
        reverse = words[1].text == "reverse"
    return weight, reverse


def _line_weight(stmt: _Stmt, what: str) -> tuple[int | None, bool | None]:
    """A track line's ``NAME [weight N [reverse|noreverse]]``."""
    if not stmt.args:
        return None, None
    if stmt.args[0].text != "weight":
        raise _err(stmt.args[0], f"unexpected {_shown(stmt.args[0].text)} in {what}")
    return _weight(stmt, stmt.args[1:], what)


def _tracked_scripts(stmt: _Stmt) -> list[TrackedScript]:
    out = []
    for t in _need_block(stmt):
        _no_block(t)
        weight, reverse = _line_weight(t, "track_script")
        out.append(TrackedScript(name=t.keyword.text, weight=weight, reverse=reverse))
    return out


def _tracked_files(stmt: _Stmt) -> list[TrackedFile]:
    out = []
    for t in _need_block(stmt):
        _no_block(t)
        weight, _ = _line_weight(t, "track_file")
        out.append(TrackedFile(name=t.keyword.text, weight=weight))
    return out


def _count(stmt: _Stmt, what: str, low: int) -> int:
    value = _int(_one_arg(stmt), what)
    if value < low:
        raise _err(stmt.args[0], f"{what} must be at least {low}")
    return value


def _parse_vrrp_script(stmt: _Stmt) -> VrrpScript:
    if len(stmt.args) != 1:
        raise _err(stmt.keyword, "vrrp_script needs exactly one name")
    values: dict[str, object] = {}
    for s in _need_block(stmt):
        _no_block(s)
        kw = s.keyword.text
        if kw == "script":
            if not s.args:
                raise _err(s.keyword, "script needs a value")
            # vrrp_parser.c: only the first word (quoted when it holds arguments) is the
            # script; it is split into arguments when run.
            values["script"] = s.args[0].text
        elif kw in ("interval", "timeout"):
            # keepalived: whole seconds; 0 is "set to 1".
            values[f"{kw}_s"] = max(1, _count(s, f"vrrp_script {kw}", 0))
        elif kw == "weight":
            weight, reverse = _weight(s, s.args, "vrrp_script")
            values["weight"], values["reverse"] = weight, bool(reverse)
        elif kw in ("rise", "fall"):
            values[kw] = _count(s, f"vrrp_script {kw}", 1)
        elif kw == "user":
            if not 1 <= len(s.args) <= 2:
                raise _err(s.keyword, "user takes a user name and an optional group")
            values["user"] = s.args[0].text
            values["group"] = s.args[1].text if len(s.args) == 2 else None
        elif kw == "init_fail":
            values["init_fail"] = True
        # Other keywords of newer keepalived versions are not modelled.
    return VrrpScript(name=stmt.args[0].text, source=stmt.src, **values)  # type: ignore[arg-type]


def _parse_track_file(stmt: _Stmt) -> VrrpTrackFile:
    if len(stmt.args) != 1:
        raise _err(stmt.keyword, "vrrp_track_file needs exactly one name")
    path: str | None = None
    weight = 1
    for s in _need_block(stmt):
        _no_block(s)
        if s.keyword.text == "file":
            path = _one_arg(s).text
        elif s.keyword.text == "weight":
            weight = _weight(s, s.args, "vrrp_track_file")[0]
    return VrrpTrackFile(name=stmt.args[0].text, path=path, weight=weight, source=stmt.src)


def _parse_tracking(
    tree: tuple[_Stmt, ...],
) -> tuple[tuple[VrrpScript, ...], tuple[VrrpTrackFile, ...], ScriptSecurity]:
    scripts: dict[str, VrrpScript] = {}
    files: dict[str, VrrpTrackFile] = {}
    user: str | None = None
    group: str | None = None
    enabled = False
    for stmt in tree:
        kw = stmt.keyword.text
        if kw == "vrrp_script":
            script = _parse_vrrp_script(stmt)
            scripts[script.name] = script  # a later block of the same name wins
        elif kw == "vrrp_track_file":
            tfile = _parse_track_file(stmt)
            files[tfile.name] = tfile
        elif kw == "global_defs":
            for g in _need_block(stmt):
                if g.keyword.text == "script_user":
                    if not 1 <= len(g.args) <= 2:
                        raise _err(g.keyword, "script_user takes a user name and an optional group")
                    user = g.args[0].text
                    group = g.args[1].text if len(g.args) == 2 else None
                elif g.keyword.text == "enable_script_security":
                    enabled = True
    security = ScriptSecurity(user=user, group=group, enabled=enabled)
    return tuple(scripts.values()), tuple(files.values()), security


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
    tree = _build_tree(lexer.lex(Path(path)))
    router_id: str | None = None
    global_version = 2
    fifos: list[str] = []
    ignored: list[str] = []
    # global_defs may come after the instances; read it first.
    for stmt in tree:
        if stmt.keyword.text != "global_defs":
            continue
        for g in _need_block(stmt):
            if g.keyword.text == "router_id":
                router_id = _one_arg(g).text
            elif g.keyword.text == "vrrp_version":
                v = _one_arg(g)
                if v.text not in ("2", "3"):
                    raise _err(v, f"vrrp_version must be 2 or 3, not {_shown(v.text)}")
                global_version = int(v.text)
            elif g.keyword.text in ("notify_fifo", "vrrp_notify_fifo"):
                fifos.append(_notify_fifo(g))
            elif _vrrp_global(g.keyword.text):
                ignored.append(f"global_defs {g.keyword.text}")
    ignored += [stmt.keyword.text for stmt in tree if stmt.keyword.text in _IGNORED_VRRP_SECTIONS]
    scripts, track_files, security = _parse_tracking(tree)
    instances: list[VrrpInstance] = []
    seen: dict[str, Source] = {}
    for stmt in tree:
        if stmt.keyword.text != "vrrp_instance":
            continue
        inst = _parse_instance(stmt, global_version)
        if inst.name in seen:
            raise _err(
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
        sync_groups=_sync_groups(tree),
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
