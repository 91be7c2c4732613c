# SPDX-License-Identifier: GPL-2.0-or-later
"""What the kernel must not show a sandbox (Docker's masked and read-only paths), and the
daemon's own directories, which a payload on RootDirectory=/ or with a volume containing them
must not reach: its socket would let it start a unit with a writable host root."""

import glob
import os
from pathlib import Path

from conftest import SANDBOXCTL, sandbox_exec, unit_text

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
    out = daemon.payload_output("unmask.unit")
    # stdout's lines (umount's complaints are stderr's, a stream of their own)
    assert [ln for ln in out if not ln.startswith("umount:")][-2:] == ["0", "end"], out


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


def daemon_dirs(daemon):
    return [daemon.runtime, daemon.state, daemon.logs]


def test_root_directory_slash_cannot_reach_the_daemon(daemon, layers, tmp_path):
    assert daemon.socket.exists() and any(d.iterdir() for d in daemon_dirs(daemon))
    dirs = " ".join(str(d) for d in daemon_dirs(daemon))
    # the payload, as root on the host's own tree, tries the daemon's socket with sandboxctl
    probe = (f"/bin/sh -c 'ls -A {dirs} | grep -v : | grep -c . ; "
             f"SANDBOXD_SOCKET={daemon.socket} {SANDBOXCTL} list; echo ctl-rc=$?; "
             f"echo end; exec sleep 1000'")
    pid = start(daemon, "slash.unit", f"""[Sandbox]
RootDirectory=/
ReadOnly=yes
[Service]
ExecStart={probe}
""")
    daemon.wait_for("slash.unit", lambda p: "end" in daemon.log("slash.unit"))
    log = daemon.log("slash.unit")
    assert "0" in daemon.payload_output("slash.unit"), log  # every directory is empty
    assert "ctl-rc=1" in log and "sandboxd is not running" in log, log
    # under the host's /tmp here, which a sandbox on the host's root gets fresh: gone, or
    # (elsewhere) hidden under an empty tmpfs
    for d in daemon_dirs(daemon):
        r = sandbox_exec(pid, "ls", "-A", str(d))
        assert r.stdout == "" and (r.returncode == 0 or "No such file" in r.stderr), (d, r)
    assert sandbox_exec(pid, "test", "-e", str(daemon.socket)).returncode != 0
    # the host's own tree is otherwise there
    assert sandbox_exec(pid, "test", "-x", str(SANDBOXCTL)).returncode == 0


def test_volume_containing_the_daemon_dirs_hides_them(daemon, layers, tmp_path):
    # tmp_path holds run/, state/, log/: a volume of it shows them, except they are hidden
    pid = start(daemon, "vol.unit", unit_text(layers, SLEEPER,
                                              sandbox=f"Volume={tmp_path}:/host:ro"))
    assert sandbox_exec(pid, "test", "-d", "/host/units").returncode == 0
    for d in daemon_dirs(daemon):
        inside = f"/host/{d.relative_to(tmp_path)}"
        r = sandbox_exec(pid, "ls", "-A", inside)
        assert r.returncode == 0 and r.stdout == "", (inside, r)
    assert sandbox_exec(pid, "test", "-e", "/host/run/private").returncode != 0
