"""The VRRP part of keepalived.conf, parsed into frozen dataclasses.

Pure: the only I/O is reading the configuration file and the files it includes.

Grammar, as keepalived 2.x reads it (keepalived.conf(5), "DESCRIPTION", "Quoted strings"):

* Keywords and values are separated by whitespace; ``#`` and ``!`` start a comment anywhere on a
  line (outside quotes).
* Blocks are delimited by ``{`` and ``}``. A block may open on the keyword's line or on the next
  line, and may hold statements on the same line (``authentication { auth_type PASS }``).
* ``"..."`` quotes a string (whitespace, ``#`` and ``!`` kept); ``\\#`` and ``\\!`` outside quotes
  are literal characters (lib/parser.c ``decomment``).
* ``include PATTERN`` (and its variants ``includer``, ``includem``, ``includew``, ``includeb``,
  ``includea``) splices other files in, at any depth; the pattern is a glob, relative to the
  directory of the including file. A glob that matches nothing is not an error (keepalived does
  the same); a plain path that does not exist is, because a silently missing file would make an
  audit lie.
* ``global_defs``: only ``router_id`` and ``vrrp_version`` matter here.
* ``vrrp_instance NAME { ... }``: the keywords modelled by :class:`VrrpInstance`; every other
  keyword and every other top-level section (``virtual_server``, ``vrrp_script``,
  ``vrrp_sync_group``, ...) is skipped.
* Conditional lines ``@ID ...`` / ``@^ID ...`` are kept or dropped for a config id (keepalived's
  ``-i``), given as ``parse_config(path, config_id)``; without one they are an error.
* Parameter substitution: ``$NAME=VALUE`` (continued over lines by a trailing backslash),
  then ``$NAME`` (followed by whitespace) or ``${NAME}``; recursive, evaluated at use;
  ``${_PWD}``, ``${_INSTANCE}`` (the config id) and ``${_HASH}`` are predefined; undefined names
  stay as they are.

Not supported (a :class:`KaConfError` says so): ``${_RANDOM}`` and ``~SEQ``.

Values follow keepalived's own normalisation (keepalived/vrrp/vrrp.c, ``vrrp_complete_instance``):
the default priority is 100 and the default state BACKUP; ``advert_int`` defaults to 1 s; a VRRPv2
interval is rounded to whole seconds (1..255), a VRRPv3 one to centiseconds (1..4095, the 12-bit
Max Adver Int of RFC 5798 section 5.2.4); an instance with IPv6 addresses always runs VRRPv3.
Priorities and VRIDs are kept as written, even out of range, so that ``vrrpwatch audit`` can
report them; anything that is not a number at all is a parse error.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from pathlib import Path

from vrrpwatch.errors import VrrpwatchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

DEFAULT_PRIORITY = 100
DEFAULT_ADVERT_INT_MS = 1000
_MAX_INCLUDE_DEPTH = 32
_INCLUDE_KEYWORDS = frozenset(
    {"include", "includer", "includem", "includew", "includeb", "includea"}
)


class KaConfError(VrrpwatchError, ValueError):
    """The configuration cannot be parsed. ``str()`` is one line: ``FILE:LINE: message``."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path  # line 0: the file as a whole
        super().__init__(f"{where}: {message}")


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
    use_vmac: bool = False
    vmac_interface: str | None = None
    track_interface: tuple[TrackedInterface, ...] = ()
    # The running priority may differ from ``priority``: weighted track_interface entries, or
    # track_script / track_file / track_process / track_bfd blocks (keepalived.conf(5)).
    dynamic_priority: bool = False
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
        return self.auth_pass.encode()[:8]


@dataclass(frozen=True, slots=True, kw_only=True)
class KeepalivedConfig:
    path: str
    router_id: str | None = None
    vrrp_version: int = 2  # global_defs vrrp_version
    instances: tuple[VrrpInstance, ...] = ()
    files: tuple[str, ...] = ()  # every file read, the main one first
    config_id: str | None = None  # keepalived -i, for @ID conditional lines

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


# --------------------------------------------------------------------------------------------
# Lexer: file text -> tokens with file and line, includes spliced in.


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    path: str
    line: int
    quoted: bool = False
    eol: bool = False  # last token of its line

    @property
    def src(self) -> Source:
        return Source(path=self.path, line=self.line)


def _split_line(text: str, path: str, lineno: int) -> list[_Token]:
    """Split one line into words, ``{``/``}`` and quoted strings; drop the comment.

    As keepalived's parser (lib/parser.c ``decomment``, ``read_line``, ``alloc_strvec``): a
    comment starts at any ``#`` or ``!`` outside double quotes (``\\#`` and ``\\!`` are literal);
    ``{`` and ``}`` outside quotes are tokens of their own; a ``"`` at the start of a word quotes
    up to the next ``"`` (whitespace kept, no escapes; single quotes are ordinary characters).
    """
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "#!":
            break
        if ch in "{}":
            out.append(_Token(ch, path, lineno))
            i += 1
            continue
        if ch == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise KaConfError(path, lineno, "unterminated quoted string")
            out.append(_Token(text[i + 1 : close], path, lineno, quoted=True))
            i = close + 1
            continue
        word: list[str] = []
        while i < n and not text[i].isspace() and text[i] not in '{}#!"':
            if text[i] == "\\" and i + 1 < n and text[i + 1] in "#!":
                i += 1
            word.append(text[i])
            i += 1
        out.append(_Token("".join(word), path, lineno))
    if out:
        last = out[-1]
        out[-1] = _Token(last.text, last.path, last.line, last.quoted, True)
    return out


def _has_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _conditional(line: str, config_id: str | None, path: Path, lineno: int) -> str | None:
    """keepalived's conditional lines (lib/parser.c ``read_line``): ``@ID rest`` keeps ``rest``
    only for config id ID (``keepalived -i ID``), ``@^ID rest`` for every other id."""
    if config_id is None:
        raise KaConfError(
            path, lineno, "conditional configuration (@...) needs a config id (FILE@ID)"
        )
    reverse = line.startswith("@^")
    body = line[2:] if reverse else line[1:]
    ident, sep, rest = body.replace("\t", " ").partition(" ")
    if not sep:
        return None
    return rest if (ident == config_id) != reverse else None


def _decomment(line: str) -> str:
    """``line`` up to its comment: the first ``#`` or ``!`` outside double quotes that is not
    escaped (lib/parser.c ``decomment``). Escapes stay for :func:`_split_line`."""
    quoted = False
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and not quoted and i + 1 < n and line[i + 1] in "#!":
            i += 2
            continue
        elif c in "#!" and not quoted:
            return line[:i]
        i += 1
    return line


_DEFINITION = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)[ \t]*=(.*)")
_REFERENCE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?:[ \t][^}]*)?)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=[ \t]|$)"
)
# Bounds on what one source line may expand into (recursive definitions); keepalived stops
# at its line buffer size ("would exceed maximum line length").
_MAX_EXPANSIONS = 1000
_MAX_LINE = 1 << 16


@dataclass(slots=True)
class _Lexer:
    """Lines of the files (includes spliced in) to tokens, after keepalived's line-level
    processing (lib/parser.c ``read_line``): comments, ``@ID`` conditional lines and parameter
    substitution (keepalived.conf(5), "ADVANCED CONFIGURATION")."""

    config_id: str | None
    files: list[str] = field(default_factory=list)
    defs: dict[str, str] = field(default_factory=dict)

    def lex_file(self, path: Path, stack: tuple[Path, ...]) -> Iterator[_Token]:
        try:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except IsADirectoryError:
            raise KaConfError(path, 0, "is a directory, not a configuration file") from None
        except OSError as exc:
            raise KaConfError(path, 0, f"cannot read: {exc.strerror or exc}") from None
        self.files.append(str(path))
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            lineno = i + 1
            i += 1
            queue = deque([lines[i - 1]])
            expansions = 0
            while queue:
                line = _decomment(queue.popleft()).strip()
                if line.startswith("@"):
                    line = (_conditional(line, self.config_id, path, lineno) or "").strip()
                if not line:
                    continue
                m = _DEFINITION.fullmatch(line)
                if m:
                    value = m.group(2).strip()
                    if value.endswith("\\"):
                        value, i = self._multiline(value, lines, i, path, lineno, m.group(1))
                    self.defs[m.group(1)] = value
                    continue
                if line.startswith("~SEQ"):
                    raise KaConfError(path, lineno, "~SEQ is not supported")
                if "$" in line:
                    expanded = _REFERENCE.sub(partial(self._value, path=path, lineno=lineno), line)
                    if expanded != line:
                        expansions += 1
                        if expansions > _MAX_EXPANSIONS or len(expanded) > _MAX_LINE:
                            raise KaConfError(path, lineno, "parameter substitution never ends")
                        queue.extendleft(reversed(expanded.split("\n")))
                        continue
                yield from self._tokens(line, path, lineno, stack)

    def _multiline(
        self, first: str, lines: list[str], i: int, path: Path, lineno: int, name: str
    ) -> tuple[str, int]:
        """A definition continued by trailing backslashes; its lines joined by newlines."""
        parts = [first[:-1].strip()]
        while True:
            if i >= len(lines):
                raise KaConfError(path, lineno, f"definition of ${name} never ends")
            nxt = _decomment(lines[i]).strip()
            i += 1
            if nxt.endswith("\\"):
                parts.append(nxt[:-1].strip())
            else:
                parts.append(nxt)
                break
        return "\n".join(p for p in parts if p), i

    def _value(self, ref: re.Match[str], *, path: Path, lineno: int) -> str:
        name = ref.group(1) or ref.group(3)
        if name == "_RANDOM":
            raise KaConfError(path, lineno, "${_RANDOM} is not supported")
        if ref.group(2):
            return ref.group(0)  # only _RANDOM takes parameters
        if name in self.defs:
            return self.defs[name]
        if name == "_PWD":
            return str(path.parent.resolve())
        if name == "_INSTANCE" and self.config_id is not None:
            return self.config_id
        if name == "_HASH":
            return "\\#"  # a literal '#', not a comment
        return ref.group(0)  # undefined: left as it is, as keepalived does

    def _tokens(
        self, line: str, path: Path, lineno: int, stack: tuple[Path, ...]
    ) -> Iterator[_Token]:
        tokens = _split_line(line, str(path), lineno)
        if tokens and not tokens[0].quoted and tokens[0].text in _INCLUDE_KEYWORDS:
            if len(tokens) != 2 or tokens[1].text in "{}":
                raise KaConfError(path, lineno, f"{tokens[0].text} needs exactly one file name")
            yield from self._include(tokens[1].text, path, lineno, stack)
            return
        yield from tokens

    def _include(
        self, pattern: str, including: Path, lineno: int, stack: tuple[Path, ...]
    ) -> Iterator[_Token]:
        if len(stack) >= _MAX_INCLUDE_DEPTH:
            raise KaConfError(including, lineno, "includes nested too deeply")
        # keepalived.conf(5): relative paths are relative to the directory of the including file.
        full = pattern if os.path.isabs(pattern) else str(including.parent / pattern)
        if _has_glob(pattern):
            # keepalived (lib/parser.c read_conf_file) skips directories a glob matches.
            matches = sorted(m for m in glob.glob(full) if not os.path.isdir(m))
        elif os.path.exists(full):
            matches = [full]
        else:
            raise KaConfError(including, lineno, f"include: {pattern}: no such file")
        for match in matches:
            target = Path(match).resolve()
            if target in stack:
                raise KaConfError(including, lineno, f"include loop: {pattern} includes itself")
            yield from self.lex_file(Path(match), (*stack, target))


# --------------------------------------------------------------------------------------------
# Tree: tokens -> statements (keyword, args, optional block).


@dataclass(frozen=True, slots=True)
class _Stmt:
    keyword: _Token
    args: tuple[_Token, ...]
    block: tuple[_Stmt, ...] | None = None

    @property
    def src(self) -> Source:
        return self.keyword.src


def _build_tree(tokens: Iterator[_Token]) -> tuple[_Stmt, ...]:
    # Each level: the statements so far, the head of the block being opened.
    stack: list[tuple[list[_Stmt], _Stmt | None]] = [([], None)]
    line: list[_Token] = []  # words of the statement being collected
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


def _err(tok: _Token, message: str) -> KaConfError:
    return KaConfError(tok.path, tok.line, message)


def _one_arg(stmt: _Stmt) -> _Token:
    if len(stmt.args) != 1:
        raise _err(stmt.keyword, f"{stmt.keyword.text} takes one value")
    return stmt.args[0]


def _int(tok: _Token, what: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", tok.text):
        raise _err(tok, f"{what}: {tok.text!r} is not an integer")
    return int(tok.text)


def _seconds(tok: _Token, what: str) -> Decimal:
    try:
        value = Decimal(tok.text)
    except InvalidOperation:
        raise _err(tok, f"{what}: {tok.text!r} is not a number of seconds") from None
    if not value.is_finite() or value < 0:
        raise _err(tok, f"{what}: {tok.text!r} is not a number of seconds")
    return value


def _ip(tok: _Token, what: str) -> IPAddress:
    try:
        return ipaddress.ip_address(tok.text)
    except ValueError:
        raise _err(tok, f"{what}: {tok.text!r} is not an IP address") from None


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
        raise _err(first, f"{first.text!r} is not an IP address[/prefix]") from None
    opts: dict[str, str] = {}
    i = 1
    while i < len(words):
        w = words[i]
        if w.text in _VIP_FLAGS:
            i += 1
            continue
        if w.text not in _VIP_VALUE_OPTIONS:
            raise _err(w, f"unknown virtual_ipaddress option {w.text!r}")
        if i + 1 >= len(words):
            raise _err(w, f"virtual_ipaddress option {w.text} needs a value")
        opts[w.text] = words[i + 1].text
        i += 2
    brd: IPAddress | None = None
    if "brd" in opts:
        try:
            brd = ipaddress.ip_address(opts["brd"])
        except ValueError:
            raise _err(first, f"brd {opts['brd']!r} is not an IP address") from None
    scope = opts.get("scope")
    if scope is not None and scope not in _SCOPES and not scope.isdigit():
        raise _err(first, f"unknown scope {scope!r}")
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
    native_ipv6 = False
    tracks_other = False
    vips: list[VirtualAddress] = []
    excluded: list[VirtualAddress] = []
    peers: list[IPAddress] = []
    tracked: list[TrackedInterface] = []
    for s in body:
        kw = s.keyword.text
        if kw == "state":
            _no_block(s)
            v = _one_arg(s)
            if v.text not in ("MASTER", "BACKUP"):
                raise _err(v, f"state must be MASTER or BACKUP, not {v.text!r}")
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
                raise _err(v, f"version must be 2 or 3, not {v.text!r}")
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
                        raise _err(v, f"auth_type must be PASS or AH, not {v.text!r}")
                    auth_type = v.text
                elif a.keyword.text == "auth_pass":
                    auth_pass = _one_arg(a).text
                else:
                    raise _err(a.keyword, f"unknown authentication keyword {a.keyword.text!r}")
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
            _no_block(s)
            use_vmac = True
            if s.args and ":" not in s.args[0].text:
                vmac_interface = s.args[0].text
        elif kw == "track_interface":
            for t in _need_block(s):
                _no_block(t)
                tracked.append(_tracked(t))
        elif kw == "native_ipv6":
            native_ipv6 = True
        elif kw in ("track_script", "track_file", "track_process", "track_bfd"):
            tracks_other = tracks_other or bool(s.block)
        # Any other keyword (notify scripts, garp settings, track_script, ...) is not modelled.

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
        preempt_delay_s=preempt_delay_s,
        use_vmac=use_vmac,
        vmac_interface=vmac_interface,
        track_interface=tuple(tracked),
        dynamic_priority=tracks_other or any(t.weight for t in tracked),
        source=stmt.src,
    )


def _tracked(stmt: _Stmt) -> TrackedInterface:
    args = [a.text for a in stmt.args]
    weight = 0
    if args and args[0] == "weight":
        if len(args) < 2:
            raise _err(stmt.keyword, "track_interface weight needs a value")
        weight = _int(stmt.args[1], "track_interface weight")
        args = args[2:]
    elif args:
        raise _err(stmt.args[0], f"unexpected {args[0]!r} in track_interface")
    reverse = args == ["reverse"]
    if args and args not in (["reverse"], ["noreverse"], ["no_reverse"]):
        raise _err(stmt.keyword, f"unexpected {' '.join(args)!r} in track_interface")
    return TrackedInterface(name=stmt.keyword.text, weight=weight, reverse=reverse)


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
    main = Path(path)
    lexer = _Lexer(config_id)
    resolved = main.resolve() if main.exists() else main
    tree = _build_tree(lexer.lex_file(main, (resolved,)))
    router_id: str | None = None
    global_version = 2
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
                    raise _err(v, f"vrrp_version must be 2 or 3, not {v.text!r}")
                global_version = int(v.text)
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
    )


# --------------------------------------------------------------------------------------------
# join --config


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinSettings:
    """What ``vrrpwatch join --config FILE [--instance NAME]`` takes from an instance.

    Command-line flags override these field by field (the CLI's job).
    """

    instance: str
    vrid: int
    priority: int
    interface: str | None
    version: int
    family: int
    advert_int_cs: int
    vips: tuple[IPInterface, ...]
    auth_pass: str | None  # simple password (VRRPv2 PASS only), the first 8 characters
    unicast_src_ip: IPAddress | None
    unicast_peers: tuple[IPAddress, ...]
    preempt: bool
    preempt_delay_s: float
    state: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def advert_int_s(self) -> float:
        return self.advert_int_cs / 100

    def as_options(self) -> dict[str, object]:
        """The settings keyed by ``vrrpwatch join``'s click parameter names, so the CLI can
        fill every parameter the user did not give (``ctx.get_parameter_source(name)`` is not
        COMMANDLINE) from the config::

            settings = join_settings(parse_config(path).instance(name)).as_options()
        """
        return {
            "vrid": self.vrid,
            "priority": self.priority,
            "interface": self.interface,
            "vips": tuple(str(v) for v in self.vips),
            "version": self.version,
            "advert_int": self.advert_int_s,
            "auth_pass": self.auth_pass,
            "unicast_peers": tuple(str(p) for p in self.unicast_peers),
            "no_preempt": not self.preempt,
            "preempt_delay": self.preempt_delay_s,
        }


def join_settings(inst: VrrpInstance) -> JoinSettings:
    """Map an instance to ``join`` settings. ``warnings`` lists what join cannot reproduce."""
    warnings: list[str] = []
    if inst.auth_type == "AH":
        warnings.append("auth_type AH is not supported; joining without authentication")
    if inst.auth_type is not None and inst.version == 3:
        warnings.append("authentication is ignored with VRRPv3")
    if inst.use_vmac:
        warnings.append("use_vmac is ignored")
    if inst.excluded_vips:
        warnings.append("virtual_ipaddress_excluded is ignored")
    password = inst.auth_pass_wire
    return JoinSettings(
        instance=inst.name,
        vrid=inst.vrid,
        priority=inst.priority,
        interface=inst.interface,
        version=inst.version,
        family=inst.family,
        advert_int_cs=inst.advert_int_cs,
        vips=tuple(v.address for v in inst.vips),
        auth_pass=password.decode(errors="replace") if password and inst.version == 2 else None,
        unicast_src_ip=inst.unicast_src_ip,
        unicast_peers=inst.unicast_peers,
        preempt=inst.preempt,
        preempt_delay_s=inst.preempt_delay_s,
        state=inst.state,
        warnings=tuple(warnings),
    )


def load_join_settings(path: str | Path, instance: str | None = None) -> JoinSettings:
    """``join --config PATH [--instance NAME]`` in one call; :class:`KaConfError` on failure
    (unparsable file, no such instance, several instances and no name)."""
    return join_settings(parse_config(path).instance(instance))


__all__ = [
    "DEFAULT_ADVERT_INT_MS",
    "DEFAULT_PRIORITY",
    "JoinSettings",
    "KaConfError",
    "KeepalivedConfig",
    "Source",
    "TrackedInterface",
    "VirtualAddress",
    "VrrpInstance",
    "join_settings",
    "load_join_settings",
    "parse_config",
]
