"""join's settings: what a keepalived.conf instance gives, and the merge with the user's options."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from vrrpwatch.join.settings import (
    JoinError,
    JoinOptions,
    JoinValues,
    join_settings,
    load_join_settings,
    resolve_options,
)
from vrrpwatch.keepalived.config import KaConfError, parse_config

KACONF = Path(__file__).parents[1] / "keepalived" / "confs"


def test_join_settings_from_lab_config() -> None:
    inst = parse_config(KACONF / "lab-v2" / "r1.conf").instance("VI_1")
    js = join_settings(inst)
    assert (js.vrid, js.priority, js.interface, js.version, js.advert_int_cs) == (
        1,
        200,
        "eth0",
        2,
        100,
    )
    assert js.vips == (ipaddress.ip_interface("192.0.2.1/24"),)
    assert js.auth_pass == "s3cret"
    assert js.preempt and js.preempt_delay_s == 0.0
    assert js.warnings == ()


def test_join_settings_v3_drops_auth_and_warns() -> None:
    inst = parse_config(KACONF / "broken" / "r2-v3.conf").instance()
    js = join_settings(inst)
    assert js.version == 3 and js.auth_pass is None
    assert js.warnings == ("authentication is ignored with VRRPv3",)
    unicast = parse_config(KACONF / "split" / "keepalived.conf").instance("UNICAST")
    ju = join_settings(unicast)
    assert ju.advert_int_cs == 25 and not ju.preempt
    assert [str(p) for p in ju.unicast_peers] == ["203.0.113.3", "203.0.113.4"]
    # use_vmac and vmac_xmit_base are run (join.vmac), so no warning.
    assert ju.warnings == ()
    assert (ju.use_vmac, ju.vmac_xmit_base) == ("", True)


def test_settings_values_are_join_options_fields() -> None:
    """``values()`` is keyed by ``JoinOptions`` fields (not by any command line's names)."""
    fields = {f.name for f in dataclasses.fields(JoinOptions)}
    inst = parse_config(KACONF / "split" / "keepalived.conf").instance("UNICAST")
    values = join_settings(inst).values()
    assert set(values) <= fields
    assert values == {
        "instance": "UNICAST",
        "vrid": 20,
        "priority": 100,
        "interface": "eth0",
        "vips": ("203.0.113.20/24",),
        "version": 3,
        "advert_int_s": 0.25,
        "auth_pass": None,
        "unicast_peers": ("203.0.113.3", "203.0.113.4"),
        "preempt": False,
        "preempt_delay_s": 0.0,
        "use_vmac": "",
        "vmac_xmit_base": True,
    }


def test_load_join_settings() -> None:
    js = load_join_settings(KACONF / "lab-v3" / "r2.conf", "V6")
    assert (js.instance, js.vrid, js.priority, js.family, js.advert_int_s) == ("V6", 6, 150, 6, 0.5)
    with pytest.raises(KaConfError, match="choose an instance with --instance"):
        load_join_settings(KACONF / "lab-v3" / "r2.conf")


def test_resolve_options_given_wins_over_config_over_defaults() -> None:
    settings = join_settings(parse_config(KACONF / "split" / "keepalived.conf").instance("UNICAST"))
    opts = resolve_options(JoinValues(priority=50, interface="eth1", learn_timeout_s=1.0), settings)
    assert opts == JoinOptions(
        vrid=20,  # the config's
        priority=50,  # given
        interface="eth1",  # given
        vips=("203.0.113.20/24",),
        version=3,
        advert_int_s=0.25,
        unicast_peers=("203.0.113.3", "203.0.113.4"),
        preempt=False,
        learn_timeout_s=1.0,  # given; the config has none
        instance="UNICAST",
        use_vmac="",  # use_vmac without a name: keepalived's default name
        vmac_xmit_base=True,
    )
    # A value the user gives equal to the default still wins over the config's.
    assert resolve_options(JoinValues(preempt=True), settings).preempt is True
    # Without a config: the defaults.
    assert resolve_options(JoinValues(vrid=1, priority=50)) == JoinOptions(vrid=1, priority=50)


@pytest.mark.parametrize(
    ("given", "missing"),
    [(JoinValues(vrid=1), "--priority"), (JoinValues(priority=50), "--vrid")],
)
def test_resolve_options_needs_vrid_and_priority(given: JoinValues, missing: str) -> None:
    with pytest.raises(JoinError, match=f"Missing option '{missing}'"):
        resolve_options(given)
