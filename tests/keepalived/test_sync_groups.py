"""keepalived.conf's vrrp_sync_group blocks, notify lines and notify FIFOs (config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vrrpwatch.keepalived.audit import audit
from vrrpwatch.keepalived.config import KaConfError, parse_config

CONF = """\
global_defs {
    router_id r1
    notify_fifo /run/ka.fifo
    vrrp_notify_fifo /run/ka-vrrp.fifo root
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
    notify_master "/usr/local/bin/g master"
    notify /usr/local/bin/gnotify
    smtp_alert
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress { 192.0.2.1/24 }
    notify_backup "/bin/echo 'two words' x\\ y" nobody nogroup
    notify_fault /bin/fault
    notify_stop "/bin/stop now"
    notify "/bin/n --flag"
    garp_master_refresh 10
}
vrrp_instance VI_2 {
    interface eth1
    virtual_router_id 2
    virtual_ipaddress { 198.51.100.2/24 }
}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "keepalived.conf"
    p.write_text(text)
    return p


def test_sync_groups_notify_lines_and_fifos(tmp_path: Path) -> None:
    cfg = parse_config(write(tmp_path, CONF))
    assert cfg.notify_fifos == ("/run/ka.fifo", "/run/ka-vrrp.fifo")
    (g,) = cfg.sync_groups
    assert (g.name, g.members, g.ignored) == ("G1", ("VI_1", "VI_2"), ("smtp_alert",))
    assert [(n.keyword, n.argv) for n in g.notify] == [
        ("notify_master", ("/usr/local/bin/g", "master")),
        ("notify", ("/usr/local/bin/gnotify",)),
    ]
    vi1 = cfg.instance("VI_1")
    lines = {n.keyword: n for n in vi1.notify}
    # keepalived re-splits the quoted script with quotes and escapes; after it, user and group.
    assert lines["notify_backup"].argv == ("/bin/echo", "two words", "x y")
    assert (lines["notify_backup"].user, lines["notify_backup"].group) == ("nobody", "nogroup")
    assert lines["notify_fault"].argv == ("/bin/fault",) and lines["notify_fault"].user is None
    assert lines["notify_stop"].argv == ("/bin/stop", "now")
    assert lines["notify"].argv == ("/bin/n", "--flag")
    assert vi1.ignored == ("garp_master_refresh",)
    assert [i.name for i in cfg.select(("VI_2",))] == ["VI_2"]
    assert [i.name for i in cfg.select()] == ["VI_1", "VI_2"]


def test_group_members_on_one_line(tmp_path: Path) -> None:
    text = CONF.replace("group {\n        VI_1\n        VI_2\n    }", "group { VI_1 VI_2 }")
    assert parse_config(write(tmp_path, text)).sync_groups[0].members == ("VI_1", "VI_2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vrrp_sync_group { group { A B } }", "vrrp_sync_group needs exactly one name"),
        ("vrrp_sync_group G { group { A B } }\nvrrp_sync_group G { group { A B } }",
         "vrrp_sync_group G already defined at"),
        ("vrrp_sync_group G { group { A B }\n notify_master }", "notify_master needs a script"),
        ("vrrp_sync_group G { group { A B }\n notify_master \"/x 'a\" }",
         "notify_master: cannot split"),
        ("vrrp_sync_group G { group { A B }\n notify_master /x u g extra }",
         "unexpected 'extra' after the user and group"),
    ],
)  # fmt: skip
def test_bad_sync_groups_are_one_error_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(KaConfError, match=message):
        parse_config(write(tmp_path, text))


def test_audit_still_reads_a_config_with_sync_groups(tmp_path: Path) -> None:
    report = audit([parse_config(write(tmp_path, CONF))])
    assert report.errors == ()


def test_vrrp_globals_and_sections_join_does_not_act_on_are_listed(tmp_path: Path) -> None:
    text = (
        "global_defs {\n  router_id r1\n  vrrp_garp_master_delay 2\n  smtp_server 192.0.2.9\n"
        "  script_user nobody\n  max_auto_priority 10\n}\nvrrp_script chk { script /bin/true }\n"
        "vrrp_track_process p { process x }\n"
        "virtual_server 192.0.2.1 80 { }\n" + CONF.split("}\n", 5)[-1]
    )
    cfg = parse_config(write(tmp_path, text))
    # smtp_server and virtual_server are not VRRP's: not listed; script_user and vrrp_script
    # join acts on (join.trackers).
    assert cfg.ignored == (
        "global_defs vrrp_garp_master_delay",
        "global_defs max_auto_priority",
        "vrrp_track_process",
    )


def test_a_sync_group_without_group_block_is_empty_not_an_error(tmp_path: Path) -> None:
    # As keepalived's own sample keepalived.conf.vrrp.lvs_syncd writes it: names, no group {}.
    cfg = parse_config(write(tmp_path, "vrrp_sync_group VG1 {\n  VI_2\n  VI_3\n}\n" + CONF))
    vg1 = next(g for g in cfg.sync_groups if g.name == "VG1")
    assert vg1.members == () and vg1.ignored == ("VI_2", "VI_3")
