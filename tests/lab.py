"""A lab of real VRRP routers in Linux network namespaces, for tests and for captures/record.py.

Topology: each :class:`Segment` is one L2 broadcast domain, a Linux bridge in its own "switch"
namespace that behaves like a hub (MAC learning and multicast snooping off), so a monitor host
sees every frame, unicast included, as on a SPAN port. Each :class:`Host` is a namespace whose
``eth0`` is a veth cabled to a port of that bridge; optional 802.1Q sub-interfaces
(``eth0.<vid>``) ride the same cable, so one VRID can run on two VLANs of one trunk.

Peers are the Debian packages' daemons, started per host with files under the lab's work
directory: keepalived (VRRPv2/v3, PASS/AH auth, IPv4/IPv6 VIPs, unicast peers, nopreempt,
use_vmac), FRR's vrrpd (with its own zebra, an independent VRRPv3 implementation) and ucarp
(a userland CARP, IP protocol 112 like VRRP but another protocol).

Usage::

    with Lab() as lab:                     # or the ``lab`` fixture (tests/integration/conftest.py)
        lan = lab.segment()
        r1 = lab.host("r1", lan, addr4="192.0.2.253/24")
        r2 = lab.host("r2", lan, addr4="192.0.2.254/24")
        mon = lab.host("mon", lan)
        cap = mon.tcpdump(tmp / "out.pcap")
        k1 = r1.keepalived(vrid=1, priority=200, vips=["192.0.2.1/24"], auth_type="PASS",
                           auth_pass="s3cret")
        k2 = r2.keepalived(KeepalivedInstance(vrid=1, priority=100, vips=("192.0.2.1/24",)))
        r1.wait_for_address("192.0.2.1")   # it is master
        r1.link_down()                     # pull the cable at the switch port
        r2.wait_for_address("192.0.2.1", timeout=5)
        k2.stop()                          # SIGTERM: keepalived sends priority 0
        cap.stop()

API summary:

- ``Lab(prefix=None, workdir=None)``: ``prefix`` defaults to ``vwa`` + 4 random hex digits, the
  first part of every namespace and interface name the lab creates. ``lab.segment(name)``,
  ``lab.host(name, segment, addr4=, addr6=, vlans={vid: (addr4, addr6)}, ipv6=True)``,
  ``lab.close()`` (idempotent; also ``with Lab()``), ``lab.namespaces()`` (ours that exist),
  ``lab.pids`` (every process it started), ``lab.workdir``, ``lab.popen_in(ns, cmd, ...)`` and
  ``lab.start_daemon(ns, name, argv, log, ready=)``: every process of the lab starts through
  these two (recorded, stopped by PID at close; a daemon that never gets ready is killed at once).
- ``Host``: ``run(cmd)``, ``popen(cmd, log=, stdout=, stderr=, text=, env=, cwd=)``,
  ``vrrpwatch(*args, log=, stdout=, stderr=, prefix=)`` (this tree's ``python -m vrrpwatch``),
  ``start_daemon(name, argv, log, ready=)``, ``addresses(iface=None)``,
  ``has_address(ip)``, ``wait_for_address(ip, timeout, present=True)``, ``mac(iface)``,
  ``link_down()`` / ``link_up()``, ``add_vlan(vid, addr4, addr6)``, ``add_address(cidr, iface)``,
  ``ping(ip)``, ``arping(ip)``, ``keepalived(*instances, **instance_fields)``,
  ``frr_vrrpd(vrid=, priority=, vips=, ...)``, ``ucarp(vhid=, password=, vip=, advbase=,
  advskew=, preempt=, ...)``, ``tcpdump(path, iface=, bpf=)``.
- ``Daemon``: ``pid``, ``pids``, ``alive``, ``stop()`` (SIGTERM, wait), ``kill()`` (SIGKILL),
  ``log`` (text so far), ``wait_for_log(regex, timeout)``.

The peers (``KeepalivedInstance``, ``Daemon``, ``Host.keepalived`` and the other starters) are in
``tests/lab_peers.py``, the lab's error and address rule in ``tests/lab_base.py``; their names
are importable from here too.

Reading what a monitor recorded: ``tests/lab_capture.py`` (pcap frames walked to the IP
payload, truth rows), ``tests/lab_vrrp.py`` (``read_adverts``, ``masters_and_failovers``: names
also importable from here), ``tests/lab_carp.py`` (CARP).

Hygiene: only documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
2001:db8::/32, plus IPv6 link-local) are accepted; ``close()`` stops the processes the lab
started, by PID (SIGTERM, then SIGKILL), then any process still inside one of its own
namespaces (those are descendants of its daemons, e.g. keepalived's VRRP child), deletes its
namespaces (which destroys the veths) and removes its work directory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.lab_base import DOC_NETWORKS, LabError, bare, check_doc_address
from tests.lab_capture import pcap_frames
from tests.lab_peers import (
    DEFAULT_BPF,
    FRR_DIR,
    ROOT,
    UCARP,
    Daemon,
    KeepalivedInstance,
    Peers,
    terminate,
)
from tests.lab_vrrp import (
    Advert,
    MasterRun,
    master_down_interval_s,
    master_runs,
    masters_and_failovers,
    merge_split_brain,
    read_adverts,
    skew_time_s,
)

# The trunk's userspace 802.1Q tagger: argv = trunk port, then bridge:vid pairs. Every frame
# a VLAN bridge floods (it is promiscuous) goes out of the trunk port with the tag inserted
# after the MAC addresses (IEEE 802.1Q: TPID 0x8100, TCI = priority 0 | VID).
_TAGGER = """
import select, socket, struct, sys
out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
out.bind((sys.argv[1], 0))
ins = {}
for arg in sys.argv[2:]:
    br, vid = arg.split(":")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((br, 3))
    s.setsockopt(263, 1, struct.pack("iHH8s", socket.if_nametoindex(br), 1, 0, b""))
    ins[s.fileno()] = (s, struct.pack("!HH", 0x8100, int(vid)))
print("tagging", flush=True)
while True:
    for fd in select.select(list(ins), [], [])[0]:
        s, tag = ins[fd]
        data, addr = s.recvfrom(65535)
        if addr[2] != socket.PACKET_OUTGOING:
            out.send(data[:12] + tag + data[12:])
"""

REQUIRED_TOOLS = ("ip", "keepalived", "tcpdump", "tshark", "ping", "arping")


def missing_prerequisites(*, frr: bool = False, ucarp: bool = False) -> list[str]:
    """Human-readable reasons why the lab cannot run here (empty when it can)."""
    out: list[str] = []
    if os.geteuid() != 0:
        out.append("not root (network namespaces need CAP_SYS_ADMIN)")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            out.append(f"{tool} not installed")
    if frr:
        for daemon in ("zebra", "vrrpd"):
            if not (FRR_DIR / daemon).exists():
                out.append(f"{FRR_DIR / daemon} not installed (Debian package frr)")
    if ucarp and shutil.which(UCARP) is None:
        out.append("ucarp not installed (Debian package ucarp)")
    return out


@dataclass
class Segment:
    """One L2 segment: bridge ``bridge`` in the namespace ``ns``.

    A segment with a ``vlan`` is that VLAN of the lab's trunk: its bridge lives in the shared
    trunk namespace and ``Lab.trunk_monitor()`` sees its frames tagged with ``vlan``.
    """

    lab: Lab
    name: str
    ns: str
    bridge: str = "br0"
    vlan: int | None = None
    hosts: list[Host] = field(default_factory=list)


class Host(Peers):
    """A namespace ``ns`` with ``eth0`` cabled to a port of its segment's bridge, and maybe
    more interfaces cabled to other segments (``attach``)."""

    def __init__(self, lab: Lab, name: str, ns: str, segment: Segment):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.segment = segment
        # interface -> (segment namespace, switch port name)
        self.cables: dict[str, tuple[str, str]] = {}
        self.workdir = lab.workdir / name
        self.workdir.mkdir(mode=0o755, exist_ok=True)
        self._daemons = 0

    def attach(
        self, segment: Segment, iface: str, *, addr4: str | None = None, addr6: str | None = None
    ) -> str:
        """Cable a new interface ``iface`` to ``segment`` (e.g. an access port of a VLAN)."""
        self.lab._cable(self, segment, iface)
        for a in (addr4, addr6):
            if a:
                self.add_address(a, iface)
        return iface

    def __repr__(self) -> str:
        return f"Host({self.name!r}, ns={self.ns!r})"

    # -- commands -------------------------------------------------------------------------
    def run(
        self, cmd: Sequence[str] | str, *, check: bool = True, timeout: float = 20.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in this namespace and wait. ``cmd`` as a string is split on blanks."""
        argv = cmd.split() if isinstance(cmd, str) else list(cmd)
        return self.lab.sh(["ip", "netns", "exec", self.ns, *argv], check=check, timeout=timeout)

    def popen(
        self,
        cmd: Sequence[str] | str,
        *,
        log: Path | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        text: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[Any]:
        """Start a background process in this namespace; the lab stops it at close()
        (``Lab.popen_in``)."""
        return self.lab.popen_in(
            self.ns, cmd, log=log, stdout=stdout, stderr=stderr, text=text, env=env, cwd=cwd
        )

    # -- addresses and links ------------------------------------------------------------------
    def addresses(
        self, iface: str | None = None
    ) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
        """Every address on ``iface`` (or on all interfaces but lo)."""
        argv = ["ip", "-j", "addr", "show"] + (["dev", iface] if iface else [])
        links: list[dict[str, Any]] = json.loads(self.run(argv).stdout or "[]")
        out: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
        for link in links:
            if link.get("ifname") == "lo":
                continue
            for a in link.get("addr_info", []):
                out.append(ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}"))
        return out

    def has_address(self, addr: str) -> bool:
        ip = ipaddress.ip_interface(addr).ip
        return any(a.ip == ip for a in self.addresses())

    def wait_for_address(self, addr: str, timeout: float = 10.0, *, present: bool = True) -> float:
        """Poll until the address is (or is no longer) on the host; returns the seconds taken."""
        start = time.monotonic()
        while self.has_address(addr) != present:
            if time.monotonic() - start > timeout:
                verb = "get" if present else "lose"
                raise LabError(f"{self.name} did not {verb} {addr} within {timeout} s")
            time.sleep(0.02)
        return time.monotonic() - start

    def mac(self, iface: str = "eth0") -> str:
        info: list[dict[str, Any]] = json.loads(
            self.run(["ip", "-j", "link", "show", iface]).stdout
        )
        return str(info[0]["address"])

    def add_address(self, cidr: str, iface: str = "eth0") -> None:
        check_doc_address(cidr)
        extra = ["nodad"] if ipaddress.ip_interface(cidr).version == 6 else []
        self.run(["ip", "addr", "add", cidr, "dev", iface, *extra])

    def add_vlan(self, vid: int, addr4: str | None = None, addr6: str | None = None) -> str:
        """An 802.1Q sub-interface ``eth0.<vid>`` on this host's cable; returns its name."""
        name = f"eth0.{vid}"
        r = self.run(
            ["ip", "link", "add", "link", "eth0", "name", name, "type", "vlan", "id", str(vid)],
            check=False,
        )
        if r.returncode != 0:
            raise LabError(
                f"802.1Q sub-interface {name}: {r.stderr.strip()} (kernel without 8021q?)"
            )
        self.run(["ip", "link", "set", name, "up"])
        for a in (addr4, addr6):
            if a:
                self.add_address(a, name)
        return name

    def link_down(self, iface: str = "eth0") -> None:
        """Pull the cable: the switch port goes down, the host sees carrier loss."""
        ns, port = self.cables[iface]
        self.lab.sh(["ip", "-n", ns, "link", "set", port, "down"])

    def link_up(self, iface: str = "eth0") -> None:
        ns, port = self.cables[iface]
        self.lab.sh(["ip", "-n", ns, "link", "set", port, "up"])

    def ping(self, addr: str, *, count: int = 1, timeout_s: int = 2) -> bool:
        check_doc_address(addr)
        r = self.run(
            ["ping", "-n", "-c", str(count), "-W", str(timeout_s), bare(addr)], check=False
        )
        return r.returncode == 0

    def arping(self, addr: str, *, iface: str = "eth0", count: int = 1) -> bool:
        check_doc_address(addr)
        r = self.run(
            ["arping", "-q", "-c", str(count), "-w", "2", "-i", iface, bare(addr)], check=False
        )
        return r.returncode == 0


class Lab:
    """Namespaces, bridges, veths and processes of one run, all named ``<prefix>-...``."""

    def __init__(self, prefix: str | None = None, workdir: Path | str | None = None):
        self.prefix = prefix or self._fresh_prefix()
        if len(self.prefix) > 7:
            raise LabError("prefix must be at most 7 characters (interface names <= 15)")
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)  # FRR runs as user frr and must reach its run directory
        self.processes: list[subprocess.Popen[Any]] = []
        self.segments: list[Segment] = []
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._trunk_ns: str | None = None
        self.closed = False
        self.teardown_notes: list[str] = []

    @staticmethod
    def _fresh_prefix() -> str:
        """``vwa`` + 4 random hex digits that no existing namespace uses yet."""
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
        taken = r.stdout if r.returncode == 0 else ""
        while True:
            prefix = f"vwa{secrets.token_hex(2)}"
            if f"{prefix}-" not in taken:
                return prefix

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def sh(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 20.0
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if check and r.returncode != 0:
            raise LabError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def popen_in(
        self,
        ns: str,
        cmd: Sequence[str] | str,
        *,
        log: Path | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        text: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[Any]:
        """Start a background process in namespace ``ns``, in its own session, and record it:
        ``close()`` stops it by PID. Output is appended to ``log`` (else discarded), unless
        ``stdout`` / ``stderr`` (e.g. ``subprocess.PIPE``) say otherwise."""
        argv = cmd.split() if isinstance(cmd, str) else list(cmd)
        out: IO[bytes] | int = subprocess.DEVNULL
        fh = None
        if log is not None:
            fh = open(log, "ab")  # noqa: SIM115 - the child owns it from now on
            out = fh
        try:
            # `ip netns exec` execs the command, so the Popen pid is the daemon's pid.
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdin=subprocess.DEVNULL,
                stdout=out if stdout is None else stdout,
                stderr=subprocess.STDOUT if stderr is None else stderr,
                text=text,
                env=None if env is None else dict(env),
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            if fh is not None:
                fh.close()
        self.processes.append(proc)
        return proc

    def start_daemon(
        self,
        ns: str,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        ready: str | Callable[[Daemon], object] | None = None,
    ) -> Daemon:
        """Start ``argv`` in namespace ``ns`` as the daemon ``name`` (output in ``log``) and wait
        until it is ``ready`` (a regex its log shows, or a callable given the Daemon). If it is
        not, it is killed by PID before the LabError goes up: no failed start is left running
        (and ``close()`` stops every one that started)."""
        daemon = Daemon(self, name, [self.popen_in(ns, argv, log=log)], log)
        try:
            if isinstance(ready, str):
                daemon.wait_for_log(ready)
            elif ready is not None:
                ready(daemon)
        except BaseException:
            daemon.kill()
            raise
        return daemon

    def _add_ns(self, name: str) -> str:
        ns = f"{self.prefix}-{name}"
        self.sh(["ip", "netns", "add", ns])
        self._namespaces.append(ns)
        self.sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        # No DAD (addresses usable at once) and no router solicitations (less noise on captures).
        for key in ("accept_dad=0", "router_solicitations=0", "dad_transmits=0"):
            for scope in ("all", "default"):
                self.sh(["ip", "netns", "exec", ns, "sysctl", "-q", f"net.ipv6.conf.{scope}.{key}"])
        return ns

    def segment(self, name: str | None = None, *, vlan: int | None = None) -> Segment:
        """A new L2 segment (a hub-like bridge in its own namespace), or VLAN ``vlan`` of the
        lab's trunk (a bridge ``br<vlan>`` in the shared trunk namespace)."""
        name = name or (f"vlan{vlan}" if vlan is not None else f"sw{len(self.segments)}")
        if vlan is None:
            ns, bridge = self._add_ns(name), "br0"
        else:
            if not 1 <= vlan <= 4094 or any(s.vlan == vlan for s in self.segments):
                raise LabError(f"VLAN {vlan}: invalid or already a segment")
            if self._trunk_ns is None:
                self._trunk_ns = self._add_ns("trunk")
            ns, bridge = self._trunk_ns, f"br{vlan}"
        self.sh(["ip", "-n", ns, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0"])
        self.sh(["ip", "-n", ns, "link", "set", bridge, "up"])
        seg = Segment(self, name, ns, bridge, vlan)
        self.segments.append(seg)
        return seg

    def _new_host(self, name: str, segment: Segment | None, ipv6: bool) -> Host:
        if name in self.hosts:
            raise LabError(f"host {name} exists")
        if len(self.prefix) + len(name) > 13 or not re.fullmatch(r"[a-z0-9]+", name):
            raise LabError(
                f"host name {name!r}: lowercase alphanumeric, at most {13 - len(self.prefix)}"
            )
        seg = segment or (self.segments[0] if self.segments else self.segment())
        ns = self._add_ns(name)
        if not ipv6:
            self.sh(
                ["ip", "netns", "exec", ns, "sysctl", "-q", "net.ipv6.conf.default.disable_ipv6=1"]
            )
        h = Host(self, name, ns, seg)
        self.hosts[name] = h
        return h

    def _cable(self, h: Host, seg: Segment | None, iface: str, *, port: str | None = None) -> str:
        """A veth from ``h`` (``iface``) to a new port of ``seg``'s bridge (or, without a
        segment, a bare port ``port`` in the trunk namespace). Returns the port name."""
        if iface in h.cables:
            raise LabError(f"{h.name} already has {iface}")
        sw_ns = seg.ns if seg else self._trunk_ns
        assert sw_ns is not None
        port = port or f"{self.prefix}{h.name}" + (str(len(h.cables)) if h.cables else "")
        if len(port) > 15 or len(iface) > 15:
            raise LabError(f"interface name too long: {port} / {iface}")
        # The veth is created inside the switch namespace: nothing appears in the root namespace.
        self.sh(["ip", "-n", sw_ns, "link", "add", port, "type", "veth", "peer", "name", iface,
                 "netns", h.ns])  # fmt: skip
        if seg is not None:
            self.sh(["ip", "-n", sw_ns, "link", "set", port, "master", seg.bridge])
            # Hub behaviour: flood every frame to every port, like a mirror port for a monitor.
            self.sh(["ip", "-n", sw_ns, "link", "set", port, "type", "bridge_slave",
                     "learning", "off"])  # fmt: skip
            seg.hosts.append(h)
        self.sh(["ip", "-n", sw_ns, "link", "set", port, "up"])
        h.cables[iface] = (sw_ns, port)
        h.run(["ip", "link", "set", iface, "up"])
        return port

    def host(
        self,
        name: str,
        segment: Segment | None = None,
        *,
        addr4: str | None = None,
        addr6: str | None = None,
        vlans: Mapping[int, tuple[str | None, str | None]] | Iterable[int] | None = None,
        ipv6: bool = True,
    ) -> Host:
        """A host whose ``eth0`` is cabled to ``segment`` (default: the first one).

        ``vlans`` maps VLAN ids to (addr4, addr6) for 802.1Q sub-interfaces ``eth0.<vid>``
        (needs a kernel with 8021q), or lists VLAN ids. ``ipv6=False`` disables IPv6 on the
        host (a silent monitor).
        """
        h = self._new_host(name, segment, ipv6)
        self._cable(h, h.segment, "eth0")
        for a in (addr4, addr6):
            if a:
                h.add_address(a)
        if vlans:
            items = (
                vlans.items() if isinstance(vlans, Mapping) else ((v, (None, None)) for v in vlans)
            )
            for vid, (a4, a6) in items:
                h.add_vlan(vid, a4, a6)
        return h

    def trunk_monitor(self, name: str = "mon") -> Host:
        """A silent host on an 802.1Q trunk carrying every VLAN segment created so far.

        Frames of segment VLAN v reach the monitor's ``eth0`` with an 802.1Q tag v. The
        tagging is done by a small userspace switch in the trunk namespace (AF_PACKET, one
        socket per VLAN bridge), so the lab needs neither the 8021q module nor bridge VLAN
        filtering. It forwards towards the monitor only: the monitor listens.
        """
        vlan_segs = [s for s in self.segments if s.vlan is not None]
        if not vlan_segs or self._trunk_ns is None:
            raise LabError("trunk_monitor: create VLAN segments first (lab.segment(vlan=...))")
        h = self._new_host(name, vlan_segs[0], ipv6=False)
        port = self._cable(h, None, "eth0", port=f"{self.prefix}trunk")
        log = self.workdir / "trunk.log"
        argv = [sys.executable, "-c", _TAGGER, port] + [f"{s.bridge}:{s.vlan}" for s in vlan_segs]
        self.start_daemon(self._trunk_ns, "trunk", argv, log, ready="tagging")
        return h

    def namespaces(self) -> list[str]:
        """Namespaces with this run's prefix that currently exist."""
        out = self.sh(["ip", "netns", "list"]).stdout
        names = [line.split()[0] for line in out.splitlines() if line.strip()]
        return [n for n in names if n.startswith(f"{self.prefix}-")]

    def living_pids(self) -> list[int]:
        """PIDs the lab started that still run (zombies already reaped do not count)."""
        alive = []
        for p in self.processes:
            if p.poll() is None:
                alive.append(p.pid)
        return alive

    def close(self) -> None:
        """Stop everything and delete every namespace of this run. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        for p in reversed(self.processes):
            try:
                terminate(p, signal.SIGTERM, 5.0)
            except Exception as e:  # keep tearing down whatever happens
                self.teardown_notes.append(f"pid {p.pid}: {e}")
        for ns in reversed(self._namespaces):
            # Whatever still runs in our own namespace descends from a daemon we started.
            r = self.sh(["ip", "netns", "pids", ns], check=False)
            for pid in r.stdout.split():
                self.teardown_notes.append(f"killed leftover pid {pid} in {ns}")
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for ns in reversed(self._namespaces):
            r = self.sh(["ip", "netns", "del", ns], check=False)
            if r.returncode != 0:
                self.teardown_notes.append(f"ip netns del {ns}: {r.stderr.strip()}")
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# Reading captures lives in tests/lab_capture.py (frames) and tests/lab_vrrp.py (VRRP adverts,
# truth); the names stay importable from here.
__all__ = [
    "DEFAULT_BPF",
    "DOC_NETWORKS",
    "FRR_DIR",
    "ROOT",
    "UCARP",
    "Advert",
    "check_doc_address",
    "Daemon",
    "Host",
    "KeepalivedInstance",
    "Lab",
    "LabError",
    "MasterRun",
    "Segment",
    "master_down_interval_s",
    "master_runs",
    "masters_and_failovers",
    "merge_split_brain",
    "missing_prerequisites",
    "pcap_frames",
    "read_adverts",
    "skew_time_s",
]
