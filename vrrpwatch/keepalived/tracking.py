"""Tracking: an instance's ``track_interface`` / ``track_script`` / ``track_file`` lines, the
``vrrp_script`` and ``vrrp_track_file`` sections they refer to, and global_defs ``script_user`` /
``enable_script_security`` (keepalived's vrrp_parser.c, vrrp_track.c)."""

from __future__ import annotations

from vrrpwatch.keepalived.lexer import Token
from vrrpwatch.keepalived.model import (
    ScriptSecurity,
    TrackedFile,
    TrackedInterface,
    TrackedScript,
    VrrpScript,
    VrrpTrackFile,
)
from vrrpwatch.keepalived.statements import (
    Stmt,
    err,
    need_block,
    no_block,
    one_arg,
    read_int,
    shown,
)


def track_interface_line(stmt: Stmt) -> TrackedInterface:
    args = [a.text for a in stmt.args]
    weight = 0
    if args and args[0] == "weight":
        if len(args) < 2:
            raise err(stmt.keyword, "track_interface weight needs a value")
        weight = read_int(stmt.args[1], "track_interface weight")
        args = args[2:]
    elif args:
        raise err(stmt.args[0], f"unexpected {shown(args[0])} in track_interface")
    reverse = args == ["reverse"]
    if args and args not in (["reverse"], ["noreverse"], ["no_reverse"]):
        raise err(stmt.keyword, f"unexpected {shown(' '.join(args))} in track_interface")
    return TrackedInterface(name=stmt.keyword.text, weight=weight, reverse=reverse)


def _weight(stmt: Stmt, words: tuple[Token, ...], what: str) -> tuple[int, bool | None]:
    """``N [reverse|noreverse]`` (vrrp_track.c: -253..253, +/-254 set to +/-253)."""
    if not words:
        raise err(stmt.keyword, f"{what} weight needs a value")
    weight = read_int(words[0], f"{what} weight")
    if not -254 <= weight <= 254:
        raise err(words[0], f"{what} weight must be between -253 and 253")
    weight = max(-253, min(253, weight))
    reverse: bool | None = None
    if len(words) >= 2:
        if words[1].text not in ("reverse", "noreverse") or len(words) > 2:
            raise err(words[1], f"unexpected {shown(words[1].text)} in {what}")
        reverse = words[1].text == "reverse"
    return weight, reverse


def _line_weight(stmt: Stmt, what: str) -> tuple[int | None, bool | None]:
    """A track line's ``NAME [weight N [reverse|noreverse]]``."""
    if not stmt.args:
        return None, None
    if stmt.args[0].text != "weight":
        raise err(stmt.args[0], f"unexpected {shown(stmt.args[0].text)} in {what}")
    return _weight(stmt, stmt.args[1:], what)


def tracked_scripts(stmt: Stmt) -> list[TrackedScript]:
    out = []
    for t in need_block(stmt):
        no_block(t)
        weight, reverse = _line_weight(t, "track_script")
        out.append(TrackedScript(name=t.keyword.text, weight=weight, reverse=reverse))
    return out


def tracked_files(stmt: Stmt) -> list[TrackedFile]:
    out = []
    for t in need_block(stmt):
        no_block(t)
        weight, _ = _line_weight(t, "track_file")
        out.append(TrackedFile(name=t.keyword.text, weight=weight))
    return out


def _count(stmt: Stmt, what: str, low: int) -> int:
    value = read_int(one_arg(stmt), what)
    if value < low:
        raise err(stmt.args[0], f"{what} must be at least {low}")
    return value


def _parse_vrrp_script(stmt: Stmt) -> VrrpScript:
    if len(stmt.args) != 1:
        raise err(stmt.keyword, "vrrp_script needs exactly one name")
    values: dict[str, object] = {}
    for s in need_block(stmt):
        no_block(s)
        kw = s.keyword.text
        if kw == "script":
            if not s.args:
                raise err(s.keyword, "script needs a value")
            # vrrp_parser.c: only the first word (quoted when it holds arguments) is the
            # script; it is split into arguments when run.
            values["script"] = s.args[0].text
        elif kw in ("interval", "timeout"):
            # keepalived: whole seconds; 0 is "set to 1".
            values[f"{kw}_s"] = max(1, _count(s, f"vrrp_script {kw}", 0))
        elif kw == "weight":
            weight, reverse = _weight(s, s.args, "vrrp_script")
            values["weight"], values["reverse"] = weight, bool(reverse)
        elif kw in ("rise", "fall"):
            values[kw] = _count(s, f"vrrp_script {kw}", 1)
        elif kw == "user":
            if not 1 <= len(s.args) <= 2:
                raise err(s.keyword, "user takes a user name and an optional group")
            values["user"] = s.args[0].text
            values["group"] = s.args[1].text if len(s.args) == 2 else None
        elif kw == "init_fail":
            values["init_fail"] = True
        # Other keywords of newer keepalived versions are not modelled.
    return VrrpScript(name=stmt.args[0].text, source=stmt.src, **values)  # type: ignore[arg-type]


def _parse_track_file(stmt: Stmt) -> VrrpTrackFile:
    if len(stmt.args) != 1:
        raise err(stmt.keyword, "vrrp_track_file needs exactly one name")
    path: str | None = None
    weight = 1
    for s in need_block(stmt):
        no_block(s)
        if s.keyword.text == "file":
            path = one_arg(s).text
        elif s.keyword.text == "weight":
            weight = _weight(s, s.args, "vrrp_track_file")[0]
    return VrrpTrackFile(name=stmt.args[0].text, path=path, weight=weight, source=stmt.src)


def parse_tracking(
    tree: tuple[Stmt, ...],
) -> tuple[tuple[VrrpScript, ...], tuple[VrrpTrackFile, ...], ScriptSecurity]:
    scripts: dict[str, VrrpScript] = {}
    files: dict[str, VrrpTrackFile] = {}
    user: str | None = None
    group: str | None = None
    enabled = False
    for stmt in tree:
        kw = stmt.keyword.text
        if kw == "vrrp_script":
            script = _parse_vrrp_script(stmt)
            scripts[script.name] = script  # a later block of the same name wins
        elif kw == "vrrp_track_file":
            tfile = _parse_track_file(stmt)
            files[tfile.name] = tfile
        elif kw == "global_defs":
            for g in need_block(stmt):
                if g.keyword.text == "script_user":
                    if not 1 <= len(g.args) <= 2:
                        raise err(g.keyword, "script_user takes a user name and an optional group")
                    user = g.args[0].text
                    group = g.args[1].text if len(g.args) == 2 else None
                elif g.keyword.text == "enable_script_security":
                    enabled = True
    security = ScriptSecurity(user=user, group=group, enabled=enabled)
    return tuple(scripts.values()), tuple(files.values()), security
