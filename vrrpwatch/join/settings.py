"""What ``join`` runs with, and where each value comes from.

Three sources, in order of precedence: what the user gave (the command line's flags), the
``vrrp_instance`` of a keepalived.conf (``join --config``), and the defaults of
``JoinOptions``. Values still missing after that (version, interval, addresses, password) are
learnt from the wire at set-up.

The merge is a library function over field names of ``JoinOptions`` (``resolve_options``); the
command line only says which options the user gave, as a ``JoinValues`` dict.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from dissectors.common import IPAddress
from vrrpwatch.errors import VrrpwatchError

if TYPE_CHECKING:
    from vrrpwatch.keepalived.config import VrrpInstance

__all__ = [
    "DEFAULT_GARP_DELAY_S",
    "DEFAULT_GARP_REPEAT",
    "DEFAULT_LEARN_TIMEOUT_S",
    "DEFAULT_PREEMPT_DELAY_S",
    "JoinError",
    "JoinOptions",
    "JoinSettings",
    "JoinValues",
    "join_settings",
    "load_join_settings",
    "resolve_options",
]

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

DEFAULT_PREEMPT_DELAY_S = 0.0
DEFAULT_LEARN_TIMEOUT_S = 5.0
# keepalived's garp_master_repeat and garp_master_delay defaults.
DEFAULT_GARP_REPEAT = 5
DEFAULT_GARP_DELAY_S = 5.0


class JoinError(VrrpwatchError):
    """A one-line, operator-facing reason why ``join`` cannot start."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinOptions:
    vrid: int
    priority: int
    interface: str | None = None
    vips: tuple[str, ...] = ()
    version: int | None = None
    advert_int_s: float | None = None
    auth_pass: str | None = None
    auth_pass_file: str | None = None
    unicast_peers: tuple[str, ...] = ()
    preempt: bool = True
    preempt_delay_s: float = DEFAULT_PREEMPT_DELAY_S
    accept_mode: bool = False
    learn_timeout_s: float = DEFAULT_LEARN_TIMEOUT_S
    dry_run: bool = False
    notify: str | None = None
    state_file: str | None = None
    garp_repeat: int = DEFAULT_GARP_REPEAT
    garp_delay_s: float = DEFAULT_GARP_DELAY_S
    instance: str = "VI_1"
    use_vmac: str | None = None  # None: off; "": keepalived's default name; else the name
    vmac_xmit_base: bool = False


class JoinValues(TypedDict, total=False):
    """Some of ``JoinOptions``'s fields, by name: those a source gives."""

    vrid: int
    priority: int
    interface: str | None
    vips: tuple[str, ...]
    version: int | None
    advert_int_s: float | None
    auth_pass: str | None
    auth_pass_file: str | None
    unicast_peers: tuple[str, ...]
    preempt: bool
    preempt_delay_s: float
    accept_mode: bool
    learn_timeout_s: float
    dry_run: bool
    notify: str | None
    state_file: str | None
    garp_repeat: int
    garp_delay_s: float
    instance: str
    use_vmac: str | None
    vmac_xmit_base: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinSettings:
    """What ``vrrpwatch join --config FILE [--instance NAME]`` takes from an instance.

    The options the user gives override these field by field (``resolve_options``).
    """

    instance: str
    vrid: int
    priority: int
    interface: str | None
    version: int
    family: int
    advert_int_cs: int
    vips: tuple[IPInterface, ...]
    auth_pass: str | None  # simple password (VRRPv2 PASS only), the first 8 characters
    unicast_src_ip: IPAddress | None
    unicast_peers: tuple[IPAddress, ...]
    preempt: bool
    preempt_delay_s: float
    state: str
    warnings: tuple[str, ...] = field(default=())
    use_vmac: str | None = None
    vmac_xmit_base: bool = False

    @property
    def advert_int_s(self) -> float:
        return self.advert_int_cs / 100

    def values(self) -> JoinValues:
        """The settings as ``JoinOptions`` fields."""
        return JoinValues(
            instance=self.instance,
            vrid=self.vrid,
            priority=self.priority,
            interface=self.interface,
            vips=tuple(str(v) for v in self.vips),
            version=self.version,
            advert_int_s=self.advert_int_s,
            auth_pass=self.auth_pass,
            unicast_peers=tuple(str(p) for p in self.unicast_peers),
            preempt=self.preempt,
            preempt_delay_s=self.preempt_delay_s,
            **_vmac_values(self),
        )


def _vmac_values(settings: JoinSettings) -> JoinValues:
    """use_vmac / vmac_xmit_base as options, when the instance has them."""
    if settings.use_vmac is None:
        return JoinValues()
    return JoinValues(use_vmac=settings.use_vmac, vmac_xmit_base=settings.vmac_xmit_base)


def join_settings(inst: VrrpInstance) -> JoinSettings:
    """Map an instance to ``join`` settings. ``warnings`` lists what join cannot reproduce."""
    warnings: list[str] = []
    if inst.auth_type == "AH":
        warnings.append("auth_type AH is not supported; joining without authentication")
    if inst.auth_type is not None and inst.version == 3:
        warnings.append("authentication is ignored with VRRPv3")
    if inst.vmac_address is not None:
        warnings.append(
            f"use_vmac {inst.vmac_address}: a chosen MAC is not supported; "
            "using the RFC's virtual MAC"
        )
    if inst.excluded_vips:
        warnings.append("virtual_ipaddress_excluded is ignored")
    password = inst.auth_pass_wire
    return JoinSettings(
        instance=inst.name,
        vrid=inst.vrid,
        priority=inst.priority,
        interface=inst.interface,
        version=inst.version,
        family=inst.family,
        advert_int_cs=inst.advert_int_cs,
        vips=tuple(v.address for v in inst.vips),
        auth_pass=password.decode(errors="replace") if password and inst.version == 2 else None,
        unicast_src_ip=inst.unicast_src_ip,
        unicast_peers=inst.unicast_peers,
        preempt=inst.preempt,
        preempt_delay_s=inst.preempt_delay_s,
        state=inst.state,
        warnings=tuple(warnings),
        use_vmac=(inst.vmac_interface or "") if inst.use_vmac else None,
        vmac_xmit_base=inst.vmac_xmit_base,
    )


def load_join_settings(path: str | Path, instance: str | None = None) -> JoinSettings:
    """``join --config PATH [--instance NAME]`` in one call; ``KaConfError`` on failure
    (unreadable or unparsable file, no such instance, several instances and no name)."""
    from vrrpwatch.keepalived.config import KaConfError, parse_config

    inst = parse_config(path).instance(instance)
    if not inst.name.isprintable():
        # The name prefixes join's log lines and goes into its database: a control character
        # would reach the terminal, a byte that is not UTF-8 would fail to encode mid-run.
        raise KaConfError(
            inst.source.path, inst.source.line, f"vrrp_instance name {inst.name!r} is not text"
        )
    return join_settings(inst)


def resolve_options(given: JoinValues, settings: JoinSettings | None = None) -> JoinOptions:
    """The options join runs with: each value the user ``given`` wins over the config's
    ``settings``, which win over ``JoinOptions``'s defaults. ``JoinError`` when the VRID or
    the priority is given by neither."""
    values: JoinValues = settings.values() if settings is not None else JoinValues()
    if "auth_pass_file" in given:
        values.pop("auth_pass", None)  # the user's password file wins over the config's
    values.update(given)
    if settings is not None:
        values["instance"] = settings.instance  # the instance the config was read for
    for name in ("vrid", "priority"):
        if name not in values:
            raise JoinError(f"Missing option '--{name}' (or give --config).")
    return JoinOptions(**values)
