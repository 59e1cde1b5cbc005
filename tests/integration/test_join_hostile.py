"""``vrrpwatch join`` against hostile peers in the namespace lab: floods beside a real
keepalived master, a second join on the same group, a planted state file."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import VRRPWATCH, Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import Host, Lab

pytestmark = pytest.mark.integration

# The flood sender: prebuilt VRRPv2 frames (lab addresses only) sent from an AF_PACKET socket
# as fast as one Python process can, bounded in time and count.
FLOOD = r"""
import socket, sys, time
from ipaddress import ip_address as A
from dissectors.frame import build_ethernet
from dissectors.ip import IPv4Header, build_ipv4
from dissectors.vrrp import AuthType, VrrpV2, build_vrrp

mode, seconds, limit, rate = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
group_mac = b"\x01\x00\x5e\x00\x00\x12"
dst_mac = bytes.fromhex(sys.argv[5].replace(":", "")) if len(sys.argv) > 5 else group_mac
mac = bytes.fromhex(open("/sys/class/net/eth0/address").read().strip().replace(":", ""))
group = A("224.0.0.18")
frames = []
for i in range(254):
    vrid = 2 + i if mode == "other-vrid" else 1
    src = A(f"192.0.2.{100 + i % 100}")
    adv = VrrpV2(vrid=vrid, priority=254, count_ip_addrs=1, auth_type=AuthType.SIMPLE,
                 adver_int_s=1, addresses=(A("192.0.2.1"),), auth_data=b"s3cret\0\0")
    payload = bytearray(build_vrrp(adv, src=src, dst=group))
    if mode == "bad-checksum":
        payload[6] ^= 0xFF
    ip = build_ipv4(IPv4Header(src=src, dst=group, protocol=112, ttl=255), bytes(payload))
    frames.append(build_ethernet(dst_mac, mac, 0x0800, ip))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
send = s.send
n = errors = 0
t0 = time.monotonic()
end = t0 + seconds
burst = frames if rate == 0 else frames[:50]
while n < limit and time.monotonic() < end:
    for f in burst:
        try:
            send(f)
        except OSError:
            errors += 1
    n += len(burst)
    if rate:  # paced: n frames by t0 + n / rate
        time.sleep(max(0.0, t0 + n / rate - time.monotonic()))
elapsed = time.monotonic() - t0
print(f"FLOOD {mode} sent={n} errors={errors} seconds={elapsed:.2f} rate={n / elapsed:.0f}",
      flush=True)
"""


@pytest.fixture
def hlab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _after_master(log: str) -> str:
    """keepalived's log after it first entered MASTER (its start says BACKUP, init)."""
    return log.split("Entering MASTER STATE", 1)[-1]


def _flood(
    host: Host,
    mode: str,
    seconds: float,
    *,
    rate: float = 0,
    limit: int = 5_000_000,
    to_mac: str | None = None,
) -> dict[str, float]:
    """Flood from ``host`` for ``seconds`` at ``rate`` frames/s (0: as fast as it can), to the
    VRRP group's MAC or to ``to_mac`` (the IP destination is the group either way)."""
    script = host.workdir / "flood.py"
    script.write_text(FLOOD)
    out = host.run(
        [sys.executable, str(script), mode, str(seconds), str(limit), str(rate)]
        + ([to_mac] if to_mac else []),
        timeout=seconds + 30,
    ).stdout
    m = re.search(r"sent=(\d+) errors=(\d+) seconds=([\d.]+) rate=(\d+)", out)
    assert m, out
    sent, errors, secs, rate = m.groups()
    return {"sent": int(sent), "errors": int(errors), "seconds": float(secs), "rate": int(rate)}


def test_join_stays_backup_under_a_flood_for_other_vrids(hlab: Lab) -> None:
    """The red team's flood: adverts for other VRIDs at the rate the sender reaches, beside a
    live keepalived master. The kernel filter drops them before Python: join stays BACKUP,
    never takes the VIP, and spends little CPU on it."""
    r1, r2, _mon = classic(hlab)
    atk = hlab.host("atk", addr4="192.0.2.99/24")
    k1 = r1.keepalived(
        vrid=1, priority=100, state="MASTER", vips=["192.0.2.1/24"], auth_type="PASS",
        auth_pass="s3cret",
    )  # fmt: skip
    r1.wait_for_address("192.0.2.1", timeout=10)
    j = Join(r2, "--vrid", "1", "--priority", "50")
    j.wait_state("BACKUP", 8)
    time.sleep(1.0)
    cpu0 = _cpu_s(j.proc.pid)
    figures = _flood(atk, "other-vrid", 8.0)
    cpu = _cpu_s(j.proc.pid) - cpu0
    time.sleep(1.0)
    print(
        f"flood for other VRIDs: {figures['sent']} frames in {figures['seconds']:.1f} s "
        f"({figures['rate']}/s); join CPU {cpu:.2f} s; states {j.states()}"
    )
    assert figures["rate"] > 10_000  # a real flood, or the test proves nothing
    assert j.states() == ["BACKUP"] and not r2.has_address("192.0.2.1")
    assert r1.has_address("192.0.2.1") and "Entering BACKUP" not in _after_master(k1.log)
    assert cpu < 0.2 * figures["seconds"]  # the flood never reached Python
    assert j.signal(signal.SIGTERM) == 0


def test_join_stays_backup_under_a_bad_checksum_flood_for_its_own_vrid(hlab: Lab) -> None:
    """Bad-checksum adverts for join's own VRID and of its advert's length, paced at 5,000/s
    and then at the sender's full rate: the kernel filter verifies the checksum (RFC 3768
    section 5.3.8) and drops them before Python, so join stays BACKUP beside the live
    keepalived master and spends almost no CPU. Sent to join's MAC, so that keepalived's
    kernel drops them unread and the master keeps advertising (sent to the group, keepalived
    itself falls behind and stops advertising: join would then rightly take over)."""
    r1, r2, _mon = classic(hlab)
    atk = hlab.host("atk", addr4="192.0.2.99/24")
    r1.keepalived(
        vrid=1, priority=100, state="MASTER", vips=["192.0.2.1/24"], auth_type="PASS",
        auth_pass="s3cret",
    )  # fmt: skip
    r1.wait_for_address("192.0.2.1", timeout=10)
    j = Join(r2, "--vrid", "1", "--priority", "50")
    j.wait_state("BACKUP", 8)
    time.sleep(1.0)
    for rate, seconds in ((5000, 6.0), (0, 8.0)):
        cpu0 = _cpu_s(j.proc.pid)
        figures = _flood(atk, "bad-checksum", seconds, rate=rate, to_mac=r2.mac())
        cpu = _cpu_s(j.proc.pid) - cpu0
        print(
            f"bad-checksum flood for VRID 1: {figures['sent']} frames in "
            f"{figures['seconds']:.1f} s ({figures['rate']}/s); join CPU {cpu:.2f} s; "
            f"states {j.states()}"
        )
        assert figures["rate"] > (4000 if rate else 10_000)
        assert j.states() == ["BACKUP"] and not r2.has_address("192.0.2.1")
        assert cpu < 0.2 * figures["seconds"]
    time.sleep(1.0)
    assert j.states() == ["BACKUP"] and r1.has_address("192.0.2.1")
    assert j.signal(signal.SIGTERM) == 0


def test_a_planted_state_file_and_a_second_join_remove_nothing(hlab: Lab) -> None:
    """The red team's state-file findings, for real: a file owned by nobody listing the
    interface's only IPv4 address (its primary) is ignored; a second join on the same
    interface, VRID and family is refused while the first lives, and the first keeps its VIP."""
    _r1, r2, _mon = classic(hlab)
    state = r2.workdir / "join-state.json"
    state.write_text(
        json.dumps({"interface": "eth0", "pid": 1, "addresses": [["192.0.2.254", 24]]})
    )
    state.chmod(0o600)
    os.chown(state, 65534, 65534)
    args = ("--vrid", "1", "--priority", "150", "--vip", "192.0.2.1/24", "--version", "2")
    j = Join(r2, *args, "--learn-timeout", "0.3", state_file=state)
    j.wait_state("MASTER", 8)
    warning = j.wait_for(lambda e: e["event"] == "warning" and "state file" in e["message"], 2)
    assert warning["message"] == (
        f"Warning: ignoring state file {state}: owned by uid 65534, not root or us; nothing removed"
    )
    assert r2.has_address("192.0.2.254") and r2.has_address("192.0.2.1")
    other_state = r2.workdir / "other-state.json"
    second = r2.run(
        [VRRPWATCH, "join", *args, "--learn-timeout", "0.3",
         "--state-file", str(other_state), "--db", str(r2.workdir / "j2.db")],
        check=False,
    )  # fmt: skip
    assert second.returncode == 2
    errors = [line for line in second.stderr.splitlines() if line.startswith("Error:")]
    assert (
        errors
        == second.stderr.splitlines()[-1:]
        == [f"Error: another join (pid {j.proc.pid}) is running on eth0 VRID 1 IPv4; stop it first"]
    )
    time.sleep(0.5)
    assert r2.has_address("192.0.2.1") and j.states() == ["BACKUP", "MASTER"]
    assert j.signal(signal.SIGTERM) == 0
    assert not r2.has_address("192.0.2.1") and r2.has_address("192.0.2.254")
    assert not state.exists()  # ours now, and removed with the last VIP
