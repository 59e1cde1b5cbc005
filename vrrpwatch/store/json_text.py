"""The one writer of the JSON documents (``analyze --json``, ``report --json``, ``audit --json``).

The contract is the text of ``json.dumps(doc, indent=2)`` plus a newline, byte for byte:
``ensure_ascii`` (every character past U+007F, and the lone surrogates that stand for name bytes
that are not UTF-8, as ``\\uXXXX``), floats as ``repr``, ``NaN``/``Infinity`` as Python writes
them. ``json.dumps`` with ``indent`` runs the pure-Python encoder, which for a flood run (100,000
transitions and as many alerts) takes seconds and holds the document's text several times over:
a list of millions of small strings, their join, and the copy a write encodes.

``write_json`` writes the same text in pieces. A list or object that holds no non-empty list or
object (a leaf: an alert, a transition, a list of addresses) is written by the C encoder, whose
item separator is the comma, newline and indent of its depth, so only the brackets' own newlines
are added here; the runs of leaf objects in a list (``alerts``, ``transitions``) go 256 to a call
(``_objects``). The nesting above the leaves is walked in Python. The text is written about every
half MiB, never held whole.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import IO, Any

_INDENT = 2
_FLUSH_PIECES = 16  # pieces held before a write (a piece: up to _BATCH objects, or a token)
_BATCH = 256  # leaf objects of a list encoded by one call
_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = (list, tuple, dict)
_ENCODE_STR: Callable[[str], str] = json.encoder.encode_basestring_ascii

Encoder = Callable[[Any], str]


def _make_encoder(item_separator: str) -> Encoder:
    """An encoder of one value with ``json.dumps``'s defaults and ``item_separator`` between the
    items of every list and object (no newline after an opening bracket: the caller adds it)."""
    default = json.JSONEncoder().default  # the TypeError json.dumps raises
    c_make = getattr(json.encoder, "c_make_encoder", None)
    if c_make is not None:
        # No circular-reference markers (a document is a tree): one encoder serves every call.
        sort_keys, skip_keys, allow_nan = False, False, True
        c_encode = c_make(
            None, default, _ENCODE_STR, None, ": ", item_separator, sort_keys, skip_keys, allow_nan
        )
        return lambda o: "".join(c_encode(o, 0))
    py = json.JSONEncoder(separators=(item_separator, ": "))  # no C accelerator: same text
    return py.encode


class _Encoders(dict[int, Encoder]):
    """The leaf encoder of each depth: its items separated by ``,\\n`` and that depth's indent."""

    def __missing__(self, depth: int) -> Encoder:
        enc = self[depth] = _make_encoder("," + _newline(depth))
        return enc


def _newline(depth: int) -> str:
    return "\n" + " " * (_INDENT * depth)


_ENCODERS = _Encoders()
_NEWLINES = [_newline(d) for d in range(32)]


def _is_leaf(o: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """True when ``o`` holds no non-empty list or object: one C encoder call writes it."""
    for v in o.values() if isinstance(o, dict) else o:
        if type(v) not in _SCALARS and isinstance(v, _CONTAINERS) and v:
            return False
    return True


def _scalar(v: Any) -> str:
    if type(v) is str:
        return _ENCODE_STR(v)
    return _ENCODERS[0](v)  # numbers, None, bools, and json.dumps's TypeError for the rest


def _key(k: Any) -> str:
    if type(k) is str:
        return _ENCODE_STR(k)
    # json's rules for a key that is not a str (a float, int, bool or None becomes its text;
    # anything else is its TypeError): let the encoder apply them to a one-key object.
    return _ENCODERS[0]({k: 0})[1:-4]


class _Pieces:
    """The text written so far and not yet handed to ``out``."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.parts: list[str] = []

    def flush(self) -> None:
        if self.parts:
            self.out.write("".join(self.parts))
            self.parts.clear()


def _newline_at(depth: int) -> str:
    return _NEWLINES[depth] if depth < len(_NEWLINES) else _newline(depth)


def _objects(items: list[Any] | tuple[Any, ...], depth: int) -> str:
    """Leaf objects (non-empty dicts), items of a list at ``depth``: one C encoder call for all.

    Encoded as one list whose items are separated like their fields, the only place where
    ``},\n<indent>{`` occurs is between two of them: within an object a separator is followed by a
    key (``"``), and a string holds no raw newline. That is where the objects' own brackets
    and indents go."""
    fields, items_at = _newline_at(depth + 2), _newline_at(depth + 1)
    text = _ENCODERS[depth + 2](items)  # [{...},\n<fields>{...}]
    body = text[2:-2].replace("}," + fields + "{", items_at + "}," + items_at + "{" + fields)
    return "{" + fields + body + items_at + "}"


def _is_leaf_object(v: Any) -> bool:
    return type(v) is dict and bool(v) and _is_leaf(v)


def _write(o: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int, pieces: _Pieces) -> None:
    """Append non-empty ``o``, indented as at ``depth``, as ``json.dumps(indent=2)`` would."""
    parts = pieces.parts
    inner = _newline_at(depth + 1)
    closing = _newline_at(depth) + ("}" if isinstance(o, dict) else "]")
    if _is_leaf(o):
        parts.append(("{" if isinstance(o, dict) else "[") + inner + _ENCODERS[depth + 1](o)[1:-1])
        parts.append(closing)
        return
    if isinstance(o, dict):
        parts.append("{")
        sep = inner
        for k, v in o.items():
            parts.append(sep + _key(k) + ": ")
            sep = "," + inner
            _value(v, depth + 1, pieces)
        parts.append(closing)
        return
    # A list: runs of leaf objects (alerts, transitions: the bulk of a large document) are
    # written _BATCH at a time by one encoder call, anything else item by item.
    parts.append("[")
    sep = inner
    i, n = 0, len(o)
    while i < n:
        j = i
        while j < n and j - i < _BATCH and _is_leaf_object(o[j]):
            j += 1
        parts.append(sep)
        sep = "," + inner
        if j > i:
            parts.append(_objects(o[i:j], depth))
            i = j
        else:
            _value(o[i], depth + 1, pieces)
            i += 1
        if len(parts) > _FLUSH_PIECES:
            pieces.flush()
    parts.append(closing)


def _value(v: Any, depth: int, pieces: _Pieces) -> None:
    if type(v) in _SCALARS or not isinstance(v, _CONTAINERS) or not v:
        pieces.parts.append(_scalar(v))
    else:
        _write(v, depth, pieces)


def write_json(doc: Any, out: IO[str]) -> None:
    """Write ``json.dumps(doc, indent=2)`` and a newline to ``out``, in pieces. ``doc`` is a
    tree (no object inside itself) of dicts, lists, tuples, str, int, float, bool and None."""
    pieces = _Pieces(out)
    if type(doc) not in _SCALARS and isinstance(doc, _CONTAINERS) and doc:
        _write(doc, 0, pieces)
    else:
        pieces.parts.append(_scalar(doc))
    pieces.parts.append("\n")
    pieces.flush()
    out.flush()


def json_text(doc: Any) -> str:
    """The text ``write_json`` writes (``json.dumps(doc, indent=2)`` and a newline)."""
    import io

    buf = io.StringIO()
    write_json(doc, buf)
    return buf.getvalue()
