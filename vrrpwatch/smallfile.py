"""Reading a small file an operator names (a config, a password file, a known-routers list).

One rule, kept once: only a regular file is read (a FIFO would block, ``/dev/zero`` never ends),
it is opened without blocking and checked on the open descriptor (what is read is what was
checked), and at most ``limit + 1`` bytes are read, so that more than ``limit`` means too large.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MIB", "SmallFileError", "read_small_file"]

MIB = 1 << 20


class SmallFileError(Exception):
    """Why the file cannot be read, as a short phrase (``is a directory``, ...); ``from_os``
    when the phrase is the system's (``No such file or directory``)."""

    def __init__(self, reason: str, *, from_os: bool = False) -> None:
        super().__init__(reason)
        self.from_os = from_os


def read_small_file(path: str | Path, limit: int, *, what: str = "file") -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path``; SmallFileError otherwise."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SmallFileError(exc.strerror or str(exc), from_os=True) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SmallFileError(f"is a directory, not a {what}")
        if not stat.S_ISREG(mode):
            raise SmallFileError("not a regular file (a device, FIFO or socket)")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, MIB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise SmallFileError(exc.strerror or str(exc), from_os=True) from None
    finally:
        os.close(fd)
