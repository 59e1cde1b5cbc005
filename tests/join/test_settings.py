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
    # use_vmac and vmac_xmit_base are run (join.vmac); what join does not act on is a warning.
    assert ju.warnings == (
        "unicast_src_ip is ignored: adverts go from the interface's primary address",
    )
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


MULTI = """\
global_defs { notify_fifo /run/ka.fifo }
vrrp_sync_group G1 {
    group { VI_1 VI_2 NOPE }
    notify "/bin/gn x"
}
vrrp_sync_group G2 { group { VI_2 VI_3 } }
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress { 192.0.2.1/24 }
    notify_master "/bin/m a" nobody
}
vrrp_instance VI_2 {
    interface eth1
    virtual_router_id 2
    priority 90
    virtual_ipaddress { 198.51.100.2/24 }
}
vrrp_instance VI_3 {
    interface eth2
    virtual_router_id 3
    virtual_ipaddress { 203.0.113.3/24 }
}
"""


def test_load_join_config_every_instance_and_the_sync_groups(tmp_path: Path) -> None:
    from vrrpwatch.join.settings import GroupPlan, JoinPlan, Script, load_join_config, resolve_plan

    conf = tmp_path / "keepalived.conf"
    conf.write_text(MULTI)
    config = load_join_config(conf)
    assert [s.instance for s in config.settings] == ["VI_1", "VI_2", "VI_3"]
    assert config.notify_fifos == ("/run/ka.fifo",)
    # keepalived's vrrp_sync_set_group: unknown names ignored, one group per instance.
    assert config.groups == (
        GroupPlan(
            name="G1",
            members=("VI_1", "VI_2"),
            notify_scripts=(("notify", Script(("/bin/gn", "x"))),),
        ),
    )
    assert config.warnings == (
        "G1: instance NOPE does not exist; ignored",
        "G2: VI_2 is already in sync group G1; ignored",
        "G2: sync group has 1 of the instances join runs; ignored",
    )
    plan = resolve_plan(JoinValues(dry_run=True), config)
    assert isinstance(plan, JoinPlan)
    assert [(o.instance, o.vrid, o.priority, o.dry_run) for o in plan.instances] == [
        ("VI_1", 1, 100, True), ("VI_2", 2, 90, True), ("VI_3", 3, 100, True),
    ]  # fmt: skip
    assert plan.instances[0].notify_scripts == (("master", Script(("/bin/m", "a"), "nobody")),)
    assert plan.instances[0].notify_fifos == ("/run/ka.fifo",)
    with pytest.raises(JoinError, match="^--vip sets one instance's value"):
        resolve_plan(JoinValues(vips=("192.0.2.9",)), config)
    # One instance selected: its options, the flags override, no group left.
    one = load_join_config(conf, ("VI_2",))
    assert (
        one.groups == ()
        and "G1: sync group has 1 of the instances join runs; ignored" in one.warnings
    )
    opts = resolve_plan(JoinValues(priority=20), one)
    assert isinstance(opts, JoinOptions) and (opts.instance, opts.priority) == ("VI_2", 20)


def test_without_a_config_the_instance_is_named_after_the_vrid() -> None:
    assert JoinOptions(vrid=7, priority=50).instance == "VI_7"
    assert resolve_options(JoinValues(vrid=42, priority=50)).instance == "VI_42"


@pytest.mark.parametrize(
    ("line", "accept_mode", "warned"),
    [("accept", True, False), ("no_accept", False, True), ("", False, False)],
)
def test_accept_and_no_accept(tmp_path: Path, line: str, accept_mode: bool, warned: bool) -> None:
    """RFC 5798 Accept_Mode: ``accept`` is what join does (the host takes traffic to the VIPs
    it holds); ``no_accept`` would need a filter join does not install: said, not pretended."""
    conf = tmp_path / "k.conf"
    conf.write_text(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n"
        f" {line}\n virtual_ipaddress {{\n  192.0.2.1/24\n }}\n}}\n"
    )
    settings = join_settings(parse_config(conf).instance())
    assert settings.values().get("accept_mode", False) is accept_mode
    assert resolve_options({}, settings).accept_mode is accept_mode
    expected = (
        ("no_accept is not enforced: as master, this host accepts traffic to the virtual "
         "addresses it holds",)
        if warned else ()
    )  # fmt: skip
    assert settings.warnings == expected


def test_notify_scripts_run_as_script_user(tmp_path: Path) -> None:
    """keepalived's get_default_script_user: a notify line without ``username`` runs as
    global_defs ``script_user``; one with a user keeps it; sync groups' notifies too."""
    from vrrpwatch.join.settings import load_join_config

    conf = tmp_path / "k.conf"
    conf.write_text(
        "global_defs {\n script_user nobody nogroup\n}\n"
        "vrrp_sync_group G1 {\n group {\n  VI_1\n  VI_2\n }\n notify_master /bin/true\n}\n"
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n"
        " notify_master /bin/true\n notify_backup /bin/false root\n"
        " virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n"
        "vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 2\n priority 100\n"
        " virtual_ipaddress {\n  198.51.100.1/24\n }\n}\n"
    )
    cfg = load_join_config(conf)
    scripts = dict(cfg.settings[0].notify_scripts)
    assert (scripts["master"].user, scripts["master"].group) == ("nobody", "nogroup")
    assert (scripts["backup"].user, scripts["backup"].group) == ("root", None)
    (group,) = cfg.groups
    assert dict(group.notify_scripts)["master"].user == "nobody"


@pytest.mark.parametrize(
    "password", ["pässwört".encode(), b"s3\xffcret", b"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"]
)
def test_a_config_password_reaches_the_wire_as_keepalived_sends_it(
    tmp_path: Path, password: bytes
) -> None:
    """keepalived sends the first 8 bytes of auth_pass as the file has them, even when the cut
    falls inside a UTF-8 character or a byte is not UTF-8 (was: decoded with "replace", so
    U+FFFD's three bytes went out instead)."""
    from vrrpwatch.text import raw_bytes

    conf = tmp_path / "k.conf"
    conf.write_bytes(
        b"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n"
        b" authentication {\n auth_type PASS\n auth_pass " + password + b"\n }\n"
        b" virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n"
    )
    settings = join_settings(parse_config(conf).instance())
    assert settings.auth_pass is not None
    assert raw_bytes(settings.auth_pass) == password[:8]
    assert raw_bytes(resolve_options({}, settings).auth_pass or "") == password[:8]
