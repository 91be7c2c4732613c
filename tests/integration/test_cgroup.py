# SPDX-License-Identifier: GPL-2.0-or-later
"""The limits, as the kernel reads them back: quota, cpuset, memory, pids; a fork bomb held at
TasksMax=; an over-limit allocation OOM-killed in its own cgroup."""

import os
from pathlib import Path

from conftest import SLICE, cgroup_dir, cgroup_file, is_v2, sandbox_exec, unit_text

SLEEPER = "/bin/sh -c 'exec sleep 1000'"


def test_limits_are_in_the_kernel(daemon, layers):
    daemon.write_unit("lim.unit", unit_text(
        layers, SLEEPER,
        resources="CPUQuota=20%\nAllowedCPUs=0\nMemoryMax=64M\nTasksMax=20"))
    daemon.ctl("start", "lim.unit")
    props = daemon.show("lim.unit")
    assert props["ControlGroup"] == f"/{SLICE}/lim.unit"
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
            assert f"0::/{SLICE}/lim.unit" in lines
        else:
            assert any(ctrl in l.split(":")[1].split(",") and
                       l.endswith(f":/{SLICE}/lim.unit") for l in lines), (ctrl, lines)
    procs = cgroup_dir("pids", "lim.unit").joinpath("cgroup.procs").read_text().split()
    assert str(pid) in procs and len(procs) == 2  # init + payload
    assert int(props["TasksCurrent"]) == 2
    assert int(props["MemoryCurrent"]) > 0

    daemon.ctl("stop", "lim.unit")
    for ctrl in ("cpu", "cpuset", "memory", "pids"):
        assert not cgroup_dir(ctrl, "lim.unit").exists(), ctrl
    assert daemon.show("lim.unit")["ControlGroup"] == ""


def test_unlimited_unit_has_its_groups_without_limits(daemon, layers):
    """Every hierarchy gets a group (so the payload never stays in the daemon's), but only
    the limits the unit asks for are written."""
    daemon.write_unit("free.unit", unit_text(layers, SLEEPER))
    daemon.ctl("start", "free.unit")
    for ctrl in ("memory", "pids", "cpu", "cpuset"):
        assert cgroup_dir(ctrl, "free.unit").exists(), ctrl
    if is_v2():
        assert cgroup_file("cpu", "free.unit", "", "cpu.max").read_text().split()[0] == "max"
        assert cgroup_file("memory", "free.unit", "", "memory.max").read_text().strip() == "max"
        assert cgroup_file("cpuset", "free.unit", "cpuset.cpus").read_text().strip() == ""
    else:
        root = Path("/sys/fs/cgroup")
        assert cgroup_file("cpu", "free.unit", "cpu.cfs_quota_us").read_text().strip() == "-1"
        assert cgroup_file("cpu", "free.unit", "cpu.shares").read_text().strip() == "1024"
        # v1 refuses tasks in a cpuset group with no cpus: it has all of the root's
        assert cgroup_file("cpuset", "free.unit", "cpuset.cpus").read_text() == \
            (root / "cpuset" / "cpuset.cpus").read_text()
        assert cgroup_file("memory", "free.unit", "memory.limit_in_bytes").read_text() == \
            (root / "memory" / "memory.limit_in_bytes").read_text()
    assert cgroup_file("pids", "free.unit", "pids.max").read_text().strip() == "max"
    daemon.ctl("stop", "free.unit")
    for ctrl in ("memory", "pids", "cpu", "cpuset"):
        assert not cgroup_dir(ctrl, "free.unit").exists(), ctrl


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


def block_device():
    """A whole disk every host has: the first loop device, or the disk holding $TMPDIR."""
    if Path("/dev/loop0").is_block_device():
        return "/dev/loop0", os.stat("/dev/loop0").st_rdev
    import tempfile
    dev = os.stat(tempfile.gettempdir()).st_dev
    name = [l.split("=", 1)[1] for l in
            Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/uevent").read_text().split()
            if l.startswith("DEVNAME=")][0]
    return f"/dev/{name}", os.stat(f"/dev/{name}").st_rdev


def test_weight_memory_high_swap_and_io_limits(daemon, layers):
    dev, rdev = block_device()
    mm = f"{os.major(rdev)}:{os.minor(rdev)}"
    daemon.write_unit("more.unit", unit_text(layers, SLEEPER, resources=(
        "CPUWeight=200\nMemoryMax=64M\nMemoryHigh=48M\nMemorySwapMax=0\n"
        f"IOReadBandwidthMax={dev} 1M\nIOWriteIOPSMax={dev} 100\n"
        f"IOWriteBandwidthMax={dev} 5M\nIOWriteBandwidthMax=\n")))  # reset: no wbps
    daemon.ctl("start", "more.unit")
    props = daemon.show("more.unit")
    assert props["CPUWeight"] == "200" and props["MemoryHigh"] == str(48 << 20)
    assert props["IOReadBandwidthMax"] == f"{dev} 1000000"  # base 1000, as systemd
    st = daemon.ctl("status", "more.unit").stdout
    assert "(high: 48.0M max: 64.0M swap max: 0B)" in st, st
    assert "(weight: 200)" in st, st
    if is_v2():
        assert cgroup_file("cpu", "more.unit", "cpu.weight").read_text().strip() == "200"
        assert cgroup_file("memory", "more.unit", "memory.high").read_text().strip() == \
            str(48 << 20)
        assert cgroup_file("memory", "more.unit", "memory.swap.max").read_text().strip() == "0"
        io = cgroup_file("io", "more.unit", "io.max").read_text().split()
        assert io == [mm, "rbps=1000000", "wbps=max", "riops=max", "wiops=100"], io
        assert "MemoryHigh=" not in daemon.log("more.unit")
    else:
        # v2's weight 200 is v1's 2048 shares; memsw is memory plus swap
        assert cgroup_file("cpu", "more.unit", "cpu.shares").read_text().strip() == "2048"
        memsw = cgroup_dir("memory", "more.unit") / "memory.memsw.limit_in_bytes"
        if Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists():
            assert memsw.read_text().strip() == str(64 << 20)
        else:
            assert "MemorySwapMax= on cgroup v1" in daemon.log("more.unit")
        blkio = cgroup_dir("blkio", "more.unit")
        assert (blkio / "blkio.throttle.read_bps_device").read_text().split() == \
            [mm, "1000000"]
        assert (blkio / "blkio.throttle.write_iops_device").read_text().split() == [mm, "100"]
        assert (blkio / "blkio.throttle.write_bps_device").read_text().strip() == ""
        assert "MemoryHigh= needs cgroup v2; not applied" in daemon.log("more.unit")
    daemon.ctl("stop", "more.unit")
    for ctrl in ("cpu", "memory", "blkio" if not is_v2() else "io"):
        assert not cgroup_dir(ctrl, "more.unit").exists(), ctrl


def test_io_limit_on_a_non_block_device_fails_cleanly(daemon, layers):
    daemon.write_unit("nodev.unit", unit_text(layers, SLEEPER,
                                              resources="IOReadIOPSMax=/dev/null 10"))
    r = daemon.ctl("start", "nodev.unit", check=False)
    assert r.returncode != 0
    assert "IOReadIOPSMax=/dev/null: not a block device" in r.stderr
    assert not cgroup_dir("memory", "nodev.unit").exists()
    # an empty assignment drops the device: nothing is looked up, the unit starts
    daemon.write_unit("reset.unit", unit_text(
        layers, SLEEPER, resources="IOReadIOPSMax=/dev/nonexistent 10\nIOReadIOPSMax="))
    daemon.ctl("start", "reset.unit")
    assert "IOReadIOPSMax" not in daemon.show("reset.unit")
    daemon.ctl("stop", "reset.unit")
