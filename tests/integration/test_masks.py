# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kernel must not show a sandbox: Docker's masked and read-only paths."""

import glob
import os
from pathlib import Path

from conftest import sandbox_exec, unit_text

SLEEPER = "/bin/sh -c 'echo ready; exec sleep 1000'"
MASKED_FILES = ["/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug"]
MASKED_DIRS = ["/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware",
               "/sys/devices/virtual/powercap"] + \
    sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle"))
READ_ONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def start(daemon, name, text):
    daemon.write_unit(name, text)
    daemon.ctl("start", name)
    return int(daemon.show(name)["MainPID"])


def mounts_inside(pid):
    """mount point -> (per-mount options, super options), the last mount on each path."""
    out = sandbox_exec(pid, "cat", "/proc/self/mountinfo").stdout
    m = {}
    for line in out.splitlines():
        f = line.split()
        sep = f.index("-")
        m[f[4]] = (f[5].split(","), f[sep + 3].split(","))
    return m


def test_masked_paths_show_nothing(daemon, layers):
    # what this host has (the test host must have some, or the test proves nothing)
    files = [p for p in MASKED_FILES if os.path.exists(p)]
    dirs = [p for p in MASKED_DIRS if os.path.exists(p)]
    assert "/sys/firmware" in dirs and "/proc/interrupts" in files
    assert os.listdir("/sys/firmware")  # the host's is not empty: ACPI tables, memmap
    pid = start(daemon, "mask.unit", unit_text(layers, SLEEPER))
    mounts = mounts_inside(pid)
    for p in files:
        r = sandbox_exec(pid, "cat", p)
        assert r.returncode == 0 and r.stdout == "", (p, r)
        assert "ro" in mounts[p][0], p
    for p in dirs:
        r = sandbox_exec(pid, "ls", "-A", p)
        assert r.returncode == 0 and r.stdout == "", (p, r)
        assert "ro" in mounts[p][0], p
        r = sandbox_exec(pid, "touch", f"{p}/x")
        assert r.returncode != 0, p
    # the ACPI tables cannot be read through any path
    r = sandbox_exec(pid, "sh", "-c", "cat /sys/firmware/acpi/tables/DSDT | wc -c")
    assert r.stdout.strip() == "0"
    # the payload itself (no CAP_SYS_ADMIN) cannot take a mask off
    daemon.write_unit("unmask.unit", unit_text(
        layers, "/bin/sh -c 'umount /sys/firmware; umount /proc/interrupts; "
                "ls /sys/firmware | wc -l; echo end; exec sleep 1000'"))
    daemon.ctl("start", "unmask.unit")
    daemon.wait_for("unmask.unit", lambda p: "end" in daemon.log("unmask.unit"))
    assert "\n0\nend" in daemon.log("unmask.unit")


def test_read_only_paths_refuse_writes(daemon, layers):
    pid = start(daemon, "ro.unit", unit_text(layers, SLEEPER))
    mounts = mounts_inside(pid)
    for p in READ_ONLY:
        if os.path.exists(p):
            assert "ro" in mounts[p][0], p
    host_domain = Path("/proc/sys/kernel/domainname").read_text()
    # domainname belongs to the sandbox's own UTS namespace: harmless even if the write worked
    r = sandbox_exec(pid, "sh", "-c", "echo hacked > /proc/sys/kernel/domainname")
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    assert sandbox_exec(pid, "cat", "/proc/sys/kernel/domainname").stdout.strip() != "hacked"
    assert Path("/proc/sys/kernel/domainname").read_text() == host_domain
    # the rest of /proc stays usable
    assert sandbox_exec(pid, "cat", "/proc/self/status").returncode == 0
