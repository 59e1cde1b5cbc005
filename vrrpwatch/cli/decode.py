"""``vrrpwatch decode``: one line per VRRP, CARP, HSRP, ARP and Neighbor Advertisement in
captures."""

from __future__ import annotations

import json
from typing import Any

import click

from dissectors.packet import Kind
from vrrpwatch.text import path_label, raw_bytes, vlan_label
from vrrpwatch.times import format_time

from . import EXIT_ERROR, cli
from .options import InputError


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
        if "ah_icv" in rec:
            auth = f"{auth} seq {rec['ah_sequence']} icv {rec['ah_icv']}"
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
@click.option(
    "--auth-pass-file",
    type=click.Path(dir_okay=False),
    help="Check the ICV of VRRPv2 AH adverts (keepalived auth_type AH) with the auth_pass on "
    "this file's first line.",
)
def decode(
    files: tuple[str, ...], as_json: bool, reveal_secrets: bool, auth_pass_file: str | None
) -> None:
    """Print every VRRP, CARP, HSRP, ARP/GARP and Neighbor Advertisement in pcap/pcapng FILES.

    One line per packet: frame number, time (UTC), VLANs, source → destination, the protocol's
    fields and any findings (bad checksum, TTL not 255, ...). Plaintext VRRP and HSRP passwords
    are shown as a keyed fingerprint unless --reveal-secrets is given.

    \b
    Example:
        vrrpwatch decode --json captures/v2-failover.pcap | jq 'select(.kind == "vrrp")'
        vrrpwatch decode --auth-pass-file ah.key captures/v2-ah.pcap
    """
    from vrrpwatch.fingerprints import session_key
    from vrrpwatch.pcap import CaptureError
    from vrrpwatch.store.decode_doc import decode_file

    key = session_key()
    ah_key = None
    if auth_pass_file is not None:
        from dissectors.ah import ah_key as make_ah_key
        from vrrpwatch.join.checks import read_auth_pass
        from vrrpwatch.join.settings import JoinError

        try:
            ah_key = make_ah_key(raw_bytes(read_auth_pass(auth_pass_file)))
        except JoinError as exc:
            raise InputError(str(exc)) from None
    failed = False
    for path in files:
        if len(files) > 1 and not as_json:
            click.echo(f"# {path_label(path)}")
        try:
            records = decode_file(
                path, reveal_secrets=reveal_secrets, key=key, warn=_warn, ah_key=ah_key
            )
            for rec in records:
                if as_json:
                    if len(files) > 1:
                        rec = {"file": path_label(path)} | rec
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
