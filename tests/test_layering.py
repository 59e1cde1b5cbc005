"""The import arrows of STYLE.md, read from every module's imports (ast: nothing is imported).

    dissectors <- rfc, pcap <- watch, join, keepalived <- store <- cli

watch and join never import each other; keepalived imports neither; only store/ imports
sqlite_utils, only cli/ imports click. Every import counts: at module level, inside functions
(the CLI's lazy imports) and under ``if TYPE_CHECKING``. A second test checks that protocol logic
(the dissectors, rfc.py, the join router and the watch rules) imports nothing that reads a clock,
a file, a socket, the environment or a database, directly or through a first-party module.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dissectors", "vrrpwatch")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. vrrpwatch.watch.monitor
    target: str  # what it imports, absolute, e.g. vrrpwatch.store.db or sqlite_utils
    line: int

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every first-party module: dotted name -> file."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


def _is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _resolve(node: ast.ImportFrom, module: str) -> list[str]:
    if node.level:
        base = module.split(".")
        if not _is_package(module):
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        pkg = ".".join(base + ([node.module] if node.module else []))
    else:
        pkg = node.module or ""
    # ``from vrrpwatch import netif`` imports the module vrrpwatch.netif.
    subs = [f"{pkg}.{a.name}" for a in node.names if f"{pkg}.{a.name}" in modules()]
    return subs if len(subs) == len(node.names) else [pkg, *subs]


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    tree = ast.parse(modules()[module].read_text(), str(modules()[module]))
    out: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out += [Import(module, t, node.lineno) for t in _resolve(node, module)]
    return tuple(out)


def all_imports() -> Iterator[Import]:
    for m in modules():
        yield from imports_of(m)


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _top(name: str) -> str:
    return name.split(".")[0]


def _stdlib(name: str) -> bool:
    return _top(name) in sys.stdlib_module_names


# -- the arrows -------------------------------------------------------------------------------

WATCH, JOIN, KEEPALIVED = "vrrpwatch.watch", "vrrpwatch.join", "vrrpwatch.keepalived"
STORE, CLI = "vrrpwatch.store", "vrrpwatch.cli"

# (rule, the modules it covers, the first-party rooms they must not import)
FORBIDDEN_ROOMS = [
    ("watch never imports join, store or cli", (WATCH,), (JOIN, STORE, CLI)),
    ("join never imports watch, store or cli", (JOIN,), (WATCH, STORE, CLI)),
    ("keepalived imports no watch, join, store or cli", (KEEPALIVED,), (WATCH, JOIN, STORE, CLI)),
    ("store imports no cli", (STORE,), (CLI,)),
    (
        "nothing below cli imports cli",
        ("dissectors", "vrrpwatch.rfc", "vrrpwatch.pcap", "vrrpwatch.fingerprints",
         "vrrpwatch.netif", WATCH, JOIN, KEEPALIVED, STORE),
        (CLI,),
    ),
]  # fmt: skip

# (rule, the modules it covers, the first-party modules they may import besides the stdlib)
STDLIB_PLUS = [
    ("dissectors import only the stdlib", ("dissectors",), ("dissectors",)),
    # vrrpwatch.errors (the base of every library error) sits below every room.
    ("rfc imports only dissectors and the stdlib", ("vrrpwatch.rfc",), ("dissectors",)),
    (
        "pcap imports only dissectors, the error base, the text labels and the stdlib",
        ("vrrpwatch.pcap",),
        ("dissectors", "vrrpwatch.errors", "vrrpwatch.text"),
    ),
]

# (third-party package, the only room that may import it)
SOLE_USERS = [("sqlite_utils", STORE), ("click", CLI)]


def _covered(prefixes: tuple[str, ...]) -> list[str]:
    found = [m for m in modules() if _in(m, prefixes)]
    assert found, f"no module matches {prefixes}: the rule would check nothing"
    return found


@pytest.mark.parametrize(
    ("rule", "covers", "forbidden"),
    FORBIDDEN_ROOMS,
    ids=["watch", "join", "keepalived", "store", "below-cli"],
)
def test_rooms_import_one_way(
    rule: str, covers: tuple[str, ...], forbidden: tuple[str, ...]
) -> None:
    bad = [str(i) for m in _covered(covers) for i in imports_of(m) if _in(i.target, forbidden)]
    assert bad == [], f"{rule}:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("rule", "covers", "allowed"), STDLIB_PLUS, ids=["dissectors", "rfc", "pcap"]
)
def test_lower_rooms_import_only_the_stdlib(
    rule: str, covers: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    bad = [
        str(i)
        for m in _covered(covers)
        for i in imports_of(m)
        if not _stdlib(i.target) and not _in(i.target, allowed)
    ]
    assert bad == [], f"{rule}:\n" + "\n".join(bad)


@pytest.mark.parametrize(("package", "room"), SOLE_USERS, ids=[p for p, _ in SOLE_USERS])
def test_only_one_room_imports(package: str, room: str) -> None:
    users = {i.module for i in all_imports() if _top(i.target) == package}
    assert users, f"nobody imports {package}: drop the rule or the dependency"
    bad = [
        str(i) for i in all_imports() if _top(i.target) == package and not _in(i.module, (room,))
    ]
    assert bad == [], f"only {room} may import {package}:\n" + "\n".join(bad)


@contextmanager
def probe_modules(tmp_path: Path, sources: dict[str, str]) -> Iterator[None]:
    """Register made-up modules (dotted name -> source; a name ending in ``.__init__`` is a
    package) so the reader can be tested on known imports."""
    names = []
    for dotted, text in sources.items():
        path = tmp_path.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        name = dotted.removesuffix(".__init__")
        modules()[name] = path
        names.append(name)
    try:
        yield
    finally:
        for name in names:
            del modules()[name]


def test_the_reader_sees_relative_lazy_and_type_only_imports(tmp_path: Path) -> None:
    """``from . import x``, ``from .x import y``, ``from pkg import module``, imports inside
    functions and under TYPE_CHECKING all count; without that the rules above would miss some."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "from .b import thing\n"
        "def f():\n"
        "    from vrrpwatch._probe import b\n"
        "    import sqlite_utils.db\n"
        "if TYPE_CHECKING:\n"
        "    from vrrpwatch._probe.b import other\n"
    )
    files = {"vrrpwatch._probe.__init__": "", "vrrpwatch._probe.a": source,
             "vrrpwatch._probe.b": "from .. import _probe\n"}  # fmt: skip
    with probe_modules(tmp_path, files):
        got = [(i.target, i.line) for i in imports_of("vrrpwatch._probe.a")]
        assert sorted(got) == [
            ("sqlite_utils.db", 6),
            ("typing", 1),
            ("vrrpwatch._probe.b", 2),
            ("vrrpwatch._probe.b", 3),
            ("vrrpwatch._probe.b", 5),
            ("vrrpwatch._probe.b", 8),
        ]
        assert [i.target for i in imports_of("vrrpwatch._probe.b")] == ["vrrpwatch._probe"]


# -- protocol logic performs no I/O -----------------------------------------------------------

# The modules that hold protocol logic. watch/live.py (packet sockets), watch/files.py (capture
# files) and watch/feed.py (the frame -> events loop over both) are watch's edges.
WATCH_EDGES = {"vrrpwatch.watch.live", "vrrpwatch.watch.files", "vrrpwatch.watch.feed"}


def pure_modules() -> list[str]:
    out = [m for m in modules() if _in(m, ("dissectors",))]
    out += ["vrrpwatch.rfc", "vrrpwatch.join.router", "vrrpwatch.join.group"]
    out += ["vrrpwatch.join.states", "vrrpwatch.join.actions"]
    out += ["vrrpwatch.join.tracking"]
    out += [m for m in modules() if _in(m, (WATCH,)) and m not in WATCH_EDGES]
    assert "vrrpwatch.watch.monitor" in out and "vrrpwatch.join.router" in modules()
    # the HSRP and CARP rules (issue 15) are protocol logic too
    assert {"vrrpwatch.watch.hsrp", "vrrpwatch.watch.carp", "vrrpwatch.watch.rivals"} <= set(out)
    return out


# What pure code may import from the stdlib: data types, parsing and arithmetic. Everything
# else (socket, time, os, select, selectors, subprocess, sqlite3, logging, random, secrets,
# datetime, pathlib, io, threading, signal, ...) can read a clock, a file, a socket, the
# environment or a database, or pick at random.
PURE_STDLIB = {
    "__future__", "abc", "bisect", "collections", "dataclasses", "decimal", "enum", "fractions",
    "functools", "hashlib", "heapq", "hmac", "ipaddress", "itertools", "math", "numbers",
    "operator", "re", "string", "struct", "sys", "textwrap", "tomllib", "types", "typing",
}  # fmt: skip
# sys is there for sys.byteorder; these are the only sys attributes pure code may read.
PURE_SYS_ATTRS = {"byteorder", "maxsize", "version_info", "hexversion"}
IMPURE_CALLS = {"open", "input", "print", "__import__", "exec", "eval", "breakpoint"}
CLOCK_METHODS = {"now", "utcnow", "today", "monotonic", "perf_counter", "time_ns"}


def _generated(module: str, call: ast.Call) -> bool:
    """The one ``exec`` pure code may call: ``dissectors.common.positional`` running the text
    of ``_constructor_source`` (slot sets only; tests/dissectors/test_positional.py pins it),
    in a scope without builtins, as dataclasses generates ``__init__``."""
    if module != "dissectors.common" or not isinstance(call.func, ast.Name):
        return False
    if call.func.id != "exec" or len(call.args) != 2:
        return False
    text = call.args[0]
    return (
        isinstance(text, ast.Call)
        and isinstance(text.func, ast.Name)
        and text.func.id == "_constructor_source"
    )


def _impure_uses(module: str) -> list[str]:
    tree = ast.parse(modules()[module].read_text())
    bad = []
    for node in ast.walk(tree):
        where = f"{module} (line {getattr(node, 'lineno', '?')})"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "sys" and node.attr not in PURE_SYS_ATTRS:
                bad.append(f"{where} reads sys.{node.attr}")
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in IMPURE_CALLS and not _generated(module, node):
                bad.append(f"{where} calls {f.id}()")
            if isinstance(f, ast.Attribute) and f.attr in CLOCK_METHODS:
                bad.append(f"{where} calls .{f.attr}() (a clock)")
    return bad


def _pure_closure() -> list[str]:
    """The pure modules and every first-party module they import, transitively."""
    seen: list[str] = []
    todo = pure_modules()
    while todo:
        m = todo.pop(0)
        if m in seen:
            continue
        seen.append(m)
        todo += [i.target for i in imports_of(m) if i.target in modules()]
    return seen


def test_protocol_logic_imports_no_io() -> None:
    bad = []
    for m in _pure_closure():
        for i in imports_of(m):
            if i.target in modules() or _in(i.target, PACKAGES):
                continue  # first-party: checked itself (it is in the closure)
            if _top(i.target) not in PURE_STDLIB:
                bad.append(str(i))
        bad += _impure_uses(m)
    assert bad == [], "protocol logic must perform no I/O:\n" + "\n".join(bad)


def test_purity_check_catches_io(tmp_path: Path) -> None:
    """The checks above flag what they are meant to flag (they could not fail otherwise)."""
    assert not _stdlib("sqlite_utils") and _stdlib("socket") and "socket" not in PURE_STDLIB
    io = {"socket", "time", "os", "select", "selectors", "subprocess", "sqlite3", "sqlite_utils"}
    io |= {"pyroute2", "logging", "random", "secrets", "datetime", "pathlib", "io", "threading"}
    assert not io & PURE_STDLIB
    source = "import sys\nsys.argv\nprint(1)\nx.now()\nsys.byteorder\n"
    source += "exec(_constructor_source(2), {})\n"  # the exemption is dissectors.common's only
    with probe_modules(tmp_path, {"vrrpwatch._probe_io": source}):
        assert _impure_uses("vrrpwatch._probe_io") == [
            "vrrpwatch._probe_io (line 2) reads sys.argv",
            "vrrpwatch._probe_io (line 3) calls print()",
            "vrrpwatch._probe_io (line 4) calls .now() (a clock)",
            "vrrpwatch._probe_io (line 6) calls exec()",
        ]
    # and there, only for the constructor text: any other exec is flagged
    for call in (
        "exec(text, scope)",
        "exec(_constructor_source(2))",
        "eval(_constructor_source(2), s)",
    ):
        node = ast.parse(call).body[0]
        assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
        assert not _generated("dissectors.common", node.value), call


def test_router_imports_no_io() -> None:
    """The join router's own, narrower list (moved here from tests/join/test_router.py)."""
    names: set[str] = set()
    for i in imports_of("vrrpwatch.join.router"):
        if i.target in ("vrrpwatch.rfc", "vrrpwatch.join.states", "vrrpwatch.join.actions"):
            continue  # the shared RFC formulas and the router's vocabulary: pure, checked alike
        names.add(_top(i.target))
    assert not names & {
        "socket", "time", "random", "logging", "sqlite_utils", "select", "selectors", "os",
        "pyroute2", "vrrpwatch",
    }  # fmt: skip
    assert names <= {"__future__", "enum", "ipaddress", "collections", "dataclasses", "dissectors"}
