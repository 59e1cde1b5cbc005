"""The per-group families of ``sniff --metrics`` for HSRP groups and CARP vhids.

VRRP routers have the ``vrrpwatch_router_*`` and ``vrrpwatch_advertiser_*`` families
(``ops.routers``); an HSRP group or a CARP vhid with a VRRP router's VLAN, family and id would
make duplicate series there, so they have families of their own, written by the same code:
the same meanings under ``vrrpwatch_group_*`` names, with the id as ``group`` and a
``protocol`` label (``hsrp``, ``carp``). Families without any group are not served at all, so
a VRRP-only segment's answer stays exactly what it was.
"""

from __future__ import annotations

from vrrpwatch.ops.routers import Names
from vrrpwatch.watch.hsrp import ACTIVE
from vrrpwatch.watch.model import Advertiser, HsrpCause, Protocol, TransitionCause

PROTOCOLS = (str(Protocol.HSRP), str(Protocol.CARP))

GROUPS = Names(
    master=(
        "vrrpwatch_group_advertiser_master",
        "gauge",
        "1 for the speaker followed as the group's master (HSRP: the active), 0 for the "
        "others seen.",
    ),
    masters=(
        "vrrpwatch_group_masters",
        "gauge",
        "Sources currently saying they are the master (HSRP: hellos in state Active; CARP: "
        "adverts that do not bow out), within 1.5 of their intervals: 2 or more is split "
        "brain, 0 means no master.",
    ),
    state=(
        "vrrpwatch_group_state",
        "gauge",
        "The group's state, one series per state: ok, lost (master-lost open), resigned "
        "(HSRP: the active sent a Resign; CARP: the master bowed out) or split-brain (an "
        "episode is open).",
    ),
    last=(
        "vrrpwatch_group_last_advert_timestamp_seconds",
        "gauge",
        "When the master's latest hello or advert arrived (Unix time).",
    ),
    interval=(
        "vrrpwatch_group_interval_seconds",
        "gauge",
        "The master's interval (HSRP: hello time; CARP: advbase + advskew / 256).",
    ),
    priority=(
        "vrrpwatch_group_advertiser_priority",
        "gauge",
        "HSRP: the priority of the speaker's latest hello (the highest is active); CARP: the "
        "advskew of its latest advert (the lowest is master).",
    ),
    adverts=(
        "vrrpwatch_group_adverts",
        "counter",
        "Hellos (HSRP) or adverts (CARP) received from the speaker.",
    ),
    changes=(
        "vrrpwatch_group_master_changes",
        "counter",
        "Master changes (first masters not counted), by cause: HSRP resigned, coup, "
        "hold-expired, preempted; CARP resigned, silent, preempted.",
    ),
    protocols=PROTOCOLS,
    groups=True,
)

# Every cause a protocol's timeline may give, each served from 0 (increase() sees the first).
CAUSES: dict[str, tuple[str, ...]] = {
    str(Protocol.HSRP): (
        str(TransitionCause.RESIGNED),
        str(HsrpCause.COUP),
        str(HsrpCause.HOLD_EXPIRED),
        str(TransitionCause.PREEMPTED),
    ),
    str(Protocol.CARP): (
        str(TransitionCause.RESIGNED),
        str(TransitionCause.SILENT),
        str(TransitionCause.PREEMPTED),
    ),
}


def _hsrp_active(a: Advertiser) -> bool:
    return a.state == ACTIVE  # watch.hsrp: the role its latest hello states


def _carp_advertising(a: Advertiser) -> bool:
    return a.state == 1  # watch.carp: 0 when its latest advert bowed out


CLAIMS = {str(Protocol.HSRP): _hsrp_active, str(Protocol.CARP): _carp_advertising}
