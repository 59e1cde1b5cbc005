"""use_vmac / vmac_xmit_base from keepalived.conf and the command line to join's options."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vrrpwatch.cli import cli
from vrrpwatch.join.settings import join_settings, resolve_options
from vrrpwatch.keepalived.config import parse_config

CONF = """\
vrrp_instance PLAIN {{
    interface eth0
    virtual_router_id 9
    {vmac}
    virtual_ipaddress {{ 192.0.2.9/24 }}
}}
"""


def instance(tmp_path: Path, vmac: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "keepalived.conf"
    path.write_text(CONF.format(vmac=vmac))
    return parse_config(path).instance()


@pytest.mark.parametrize(
    ("line", "name", "mac", "xmit_base"),
    [
        ("use_vmac", None, None, False),
        ("use_vmac vmac9", "vmac9", None, False),
        ("use_vmac\n    vmac_xmit_base", None, None, True),
        # keepalived 2.3: a name and a MAC, in either order (a MAC holds colons, a name never).
        ("use_vmac 02:00:00:00:00:09 vmac9", "vmac9", "02:00:00:00:00:09", False),
        # A name the kernel refuses is ignored, as keepalived ignores it.
        ("use_vmac name-that-is-too-long", None, None, False),
        # vmac_xmit_base alone: keepalived clears it ("only valid with a vmac").
        ("vmac_xmit_base", None, None, False),
    ],
)
def test_use_vmac_parse(
    tmp_path: Path, line: str, name: str | None, mac: str | None, xmit_base: bool
) -> None:
    inst = instance(tmp_path, line)
    assert inst.use_vmac == line.startswith("use_vmac")
    assert (inst.vmac_interface, inst.vmac_address, inst.vmac_xmit_base) == (name, mac, xmit_base)


def test_use_vmac_becomes_join_options(tmp_path: Path) -> None:
    settings = join_settings(instance(tmp_path, "use_vmac vmac9\n    vmac_xmit_base"))
    assert settings.warnings == ()
    opts = resolve_options({}, settings)
    assert (opts.use_vmac, opts.vmac_xmit_base) == ("vmac9", True)
    # Without a name: "" (keepalived's default name, chosen at start).
    assert resolve_options({}, join_settings(instance(tmp_path, "use_vmac"))).use_vmac == ""
    # Without use_vmac: off, and a flag still turns it on.
    plain = join_settings(instance(tmp_path, ""))
    assert resolve_options({}, plain).use_vmac is None
    assert resolve_options({"use_vmac": "v"}, plain).use_vmac == "v"
    # A MAC in use_vmac is not reproduced: said.
    with_mac = join_settings(instance(tmp_path, "use_vmac 02:00:00:00:00:09"))
    assert with_mac.warnings == (
        "use_vmac 02:00:00:00:00:09: a chosen MAC is not supported; using the RFC's virtual MAC",
    )


def _options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> object:
    from vrrpwatch.join import setup

    seen: list[object] = []
    monkeypatch.setattr(setup, "join", lambda opts, *a, **k: seen.append(opts) or 0)
    result = CliRunner().invoke(
        cli, ["join", "--vrid", "9", "--priority", "50", "--db", str(tmp_path / "d"), *args]
    )
    assert result.exit_code == 0, result.output
    return seen[0]


def test_cli_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    opts = _options(monkeypatch, tmp_path)
    assert (opts.use_vmac, opts.vmac_xmit_base) == (None, False)  # type: ignore[attr-defined]
    opts = _options(monkeypatch, tmp_path, "--use-vmac")
    assert opts.use_vmac == ""  # type: ignore[attr-defined]
    opts = _options(monkeypatch, tmp_path, "--use-vmac", "--vmac-xmit-base")
    assert (opts.use_vmac, opts.vmac_xmit_base) == ("", True)  # type: ignore[attr-defined]
    opts = _options(monkeypatch, tmp_path, "--use-vmac", "vmac9", "--vmac-xmit-base")
    assert (opts.use_vmac, opts.vmac_xmit_base) == ("vmac9", True)  # type: ignore[attr-defined]


def test_cli_refuses_xmit_base_alone_before_root(tmp_path: Path) -> None:
    """Checked before root, the interface or the wire: one Error line, exit 2."""
    result = CliRunner().invoke(
        cli, ["join", "--vrid", "9", "--priority", "50", "--vmac-xmit-base",
              "--db", str(tmp_path / "d")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        "Error: --vmac-xmit-base needs --use-vmac (vmac_xmit_base needs use_vmac)\n"
    )
    assert not (tmp_path / "d").exists()
