"""Hostile keepalived.conf inputs (issue 11, "keepalived.conf"), each built in a directory, with
the one error line the parser must give for it. The parser's tests and the CLI tests of
``audit`` and ``join --config`` read this one table.

Each builder returns the config to read and the exact ``KaConfError`` text. Before the caps
these inputs crashed (an int or ``Decimal`` error), hung (``/dev/zero``, a FIFO, 2^18 includes,
a regular expression backtracking over an 80 KB line) or ran for many minutes (1.4 GB of
parameter substitution from a 66 KB file).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vrrpwatch.keepalived.lexer import MAX_EXPANSION_CHARS, MAX_FILE_BYTES, MAX_FILES, MIB

INSTANCE = "vrrp_instance VI_1 {{\n interface eth0\n {line}\n virtual_router_id 1\n}}\n"
NOT_REGULAR = "not a regular file (a device, FIFO or socket)"

Builder = Callable[[Path], tuple[Path, str]]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def huge_integer(tmp_path: Path) -> tuple[Path, str]:
    """More digits than Python converts (4,300): it raised ValueError."""
    conf = _write(tmp_path / "keepalived.conf", INSTANCE.format(line="priority " + "1" * 4301))
    return conf, f"{conf}:3: priority: {'1' * 40!r}... (4301 characters) is out of range"


def huge_vrid(tmp_path: Path) -> tuple[Path, str]:
    conf = _write(
        tmp_path / "keepalived.conf",
        INSTANCE.format(line="priority 100").replace("_id 1", "_id " + "9" * 19),
    )
    return conf, f"{conf}:4: virtual_router_id: {'9' * 19!r} is out of range"


def advert_int_1e100(tmp_path: Path) -> tuple[Path, str]:
    """``Decimal`` takes it; rounding it to seconds raised InvalidOperation."""
    conf = _write(tmp_path / "keepalived.conf", INSTANCE.format(line="advert_int 1e100"))
    return conf, f"{conf}:3: advert_int: '1e100' is out of range"


def advert_int_1e999999999(tmp_path: Path) -> tuple[Path, str]:
    conf = _write(tmp_path / "keepalived.conf", INSTANCE.format(line="advert_int 1e999999999"))
    return conf, f"{conf}:3: advert_int: '1e999999999' is out of range"


def include_dev_zero(tmp_path: Path) -> tuple[Path, str]:
    """Read until memory ran out."""
    conf = _write(tmp_path / "keepalived.conf", "include /dev/zero\n")
    return conf, f"{conf}:1: include: /dev/zero: {NOT_REGULAR}"


def include_fifo(tmp_path: Path) -> tuple[Path, str]:
    """Waited forever for a writer."""
    os.mkfifo(tmp_path / "pipe.conf")
    conf = _write(tmp_path / "keepalived.conf", "global_defs {\n}\ninclude pipe.conf\n")
    return conf, f"{conf}:3: include: {tmp_path / 'pipe.conf'}: {NOT_REGULAR}"


def include_symlink_loop(tmp_path: Path) -> tuple[Path, str]:
    """A glob matching a symlink to itself: resolving it raised RuntimeError."""
    (tmp_path / "loop.inc").symlink_to("loop.inc")
    conf = _write(tmp_path / "keepalived.conf", "include *.inc\n")
    loop = tmp_path / "loop.inc"
    return conf, f"{conf}:1: include: {loop}: cannot read: Too many levels of symbolic links"


def config_is_a_fifo(tmp_path: Path) -> tuple[Path, str]:
    fifo = tmp_path / "keepalived.conf"
    os.mkfifo(fifo)
    return fifo, f"{fifo}: {NOT_REGULAR}"


def include_too_large(tmp_path: Path) -> tuple[Path, str]:
    """One byte over the cap (sparse: no disk used)."""
    big = tmp_path / "big.conf"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    conf = _write(tmp_path / "keepalived.conf", "include big.conf\n")
    return conf, f"{conf}:1: include: {big}: larger than 4 MiB"


def includes_too_many_bytes(tmp_path: Path) -> tuple[Path, str]:
    """A 3 MiB file (comments) included three times: the third passes 8 MiB read in all."""
    _write(tmp_path / "notes.conf", "#" * (3 * MIB - 1) + "\n")
    conf = _write(tmp_path / "keepalived.conf", "include notes.conf\n" * 3)
    return conf, (
        f"{conf}:3: include: {tmp_path / 'notes.conf'}: "
        "more than 8 MiB read in all (includes that repeat?)"
    )


LEVELS = 18


def doubling_includes(tmp_path: Path) -> tuple[Path, str]:
    """18 tiny files, each including the next twice: 2^18 reads (50 s, doubling per level)."""
    for level in range(LEVELS):
        nxt = f"include inc{level + 1}.conf\n" * 2 if level + 1 < LEVELS else "global_defs {\n}\n"
        _write(tmp_path / f"inc{level}.conf", nxt)
    # Depth first, as keepalived reads them: the main file is read first, so the include that
    # fails is the MAX_FILES-th.
    level, line = next(itertools.islice(_includes(0), MAX_FILES - 1, None))
    return tmp_path / "inc0.conf", (
        f"{tmp_path / f'inc{level}.conf'}:{line}: include: {tmp_path / f'inc{level + 1}.conf'}: "
        f"more than {MAX_FILES} files read in all (includes that repeat?)"
    )


def _includes(level: int) -> Iterator[tuple[int, int]]:
    """(level, line) of each include of :func:`doubling_includes`, in reading order."""
    if level + 1 < LEVELS:
        for line in (1, 2):
            yield level, line
            yield from _includes(level + 1)


def substitution_amplified(tmp_path: Path) -> tuple[Path, str]:
    """66 KB that substitute to 1.4 GB: $B is 60 KB, $C is 999 lines of $B, then 24 x $C.

    Each line stays within the per-line bounds (1,000 steps, 64 KiB), so only a bound on the
    total stops it."""
    b_value = ("x" + " " * 998 + "y ") * 60
    lines = [f"$B={b_value}", "$C= \\", *(["$B \\"] * 998), "$B", *(["$C"] * 24)]
    conf = _write(tmp_path / "keepalived.conf", "\n".join(lines) + "\n")
    assert conf.stat().st_size < 66 * 1024
    assert 24 * 999 * len(b_value.strip()) > 1.4e9
    assert MAX_EXPANSION_CHARS == 8 * MIB
    first_c = lines.index("$C") + 1
    return conf, f"{conf}:{first_c}: parameter substitution produces more than 8 MiB in all"


def unclosed_references(tmp_path: Path) -> tuple[Path, str]:
    """An 80 KB line of ``${A `` without a closing brace: the reference regex backtracked to
    the end of the line from every ``$`` (quadratic: 4 s for 20 KB, over a minute for 80 KB)."""
    conf = _write(tmp_path / "keepalived.conf", "${A " * 20_000 + "\n")
    return conf, f"{conf}:1: 'A {{' is never closed"


HOSTILE: dict[str, Builder] = {
    f.__name__: f
    for f in (
        huge_integer,
        huge_vrid,
        advert_int_1e100,
        advert_int_1e999999999,
        include_dev_zero,
        include_fifo,
        include_symlink_loop,
        config_is_a_fifo,
        include_too_large,
        includes_too_many_bytes,
        doubling_includes,
        substitution_amplified,
        unclosed_references,
    )
}

hostile_configs = pytest.mark.parametrize("builder", HOSTILE.values(), ids=list(HOSTILE))
