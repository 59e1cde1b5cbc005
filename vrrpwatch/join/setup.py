"""join's set-up: check the options, open the interface, learn the group from the wire, build
the router's configuration, clean up after a killed run, and hand over to the loop (the
signals and the SIGHUP reload are ``join.reload``'s).

``join()`` is the library entry point of ``vrrpwatch join``: the CLI resolves its options
(``settings.resolve_options``) and calls it with an event sink. Every reason it cannot start
is a ``JoinError``; a signal before or while it runs ends it with exit status 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dissectors.ah import AhCheck, ah_key, check_ah
from dissectors.common import DecodeError, IPAddress
from dissectors.vrrp import AuthType, VrrpPacket, VrrpV2, parse_vrrp, validate_advert
from vrrpwatch import netif
from vrrpwatch.join import log
from vrrpwatch.join.checks import (
    check_options,
    check_peers,
    check_vips,
    parse_peer,
    parse_vip,
    read_auth_pass,
)
from vrrpwatch.join.group import SyncGroup
from vrrpwatch.join.log import EventSink
from vrrpwatch.join.loop import GroupRun, Runtime
from vrrpwatch.join.mux import TransportMux
from vrrpwatch.join.notify import NotifyFifo, split_command
from vrrpwatch.join.reload import Reload, Running, Stop, notifier_for
from vrrpwatch.join.router import RouterConfig, VirtualRouter, discard_reason
from vrrpwatch.join.settings import JoinError, JoinOptions, JoinPlan
from vrrpwatch.join.statefile import InstanceLock, lock_name, remove_stale_addresses
from vrrpwatch.join.trackers import Trackers
from vrrpwatch.join.transport import RawTransport, Received, Transport
from vrrpwatch.join.unit import Unit
from vrrpwatch.join.vmac import check_vmac_options, remove_stale_vmac, start_vmac
from vrrpwatch.text import raw_bytes

__all__ = [
    "Learnt",
    "build_config",
    "check_options",
    "default_state_file",
    "join",
    "learn_group",
    "with_password_file",
]


@dataclass(frozen=True, slots=True)
class Learnt:
    adv: VrrpPacket
    src: IPAddress


def learn_group(
    transport: Transport,
    vrid: int,
    timeout_s: float,
    *,
    family: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    stop: Callable[[], bool] = lambda: False,
    ah: bytes | None = None,
    ah_zero_ttl: bool = False,
) -> Learnt | None:
    """Wait for the current master's advertisement for ``vrid``; None after ``timeout_s``
    (or as soon as ``stop()`` is true). With an AH key (``ah``), only from an advert whose
    AH ICV and SPI verify."""
    end = clock() + timeout_s
    while True:
        left = end - clock()
        if left <= 0 or stop():
            return None
        for item in transport.wait(left):
            if not isinstance(item, Received):
                continue
            if family is not None and item.src.version != family:
                continue
            if item.ah is not None and (
                ah is None or check_ah(ah, item.ah, zero_ttl=ah_zero_ttl) is not AhCheck.OK
            ):
                continue
            try:
                adv = parse_vrrp(item.payload, src=item.src, dst=item.dst)
            except DecodeError:
                continue
            # The current master's advertisement (priority 0: it is leaving), and one our
            # router would accept: the same RFC 5798 section 7.1 checks.
            if adv.vrid != vrid or adv.priority == 0:
                continue
            findings = validate_advert(adv, src=item.src, dst=item.dst, ttl=item.ttl)
            if discard_reason(findings) is not None:
                continue
            return Learnt(adv, item.src)


def build_config(
    opts: JoinOptions,
    iface: netif.Interface,
    learnt: Learnt | None,
    *,
    mtu: int = 1500,
) -> tuple[RouterConfig, dict[IPAddress, int]]:
    """Merge flags and what was learnt from the wire into a RouterConfig and VIP prefixes."""
    parsed = [parse_vip(text) for text in opts.vips]
    prefixes = {vip: plen for vip, plen in parsed if plen is not None}
    vips = [vip for vip, _ in parsed]
    adv = learnt.adv if learnt else None
    what = "--vip"
    if not vips:
        if adv is None:
            raise JoinError("no virtual address known")
        vips = list(adv.addresses)
        what = "the master's advert"
        if not vips:
            raise JoinError("no virtual address known (the master's advert lists none)")
    family = vips[0].version
    for vip in vips:
        prefixes.setdefault(vip, iface.prefix_for(vip))
    if opts.version is not None:
        version = opts.version
    elif adv is not None:
        version = adv.version
    else:
        version = 2 if family == 4 else 3  # keepalived's default for IPv4 is VRRPv2
    if version == 2 and family == 6:
        raise JoinError("VRRPv2 carries IPv4 only; use --version 3 for IPv6")
    # Learnt VIPs are checked as given ones are (a hostile master must not make us add a
    # multicast or broadcast address), with the interface's subnets and MTU.
    check_vips(vips, prefixes, version=version, mtu=mtu, what=what)
    check_peers((parse_peer(p) for p in opts.unicast_peers), family)
    if opts.advert_int_s is not None:
        interval_cs = round(opts.advert_int_s * 100)
    elif adv is not None and adv.version == version:
        interval_cs = adv.interval_cs
    else:
        interval_cs = 100
    auth: bytes | None = None
    key = ah_key_of(opts)
    if key is not None:
        if version != 2:
            raise JoinError("AH authentication (--auth-type ah) is VRRPv2 only")
    elif opts.auth_pass is not None:
        auth = raw_bytes(opts.auth_pass)
    elif opts.auth_type == "pass":
        raise JoinError("--auth-type pass needs --auth-pass-file (or --auth-pass)")
    elif isinstance(adv, VrrpV2) and version == 2:
        if adv.auth_type == AuthType.SIMPLE:
            auth = adv.password
        elif adv.auth_type != AuthType.NONE:
            raise JoinError(
                f"the master uses VRRPv2 auth type {adv.auth_type}; join supports simple "
                "password (PASS) and keepalived's AH (--auth-type ah with --auth-pass-file)"
            )
    primary = iface.primary(family, exclude=vips)
    if primary is None:
        kind = "IPv4" if family == 4 else "link-local IPv6"
        raise JoinError(f"interface {iface.name} has no {kind} address to send adverts from")
    if opts.priority == 255 and not any(iface.has_address(v) for v in vips):
        raise JoinError(
            "priority 255 means address owner: one of the virtual addresses must be an "
            f"address of {iface.name}"
        )
    try:
        config = RouterConfig(
            vrid=opts.vrid,
            priority=opts.priority,
            primary_address=primary,
            addresses=tuple(vips),
            version=version,
            advertisement_interval_cs=interval_cs,
            preempt_mode=opts.preempt,
            preempt_delay_s=opts.preempt_delay_s,
            accept_mode=opts.accept_mode or opts.priority == 255,
            auth_pass=auth,
            ah_key=key,
            ah_zero_ttl=key is not None and bool(opts.unicast_peers),
            garp_repeat=opts.garp_repeat,
            garp_delay_s=opts.garp_delay_s,
        )
    except ValueError as exc:
        raise JoinError(str(exc)) from None
    return config, prefixes


def ah_key_of(opts: JoinOptions) -> bytes | None:
    """The HMAC key of ``--auth-type ah`` (keepalived's: auth_pass cut to 8 bytes), or None
    without AH. ``JoinError`` when AH has no password."""
    if opts.auth_type not in (None, "pass", "ah"):
        raise JoinError(f"auth type {opts.auth_type!r}: must be pass or ah")
    if opts.auth_type != "ah":
        return None
    if opts.auth_pass is None:
        raise JoinError("--auth-type ah needs --auth-pass-file (or --auth-pass, or --config)")
    return ah_key(raw_bytes(opts.auth_pass))


def state_dir() -> Path:
    """Where the state files go without ``--state-file``: systemd's ``$RUNTIME_DIRECTORY`` (set
    by a unit's ``RuntimeDirectory=``; the first when it lists several), else /run/vrrpwatch."""
    first = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(first) if os.path.isabs(first) else Path("/run/vrrpwatch")


def default_state_file(iface: str, vrid: int, family: int) -> Path:
    """``STATE_DIR/join-IFACE-vridN-ipvF-netns-INODE.json`` (``state_dir``), one per instance:
    interface names repeat across network namespaces (every lab host has an eth0), so the
    namespace's inode is in the name."""
    name = f"join-{iface}-vrid{vrid}-ipv{family}"
    with contextlib.suppress(OSError):
        name += f"-netns-{os.stat('/proc/self/ns/net').st_ino}"
    return state_dir() / f"{name}.json"


def with_password_file(opts: JoinOptions) -> JoinOptions:
    """``--auth-pass-file``: the options with the file's password as ``auth_pass``."""
    if opts.auth_pass_file is None:
        return opts
    return dataclasses.replace(
        opts, auth_pass=read_auth_pass(opts.auth_pass_file), auth_pass_file=None
    )


def _mtu(name: str) -> int:
    """The interface MTU (1500 when it cannot be read)."""
    try:
        return int(Path(f"/sys/class/net/{name}/mtu").read_text())
    except (OSError, ValueError):
        return 1500


def join(
    opts: JoinOptions | JoinPlan,
    emit: EventSink,
    *,
    before_start: Callable[[], None] | None = None,
    on_runtime: Callable[[Runtime], None] | None = None,
    reread: Callable[[], JoinOptions | JoinPlan] | None = None,
) -> int:
    """Set up and run ``vrrpwatch join``: one instance (``JoinOptions``) or several and their
    sync groups (``JoinPlan``), all in one loop; returns the exit status.

    ``before_start`` runs once the arguments, root and the interfaces are checked (the CLI
    opens its database there, so a bad invocation leaves no file behind); ``on_runtime`` gets
    the runtime before it runs (``--metrics`` reads it). With ``reread`` (``--config``),
    SIGHUP re-reads the configuration as keepalived does (``reload.Reload``).
    """
    plan = opts if isinstance(opts, JoinPlan) else JoinPlan(instances=(opts,))
    if not plan.instances:
        raise JoinError("no instance to run")
    for o in plan.instances:
        check_options(o)
        check_vmac_options(o)
    if not netif.is_root():
        raise JoinError("join needs root (raw sockets and address changes); run it with sudo")
    instances = [with_password_file(o) for o in plan.instances]
    ifaces: list[netif.Interface] = []
    try:
        for o in instances:
            ifaces.append(netif.get_interface(o.interface or netif.default_interface()))
    except netif.NetifError as exc:
        raise JoinError(str(exc)) from None
    families: list[int | None] = [_family(o) for o in instances]
    if before_start is not None:
        before_start()
    transports: list[RawTransport] = []
    stop = Stop(transports)
    try:
        for i, (o, iface) in enumerate(zip(instances, ifaces, strict=True)):
            transport, families[i] = _open_transport(o, iface, families[i])
            transports.append(transport)
        old_handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        if reread is not None:
            old_handlers[signal.SIGHUP] = signal.signal(signal.SIGHUP, stop.hup)
        old_wakeup = signal.set_wakeup_fd(transports[0].wake_fd, warn_on_full_buffer=False)
        try:
            return _join(
                plan, instances, ifaces, transports, families, emit, stop, on_runtime, reread
            )
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
    finally:
        for t in transports:
            t.close()
        stop.close()


def _open_transport(
    opts: JoinOptions, iface: netif.Interface, family: int | None
) -> tuple[RawTransport, int | None]:
    """The instance's raw sockets, and its address family (AH makes it IPv4)."""
    key = ah_key_of(opts)
    if key is not None:
        if family == 6:
            raise JoinError("AH authentication (--auth-type ah) is IPv4 (VRRPv2) only")
        family = 4
    peers = tuple(parse_peer(p) for p in opts.unicast_peers)
    families = (family,) if family else (4, 6)
    return RawTransport(iface, families=families, unicast_peers=peers, ah_key=key), family


def _family(opts: JoinOptions) -> int | None:
    if opts.vips:
        return parse_vip(opts.vips[0])[0].version
    if opts.unicast_peers:
        return parse_peer(opts.unicast_peers[0]).version
    return None


def _join(
    plan: JoinPlan,
    instances: list[JoinOptions],
    ifaces: list[netif.Interface],
    transports: list[RawTransport],
    families: list[int | None],
    emit: EventSink,
    stop: Stop,
    on_runtime: Callable[[Runtime], None] | None = None,
    reread: Callable[[], JoinOptions | JoinPlan] | None = None,
) -> int:
    fifo_paths = plan.notify_fifos or (instances[0].notify_fifos if len(instances) == 1 else ())
    stop.fifos = [NotifyFifo(p) for p in fifo_paths]
    units: list[Unit] = []
    for opts, iface, transport, fam in zip(instances, ifaces, transports, families, strict=True):
        unit = _prepare(opts, emit, iface, transport, fam, stop)
        if unit is None:
            emit(log.stopped_before_joining())
            return 0
        units.append(unit)
    groups = [
        GroupRun(
            SyncGroup(g.name, g.members),
            notifier_for(dict(g.notify_scripts), g.name, "GROUP", stop.fifos),
        )
        for g in plan.groups
    ]
    mux = TransportMux(transports) if len(transports) > 1 else None
    try:
        runtime = Runtime(units=units, groups=groups, mux=mux)
        if reread is not None:
            running = {
                o.instance: Running(o, u, t)
                for o, u, t in zip(plan.instances, units, transports, strict=True)
            }
            runtime.reloader = Reload(
                reread,
                emit,
                stop,
                running,
                transports,
                start=functools.partial(
                    _start_instance, emit=emit, stop=stop, transports=transports
                ),
            )
        stop.runtime = runtime
        if on_runtime is not None:
            on_runtime(runtime)
        if stop.requested:
            runtime.request_stop()
        return runtime.run()
    finally:
        if mux is not None:
            mux.close()


def _start_instance(
    planned: JoinOptions, emit: EventSink, stop: Stop, transports: list[RawTransport]
) -> Running:
    """An instance a reload adds (or changes): opened and prepared without learning from the
    wire (``Reload`` must not hold up the running instances); its transport joins
    ``transports``."""
    opts = dataclasses.replace(with_password_file(planned), learn_timeout_s=0.0)
    if not opts.vips:
        # Learning blocks for --learn-timeout, and the running instances must not wait.
        raise JoinError(
            "an instance a reload starts does not learn its group from the wire; "
            "give its virtual_ipaddress in the config"
        )
    try:
        iface = netif.get_interface(opts.interface or netif.default_interface())
    except netif.NetifError as exc:
        raise JoinError(str(exc)) from None
    transport, fam = _open_transport(opts, iface, _family(opts))
    try:
        unit = _prepare(opts, emit, iface, transport, fam, stop)
        if unit is None:
            raise JoinError("stopping")
    except BaseException:
        transport.close()
        raise
    transports.append(transport)
    return Running(planned, unit, transport)


def _prepare(
    opts: JoinOptions,
    emit: EventSink,
    iface: netif.Interface,
    transport: RawTransport,
    want_family: int | None,
    stop: Stop,
) -> Unit | None:
    """One instance: learn its group, build its router, lock, clean up after a killed run;
    None when a signal came first."""
    if not transport.socks:
        raise JoinError(f"interface {iface.name} has no address to run VRRP from")
    # The kernel drops adverts of other groups from here on: a flood for them never reaches us.
    transport.set_filter(opts.vrid)
    if opts.use_vmac is not None and want_family is not None and not opts.dry_run:
        # A killed run's macvlan would take the peers' adverts from the virtual MAC while we
        # learn (join.vmac): it goes first, under the lock.
        path = Path(opts.state_file or default_state_file(iface.name, opts.vrid, want_family))
        what = f"{iface.name} VRID {opts.vrid} IPv{want_family}"
        stop.locks[opts.instance] = InstanceLock(
            lock_name(iface.name, opts.vrid, want_family), what
        )
        remove_stale_vmac(path, iface, emit)
    emit(log.listening(iface.name, opts.vrid, opts.learn_timeout_s))
    learnt = learn_group(
        transport,
        opts.vrid,
        opts.learn_timeout_s,
        family=want_family,
        stop=lambda: stop.requested,
        ah=transport.ah_key,
        ah_zero_ttl=bool(opts.unicast_peers),
    )
    if stop.requested:
        return None
    if learnt is None and not opts.vips:
        raise JoinError(
            f"no advert for VRID {opts.vrid} seen on {iface.name} within "
            f"{opts.learn_timeout_s:g} s; pass --vip (and --version, --advert-int, "
            "--auth-pass as needed), --interface or --unicast-peer"
        )
    if learnt is not None:
        emit(log.learnt(learnt.adv, learnt.src))
    config, prefixes = build_config(opts, iface, learnt, mtu=_mtu(iface.name))
    transport.keep_family(config.family)
    # ... and, for adverts of our own length, those with a bad checksum (RFC 5798 section
    # 5.2.8): the 8-byte header, the addresses and VRRPv2's 8 bytes of authentication data.
    length = 8 + len(config.addresses) * (4 if config.family == 4 else 16)
    transport.set_filter(config.vrid, config.version, length=length + 8 * (config.version == 2))
    for fam in (4, 6):
        if fam == config.family and netif.forwarding_enabled(iface.name, fam) is False:
            emit(log.forwarding_off(iface.name, fam))
    default = default_state_file(iface.name, config.vrid, config.family)
    state_file = Path(opts.state_file or default)
    if not opts.dry_run:
        # One live join per interface, VRID and family (whatever its --state-file): a second
        # would take the first one's VIPs for a killed run's. Released when the process ends.
        what = f"{iface.name} VRID {config.vrid} IPv{config.family}"
        if opts.instance not in stop.locks:
            stop.locks[opts.instance] = InstanceLock(
                lock_name(iface.name, config.vrid, config.family), what
            )
        base_conf = remove_stale_vmac(state_file, iface, emit)
        remove_stale_addresses(
            state_file,
            transport,
            emit,
            interface=iface.name,
            vips=config.addresses,
            primary=config.primary_address,
        )
        vmac = start_vmac(opts, config, iface, transport, state_file, emit, base_conf=base_conf)
        if vmac is not None:
            stop.cleanups[opts.instance] = functools.partial(vmac.close, emit, state_file)
    else:
        vmac = None
    router = VirtualRouter(config)
    if not iface.up:
        router.link_down(time.monotonic())
    trackers = None
    if opts.tracking is not None:
        trackers = Trackers(setup=opts.tracking, base_priority=config.priority)
    scripts = dict(opts.notify_scripts)
    if opts.notify is not None:
        scripts["notify"] = split_command(opts.notify)  # --notify replaces the config's
    return Unit(
        router=router,
        transport=transport,
        emit=emit,
        interface=iface.name,
        instance=opts.instance,
        prefixes=prefixes,
        dry_run=opts.dry_run,
        notify=notifier_for(scripts, opts.instance, "INSTANCE", stop.fifos),
        state_file=state_file,
        trackers=trackers,
        vmac=vmac.record if vmac is not None else None,
    )
