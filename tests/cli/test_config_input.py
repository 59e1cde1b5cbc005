"""Hostile keepalived.conf input through both commands that read one (issue 11): ``audit`` and
``join --config`` each give the parser's one ``Error: FILE:LINE: message`` line and exit 2;
join before it does anything on the network (before it even asks for root)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.keepalived.hostile import Builder, hostile_configs
from vrrpwatch.cli import cli


@hostile_configs
@pytest.mark.timeout(30)  # before the bounds, several of these never ended
def test_audit_hostile_config(tmp_path: Path, builder: Builder) -> None:
    conf, message = builder(tmp_path)
    result = CliRunner().invoke(cli, ["audit", str(conf)])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: {message}\n")


@hostile_configs
@pytest.mark.timeout(30)
def test_join_hostile_config(
    tmp_path: Path, builder: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vrrpwatch.join import setup

    started: list[object] = []
    monkeypatch.setattr(setup, "join", lambda *args, **kwargs: started.append(args) or 0)
    conf, message = builder(tmp_path)
    result = CliRunner().invoke(
        cli, ["join", "--config", str(conf), "--priority", "50", "--db", str(tmp_path / "j.db")]
    )
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: {message}\n")
    assert started == []
    assert not (tmp_path / "j.db").exists()


def test_join_prints_config_names_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vrrpwatch.join import setup

    monkeypatch.setattr(setup, "join", lambda *args, **kwargs: 0)
    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        "vrrp_instance [/]r2[red] {\n interface eth0\n virtual_router_id 1\n"
        " use_vmac 02:00:00:00:00:01\n}\n"
    )
    result = CliRunner().invoke(cli, ["join", "--config", str(conf), "--db", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Warning: {conf}: [/]r2[red]: use_vmac 02:00:00:00:00:01: a chosen MAC is not "
        "supported; using the RFC's virtual MAC\n"
    )
    result = CliRunner().invoke(
        cli, ["join", "--config", str(conf), "--instance", "[b]x", "--db", str(tmp_path / "d")]
    )
    assert result.exit_code == 2
    assert result.stderr == f"Error: {conf}: no vrrp_instance '[b]x' (found: [/]r2[red])\n"


@pytest.mark.parametrize("name", [b"V\x1b[31mI", b"VI\xff", b'"VI\t1"'])
def test_join_refuses_an_instance_name_that_is_not_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: bytes
) -> None:
    # The name prefixes every log line on stdout and goes into the database; a byte that is
    # not UTF-8 would fail to encode there, mid-run.
    from vrrpwatch.join import setup

    started: list[object] = []
    monkeypatch.setattr(setup, "join", lambda *args, **kwargs: started.append(args) or 0)
    conf = tmp_path / "keepalived.conf"
    conf.write_bytes(b"\nvrrp_instance " + name + b" {\n interface eth0\n virtual_router_id 1\n}\n")
    result = CliRunner().invoke(cli, ["join", "--config", str(conf), "--db", str(tmp_path / "d")])
    shown = repr(name.strip(b'"').decode(errors="surrogateescape"))
    assert result.exit_code == 2 and started == []
    assert result.stderr == f"Error: {conf}:2: vrrp_instance name {shown} is not text\n"


@pytest.mark.parametrize("command", [["audit"], ["join", "--priority", "50", "--config"]])
def test_error_lines_show_control_characters_and_bad_bytes_as_escapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    from vrrpwatch.join import setup

    monkeypatch.setattr(setup, "join", lambda *args, **kwargs: 0)
    conf = tmp_path / "keepalived.conf"
    conf.write_bytes(b'vrrp_instance "V\x1b[2J\xff" {\n interface eth0\n}\n')
    result = CliRunner().invoke(cli, [*command, str(conf)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {conf}:1: vrrp_instance V\\x1b[2J\\xff has no virtual_router_id\n"
    )
