"""keepalived/ imports neither watch nor join (nor the store or the CLI), and the audit is pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vrrpwatch" / "keepalived"
MODULES = sorted(PACKAGE.glob("*.py"))
AUDIT = ("audit.py", "checks.py", "report.py", "wire.py")


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            assert node.module is not None
            out.add(node.module)
    return out


PARSER = (
    "config.py",
    "lexer.py",
    "model.py",
    "notify.py",
    "statements.py",
    "sync.py",
    "tracking.py",
)


def test_every_module_is_checked() -> None:
    assert {p.name for p in MODULES} >= {*PARSER, *AUDIT}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_keepalived_imports_no_other_room(path: Path) -> None:
    banned = ("vrrpwatch.watch", "vrrpwatch.join", "vrrpwatch.store", "vrrpwatch.cli")
    found = {m for m in imports(path) if m.startswith(banned) or m in ("click", "sqlite_utils")}
    assert found == set()


@pytest.mark.parametrize("name", AUDIT)
def test_audit_reads_no_file_clock_or_socket(name: str) -> None:
    allowed = {"__future__", "collections.abc", "dataclasses", "enum", "re"}
    for module in imports(PACKAGE / name) - allowed:
        # vrrpwatch.text: pure string helpers (tests/test_layering.py checks they stay pure).
        pure = ("dissectors.", "vrrpwatch.keepalived.", "vrrpwatch.rfc", "vrrpwatch.text")
        assert module.startswith(pure), f"{name} imports {module}"
