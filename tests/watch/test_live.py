"""``sniff`` without a network: the kernel filter (run by a small classic-BPF interpreter over
real captures), VLAN re-insertion, the rotating pcap writer, the capture loop with fake sockets
and a fake clock, the JSON lines, and the CLI's one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dissectors import ours
from dissectors.common import DecodeError
from dissectors.packet import decode_packet
from tests.conftest import CAPTURES, PUBLIC_CAPTURES, ROOT, lab_unavailable
from tests.crafted import CRAFTED_HSRP
from tests.helpers import MAC1, MAC2, R1, R2, advert, kernel_view, run_bpf
from vrrpwatch.cli import cli
from vrrpwatch.pcap import PcapWriter, iter_capture
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store
from vrrpwatch.watch.live import (
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    VRRP_FILTER,
    Sniffer,
    reinsert_vlan,
)
from vrrpwatch.watch.monitor import Monitor

CAPTURE_FILES = sorted(
    [p for p in PUBLIC_CAPTURES.glob("*") if p.suffix in (".pcap", ".pcapng", ".cap")]
    + list(CAPTURES.glob("*.pcap"))
)


# (Ethernet frames, frames the kernel filter passes) per capture. tshark agrees on every
# count: frames whose first header after at most two 802.1Q/ad tags is ARP, IPv4 protocol 112
# or 51 or UDP to port 1985 (HSRP), or IPv6 next header 112 or 51, UDP to port 2029 (HSRPv2) or
# an ICMPv6 neighbour advertisement.
FILTER_COUNTS = {
    "frr-keepalived.pcap": (13, 13),
    "rogue.pcap": (25, 25),
    "unicast.pcap": (36, 36),
    "v2-ah.pcap": (17, 17),
    "v2-auth-mismatch.pcap": (33, 33),
    "v2-failover.pcap": (57, 57),
    "v3-ipv4-fast.pcap": (135, 135),
    "v3-ipv6.pcap": (27, 27),
    "vlans.pcap": (105, 105),
    "vmac.pcap": (17, 17),
    "v2-three-routers.pcap": (15, 15),
    "HSRP_coup.pcap": (51, 51),
    "HSRP_election.pcap": (49, 49),
    "HSRP_failover.pcap": (39, 39),
    "carp-ucarp.pcap": (31, 31),  # 18 CARP adverts, 13 gratuitous ARPs (tshark)
    "VRRP-V2.pcap": (1, 1),
    "VRRP-V3-IPv4.pcap": (1, 1),
    "VRRP-V3-IPv6.pcap": (1, 1),
    "capwap.pcap": (422, 16),
    "eapon1.pcap": (114, 5),
    "enip_cip_example.pcap": (776, 4),
    "erspan-type-ii-2.pcap": (16, 0),
    "fix2.pcap": (3049, 3),
    "fuzz-2020-02-16-11740.pcap": (366, 1),
    "gnutella.pcap": (3905, 23),
    "hsrp0.pcap": (4, 4),
    "hsrp2.pcap": (2, 2),
    "hsrp2_ipv6.pcapng": (36, 36),
    "icmp-icmp_print-oobr-1.pcap": (3, 1),
    "icmp-icmp_print-oobr-2.pcap": (0, 0),
    "icmp_dot1q.pcap": (15, 6),
    "iphone.pcap": (500, 10),
    "linuxsll-arp.pcap": (0, 0),
    "pbb.pcap": (12, 0),
    "suricata-verify_base64-decode-5885_input.pcap": (1143, 108),
    "suricata-verify_output-eve-ftp-data_input.pcap": (1350, 137),
    "suricata-verify_smb2-ntlmssp-negotiateflags_input.pcap": (1000, 97),
    "vrrp-vrrp_print-oobr-2.pcap": (10, 10),
    "vrrp-vrrp_print-oobr.pcap": (0, 0),
    "vrrp.pcap": (165, 165),
    "vrrp3.pcapng": (10, 10),
}


def _ours(data: bytes) -> bool:
    try:
        return decode_packet(data, 1) is not None
    except DecodeError:
        return True  # malformed VRRP is ours too: the monitor reports it


@pytest.mark.parametrize("path", CAPTURE_FILES, ids=lambda p: p.name)
def test_filter_passes_every_frame_the_decoder_keeps(path: Path) -> None:
    if not PUBLIC_CAPTURES.is_dir() and PUBLIC_CAPTURES in path.parents:
        lab_unavailable("public captures missing")
    seen = passed = 0
    for p in iter_capture(path):
        if p.linktype != 1:
            continue
        seen += 1
        accepted = run_bpf(VRRP_FILTER, kernel_view(p.data)) > 0
        passed += accepted
        if _ours(p.data) and _simple(p.data):
            assert accepted, f"frame {p.frame} dropped by the kernel filter"
        if not ours.may_be_ours(p.data, 1):
            assert not accepted, f"frame {p.frame} (none of ours) passed the kernel filter"
    assert path.name in FILTER_COUNTS, "a new capture: add its counts (check them with tshark)"
    assert (seen, passed) == FILTER_COUNTS[path.name]


def _simple(frame: bytes) -> bool:
    """Frames the filter is meant for: at most two tags, no IPv6 extension header before
    VRRP, no 802.1ah; the decoder also walks those (capture files), sniff does not
    (tests/dissectors/test_ours.py shows each case on generated frames)."""
    off = 12
    tags = 0
    while frame[off : off + 2] in ours.TAG_TPID_BYTES:
        off += 4
        tags += 1
    et = frame[off : off + 2]
    if tags > 2 or int.from_bytes(et, "big") == ours.ETH_P_PBB:
        return False
    direct = ours.IP_PROTOCOLS | {ours.IPPROTO_ICMPV6, ours.IPPROTO_UDP}
    return not (et == ours.ETH_P_IPV6_BYTES and frame[off + 8] not in direct)


@pytest.mark.parametrize("name", sorted(CRAFTED_HSRP))
def test_filter_passes_crafted_hsrp_frames(name: str) -> None:
    """HSRPv1, HSRPv2 over IPv4 (UDP 1985) and IPv6 (UDP 2029) and the virtual MACs'
    gratuitous ARPs (tests/crafted.py; tshark agrees on each in test_hsrp_tshark.py)."""
    frames = [frame for _, frame in CRAFTED_HSRP[name]()]
    assert frames
    for frame in frames:
        assert _ours(frame) and _simple(frame)
        assert run_bpf(VRRP_FILTER, kernel_view(frame)) > 0


def test_filter_rejects_other_traffic() -> None:
    eth = bytes(12)
    ipv4 = bytearray(20)
    ipv4[0] = 0x45
    for proto, want in ((6, 0), (17, 0), (1, 0), (112, 65535), (51, 65535)):
        ipv4[9] = proto
        assert run_bpf(VRRP_FILTER, eth + b"\x08\x00" + bytes(ipv4) + bytes(20)) == want
        tagged = eth + b"\x81\x00\x00\x0a\x08\x00" + bytes(ipv4) + bytes(20)
        assert run_bpf(VRRP_FILTER, tagged) == want  # an inner tag left in the data
    ipv6 = bytearray(40)
    ipv6[0] = 0x60
    for nh, icmp_type, want in ((58, 135, 0), (58, 136, 65535), (112, 0, 65535), (6, 0, 0)):
        ipv6[6] = nh
        assert (
            run_bpf(VRRP_FILTER, eth + b"\x86\xdd" + ipv6 + bytes([icmp_type]) + bytes(23)) == want
        )
    assert run_bpf(VRRP_FILTER, eth + b"\x08\x06" + bytes(28)) == 65535  # ARP
    assert run_bpf(VRRP_FILTER, eth + b"\x88\xcc" + bytes(40)) == 0  # LLDP
    assert run_bpf(VRRP_FILTER, eth + b"\x08\x00") == 0  # short: no crash, dropped


def test_vlan_reinserted_from_auxdata() -> None:
    frame = bytes(range(12)) + b"\x08\x00" + b"payload"
    assert reinsert_vlan(frame, 0, 10, 0) == frame
    tagged = reinsert_vlan(frame, TP_STATUS_VLAN_VALID, 10, 0)
    assert tagged == bytes(range(12)) + b"\x81\x00\x00\x0a\x08\x00payload"
    qinq = reinsert_vlan(tagged, TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID, 0x2014, 0x88A8)
    assert qinq[12:20] == b"\x88\xa8\x20\x14\x81\x00\x00\x0a"  # outermost first
    link = decode_packet(reinsert_vlan(advert(R1, 100), TP_STATUS_VLAN_VALID, 10, 0), 1)
    assert link is not None and link.link.vlans == (10,)


# -- pcap out ---------------------------------------------------------------------------------


def test_pcap_writer_rotates_by_size_and_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "x.pcap"
    frames = [(1_700_000_000.123456789 + i, advert(R1, 100 + i)) for i in range(10)]
    record = 16 + len(frames[0][1])
    w = PcapWriter(out, max_bytes=24 + 3 * record)
    for t, data in frames:
        w.write(t, data)
    w.close()
    assert w.files == [out, tmp_path / "x.pcap.1", tmp_path / "x.pcap.2", tmp_path / "x.pcap.3"]
    back = [p for f in w.files for p in iter_capture(f)]
    assert [p.data for p in back] == [d for _, d in frames]
    assert [round(p.time, 6) for p in back] == [round(t, 6) for t, _ in frames]
    assert [len(list(iter_capture(f))) for f in w.files] == [3, 3, 3, 1]
    assert all(f.stat().st_size <= 24 + 3 * record for f in w.files)


def test_pcap_writer_keeps_an_oversized_frame(tmp_path: Path) -> None:
    w = PcapWriter(tmp_path / "y.pcap", max_bytes=10)
    w.write(1.0, b"\x00" * 60)
    w.write(2.0, b"\x00" * 60)
    w.close()
    assert [len(list(iter_capture(f))) for f in w.files] == [1, 1]


def test_pcap_out_unwritable_is_one_line(tmp_path: Path) -> None:
    from vrrpwatch.pcap import CaptureError

    with pytest.raises(CaptureError, match="--pcap-out .*: No such file or directory"):
        PcapWriter(tmp_path / "no" / "dir.pcap", 1 << 20)


# -- the loop, with fake sockets and a fake clock ---------------------------------------------


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 0.05
        return self.now


class FakeSocket:
    """Always readable (a socketpair with a byte in it); hands out frames due by the clock."""

    def __init__(
        self,
        clock: FakeClock,
        frames: list[tuple[float, bytes]],
        drops: int = 0,
        name: str = "fake0",
    ):
        self.name, self.index = name, 0
        self.sock, self._peer = socket.socketpair()
        self._peer.send(b"x")
        self.clock = clock
        self.queue = list(frames)
        self.drops = 0
        self._pending_drops = drops

    def read(self, limit: int = 256) -> list[tuple[float, bytes]]:
        due = [f for f in self.queue if f[0] <= self.clock.now][:limit]
        del self.queue[: len(due)]
        return due

    def update_stats(self) -> None:
        self.drops += self._pending_drops
        self._pending_drops = 0

    def close(self) -> None:
        self.sock.close()
        self._peer.close()


def test_loop_numbers_frames_stores_and_raises_master_lost(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    clock = FakeClock(t0)
    frames = [(t0 + i, advert(R1, 200)) for i in range(3)]
    bad = bytearray(advert(R1, 200))
    bad[14 + 20] = 0x71  # VRRP version 7
    frames += [(t0 + 3.5, bytes(bad))]  # malformed
    frames += [(t0 + 8.5, advert(R1, 200))]  # resumes: through the decode cache's fast path
    sock = FakeSocket(clock, frames, drops=7)
    db = open_db(tmp_path / "s.db")
    monitor = Monitor(fingerprint=lambda pw: "fp")
    store = Store(db)
    store.begin_run(kind="sniff", source="fake0")
    events: list[object] = []
    pcap = PcapWriter(tmp_path / "s.pcap", 1 << 20)
    sniffer = Sniffer(
        [sock], monitor, store, pcap=pcap, on_event=events.append, watch_links=False,  # type: ignore[list-item]
        clock=clock,
    )  # fmt: skip
    sniffer.run(duration_s=9.0)
    sniffer.flush()
    sniffer.close()
    kinds = [getattr(e, "kind", type(e).__name__) for e in events]
    assert kinds.count("master-lost") == 1
    assert kinds[-1] == "master-lost-cleared"
    assert "malformed" in kinds and "Transition" in kinds
    lost = next(e for e in events if getattr(e, "kind", "") == "master-lost")
    # Last advert at t0 + 2; no backup known: priority 1, 3.996 s, plus 0.25 s of slack;
    # expire() runs every 100 ms of the (fake) clock.
    assert 2 + 3.996 + 0.25 < lost.time - t0 <= 2 + 3.996 + 0.25 + 0.2  # type: ignore[attr-defined]
    assert lost.frame == 3  # type: ignore[attr-defined]
    run = db.execute("SELECT packets, kernel_drops FROM runs").fetchone()
    assert run == (5, 7)
    assert [p.frame for p in iter_capture(tmp_path / "s.pcap")] == [1, 2, 3, 4, 5]
    assert db.execute("SELECT count(*) FROM alerts WHERE kind = 'master-lost'").fetchone() == (1,)


def test_loop_backup_taking_over_is_no_master_lost(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    clock = FakeClock(t0)
    # r1 (200) stops after t0 + 2; r2 (100) takes over after its Master_Down_Interval.
    frames = [(t0 + i, advert(R1, 200)) for i in range(3)]
    frames += [(t0 + 2 + 3.609 + i, advert(R2, 100, mac=MAC2)) for i in range(4)]
    sock = FakeSocket(clock, frames)
    events: list[object] = []
    monitor = Monitor(fingerprint=lambda pw: "fp")
    sniffer = Sniffer(
        [sock],
        monitor,
        on_event=events.append,
        watch_links=False,
        clock=clock,  # type: ignore[list-item]
    )
    sniffer.run(duration_s=10.0)
    sniffer.close()
    kinds = [getattr(e, "kind", None) for e in events]
    assert "master-change" in kinds and "master-lost" not in kinds
    assert MAC1 != MAC2


def test_same_router_on_two_interfaces_is_flagged_once() -> None:
    t0 = 1_700_000_000.0
    clock = FakeClock(t0)
    a = FakeSocket(clock, [(t0 + i, advert(R1, 100)) for i in range(3)], name="eth0")
    b = FakeSocket(
        clock, [(t0 + i + 0.5, advert(R2, 100, mac=MAC2)) for i in range(3)], name="eth1"
    )
    c = FakeSocket(clock, [(t0 + i, advert(R2, 100, vrid=2)) for i in range(3)], name="eth2")
    events: list[object] = []
    sniffer = Sniffer(
        [a, b, c], Monitor(fingerprint=lambda pw: ""), on_event=events.append,  # type: ignore[list-item]
        watch_links=False, clock=clock,
    )  # fmt: skip
    sniffer.run(duration_s=3.0)
    sniffer.close()
    (warning,) = [e for e in events if getattr(e, "kind", "") == "router-on-two-interfaces"]
    assert warning.source == "eth1" and "eth0 and eth1" in warning.message  # type: ignore[attr-defined]


def test_master_lost_not_judged_for_routers_of_an_interface_that_is_down() -> None:
    t0 = 1_700_000_000.0
    clock = FakeClock(t0)
    a = FakeSocket(clock, [(t0 + i, advert(R1, 100)) for i in range(2)], name="eth0")
    b = FakeSocket(clock, [(t0 + i, advert(R2, 100, vrid=2)) for i in range(2)], name="eth1")
    events: list[object] = []
    monitor = Monitor(fingerprint=lambda pw: "")
    sniffer = Sniffer(
        [a, b], monitor, on_event=events.append,  # type: ignore[list-item]
        watch_links=False, clock=clock,
    )  # fmt: skip
    events += monitor.interface_down("eth1", t0 + 0.5, frame=1)  # as _link() reports it
    sniffer.run(duration_s=7.0)
    lost = [e for e in events if getattr(e, "kind", "") == "master-lost"]
    assert [e.source for e in lost] == [R1]  # type: ignore[attr-defined]
    # Up again: one Master_Down_Interval (priority 1: 3.996 s) plus 0.25 s of slack more.
    up = clock.now
    events += monitor.interface_up("eth1", up, frame=4)
    sniffer.run(duration_s=4.1)
    lost = [e for e in events if getattr(e, "kind", "") == "master-lost"]
    assert [e.source for e in lost] == [R1]  # type: ignore[attr-defined]
    sniffer.run(duration_s=0.3)
    sniffer.close()
    lost = [e for e in events if getattr(e, "kind", "") == "master-lost"]
    assert [e.source for e in lost] == [R1, R2]  # type: ignore[attr-defined]
    assert 3.996 + 0.25 < lost[1].time - up <= 3.996 + 0.25 + 0.2  # type: ignore[attr-defined]
    assert monitor.links.blind(clock.now) == set()
    kinds = [getattr(e, "kind", None) for e in events]
    assert kinds.count("interface-down") == 1 and kinds.count("interface-up") == 1


def test_loop_stops_when_asked() -> None:
    clock = FakeClock(0.0)
    sock = FakeSocket(clock, [])
    sniffer = Sniffer([sock], Monitor(fingerprint=lambda pw: ""), watch_links=False, clock=clock)  # type: ignore[list-item]
    sniffer.on_tick = lambda now: sniffer.stop() if now > 1.0 else None
    sniffer.run()
    assert 1.0 < clock.now < 1.2
    sniffer.close()


# -- output -----------------------------------------------------------------------------------


def test_json_lines_are_the_analyze_alert_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sniff --json prints, for the same frames, exactly analyze --json's alerts[] (file aside:
    a live frame is in no capture file)."""
    from vrrpwatch.cli.options import open_monitor
    from vrrpwatch.cli.sniff import _Output

    t0 = 1_700_000_000.0
    frames = [(t0, advert(R1, 100, password=b"s3cret")), (t0 + 1.0, advert(R1, 100))]
    pcap = PcapWriter(tmp_path / "same.pcap", 1 << 20)
    for t, frame in frames:
        pcap.write(t, frame)
    pcap.close()
    db_path = tmp_path / "a.db"
    r = CliRunner().invoke(cli, ["analyze", "--json", "--db", str(db_path), str(pcap.files[0])])
    assert r.exit_code == 0, r.output
    analyzed = json.loads(r.stdout)["alerts"]
    # sniff's output path, its monitor keyed like analyze's (open_monitor on the same database).
    with click.Context(cli):  # open_monitor closes the database with the command's context
        _, monitor, _ = open_monitor(db_path, None, False)
        out = _Output(monitor, as_json=True, quiet=False, to_syslog=False)
        for n, (t, frame) in enumerate(frames, 1):
            for e in monitor.observe(n, t, decode_packet(frame, 1)):  # type: ignore[arg-type]
                out.event(e)
        for e in monitor.finish():
            out.event(e)
    lines = capsys.readouterr().out.splitlines()
    docs = [json.loads(line) for line in lines]
    assert {a["file"] for a in analyzed} == {str(pcap.files[0])}
    assert docs == [{**a, "file": None} for a in analyzed]
    assert "plaintext-auth" in [d["kind"] for d in docs] and "s3cret" not in "".join(lines)


def test_quiet_prints_warning_and_above_only(capsys: pytest.CaptureFixture[str]) -> None:
    from vrrpwatch.cli.sniff import _Output

    monitor = Monitor(fingerprint=lambda pw: "hmac:1234")
    out = _Output(monitor, as_json=False, quiet=True, to_syslog=False)
    for e in monitor.observe(1, 0.0, decode_packet(advert(R1, 100, password=b"pw"), 1)):  # type: ignore[arg-type]
        out.event(e)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == ["WARNING"]  # plaintext-auth
    assert {a.kind for a in monitor.alerts} >= {"plaintext-auth", "bad-source-mac"}


def test_syslog_gets_the_printed_alerts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import syslog

    from vrrpwatch.cli.sniff import _Output

    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(syslog, "openlog", lambda *a: calls.append(("openlog", *a)))
    monkeypatch.setattr(syslog, "syslog", lambda *a: calls.append(("syslog", *a)))
    monitor = Monitor(fingerprint=lambda pw: "hmac:1234")
    out = _Output(monitor, as_json=False, quiet=True, to_syslog=True)
    for e in monitor.observe(1, 0.0, decode_packet(advert(R1, 100, password=b"pw"), 1)):  # type: ignore[arg-type]
        out.event(e)
    assert calls[0] == ("openlog", "vrrpwatch", syslog.LOG_PID, syslog.LOG_DAEMON)
    assert [c[:2] for c in calls[1:]] == [("syslog", syslog.LOG_WARNING)]  # --quiet: no info
    assert str(calls[1][2]).startswith("plaintext-auth: ")
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_a_closed_pipe_stops_output_quietly() -> None:
    code = """
from dissectors.packet import decode_packet
from tests.helpers import R1, advert
from vrrpwatch.cli.sniff import _Output
from vrrpwatch.watch.monitor import Monitor
m = Monitor(fingerprint=lambda pw: "x")
out = _Output(m, as_json=True, quiet=False, to_syslog=False)
stopped = []
out.stop = lambda: stopped.append(1)
for i in range(2000):
    for e in m.observe(i + 1, float(i), decode_packet(advert(R1, 100, vrid=1 + i % 255), 1)):
        out.event(e)
assert stopped
"""
    r = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert r.stdout is not None and r.stderr is not None
    r.stdout.close()  # like `| head -0`
    err = r.stderr.read().decode()
    assert r.wait(60) == 0, err
    assert err == ""


# -- CLI errors -------------------------------------------------------------------------------


def test_unknown_interface_lists_the_available_ones() -> None:
    r = CliRunner().invoke(cli, ["sniff", "nosuch0", "--duration", "1"])
    assert r.exit_code == 2
    (line,) = r.output.splitlines()
    assert line.startswith("Error: unknown interface 'nosuch0' (available: ")
    assert "lo" in line


def test_bad_duration_is_a_usage_error() -> None:
    r = CliRunner().invoke(cli, ["sniff", "lo", "--duration", "0"])
    assert r.exit_code == 2 and "--duration" in r.output


def test_without_cap_net_raw_one_line_error(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root (to drop privileges) and setpriv")
    r = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         sys.executable, "-m", "vrrpwatch", "sniff", "lo", "--db", str(tmp_path / "x.db")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    err = "Error: capturing on lo needs root or CAP_NET_RAW (packet sockets)"
    assert r.stderr.strip().splitlines() == [err]


def test_bounded_run_on_loopback(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        lab_unavailable("sniff needs root or CAP_NET_RAW")
    db = tmp_path / "lo.db"
    r = CliRunner().invoke(cli, ["sniff", "lo", "--duration", "0.3", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    assert r.output == ""
    con = open_db(db)
    row = con.execute("SELECT kind, source, status, stopped >= started FROM runs").fetchone()
    assert row == ("sniff", "lo", "complete", 1)
