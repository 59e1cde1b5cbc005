"""The alert catalogue: one table of every alert the passive watcher raises.

Each entry holds the alert's id (``AlertKind``, the ``kind`` of the JSON and the database), its
default severity, what opens an episode and what ends it (``Ends`` plus the words for it), a
one-line description and the RFC reference. The monitor raises alerts only through it
(``AlertBook``), the README's alert tables are rendered from it (``markdown_table``, checked by
a test), and metrics or alert delivery read the same entries: an episode that ``Ends.AFTER_HOLD``
is over ``hold_s`` after it opened; the others end on an event the monitor reports as
``AlertResolved``.

The rule parameters the descriptions quote (flap window, GARP grace, master-lost slack) are
defined here, once, so the words and the rules cannot drift apart.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2

    def __str__(self) -> str:
        return self._name_.lower()  # not .name: a descriptor, slow for every alert row

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


# master-flap: this many transitions of one router within the window.
FLAP_TRANSITIONS = 5
FLAP_WINDOW_S = 60.0
# GARP/NA judged this long after it was seen, so a takeover's first advert can arrive first.
GARP_GRACE_S = 2.0
# master-lost waits this long beyond the Master_Down_Interval, so the takeover advert of a
# backup that is on time (its timer fired, its advert is on the way) is not taken for silence.
EXPIRE_SLACK_S = 0.25
# How long an alert that is an event in itself (or a condition the wire cannot show ending)
# stays open: Alertmanager's default resolve_timeout.
EVENT_HOLD_S = 300.0
# What the monitor keeps per router: at most this many advertisers (a real group has a few);
# beyond it, the one heard least recently (never the master) is forgotten (advertiser-flood).
MAX_ADVERTISERS = 64


class AlertKind(enum.StrEnum):
    """Alert ids: stable contract (JSON ``kind``, database ``alerts.kind``)."""

    MASTER_CHANGE = "master-change"
    MASTER_RESIGNED = "master-resigned"
    MASTER_LOST = "master-lost"
    MASTER_LOST_CLEARED = "master-lost-cleared"
    MASTER_FLAP = "master-flap"
    SPLIT_BRAIN = "split-brain"
    AUTH_MISMATCH = "auth-mismatch"
    VIP_MISMATCH = "vip-mismatch"
    INTERVAL_MISMATCH = "interval-mismatch"
    VERSION_MISMATCH = "version-mismatch"
    ROGUE_ADVERTISER = "rogue-advertiser"
    PLAINTEXT_AUTH = "plaintext-auth"
    PRIORITY_255 = "priority-255"
    TTL_NOT_255 = "ttl-not-255"
    BAD_CHECKSUM = "bad-checksum"
    BAD_SOURCE_MAC = "bad-source-mac"
    MALFORMED = "malformed"
    GARP_CONFLICT = "garp-conflict"
    CARP_ON_VRRP_SEGMENT = "carp-on-vrrp-segment"
    INTERFACE_DOWN = "interface-down"
    INTERFACE_UP = "interface-up"
    ROUTER_ON_TWO_INTERFACES = "router-on-two-interfaces"
    SPOOFED_ADVERT = "spoofed-advert"
    ADVERTISER_FLOOD = "advertiser-flood"
    DEFAULT_PASSWORD = "default-password"
    TIMER_MISMATCH = "timer-mismatch"
    PRIORITY_TAKEOVER = "priority-takeover"
    CARP_DEMOTION = "carp-demotion"


class Ends(enum.Enum):
    """What ends an episode: the rule the monitor applies (``AlertBook``)."""

    AFTER_HOLD = "after-hold"  # ``hold_s`` after it opened (an event, a condition seen once)
    ADVERTS_RESUME = "adverts-resume"  # the next advert for the router
    ONE_MASTER_LEFT = "one-master-left"  # one of the two has been silent a Master_Down_Interval
    SOURCE_SILENT = "source-silent"  # the source advertiser has been silent ``hold_s``
    INTERFACE_UP = "interface-up"  # the interface is up again


class Entry(NamedTuple):
    """One alert of the catalogue (a named tuple: immutable, and cheap to define at start-up)."""

    kind: AlertKind
    severity: Severity  # the default; ``severities`` lists every one the rule may choose
    description: str
    opens: str
    ends: Ends
    ends_text: str
    rfc: str  # "" where no RFC speaks to it
    hold_s: float | None = None  # Ends.AFTER_HOLD and Ends.SOURCE_SILENT
    # True: every occurrence is its own episode (events such as master-change); False: raised
    # once per open episode of (kind, router, source)
    each_event: bool = False
    sniff_only: bool = False  # needs live time (silence, links): not raised by analyze
    severities: tuple[Severity, ...] = ()

    def allowed(self) -> tuple[Severity, ...]:
        return self.severities or (self.severity,)


_SILENT = f"its source has sent no advert for {EVENT_HOLD_S:.0f} s"
_HOLD = f"{EVENT_HOLD_S:.0f} s after it was raised"

_ENTRIES = (
    Entry(
        kind=AlertKind.PLAINTEXT_AUTH,
        severity=Severity.WARNING,
        description="a VRRPv2 or HSRP password is sent in clear text",
        opens="an advert (HSRP: a hello) carries a simple-text password (the message shows its "
        "fingerprint only)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 2338 5.3.6.2, 10, RFC 2281 5.1",
    ),
    Entry(
        kind=AlertKind.DEFAULT_PASSWORD,
        severity=Severity.WARNING,
        description="an HSRP group uses the default password",
        opens="an HSRP hello's text authentication is `cisco`, RFC 2281's default: the group is "
        "open to anyone who knows the default",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 2281 5.1",
    ),
    Entry(
        kind=AlertKind.AUTH_MISMATCH,
        severity=Severity.CRITICAL,
        description="advertisers of one router use different authentication",
        opens="two advertisers of one router (HSRP: group) disagree on auth type or password: "
        "each drops the other's adverts, both become master (HSRP: active)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 3768 7.1, RFC 2281 5.1",
    ),
    Entry(
        kind=AlertKind.ROGUE_ADVERTISER,
        severity=Severity.CRITICAL,
        description="an advertiser that should not be there",
        opens="the source is not in `--known-routers`; without that list, an advertiser whose "
        "version, auth, VIP set or interval conflicts with the established (first) master's, or "
        "a priority-255 advertiser taking over a VIP another MAC announced (not a VRRP router's "
        "when the advertiser had been master and lost it: an owner returning); HSRP: a Coup "
        "from a source first heard after the group had an active for a hold time",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 9, RFC 2281 5.1",
    ),
    Entry(
        kind=AlertKind.PRIORITY_TAKEOVER,
        severity=Severity.CRITICAL,
        description="an unknown HSRP router takes the group over by priority",
        opens="a source becomes active with a higher priority than the active it replaces "
        "(Coup or preemption), and is not in `--known-routers` (without that list: it was first "
        "heard after the group had had an active for a hold time)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 2281 5.1, 5.2",
    ),
    Entry(
        kind=AlertKind.PRIORITY_255,
        severity=Severity.WARNING,
        severities=(Severity.INFO, Severity.WARNING, Severity.CRITICAL),
        description="an advertiser claims address ownership and preempts everyone",
        opens="an advert has priority 255: info when its address is one of the VIPs, warning "
        "when it is not, critical with evidence it does not own them (another MAC announced the "
        "VIP, not counting the group's VRRP routers when it had been master and lost it; or it is "
        "not a known router); each severity is its own episode",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 5.2.4",
    ),
    Entry(
        kind=AlertKind.VIP_MISMATCH,
        severity=Severity.WARNING,
        description="advertisers of one router list different virtual addresses",
        opens="an advertiser's VIP set differs from another advertiser's of the same router "
        "(HSRP: its virtual IP, when it sends one)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 7.1",
    ),
    Entry(
        kind=AlertKind.INTERVAL_MISMATCH,
        severity=Severity.WARNING,
        description="advertisers of one router use different advert intervals",
        opens="an advertiser's interval differs from another advertiser's of the same router",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 3768 7.1",
    ),
    Entry(
        kind=AlertKind.TIMER_MISMATCH,
        severity=Severity.WARNING,
        description="HSRP or CARP routers of one group use different timers",
        opens="HSRP: an advertiser's hello or hold time differs from another's of the group; "
        "CARP: its advbase differs, or its advbase and advskew equal another's (a tie: no "
        "router is preferred, OpenBSD's and FreeBSD's masters both step down)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 2281 5.1",
    ),
    Entry(
        kind=AlertKind.VERSION_MISMATCH,
        severity=Severity.WARNING,
        description="advertisers of one router speak different VRRP (or HSRP) versions",
        opens="an advertiser's version differs from another advertiser's of the same router; "
        "while the master advertises, an advert of another version moves no master and counts "
        "towards no split brain (its peers discard it)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 7.1, 8.4",
    ),
    Entry(
        kind=AlertKind.TTL_NOT_255,
        severity=Severity.WARNING,
        description="an advert that did not originate on the link",
        opens="an advert's TTL/hop limit is not 255: receivers discard it",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 7.1",
    ),
    Entry(
        kind=AlertKind.BAD_CHECKSUM,
        severity=Severity.WARNING,
        description="an advert with a wrong checksum",
        opens="an advert's VRRP checksum does not verify: receivers discard it",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 5.2.8",
    ),
    # Warning, not critical: every router discards such an advert, so it moves no master and
    # breaks no forwarding by itself; it is a forged, off-link or corrupted sender to look into.
    Entry(
        kind=AlertKind.SPOOFED_ADVERT,
        severity=Severity.WARNING,
        description="an advert every router discards, so the watcher does not follow it",
        opens="an advert fails a receive check of RFC 5798 7.1 by itself (TTL/hop limit not 255, "
        "bad checksum, type, address count, family or zero interval): its findings are raised, "
        "and it moves no master, adds no transition and counts towards no split brain",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 7.1, RFC 3768 7.1",
    ),
    # Warning: a flood of sources (spoofed, or a misconfigured segment) for one router; the
    # bound keeps the monitor's cost per advert and its memory flat whatever the flood.
    Entry(
        kind=AlertKind.ADVERTISER_FLOOD,
        severity=Severity.WARNING,
        description="more sources advertise for one router than the monitor keeps",
        opens=f"a new source advertises for a router that already has {MAX_ADVERTISERS} "
        "advertisers: the one heard least recently (never the master) is forgotten, with its "
        "row in the database, and the count of forgotten sources grows",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        rfc="",
    ),
    Entry(
        kind=AlertKind.BAD_SOURCE_MAC,
        severity=Severity.INFO,
        description="an advert not sent from the virtual MAC",
        opens="an advert's source MAC is not the virtual MAC (keepalived without `use_vmac` sends "
        "from the interface MAC)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="RFC 5798 7.2",
    ),
    Entry(
        kind=AlertKind.SPLIT_BRAIN,
        severity=Severity.CRITICAL,
        description="two masters at once",
        opens="two sources keep advertising for one router beyond a Master_Down_Interval "
        "(HSRP: two sources say Active beyond the hold time; CARP: two advertise beyond 3 x "
        "advbase + advskew / 256) (once per pair)",
        ends=Ends.ONE_MASTER_LEFT,
        ends_text="one of the two has sent no advert for a Master_Down_Interval (at priority 1; "
        "HSRP: its hold time, CARP: its master-down time): one master is left",
        rfc="RFC 5798 6.4.2, RFC 2281 5.3",
    ),
    Entry(
        kind=AlertKind.MASTER_FLAP,
        severity=Severity.WARNING,
        description="the master keeps changing",
        opens=f"{FLAP_TRANSITIONS} master changes within {FLAP_WINDOW_S:.0f} s",
        ends=Ends.AFTER_HOLD,
        hold_s=FLAP_WINDOW_S,
        ends_text=f"{FLAP_WINDOW_S:.0f} s after it was raised (the window it counted)",
        rfc="",
    ),
    Entry(
        kind=AlertKind.MASTER_CHANGE,
        severity=Severity.INFO,
        description="a new master",
        opens="every transition after the first; `source` is the new master",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        each_event=True,
        rfc="RFC 5798 6.4.2, 6.4.3",
    ),
    Entry(
        kind=AlertKind.MASTER_RESIGNED,
        severity=Severity.INFO,
        description="the master shut down cleanly",
        opens="the master sent priority 0 (HSRP: the active sent a Resign; CARP: the master "
        "bowed out, advbase and advskew 255)",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        each_event=True,
        rfc="RFC 5798 6.4.3, RFC 2281 5.1",
    ),
    Entry(
        kind=AlertKind.GARP_CONFLICT,
        severity=Severity.CRITICAL,
        description="another station claims a virtual address",
        opens="a gratuitous ARP or unsolicited NA claims a VIP for a MAC that is neither the "
        f"master's (at that time, ± {GARP_GRACE_S:.0f} s for a takeover's race, the backups "
        "that took over at the same moment and lost included) nor the virtual "
        "MAC (HSRP: the group's, v1 0000.0c07.acXX, v2 0000.0c9f.fXXX, IPv6 0005.73a0.0XXX)",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        rfc="RFC 5798 6.4.2, 8.1.2, 8.2.2",
    ),
    Entry(
        kind=AlertKind.CARP_ON_VRRP_SEGMENT,
        severity=Severity.WARNING,
        description="CARP and VRRP share a segment",
        opens="CARP on a VLAN that also carries VRRP (same protocol 112 and 224.0.0.18)",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        rfc="RFC 5798 5.1.1.4",
    ),
    Entry(
        kind=AlertKind.CARP_DEMOTION,
        severity=Severity.WARNING,
        description="a CARP router is demoted",
        opens="a CARP advert carries a demote count above 0 (OpenBSD), or an advertiser's advskew "
        "rose during the run (FreeBSD adds its demotion to the advskew; pfSense's maintenance "
        "mode sends 254)",
        ends=Ends.SOURCE_SILENT,
        hold_s=EVENT_HOLD_S,
        ends_text=_SILENT,
        rfc="",
    ),
    Entry(
        kind=AlertKind.MALFORMED,
        severity=Severity.WARNING,
        description="a packet that is ours but broken",
        opens="a packet that is ours but cannot be decoded, or breaks the message layout "
        "(count/length, interval 0, type, family, short auth data)",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        rfc="RFC 5798 5.2",
    ),
    Entry(
        kind=AlertKind.MASTER_LOST,
        severity=Severity.CRITICAL,
        description="the master went silent and nobody took over",
        opens="the master's adverts stopped and no backup took over within Master_Down_Interval "
        f"+ {EXPIRE_SLACK_S * 1000:.0f} ms (HSRP: the active's hold time; CARP: 3 x advbase + "
        "advskew / 256 of its slowest backup)",
        ends=Ends.ADVERTS_RESUME,
        ends_text="adverts for the router resume (`master-lost-cleared`)",
        sniff_only=True,
        rfc="RFC 5798 6.4.2",
    ),
    Entry(
        kind=AlertKind.MASTER_LOST_CLEARED,
        severity=Severity.INFO,
        description="adverts resumed after master-lost",
        opens="adverts resumed after `master-lost`; `source` is the advertiser",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        each_event=True,
        sniff_only=True,
        rfc="RFC 5798 6.4.2",
    ),
    Entry(
        kind=AlertKind.INTERFACE_DOWN,
        severity=Severity.WARNING,
        description="a sniffed interface went down",
        opens="a sniffed interface lost its carrier, was set down or was removed",
        ends=Ends.INTERFACE_UP,
        ends_text="the interface is up again (`interface-up`)",
        sniff_only=True,
        rfc="",
    ),
    Entry(
        kind=AlertKind.INTERFACE_UP,
        severity=Severity.INFO,
        description="a sniffed interface came back; sniffing goes on",
        opens="a sniffed interface that was down is up again",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        each_event=True,
        sniff_only=True,
        rfc="",
    ),
    Entry(
        kind=AlertKind.ROUTER_ON_TWO_INTERFACES,
        severity=Severity.WARNING,
        description="one router key on two sniffed interfaces",
        opens="one (VLAN, family, VRID) is heard on two sniffed interfaces: they are followed as "
        "one router",
        ends=Ends.AFTER_HOLD,
        hold_s=EVENT_HOLD_S,
        ends_text=_HOLD,
        sniff_only=True,
        rfc="",
    ),
)

CATALOGUE: dict[AlertKind, Entry] = {e.kind: e for e in _ENTRIES}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(*, sniff_only: bool) -> str:
    """The README's alert table: analyze's alerts (``sniff_only=False``) or sniff's own."""
    lines = [
        "| id | severity | description | raised when | ends when | RFC |",
        "|---|---|---|---|---|---|",
    ]
    for e in _ENTRIES:
        if e.sniff_only != sniff_only:
            continue
        sev = " / ".join(str(s) for s in e.allowed())
        lines.append(
            f"| `{e.kind}` | {sev} | {_cell(e.description)} | {_cell(e.opens)} | "
            f"{_cell(e.ends_text)} | {e.rfc or '—'} |"
        )
    return "\n".join(lines) + "\n"
