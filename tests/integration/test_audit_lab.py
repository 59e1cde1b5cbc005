"""parse_config and ``vrrpwatch audit`` against real keepalived: its config test, a live lab."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.lab import Daemon, Host, Lab, read_adverts
from vrrpwatch.cli import cli
from vrrpwatch.keepalived.audit import audit
from vrrpwatch.keepalived.config import parse_config

KACONF = Path(__file__).resolve().parents[1] / "keepalived" / "confs"

# Configs keepalived must accept as they are (and parse_config reads).
VALID = [
    "lab-v2/r1.conf",
    "lab-v2/r2.conf",
    "lab-v3/r1.conf",
    "lab-v3/r2.conf",
    "split/keepalived.conf",
    "v2-failover/r1.conf",
    "v2-failover/r2.conf",
    "broken/r1-owner.conf",
    "broken/r2-owner.conf",
    "broken/r2-badpass.conf",
    "broken/r2-interval.conf",
    "broken/r2-vips.conf",
    "broken/r2-equal.conf",
    "broken/r2-master.conf",
    "broken/r2-vipdev.conf",
]
# Configs keepalived itself complains about, with the audit finding that covers the complaint.
REJECTED = {
    "broken/r2-prio0.conf": "priority-out-of-range",
    "broken/r2-v3.conf": "auth-ignored-v3",
}


@pytest.mark.integration
def test_keepalived_config_test_mode_agrees(lab: Lab) -> None:
    host = lab.host("kt")
    # The fixtures name eth0 (the lab's), eth1 and eth0.10; keepalived -t wants them to exist.
    for name in ("eth1", "eth0.10"):
        host.run(["ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p"])
    for rel in VALID:
        path = KACONF / rel
        parse_config(path)
        res = host.run(["keepalived", "-t", "-f", str(path)], check=False)
        assert res.returncode == 0, f"keepalived -t rejects {rel}: {res.stdout}{res.stderr}"
    for config_id in ("r1", "r2"):
        shared = KACONF / "shared" / "keepalived.conf"
        parse_config(shared, config_id)
        res = host.run(["keepalived", "-t", "-i", config_id, "-f", str(shared)], check=False)
        assert res.returncode == 0, f"keepalived -t -i {config_id}: {res.stdout}{res.stderr}"
    for rel, finding in REJECTED.items():
        path = KACONF / rel
        res = host.run(["keepalived", "-t", "-f", str(path)], check=False)
        assert res.returncode != 0, f"keepalived -t accepts {rel}"
        peers = [parse_config(KACONF / "lab-v2" / "r1.conf"), parse_config(path)]
        assert finding in {f.id for f in audit(peers).findings}


def _conf(daemon: Daemon) -> Path:
    return daemon.log_path.parent / "keepalived.conf"


@pytest.mark.integration
def test_audit_lab_configs_and_capture(lab: Lab, tmp_path: Path) -> None:
    """r1 and r2 agree; r3 has another password, so it ignores them and they ignore it:
    two masters at once. audit sees it in the configs and, without r3's config, on the wire."""
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4="192.0.2.253/24")
    r2 = lab.host("r2", lan, addr4="192.0.2.254/24")
    r3 = lab.host("r3", lan, addr4="192.0.2.252/24")
    mon = lab.host("mon", lan, ipv6=False)
    pcap = tmp_path / "audit.pcap"
    cap = mon.tcpdump(pcap)
    group = {"vrid": 1, "vips": ["192.0.2.1/24"], "auth_type": "PASS"}
    k1 = r1.keepalived(priority=200, auth_pass="s3cret", **group)
    k2 = r2.keepalived(priority=100, auth_pass="s3cret", **group)
    r1.wait_for_address("192.0.2.1", timeout=10)
    k3 = r3.keepalived(priority=150, auth_pass="wrong", **group)
    r3.wait_for_address("192.0.2.1", timeout=10)  # r3 drops r1's adverts: a second master
    k1.stop()  # priority 0: r2 takes over after Skew_Time
    r2.wait_for_address("192.0.2.1", timeout=5)
    time.sleep(1.5)
    cap.stop()

    runner = CliRunner(env={"COLUMNS": "200"})
    # The configs alone: r3 disagrees with r1 and r2 on the password.
    confs = [str(_conf(k)) for k in (k1, k2, k3)]
    res = runner.invoke(cli, ["audit", "--json", *confs])
    assert res.exit_code == 1
    report = json.loads(res.stdout)
    (mismatch,) = [f for f in report["findings"] if f["id"] == "auth-mismatch"]
    assert mismatch["routers"] == ["r1", "r2", "r3"]

    # r1 and r2's configs against the wire: r3 is an unknown advertiser; r1 and r2 match.
    res = runner.invoke(cli, ["audit", "--json", *confs[:2], "--capture", str(pcap)])
    assert res.exit_code == 1, res.output
    report = json.loads(res.stdout)
    errors = [(f["id"], f["message"]) for f in report["findings"] if f["severity"] == "error"]
    assert [e[0] for e in errors] == ["unknown-advertiser"]
    assert errors[0][1].startswith("192.0.2.252 advertises VRID 1 on eth0 (IPv4) at priority 150")
    observed = {o["src"]: o for o in report["observed"]}
    assert observed["192.0.2.253"]["matched"] == "r1/VI_1"
    assert observed["192.0.2.253"]["released"] is True
    assert observed["192.0.2.254"]["matched"] == "r2/VI_1"
    assert observed["192.0.2.252"]["matched"] is None

    # All three configs against the wire: everyone explained, only the config error remains.
    res = runner.invoke(cli, ["audit", "--json", *confs, "--capture", str(pcap)])
    report = json.loads(res.stdout)
    assert {f["id"] for f in report["findings"] if f["severity"] == "error"} == {"auth-mismatch"}
    assert all(o["matched"] for o in report["observed"])

    # The estimate for r2 after r1's clean stop against the gap keepalived really left.
    est = next(r for r in report["groups"][0]["routers"] if r["router"] == "r2")
    adverts = read_adverts(pcap)
    release = next(a.time for a in adverts if a.src == "192.0.2.253" and a.packet.priority == 0)
    takeover = next(a.time for a in adverts if a.src == "192.0.2.254" and a.time > release)
    measured_s = takeover - release
    print(
        f"r2 after r1's clean stop: estimated {est['failover_clean_stop_s']:.3f} s, "
        f"measured {measured_s:.3f} s"
    )
    assert abs(measured_s - est["failover_clean_stop_s"]) < 0.3


SAMPLES = Path("/usr/share/doc/keepalived/samples")


@pytest.mark.integration
def test_keepalived_sample_configs_parse() -> None:
    """Every sample keepalived ships parses, its VRRP instances found (real-world grammar)."""
    from tests.conftest import lab_unavailable

    samples = sorted(SAMPLES.glob("keepalived.conf.*"))
    if not samples:
        lab_unavailable(f"keepalived's sample configs not found in {SAMPLES}")
    instances = 0
    for path in samples:
        if path.name.endswith("conditional_conf"):
            high, low = parse_config(path, "high"), parse_config(path, "low")
            assert [i.priority for i in (*high.instances, *low.instances)] == [170, 85]
            report = audit([high, low])
            assert report.errors == (), report.errors
            continue
        instances += len(parse_config(path).instances)
    assert instances >= 20


@pytest.mark.integration
def test_interval_mismatch_severity_matches_keepalived(lab: Lab) -> None:
    """interval-mismatch is an error for VRRPv2 and a warning for VRRPv3 because that is what
    keepalived does: v2 drops the other's adverts (two masters), v3 adopts the master's."""
    results = {}
    for version, seg_name, base in ((2, "s2", 10), (3, "s3", 20)):
        seg = lab.segment(seg_name)
        hi = lab.host(f"h{version}", seg, addr4=f"198.51.100.{base + 1}/24")
        lo = lab.host(f"l{version}", seg, addr4=f"198.51.100.{base + 2}/24")
        vip = f"198.51.100.{base}"
        group = {"vrid": base, "version": version, "vips": [f"{vip}/24"]}
        k_hi = hi.keepalived(priority=200, advert_int=1, **group)
        k_lo = lo.keepalived(priority=100, advert_int=2, **group)
        results[version] = (hi, lo, vip, k_hi, k_lo)
    for version, (hi, lo, vip, k_hi, k_lo) in results.items():
        hi.wait_for_address(vip, timeout=10)
        report = audit([parse_config(_conf(k_hi)), parse_config(_conf(k_lo))])
        (finding,) = [f for f in report.findings if f.id == "interval-mismatch"]
        if version == 2:
            # The backup ignores the master's 1 s adverts and takes the VIP as well.
            lo.wait_for_address(vip, timeout=10)
            assert hi.has_address(vip)
            assert finding.severity == "error"
        else:
            time.sleep(3 * 2 + 1.5)  # longer than the backup's own Master_Down_Interval
            assert not lo.has_address(vip)
            assert finding.severity == "warning"


@pytest.mark.integration
def test_vip_mismatch_makes_two_masters_in_both_versions(lab: Lab) -> None:
    """vip-mismatch is an error whatever the version: keepalived drops adverts whose address
    list differs from its own, so the backup becomes master too."""
    started = []
    for version, base in ((2, 30), (3, 40)):
        seg = lab.segment(f"v{version}")
        hi = lab.host(f"h{version}", seg, addr4=f"198.51.100.{base + 1}/24")
        lo = lab.host(f"l{version}", seg, addr4=f"198.51.100.{base + 2}/24")
        vip, extra = f"198.51.100.{base}/24", f"198.51.100.{base + 9}/24"
        k_hi = hi.keepalived(priority=200, vrid=base, version=version, vips=[vip])
        k_lo = lo.keepalived(priority=100, vrid=base, version=version, vips=[vip, extra])
        started.append((hi, lo, vip.split("/")[0], k_hi, k_lo))
    for hi, lo, vip, k_hi, k_lo in started:
        hi.wait_for_address(vip, timeout=10)
        lo.wait_for_address(vip, timeout=10)
        assert hi.has_address(vip)
        report = audit([parse_config(_conf(k_hi)), parse_config(_conf(k_lo))])
        assert [f.id for f in report.errors] == ["vip-mismatch"]


# -- parse_config against keepalived's own reading (keepalived -d dumps its configuration) ---

_STAMP = re.compile(r"^\w{3} \w{3} +\d+ [\d:]+ \d{4}: ")


def keepalived_dump(host: Host, conf: Path, config_id: str | None, workdir: Path) -> str:
    """Start keepalived with -d on ``conf`` in ``host``; its configuration dump, then stop it."""
    workdir.mkdir()
    log = workdir / "log"
    argv = ["keepalived", "-n", "-l", "-D", "-d", "-P", "-f", str(conf)]
    argv += ["-p", str(workdir / "k.pid"), "-r", str(workdir / "v.pid")]
    if config_id:
        argv += ["-i", config_id]
    daemon = Daemon(host.lab, f"keepalived-dump@{host.name}", [host.popen(argv, log=log)], log)
    try:
        daemon.wait_for_log(r"------< Interfaces >------", timeout=15)
    finally:
        daemon.stop()
    return "\n".join(_STAMP.sub("", line) for line in daemon.log.splitlines())


def dumped_instances(dump: str) -> dict[str, dict[str, object]]:
    """The fields the model holds, per instance, from keepalived's dump."""
    out: dict[str, dict[str, object]] = {}
    cur: dict[str, object] = {}
    section = ""
    for line in dump.splitlines():
        if line.startswith(" VRRP Instance = "):
            cur = out.setdefault(line.split("= ", 1)[1], {"vips": [], "peers": []})
            section = ""
            continue
        if line.startswith("------<"):
            cur, section = {}, ""
            continue
        if not cur or not line.startswith("   "):
            continue  # other processes' log lines interleave with the dump
        if line.startswith("     ") and section in ("vips", "peers"):
            cur[section].append(line.split()[0])  # type: ignore[attr-defined]
            continue
        key, _, value = line.strip().partition(" = ")
        section = ""
        if key == "VRRP Version":
            cur["version"] = int(value)
        elif key == "Wantstate":
            cur["state"] = value
        elif key == "Interface":
            cur["interface"] = value.split(" vmac on ")[-1].split(",")[0]
        elif key == "Virtual Router ID":
            cur["vrid"] = int(value)
        elif key == "Priority":
            cur["priority"] = int(value)
        elif key == "Advert interval":
            number, unit = value.split()
            cur["advert_int_ms"] = round(float(number) * (1000 if unit == "sec" else 1))
        elif key == "Preempt":
            cur["preempt"] = value == "enabled"
        elif key == "Preempt delay":
            cur["preempt_delay_s"] = float(value.split()[0])
        elif key == "Authentication type" and value != "none":
            cur["auth_type"] = {"SIMPLE_PASSWORD": "PASS", "IPSEC_AH": "AH"}.get(value, value)
        elif key == "Password":
            cur["auth_pass"] = value
        elif key.startswith("Virtual IP ("):
            section = "vips"
        elif key.startswith("Unicast Peer"):
            section = "peers"
    return out


def kaconf_instances(conf: Path, config_id: str | None) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for inst in parse_config(conf, config_id).instances:
        fields: dict[str, object] = {
            "version": inst.version,
            "state": inst.state,
            "interface": inst.interface,
            "vrid": inst.vrid,
            "priority": inst.priority,
            "advert_int_ms": inst.advert_int_ms,
            "preempt": inst.preempt,
            "vips": [
                str(v.address) if v.address.network.prefixlen < v.address.max_prefixlen
                else str(v.ip)
                for v in inst.vips
            ],
            "peers": [str(p) for p in inst.unicast_peers],
        }  # fmt: skip
        if inst.preempt_delay_s:
            fields["preempt_delay_s"] = inst.preempt_delay_s
        if inst.auth_type and inst.version == 2:  # keepalived drops v3 authentication
            fields["auth_type"] = inst.auth_type
            if inst.auth_pass_wire is not None:
                fields["auth_pass"] = inst.auth_pass_wire.decode()
        out[inst.name] = fields
    return out


CROSS_CHECKED = [
    ("lab-v2/r1.conf", None),
    ("lab-v3/r2.conf", None),
    ("split/keepalived.conf", None),
    ("shared/keepalived.conf", "r1"),
    ("shared/keepalived.conf", "r2"),
    ("params/keepalived.conf", "high"),
    ("params/keepalived.conf", "low"),
    ("broken/r2-v3.conf", None),
    ("broken/r2-interval.conf", None),
    ("rounding.conf", None),
]


@pytest.mark.integration
def test_kaconf_reads_configs_as_keepalived_does(lab: Lab, tmp_path: Path) -> None:
    host = lab.host("kd")
    for name in ("eth1", "eth0.1", "eth0.2", "eth0.3", "eth0.10"):
        host.run(["ip", "link", "add", name, "type", "veth", "peer", "name", f"p{name}"])
        host.run(["ip", "link", "set", name, "up"])
    for n, (rel, config_id) in enumerate(CROSS_CHECKED):
        conf = KACONF / rel
        theirs = dumped_instances(keepalived_dump(host, conf, config_id, tmp_path / f"k{n}"))
        ours = kaconf_instances(conf, config_id)
        assert ours == theirs, f"{rel} (-i {config_id})"
