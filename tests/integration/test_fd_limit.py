# SPDX-License-Identifier: GPL-2.0-or-later
"""sandboxd raises its soft RLIMIT_NOFILE to the hard limit: each running sandbox holds a few
descriptors, and under the shipped service's soft limit (1024) start 502 failed."""

import os
import re
import time

from conftest import cgroup_dir, unit_text

N = 40


def soft_nofile(pid):
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


def settled_fd_count(pid, at_most=None):
    """The daemon's fd count once the connections of our last sandboxctl calls are closed
    (it notices each hang-up a moment later)."""
    deadline = time.monotonic() + 5
    while True:
        n = len(os.listdir(f"/proc/{pid}/fd"))
        if (at_most is not None and n <= at_most) or time.monotonic() > deadline:
            return n
        if at_most is None:
            time.sleep(0.2)
            if len(os.listdir(f"/proc/{pid}/fd")) == n:
                return n
        else:
            time.sleep(0.05)


def test_forty_sandboxes_under_a_soft_limit_of_64(daemon, layers):
    daemon.stop()
    daemon.start(nofile=(64, 4096))
    pid = daemon.proc.pid
    assert soft_nofile(pid) == 4096
    assert re.search(r"File descriptor limit: 4096 \(soft limit was 64\)\.",
                     daemon.output.read_text())
    names = [f"n{i:02}.unit" for i in range(N)]
    for n in names:
        daemon.write_unit(n, unit_text(layers, "/bin/sleep 1000",
                                       resources="MemoryMax=16M\nTasksMax=4"))
    # one round first: sd-event makes its timer fds on first use and keeps them
    daemon.ctl("start", names[0])
    daemon.ctl("stop", names[0])
    fds_before = settled_fd_count(pid)
    daemon.ctl("start", *names, timeout=300)
    out = daemon.ctl("list").stdout
    assert sum(1 for line in out.splitlines() if " active " in line) == N, out
    assert len(os.listdir(f"/proc/{pid}/fd")) > 64  # the old soft limit would have hit

    daemon.ctl("stop", *names, timeout=300)
    for n in names:
        assert daemon.show(n)["ActiveState"] == "inactive"
        assert not cgroup_dir("pids", n).exists()
    assert settled_fd_count(pid, at_most=fds_before) <= fds_before  # nothing held on to


def test_sandboxes_start_from_the_usual_soft_limit(daemon, layers):
    """The daemon's raised limit is its own: the init and the payload get 1024 soft, as
    systemd gives its services, and keep the hard limit."""
    daemon.stop()
    daemon.start(nofile=(64, 4096))
    assert soft_nofile(daemon.proc.pid) == 4096
    daemon.write_unit("lim.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("start", "lim.unit")
    pid = int(daemon.show("lim.unit")["MainPID"])
    init = int(open(f"/proc/{pid}/stat").read().split(") ")[1].split()[1])
    for p in (pid, init):
        assert soft_nofile(p) == 1024
        hard = [l for l in open(f"/proc/{p}/limits") if l.startswith("Max open files")][0]
        assert int(hard.split()[4]) == 4096
