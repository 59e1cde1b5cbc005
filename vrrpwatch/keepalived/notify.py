"""Notify scripts: an instance's or a sync group's ``notify_*`` lines and global_defs
``notify_fifo`` (keepalived vrrp_parser.c, vrrp_notify.c, notify.c)."""

from __future__ import annotations

import shlex

from vrrpwatch.keepalived.model import NotifyLine
from vrrpwatch.keepalived.statements import Stmt, err, no_block, shown

NOTIFY_KEYWORDS = frozenset(
    {"notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"}
)


def notify_line(stmt: Stmt) -> NotifyLine:
    """``notify_master SCRIPT [username [groupname]]``: keepalived re-reads the line with
    quotes and escapes, takes its first word as the script and splits that again into argv
    (notify.c ``notify_script_init``, ``set_script_params_array``); so an unquoted
    ``notify_master /bin/x a`` runs ``/bin/x`` as user ``a``, and a script with arguments is
    quoted: ``notify_master "/bin/x a"``."""
    no_block(stmt)
    kw = stmt.keyword.text
    line = " ".join(f'"{t.text}"' if t.quoted else t.text for t in stmt.args)
    try:
        words = shlex.split(line)
        argv = tuple(shlex.split(words[0])) if words else ()
    except ValueError as exc:
        raise err(stmt.keyword, f"{kw}: cannot split {shown(line)}: {exc}") from None
    if not argv:
        raise err(stmt.keyword, f"{kw} needs a script")
    if len(words) > 3:
        raise err(
            stmt.keyword, f"{kw}: unexpected {shown(' '.join(words[3:]))} after the user and group"
        )
    return NotifyLine(
        keyword=kw,
        argv=argv,
        user=words[1] if len(words) > 1 else None,
        group=words[2] if len(words) > 2 else None,
        source=stmt.src,
    )


def notify_fifo(stmt: Stmt) -> str:
    """global_defs ``notify_fifo FILE [username [groupname]]`` (and ``vrrp_notify_fifo``)."""
    no_block(stmt)
    if not stmt.args:
        raise err(stmt.keyword, f"{stmt.keyword.text} needs a file name")
    return stmt.args[0].text
