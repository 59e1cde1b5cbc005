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
"""

from __future__ import annotations

import glob
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from vrrpwatch.keepalived.model import KaConfError, Source

_MAX_INCLUDE_DEPTH = 32
_INCLUDE_KEYWORDS = frozenset(
    {"include", "includer", "includem", "includew", "includeb", "includea"}
)


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
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "#!":
            break
        if ch in "{}":
            out.append(Token(ch, path, lineno))
            i += 1
            continue
        if ch == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise KaConfError(path, lineno, "unterminated quoted string")
            out.append(Token(text[i + 1 : close], path, lineno, quoted=True))
            i = close + 1
            continue
        word: list[str] = []
        while i < n and not text[i].isspace() and text[i] not in '{}#!"':
            if text[i] == "\\" and i + 1 < n and text[i + 1] in "#!":
                i += 1
            word.append(text[i])
            i += 1
        out.append(Token("".join(word), path, lineno))
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
class Lexer:
    """Lines of the files (includes spliced in) to tokens, after keepalived's line-level
    processing (lib/parser.c ``read_line``): comments, ``@ID`` conditional lines and parameter
    substitution (keepalived.conf(5), "ADVANCED CONFIGURATION")."""

    config_id: str | None
    files: list[str] = field(default_factory=list)
    defs: dict[str, str] = field(default_factory=dict)

    def lex(self, path: Path) -> Iterator[Token]:
        """The tokens of ``path`` and of the files it includes, in reading order."""
        resolved = path.resolve() if path.exists() else path
        return self.lex_file(path, (resolved,))

    def lex_file(self, path: Path, stack: tuple[Path, ...]) -> Iterator[Token]:
        """The tokens of ``path``; ``stack`` holds the including files (resolved), to stop
        include loops."""
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


__all__ = ["Lexer", "Token"]
