"""keepalived.conf's tracking part: vrrp_script, vrrp_track_file, track_script, track_file,
script_user and enable_script_security."""

from __future__ import annotations

from pathlib import Path

import pytest

from vrrpwatch.keepalived.config import (
    KaConfError,
    ScriptSecurity,
    TrackedFile,
    TrackedScript,
    parse_config,
)

CONF = """\
global_defs {
    script_user nobody nogroup
    enable_script_security
}
vrrp_script chk_web {
    script "/usr/bin/test -f '/run/web ok'"
    interval 2
    timeout 1
    weight -30
    rise 2
    fall 3
    user www-data
}
vrrp_script chk_plain {
    script /bin/true
}
vrrp_track_file tf {
    file /run/prio
    weight 2
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    track_script {
        chk_web
        chk_plain weight 10 reverse
    }
    track_file {
        tf weight -1
    }
}
"""


def test_scripts_files_and_security(tmp_path: Path) -> None:
    path = tmp_path / "keepalived.conf"
    path.write_text(CONF)
    cfg = parse_config(path)
    assert cfg.script_security == ScriptSecurity(user="nobody", group="nogroup", enabled=True)
    web = cfg.script("chk_web")
    assert web is not None
    assert web.script == "/usr/bin/test -f '/run/web ok'"
    assert (web.interval_s, web.timeout_s, web.effective_timeout_s) == (2, 1, 1)
    assert (web.weight, web.reverse, web.rise, web.fall) == (-30, False, 2, 3)
    assert (web.user, web.group, web.init_fail) == ("www-data", None, False)
    plain = cfg.script("chk_plain")
    assert plain is not None
    # keepalived's defaults: interval 1 s, timeout = interval, weight 0, rise = fall = 1.
    assert (plain.interval_s, plain.effective_timeout_s, plain.weight) == (1, 1, 0)
    assert (plain.rise, plain.fall, plain.user) == (1, 1, None)
    tf = cfg.track_file("tf")
    assert tf is not None and (tf.path, tf.weight) == ("/run/prio", 2)
    (inst,) = cfg.instances
    assert inst.track_script == (
        TrackedScript(name="chk_web"),
        TrackedScript(name="chk_plain", weight=10, reverse=True),
    )
    assert inst.track_file == (TrackedFile(name="tf", weight=-1),)
    assert inst.dynamic_priority


def test_defaults_without_global_defs(tmp_path: Path) -> None:
    path = tmp_path / "keepalived.conf"
    path.write_text("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n}\n")
    cfg = parse_config(path)
    assert cfg.script_security == ScriptSecurity()
    assert cfg.scripts == () and cfg.instances[0].track_script == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("vrrp_script s {\n rise 0\n}", "keepalived.conf:2: vrrp_script rise must be at least 1"),
        ("vrrp_script s {\n weight 300\n}", "vrrp_script weight must be between -253 and 253"),
        ("vrrp_script s {\n weight 5 upside\n}", "unexpected 'upside' in vrrp_script"),
        ("vrrp_script s {\n interval soon\n}", "vrrp_script interval: 'soon' is not an integer"),
        ("vrrp_script {\n}", "vrrp_script needs exactly one name"),
    ],
)
def test_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "keepalived.conf"
    path.write_text(body + "\n")
    with pytest.raises(KaConfError, match=message):
        parse_config(path)


def test_track_script_weight_errors(tmp_path: Path) -> None:
    path = tmp_path / "keepalived.conf"
    path.write_text(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n"
        " track_script {\n chk heavy\n }\n}\n"
    )
    with pytest.raises(KaConfError, match="keepalived.conf:5: unexpected 'heavy' in track_script"):
        parse_config(path)
