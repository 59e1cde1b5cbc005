"""What every module of the namespace lab shares: its error, and the addresses it accepts."""

from __future__ import annotations

import ipaddress


class LabError(RuntimeError):
    """The lab could not do what was asked (a command failed, a daemon did not come up, a
    capture is not what it should be)."""


DOC_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "fe80::/10")
)


def check_doc_address(addr: str) -> None:
    """Raise LabError unless ``addr`` (with or without /prefix) is in a documentation range."""
    ip = ipaddress.ip_interface(addr).ip
    if not any(ip in net for net in DOC_NETWORKS):
        raise LabError(f"{addr}: the lab only uses documentation addresses")


def bare(addr: str) -> str:
    return str(ipaddress.ip_interface(addr).ip)
