"""The watch rules perform no I/O: the monitor and its rule modules import only the standard
library's pure parts, the dissectors, the RFC formulas and each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WATCH = Path(__file__).resolve().parents[2] / "vrrpwatch" / "watch"
RULES = [
    "model",
    "known",
    "catalogue",
    "episodes",
    "timeline",
    "consistency",
    "addresses",
    "links",
    "monitor",
]
PURE_STDLIB = {
    "__future__", "enum", "ipaddress", "tomllib", "collections", "collections.abc", "dataclasses",
    "typing",
}  # fmt: skip


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("name", RULES)
def test_rule_module_imports_no_io(name: str) -> None:
    allowed = PURE_STDLIB | {"vrrpwatch.rfc"} | {f"vrrpwatch.watch.{r}" for r in RULES}
    for module in imports(WATCH / f"{name}.py"):
        assert module in allowed or module.split(".")[0] == "dissectors", (name, module)


def test_every_watch_module_is_a_rule_or_an_edge() -> None:
    edges = {"__init__", "files", "live"}  # the file reader and the live capture do I/O
    assert {p.stem for p in WATCH.glob("*.py")} == set(RULES) | edges
