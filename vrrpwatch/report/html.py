"""The failover picture: one self-contained HTML file from a run's report data.

``render_html(data, reveal_secrets=...)`` takes ``store.timeline.report_data(db, run_id)``
(the run summary plus address events) and returns the page: inline CSS, inline SVG charts,
one small inline script (focus tooltips), no URL of any kind. A Content-Security-Policy
(``default-src 'none'``, the style and script allowed by hash) keeps the browser from
fetching anything even if markup slipped through. Jinja2 autoescapes every value; wire data
(passwords, messages that quote the wire) is only ever passed as data, never as markup.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from vrrpwatch import __version__
from vrrpwatch.report.chart import (
    SEVERITIES,
    WIDTH,
    Chart,
    Files,
    Scale,
    alert_marks,
    build_chart,
    busiest_stretch,
    event_bursts,
    is_slow,
    utc,
)


class ReportError(Exception):
    """The report cannot be written; a one-line message."""


@dataclass(slots=True)
class RouterView:
    anchor: str
    title: str
    vr: dict[str, Any]
    chart: Chart
    closeup: Chart | None
    closeup_scale: Scale | None
    alerts: list[dict[str, Any]]
    failovers: int
    worst: str | None
    open: bool
    transition_rows: list[tuple[str, ...]]
    alert_rows: list[tuple[str, ...]]
    burst_rows: list[tuple[str, ...]]


def _vlan(v: list[int]) -> str:
    return ".".join(map(str, v)) if v else "-"


def _vlan_title(v: list[int]) -> str:
    return f"VLAN {_vlan(v)}" if v else "untagged"


_Key = tuple[tuple[int, ...], int | None, int | None, str]
# How each protocol names the group id in ``vrid`` (VRRP VRID, HSRP group, CARP vhid).
_ID_LABEL = {"vrrp": "VRID", "hsrp": "HSRP group", "carp": "CARP vhid"}


def _key(v: dict[str, Any]) -> _Key:
    return (tuple(v["vlan"]), v["family"], v["vrid"], v.get("protocol") or "vrrp")


def _worst(alerts: list[dict[str, Any]]) -> str | None:
    for sev in SEVERITIES:
        if any(a["severity"] == sev for a in alerts):
            return sev
    return None


def routers(data: dict[str, Any], scale: Scale, files: Files) -> list[RouterView]:
    """Every router, the ones with alerts or failovers first (worst severity, then most
    failovers), quiet ones after and collapsed."""
    per_key: dict[_Key, list[dict[str, Any]]] = {}
    for a in data["alerts"]:
        if a["vrid"] is not None:
            per_key.setdefault(_key(a), []).append(a)
    views = []
    for vr in data["virtual_routers"]:
        alerts = per_key.get(_key(vr), [])
        failovers = sum(1 for t in vr["transitions"] if t["from"] is not None)
        fam = vr["family"]
        protocol = vr.get("protocol") or "vrrp"
        anchor = f"vr-{'.'.join(map(str, vr['vlan'])) or 'u'}-{fam}-{vr['vrid']}"
        if protocol != "vrrp":
            anchor += f"-{protocol}"
        ident = _ID_LABEL.get(protocol, protocol)
        stretch = busiest_stretch(vr, scale)
        views.append(
            RouterView(
                anchor=anchor,
                title=f"{_vlan_title(vr['vlan'])} · IPv{fam} · {ident} {vr['vrid']}",
                vr=vr,
                chart=build_chart(vr, alerts, scale, files),
                closeup=build_chart(vr, alerts, stretch, files, closeup=True) if stretch else None,
                closeup_scale=stretch,
                alerts=alerts,
                failovers=failovers,
                worst=_worst(alerts),
                open=bool(alerts or failovers),
                transition_rows=[
                    _transition_row(f"{anchor}-t{i}", t, files)
                    for i, t in enumerate(vr["transitions"])
                ],
                alert_rows=[_alert_row(a, files) for a in alerts],
                burst_rows=[
                    _burst_row(b, files) for b in event_bursts(vr.get("address_events", []))
                ],
            )
        )
    rank: dict[str | None, int] = {s: i for i, s in enumerate(SEVERITIES)}
    rank[None] = len(SEVERITIES)
    views.sort(key=lambda v: (not v.open, rank[v.worst], -v.failovers, -len(v.alerts)))
    return views


# Table rows as the cells' text, formatted here once (the template only escapes and prints).


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _transition_row(row_id: str, t: dict[str, Any], files: Files) -> tuple[str, ...]:
    return (
        row_id, utc(t["time"]), t["from"] or "-", t["to"], t["cause"], _ms(t["gap_ms"]),
        " slow" if is_slow(t) else "", _ms(t["expected_ms"]), files.where(t["file"], t["frame"]),
    )  # fmt: skip


def _alert_row(a: dict[str, Any], files: Files) -> tuple[str, ...]:
    return (
        f"alert-{a['id']}", utc(a["time"]), a["severity"], a["kind"], a["source"] or "-",
        a["message"], files.where(a["file"], a["frame"]),
    )  # fmt: skip


def _burst_row(b: list[dict[str, Any]], files: Files) -> tuple[str, ...]:
    e = b[0]
    return (
        utc(e["time"]), "GARP" if e["kind"] == "garp" else "NA", _vlan(e["vlan"]), e["address"],
        e["mac"], str(len(b)), files.where(e["file"], e["frame"]),
    )  # fmt: skip


def _auth(a: dict[str, Any]) -> str:
    """The auth type and, for simple-text auth, the password's fingerprint."""
    text = str(a["auth_type"])
    if "password_fingerprint" in a:
        text += f" {a['password_fingerprint']}"
    return text


def _password(a: dict[str, Any], reveal_secrets: bool) -> str | None:
    """The plaintext password: only with --reveal-secrets, and only if the run stored it."""
    return a.get("password") if reveal_secrets else None


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vrrpwatch.report", "."),
        autoescape=True,  # every template, whatever its name: wire data reaches all of them
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        utc=utc, vlan=_vlan, auth=_auth, password=_password,
    )  # fmt: skip
    return env


def _asset(name: str) -> str:
    return resources.files("vrrpwatch.report").joinpath(name).read_text(encoding="utf-8")


def render_html(
    data: dict[str, Any], *, reveal_secrets: bool = False, refresh_s: int | None = None
) -> str:
    """The page for one run's report data (``store.timeline.report_data``); ``refresh_s``
    (sniff's live page, ``ops.page``): the page reloads itself every that many seconds."""
    run = data["run"]
    scale = Scale.for_span(run["first_time"], run["last_time"])
    files = Files(
        [t["file"] for v in data["virtual_routers"] for t in v["transitions"]]
        + [a["file"] for a in data["alerts"]]
        + [e["file"] for v in data["virtual_routers"] for e in v.get("address_events", [])]
        + [e["file"] for e in data.get("address_events", [])]
    )
    views = routers(data, scale, files)
    loose = [a for a in data["alerts"] if a["vrid"] is None]
    css = _asset("report.css")
    script = _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; form-action 'none'; base-uri 'none'"
    )
    by_sev = {s: sum(1 for a in data["alerts"] if a["severity"] == s) for s in SEVERITIES}
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            run=run,
            views=views,
            ticks=scale.ticks(),
            width=WIDTH,
            loose=loose,
            loose_marks=alert_marks(loose, scale, 34.0, files),
            files=files,
            loose_rows=[_alert_row(a, files) for a in loose],
            loose_bursts=[
                _burst_row(b, files) for b in event_bursts(data.get("address_events", []))
            ],
            by_sev=by_sev,
            severities=SEVERITIES,
            reveal_secrets=reveal_secrets,
            css=css,
            script=script,
            csp=csp,
            refresh_s=refresh_s,
            version=__version__,
        )
    )


def write_report(path: Path, data: dict[str, Any], *, reveal_secrets: bool = False) -> None:
    """Render and write the page to ``path`` (mode 0600 when created with --reveal-secrets:
    it then holds passwords)."""
    text = render_html(data, reveal_secrets=reveal_secrets)
    try:
        if reveal_secrets:
            path.touch(mode=0o600, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"--html {path}: {exc.strerror or exc}") from None
