"""``vrrpwatch join --config``: the backup's own keepalived.conf, with a keepalived master."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import Lab

pytestmark = pytest.mark.integration

BACKUP_CONF = """\
! the backup router's keepalived.conf, as an operator would have it
global_defs {
    router_id r2
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 1
    priority 50
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
}
"""


@pytest.fixture
def clab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


def test_join_from_keepalived_conf_takes_over_and_gives_back(clab: Lab, tmp_path: Path) -> None:
    r1, r2, mon = classic(clab)
    r1.keepalived(
        vrid=1, priority=100, state="MASTER", vips=["192.0.2.1/24"], auth_type="PASS",
        auth_pass="s3cret",
    )  # fmt: skip
    r1.wait_for_address("192.0.2.1", timeout=10)
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(BACKUP_CONF)
    j = Join(r2, "--config", str(conf), "--learn-timeout", "0")
    j.wait_state("BACKUP", 5)
    r1.link_down()
    r2.wait_for_address("192.0.2.1", timeout=6)
    assert "192.0.2.1/24" in [str(a) for a in r2.addresses("eth0")]
    assert mon.ping("192.0.2.1")
    r1.link_up()
    r2.wait_for_address("192.0.2.1", timeout=8, present=False)
    assert j.signal(signal.SIGTERM) == 0
    assert j.states()[:3] == ["BACKUP", "MASTER", "BACKUP"]
