# SPDX-License-Identifier: GPL-2.0-or-later
"""cgroup v2 only (run by tests/vm/run): controllers handed down through
cgroup.subtree_control, the init born in its group by clone3(CLONE_INTO_CGROUP), and a subtree
delegated by a service manager (systemd's Delegate=yes)."""

import os
import signal
import time
from pathlib import Path

import pytest

from conftest import SLICE, Daemon, assert_no_sanitizer_report, cgroup_root, unit_text

pytestmark = pytest.mark.cgroup_v2
SLEEPER = "/bin/sh -c 'exec sleep 1000'"
LIMITS = "CPUQuota=20%\nAllowedCPUs=0\nMemoryMax=64M\nTasksMax=20"


def subtree(path):
    return (path / "cgroup.subtree_control").read_text().split()


def test_controllers_are_handed_down_and_init_is_born_in_its_group(tmp_path, layers):
    d = Daemon(tmp_path)
    d.start(args=["--debug"])
    try:
        d.write_unit("v2.unit", unit_text(layers, SLEEPER, resources=LIMITS))
        d.ctl("start", "v2.unit")
        slice_ = cgroup_root() / f"{SLICE}"
        for ctrl in ("cpu", "cpuset", "memory", "pids"):
            assert ctrl in subtree(cgroup_root()), ctrl
            assert ctrl in subtree(slice_), ctrl
        grp = slice_ / "v2.unit"
        assert (grp / "cpu.max").read_text().split() == ["20000", "100000"]
        assert (grp / "cpuset.cpus").read_text().strip() == "0"
        assert (grp / "memory.max").read_text().strip() == str(64 << 20)
        assert (grp / "pids.max").read_text().strip() == "20"
        out = (tmp_path / "sandboxd.out").read_text()
        assert f"born in its cgroup by clone3(CLONE_INTO_CGROUP): /{SLICE}/v2.unit" in out
        assert "cgroup layout: v2" in out
        d.ctl("stop", "v2.unit")
        assert not grp.exists()
    finally:
        d.stop()
    assert_no_sanitizer_report(tmp_path)


def rmdir_when_empty(d: Path, tries=100):
    for _ in range(tries):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY until the killed processes are gone
            time.sleep(0.05)


def kill_tree(path: Path):
    """Empties and removes a cgroup subtree, deepest first."""
    if not path.exists():
        return
    (path / "cgroup.kill").write_text("1")
    for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        rmdir_when_empty(child)
    rmdir_when_empty(path)


@pytest.fixture
def delegated_group():
    """A group the way systemd hands one to a Delegate=yes service: marked with the
    trusted.delegate xattr, the service's main process started inside it."""
    svc = cgroup_root() / "sandboxd-test.service"
    svc.mkdir()
    os.setxattr(svc, "trusted.delegate", b"1")
    try:
        yield svc
    finally:
        kill_tree(svc)


def test_delegated_subtree_is_used_and_survives_a_restart(tmp_path, layers, delegated_group):
    svc = delegated_group
    d = Daemon(tmp_path)
    d.start(cgroup=svc, keep_running=True)
    try:
        # no internal processes: the daemon moved itself into a leaf before handing down
        assert Path(f"/proc/{d.proc.pid}/cgroup").read_text().strip() == \
            "0::/sandboxd-test.service/supervisor"
        assert {"cpu", "memory", "pids"} <= set(subtree(svc))
        d.write_unit("del.unit", unit_text(layers, SLEEPER, resources=LIMITS))
        d.ctl("start", "del.unit")
        props = d.show("del.unit")
        assert props["ControlGroup"] == f"/sandboxd-test.service/{SLICE}/del.unit"
        grp = svc / f"{SLICE}" / "del.unit"
        assert (grp / "cpu.max").read_text().split() == ["20000", "100000"]
        assert (grp / "memory.max").read_text().strip() == str(64 << 20)
        assert props["MainPID"] in (grp / "cgroup.procs").read_text().split()
        assert not (cgroup_root() / f"{SLICE}" / "del.unit").exists()

        # restarted the way systemd does with DelegateSubgroup=supervisor: adopted in place
        pid = props["MainPID"]
        d.stop(signal.SIGTERM)
        d.start(cgroup=svc / "supervisor")
        props = d.show("del.unit")
        assert props["ActiveState"] == "active" and props["MainPID"] == pid
        assert (tmp_path / "sandboxd.out").read_text().count(
            f"sandboxes go to /sandboxd-test.service/{SLICE} (delegated to us; sandboxd "
            "runs in its supervisor group)") == 2
        assert props["ControlGroup"] == f"/sandboxd-test.service/{SLICE}/del.unit"
        d.ctl("stop", "del.unit")
        assert not grp.exists()
    finally:
        d.stop()
    assert_no_sanitizer_report(tmp_path)


def test_controller_missing_from_the_delegated_group_is_named(tmp_path, layers):
    """A manager that delegates a group without io: a unit asking for an IO limit is refused
    with the controller named, and nothing is created for it."""
    outer = cgroup_root() / "sandboxd-test-noio.service"
    outer.mkdir()
    try:
        (outer / "cgroup.subtree_control").write_text("+cpu +cpuset +memory +pids")
        svc = outer / "payload"
        svc.mkdir()
        os.setxattr(svc, "trusted.delegate", b"1")
        assert "io" not in (svc / "cgroup.controllers").read_text().split()
        d = Daemon(tmp_path)
        d.start(cgroup=svc)
        try:
            dev = "/dev/loop0" if Path("/dev/loop0").is_block_device() else "/dev/vda"
            d.write_unit("io.unit", unit_text(layers, SLEEPER,
                                              resources=f"IOReadIOPSMax={dev} 10"))
            r = d.ctl("start", "io.unit", check=False)
            assert r.returncode != 0
            assert "[Resources] needs the io controller" in r.stderr, r.stderr
            assert not (svc / f"{SLICE}" / "io.unit").exists()
            # the same daemon still runs what the group allows
            d.write_unit("ok.unit", unit_text(layers, SLEEPER, resources=LIMITS))
            d.ctl("start", "ok.unit")
            assert (svc / f"{SLICE}" / "ok.unit" / "pids.max").read_text().strip() == "20"
            d.ctl("stop", "ok.unit")
        finally:
            d.stop()
        assert_no_sanitizer_report(tmp_path)
    finally:
        kill_tree(outer)
