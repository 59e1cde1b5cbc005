"""``vrrp_sync_group NAME { group { ... } notify_* ... }``: instances that change state together
(keepalived vrrp_parser.c, ``vrrp_sync_group_handler``)."""

from __future__ import annotations

from vrrpwatch.keepalived.model import NotifyLine, Source, SyncGroup
from vrrpwatch.keepalived.notify import NOTIFY_KEYWORDS, notify_line
from vrrpwatch.keepalived.statements import Stmt, err, need_block, no_block


def _parse_sync_group(stmt: Stmt) -> SyncGroup:
    if len(stmt.args) != 1:
        raise err(stmt.keyword, "vrrp_sync_group needs exactly one name")
    name = stmt.args[0].text
    members: list[str] = []
    notify: list[NotifyLine] = []
    ignored: list[str] = []
    for s in need_block(stmt):
        kw = s.keyword.text
        if kw == "group":
            for m in need_block(s):
                no_block(m)
                members += [m.keyword.text, *(a.text for a in m.args)]
        elif kw in NOTIFY_KEYWORDS:
            notify.append(notify_line(s))
        else:
            ignored.append(kw)
    # No ``group { ... }`` (keepalived's own sample keepalived.conf.vrrp.lvs_syncd lists the
    # names bare): keepalived warns of the unknown keywords and drops the empty group; so does
    # join (settings: "sync group has 0 of the instances join runs; ignored").
    return SyncGroup(
        name=name,
        members=tuple(dict.fromkeys(members)),
        notify=tuple(notify),
        ignored=tuple(dict.fromkeys(ignored)),
        source=stmt.src,
    )


def sync_groups(tree: tuple[Stmt, ...]) -> tuple[SyncGroup, ...]:
    groups: list[SyncGroup] = []
    seen: dict[str, Source] = {}
    for stmt in tree:
        if stmt.keyword.text != "vrrp_sync_group":
            continue
        group = _parse_sync_group(stmt)
        if group.name in seen:
            raise err(
                stmt.keyword, f"vrrp_sync_group {group.name} already defined at {seen[group.name]}"
            )
        seen[group.name] = group.source
        groups.append(group)
    return tuple(groups)
