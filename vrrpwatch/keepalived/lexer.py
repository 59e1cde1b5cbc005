"""keepalived.conf text to tokens, as keepalived 2.x reads its lines (lib/parser.c ``read_line``,
keepalived.conf(5), "DESCRIPTION", "Quoted strings", "ADVANCED CONFIGURATION").

The only I/O of the parser: reading the configuration file and the files it includes.

* Keywords and values are separated by whitespace; ``#`` and ``!`` start a comment anywhere on a
  line (outside quotes).
* ``{`` and ``}`` are tokens of their own (the parser in ``config`` builds the blocks).
* ``"..."`` quotes a string (whitespace, ``#`` and ``!`` kept); ``\\#`` and ``\\!`` outside quotes
  are literal characters (lib/parser.c ``decomment``).
* ``include PATTERN`` (and its variants ``includer``, ``includem``, ``includew``, ``includeb``,
  ``includea``) splices other files in, at any depth; the pattern is a glob, relative to the
  directory of the including file. A glob that matches nothing is not an error (keepalived does
  the same); a plain path that does not exist is, because a silently missing file would make an
  audit lie.
* Conditional lines ``@ID ...`` / ``@^ID ...`` are kept or dropped for a config id (keepalived's
  ``-i``); without one they are an error.
* Parameter substitution: ``$NAME=VALUE`` (continued over lines by a trailing backslash),
  then ``$NAME`` (followed by whitespace) or ``${NAME}``; recursive, evaluated at use;
  ``${_PWD}``, ``${_INSTANCE}`` (the config id) and ``${_HASH}`` are predefined; undefined names
  stay as they are.

Not supported (a :class:`KaConfError` says so): ``${_RANDOM}`` and ``~SEQ``.

Hostile input. A configuration may come from someone else (``vrrpwatch audit`` of a file sent
in), so reading it is bounded, and every bound is a ``FILE:LINE`` error, never a hang:

* only regular files are read (not ``/dev/zero``, a FIFO or a socket), each at most
  :data:`MAX_FILE_BYTES`;
* at most :data:`MAX_FILES` file reads and :data:`MAX_TOTAL_BYTES` in all, counting a file each
  time it is included (files that include each other twice double at every level);
* parameter substitution produces at most :data:`MAX_EXPANSION_CHARS` in all (and one line at
  most ``_MAX_LINE`` characters in ``_MAX_EXPANSIONS`` steps), so a few definitions that each use
  the previous one several times cannot grow into gigabytes;
* every pass over a line takes linear time (no regular expression that backtracks).
"""

from __future__ import annotations

import glob
import itertools
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from vrrpwatch.keepalived.model import KaConfError, Source
from vrrpwatch.smallfile import MIB, SmallFileError, read_small_file

_MAX_INCLUDE_DEPTH = 32
_INCLUDE_KEYWORDS = frozenset(
    {"include", "includer", "includem", "includew", "includeb", "includea"}
)
# Bounds on what one configuration (the main file and everything it includes) may make the
# lexer read and produce; see the module's docstring.
MAX_FILE_BYTES = 4 * MIB
MAX_FILES = 1000
MAX_TOTAL_BYTES = 8 * MIB
MAX_EXPANSION_CHARS = 8 * MIB
# Bounds on what one source line may expand into (recursive definitions); keepalived stops
# at its line buffer size ("would exceed maximum line length").
_MAX_EXPANSIONS = 1000
_MAX_LINE = 1 << 16


@dataclass(frozen=True, slots=True)
class Token:
    """A word, a brace or a quoted string, with the file and line it was read from."""

    text: str
    path: str
    line: int
    quoted: bool = False
    eol: bool = False  # last token of its line

    @property
    def src(self) -> Source:
        return Source(path=self.path, line=self.line)


# One piece of a line at a time: whitespace, a brace, a quoted string (closed or not), a word
# (``\#`` and ``\!`` inside it are literal) or the start of a comment. The alternatives begin
# with different characters and nothing follows them, so matching never backtracks.
_PIECE = re.compile(r'(\s+)|([{}])|"([^"]*)"|(")|((?:\\[#!]|[^\s{}#!"])+)|[#!]')
_ESCAPED = re.compile(r"\\([#!])")


def _split_line(text: str, path: str, lineno: int) -> list[Token]:
    """Split one line into words, ``{``/``}`` and quoted strings; drop the comment.

    As keepalived's parser (lib/parser.c ``decomment``, ``read_line``, ``alloc_strvec``): a
    comment starts at any ``#`` or ``!`` outside double quotes (``\\#`` and ``\\!`` are literal);
    ``{`` and ``}`` outside quotes are tokens of their own; a ``"`` at the start of a word quotes
    up to the next ``"`` (whitespace kept, no escapes; single quotes are ordinary characters).
    """
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        m = _PIECE.match(text, i)
        assert m is not None  # every character starts one of the pieces
        i = m.end()
        space, brace, quoted, open_quote, word = m.groups()
        if space is not None:
            continue
        if brace is not None:
            out.append(Token(brace, path, lineno))
        elif quoted is not None:
            out.append(Token(quoted, path, lineno, quoted=True))
        elif open_quote is not None:
            raise KaConfError(path, lineno, "unterminated quoted string")
        elif word is not None:
            out.append(Token(_ESCAPED.sub(r"\1", word) if "\\" in word else word, path, lineno))
        else:
            break  # a comment
    if out:
        last = out[-1]
        out[-1] = Token(last.text, last.path, last.line, last.quoted, True)
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


# A line up to its comment: runs of ordinary characters, escapes outside quotes, quoted spans
# (closed or running to the end of the line). It always matches, so it never backtracks.
_BEFORE_COMMENT = re.compile(r'(?:[^"\\#!]+|\\[#!]?|"[^"]*"?)*')


def _decomment(line: str) -> str:
    """``line`` up to its comment: the first ``#`` or ``!`` outside double quotes that is not
    escaped (lib/parser.c ``decomment``). Escapes stay for :func:`_split_line`."""
    m = _BEFORE_COMMENT.match(line)
    assert m is not None
    return line[: m.end()]


_DEFINITION = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)[ \t]*=(.*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _references(line: str) -> Iterator[tuple[int, int, str, str]]:
    """``(start, end, name, parameters)`` of each ``$NAME`` (followed by a blank or the end),
    ``${NAME}`` or ``${NAME parameters}`` in ``line``, left to right, not overlapping.

    Linear in the length of the line: the closing brace a ``${NAME parameters`` needs is looked
    up once and remembered, so a line of ``${A ${A ${A ...`` without any ``}`` is one scan (the
    equivalent regular expression backtracks to the end of the line from every ``$``).
    """
    n = len(line)
    close = -1  # the first '}' at or after the last search start (n: none)
    i = 0
    while (start := line.find("$", i)) >= 0:
        braced = line.startswith("{", start + 1)
        m = _NAME.match(line, start + 2 if braced else start + 1)
        i = start + 1
        if m is None:
            continue
        end = m.end()
        after = line[end] if end < n else ""
        if not braced:
            if after in ("", " ", "\t"):
                yield start, end, m.group(), ""
                i = end
            continue
        if after == "}":
            yield start, end + 1, m.group(), ""
            i = end + 1
        elif after in (" ", "\t"):
            if close < end:
                close = line.find("}", end)
                if close < 0:
                    close = n
            if close < n:
                yield start, close + 1, m.group(), line[end:close]
                i = close + 1


def _substitute(line: str, value: Callable[[str, str, str], str]) -> str:
    """``line`` with each reference replaced by ``value(name, parameters, reference)``."""
    parts: list[str] = []
    last = 0
    for start, end, name, params in _references(line):
        parts.append(line[last:start])
        parts.append(value(name, params, line[start:end]))
        last = end
    if not parts:
        return line
    parts.append(line[last:])
    return "".join(parts)


class _Unreadable(Exception):
    """Why a file cannot be read as a configuration (a message, without the file's name)."""


def _read(path: Path, limit: int) -> bytes:
    try:
        return read_small_file(path, limit, what="configuration file")
    except SmallFileError as exc:
        raise _Unreadable(f"cannot read: {exc}" if exc.from_os else str(exc)) from None


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n} bytes"


@dataclass(slots=True)
class Lexer:
    """Lines of the files (includes spliced in) to tokens, after keepalived's line-level
    processing (lib/parser.c ``read_line``): comments, ``@ID`` conditional lines and parameter
    substitution (keepalived.conf(5), "ADVANCED CONFIGURATION")."""

    config_id: str | None
    files: list[str] = field(default_factory=list)
    defs: dict[str, str] = field(default_factory=dict)
    bytes_read: int = 0
    expanded_chars: int = 0

    def lex(self, path: Path) -> Iterator[Token]:
        """The tokens of ``path`` and of the files it includes, in reading order."""
        try:
            text = self._load(path)
        except _Unreadable as exc:
            raise KaConfError(path, 0, str(exc)) from None
        resolved = path.resolve() if path.exists() else path
        return self._lex_text(text, path, (resolved,))

    def _load(self, path: Path) -> str:
        """Read ``path`` within the bounds left (``_Unreadable`` beyond them)."""
        if len(self.files) >= MAX_FILES:
            raise _Unreadable(f"more than {MAX_FILES} files read in all (includes that repeat?)")
        left = MAX_TOTAL_BYTES - self.bytes_read
        data = _read(path, min(MAX_FILE_BYTES, left))
        if len(data) > MAX_FILE_BYTES:
            raise _Unreadable(f"larger than {_size(MAX_FILE_BYTES)}")
        if len(data) > left:
            raise _Unreadable(
                f"more than {_size(MAX_TOTAL_BYTES)} read in all (includes that repeat?)"
            )
        self.bytes_read += len(data)
        self.files.append(str(path))
        return data.decode("utf-8", errors="surrogateescape")

    def _lex_text(self, text: str, path: Path, stack: tuple[Path, ...]) -> Iterator[Token]:
        """The tokens of ``text``, read from ``path``; ``stack`` holds the including files
        (resolved), to stop include loops."""
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
                    expanded = _substitute(line, partial(self._value, path=path, lineno=lineno))
                    if expanded != line:
                        expansions += 1
                        if expansions > _MAX_EXPANSIONS or len(expanded) > _MAX_LINE:
                            raise KaConfError(path, lineno, "parameter substitution never ends")
                        self.expanded_chars += len(expanded)
                        if self.expanded_chars > MAX_EXPANSION_CHARS:
                            raise KaConfError(
                                path,
                                lineno,
                                "parameter substitution produces more than "
                                f"{_size(MAX_EXPANSION_CHARS)} in all",
                            )
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

    def _value(self, name: str, params: str, ref: str, *, path: Path, lineno: int) -> str:
        if name == "_RANDOM":
            raise KaConfError(path, lineno, "${_RANDOM} is not supported")
        if params:
            return ref  # only _RANDOM takes parameters
        if name in self.defs:
            return self.defs[name]
        if name == "_PWD":
            return str(path.parent.resolve())
        if name == "_INSTANCE" and self.config_id is not None:
            return self.config_id
        if name == "_HASH":
            return "\\#"  # a literal '#', not a comment
        return ref  # undefined: left as it is, as keepalived does

    def _tokens(
        self, line: str, path: Path, lineno: int, stack: tuple[Path, ...]
    ) -> Iterator[Token]:
        tokens = _split_line(line, str(path), lineno)
        if tokens and not tokens[0].quoted and tokens[0].text in _INCLUDE_KEYWORDS:
            if len(tokens) != 2 or tokens[1].text in "{}":
                raise KaConfError(path, lineno, f"{tokens[0].text} needs exactly one file name")
            yield from self._include(tokens[1].text, path, lineno, stack)
            return
        yield from tokens

    def _include(
        self, pattern: str, including: Path, lineno: int, stack: tuple[Path, ...]
    ) -> Iterator[Token]:
        if len(stack) >= _MAX_INCLUDE_DEPTH:
            raise KaConfError(including, lineno, "includes nested too deeply")
        # keepalived.conf(5): relative paths are relative to the directory of the including file.
        full = pattern if os.path.isabs(pattern) else str(including.parent / pattern)
        if _has_glob(pattern):
            # keepalived (lib/parser.c read_conf_file) skips directories a glob matches. A glob
            # may match a whole file system: stop after more matches than files may be read.
            found = list(itertools.islice(glob.iglob(full), MAX_FILES + 1))
            if len(found) > MAX_FILES:
                raise KaConfError(
                    including, lineno, f"include: {pattern}: matches more than {MAX_FILES} files"
                )
            matches = sorted(m for m in found if not os.path.isdir(m))
        elif os.path.exists(full):
            matches = [full]
        else:
            raise KaConfError(including, lineno, f"include: {pattern}: no such file")
        for match in matches:
            target = Path(os.path.realpath(match))  # never raises (Path.resolve does, on a loop)
            if target in stack:
                raise KaConfError(including, lineno, f"include loop: {pattern} includes itself")
            try:
                text = self._load(Path(match))
            except _Unreadable as exc:
                raise KaConfError(including, lineno, f"include: {match}: {exc}") from None
            yield from self._lex_text(text, Path(match), (*stack, target))


__all__ = [
    "MAX_EXPANSION_CHARS",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "Lexer",
    "Token",
]
