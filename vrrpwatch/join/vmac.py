"""join's virtual MAC interface: keepalived's ``use_vmac`` (and ``vmac_xmit_base``).

RFC 5798 section 7.3 has a master send from the virtual MAC 00-00-5E-00-01-{VRID} (IPv4) or
00-00-5E-00-02-{VRID} (IPv6), so hosts' ARP / neighbour caches never change on a failover.
keepalived does it with a macvlan on the interface carrying that MAC (keepalived/vrrp/
vrrp_vmac.c, ``netlink_link_add_vmac``), and join does what it does, through netlink
(pyroute2, as ``netif`` does: no ``ip`` process to spawn, errors as codes, not text):

- The macvlan is created at start, in mode private, and brought up; it stays up in BACKUP
  (without addresses) and carries the VIPs in MASTER. It is removed at the end.
- Its name: ``use_vmac NAME``, else ``vrrp.VRID``; when that name is taken by another link,
  IPv6 tries ``vrrp6.VRID``, then (both families) ``vrrp1.VRID``, ``vrrp2.VRID``...
  (vrrp.c, ``vrrp_complete_instance``). A link that already is our macvlan (private, our MAC,
  on our interface) is used as it is, and left in place at the end (keepalived: "Found
  matching interface"). A link of the configured name that is something else is an error:
  join never removes a link it did not create.
- The sysctls of vrrp_if_config.c: on the macvlan arp_ignore=1, accept_local=1, rp_filter=0
  and promote_secondaries=1; on the base interface arp_ignore=1 and arp_filter=1 (so only the
  macvlan answers ARP for the VIPs, with the virtual MAC), restored at the end unless another
  VRRP macvlan still sits on it. IPv6 address generation is off on the macvlan (RFC 5798
  section 7.4: no link-local from the virtual MAC); an IPv4 one has IPv6 disabled; an IPv6 one
  gets the base interface's link-local address (no DAD, preferred lifetime 0, as keepalived),
  the source of its adverts.
- Adverts, gratuitous ARPs and NAs go out of the macvlan, from the virtual MAC; with
  ``vmac_xmit_base`` the adverts go out of the base interface instead (keepalived's sockpool
  uses the base interface then), the ARPs and NAs still from the macvlan. Unicast peers imply
  ``vmac_xmit_base``, as in keepalived ("unicast with use_vmac requires vmac_xmit_base").
- The state file records the macvlan (``statefile.VmacRecord``); after a SIGKILL the next run
  removes it, with the VIPs on it, when it is still that very link (same index, macvlan,
  private, our MAC, on our interface), and creates a fresh one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dissectors.vrrp import virtual_mac
from vrrpwatch import netif
from vrrpwatch.join import log
from vrrpwatch.join.log import EventSink
from vrrpwatch.join.router import RouterConfig
from vrrpwatch.join.settings import JoinError, JoinOptions
from vrrpwatch.join.statefile import StateFile, VmacRecord, read_vmac_record
from vrrpwatch.join.transport import RawTransport
from vrrpwatch.text import raw_bytes

__all__ = [
    "BASE_CONF",
    "VMAC_CONF",
    "LinkFacts",
    "Vmac",
    "check_vmac_options",
    "choose_link",
    "format_mac",
    "is_our_vmac",
    "remove_stale_vmac",
    "start_vmac",
    "valid_ifname",
    "vmac_names",
]

IFNAMSIZ = 16
MACVLAN_MODE = "private"
# vrrp_if_config.c: what the macvlan needs (hear other routers' multicast from our own
# addresses, answer ARP only for its own addresses, receive without an address of its own),
# and what the base interface needs (never answer ARP for the VIPs, nor across interfaces).
VMAC_CONF: Mapping[str, int] = {
    "arp_ignore": 1,
    "accept_local": 1,
    "rp_filter": 0,
    "promote_secondaries": 1,
}
BASE_CONF: Mapping[str, int] = {"arp_ignore": 1, "arp_filter": 1}
_IN6_ADDR_GEN_MODE_NONE = 1
_IFA_F_NODAD = 0x02
_SYSCTL = Path("/proc/sys/net")


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def valid_ifname(name: str) -> bool:
    """The kernel's ``dev_valid_name`` (keepalived checks it too): 1..15 bytes, not ``.`` or
    ``..``, no ``/``, ``:`` or white space."""
    if not name or len(raw_bytes(name)) >= IFNAMSIZ or name in (".", ".."):
        return False
    return not any(ch in "/:" or ch.isspace() for ch in name)


def vmac_names(vrid: int, family: int, limit: int = 10) -> Iterator[str]:
    """The names keepalived tries, in order: ``vrrp.VRID``; then IPv6 ``vrrp6.VRID``; then
    ``vrrpN.VRID`` for N = 1, 2, ... (6 skipped for IPv6, already tried)."""
    yield f"vrrp.{vrid}"
    if family == 6:
        yield f"vrrp6.{vrid}"
    for num in range(1, limit):
        if family == 6 and num == 6:
            continue
        yield f"vrrp{num}.{vrid}"


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """What netlink says about a link."""

    name: str
    index: int
    kind: str | None  # IFLA_INFO_KIND: "macvlan", "veth", ... (None: a plain device)
    mode: str | None  # IFLA_MACVLAN_MODE of a macvlan
    link: int | None  # IFLA_LINK: the lower device's index
    mac: bytes


def is_our_vmac(link: LinkFacts, *, base_index: int, mac: bytes) -> bool:
    """A macvlan in private mode with ``mac`` on the base interface: one join can use."""
    return (
        link.kind == "macvlan"
        and link.mode == MACVLAN_MODE
        and link.link == base_index
        and link.mac == mac
    )


def choose_link(
    links: Sequence[LinkFacts],
    *,
    base_index: int,
    vrid: int,
    family: int,
    name: str | None = None,
) -> tuple[str, LinkFacts | None]:
    """The macvlan's name and the existing link to use (None: create one of that name).

    An existing macvlan of ours (any name: the kernel allows one macvlan per MAC on a lower
    device) is used; else the configured ``name``, which must be free; else the first free
    name of ``vmac_names``."""
    mac = virtual_mac(vrid, family)
    for link in links:
        if is_our_vmac(link, base_index=base_index, mac=mac):
            return link.name, link
    taken = {link.name for link in links}
    if name is not None:
        if not valid_ifname(name):
            raise JoinError(f"use_vmac: {name!r} is not a valid interface name")
        if name in taken:
            raise JoinError(
                f"use_vmac: interface {name} exists and is not a private macvlan with "
                f"{format_mac(mac)} on the interface; join does not replace it"
            )
        return name, None
    for candidate in vmac_names(vrid, family):
        if candidate not in taken:
            return candidate, None
    raise JoinError(f"use_vmac: no free interface name for VRID {vrid}")


# -- netlink and sysctls ---------------------------------------------------------------------


def _ipr() -> Any:
    from pyroute2 import IPRoute

    return IPRoute()


def _facts(msg: Any) -> LinkFacts:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = mode = None
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND")
        data = info.get_attr("IFLA_INFO_DATA")
        if kind == "macvlan" and data is not None:
            mode = data.get_attr("IFLA_MACVLAN_MODE")
    mac_text = msg.get_attr("IFLA_ADDRESS") or "00:00:00:00:00:00"
    return LinkFacts(
        name=str(msg.get_attr("IFLA_IFNAME")),
        index=int(msg["index"]),
        kind=kind,
        mode=mode,
        link=msg.get_attr("IFLA_LINK"),
        mac=bytes.fromhex(mac_text.replace(":", "")),
    )


def list_links(ipr: Any) -> list[LinkFacts]:
    return [_facts(msg) for msg in ipr.get_links()]


def _conf_path(family: int, ifname: str, key: str) -> Path:
    # Interface names may hold dots (vrrp.1): the /proc/sys path takes them as they are.
    return _SYSCTL / ("ipv4" if family == 4 else "ipv6") / "conf" / ifname / key


def read_conf(family: int, ifname: str, key: str) -> int | None:
    try:
        return int(_conf_path(family, ifname, key).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_conf(family: int, ifname: str, key: str, value: int) -> None:
    try:
        _conf_path(family, ifname, key).write_text(f"{value}\n")
    except OSError as exc:
        raise JoinError(f"use_vmac: cannot set {key}={value} on {ifname}: {exc}") from None


def _delete(ipr: Any, index: int) -> bool:
    try:
        ipr.link("del", index=index)
    except Exception as exc:  # NetlinkError
        if getattr(exc, "code", None) == 19:  # ENODEV: already gone
            return False
        raise JoinError(f"use_vmac: cannot remove interface {index}: {exc}") from exc
    return True


@dataclass
class Vmac:
    """The macvlan of one run: ``open`` it at start, ``close`` it at the end."""

    record: VmacRecord
    iface: netif.Interface  # the macvlan, as the transport sends from it
    base: netif.Interface
    family: int

    @classmethod
    def open(
        cls,
        base: netif.Interface,
        *,
        vrid: int,
        family: int,
        emit: EventSink,
        name: str | None = None,
        base_conf: Mapping[str, int] | None = None,
        record: Callable[[VmacRecord], None] = lambda _: None,
    ) -> Vmac:
        """Create our macvlan (or use the matching one that exists), set its sysctls and bring
        it up. ``base_conf``: the base interface's sysctls before a killed run changed them
        (``remove_stale_vmac``). ``record`` is called as soon as the link exists, before
        anything changes on it (the state file: a kill from then on leaves it listed)."""
        mac = virtual_mac(vrid, family)
        originals = dict(base_conf) if base_conf is not None else None
        with _ipr() as ipr:
            name, existing = choose_link(
                list_links(ipr), base_index=base.index, vrid=vrid, family=family, name=name
            )
            if existing is None:
                try:
                    ipr.link(
                        "add",
                        ifname=name,
                        kind="macvlan",
                        link=base.index,
                        macvlan_mode=MACVLAN_MODE,
                        address=format_mac(mac),
                    )
                except Exception as exc:  # NetlinkError
                    why = f"use_vmac: cannot create {name} on {base.name}: {exc}"
                    raise JoinError(why) from exc
                found = ipr.link_lookup(ifname=name)
                if not found:
                    raise JoinError(f"use_vmac: {name} vanished after its creation")
                index = int(found[0])
            else:
                index = existing.index
            try:
                if originals is None:
                    originals = _base_originals(base.name, family)
                rec = VmacRecord(
                    name=name,
                    index=index,
                    mac=format_mac(mac),
                    base=base.name,
                    created=existing is None,
                    base_conf=originals,
                )
                vmac = cls(
                    record=rec,
                    iface=netif.Interface(name=name, index=index, mac=mac, up=True, addresses=()),
                    base=base,
                    family=family,
                )
                record(vmac.record)
                vmac._configure(ipr)
            except BaseException:
                if existing is None:
                    _delete(ipr, index)
                raise
        emit(log.vmac("created" if existing is None else "reused", name, base.name, rec.mac))
        return vmac

    def _configure(self, ipr: Any) -> None:
        name = self.record.name
        # RFC 5798 section 7.4: no link-local address derived from the virtual MAC. For an
        # IPv4 group, best effort: a host without IPv6 has no such sysctls.
        with contextlib.suppress(JoinError) if self.family == 4 else contextlib.nullcontext():
            write_conf(6, name, "addr_gen_mode", _IN6_ADDR_GEN_MODE_NONE)
        if self.family == 4:
            with contextlib.suppress(JoinError):
                write_conf(6, name, "disable_ipv6", 1)
            for key, value in VMAC_CONF.items():
                write_conf(4, name, key, value)
            for key, value in BASE_CONF.items():
                write_conf(4, self.base.name, key, value)
        ipr.link("set", index=self.record.index, state="up")
        if self.family == 6:
            # The adverts' source: the base interface's link-local address, which the kernel
            # takes as a source only on an interface that has it (keepalived adds it too).
            lladdr = self.base.primary(6)
            if lladdr is None:
                raise JoinError(f"use_vmac: {self.base.name} has no link-local IPv6 address")
            with contextlib.suppress(Exception):  # EEXIST: a reused macvlan has it
                ipr.addr(
                    "add",
                    index=self.record.index,
                    address=str(lladdr),
                    prefixlen=64,
                    flags=_IFA_F_NODAD,
                    preferred_lft=0,
                    valid_lft=0xFFFFFFFF,
                )

    def close(self, emit: EventSink, state_file: Path | None = None) -> None:
        """Remove the macvlan (and the VIPs on it) if this run created it; restore the base
        interface's sysctls unless another VRRP macvlan is still on it; then the state file
        no longer lists it (it goes, as the runtime has removed its addresses)."""
        if self.record.created:
            self._remove(emit)
        if state_file is not None:
            StateFile(state_file, self.base.name).write(())

    def _remove(self, emit: EventSink) -> None:
        with _ipr() as ipr:
            link = next((x for x in list_links(ipr) if x.index == self.record.index), None)
            if link is not None and is_our_vmac(
                link, base_index=self.base.index, mac=self.iface.mac
            ):
                _delete(ipr, link.index)
                emit(log.vmac("removed", self.record.name, self.base.name, self.record.mac))
            if not _other_vmacs(list_links(ipr), self.base.index):
                _restore_base(self.base.name, self.record.base_conf)


def check_vmac_options(opts: JoinOptions) -> None:
    """What can be refused before join opens anything: ``JoinError``."""
    if opts.use_vmac is None and opts.vmac_xmit_base:
        raise JoinError("--vmac-xmit-base needs --use-vmac (vmac_xmit_base needs use_vmac)")
    if opts.use_vmac and not valid_ifname(opts.use_vmac):
        raise JoinError(f"use_vmac: {opts.use_vmac!r} is not a valid interface name")


def start_vmac(
    opts: JoinOptions,
    config: RouterConfig,
    base: netif.Interface,
    transport: RawTransport,
    state_file: Path,
    emit: EventSink,
    *,
    base_conf: Mapping[str, int] | None = None,
) -> Vmac | None:
    """``--use-vmac``: the macvlan, listed in the state file before anything goes on it, and
    the transport sending from it. None without ``--use-vmac``."""
    check_vmac_options(opts)
    if opts.use_vmac is None:
        return None
    vmac = Vmac.open(
        base,
        vrid=config.vrid,
        family=config.family,
        emit=emit,
        name=opts.use_vmac or None,
        base_conf=base_conf,
        record=lambda rec: StateFile(state_file, base.name, vmac=rec).write(()),
    )
    try:
        # keepalived (vrrp_parser.c, vrrp_end_handler): "unicast with use_vmac requires
        # vmac_xmit_base".
        xmit_base = opts.vmac_xmit_base or bool(opts.unicast_peers)
        transport.use_send_interface(vmac.iface, adverts=not xmit_base)
    except BaseException:
        vmac.close(emit, state_file)
        raise
    return vmac


def _base_originals(base: str, family: int) -> dict[str, int]:
    if family != 4:
        return {}
    out: dict[str, int] = {}
    for key in BASE_CONF:
        value = read_conf(4, base, key)
        if value is not None:
            out[key] = value
    return out


def _restore_base(base: str, originals: Mapping[str, int]) -> None:
    for key, value in originals.items():
        if key in BASE_CONF:
            with contextlib.suppress(JoinError):
                write_conf(4, base, key, value)


def _other_vmacs(links: Iterable[LinkFacts], base_index: int) -> bool:
    """Another VRRP macvlan (private, 00-00-5E-00-01/02-xx) still on the base interface."""
    return any(
        x.kind == "macvlan"
        and x.mode == MACVLAN_MODE
        and x.link == base_index
        and x.mac[:4] == b"\x00\x00\x5e\x00"
        and x.mac[4] in (1, 2)
        for x in links
    )


def remove_stale_vmac(
    state_file: Path, base: netif.Interface, emit: EventSink
) -> dict[str, int] | None:
    """The macvlan a killed run left (listed in its state file): removed, with the VIPs on it,
    when that run created it and it is still that link (same index and name, a private
    macvlan with a VRRP virtual MAC on ``base``); never another link. Returns the base
    interface's sysctls from before that run, for this run to restore (None: unknown)."""
    found = read_vmac_record(state_file, emit)
    if found is None:
        return None
    with _ipr() as ipr:
        return _remove_stale(ipr, found, base, emit)


def _remove_stale(
    ipr: Any, previous: tuple[VmacRecord, object], base: netif.Interface, emit: EventSink
) -> dict[str, int] | None:
    record, pid = previous
    if record.base != base.name:
        return None
    try:
        mac = bytes.fromhex(record.mac.replace(":", ""))
    except ValueError:
        return None
    if len(mac) != 6 or mac[:4] != b"\x00\x00\x5e\x00" or mac[4] not in (1, 2):
        return None  # not a VRRP virtual MAC: nothing a run of ours made
    link = next((x for x in list_links(ipr) if x.index == record.index), None)
    if (
        record.created
        and link is not None
        and link.name == record.name
        and is_our_vmac(link, base_index=base.index, mac=mac)
    ):
        _delete(ipr, link.index)
        emit(log.vmac("stale-removed", record.name, base.name, record.mac, pid=pid))
    return dict(record.base_conf) if record.created else None
