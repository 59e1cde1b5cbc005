"""keepalived.conf parser: grammar, defaults, normalisation, errors with file:line."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrrpwatch.keepalived.config import (
    KaConfError,
    TrackedInterface,
    parse_config,
)

KACONF = Path(__file__).parent / "confs"


def write(tmp_path: Path, text: str, name: str = "keepalived.conf") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def parse(tmp_path: Path, text: str) -> object:
    return parse_config(write(tmp_path, text))


def error(tmp_path: Path, text: str, name: str = "keepalived.conf") -> str:
    path = write(tmp_path, text, name)
    with pytest.raises(KaConfError) as info:
        parse_config(path)
    assert "\n" not in str(info.value)
    return str(info.value).replace(str(tmp_path) + "/", "")


MINIMAL = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n}\n"


def test_lab_v2_pair() -> None:
    r1 = parse_config(KACONF / "lab-v2" / "r1.conf")
    assert r1.router_id == "r1"
    assert r1.vrrp_version == 2
    (inst,) = r1.instances
    assert inst.name == "VI_1"
    assert inst.interface == "eth0"
    assert inst.state == "MASTER"
    assert (inst.vrid, inst.priority, inst.version, inst.advert_int_ms) == (1, 200, 2, 1000)
    assert (inst.auth_type, inst.auth_pass, inst.auth_pass_wire) == ("PASS", "s3cret", b"s3cret")
    (vip,) = inst.vips
    assert vip.address == ipaddress.ip_interface("192.0.2.1/24")
    assert vip.brd == ipaddress.ip_address("192.0.2.255")
    assert vip.dev == "eth0"
    assert str(vip.source).endswith("lab-v2/r1.conf:11")
    assert str(inst.source).endswith("lab-v2/r1.conf:3")
    assert inst.preempt and inst.preempt_delay_s == 0.0
    assert inst.family == 4


def test_defaults(tmp_path: Path) -> None:
    cfg = parse_config(write(tmp_path, MINIMAL))
    (inst,) = cfg.instances
    assert cfg.router_id is None and cfg.name == "keepalived.conf"
    assert inst.state == "BACKUP"
    assert inst.priority == 100
    assert inst.version == 2
    assert inst.advert_int_ms == 1000
    assert inst.auth_type is None and inst.auth_pass_wire is None
    assert inst.vips == () and inst.unicast_peers == ()
    assert not inst.use_vmac


def test_split_config_with_includes_quotes_and_skipped_sections() -> None:
    cfg = parse_config(KACONF / "split" / "keepalived.conf")
    assert cfg.router_id == "edge 1"
    assert [Path(f).name for f in cfg.files] == [
        "keepalived.conf",
        "global.inc",
        "10-outside.conf",
        "20-unicast.conf",
    ]
    outside, unicast = cfg.instances
    assert outside.name == "OUTSIDE" and outside.interface == "eth0.10"
    assert outside.advert_int_ms == 2000
    assert outside.preempt and outside.preempt_delay_s == 4.5
    assert outside.track_interface == (
        TrackedInterface(name="eth0"),
        TrackedInterface(name="eth1", weight=-20),
    )
    assert outside.auth_pass == "s3 cret!"
    assert [str(v.address) for v in outside.vips] == ["198.51.100.1/24", "198.51.100.2/32"]
    assert outside.vips[0].label == "eth0.10:vip" and outside.vips[0].scope == "global"
    assert [str(v.address) for v in outside.excluded_vips] == ["2001:db8:10::1/64"]
    assert str(outside.source).endswith("conf.d/10-outside.conf:1")
    assert unicast.version == 3 and unicast.advert_int_ms == 250
    assert unicast.unicast_src_ip == ipaddress.ip_address("203.0.113.2")
    assert [str(p) for p in unicast.unicast_peers] == ["203.0.113.3", "203.0.113.4"]
    assert unicast.use_vmac and not unicast.preempt


def test_v3_and_ipv6() -> None:
    cfg = parse_config(KACONF / "lab-v3" / "r2.conf")
    v4, v6 = cfg.instances
    assert cfg.vrrp_version == 3
    assert (v4.version, v4.advert_int_ms, v4.priority, v4.family) == (3, 500, 150, 4)
    assert (v6.version, v6.family) == (3, 6)


def test_ipv6_instance_is_always_v3(tmp_path: Path) -> None:
    text = MINIMAL.replace("}\n", "virtual_ipaddress {\n 2001:db8::1\n}\n}\n")
    (inst,) = parse_config(write(tmp_path, "global_defs { vrrp_version 2 }\n" + text)).instances
    assert inst.version == 3
    assert inst.vips[0].address == ipaddress.ip_interface("2001:db8::1/128")


def test_instance_version_overrides_global(tmp_path: Path) -> None:
    text = "global_defs {\n vrrp_version 3\n}\n" + MINIMAL.replace("eth0", "eth0\n version 2")
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert inst.version == 2


def test_global_defs_after_instances(tmp_path: Path) -> None:
    text = MINIMAL + "global_defs {\n router_id late\n vrrp_version 3\n}\n"
    cfg = parse_config(write(tmp_path, text))
    assert cfg.router_id == "late" and cfg.instances[0].version == 3


@pytest.mark.parametrize(
    ("version", "configured", "effective_ms"),
    [
        # keepalived vrrp.c: v2 rounds half up to whole seconds, at least 1, at most 255.
        ("2", "1.4", 1000),
        ("2", "1.5", 2000),
        ("2", "0.2", 1000),
        ("2", "300", 255000),
        # v3 rounds half up to centiseconds, 1..4095 cs (RFC 5798 section 5.2.4).
        ("3", "0.1", 100),
        ("3", "0.125", 130),
        ("3", "0.001", 10),
        ("3", "41", 40950),
        ("3", "3", 3000),
    ],
)
def test_advert_int_normalisation(
    tmp_path: Path, version: str, configured: str, effective_ms: int
) -> None:
    text = MINIMAL.replace("eth0", f"eth0\n version {version}\n advert_int {configured}")
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert inst.advert_int_ms == effective_ms


def test_braces_on_next_line_and_same_line_content(tmp_path: Path) -> None:
    text = (
        "vrrp_instance VI_1\n"
        "{\n"
        "  interface eth0\n"
        "  virtual_router_id 9\n"
        "  authentication\n"
        "  {\n"
        "    auth_type PASS\n"
        "    auth_pass abc }\n"
        "  virtual_ipaddress { 192.0.2.9/24\n"
        "    192.0.2.10/24 }\n"
        "}\n"
    )
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert inst.vrid == 9 and inst.auth_pass == "abc"
    assert [str(v.ip) for v in inst.vips] == ["192.0.2.9", "192.0.2.10"]


def test_auth_pass_truncated_to_8_on_the_wire(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "eth0", "eth0\n authentication {\n auth_type PASS\n auth_pass 123456789\n }"
    )
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert inst.auth_pass == "123456789" and inst.auth_pass_wire == b"12345678"


def test_state_master_then_backup_stays_master(tmp_path: Path) -> None:
    text = MINIMAL.replace("eth0", "eth0\n state MASTER\n state BACKUP")
    assert parse_config(write(tmp_path, text)).instances[0].state == "MASTER"


def test_nopreempt_resets_preempt_delay(tmp_path: Path) -> None:
    text = MINIMAL.replace("eth0", "eth0\n preempt_delay 10\n nopreempt")
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert not inst.preempt and inst.preempt_delay_s == 0.0


def test_out_of_range_values_are_kept_for_audit(tmp_path: Path) -> None:
    text = MINIMAL.replace("virtual_router_id 7", "virtual_router_id 300\n priority 0")
    (inst,) = parse_config(write(tmp_path, text)).instances
    assert (inst.vrid, inst.priority) == (300, 0)


def test_unmodelled_sections_are_skipped(tmp_path: Path) -> None:
    text = (
        "virtual_server 192.0.2.80 80 {\n"
        "  real_server 192.0.2.81 80 {\n"
        "    TCP_CHECK { connect_timeout 3 }\n"
        "  }\n"
        "}\n"
        "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n}\n"
        "static_ipaddress {\n  192.0.2.200/24 dev eth0\n}\n" + MINIMAL
    )
    cfg = parse_config(write(tmp_path, text))
    assert [i.name for i in cfg.instances] == ["VI_1"]


def test_instance_lookup() -> None:
    path = KACONF / "lab-v3" / "r1.conf"
    cfg = parse_config(path)
    assert cfg.instance("V6").vrid == 6
    with pytest.raises(KaConfError) as info:
        cfg.instance()
    assert str(info.value) == f"{path}: choose an instance with --instance (found: V4, V6)"
    with pytest.raises(KaConfError) as info:
        cfg.instance("NOPE")
    assert str(info.value) == f"{path}: no vrrp_instance 'NOPE' (found: V4, V6)"
    assert parse_config(KACONF / "lab-v2" / "r1.conf").instance().name == "VI_1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL + "}\n", "keepalived.conf:5: '}' without a matching '{'"),
        (
            "vrrp_instance VI_1 {\n interface eth0\n",
            "keepalived.conf:1: 'vrrp_instance {' is never closed",
        ),
        ("{\n", "keepalived.conf:1: '{' without a keyword before it"),
        (
            MINIMAL.replace("7", "seven"),
            "keepalived.conf:3: virtual_router_id: 'seven' is not an integer",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n priority high"),
            "keepalived.conf:3: priority: 'high' is not an integer",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n state ACTIVE"),
            "keepalived.conf:3: state must be MASTER or BACKUP, not 'ACTIVE'",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n advert_int fast"),
            "keepalived.conf:3: advert_int: 'fast' is not a number of seconds",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n advert_int 0"),
            "keepalived.conf:3: advert_int must be greater than 0",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n version 4"),
            "keepalived.conf:3: version must be 2 or 3, not '4'",
        ),
        (
            "global_defs {\n vrrp_version 1\n}\n",
            "keepalived.conf:2: vrrp_version must be 2 or 3, not '1'",
        ),
        (
            "vrrp_instance VI_1 {\n interface eth0\n}\n",
            "keepalived.conf:1: vrrp_instance VI_1 has no virtual_router_id",
        ),
        ("vrrp_instance {\n}\n", "keepalived.conf:1: vrrp_instance needs exactly one name"),
        (MINIMAL + MINIMAL, "keepalived.conf:5: vrrp_instance VI_1 already defined at"),
        (
            MINIMAL.replace("eth0", "eth0\n virtual_ipaddress {\n 192.0.2.300/24\n }"),
            "keepalived.conf:4: '192.0.2.300/24' is not an IP address[/prefix]",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n virtual_ipaddress {\n 192.0.2.3 dve eth0\n }"),
            "keepalived.conf:4: unknown virtual_ipaddress option 'dve'",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n virtual_ipaddress {\n 192.0.2.3 dev\n }"),
            "keepalived.conf:4: virtual_ipaddress option dev needs a value",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n virtual_ipaddress {\n 192.0.2.3\n 2001:db8::3\n }"),
            "keepalived.conf:1: vrrp_instance VI_1: virtual_ipaddress mixes IPv4 and IPv6",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n authentication {\n auth_type MD5\n }"),
            "keepalived.conf:4: auth_type must be PASS or AH, not 'MD5'",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n unicast_peer {\n 203.0.113.x\n }"),
            "keepalived.conf:4: unicast_peer: '203.0.113.x' is not an IP address",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n unicast_src_ip"),
            "keepalived.conf:3: unicast_src_ip takes one value",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n preempt_delay 1001"),
            "keepalived.conf:3: preempt_delay must be between 0 and 1000 seconds",
        ),
        (
            MINIMAL.replace("eth0", 'eth0\n authentication {\n auth_pass "open\n }'),
            "keepalived.conf:4: unterminated quoted string",
        ),
        (
            MINIMAL.replace("eth0", "eth0\n virtual_ipaddress"),
            "keepalived.conf:3: virtual_ipaddress needs a { ... } block",
        ),
        (
            "@r1 " + MINIMAL,
            "keepalived.conf:1: conditional configuration (@...) needs a config id (FILE@ID)",
        ),
        ("~SEQ(N, 3) priority $N\n" + MINIMAL, "keepalived.conf:1: ~SEQ is not supported"),
        (
            MINIMAL.replace("eth0", "eth0\n priority ${_RANDOM 1 9}"),
            "keepalived.conf:3: ${_RANDOM} is not supported",
        ),
        ("$A=$A$A\n$A x\n", "keepalived.conf:2: parameter substitution never ends"),
        ("$M= \\\n vrrp_instance X { \\\n", "keepalived.conf:1: definition of $M never ends"),
        ("include missing.conf\n", "keepalived.conf:1: include: missing.conf: no such file"),
        ("include\n", "keepalived.conf:1: include needs exactly one file name"),
        (
            "include keepalived.conf\n",
            "keepalived.conf:1: include loop: keepalived.conf includes itself",
        ),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text).startswith(message)


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "vrrp_instance X {\n  virtual_router_id x\n}\n", "conf.d/bad.conf")
    assert error(tmp_path, "# main\ninclude conf.d/*.conf\n") == (
        "conf.d/bad.conf:2: virtual_router_id: 'x' is not an integer"
    )


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(KaConfError, match=r"nope.conf: cannot read: No such file"):
        parse_config(tmp_path / "nope.conf")
    with pytest.raises(KaConfError, match="is a directory"):
        parse_config(tmp_path)


WORDS = [
    "vrrp_instance", "VI_1", "global_defs", "vrrp_version", "router_id", "interface", "eth0",
    "virtual_router_id", "priority", "state", "MASTER", "BACKUP", "advert_int", "version",
    "authentication", "auth_type", "PASS", "AH", "auth_pass", "virtual_ipaddress",
    "virtual_ipaddress_excluded", "unicast_peer", "unicast_src_ip", "track_interface", "weight",
    "nopreempt", "preempt_delay", "use_vmac", "dev", "brd", "label", "scope", "include",
    "192.0.2.1/24", "2001:db8::1", "0.5", "1", "300", "-3", "{", "}", '"', "#", "!", "\\", "@",
    "$X", "*",
]  # fmt: skip


@given(
    st.lists(
        st.one_of(st.sampled_from(WORDS), st.sampled_from([" ", "\n", "\t"]), st.text(max_size=3)),
        max_size=60,
    )
)
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_raises_a_one_line_error(
    tmp_path_factory: Any, parts: list[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "keepalived.conf"
    path.write_text(" ".join(parts), errors="surrogateescape")
    try:
        parse_config(path)
    except KaConfError as exc:
        assert "\n" not in str(exc)
        assert str(exc).startswith(str(path))


def test_track_interface_entries(tmp_path: Path) -> None:
    block = " track_interface {\n eth1\n eth2 weight 10 reverse\n eth3 weight -5 noreverse\n }"
    (inst,) = parse_config(write(tmp_path, MINIMAL.replace("eth0", "eth0\n" + block))).instances
    assert inst.track_interface == (
        TrackedInterface(name="eth1"),
        TrackedInterface(name="eth2", weight=10, reverse=True),
        TrackedInterface(name="eth3", weight=-5),
    )
    assert inst.dynamic_priority
    bad = MINIMAL.replace("eth0", "eth0\n track_interface {\n eth1 heavy\n }")
    assert error(tmp_path, bad) == "keepalived.conf:4: unexpected 'heavy' in track_interface"
