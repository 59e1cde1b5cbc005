"""How every output writes a VLAN stack and a file name: one function each, pure, so the
monitor's alert messages, the store's columns and the command line share them. Times are
``vrrpwatch.times``."""

from __future__ import annotations

from collections.abc import Sequence


def vlan_label(vlans: Sequence[int], *, untagged: str = "-") -> str:
    """VLAN ids, outermost first, joined with "." ("10.20"); ``untagged`` when there are none
    ("-" in human text, "" in the database's ``vlan`` columns)."""
    return ".".join(map(str, vlans)) if vlans else untagged


def path_label(path: object) -> str:
    """A file name (a str or a Path) as text every output can hold: name bytes that are not
    UTF-8, which Python keeps as lone surrogates (PEP 383) and SQLite, JSON and terminals
    refuse, become ``\\xff`` escapes."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def raw_bytes(text: str) -> bytes:
    """The bytes a string from a config file or the command line came from. Both are read
    with ``surrogateescape`` (the lexer, and Python for argv), so a byte that is not UTF-8 (a
    password, an interface name) is the same byte again here, never a UnicodeEncodeError."""
    return text.encode("utf-8", "surrogateescape")
