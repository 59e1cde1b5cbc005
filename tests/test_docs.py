"""Every command has help with an example and is documented in the README; the README's two
set-up commands exist and .ci/run runs exactly the test one."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from vrrpwatch.cli import cli

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_has_help_with_example_and_readme_section(name: str) -> None:
    r = CliRunner().invoke(cli, [name, "--help"])
    assert r.exit_code == 0
    assert "Example" in r.output, f"{name} --help shows no example"
    assert f"vrrpwatch {name}" in README, f"README does not show vrrpwatch {name}"


def test_group_help_and_version_are_fast_and_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, vrrpwatch.cli; "
        "print(sorted(m for m in ('scapy', 'pyshark', 'rich', 'pyroute2', 'sqlite_utils') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert CliRunner().invoke(cli, ["--version"]).output.startswith("vrrpwatch, version ")


def test_readme_set_up_commands_and_ci() -> None:
    demo = re.search(r"^\s+(scripts/demo)\b", README, re.M)
    test = re.search(r"^\s+(scripts/test)\b", README, re.M)
    assert demo and test
    assert (ROOT / "scripts/demo").exists() and (ROOT / "scripts/test").exists()
    ci = (ROOT / ".ci/run").read_text()
    assert "scripts/test" in ci
    assert "vrrpwatch analyze" in (ROOT / "scripts/demo").read_text()
