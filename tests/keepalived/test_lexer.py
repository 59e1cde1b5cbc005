"""keepalived.conf lexer, through parse_config: comments and quotes, includes, ``@ID``
conditional lines, ``$NAME`` parameter substitution."""

from __future__ import annotations

from pathlib import Path

import pytest

from vrrpwatch.keepalived.config import KaConfError, parse_config

KACONF = Path(__file__).parent / "confs"
MINIMAL = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n}\n"


def write(tmp_path: Path, text: str, name: str = "keepalived.conf") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_comments_anywhere(tmp_path: Path) -> None:
    text = (
        "# hash comment\n"
        "! bang comment\n"
        "vrrp_instance VI_1 { # after a brace\n"
        "  interface eth0!no space needed\n"
        "  virtual_router_id 3 # comment\n"
        "  priority 50 ! comment\n"
        "  authentication {\n"
        "    auth_type PASS\n"
        '    auth_pass "a#b!c"\n'
        "  }\n"
        "  # virtual_router_id 99\n"
        "}\n"
    )
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert (inst.interface, inst.vrid, inst.priority) == ("eth0", 3, 50)
    assert inst.auth_pass == "a#b!c"


def test_escaped_comment_characters(tmp_path: Path) -> None:
    text = MINIMAL.replace("eth0", "eth0\n authentication {\n auth_pass x\\#y\\!z\n }")
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert inst.auth_pass == "x#y!z"


def test_include_relative_to_including_file(tmp_path: Path) -> None:
    write(tmp_path, "include sub/*.conf\n", "etc/keepalived.conf")
    write(tmp_path, "include ../more/b.inc\n" + MINIMAL, "etc/sub/a.conf")
    write(tmp_path, MINIMAL.replace("VI_1", "VI_2").replace(" 7", " 8"), "etc/more/b.inc")
    cfg = parse_config(tmp_path / "etc" / "keepalived.conf")
    assert [(i.name, i.vrid) for i in cfg.instances] == [("VI_2", 8), ("VI_1", 7)]
    assert str(cfg.instances[0].source).endswith("etc/sub/../more/b.inc:1")


def test_include_glob_skips_directories(tmp_path: Path) -> None:
    (tmp_path / "conf.d" / "sub.conf").mkdir(parents=True)
    write(tmp_path, MINIMAL, "conf.d/a.conf")
    cfg = parse_config(write(tmp_path, "include conf.d/*.conf\n"))
    assert [Path(f).name for f in cfg.files] == ["keepalived.conf", "a.conf"]


def test_include_glob_without_match_is_fine(tmp_path: Path) -> None:
    cfg = parse_config(write(tmp_path, "include conf.d/*.conf\n" + MINIMAL))
    assert len(cfg.instances) == 1


def test_include_may_hold_part_of_a_block(tmp_path: Path) -> None:
    write(tmp_path, "  interface eth0\n  virtual_router_id 4\n", "body.inc")
    cfg = parse_config(write(tmp_path, "vrrp_instance X {\n include body.inc\n}\n"))
    assert cfg.instances[0].vrid == 4


def test_conditional_lines_for_a_config_id() -> None:
    path = KACONF / "shared" / "keepalived.conf"
    r1, r2, r3 = (parse_config(path, config_id) for config_id in ("r1", "r2", "r3"))
    assert (r1.router_id, r1.instances[0].state, r1.instances[0].priority) == ("r1", "MASTER", 200)
    assert (r2.router_id, r2.instances[0].state, r2.instances[0].priority) == ("r2", "BACKUP", 100)
    # Neither @r1 nor @r2 lines: the defaults, and @^r1 lines.
    assert (r3.router_id, r3.instances[0].state, r3.instances[0].priority) == (None, "BACKUP", 100)
    assert r3.label == f"{path}@r3" and r3.name == "keepalived.conf@r3"


def test_conditional_line_without_content_is_dropped(tmp_path: Path) -> None:
    cfg = parse_config(write(tmp_path, "@r1\n@r1\tvrrp_version 3\n" + MINIMAL), "r1")
    assert cfg.instances[0].version == 2  # global vrrp_version is only valid in global_defs
    cfg = parse_config(write(tmp_path, "global_defs {\n@r1\tvrrp_version 3\n}\n" + MINIMAL), "r1")
    assert cfg.instances[0].version == 3


def test_parameter_substitution(tmp_path: Path) -> None:
    # keepalived.conf(5), "Parameter substitution": recursive, evaluated where it is used.
    text = (
        "$ADDRESS_BASE=192.0.${ADDRESS_BASE_SUB}  # comment\n"
        "$ADDRESS_BASE_SUB=2\n"
        "$IF = eth0\n"
        "$PRIO=150\n"
        "vrrp_instance VI_1 {\n"
        "  interface $IF\n"
        "  virtual_router_id 3\n"
        "  priority $PRIO\n"
        "  authentication {\n"
        "    auth_pass a${_HASH}b\n"
        "  }\n"
        "  virtual_ipaddress {\n"
        "    ${ADDRESS_BASE}.100/24\n"
        "$ADDRESS_BASE_SUB=3\n"
        "    ${ADDRESS_BASE}.100/24\n"
        "  }\n"
        "  notify_master $UNDEFINED\n"
        "}\n"
    )
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert (inst.interface, inst.priority, inst.auth_pass) == ("eth0", 150, "a#b")
    assert [str(v.ip) for v in inst.vips] == ["192.0.2.100", "192.0.3.100"]


def test_multiline_definition_with_conditionals(tmp_path: Path) -> None:
    # The man page's multi-line example, in documentation addresses.
    text = (
        "$INSTANCE= \\\n"
        "vrrp_instance VI_${NUM} { \\\n"
        "    interface eth0.${NUM} \\\n"
        "    virtual_router_id ${NUM} \\\n"
        "    @high priority 130 \\\n"
        "    @low priority 120 \\\n"
        "    virtual_ipaddress { \\\n"
        "        198.51.100.${NUM}/24 \\\n"
        "    } \\\n"
        "}\n"
        "\n"
        "$NUM=1\n"
        "$INSTANCE\n"
        "@high $NUM=2\n"
        "@^high $NUM=3\n"
        "$INSTANCE\n"
    )
    path = write(tmp_path, text)
    high = parse_config(path, "high").instances
    low = parse_config(path, "low").instances
    assert [(i.name, i.interface, i.vrid, i.priority) for i in high] == [
        ("VI_1", "eth0.1", 1, 130),
        ("VI_2", "eth0.2", 2, 130),
    ]
    assert [(i.name, i.vrid, i.priority, str(i.vips[0].ip)) for i in low] == [
        ("VI_1", 1, 120, "198.51.100.1"),
        ("VI_3", 3, 120, "198.51.100.3"),
    ]
    # Errors in expanded text name the line of the reference.
    bad = write(tmp_path, "$P=loud\nvrrp_instance V {\n virtual_router_id 1\n priority $P\n}\n")
    with pytest.raises(KaConfError, match=r"keepalived.conf:4: priority: 'loud' is not an integer"):
        parse_config(bad)


def test_definitions_carry_into_included_files(tmp_path: Path) -> None:
    write(tmp_path, "vrrp_instance V {\n interface $IF\n virtual_router_id 4\n}\n", "i.conf")
    cfg = parse_config(write(tmp_path, "$IF=eth7\ninclude i.conf\n"))
    assert cfg.instances[0].interface == "eth7"
    cfg = parse_config(write(tmp_path, "include ${_PWD}/i.conf\n$IF=late\n"))
    assert cfg.instances[0].interface == "$IF"
