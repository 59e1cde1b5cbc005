"""Hostile keepalived.conf input (issue 11): each input of ``hostile.HOSTILE`` gives its one
``FILE:LINE: message`` error, quickly; the bounds do not reject ordinary configurations."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.keepalived.hostile import Builder, hostile_configs
from vrrpwatch.keepalived import lexer
from vrrpwatch.keepalived.config import KaConfError, parse_config

MINIMAL = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n}\n"


@hostile_configs
@pytest.mark.timeout(30)  # before the bounds, several of these never ended
def test_hostile_config_is_one_error_line(tmp_path: Path, builder: Builder) -> None:
    conf, message = builder(tmp_path)
    started = time.monotonic()
    with pytest.raises(KaConfError) as info:
        parse_config(conf)
    assert str(info.value) == message
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0" * 50 + "7", 7), ("+" + "9" * 18, 10**18 - 1), ("-" + "9" * 18, 1 - 10**18)],
)
def test_long_integers_within_range_are_read(tmp_path: Path, value: str, expected: int) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(MINIMAL.replace("eth0", f"eth0\n priority {value}"))
    assert parse_config(conf).instances[0].priority == expected


def test_seconds_up_to_the_bound_are_read(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(MINIMAL.replace("eth0", "eth0\n advert_int 1e6"))
    assert parse_config(conf).instances[0].advert_int_ms == 255_000  # keepalived's v2 maximum
    conf.write_text(MINIMAL.replace("eth0", "eth0\n advert_int 1e-999999999"))
    assert parse_config(conf).instances[0].advert_int_ms == 1000  # rounds up to 1 s
    conf.write_text(MINIMAL.replace("eth0", "eth0\n advert_int 1000000.000001"))
    with pytest.raises(KaConfError, match=r":3: advert_int: '1000000.000001' is out of range"):
        parse_config(conf)


def test_long_values_are_cut_short_in_errors(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(MINIMAL.replace("eth0", "eth0\n state " + "M" * 80_000))
    with pytest.raises(KaConfError) as info:
        parse_config(conf)
    assert str(info.value) == (
        f"{conf}:3: state must be MASTER or BACKUP, not {'M' * 40!r}... (80000 characters)"
    )


def test_a_glob_matching_too_much_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexer, "MAX_FILES", 3)
    for i in range(4):
        (tmp_path / f"{i}.conf").write_text("")
    conf = tmp_path / "keepalived.conf"
    conf.write_text("include ?.conf\n")
    with pytest.raises(KaConfError) as info:
        parse_config(conf)
    assert str(info.value) == f"{conf}:1: include: ?.conf: matches more than 3 files"


def test_bounds_leave_ordinary_configs_alone(tmp_path: Path) -> None:
    # 200 instances through a conf.d glob, each from a multi-line $TEMPLATE: what a large
    # installation looks like, far inside every bound.
    template = (
        "$TEMPLATE= \\\n"
        "vrrp_instance VI_${N} { \\\n  interface eth0 \\\n  virtual_router_id ${N} \\\n"
        "  virtual_ipaddress { \\\n    192.0.2.${N}/24 \\\n  } \\\n}\n"
    )
    (tmp_path / "conf.d").mkdir()
    for n in range(1, 201):
        (tmp_path / "conf.d" / f"{n:03}.conf").write_text(f"$N={n}\n$TEMPLATE\n")
    conf = tmp_path / "keepalived.conf"
    conf.write_text(template + "include conf.d/*.conf\n")
    cfg = parse_config(conf)
    assert [i.vrid for i in cfg.instances] == list(range(1, 201))
    assert len(cfg.files) == 201


def test_regular_file_through_a_symlink_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.conf").write_text(MINIMAL)
    (tmp_path / "keepalived.conf").symlink_to(tmp_path / "real.conf")
    assert parse_config(tmp_path / "keepalived.conf").instances[0].vrid == 7


# The reference regular expression of parameter references, which backtracks quadratically on
# a line of "${A " without "}": the linear scanner must find exactly what it finds.
REFERENCE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?:[ \t][^}]*)?)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?=[ \t]|$)"
)


@given(st.text(alphabet="${} \tA_b1x", max_size=40))
@settings(max_examples=2000, deadline=None)
def test_reference_scanner_finds_what_the_regex_finds(line: str) -> None:
    expected = [
        (m.start(), m.end(), m.group(1) or m.group(3), m.group(2) or "")
        for m in REFERENCE.finditer(line)
    ]
    assert list(lexer._references(line)) == expected


@pytest.mark.timeout(30)
def test_reference_scan_is_linear() -> None:
    # 80 KB of "${A " (no closing brace): the regex took over a minute, doubling the length
    # quadrupled it. Compare 80 KB with 8 KB: a linear scan takes about 10 times as long.
    def scan(n: int) -> float:
        line = "${A " * n
        started = time.perf_counter()
        assert list(lexer._references(line)) == []
        return time.perf_counter() - started

    small = min(scan(2_000) for _ in range(3))
    large = min(scan(20_000) for _ in range(3))
    assert large < 0.5
    assert large < 40 * small


def test_readme_states_the_bounds() -> None:
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    mib = lexer.MIB
    assert f"at most {lexer.MAX_FILE_BYTES // mib} MiB each" in readme
    total = f"at most {lexer.MAX_FILES:,} file reads and {lexer.MAX_TOTAL_BYTES // mib} MiB in all"
    assert total in readme
    assert f"more than {lexer.MAX_FILES:,} files is refused" in readme
    assert f"produces at most {lexer.MAX_EXPANSION_CHARS // mib} MiB in all" in readme
    limits = f"at most {lexer._MAX_LINE // 1024} KiB, in at most {lexer._MAX_EXPANSIONS:,} steps"
    assert limits in readme
