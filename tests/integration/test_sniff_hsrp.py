"""``vrrpwatch sniff`` and its kernel filter on real packets: HSRP from a lab host.

A host on VLAN 10 sends HSRPv1 and HSRPv2 over IPv4 (UDP 1985) and HSRPv2 over IPv6 (UDP 2029),
plus UDP that is not HSRP (mDNS's port, HSRP's IPv6 port over IPv4). A monitor on the 802.1Q
trunk sniffs: the kernel filter passes the HSRP datagrams with their tag, the others never
reach Python, and the run counts exactly the HSRP ones (``hsrp``) without following them as
VRRP routers.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dissectors.frame import parse_mac
from dissectors.hsrp import GroupState, HsrpV1, HsrpV2, V1State, V2State
from tests.conftest import ROOT, lab_unavailable
from tests.helpers import hsrp_frame
from tests.lab import Lab, missing_prerequisites
from vrrpwatch.pcap import iter_capture

pytestmark = pytest.mark.integration

R1 = "192.0.2.253"
VIP = ipaddress.IPv4Address("192.0.2.1")
MAC = bytes.fromhex("00000c9ff001")
SRC = ipaddress.IPv4Address(R1)
MSG_V1 = HsrpV1(state=V1State.ACTIVE, group=1, virtual_ip_address=VIP)
MSG_V2 = HsrpV2(
    tlvs=(GroupState(state=V2State.ACTIVE, group=1, identifier=MAC, virtual_ip_address=VIP),)
)
MSG_V6 = HsrpV2(
    tlvs=(
        GroupState(
            state=V2State.STANDBY,
            ip_version=6,
            group=1,
            identifier=MAC,
            virtual_ip_address=ipaddress.IPv6Address("fe80::5:73ff:fea0:1"),
            virtual_ip_padding=b"",
        ),
    )
)
ROUNDS = 3

# Run in the sender's namespace: the frames as given, on eth0 (AF_PACKET: the lab's veth
# would leave a UDP checksum sent through a socket to the NIC that is not there).
SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(int(sys.argv[1])):
    for frame in sys.argv[2:]:
        s.send(bytes.fromhex(frame))
    time.sleep(0.05)
print("sent")
"""


def frames(src_mac: bytes) -> list[bytes]:
    """HSRPv1 (TTL 1), HSRPv2 over IPv4 and over IPv6 (hop limit 255), as a router sends
    them; then UDP that is not HSRP: mDNS's port, HSRP's IPv6 port over IPv4."""
    src6 = ipaddress.IPv6Address("fe80::253")
    return [
        hsrp_frame(MSG_V1, src=SRC, src_mac=src_mac),
        hsrp_frame(MSG_V2, src=SRC, src_mac=src_mac, ttl=255),
        hsrp_frame(MSG_V6, src=src6, src_mac=src_mac, ttl=255),
        hsrp_frame(MSG_V2, src=SRC, src_mac=src_mac, ttl=255, dst_port=5353),
        hsrp_frame(MSG_V6, src=SRC, src_mac=src_mac, ttl=255, dst_port=2029),
    ]


def test_sniff_counts_hsrp_through_the_kernel_filter(tmp_path: Path) -> None:
    missing = missing_prerequisites()
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(prefix=f"vwh{secrets.token_hex(2)}", workdir=tmp_path / "lab")
    try:
        v10 = lab.segment(vlan=10)
        r1 = lab.host("r1", v10, addr4=f"{R1}/24", addr6="2001:db8::253/64")
        mon = lab.trunk_monitor("mon")
        db = tmp_path / "h.db"
        pcap = tmp_path / "h.pcap"
        sniff = subprocess.Popen(
            ["ip", "netns", "exec", mon.ns, sys.executable, "-m", "vrrpwatch", "sniff", "eth0",
             "--db", str(db), "--pcap-out", str(pcap)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        lab.processes.append(sniff)  # type: ignore[arg-type]  # stopped by PID at close()
        ready = threading.Event()

        def read() -> None:
            assert sniff.stdout is not None
            for line in sniff.stdout:
                if "sniffing on" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(30), "sniff did not start"
        sent = [f.hex() for f in frames(parse_mac(r1.mac()))]
        out = r1.run([sys.executable, "-c", SENDER, str(ROUNDS), *sent])
        assert out.stdout.strip() == "sent", out.stderr
        time.sleep(1.5)  # sniff commits every half second
        sniff.send_signal(signal.SIGTERM)
        assert sniff.wait(15) == 0
        doc = json.loads(
            subprocess.run(
                [sys.executable, "-m", "vrrpwatch", "report", "--db", str(db), "--json"],
                capture_output=True, text=True, cwd=ROOT, check=True,
            ).stdout
        )  # fmt: skip
        assert doc["hsrp"] == 3 * ROUNDS
        assert (doc["vrrp_adverts"], doc["malformed"]) == (0, 0)
        # followed as HSRP groups (never as VRRP routers), on VLAN 10
        routers = doc["virtual_routers"]
        assert routers and {(r["protocol"], tuple(r["vlan"])) for r in routers} == {("hsrp", (10,))}
        # What passed the kernel filter is in the pcap: HSRP only, tagged VLAN 10 (put back
        # from PACKET_AUXDATA), v1 with TTL 1, v2 with 255.
        decoded = [
            json.loads(line)
            for line in subprocess.run(
                [sys.executable, "-m", "vrrpwatch", "decode", "--json", str(pcap)],
                capture_output=True, text=True, cwd=ROOT, check=True,
            ).stdout.splitlines()
        ]  # fmt: skip
        hsrp = [r for r in decoded if r["kind"] == "hsrp"]
        assert len(hsrp) == 3 * ROUNDS and all(r["vlan"] == [10] for r in hsrp)
        assert [(r["findings"], r["checksum"]) for r in hsrp] == [([], "good")] * len(hsrp)
        by_dst = {(r["dst"], r["dst_port"], r["version"], r["ttl"]) for r in hsrp}
        assert by_dst == {
            ("224.0.0.2", 1985, 1, 1),
            ("224.0.0.102", 1985, 2, 255),
            ("ff02::66", 2029, 2, 255),
        }
        assert not [r for r in decoded if r["kind"] not in ("hsrp", "arp", "garp", "na")]
        # Every frame the filter let through is one decode shows: the other UDP stayed out.
        assert sum(1 for _ in iter_capture(pcap)) == len(decoded)
    finally:
        lab.close()
