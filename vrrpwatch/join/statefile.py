"""join's state file and lock: the virtual addresses this run holds, so the next run can remove
them, and one live join per interface, VRID and family.

A router killed with SIGKILL (or by a crash) cannot remove its VIPs; left on the interface they
answer for the gateway while another router is master. The file lists them, written atomically
(a ``mkstemp`` file in the same directory, renamed over it: never a predictable name, never
through a symlink) whenever the set changes, and removed when it is empty; the next run on the
same interface, VRID and family removes what is listed before it starts
(``remove_stale_addresses``).

What the next run trusts: a regular file (not a symlink) owned by root or by our user, mode
0600, of the shape ``StateFile.write`` writes. It removes only what is both listed and one of
its own group's virtual addresses, never its primary address: a planted file cannot make join
delete the interface's own address. A file of another owner or mode is ignored (and replaced
when this run holds an address); one of the wrong shape is an error, so an operator looks.

With ``use_vmac`` the file also records the macvlan join runs on (``"vmac"``: its name, index,
MAC, base interface, whether this run created it, and the base interface's ARP sysctls before
join changed them). The file then stays while the macvlan exists, addresses or not, so the next
run after a SIGKILL can remove a macvlan the killed run created (``read_vmac_record``) and
restore those sysctls; ``join.vmac`` checks that the link is still that very macvlan first.

``InstanceLock`` (an abstract Unix socket name, freed by the kernel when the process ends, even
by SIGKILL) keeps a second join off the interface, VRID and family a live one holds: it would
take the first one's VIPs for a killed run's.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import socket
import stat
import struct
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dissectors.common import IPAddress
from vrrpwatch.join import log
from vrrpwatch.join.log import EventSink
from vrrpwatch.join.settings import JoinError
from vrrpwatch.join.transport import Transport

__all__ = [
    "InstanceLock",
    "StateFile",
    "VmacRecord",
    "read_state_file",
    "read_vmac_record",
    "remove_stale_addresses",
]

_MAX_BYTES = 1 << 16
_MODE = 0o600


@dataclass(frozen=True, slots=True, kw_only=True)
class VmacRecord:
    """The macvlan of a ``use_vmac`` run, as its state file lists it."""

    name: str
    index: int
    mac: str  # aa:bb:cc:dd:ee:ff
    base: str  # the interface it sits on
    created: bool  # by join (and so removed by join); False: it existed before
    # The base interface's IPv4 sysctls (arp_ignore, arp_filter) before join set them.
    base_conf: Mapping[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "mac": self.mac,
            "base": self.base,
            "created": self.created,
            "base_conf": dict(self.base_conf),
        }


class StateFile:
    def __init__(self, path: Path, interface: str, *, vmac: VmacRecord | None = None) -> None:
        self.path = path
        self.interface = interface
        self.vmac = vmac

    def write(self, held: Iterable[tuple[IPAddress, int]]) -> None:
        """Record the (address, prefix length) pairs held (and the macvlan); no file when
        there is neither."""
        addresses = sorted(held, key=lambda a: (a[0].version, int(a[0])))
        if not addresses and self.vmac is None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data: dict[str, Any] = {
            "interface": self.interface,
            "pid": os.getpid(),
            "addresses": [[str(a), plen] for a, plen in addresses],
        }
        if self.vmac is not None:
            data["vmac"] = self.vmac.as_json()
        # mkstemp: a fresh random name created O_EXCL, mode 0600, in the target's directory
        # (so the rename is atomic and never follows a symlink planted at a fixed name).
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(data))
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _untrusted(st: os.stat_result) -> str | None:
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_uid not in (0, os.geteuid()):
        return f"owned by uid {st.st_uid}, not root or us"
    if stat.S_IMODE(st.st_mode) != _MODE:
        return f"mode {stat.S_IMODE(st.st_mode):04o}, not 0600"
    return None


def _shape(path: Path, data: Any) -> tuple[str | None, object, list[tuple[IPAddress, int]]]:
    """(interface, pid, addresses) of a state file's JSON; JoinError naming what is wrong."""

    def bad(why: str) -> JoinError:
        return JoinError(f"state file {path}: {why}; not a join state file (remove it to go on)")

    if not isinstance(data, dict):
        return_type = "null" if data is None else type(data).__name__
        raise bad(f"a JSON {return_type}, expected an object")
    interface = data.get("interface")
    if interface is not None and not isinstance(interface, str):
        raise bad("'interface' is not a string")
    pid = data.get("pid")
    if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool)):
        raise bad("'pid' is not an integer")
    entries = data.get("addresses")
    if not isinstance(entries, list):
        raise bad("'addresses' is not a list")
    out: list[tuple[IPAddress, int]] = []
    for entry in entries:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], int)
            or isinstance(entry[1], bool)
        ):
            raise bad(f"address entry {json.dumps(entry)[:40]} is not [address, prefix length]")
        try:
            addr = ipaddress.ip_address(entry[0])
        except ValueError:
            raise bad(f"{entry[0][:40]!r} is not an IP address") from None
        if not 1 <= entry[1] <= addr.max_prefixlen:
            raise bad(f"bad prefix length {entry[1]} for {addr}")
        out.append((addr, entry[1]))
    return interface, pid, out


def read_state_file(
    path: Path, emit: EventSink
) -> tuple[str | None, object, list[tuple[IPAddress, int]]] | None:
    """What a trusted state file lists: (interface, pid, addresses); None when there is no file
    or it is not to be trusted (said in a warning line)."""
    data = _load(path, emit)
    return None if data is _NOTHING else _shape(path, data)


def read_vmac_record(path: Path, emit: EventSink) -> tuple[VmacRecord, object] | None:
    """The macvlan a trusted state file lists, with the pid that wrote it; None when there is
    no file, it is not to be trusted, or it lists no macvlan."""
    data = _load(path, emit)
    if data is _NOTHING:
        return None
    _shape(path, data)  # the whole file is of the shape StateFile writes, or an error
    assert isinstance(data, dict)
    if data.get("vmac") is None:
        return None
    return _vmac_shape(path, data["vmac"]), data.get("pid")


def _vmac_shape(path: Path, raw: Any) -> VmacRecord:
    def bad(why: str) -> JoinError:
        return JoinError(f"state file {path}: {why}; not a join state file (remove it to go on)")

    if not isinstance(raw, dict):
        raise bad("'vmac' is not an object")
    types = {"name": str, "index": int, "mac": str, "base": str, "created": bool}
    for key, kind in types.items():
        value = raw.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise bad(f"'vmac.{key}' is not a {kind.__name__}")
    conf = raw.get("base_conf", {})
    if not isinstance(conf, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 9
        for k, v in conf.items()
    ):
        raise bad("'vmac.base_conf' is not an object of small integers")
    return VmacRecord(
        name=raw["name"],
        index=raw["index"],
        mac=raw["mac"],
        base=raw["base"],
        created=raw["created"],
        base_conf=dict(conf),
    )


_NOTHING = object()


def _load(path: Path, emit: EventSink) -> Any:
    """The JSON of a trusted state file; ``_NOTHING`` when there is none or it is not to be
    trusted (said in a warning line)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return _NOTHING
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            emit(log.state_file_ignored(path, "a symlink"))
            return _NOTHING
        raise JoinError(f"state file {path}: {exc.strerror}") from None
    try:
        why = _untrusted(os.fstat(fd))
        if why is not None:
            emit(log.state_file_ignored(path, why))
            return _NOTHING
        raw = os.read(fd, _MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > _MAX_BYTES:
        raise JoinError(f"state file {path}: over {_MAX_BYTES} bytes; not a join state file")
    try:
        return json.loads(raw)
    except ValueError:
        raise JoinError(
            f"state file {path}: not JSON; not a join state file (remove it to go on)"
        ) from None


def remove_stale_addresses(
    state_file: Path,
    transport: Transport,
    emit: EventSink,
    *,
    interface: str | None = None,
    vips: Collection[IPAddress] | None = None,
    primary: IPAddress | None = None,
) -> int:
    """Remove the VIPs a killed earlier run left behind (listed in its state file): only those
    of ``vips`` (this group's), never ``primary``, and only when the file was written for
    ``interface``. Returns how many were removed."""
    found = read_state_file(state_file, emit)
    if found is None:
        return 0
    file_interface, pid, addresses = found
    if interface is not None and file_interface not in (None, interface):
        emit(log.state_file_ignored(state_file, f"written for interface {file_interface}"))
        return 0
    removed = 0
    for vip, plen in addresses:
        if vip == primary or (vips is not None and vip not in vips):
            why = "our primary address" if vip == primary else "not a virtual address of ours"
            emit(log.stale_vip_kept(vip, plen, why))
            continue
        if transport.remove_address(vip, plen):
            removed += 1
            emit(log.stale_vip_removed(vip, plen, pid))
    state_file.unlink(missing_ok=True)
    return removed


class InstanceLock:
    """One live join per interface, VRID and family: a listening Unix socket bound to an
    abstract name (``@vrrpwatch-join-IFACE-vridN-ipvF``); ``JoinError`` when another process
    holds it (its pid, read with SO_PEERCRED, is in the message).

    Abstract socket names belong to the network namespace, as interface names do, and the
    kernel frees the name when the process ends, even by SIGKILL. There is no file, so it needs
    no writable directory: it works for an unprivileged join and under systemd's DynamicUser
    and ProtectSystem=strict (unix(7), "Abstract sockets")."""

    def __init__(self, name: str, what: str) -> None:
        self.name = name
        self.sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind("\0" + name)
            self.sock.listen(8)
        except OSError as exc:
            self.close()
            if exc.errno != errno.EADDRINUSE:
                raise JoinError(f"lock @{name}: {exc.strerror}") from None
            raise JoinError(
                f"another join (pid {_holder(name)}) is running on {what}; stop it first"
            ) from None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def lock_name(iface: str, vrid: int, family: int) -> str:
    """The abstract socket name of the join on ``iface``, ``vrid``, ``family``."""
    return f"vrrpwatch-join-{iface}-vrid{vrid}-ipv{family}"


def _holder(name: str) -> str:
    """The pid of the process listening on the abstract name (SO_PEERCRED), or "unknown"."""
    creds = struct.Struct("=iII")  # struct ucred: pid, uid, gid
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            probe.connect("\0" + name)
            pid, _, _ = creds.unpack(
                probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, creds.size)
            )
    except OSError:
        return "unknown"
    return str(pid)
