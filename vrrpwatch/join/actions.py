"""What the join router is given and what it returns: the IP header of an advertisement, its
configuration, and its actions (work for the runtime in imperative names, notifications in the
past tense; STYLE.md "State machine").

Pure, like the router (``vrrpwatch.join.router``), which re-exports every name here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dissectors.ah import AhProtected
from dissectors.common import IPAddress
from dissectors.vrrp import VrrpPacket
from vrrpwatch.join.states import Cause, DiscardReason, State

__all__ = [
    "Action",
    "AddAddresses",
    "AdvertisementDiscarded",
    "IpHeader",
    "RemoveAddresses",
    "RouterConfig",
    "SendAdvertisement",
    "SendGratuitousArp",
    "SendNeighborAdvertisement",
    "StateChanged",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class IpHeader:
    """What the router needs from the IP header that carried an advertisement."""

    src: IPAddress
    dst: IPAddress
    ttl: int
    # The raw header, AH header and message of an advert that came inside IPsec AH.
    ah: AhProtected | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterConfig:
    vrid: int
    priority: int
    primary_address: IPAddress
    addresses: tuple[IPAddress, ...]
    version: int = 3
    advertisement_interval_cs: int = 100
    preempt_mode: bool = True
    preempt_delay_s: float = 0.0
    accept_mode: bool = False
    auth_pass: bytes | None = None
    # keepalived's auth_type AH: the HMAC key (dissectors.ah.ah_key), and whether the TTL is
    # left out of the ICV (keepalived does so with unicast peers).
    ah_key: bytes | None = None
    ah_zero_ttl: bool = False
    # keepalived's garp_master_repeat / garp_master_delay: a burst when becoming Master, and
    # a second burst this many seconds later (0 disables the second burst).
    garp_repeat: int = 5
    garp_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if not 1 <= self.vrid <= 255:
            raise ValueError(f"VRID must be 1..255, not {self.vrid}")
        if not 1 <= self.priority <= 255:
            raise ValueError(f"priority must be 1..255, not {self.priority}")
        if self.version not in (2, 3):
            raise ValueError(f"version must be 2 or 3, not {self.version}")
        if not self.addresses:
            raise ValueError("at least one virtual address is needed")
        fam = self.primary_address.version
        if any(a.version != fam for a in self.addresses):
            raise ValueError("virtual addresses and primary address must be of one family")
        if self.version == 2:
            if fam != 4:
                raise ValueError("VRRPv2 is IPv4 only")
            if self.advertisement_interval_cs % 100 or not 100 <= self.advertisement_interval_cs:
                raise ValueError("VRRPv2 advertisement interval is whole seconds (1..255)")
            if self.advertisement_interval_cs > 25500:
                raise ValueError("VRRPv2 advertisement interval is whole seconds (1..255)")
        elif not 1 <= self.advertisement_interval_cs <= 0x0FFF:
            raise ValueError("VRRPv3 advertisement interval must be 1..4095 centiseconds")
        if self.auth_pass is not None and self.version != 2:
            raise ValueError("authentication exists only in VRRPv2")
        if self.auth_pass is not None and len(self.auth_pass) > 8:
            raise ValueError("a VRRPv2 password has at most 8 characters")
        if self.ah_key is not None:
            if self.version != 2:
                raise ValueError("AH authentication exists only in VRRPv2")
            if self.auth_pass is not None:
                raise ValueError("authentication is either a simple password or AH")
            if not self.ah_key:
                raise ValueError("AH authentication needs a key (auth_pass)")

    @property
    def family(self) -> int:
        return self.primary_address.version

    @property
    def advertisement_interval_s(self) -> float:
        return self.advertisement_interval_cs / 100


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAdvertisement:
    advertisement: VrrpPacket
    # With AH authentication: the AH sequence number to send it with.
    ah_sequence: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendGratuitousArp:
    addresses: tuple[ipaddress.IPv4Address, ...]
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SendNeighborAdvertisement:
    addresses: tuple[ipaddress.IPv6Address, ...]
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AddAddresses:
    addresses: tuple[IPAddress, ...]
    accept_mode: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveAddresses:
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged:
    old: State
    new: State
    cause: Cause
    # The advertisement's sender and priority when one caused the change.
    peer: IPAddress | None = None
    peer_priority: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvertisementDiscarded:
    reason: DiscardReason
    source: IPAddress
    detail: str = ""


Action = (
    SendAdvertisement
    | SendGratuitousArp
    | SendNeighborAdvertisement
    | AddAddresses
    | RemoveAddresses
    | StateChanged
    | AdvertisementDiscarded
)
