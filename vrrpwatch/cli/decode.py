"""``vrrpwatch decode``: one line per VRRP, CARP, HSRP, ARP and Neighbor Advertisement in
captures."""

from __future__ import annotations

import json
from typing import Any

import click

from dissectors.packet import Kind
from vrrpwatch.text import vlan_label
from vrrpwatch.times import format_time

from . import EXIT_ERROR, cli


def render_line(rec: dict[str, Any]) -> str:
    """The human-readable line for a record made by :func:`record`."""
    head = f"{rec['frame']:>6} {format_time(rec['time'], 'us')}"
    if rec["vlan"]:
        head += " vlan " + vlan_label(rec["vlan"])
    kind = rec["kind"]
    if kind == "malformed":
        return f"{head} malformed: {rec['error']}"
    parts = [head, f"{rec['src']} → {rec['dst']}"]
    if kind == Kind.VRRP:
        iv = _ms(rec["interval_ms"])
        auth = _auth(rec)
        parts.append(
            f"VRRPv{rec['version']} vrid {rec['vrid']} prio {rec['priority']} int {iv} "
            f"auth {auth} ttl {rec['ttl']} [{', '.join(rec['addresses'])}]"
        )
    elif kind == Kind.CARP:
        parts.append(
            f"CARP vhid {rec['vhid']} advbase {rec['advbase_s']}s advskew {rec['advskew']} "
            f"demote {rec['demotion']} ttl {rec['ttl']}"
        )
    elif kind == Kind.HSRP:
        parts.append(_hsrp(rec))
    elif kind in (Kind.GARP, Kind.ARP):
        label = "GARP" if kind == Kind.GARP else "ARP"
        what = " probe" if rec["probe"] else " announcement" if rec["announcement"] else ""
        parts.append(f"{label} {rec['op']}{what} {rec['sender_ip']} is-at {rec['sender_mac']}")
    elif kind == Kind.NA:
        flags = (
            "".join(
                f
                for f, on in (("R", rec["router"]), ("S", rec["solicited"]), ("O", rec["override"]))
                if on
            )
            or "-"
        )
        ll = rec["target_ll_addr"] or "no lladdr"
        parts.append(f"NA {rec['target']} is-at {ll} flags {flags} hlim {rec['ttl']}")
    line = "  ".join(parts)
    if rec["findings"]:
        line += "  !! " + ",".join(rec["findings"])
    return line


def _ms(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _auth(rec: dict[str, Any]) -> str:
    auth = str(rec["auth_type"])
    if "password" in rec:
        auth = f"{auth} password {rec['password']!r}"
    elif "password_fingerprint" in rec:
        auth = f"{auth} password {rec['password_fingerprint']}"
    return auth


def _hsrp(rec: dict[str, Any]) -> str:
    """``HSRPv1 hello group 1 active prio 100 hello 3s hold 10s vip 192.0.2.1 ...``."""
    out = [f"HSRPv{rec['version']}"]
    if rec["opcode"] is not None:
        out.append(str(rec["opcode"]))
    if rec["group"] is not None:
        out += [
            f"group {rec['group']} {rec['state']} prio {rec['priority']}",
            f"hello {_ms(rec['hello_ms'])} hold {_ms(rec['hold_ms'])} vip {rec['virtual_ip']}",
        ]
        if rec["identifier"] is not None:
            out.append(f"id {rec['identifier']}")
    elif rec["state"] is not None:
        out.append(str(rec["state"]))
    if rec["active_groups"] is not None:
        out.append(f"groups {rec['active_groups']} active {rec['passive_groups']} passive")
    if rec["group"] is not None or rec["auth_type"] != "none":
        auth = _auth(rec)
        if "md5_key_id" in rec:
            auth += f" key {rec['md5_key_id']}"
        out.append(f"auth {auth}")
    if rec["unknown_tlvs"]:
        out.append(f"unknown-tlvs {rec['unknown_tlvs']}")
    out.append(f"ttl {rec['ttl']}")
    return " ".join(out)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (see README).")
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="Show VRRPv2 and HSRP plaintext passwords instead of only a fingerprint.",
)
def decode(files: tuple[str, ...], as_json: bool, reveal_secrets: bool) -> None:
    """Print every VRRP, CARP, HSRP, ARP/GARP and Neighbor Advertisement in pcap/pcapng FILES.

    One line per packet: frame number, time (UTC), VLANs, source → destination, the protocol's
    fields and any findings (bad checksum, TTL not 255, ...). Plaintext VRRP and HSRP passwords
    are shown as a keyed fingerprint unless --reveal-secrets is given.

    \b
    Example:
        vrrpwatch decode --json captures/v2-failover.pcap | jq 'select(.kind == "vrrp")'
    """
    from vrrpwatch.fingerprints import session_key
    from vrrpwatch.pcap import CaptureError
    from vrrpwatch.store.decode_doc import decode_file

    key = session_key()
    failed = False
    for path in files:
        if len(files) > 1 and not as_json:
            click.echo(f"# {path}")
        try:
            for rec in decode_file(path, reveal_secrets=reveal_secrets, key=key, warn=_warn):
                if as_json:
                    if len(files) > 1:
                        rec = {"file": path} | rec
                    click.echo(json.dumps(rec, ensure_ascii=False))
                else:
                    click.echo(render_line(rec))
        except CaptureError as exc:
            # Like cat: say which file failed and go on with the next one.
            click.echo(f"Error: {exc}", err=True)
            failed = True
    if failed:
        raise click.exceptions.Exit(EXIT_ERROR)


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)
