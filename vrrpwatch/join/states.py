"""The join router's vocabulary: its states, why they change (and which changes are legal:
``TRANSITIONS``, RFC 5798 section 6.4), and why an advertisement is discarded (section 7.1).

Pure, like the router (``vrrpwatch.join.router``), which re-exports every name here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from dissectors.common import Finding
from dissectors.vrrp import RECEIVER_DISCARDS

__all__ = [
    "DISCARDED_FINDINGS",
    "TRANSITIONS",
    "Cause",
    "DiscardReason",
    "ProtocolError",
    "State",
    "discard_reason",
]


class ProtocolError(RuntimeError):
    """The caller used the router wrongly (not a peer's fault)."""


class State(enum.Enum):
    INITIALIZE = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


class Cause(enum.StrEnum):
    """Why a state changed; stable ids for logs, JSON events and the database."""

    STARTUP = "startup"
    OWNER_STARTUP = "address-owner"
    MASTER_DOWN = "master-down-timer"
    HIGHER_PRIORITY = "higher-priority"
    EQUAL_PRIORITY_HIGHER_ADDRESS = "equal-priority-higher-address"
    SHUTDOWN = "shutdown"
    LINK_DOWN = "link-down"
    LINK_UP = "link-up"
    # keepalived's vrrp_sync_group (vrrp_sync.c): a member follows another's change.
    SYNC_GROUP = "sync-group"
    TRACK_FAULT = "tracking-fault"
    TRACK_RECOVERED = "tracking-recovered"


# Legal transitions: (old, new) -> the causes that may produce them.
TRANSITIONS: dict[tuple[State, State], frozenset[Cause]] = {
    (State.INITIALIZE, State.BACKUP): frozenset({Cause.STARTUP}),
    (State.INITIALIZE, State.MASTER): frozenset({Cause.OWNER_STARTUP}),
    (State.INITIALIZE, State.FAULT): frozenset({Cause.LINK_DOWN, Cause.TRACK_FAULT}),
    (State.BACKUP, State.MASTER): frozenset({Cause.MASTER_DOWN}),
    (State.BACKUP, State.INITIALIZE): frozenset({Cause.SHUTDOWN}),
    (State.BACKUP, State.FAULT): frozenset({Cause.LINK_DOWN, Cause.TRACK_FAULT}),
    (State.MASTER, State.BACKUP): frozenset(
        {Cause.HIGHER_PRIORITY, Cause.EQUAL_PRIORITY_HIGHER_ADDRESS}
    ),
    (State.MASTER, State.INITIALIZE): frozenset({Cause.SHUTDOWN}),
    (State.MASTER, State.FAULT): frozenset({Cause.LINK_DOWN, Cause.TRACK_FAULT}),
    (State.FAULT, State.BACKUP): frozenset({Cause.LINK_UP, Cause.TRACK_RECOVERED}),
    (State.FAULT, State.MASTER): frozenset({Cause.OWNER_STARTUP}),
    (State.FAULT, State.INITIALIZE): frozenset({Cause.SHUTDOWN}),
}
# A sync group moves its members together (keepalived vrrp_sync.c: vrrp_sync_master,
# vrrp_sync_backup, vrrp_sync_fault); see the sync group inputs of VirtualRouter.
for _edge in (
    (State.BACKUP, State.MASTER),
    (State.MASTER, State.BACKUP),
    (State.BACKUP, State.FAULT),
    (State.MASTER, State.FAULT),
    (State.FAULT, State.BACKUP),
):
    TRANSITIONS[_edge] |= {Cause.SYNC_GROUP}


class DiscardReason(enum.StrEnum):
    """Why a received advertisement was dropped (RFC 5798 / RFC 3768 section 7.1)."""

    TTL_NOT_255 = "ttl-not-255"
    BAD_VERSION = "version-mismatch"
    BAD_TYPE = "bad-type"
    VRID_MISMATCH = "vrid-mismatch"
    BAD_CHECKSUM = "bad-checksum"
    COUNT_MISMATCH = "count-mismatch"
    FAMILY_MISMATCH = "family-mismatch"
    AUTH_TYPE_MISMATCH = "auth-type-mismatch"
    AUTH_FAILURE = "auth-failure"
    INTERVAL_MISMATCH = "interval-mismatch"
    ADDRESS_LIST_MISMATCH = "address-list-mismatch"
    INTERVAL_ZERO = "interval-zero"
    OWN_ADVERTISEMENT = "own-advertisement"
    LOWER_PRIORITY = "lower-priority"
    NOT_RUNNING = "not-running"
    LOCAL_OWNER = "local-owner"
    MALFORMED = "malformed"  # could not be decoded at all (counted by the runtime)


# RFC 5798 / RFC 3768 section 7.1, the checks an advertisement fails by itself (with its IP
# header): they are written once, as the decoder's findings (dissectors.vrrp.validate_advert),
# and the ones every receiver discards for once, as ``dissectors.vrrp.RECEIVER_DISCARDS`` (the
# watcher follows no advert that has one). This table gives the router's reason for each. The
# checks against our own configuration (version, VRID, owner, family, authentication, interval,
# addresses) follow in ``_check``.
DISCARDED_FINDINGS: dict[Finding, DiscardReason] = {
    f: DiscardReason(f.value) for f in RECEIVER_DISCARDS
}


def discard_reason(findings: Iterable[Finding]) -> DiscardReason | None:
    """Why any router discards an advertisement with these findings (None: it does not).

    Learning reads it too, so ``join`` learns a group only from an advertisement its router
    would accept."""
    found = set(findings)
    for finding, reason in DISCARDED_FINDINGS.items():
        if finding in found:
            return reason
    return None
