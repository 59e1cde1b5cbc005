"""The JSON documents' writer: exactly ``json.dumps(doc, indent=2)`` and a newline, in pieces."""

from __future__ import annotations

import enum
import io
import json
import math
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrrpwatch.store import json_text
from vrrpwatch.store.json_text import json_text as render
from vrrpwatch.store.json_text import write_json
from vrrpwatch.text import path_label


class Sev(enum.IntEnum):
    INFO = 1


class Kind(enum.StrEnum):
    MASTER_CHANGE = "master-change"


def reference(doc: Any) -> str:
    return json.dumps(doc, indent=2) + "\n"


ALERT = {
    "kind": "master-change",
    "severity": "info",
    "vlan": [],
    "family": 6,
    "vrid": 1,
    "source": "fe80::1:0:1",
    "time": 1700000000.00005,
    "frame": 2,
    "file": None,
    "message": "vlan - IPv6 VRID 1: master fe80::1:0:0 -> fe80::1:0:1 (preempted, gap 0 ms)",
}

DOCUMENTS: dict[str, Any] = {
    "empty object": {},
    "empty list": [],
    "scalars at the top": "x",
    "none at the top": None,
    "a number at the top": 1.5,
    "run document": {
        "run": {"id": 1, "status": "complete", "started": 1.25, "kernel_drops": None},
        "packets": 3,
        "findings": {},
        "virtual_routers": [
            {
                "vlan": [10, 20],
                "vips": ["192.0.2.1"],
                "advertisers": [{"macs": ["00:00:5e:00:01:01"], "priority": [100, 200]}],
                "transitions": [],
                "alerts": 0,
            }
        ],
        "alerts": [ALERT, {**ALERT, "vlan": [10]}, ALERT],
    },
    "empty containers everywhere": {"a": [], "b": {}, "c": [[], {}], "d": [{}, []], "e": [[[]]]},
    "lists of lists": [[1, 2], [3, [4, [5, []]]], [[{"x": [1]}]]],
    "unicode": {"café": "naïve ☃ 𝄞", "\u2028": '\x00\x1f\x7f"\\/', "ключ": ["é"]},
    "names that are not UTF-8": {
        "lone surrogates (PEP 383)": "r\udcff\udcfe",
        "as audit writes them": path_label("bad-\udcff.conf"),
        "\udcff key": [path_label(b"\xff\xfe".decode("utf-8", "surrogateescape"))],
    },
    "floats": [
        0.1,
        -0.0,
        1e16,
        1e-7,
        1700000005.00674,
        5e-324,
        1.7976931348623157e308,
        math.nan,
        math.inf,
        -math.inf,
        3.0,
    ],  # fmt: skip
    "bools and none": {"t": True, "f": False, "n": None, "list": [True, None, False]},
    "big and negative ints": [2**63, -(2**70), 0, -1],
    "enum values": {"severity": Sev.INFO, "kind": Kind.MASTER_CHANGE, "l": [Sev.INFO]},
    "keys that are not str": {
        7: "a",
        2.5: "b",
        True: "c",
        False: "f",
        None: "d",
        "e": {3: [], 4.0: {}},
    },
    "tuples and subclasses": {"t": (1, (2, 3), ()), "o": OrderedDict([("b", 1), ("a", [2])])},
    "runs of objects in a list": [
        {"a": 1},
        {"b": {}},
        {},
        {"c": [1]},
        {"d": "},\n    {", "}": "{"},
        *({"i": i, "e": {}, "l": []} for i in range(600)),  # past one encoder call (256)
        OrderedDict(x=1),
        {"z": []},
        5,
        "s",
        [],
        {"y": {"n": 1}},
        {"last": {}},
    ],
    "runs deeper down": {"a": {"b": [[{"x": 1}, {"y": 2}], [{"x": 3}]], "c": [{"k": None}] * 300}},
    "deep": json.loads("[" * 40 + "1" + "]" * 40),
    "deep objects": json.loads('{"a": ' * 40 + '{"b": [1, 2]}' + "}" * 40),
}


@pytest.mark.parametrize("doc", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_text_is_json_dumps_indent_2(doc: Any) -> None:
    assert render(doc) == reference(doc)


def test_output_is_ascii_as_ensure_ascii_writes() -> None:
    doc = DOCUMENTS["unicode"] | DOCUMENTS["names that are not UTF-8"]
    text = render(doc)
    assert text.isascii()
    assert '"r\\udcff\\udcfe"' in text and '"caf\\u00e9"' in text
    assert '"bad-\\\\xff.conf"' in text  # audit's backslash escape, escaped again by JSON
    assert json.loads(text) == doc


def test_a_long_document_is_written_in_pieces() -> None:
    class Writes(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def write(self, s: str) -> int:
            self.sizes.append(len(s))
            return super().write(s)

    doc = {"alerts": [dict(ALERT, frame=i) for i in range(20_000)], "packets": 20_000}
    out = Writes()
    write_json(doc, out)
    assert out.getvalue() == reference(doc)
    assert len(out.sizes) > 3
    assert max(out.sizes) < len(out.getvalue()) / 3


def test_what_json_dumps_refuses_is_refused_alike() -> None:
    for bad in ({"a": {1, 2}}, {"a": [object()]}, [b"bytes"], {(1, 2): "tuple key"}):
        with pytest.raises(TypeError) as ours:
            render(bad)
        with pytest.raises(TypeError) as theirs:
            reference(bad)
        assert str(ours.value) == str(theirs.value)


def test_without_the_c_encoder_the_text_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_text.json.encoder, "c_make_encoder", None)
    monkeypatch.setattr(json_text, "_ENCODERS", json_text._Encoders())
    for doc in DOCUMENTS.values():
        assert render(doc) == reference(doc)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None, exclude_categories=[])),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_document(doc: Any) -> None:
    assert render(doc) == reference(doc)
