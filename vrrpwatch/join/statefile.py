"""join's state file: the virtual addresses this run holds, so the next run can remove them.

A router killed with SIGKILL (or by a crash) cannot remove its VIPs; left on the interface they
answer for the gateway while another router is master. The file lists them, written atomically
whenever the set changes and removed when it is empty; the next run on the same interface, VRID
and family removes what is listed before it starts (``remove_stale_addresses``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from collections.abc import Iterable
from pathlib import Path

from dissectors.common import IPAddress
from vrrpwatch.join import log
from vrrpwatch.join.log import EventSink
from vrrpwatch.join.transport import Transport

__all__ = ["StateFile", "remove_stale_addresses"]


class StateFile:
    def __init__(self, path: Path, interface: str) -> None:
        self.path = path
        self.interface = interface

    def write(self, held: Iterable[tuple[IPAddress, int]]) -> None:
        """Record the (address, prefix length) pairs held; no file when there are none."""
        addresses = sorted(held, key=lambda a: (a[0].version, int(a[0])))
        if not addresses:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "interface": self.interface,
            "pid": os.getpid(),
            "addresses": [[str(a), plen] for a, plen in addresses],
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)


def remove_stale_addresses(state_file: Path, transport: Transport, emit: EventSink) -> int:
    """Remove the VIPs a killed earlier run left behind (listed in its state file)."""
    try:
        data = json.loads(state_file.read_text())
    except FileNotFoundError:
        return 0
    except (OSError, ValueError):
        state_file.unlink(missing_ok=True)
        return 0
    removed = 0
    for text, plen in data.get("addresses", []):
        try:
            vip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if transport.remove_address(vip, int(plen)):
            removed += 1
            emit(log.stale_vip_removed(vip, plen, data.get("pid")))
    state_file.unlink(missing_ok=True)
    return removed
