"""join's checks of what it was given, before anything is sent: options, virtual addresses,
peers, the notify command and the password file.

Every check raises ``JoinError`` with one line. ``check_options`` runs before the interface is
opened (so a bad value never reaches a socket); ``check_vips`` runs again once the group is
known, on what was learnt from the wire too (a hostile master must not make us add a multicast
address), with the interface's subnets and MTU.
"""

from __future__ import annotations

import ipaddress
import math
import shlex
from collections.abc import Iterable, Sequence

from dissectors.common import IPAddress
from vrrpwatch.join.settings import JoinError, JoinOptions
from vrrpwatch.smallfile import SmallFileError, read_small_file

__all__ = [
    "MAX_DURATION_S",
    "MAX_VIPS",
    "check_options",
    "check_peers",
    "check_vips",
    "max_vips",
    "parse_vip",
    "read_auth_pass",
]

# The longest wait any duration option may ask for: a day (selectors and the kernel take a
# finite timeout; nan and inf are never a duration).
MAX_DURATION_S = 86400.0
# RFC 5798 section 5.2.5 (RFC 3768 section 5.3.5): Count IPvX Addr is an 8-bit field.
MAX_VIPS = 255
# RFC 3768 section 5.3.7: the VRRPv2 Adver Int is 8 bits of whole seconds; RFC 5798 section
# 5.2.7: the VRRPv3 Max Adver Int is 12 bits of centiseconds (40.95 s).
MAX_ADVERT_INT_S = 255.0
_AUTH_FILE_MAX_BYTES = 4096


def _duration(value: float | None, flag: str, *, positive: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise JoinError(f"{flag} must be a finite number of seconds, not {value}")
    if positive and value <= 0:
        raise JoinError(f"{flag} must be positive")
    if value < 0:
        raise JoinError(f"{flag} cannot be negative")
    if value > MAX_DURATION_S:
        raise JoinError(f"{flag} {value:g} is too long: at most {MAX_DURATION_S:g} s")


def parse_vip(text: str) -> tuple[IPAddress, int | None]:
    """``ADDR[/LEN]`` -> (address, prefix length or None); ``JoinError`` on a bad one."""
    addr_text, sep, plen_text = text.partition("/")
    try:
        vip = ipaddress.ip_address(addr_text)
    except ValueError:
        raise JoinError(f"--vip: {text!r} is not an IP address") from None
    if not sep:
        return vip, None
    if not plen_text.isdigit() or not 1 <= int(plen_text) <= vip.max_prefixlen:
        raise JoinError(f"--vip: bad prefix length in {text!r}: must be 1..{vip.max_prefixlen}")
    return vip, int(plen_text)


def _unusable(vip: IPAddress, prefixlen: int | None) -> str | None:
    """Why ``vip`` can never be a virtual address (None: it can)."""
    if vip.is_multicast:
        return "a multicast address"
    if vip.is_unspecified:
        return "the unspecified address"
    if vip.is_loopback:
        return "a loopback address"
    if isinstance(vip, ipaddress.IPv4Address):
        if vip == ipaddress.IPv4Address("255.255.255.255"):
            return "the broadcast address"
        if prefixlen is not None and prefixlen < 31:
            net = ipaddress.IPv4Network(f"{vip}/{prefixlen}", strict=False)
            if vip == net.broadcast_address:
                return f"the broadcast address of {net}"
    return None


def max_vips(family: int, version: int, mtu: int) -> int:
    """How many virtual addresses one advert carries: the 8-bit count (RFC 5798 section
    5.2.5), and the whole packet must fit the interface MTU."""
    ip_header = 20 if family == 4 else 40
    vrrp_header = 8 + (8 if version == 2 else 0)  # VRRPv2: 8 bytes of authentication data
    fit = (mtu - ip_header - vrrp_header) // (4 if family == 4 else 16)
    return max(0, min(MAX_VIPS, fit))


def check_vips(
    vips: Sequence[IPAddress],
    prefixes: dict[IPAddress, int],
    *,
    version: int | None = None,
    mtu: int | None = None,
    what: str = "--vip",
) -> None:
    """One family, no duplicates, no address that cannot be a VIP, and no more than an advert
    carries (with ``version`` and ``mtu`` once they are known)."""
    if len(vips) > MAX_VIPS:
        raise JoinError(
            f"{what}: {len(vips)} addresses; an advert carries at most {MAX_VIPS} "
            "(Count IPvX Addr is 8 bits, RFC 5798 section 5.2.5)"
        )
    if not vips:
        return
    family = vips[0].version
    if any(v.version != family for v in vips):
        raise JoinError(f"{what}: one address family per group (run a second join for the other)")
    if len(set(vips)) != len(vips):
        dup = next(v for v in vips if vips.count(v) > 1)
        raise JoinError(f"{what}: {dup} is given twice")
    for vip in vips:
        why = _unusable(vip, prefixes.get(vip))
        if why is not None:
            raise JoinError(f"{what}: {vip} is {why}, not a usable virtual address")
    if version is not None and mtu is not None:
        limit = max_vips(family, version, mtu)
        if len(vips) > limit:
            raise JoinError(
                f"{what}: {len(vips)} addresses do not fit one VRRPv{version} advert on an "
                f"MTU of {mtu}: at most {limit} IPv{family} addresses"
            )


def check_peers(peers: Iterable[IPAddress], family: int) -> None:
    for peer in peers:
        if peer.version != family:
            raise JoinError(
                f"--unicast-peer: {peer} is IPv{peer.version}, the group is IPv{family}"
            )
        if peer.is_multicast or peer.is_unspecified:
            raise JoinError(f"--unicast-peer: {peer} is not a unicast address")


def parse_peer(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise JoinError(f"--unicast-peer: {text!r} is not an IP address") from None


def check_options(opts: JoinOptions) -> None:
    """Every option join can check alone, before it opens anything."""
    if not 1 <= opts.vrid <= 255:
        raise JoinError(f"invalid VRID {opts.vrid}: must be 1..255")
    if not 1 <= opts.priority <= 255:
        raise JoinError(f"invalid priority {opts.priority}: must be 1..255 (0 is reserved)")
    if opts.version not in (None, 2, 3):
        raise JoinError(f"invalid --version {opts.version}: must be 2 or 3")
    _duration(opts.advert_int_s, "--advert-int", positive=True)
    if opts.advert_int_s is not None and opts.advert_int_s > MAX_ADVERT_INT_S:
        raise JoinError(f"--advert-int {opts.advert_int_s:g} is too long: at most 255 s")
    _duration(opts.preempt_delay_s, "--preempt-delay")
    _duration(opts.garp_delay_s, "--garp-delay")
    _duration(opts.learn_timeout_s, "--learn-timeout")
    if not 0 <= opts.garp_repeat <= 255:
        raise JoinError(f"--garp-repeat {opts.garp_repeat}: must be 0..255")
    parsed = [parse_vip(text) for text in opts.vips]
    vips = [v for v, _ in parsed]
    check_vips(vips, {v: p for v, p in parsed if p is not None})
    peers = [parse_peer(text) for text in opts.unicast_peers]
    if vips:
        check_peers(peers, vips[0].version)
    elif peers:
        check_peers(peers, peers[0].version)
    if opts.notify is not None:
        try:
            argv = shlex.split(opts.notify)
        except ValueError as exc:
            raise JoinError(f"--notify: cannot split {opts.notify!r}: {exc}") from None
        if not argv:
            raise JoinError("--notify: empty command")
    if opts.auth_pass is not None and opts.auth_pass_file is not None:
        raise JoinError("give --auth-pass or --auth-pass-file, not both")


def read_auth_pass(path: str) -> str:
    """The VRRPv2 password in ``path``: its first line, without the line end. Only a regular
    file is read, and at most a few KiB of it."""
    try:
        data = read_small_file(path, _AUTH_FILE_MAX_BYTES, what="password file")
    except SmallFileError as exc:
        raise JoinError(f"--auth-pass-file: {path}: {exc}") from None
    if len(data) > _AUTH_FILE_MAX_BYTES:
        raise JoinError(f"--auth-pass-file: {path}: too long for a password file")
    line = data.split(b"\n", 1)[0].removesuffix(b"\r")
    try:
        text = line.decode()
    except UnicodeDecodeError:
        raise JoinError(f"--auth-pass-file: {path}: not UTF-8 text") from None
    if not text:
        raise JoinError(f"--auth-pass-file: {path}: the first line is empty")
    if len(line) > 8:
        raise JoinError(
            f"--auth-pass-file: {path}: a VRRPv2 password has at most 8 characters "
            "(RFC 3768 section 5.3.10)"
        )
    return text
