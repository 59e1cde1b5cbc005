"""Several transports in one ``selectors`` loop: ``join --config`` with several instances.

Each ``RawTransport`` has its own selector (its raw sockets, link watcher and wake-up socket);
an epoll descriptor is itself readable when one of its descriptors is, so ``TransportMux``
waits on the transports' selectors in one outer selector, on time (``select_until``), and then
polls the transports that have something (or a backlog) without sleeping.
"""

from __future__ import annotations

import selectors
from collections.abc import Sequence

from vrrpwatch.join.transport import LinkChange, RawTransport, Received, select_until

__all__ = ["TransportMux"]


class TransportMux:
    def __init__(self, transports: Sequence[RawTransport]) -> None:
        self.transports = list(transports)
        self.sel = selectors.DefaultSelector()
        for index, t in enumerate(self.transports):
            self.sel.register(t.fileno(), selectors.EVENT_READ, index)

    def wait(self, timeout: float | None) -> list[tuple[int, Received | LinkChange]]:
        busy = {i for i, t in enumerate(self.transports) if t.backlog}
        ready = select_until(self.sel, 0.0 if busy else timeout)
        busy |= {key.data for key, _ in ready}
        out: list[tuple[int, Received | LinkChange]] = []
        for index in sorted(busy):
            out += [(index, item) for item in self.transports[index].wait(0.0)]
        return out

    def close(self) -> None:
        self.sel.close()
