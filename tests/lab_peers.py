"""The peers a lab host runs, each a :class:`Daemon` stopped by PID: keepalived, FRR's zebra +
vrrpd, ucarp, tcpdump, and this tree's vrrpwatch. ``Host`` (tests/lab.py) has these methods
from :class:`Peers`; every process starts through ``Lab.popen_in`` / ``Lab.start_daemon``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.lab_base import LabError, bare, check_doc_address

if TYPE_CHECKING:
    from tests.lab import Lab

# What a VRRP monitor port should record: VRRP over IPv4 and IPv6, VRRPv2 inside AH (RFC 2338
# section 5.3.6.3, IP protocol 51), ARP (gratuitous ARPs of a new master) and ICMPv6 without
# extension headers (neighbour advertisements; MLD carries a hop-by-hop header and stays out),
# untagged or under one 802.1Q tag.
_VRRP_BPF = "(ip proto 112 or ip proto 51 or ip6 proto 112 or arp or icmp6)"
DEFAULT_BPF = f"{_VRRP_BPF} or (vlan and {_VRRP_BPF})"

ROOT = Path(__file__).resolve().parents[1]
FRR_DIR = Path("/usr/lib/frr")
UCARP = "ucarp"


@dataclass(frozen=True)
class KeepalivedInstance:
    """One ``vrrp_instance`` of a keepalived configuration.

    ``advert_int`` is in seconds (sub-second only with ``version=3``). ``auth_type`` is None,
    ``"PASS"`` or ``"AH"`` (VRRPv2 only). ``unicast_src``/``mcast_src`` set the adverts'
    source address (keepalived ``unicast_src_ip``/``mcast_src_ip``). ``vips`` are CIDR
    strings; the first one's family makes the instance IPv4 or IPv6. ``interface`` may be
    a VLAN sub-interface (``eth0.10``).
    """

    vrid: int
    priority: int = 100
    state: str = "BACKUP"
    version: int = 2
    advert_int: float = 1.0
    auth_type: str | None = None
    auth_pass: str | None = None
    vips: tuple[str, ...] = ()
    unicast_peers: tuple[str, ...] = ()
    unicast_src: str | None = None
    mcast_src: str | None = None
    nopreempt: bool = False
    use_vmac: bool = False
    interface: str = "eth0"
    name: str | None = None

    @property
    def family(self) -> int:
        return ipaddress.ip_interface(self.vips[0]).version if self.vips else 4

    def render(self, index: int) -> str:
        for a in (
            *self.vips,
            *self.unicast_peers,
            *([self.unicast_src] if self.unicast_src else []),
            *([self.mcast_src] if self.mcast_src else []),
        ):
            check_doc_address(a)
        name = self.name or f"VI_{index}"
        lines = [
            f"vrrp_instance {name} {{",
            f"  state {self.state}",
            f"  interface {self.interface}",
            f"  virtual_router_id {self.vrid}",
            f"  priority {self.priority}",
            f"  advert_int {self.advert_int:g}",
            f"  version {self.version}",
        ]
        if self.nopreempt:
            lines.append("  nopreempt")
        if self.use_vmac:
            # keepalived creates a macvlan with the virtual MAC and sends its adverts from it
            # (RFC 5798 section 7.3); the interface name must stay within 15 characters.
            lines.append(f"  use_vmac vrrp.{self.family}.{self.vrid}")
        if self.auth_type:
            lines += [
                "  authentication {",
                f"    auth_type {self.auth_type}",
                f"    auth_pass {self.auth_pass or ''}",
                "  }",
            ]
        if self.unicast_src:
            lines.append(f"  unicast_src_ip {bare(self.unicast_src)}")
        if self.mcast_src:
            lines.append(f"  mcast_src_ip {bare(self.mcast_src)}")
        if self.unicast_peers:
            lines.append("  unicast_peer {")
            lines += [f"    {bare(p)}" for p in self.unicast_peers]
            lines.append("  }")
        lines.append("  virtual_ipaddress {")
        dev = self.interface
        lines += [f"    {v} dev {dev}" for v in self.vips]
        lines += ["  }", "}"]
        return "\n".join(lines)


class Daemon:
    """Processes the lab started on a host, stopped by PID. ``log`` is their combined output."""

    def __init__(self, lab: Lab, name: str, procs: list[subprocess.Popen[Any]], log: Path):
        self.lab = lab
        self.name = name
        self.procs = procs
        self.log_path = log

    @property
    def pid(self) -> int:
        return self.procs[0].pid

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears in the log; LabError on timeout or exit."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.log)
            if m:
                return m
            if not self.alive:
                raise LabError(f"{self.name} exited waiting for {pattern!r}:\n{self.log[-2000:]}")
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: no {pattern!r} in {timeout} s:\n{self.log[-2000:]}")
            time.sleep(0.05)

    def wait_for_path(self, path: Path, timeout: float = 10.0) -> None:
        """Wait until ``path`` exists (a socket the daemon creates); LabError on timeout or exit."""
        deadline = time.monotonic() + timeout
        while not path.exists():
            if not self.alive:
                raise LabError(f"{self.name} exited before creating {path}:\n{self.log[-2000:]}")
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: no {path} in {timeout} s:\n{self.log[-2000:]}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM each process (last started first) and wait; SIGKILL if it does not exit."""
        for p in reversed(self.procs):
            terminate(p, signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: the daemon dies without a word (no priority-0 advert)."""
        for p in reversed(self.procs):
            terminate(p, signal.SIGKILL, 5.0)


def terminate(p: subprocess.Popen[Any], sig: int, timeout: float) -> None:
    if p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
    except ProcessLookupError:
        pass


class Peers:
    """The daemon starters of ``Host`` (which provides what is declared here)."""

    lab: Lab
    name: str
    ns: str
    workdir: Path
    frr_dir: Path
    _daemons: int

    if TYPE_CHECKING:

        def popen(self, cmd: Sequence[str] | str, **kw: Any) -> subprocess.Popen[Any]: ...
        def run(self, cmd: Sequence[str] | str, **kw: Any) -> subprocess.CompletedProcess[str]: ...
        def addresses(
            self, iface: str | None = None
        ) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]: ...
        def add_address(self, cidr: str, iface: str = "eth0") -> None: ...

    def vrrpwatch(
        self,
        *args: str,
        log: Path | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        prefix: Sequence[str] = (),
    ) -> subprocess.Popen[str]:
        """``python -m vrrpwatch ARGS`` of this tree in this namespace (``prefix``, e.g. a
        ``setpriv`` line, runs before it), text mode; the lab stops it at close()."""
        argv = [*prefix, sys.executable, "-m", "vrrpwatch", *args]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return self.popen(argv, log=log, stdout=stdout, stderr=stderr, text=True, env=env, cwd=ROOT)

    def start_daemon(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        ready: str | Callable[[Daemon], object] | None = None,
    ) -> Daemon:
        """``Lab.start_daemon`` in this namespace, as ``name@host``."""
        return self.lab.start_daemon(self.ns, f"{name}@{self.name}", argv, log, ready=ready)

    def _daemon_dir(self, kind: str) -> Path:
        self._daemons += 1
        d = self.workdir / f"{kind}{self._daemons}"
        d.mkdir(mode=0o755)
        return d

    def keepalived(self, *instances: KeepalivedInstance, extra: str = "", **fields: Any) -> Daemon:
        """Start keepalived (VRRP only) with the given instances, or one built from ``fields``,
        and ``extra`` configuration text after them (e.g. a ``vrrp_sync_group``).

        Waits until its VRRP child has read the configuration.
        """
        insts = list(instances)
        if fields:
            for key in ("vips", "unicast_peers"):
                if key in fields:
                    fields[key] = tuple(fields[key])
            insts.append(KeepalivedInstance(**fields))
        if not insts:
            raise LabError("keepalived needs at least one instance")
        d = self._daemon_dir("keepalived")
        conf = d / "keepalived.conf"
        body = "\n".join(i.render(n) for n, i in enumerate(insts, 1))
        conf.write_text(
            "global_defs {\n"
            f"  router_id {self.name}\n"
            "  enable_script_security\n"
            "  script_user root\n"
            "}\n" + body + "\n" + extra
        )
        return self.start_daemon(
            "keepalived",
            [
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-G",
                "-f",
                str(conf),
                "-p",
                str(d / "keepalived.pid"),
                "-r",
                str(d / "vrrp.pid"),
            ],
            d / "log",
            ready=r"Opening file|Registering gratuitous|Entering (BACKUP|MASTER|FAULT)",
        )

    def frr_vrrpd(
        self,
        *,
        vrid: int,
        priority: int = 100,
        vips: Iterable[str],
        version: int = 3,
        advert_int_ms: int = 1000,
        preempt: bool = True,
        iface: str = "eth0",
    ) -> Daemon:
        """Start zebra + vrrpd (FRR) for one virtual router on ``iface``.

        FRR needs the virtual MAC on a macvlan over the interface carrying the VIPs
        (RFC 5798 section 7.3), one per family: ``vrrp4-<vrid>`` / ``vrrp6-<vrid>``.
        """
        vip_list = list(vips)
        for v in vip_list:
            check_doc_address(v)
        fam = ipaddress.ip_interface(vip_list[0]).version
        mv = f"vrrp{fam}-{vrid}"
        vmac = f"00:00:5e:00:0{1 if fam == 4 else 2}:{vrid:02x}"
        self.run(["ip", "link", "add", mv, "link", iface, "type", "macvlan", "mode", "bridge"])
        self.run(["ip", "link", "set", mv, "address", vmac])
        if fam == 6:
            self.run(["sysctl", "-q", f"net.ipv6.conf.{mv}.accept_dad=0"])
        self.run(["ip", "link", "set", mv, "up"])
        for v in vip_list:
            self.add_address(v, mv)
        d = self._daemon_dir("frr")
        shutil.chown(d, "frr", "frr")
        ipkw = "ip" if fam == 4 else "ipv6"
        cfg = [f"interface {iface}", f" vrrp {vrid} version {version}"]
        cfg += [
            f" vrrp {vrid} priority {priority}",
            f" vrrp {vrid} advertisement-interval {advert_int_ms}",
        ]
        if not preempt:
            cfg.append(f" no vrrp {vrid} preempt")
        cfg += [f" vrrp {vrid} {ipkw} {bare(v)}" for v in vip_list]
        (d / "zebra.conf").write_text("hostname zebra\n")
        (d / "vrrpd.conf").write_text("\n".join(cfg) + "\n")
        for f in d.iterdir():
            shutil.chown(f, "frr", "frr")
        common = ["-z", str(d / "zserv.api"), "--vty_socket", str(d), "-P", "0", "--log", "stdout"]
        zserv = d / "zserv.api"

        def frr(name: str, ready: Callable[[Daemon], object] | None = None) -> Daemon:
            conf, pid = d / f"{name}.conf", d / f"{name}.pid"
            argv = [str(FRR_DIR / name), "-f", str(conf), "-i", str(pid), *common]
            return self.start_daemon(name, argv, d / f"{name}.log", ready=ready)

        zebra = frr("zebra", ready=lambda z: z.wait_for_path(zserv))
        try:
            vrrpd = frr("vrrpd")
        except BaseException:
            zebra.kill()
            raise
        self.frr_dir = d
        return Daemon(self.lab, f"frr@{self.name}", [*zebra.procs, *vrrpd.procs], vrrpd.log_path)

    def ucarp(
        self,
        *,
        vhid: int,
        password: str,
        vip: str,
        advbase: int = 1,
        advskew: int = 0,
        preempt: bool = False,
        srcip: str | None = None,
        iface: str = "eth0",
        shutdown: bool = True,
    ) -> Daemon:
        """Start ucarp (Debian package ucarp, a userland CARP) for one vhid on ``iface``.

        ucarp only sends and hears CARP adverts (from ``srcip``, default the interface's first
        IPv4 address); its up script adds ``vip`` (CIDR) to ``iface`` when it becomes master,
        its down script removes it (ucarp runs them as ``script <iface> <vip>``, and the down
        script once at start, in BACKUP). ``preempt`` is ucarp ``--preempt``: a backup that
        would advertise more often (lower advbase/advskew) than the master takes over.

        ``shutdown`` (ucarp ``--shutdown``) makes SIGTERM run the down script before ucarp
        exits. It sends nothing on the wire then (OpenBSD's carp sends a "bow out" advert,
        advbase and advskew 255, when it leaves MASTER), so a backup takes over only after
        its 3 x advbase + advskew/256 s, as after a cable pull. Without ``shutdown`` SIGTERM
        kills ucarp and leaves the VIP on the interface. Returns once ucarp is in BACKUP
        (every ucarp starts there, whatever its advskew).
        """
        check_doc_address(vip)
        if srcip is None:
            v4 = [a for a in self.addresses(iface) if a.version == 4]
            if not v4:
                raise LabError(f"ucarp@{self.name}: {iface} has no IPv4 address for --srcip")
            srcip = str(v4[0].ip)
        check_doc_address(srcip)
        d = self._daemon_dir("ucarp")
        up, down = d / "vip-up.sh", d / "vip-down.sh"
        cidr = str(ipaddress.ip_interface(vip))
        up.write_text(f'#!/bin/sh\necho "vip-up $2"\nexec ip addr add {cidr} dev "$1"\n')
        down.write_text(
            f'#!/bin/sh\necho "vip-down $2"\nip addr del {cidr} dev "$1" 2>/dev/null\nexit 0\n'
        )
        for script in (up, down):
            script.chmod(0o755)
        argv = [
            UCARP,
            f"--interface={iface}",
            f"--srcip={bare(srcip)}",
            f"--vhid={vhid}",
            f"--pass={password}",
            f"--addr={bare(vip)}",
            f"--advbase={advbase}",
            f"--advskew={advskew}",
            f"--upscript={up}",
            f"--downscript={down}",
        ]
        argv += ["--preempt"] * preempt + ["--shutdown"] * shutdown
        return self.start_daemon("ucarp", argv, d / "log", ready=r"Switching to state: BACKUP")

    def vtysh(self, command: str) -> str:
        """``vtysh -c command`` against this host's (last started) FRR."""
        return self.run(["vtysh", "--vty_socket", str(self.frr_dir), "-c", command]).stdout

    def tcpdump(self, path: Path | str, *, iface: str = "eth0", bpf: str = DEFAULT_BPF) -> Daemon:
        """Capture (classic pcap, Ethernet) until ``.stop()``; returns once tcpdump listens."""
        argv = ["tcpdump", "-n", "-U", "--immediate-mode", "-i", iface, "-w", str(path), bpf]
        log = self.workdir / f"tcpdump{len(self.lab.processes)}.log"
        return self.start_daemon("tcpdump", argv, log, ready=r"listening on")
