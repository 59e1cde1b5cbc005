"""keepalived.conf statements: the lexer's tokens built into a tree of ``keyword args [{ block }]``,
and the readers every section's parser shares (one value, integers, seconds, addresses, blocks).

keepalived.conf(5), "DESCRIPTION": blocks are delimited by ``{`` and ``}``; a block may open on the
keyword's line or on the next line, and may hold statements on the same line
(``authentication { auth_type PASS }``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from vrrpwatch.keepalived.lexer import Token
from vrrpwatch.keepalived.model import IPAddress, KaConfError, Source


@dataclass(frozen=True, slots=True)
class Stmt:
    keyword: Token
    args: tuple[Token, ...]
    block: tuple[Stmt, ...] | None = None

    @property
    def src(self) -> Source:
        return self.keyword.src


def build_tree(tokens: Iterator[Token]) -> tuple[Stmt, ...]:
    # Each level: the statements so far, the head of the block being opened.
    stack: list[tuple[list[Stmt], Stmt | None]] = [([], None)]
    line: list[Token] = []  # words of the statement being collected
    last_simple: Stmt | None = None  # a finished one-line statement a lone "{" may attach to

    def flush() -> None:
        nonlocal last_simple
        if line:
            stmt = Stmt(line[0], tuple(line[1:]))
            stack[-1][0].append(stmt)
            last_simple = stmt
            line.clear()

    for tok in tokens:
        if tok.text == "{" and not tok.quoted:
            if line:
                head = Stmt(line[0], tuple(line[1:]))
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
            stack[-1][0].append(Stmt(opened.keyword, opened.args, tuple(body)))
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
# Reading values: each raises KaConfError naming the file and line.


def err(tok: Token, message: str) -> KaConfError:
    return KaConfError(tok.path, tok.line, message)


def one_arg(stmt: Stmt) -> Token:
    if len(stmt.args) != 1:
        raise err(stmt.keyword, f"{stmt.keyword.text} takes one value")
    return stmt.args[0]


_SHOWN_CHARS = 40


def shown(text: str) -> str:
    """``text`` quoted for an error message, cut short when long (one line stays readable)."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return f"{text[:_SHOWN_CHARS]!r}... ({len(text)} characters)"


# Integers longer than this are out of any range keepalived reads (and Python will not even
# convert one of more than 4,300 digits); seconds above _MAX_SECONDS likewise, far beyond any
# interval (at most 255 s) or delay (1000 s), which keeps the Decimal arithmetic exact.
_MAX_INT_DIGITS = 18
_MAX_SECONDS = Decimal(10**6)


def read_int(tok: Token, what: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", tok.text):
        raise err(tok, f"{what}: {shown(tok.text)} is not an integer")
    if len(tok.text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        raise err(tok, f"{what}: {shown(tok.text)} is out of range")
    return int(tok.text)


def read_seconds(tok: Token, what: str) -> Decimal:
    try:
        value = Decimal(tok.text)
    except InvalidOperation:
        raise err(tok, f"{what}: {shown(tok.text)} is not a number of seconds") from None
    if not value.is_finite() or value < 0:
        raise err(tok, f"{what}: {shown(tok.text)} is not a number of seconds")
    if value > _MAX_SECONDS:
        raise err(tok, f"{what}: {shown(tok.text)} is out of range")
    return value


def read_ip(tok: Token, what: str) -> IPAddress:
    try:
        return ipaddress.ip_address(tok.text)
    except ValueError:
        raise err(tok, f"{what}: {shown(tok.text)} is not an IP address") from None


def no_block(stmt: Stmt) -> None:
    if stmt.block is not None:
        raise err(stmt.keyword, f"{stmt.keyword.text} does not take a block")


def need_block(stmt: Stmt) -> tuple[Stmt, ...]:
    if stmt.block is None:
        raise err(stmt.keyword, f"{stmt.keyword.text} needs a {{ ... }} block")
    return stmt.block
