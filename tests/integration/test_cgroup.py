# SPDX-License-Identifier: GPL-2.0-or-later
"""The limits, as the kernel reads them back: quota, cpuset, memory, pids; a fork bomb held at
TasksMax=; an over-limit allocation OOM-killed in its own cgroup."""

import os
from pathlib import Path

from conftest import cgroup_dir, cgroup_file, is_v2, sandbox_exec, unit_text

SLEEPER = "/bin/sh -c 'exec sleep 1000'"


def test_limits_are_in_the_kernel(daemon, layers):
    daemon.write_unit("lim.unit", unit_text(
        layers, SLEEPER,
        resources="CPUQuota=20%\nAllowedCPUs=0\nMemoryMax=64M\nTasksMax=20"))
    daemon.ctl("start", "lim.unit")
    props = daemon.show("lim.unit")
    assert props["ControlGroup"] == "/sandbox.slice/lim.unit"
    if is_v2():
        assert cgroup_file("cpu", "lim.unit", "", "cpu.max").read_text().split() == \
            ["20000", "100000"]
    else:
        assert cgroup_file("cpu", "lim.unit", "cpu.cfs_quota_us").read_text().strip() == "20000"
        assert cgroup_file("cpu", "lim.unit", "cpu.cfs_period_us").read_text().strip() == \
            "100000"
    assert cgroup_file("cpuset", "lim.unit", "cpuset.cpus").read_text().strip() == "0"
    assert cgroup_file("memory", "lim.unit", "memory.limit_in_bytes",
                       "memory.max").read_text().strip() == str(64 << 20)
    assert cgroup_file("pids", "lim.unit", "pids.max").read_text().strip() == "20"

    # the payload and the init are in the group, in every hierarchy
    pid = int(props["MainPID"])
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    for ctrl in ("memory", "pids", "cpu"):
        if is_v2():
            assert "0::/sandbox.slice/lim.unit" in lines
        else:
            assert any(ctrl in l.split(":")[1].split(",") and
                       l.endswith(":/sandbox.slice/lim.unit") for l in lines), (ctrl, lines)
    procs = cgroup_dir("pids", "lim.unit").joinpath("cgroup.procs").read_text().split()
    assert str(pid) in procs and len(procs) == 2  # init + payload
    assert int(props["TasksCurrent"]) == 2
    assert int(props["MemoryCurrent"]) > 0

    daemon.ctl("stop", "lim.unit")
    for ctrl in ("cpu", "cpuset", "memory", "pids"):
        assert not cgroup_dir(ctrl, "lim.unit").exists(), ctrl
    assert daemon.show("lim.unit")["ControlGroup"] == ""


def test_unlimited_unit_uses_only_needed_controllers(daemon, layers):
    daemon.write_unit("free.unit", unit_text(layers, SLEEPER))
    daemon.ctl("start", "free.unit")
    assert cgroup_dir("memory", "free.unit").exists()
    assert cgroup_dir("pids", "free.unit").exists()
    if not is_v2():
        # no CPUQuota=/AllowedCPUs=: those hierarchies are left alone
        assert not cgroup_dir("cpu", "free.unit").exists()
        assert not cgroup_dir("cpuset", "free.unit").exists()
        assert cgroup_file("memory", "free.unit", "memory.limit_in_bytes").read_text().strip() \
            == str(Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").read_text().strip())
    daemon.ctl("stop", "free.unit")


def test_fork_bomb_held_at_tasks_max(daemon, layers):
    # The bomb runs in a subshell that forks until the kernel refuses (busybox sh gives up at
    # the first failed fork); the payload itself survives to be looked at.
    bomb = ("/bin/sh -c '( while :; do sleep 1000 & done ); echo bomb-done; exec sleep 1000'")
    daemon.write_unit("bomb.unit", unit_text(layers, bomb, resources="TasksMax=20"))
    daemon.ctl("start", "bomb.unit")
    daemon.wait_for("bomb.unit", lambda p: "bomb-done" in daemon.log("bomb.unit"))
    assert "can't fork" in daemon.log("bomb.unit")
    # the kernel refused forks at the limit: pids.events counts them
    events = cgroup_file("pids", "bomb.unit", "pids.events").read_text().split()
    assert events[0] == "max" and int(events[1]) > 0
    # at the limit, 20 tasks lived at once: init, payload, subshell and 17 sleeps; the
    # subshell has exited since
    procs = cgroup_dir("pids", "bomb.unit").joinpath("cgroup.procs").read_text().split()
    assert len(procs) == 19, procs
    assert int(cgroup_file("pids", "bomb.unit", "pids.current").read_text()) == 19
    assert daemon.show("bomb.unit")["ActiveState"] == "active"
    daemon.ctl("stop", "bomb.unit")
    assert not cgroup_dir("pids", "bomb.unit").exists()


def test_oom_kill_in_own_cgroup(daemon, layers):
    daemon.write_unit("hog.unit", unit_text(
        layers, "/bin/dd if=/dev/zero of=/dev/null bs=200M count=1",
        resources="MemoryMax=32M"))
    daemon.ctl("start", "hog.unit")
    p = daemon.wait_for("hog.unit", lambda p: p["ActiveState"] == "failed")
    assert p["Result"] == "oom-kill"
    assert p["ExecMainStatus"] == "9"  # SIGKILL from the OOM killer
    assert "out of memory" in daemon.log("hog.unit")
    assert not cgroup_dir("memory", "hog.unit").exists()
    r = daemon.ctl("status", "hog.unit", check=False)
    assert r.returncode == 3 and "oom-kill" in r.stdout


def test_cpu_quota_throttles(daemon, layers):
    daemon.write_unit("spin.unit", unit_text(
        layers, "/bin/sh -c 'while :; do :; done'", resources="CPUQuota=20%"))
    daemon.ctl("start", "spin.unit")
    stat = cgroup_file("cpu", "spin.unit", "cpu.stat").read_text()
    daemon.wait_for("spin.unit", lambda p: int(dict(
        l.split() for l in cgroup_file("cpu", "spin.unit", "cpu.stat").read_text().splitlines()
    )["nr_throttled"]) > 2)
    assert "nr_throttled" in stat
    daemon.ctl("stop", "spin.unit")
