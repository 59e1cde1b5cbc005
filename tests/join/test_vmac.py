"""join's use_vmac: the macvlan's name and reuse rules, the state file's record of it, and the
removal of a killed run's macvlan (netlink replaced by a fake)."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import pytest

from vrrpwatch import netif
from vrrpwatch.join import vmac
from vrrpwatch.join.router import RouterConfig
from vrrpwatch.join.settings import JoinError, JoinOptions
from vrrpwatch.join.statefile import StateFile, VmacRecord, read_vmac_record
from vrrpwatch.join.vmac import LinkFacts, choose_link, is_our_vmac, valid_ifname, vmac_names

MAC9 = bytes.fromhex("00005e000109")
BASE = netif.Interface(
    name="eth0",
    index=2,
    mac=bytes.fromhex("020000000002"),
    up=True,
    addresses=((ipaddress.ip_address("192.0.2.254"), 24),),
)


def link(name: str, index: int, *, kind: str | None = "macvlan", mode: str | None = "private",
         lower: int | None = 2, mac: bytes = MAC9) -> LinkFacts:  # fmt: skip
    return LinkFacts(name=name, index=index, kind=kind, mode=mode, link=lower, mac=mac)


ETH0 = link("eth0", 2, kind="veth", mode=None, lower=None, mac=BASE.mac)


def test_names_follow_keepalived() -> None:
    assert list(vmac_names(9, 4, limit=4)) == ["vrrp.9", "vrrp1.9", "vrrp2.9", "vrrp3.9"]
    # IPv6: vrrp6 second (an IPv4 instance of the same VRID has vrrp.N), then 1, 2... without 6.
    assert list(vmac_names(9, 6, limit=8)) == [
        "vrrp.9", "vrrp6.9", "vrrp1.9", "vrrp2.9", "vrrp3.9", "vrrp4.9", "vrrp5.9", "vrrp7.9",
    ]  # fmt: skip


def test_valid_ifname_is_the_kernels_rule() -> None:
    assert valid_ifname("vrrp.255") and valid_ifname("a" * 15)
    for bad in ("", "a" * 16, ".", "..", "a/b", "a:b", "a b", "a\tb"):
        assert not valid_ifname(bad), bad


def test_is_our_vmac_needs_private_macvlan_with_our_mac_on_our_interface() -> None:
    assert is_our_vmac(link("x", 5), base_index=2, mac=MAC9)
    assert not is_our_vmac(link("x", 5, mode="bridge"), base_index=2, mac=MAC9)
    assert not is_our_vmac(link("x", 5, kind="vlan"), base_index=2, mac=MAC9)
    assert not is_our_vmac(link("x", 5, lower=3), base_index=2, mac=MAC9)
    assert not is_our_vmac(link("x", 5, mac=bytes.fromhex("00005e00010a")), base_index=2, mac=MAC9)


def test_choose_link() -> None:
    # Nothing there: keepalived's first name, to create.
    assert choose_link([ETH0], base_index=2, vrid=9, family=4) == ("vrrp.9", None)
    # vrrp.9 is something else: the next name.
    other = link("vrrp.9", 7, kind="bridge", mode=None, lower=None, mac=BASE.mac)
    assert choose_link([ETH0, other], base_index=2, vrid=9, family=4) == ("vrrp1.9", None)
    assert choose_link([ETH0, other], base_index=2, vrid=9, family=6) == ("vrrp6.9", None)
    # Our macvlan exists (under any name, the configured one or not): used as it is.
    ours = link("old9", 8)
    assert choose_link([ETH0, ours], base_index=2, vrid=9, family=4) == ("old9", ours)
    assert choose_link([ETH0, ours], base_index=2, vrid=9, family=4, name="v9") == ("old9", ours)
    # The configured name: free, created; taken by another link, refused (never replaced).
    assert choose_link([ETH0], base_index=2, vrid=9, family=4, name="v9") == ("v9", None)
    with pytest.raises(JoinError, match="interface eth0 exists and is not a private macvlan"):
        choose_link([ETH0], base_index=2, vrid=9, family=4, name="eth0")
    with pytest.raises(JoinError, match="not a valid interface name"):
        choose_link([ETH0], base_index=2, vrid=9, family=4, name="a:b")


def test_other_vmacs_counts_vrrp_macvlans_on_the_base_only() -> None:
    assert not vmac._other_vmacs([ETH0, link("m", 5, mac=bytes.fromhex("020000000005"))], 2)
    assert not vmac._other_vmacs([ETH0, link("m", 5, lower=3)], 2)
    assert vmac._other_vmacs([ETH0, link("m", 5, mac=bytes.fromhex("00005e000201"))], 2)


RECORD = VmacRecord(
    name="vrrp.9", index=8, mac="00:00:5e:00:01:09", base="eth0", created=True,
    base_conf={"arp_ignore": 0, "arp_filter": 0},
)  # fmt: skip


def test_state_file_keeps_the_vmac_while_it_exists(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    sf = StateFile(path, "eth0", vmac=RECORD)
    sf.write(())  # BACKUP: no addresses, but the macvlan is there
    data = json.loads(path.read_text())
    assert data["addresses"] == [] and data["vmac"] == {
        "name": "vrrp.9", "index": 8, "mac": "00:00:5e:00:01:09", "base": "eth0",
        "created": True, "base_conf": {"arp_ignore": 0, "arp_filter": 0},
    }  # fmt: skip
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_vmac_record(path, lambda e: None) == (RECORD, os.getpid())
    StateFile(path, "eth0").write(())  # the macvlan gone, no addresses: no file
    assert not path.exists()
    assert read_vmac_record(path, lambda e: None) is None


def test_state_file_without_vmac_and_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateFile(path, "eth0").write([(ipaddress.ip_address("192.0.2.9"), 24)])
    assert read_vmac_record(path, lambda e: None) is None  # an older run's file: no macvlan
    for bad, why in (
        ([], "'vmac' is not an object"),
        ({**RECORD.as_json(), "index": "8"}, "'vmac.index' is not a int"),
        ({**RECORD.as_json(), "created": 1}, "'vmac.created' is not a bool"),
        ({**RECORD.as_json(), "base_conf": {"arp_ignore": 12}}, "small integers"),
    ):
        data = json.loads(path.read_text())
        data["vmac"] = bad
        path.write_text(json.dumps(data))
        with pytest.raises(JoinError, match=why):
            read_vmac_record(path, lambda e: None)
    os.chmod(path, 0o644)  # not to be trusted: ignored, with a warning
    events: list[dict[str, Any]] = []
    assert read_vmac_record(path, events.append) is None
    assert "mode 0644" in events[0]["message"]


class FakeNetlink:
    def __init__(self) -> None:
        self.deleted: list[int] = []

    def link(self, cmd: str, **kw: Any) -> None:
        assert cmd == "del"
        self.deleted.append(kw["index"])


@pytest.mark.parametrize(
    ("record", "links", "removed"),
    [
        (RECORD, [ETH0, link("vrrp.9", 8)], True),
        # Not created by that run, or no longer that very link: left alone.
        (VmacRecord(**{**RECORD.as_json(), "created": False}), [ETH0, link("vrrp.9", 8)], False),
        (RECORD, [ETH0, link("vrrp.9", 9)], False),  # another index: someone re-made it
        (RECORD, [ETH0, link("other", 8)], False),
        (RECORD, [ETH0, link("vrrp.9", 8, mode="bridge")], False),
        (RECORD, [ETH0, link("vrrp.9", 8, lower=3)], False),
        (VmacRecord(**{**RECORD.as_json(), "base": "eth1"}), [ETH0, link("vrrp.9", 8)], False),
        # A record pointing at a link that is no VRRP macvlan (eth0 itself): never.
        (
            VmacRecord(
                **{**RECORD.as_json(), "name": "eth0", "index": 2, "mac": "02:00:00:00:00:02"}
            ),
            [ETH0],
            False,
        ),
    ],
)
def test_remove_stale_only_our_very_link(
    record: VmacRecord, links: list[LinkFacts], removed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vmac, "list_links", lambda ipr: links)
    nl = FakeNetlink()
    events: list[dict[str, Any]] = []
    conf = vmac._remove_stale(nl, (record, 4242), BASE, events.append)
    assert nl.deleted == ([8] if removed else [])
    if removed:
        assert events[0]["action"] == "stale-removed" and "pid 4242" in events[0]["message"]
        assert conf == {"arp_ignore": 0, "arp_filter": 0}  # carried over to this run
    else:
        assert events == []


def test_options_refused_before_anything_opens() -> None:
    with pytest.raises(JoinError, match="--vmac-xmit-base needs --use-vmac"):
        vmac.check_vmac_options(JoinOptions(vrid=9, priority=50, vmac_xmit_base=True))
    with pytest.raises(JoinError, match="'a:b' is not a valid interface name"):
        vmac.check_vmac_options(JoinOptions(vrid=9, priority=50, use_vmac="a:b"))
    vmac.check_vmac_options(JoinOptions(vrid=9, priority=50, use_vmac=""))
    vmac.check_vmac_options(JoinOptions(vrid=9, priority=50, use_vmac="v9", vmac_xmit_base=True))


def test_xmit_base_needs_use_vmac(tmp_path: Path) -> None:
    opts = JoinOptions(vrid=9, priority=50, vmac_xmit_base=True)
    config = RouterConfig(
        vrid=9, priority=50, primary_address=ipaddress.ip_address("192.0.2.254"),
        addresses=(ipaddress.ip_address("192.0.2.9"),),
    )  # fmt: skip
    with pytest.raises(JoinError, match="--vmac-xmit-base needs --use-vmac"):
        vmac.start_vmac(opts, config, BASE, None, tmp_path / "s.json", print)  # type: ignore[arg-type]
    plain = JoinOptions(vrid=9, priority=50)
    assert vmac.start_vmac(plain, config, BASE, None, tmp_path / "s", print) is None  # type: ignore[arg-type]


class _Sent:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def send(self, frame: bytes) -> int:
        self.frames.append(frame)
        return len(frame)


def test_gratuitous_arp_from_the_macvlan_is_keepalived_s() -> None:
    """With use_vmac the gratuitous ARP leaves from the macvlan's virtual MAC: the one
    keepalived sends with use_vmac (captures/vmac.pcap, VRID 8), byte for byte but for the
    target hardware address, which keepalived fills with ff:ff:ff:ff:ff:ff and join, as RFC
    5227 section 2.3 has it, leaves zero (receivers ignore it in a gratuitous ARP)."""
    from tests.lab import pcap_frames
    from vrrpwatch.join.transport import RawTransport

    mac8 = bytes.fromhex("00005e000108")
    theirs = next(
        f for _, f in pcap_frames(Path(__file__).parents[2] / "captures" / "vmac.pcap")
        if f[12:14] == b"\x08\x06" and f[6:12] == mac8
    )  # fmt: skip
    transport = object.__new__(RawTransport)
    transport.announce = netif.Interface(name="vrrp.8", index=9, mac=mac8, up=True, addresses=())
    sent = _Sent()
    transport._packet = sent  # type: ignore[assignment]
    transport.send_gratuitous_arp(ipaddress.IPv4Address("198.51.100.8"))
    (ours,) = sent.frames
    tha = slice(32, 38)  # Ethernet header 14 + the ARP target hardware address at 18..24
    assert ours[tha] == bytes(6) and theirs[tha] == b"\xff" * 6
    assert ours[: tha.start] + ours[tha.stop :] == theirs[: tha.start] + theirs[tha.stop : 42]
