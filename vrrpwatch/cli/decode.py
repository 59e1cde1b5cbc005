"""``vrrpwatch decode``: one line per VRRP, CARP, ARP and Neighbor Advertisement in captures."""

from __future__ import annotations

import json
from typing import Any

import click

from dissectors.packet import Kind
from vrrpwatch.text import path_label, vlan_label
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
        interval = rec["interval_ms"]
        iv = f"{interval // 1000}s" if interval % 1000 == 0 else f"{interval}ms"
        auth = rec["auth_type"]
        if "password" in rec:
            auth = f"{auth} password {rec['password']!r}"
        elif "password_fingerprint" in rec:
            auth = f"{auth} password {rec['password_fingerprint']}"
        parts.append(
            f"VRRPv{rec['version']} vrid {rec['vrid']} prio {rec['priority']} int {iv} "
            f"auth {auth} ttl {rec['ttl']} [{', '.join(rec['addresses'])}]"
        )
    elif kind == Kind.CARP:
        parts.append(
            f"CARP vhid {rec['vhid']} advbase {rec['advbase_s']}s advskew {rec['advskew']} "
            f"demote {rec['demotion']} ttl {rec['ttl']}"
        )
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


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (see README).")
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="Show VRRPv2 plaintext passwords instead of only a fingerprint.",
)
def decode(files: tuple[str, ...], as_json: bool, reveal_secrets: bool) -> None:
    """Print every VRRP, CARP, ARP/GARP and Neighbor Advertisement packet in pcap/pcapng FILES.

    One line per packet: frame number, time (UTC), VLANs, source → destination, the protocol's
    fields and any findings (bad checksum, TTL not 255, ...). Plaintext VRRP passwords are shown
    as a keyed fingerprint unless --reveal-secrets is given.

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
            click.echo(f"# {path_label(path)}")
        try:
            for rec in decode_file(path, reveal_secrets=reveal_secrets, key=key, warn=_warn):
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
