"""``vrrpwatch audit`` through click's CliRunner: table, --json, --strict, --capture, exit codes."""

from __future__ import annotations

import ipaddress
import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from dissectors.frame import build_ethernet
from dissectors.ip import IPPROTO_VRRP, IPv4Header, build_ipv4
from dissectors.vrrp import VRRP_MCAST_V4, VrrpV2, build_vrrp
from vrrpwatch.cli import cli

ROOT = Path(__file__).resolve().parents[2]
KACONF = ROOT / "tests" / "keepalived" / "confs"
R1, R2 = KACONF / "lab-v2" / "r1.conf", KACONF / "lab-v2" / "r2.conf"
CAPTURE = ROOT / "captures" / "v2-failover.pcap"
TRUTH = ROOT / "captures" / "v2-failover.json"
CAP_R1, CAP_R2 = KACONF / "v2-failover" / "r1.conf", KACONF / "v2-failover" / "r2.conf"


def run(*args: str | Path) -> Result:
    return CliRunner(env={"COLUMNS": "220"}).invoke(cli, ["audit", *map(str, args)])


def run_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = run("--json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_clean_pair_table() -> None:
    result = run(R1, R2)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "VRID 1 on eth0 (IPv4)" in out
    lines = [line for line in out.splitlines() if "│ r2 " in line]
    assert len(lines) == 1
    cells = [c.strip() for c in lines[0].split("│")]
    assert cells[2:11] == ["r2", "VI_1", "BACKUP", "100", "v2", "1s", "backup", "3.609s", "0.609s"]
    assert "plaintext-auth" in out
    assert out.rstrip().endswith("0 error(s), 2 warning(s)")


def test_strict_turns_warnings_into_exit_1() -> None:
    assert run("--strict", R1, R2).exit_code == 1
    assert (
        run("--strict", KACONF / "lab-v3" / "r1.conf", KACONF / "lab-v3" / "r2.conf").exit_code == 0
    )


def test_errors_exit_1() -> None:
    result = run(R1, KACONF / "broken" / "r2-badpass.conf")
    assert result.exit_code == 1
    assert "auth-mismatch" in result.stdout
    assert "1 error(s), 2 warning(s)" in result.stdout


def test_json_report() -> None:
    code, report = run_json(R1, KACONF / "broken" / "r2-interval.conf")
    assert code == 1
    assert report["routers"] == ["r1", "r2"]
    assert report["errors"] == 1 and report["warnings"] == 2 and report["exit_code"] == 1
    (group,) = report["groups"]
    assert {k: group[k] for k in ("vrid", "interface", "vlan", "family")} == {
        "vrid": 1,
        "interface": "eth0",
        "vlan": None,
        "family": 4,
    }
    r1, r2 = group["routers"]
    assert r1["file"].endswith("lab-v2/r1.conf") and r1["line"] == 3
    assert (r1["role"], r1["priority"], r1["advert_int_ms"]) == ("master", 200, 1000)
    assert (r2["role"], r2["advert_int_ms"], r2["vips"]) == ("backup", 2000, ["192.0.2.1/24"])
    # v2: skew (256 - 100) / 256 s whatever the interval; failover 3 x 2 s + skew.
    assert (r2["skew_s"], r2["failover_s"], r2["failover_clean_stop_s"]) == (
        0.609375,
        6.609375,
        0.609375,
    )
    err = report["findings"][0]
    assert err["severity"] == "error" and err["id"] == "interval-mismatch"
    assert err["routers"] == ["r1", "r2"]
    assert err["group"] == {"vrid": 1, "interface": "eth0", "vlan": None, "family": 4}
    assert "observed" not in report


def test_parse_error_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("vrrp_instance VI_1 {\n  priority loud\n}\n")
    result = run(R1, bad)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: {bad}:2: priority: 'loud' is not an integer\n"


def test_missing_config_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path / "nope.conf")
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"Error: {tmp_path / 'nope.conf'}: cannot read: No such file or directory\n"
    )


def test_no_config_is_a_usage_error() -> None:
    result = run()
    assert result.exit_code == 2
    assert "Missing argument 'CONF...'" in result.stderr


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["audit", "--help"])
    assert result.exit_code == 0
    assert (
        "vrrpwatch audit r1/keepalived.conf r2/keepalived.conf --capture lan.pcap" in result.stdout
    )


# -- --capture ------------------------------------------------------------------------------


def test_capture_fixture_configs_are_the_labs() -> None:
    """The v2-failover configs are what tests/lab.py renders for the routers of the truth file."""
    sys.path.insert(0, str(ROOT))
    from tests.lab import KeepalivedInstance

    truth = json.loads(TRUTH.read_text())
    for r in truth["routers"]:
        inst = KeepalivedInstance(
            vrid=r["vrid"],
            priority=r["priority"],
            version=r["version"],
            advert_int=r["advert_int_ms"] / 1000,
            auth_type="PASS",
            auth_pass=r["password"],
            vips=tuple(f"{v}/24" for v in r["vips"]),
        )
        text = (KACONF / "v2-failover" / f"{r['name']}.conf").read_text()
        assert inst.render(1) in text


def test_capture_agrees_with_the_lab_configs() -> None:
    code, report = run_json(CAP_R1, CAP_R2, "--capture", CAPTURE)
    assert code == 0
    assert {f["id"] for f in report["findings"]} == {"plaintext-auth"}
    observed = {o["src"]: o for o in report["observed"]}
    assert set(observed) == {"192.0.2.253", "192.0.2.254"}
    r1, r2 = observed["192.0.2.253"], observed["192.0.2.254"]
    assert (r1["matched"], r1["priorities"], r1["released"]) == ("r1/VI_1", [200], True)
    assert (r2["matched"], r2["priorities"], r2["intervals_cs"]) == ("r2/VI_1", [100], [100])
    assert r1["vips"] == ["192.0.2.1"]


def test_capture_failover_estimates_match_measured_failovers() -> None:
    """The estimates against what real keepalived did in the capture (truth file)."""
    _, report = run_json(CAP_R1, CAP_R2)
    est = {r["router"]: r for r in report["groups"][0]["routers"]}
    truth = json.loads(TRUTH.read_text())
    to_r2 = [f for f in truth["failovers"] if f["to"] == "192.0.2.254"]
    resigned = next(f for f in to_r2 if f["cause"] == "resigned")
    silent = next(f for f in to_r2 if f["cause"] == "silent")
    # keepalived's timers run a little late; 100 ms covers it on a loaded machine.
    assert abs(resigned["gap_ms"] / 1000 - est["r2"]["failover_clean_stop_s"]) < 0.1
    assert abs(silent["gap_ms"] / 1000 - est["r2"]["failover_s"]) < 0.1


def test_capture_against_a_wrong_password_config() -> None:
    bad = KACONF / "broken" / "r2-badpass.conf"
    code, report = run_json(CAP_R1, bad, "--capture", CAPTURE)
    assert code == 1
    found = {(f["id"], tuple(f["routers"])) for f in report["findings"]}
    assert ("auth-mismatch", ("r1", "r2")) in found
    # r2's config says s3cre7, the wire says vrrp4me; r1's config says vrrp4me.
    assert ("wire-password-differs", ("r2",)) in found
    assert ("wire-password-differs", ("r1",)) not in found


def _frame(src: str, priority: int, password: bytes) -> bytes:
    s = ipaddress.IPv4Address(src)
    pkt = VrrpV2(
        vrid=1,
        priority=priority,
        count_ip_addrs=1,
        auth_type=1,
        addresses=(ipaddress.IPv4Address("192.0.2.1"),),
        auth_data=password.ljust(8, b"\0"),
    )
    ip = build_ipv4(
        IPv4Header(src=s, dst=VRRP_MCAST_V4, protocol=IPPROTO_VRRP),
        build_vrrp(pkt, src=s, dst=VRRP_MCAST_V4),
    )
    return build_ethernet(bytes.fromhex("01005e000012"), bytes.fromhex("00005e000101"), 0x800, ip)


def _pcap(path: Path, frames: list[bytes]) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, frame in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def test_capture_with_a_rogue_advertiser(tmp_path: Path) -> None:
    pcap = _pcap(
        tmp_path / "rogue.pcap",
        [_frame("192.0.2.253", 200, b"s3cret"), _frame("192.0.2.66", 250, b"guess")],
    )
    result = run(R1, R2, "--capture", pcap)
    assert result.exit_code == 1
    assert "Observed advertisers" in result.stdout
    assert "UNKNOWN" in result.stdout
    assert "192.0.2.66 advertises VRID 1 on eth0 (IPv4) at priority 250" in result.stdout
    assert "guess" not in result.stdout


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.pcap", None, "no such file"),
        ("junk.pcap", b"this is not a capture at all", ""),
    ],
)
def test_bad_capture_exit_2(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run(R1, R2, "--capture", path)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


# -- every lab capture against the configs the lab ran (rebuilt from the truth files) -------


def lab_configs(tmp_path: Path, capture: str, *, leave_out: tuple[str, ...] = ()) -> list[Path]:
    """keepalived.conf of each keepalived router of ``capture``, as tests/lab.py renders it
    (the truth file lists one entry per instance; a router's instances share its config)."""
    sys.path.insert(0, str(ROOT))
    from tests.lab import KeepalivedInstance

    truth = json.loads((ROOT / "captures" / f"{capture}.json").read_text())
    auth = {"simple": "PASS", "ah": "AH", "none": None}
    per_router: dict[str, list[Any]] = {}
    for r in truth["routers"]:
        if r["implementation"] != "keepalived" or r["name"] in leave_out:
            continue
        prefix = "/24" if r["family"] == 4 else "/64"
        per_router.setdefault(r["name"], []).append(
            KeepalivedInstance(
                vrid=r["vrid"],
                priority=r["priority"],
                version=r["version"],
                advert_int=r["advert_int_ms"] / 1000,
                auth_type=auth[r["auth_type"]],
                auth_pass=r["password"],
                vips=tuple(v + prefix for v in r["vips"]),
                unicast_peers=tuple(r["unicast_peers"]),
                nopreempt=not r["preempt"],
                use_vmac=r["use_vmac"],
                interface=".".join(["eth0", *map(str, r["vlan"])]),
            )
        )
    paths = []
    for name, instances in per_router.items():
        body = "\n".join(inst.render(n) for n, inst in enumerate(instances, 1))
        path = tmp_path / capture / f"{name}.conf"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"global_defs {{\n  router_id {name}\n}}\n{body}\n")
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    ("capture", "leave_out", "errors"),
    [
        ("v2-failover", (), set()),
        ("v2-ah", (), set()),
        ("v3-ipv4-fast", (), set()),
        ("v3-ipv6", (), set()),
        ("vmac", (), set()),
        ("unicast", (), set()),
        ("v2-auth-mismatch", (), {"auth-mismatch"}),
        ("rogue", ("rogue",), {"unknown-advertiser"}),
        ("rogue", (), set()),
        ("frr-keepalived", (), {"unknown-advertiser"}),  # FRR's config is not a keepalived.conf
        ("vlans", (), set()),
    ],
)
def test_lab_captures_against_their_configs(
    tmp_path: Path, capture: str, leave_out: tuple[str, ...], errors: set[str]
) -> None:
    confs = lab_configs(tmp_path, capture, leave_out=leave_out)
    code, report = run_json(*confs, "--capture", ROOT / "captures" / f"{capture}.pcap")
    found = {f["id"] for f in report["findings"] if f["severity"] == "error"}
    assert found == errors, report["findings"]
    assert code == (1 if errors else 0)
    truth = json.loads((ROOT / "captures" / f"{capture}.json").read_text())
    names = {(r["address"], r["vrid"]): r for r in truth["routers"]}
    for seen in report["observed"]:
        router = names[(seen["src"], seen["vrid"])]
        if router["name"] in leave_out or router["implementation"] != "keepalived":
            assert seen["matched"] is None
        else:
            assert seen["matched"] is not None and seen["matched"].startswith(
                router["name"] + "/"
            ), seen
            assert seen["vlan"] == router["vlan"]


def test_capture_from_stdin() -> None:
    result = CliRunner().invoke(
        cli,
        ["audit", "--json", str(CAP_R1), str(CAP_R2), "--capture", "-"],
        input=CAPTURE.read_bytes(),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(o["matched"] for o in report["observed"]) == ["r1/VI_1", "r2/VI_1"]


def test_shared_config_with_config_ids() -> None:
    shared = KACONF / "shared" / "keepalived.conf"
    code, report = run_json(f"{shared}@r1", f"{shared}@r2")
    assert code == 0 and report["findings"] == []
    assert report["routers"] == ["r1", "r2"]
    assert [r["priority"] for r in report["groups"][0]["routers"]] == [200, 100]
    result = run(shared)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {shared}:3: conditional configuration (@...) needs a config id (FILE@ID)\n"
    )


def test_names_with_brackets_are_text_not_markup(tmp_path: Path) -> None:
    conf = tmp_path / "odd.conf"
    conf.write_text(
        'global_defs {\n router_id "r[/]x"\n}\n'
        'vrrp_instance "[bold]VI" {\n interface eth0\n virtual_router_id 1\n'
        " virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n"
    )
    result = run(conf)
    assert result.exit_code == 0, result.output
    assert "r[/]x/[bold]VI is configured" in result.stdout


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    import vrrpwatch.store.audit_doc

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(vrrpwatch.store.audit_doc, "run_files", interrupted)
    result = run(R1, R2, "--capture", CAPTURE)
    assert result.exit_code == 130
    assert result.stdout == ""
    assert result.stderr == "Interrupted.\n"  # the command group maps Ctrl-C, as for every command


def test_names_are_printed_as_text_never_as_markup(tmp_path: Path) -> None:
    # rich.markup.escape leaves "\[" alone, which markup then reads as "["; a control character
    # or a byte that is not UTF-8 would reach the terminal as is (or fail to encode).
    body = "interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n"
    one = tmp_path / "one.conf"
    one.write_text(f'global_defs {{\n router_id "r2[red]"\n}}\nvrrp_instance [/] {{\n {body}')
    two = tmp_path / "two.conf"
    two.write_bytes(
        b'global_defs {\n router_id "a\\[=b\xff"\n}\n'
        + b'vrrp_instance "V\x1b[31mI" {\n '
        + body.encode()
    )
    result = run(one, two)
    assert result.exit_code == 0, result.output
    rows = [[c.strip() for c in line.split("│")[2:4]] for line in result.stdout.splitlines()]
    assert ["r2[red]", "[/]"] in rows
    assert ["a\\[=b\\xff", "V\\x1b[31mI"] in rows
    message = " ".join(result.stdout.split())
    assert "r2[red]/[/], a\\[=b\\xff/V\\x1b[31mI share priority 100" in message
    assert "\x1b" not in result.stdout


def test_a_password_that_is_not_utf8_is_compared_byte_for_byte(tmp_path: Path) -> None:
    # Found by the CLI fuzz test (seed 1796144542): keepalived reads its config as bytes, so a
    # password byte that is not UTF-8 goes on the wire as it is; the audit compared it by
    # encoding the text and raised UnicodeEncodeError (a traceback) instead.
    conf = tmp_path / "r.conf"
    conf.write_bytes(
        b"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 200\n"
        b" authentication {\n auth_type PASS\n auth_pass s3\xffcret\n }\n"
        b" virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n"
    )
    same = _pcap(tmp_path / "same.pcap", [_frame("192.0.2.253", 200, b"s3\xffcret")])
    code, report = run_json(conf, "--capture", same)
    assert code == 0, report
    assert "wire-password-differs" not in {f["id"] for f in report["findings"]}
    other = _pcap(tmp_path / "other.pcap", [_frame("192.0.2.253", 200, b"s3\xfecret")])
    code, report = run_json(conf, "--capture", other)
    assert "wire-password-differs" in {f["id"] for f in report["findings"]}


def _strict_json(text: str) -> Any:
    """``text`` decoded as a strict JSON consumer does: every string must be UTF-8 text (a
    lone surrogate escape such as ``"\\udcd2"``, which Python's json accepts, is refused)."""

    def check(value: Any) -> Any:
        if isinstance(value, str):
            value.encode("utf-8")  # UnicodeEncodeError on a lone surrogate
        elif isinstance(value, dict):
            for k, v in value.items():
                check(k)
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)
        return value

    return check(json.loads(text.encode("utf-8").decode("utf-8", "strict")))


def test_json_writes_names_that_are_not_utf8_as_the_text_does(tmp_path: Path) -> None:
    # The lexer keeps a byte that is not UTF-8 as a lone surrogate (surrogateescape); json.dumps
    # wrote it as "\udcd2", which strict consumers reject. Both outputs write "\xd2".
    body = b" interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n"
    folder = tmp_path / "d\udcd2"
    folder.mkdir()
    one = folder / "r1.conf"
    one.write_bytes(b"global_defs {\n router_id r\xd21\n}\nvrrp_instance vrrp4\xd24 {\n" + body)
    two = tmp_path / "r2.conf"
    two.write_bytes(b"global_defs {\n router_id r2\n}\nvrrp_instance vrrp4\xd24 {\n" + body)
    text = run(one, two)
    assert text.exit_code == 0, text.output
    assert "r\\xd21/vrrp4\\xd24, r2/vrrp4\\xd24 share priority 100" in " ".join(text.stdout.split())
    result = run("--json", one, two)
    assert result.exit_code == 0, result.output
    report = _strict_json(result.stdout)
    assert "\\ud" not in result.stdout
    assert report["routers"] == ["r\\xd21", "r2"]
    routers = report["groups"][0]["routers"]
    assert [(r["router"], r["instance"]) for r in routers] == [
        ("r\\xd21", "vrrp4\\xd24"),
        ("r2", "vrrp4\\xd24"),
    ]
    assert routers[0]["file"] == str(tmp_path / "d\\xd2" / "r1.conf")
    (finding,) = report["findings"]
    assert finding["id"] == "equal-priorities"
    assert "r\\xd21/vrrp4\\xd24, r2/vrrp4\\xd24 share priority 100" in finding["message"]
    assert finding["routers"] == ["r\\xd21", "r2"]
