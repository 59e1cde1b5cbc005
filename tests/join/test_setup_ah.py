"""join's set-up with keepalived's AH: a keepalived.conf with ``auth_type AH``, the options,
the router's configuration and learning only from adverts that verify (no sockets)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from dissectors.ah import seal_ipv4, split_ah
from dissectors.ip import IPv4Header
from dissectors.vrrp import AuthType, VrrpV2, build_vrrp, parse_vrrp
from tests.helpers import GROUP, MASTER, VIP, FakeClock, FakeTransport
from vrrpwatch import netif
from vrrpwatch.join.settings import JoinError, JoinOptions, load_join_settings, resolve_options
from vrrpwatch.join.setup import Learnt, ah_key_of, build_config, learn_group
from vrrpwatch.join.transport import LinkChange, Received

AH_CONF = """\
vrrp_instance VI_3 {
    state BACKUP
    interface eth0
    virtual_router_id 3
    priority 50
    advert_int 1
    authentication {
        auth_type AH
        auth_pass ahsecret-and-more
    }
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
}
"""


def iface() -> netif.Interface:
    addrs = ((ipaddress.ip_address("192.0.2.254"), 24),)
    return netif.Interface(name="eth0", index=2, mac=b"\x02" * 6, up=True, addresses=addrs)


def test_a_config_with_auth_type_ah_gives_ah_options(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(AH_CONF)
    settings = load_join_settings(conf)
    assert settings.warnings == ()  # AH is no longer warned about
    assert settings.auth_type == "ah" and settings.auth_pass == "ahsecret-and-more"
    opts = resolve_options({}, settings)
    assert opts.auth_type == "ah"
    assert ah_key_of(opts) == b"ahsecret"  # keepalived: auth_pass cut to 8 bytes
    cfg, _ = build_config(opts, iface(), None)
    assert cfg.ah_key == b"ahsecret" and cfg.auth_pass is None and not cfg.ah_zero_ttl
    peers = resolve_options({"unicast_peers": ("192.0.2.253",)}, settings)
    assert build_config(peers, iface(), None)[0].ah_zero_ttl  # keepalived: TTL not covered


def test_ah_option_errors() -> None:
    with pytest.raises(JoinError, match="--auth-type ah needs --auth-pass-file"):
        ah_key_of(JoinOptions(vrid=3, priority=50, auth_type="ah"))
    with pytest.raises(JoinError, match="must be pass or ah"):
        ah_key_of(JoinOptions(vrid=3, priority=50, auth_type="md5", auth_pass="x"))
    v3 = JoinOptions(
        vrid=3, priority=50, auth_type="ah", auth_pass="k", version=3, vips=("192.0.2.1",)
    )
    with pytest.raises(JoinError, match="VRRPv2 only"):
        build_config(v3, iface(), None)
    with pytest.raises(JoinError, match="--auth-type pass needs"):
        build_config(
            JoinOptions(vrid=3, priority=50, auth_type="pass", vips=("192.0.2.1",)), iface(), None
        )


def _sealed_rx(key: bytes, seq: int) -> Received:
    adv = VrrpV2(
        vrid=1, priority=100, count_ip_addrs=1, auth_type=AuthType.AH, adver_int_s=1,
        addresses=(VIP,),
    )  # fmt: skip
    hdr = IPv4Header(src=MASTER, dst=GROUP, protocol=112, ttl=255, identification=1)
    sealed = split_ah(seal_ipv4(hdr, build_vrrp(adv, src=MASTER, dst=GROUP), key=key, sequence=seq))
    return Received(sealed.message, MASTER, GROUP, 255, None, sealed)


def test_learning_takes_only_an_ah_advert_that_verifies() -> None:
    script: list[tuple[float, Received | LinkChange]] = [
        (0.1, _sealed_rx(b"wrong", 1)),
        (0.2, _sealed_rx(b"k3y", 2)),
    ]
    clock = FakeClock()
    learnt = learn_group(FakeTransport(clock, script), 1, 5.0, clock=clock, ah=b"k3y")
    assert learnt is not None and clock.now == 0.2
    assert learnt == Learnt(
        parse_vrrp(_sealed_rx(b"k3y", 2).payload, src=MASTER, dst=GROUP), MASTER
    )
    # Without a key an AH advert is never learnt from.
    clock = FakeClock()
    script = [(0.1, _sealed_rx(b"k3y", 1))]
    assert learn_group(FakeTransport(clock, script), 1, 1.0, clock=clock) is None


def test_the_loop_hands_ah_parts_to_the_router_and_sequences_to_the_transport() -> None:
    """A backup hears the master's AH adverts (41, 42): the loop passes their raw parts to
    the router, which accepts them; after the master goes quiet our adverts go out with 43,
    44, ... (the transport seals them)."""
    from vrrpwatch.join.loop import Runtime
    from vrrpwatch.join.router import RouterConfig, State, VirtualRouter

    config = RouterConfig(
        vrid=1, priority=50, primary_address=ipaddress.IPv4Address("192.0.2.254"),
        addresses=(VIP,), version=2, ah_key=b"k3y", garp_repeat=0,
    )  # fmt: skip
    clock = FakeClock()
    script: list[tuple[float, Received | LinkChange]] = [
        (0.5, _sealed_rx(b"k3y", 41)),
        (1.5, _sealed_rx(b"k3y", 42)),
        (2.0, _sealed_rx(b"wrong", 43)),
    ]
    transport = FakeTransport(clock, script)
    events: list[dict[str, object]] = []
    rt = Runtime(router=VirtualRouter(config), transport=transport, emit=events.append, clock=clock)
    rt.run(until=lambda: clock.now >= 8.0)
    assert rt.router.state is State.INITIALIZE  # stopped, after a takeover
    # Master_Down_Interval after 42 at 1.5 s is 3 + 206/256 s: adverts at 5.3, 6.3, 7.3 and
    # 8.3 s (the loop stops after that step), then the priority-0 one on stopping.
    adverts = [(t, adv.priority) for t, kind, adv in transport.log if kind == "advert"]
    assert [p for _, p in adverts] == [50, 50, 50, 50, 0]
    assert adverts[0][0] == 1.5 + 3 + 206 / 256
    assert transport.ah_sequences == [43, 44, 45, 46, 47]
    (discard,) = [e for e in events if e["event"] == "discard"]
    assert discard["reason"] == "auth-failure" and "AH ICV" in str(discard["detail"])


def test_ah_without_a_password_runs_unauthenticated_as_keepalived(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(AH_CONF.replace("        auth_pass ahsecret-and-more\n", ""))
    settings = load_join_settings(conf)
    assert settings.auth_type is None and settings.auth_pass is None
    assert settings.warnings == (
        "auth_type AH with no auth_pass: no authentication, as keepalived",
    )
