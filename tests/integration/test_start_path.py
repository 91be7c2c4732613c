# SPDX-License-Identifier: GPL-2.0-or-later
"""The start path and the payload's output (issue: hardening): the payload holds no descriptor
that reopens to a host file, nothing the daemon inherited reaches a sandbox, a payload cannot
forge sandboxd's event lines, stops and timeouts before the payload runs, a killed init, a
resolv.conf without its final newline, and sandboxd killed in the middle of parallel starts."""

import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (Daemon, assert_no_sanitizer_report, cgroup_dir, cgroup_dirs_of_slice,
                      kill_and_remove_cgroup, remove_empty_slice, sandbox_exec, unit_text)

SLEEPER = "/bin/sh -c 'echo ready; exec sleep 1000'"
EVENT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d sandboxd\[([^\]]+)\]: (.*)$")


def events(daemon, unit):
    return [m.group(2) for m in map(EVENT.match, daemon.log(unit).splitlines())
            if m and m.group(1) == unit]


def test_payload_cannot_reach_or_forge_the_log(daemon, layers):
    """Escape 1: the log used to be the payload's stdout, so `chmod 4755 /proc/self/fd/1` made
    a host file setuid root, and the payload could truncate it or forge event lines."""
    daemon.write_unit("forge.unit", unit_text(layers, "/bin/sh -c '"
        "echo 2026-01-01 00:00:00 sandboxd[forge.unit]: Stopped.; "
        "cat /bin/busybox > /proc/self/fd/1; chmod 4755 /proc/self/fd/1 /proc/self/fd/2; "
        "echo chmod-rc=$?; : > /proc/self/fd/1; echo done; exec sleep 1000'"))
    daemon.ctl("start", "forge.unit")
    daemon.wait_for("forge.unit", lambda p: "done" in daemon.payload_output("forge.unit"))
    log = daemon.logs / "forge.unit.log"
    st = log.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640 and not st.st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert st.st_uid == 0
    # the truncation did not take: the daemon's first line is still there
    ev = events(daemon, "forge.unit")
    assert ev[0] == "Starting." and ev[1].startswith("Started, main PID"), ev
    # the forged line is the payload's, under its own prefix, not an event
    assert "Stopped." not in ev
    assert any(l.endswith("sandboxd[forge.unit]: Stopped.")
               for l in daemon.payload_output("forge.unit"))
    assert "active" == daemon.show("forge.unit")["ActiveState"]


def test_output_is_relayed_as_lines_in_order(daemon, layers):
    daemon.write_unit("lines.unit", unit_text(layers, "/bin/sh -c '"
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf tail-without-newline'"))
    daemon.ctl("start", "lines.unit")
    daemon.wait_for("lines.unit", lambda p: p["ActiveState"] == "inactive")
    # stdout and stderr are two streams (stderr is a warning in the journal): each keeps its
    # order, and nothing is lost; how the two interleave is not kept, as with journald
    out = daemon.payload_output("lines.unit")
    assert [l for l in out if l.startswith("out") or l.startswith("tail")] == [
        "out1", "out2", "out3", "tail-without-newline"], out
    assert [l for l in out if l.startswith("err")] == ["err1", "err2", "err3"], out
    # every payload line names the payload and its pid in the sandbox
    assert all(re.search(r" sh\[\d+\]: ", l) for l in daemon.log("lines.unit").splitlines()
               if "sandboxd[" not in l)


def test_inherited_descriptor_never_reaches_a_sandbox(tmp_path, layers):
    """Escape 6 (runc CVE-2024-21626 class): a sandboxd started with a host directory open on
    fd 7 gave every payload the host root through /proc/self/fd/7."""
    secret_dir = tmp_path / "hostdir"
    secret_dir.mkdir()
    d = Daemon(tmp_path)
    fd = os.open(secret_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.set_inheritable(fd, True)
        d.start(pass_fds=(fd,))
        try:
            d.write_unit("fd.unit", unit_text(layers, "/bin/sh -c '"
                f"ls -l /proc/self/fd/; touch /proc/self/fd/{fd}/pwned; "
                f"ls /proc/1/fd/ ; echo probed; exec sleep 1000'"))
            d.ctl("start", "fd.unit")
            d.wait_for("fd.unit", lambda p: "probed" in d.payload_output("fd.unit"))
            assert not (secret_dir / "pwned").exists()
            pid = int(d.show("fd.unit")["MainPID"])
            assert sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd")) == [0, 1, 2]
            # the init: only what init-protocol.h hands over, and what it made itself
            init = int(Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1])
            for f in os.listdir(f"/proc/{init}/fd"):
                target = os.readlink(f"/proc/{init}/fd/{f}")
                assert target != str(secret_dir), (f, target)
                assert not os.path.isdir(f"/proc/{init}/fd/{f}"), (f, target)
        finally:
            d.stop()
    finally:
        os.close(fd)
        for leftover in cgroup_dirs_of_slice():
            kill_and_remove_cgroup(leftover)
    assert_no_sanitizer_report(tmp_path)


def slow_unit(layers, service=""):
    """A payload whose setup crawls (1% of a CPU) and which ignores SIGTERM: a stop that
    waited for the payload would take TimeoutStopSec=."""
    return unit_text(layers, "/bin/sh -c \"trap '' TERM; exec sleep 1000\"",
                     resources="CPUQuota=1%", service="TimeoutStopSec=90s\n" + service)


def test_stop_before_the_payload_runs_is_prompt(daemon, layers):
    daemon.write_unit("early.unit", slow_unit(layers))
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    for _ in range(5):
        starter = subprocess.Popen([str(Path(os.environ.get("SANDBOXD_BUILD", "build")) /
                                         "src/sandboxctl/sandboxctl"), "start", "early.unit"],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while (p := props_or_empty(daemon, "early.unit")).get("ActiveState", "inactive") == \
                "inactive":
            assert time.monotonic() < deadline, p
            time.sleep(0.01)
        if p["ActiveState"] == "activating":
            break
        starter.wait()
        daemon.ctl("stop", "early.unit")  # it ran already: try again
    else:
        pytest.fail("the slow start never stayed in activating long enough to be stopped")
    daemon.ctl("stop", "early.unit", timeout=60)
    starter.wait(timeout=30)
    p = daemon.show("early.unit")
    assert p["ActiveState"] == "inactive", p
    assert p["Result"] == "success", p
    assert "Stopping before the payload started, killing the sandbox." in events(daemon,
                                                                               "early.unit")
    assert not any(e.startswith("Stop timed out") for e in events(daemon, "early.unit"))
    assert not cgroup_dir("memory", "early.unit").exists()


def test_start_timeout_reports_timeout(daemon, layers):
    daemon.write_unit("slow.unit", slow_unit(layers, "TimeoutStartSec=1ms"))
    r = daemon.ctl("start", "slow.unit", check=False)
    assert r.returncode != 0
    assert "TimeoutStartSec=" in r.stderr
    p = daemon.show("slow.unit")
    assert p["ActiveState"] == "failed" and p["Result"] == "timeout", p
    assert not cgroup_dir("memory", "slow.unit").exists()


def test_killed_init_is_reported_as_such(daemon, layers):
    daemon.write_unit("k.unit", unit_text(layers, SLEEPER))
    daemon.ctl("start", "k.unit")
    pid = int(daemon.show("k.unit")["MainPID"])
    init = int(Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1])
    os.kill(init, signal.SIGKILL)
    p = daemon.wait_for("k.unit", lambda p: p["ActiveState"] in ("failed", "inactive"))
    assert any(e.startswith(f"The sandbox's init (PID {init}) was killed by SIGKILL")
               for e in events(daemon, "k.unit")), daemon.log("k.unit")


def test_resolv_conf_without_final_newline(tmp_path, layers):
    """The init layer's resolv.conf copy once overflowed its buffer by one byte when the host's
    file lacked a final newline (ASan builds report it; every build checks the text)."""
    fake = tmp_path / "resolv.conf"
    fake.write_text("search example.org\nnameserver 127.0.0.53\nnameserver 192.0.2.1")
    # the suite runs in its own mount namespace: the host's file is untouched
    subprocess.run(["mount", "--bind", str(fake), "/etc/resolv.conf"], check=True)
    d = Daemon(tmp_path)
    try:
        d.start()
        d.write_unit("dns.unit", unit_text(layers, SLEEPER))
        d.ctl("start", "dns.unit")
        pid = int(d.show("dns.unit")["MainPID"])
        assert sandbox_exec(pid, "cat", "/etc/resolv.conf").stdout == \
            "search example.org\nnameserver 192.0.2.1\n"
    finally:
        d.stop()
        subprocess.run(["umount", "/etc/resolv.conf"], check=True)
        for leftover in cgroup_dirs_of_slice():
            kill_and_remove_cgroup(leftover)
    assert_no_sanitizer_report(tmp_path)


def props_or_empty(daemon, unit):
    r = daemon.ctl("show", unit, check=False)
    return dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)


def inits_in_slice():
    """pids of sandboxd-init processes in our slice's groups, read from the host."""
    pids = set()
    for d in cgroup_dirs_of_slice():
        for p in (d / "cgroup.procs").read_text().split():
            try:
                if Path(f"/proc/{p}/comm").read_text().strip() == "sandboxd-init":
                    pids.add(int(p))
            except FileNotFoundError:
                pass
    return pids


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.06, 0.15])
def test_daemon_killed_during_parallel_starts(tmp_path, layers, init_reaper, delay):
    """A sandboxd SIGKILLed while 16 starts are under way leaves nothing that the next one
    neither adopts nor removes: afterwards every init belongs to an active unit, every active
    unit has its init, and no runtime directory or cgroup is left without its unit."""
    n = 16
    d = Daemon(tmp_path)
    d.start(keep_running=True)
    try:
        for i in range(n):
            d.write_unit(f"p{i}.unit", unit_text(layers, SLEEPER))
        env = dict(os.environ, SANDBOXD_SOCKET=str(d.socket))
        ctl = str(Path(os.environ.get("SANDBOXD_BUILD", "build")) / "src/sandboxctl/sandboxctl")
        starters = [subprocess.Popen([ctl, "start", f"p{i}.unit"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for i in range(n)]
        time.sleep(delay)
        d.proc.kill()
        d.proc.wait()
        for s in starters:
            s.wait(timeout=30)
        d.start(keep_running=True)
        # settle: every adopted unit is active or has ended (an init that was still waiting
        # for "go" leaves by itself)
        deadline = time.monotonic() + 20
        while True:
            # a unit whose cut-short start was cleaned up is not even loaded: {}
            props = {f"p{i}.unit": props_or_empty(d, f"p{i}.unit") for i in range(n)}
            active = {u for u, p in props.items() if p.get("ActiveState") == "active"}
            busy = [u for u, p in props.items()
                    if p.get("ActiveState") in ("activating", "deactivating")]
            inits = inits_in_slice()
            if not busy and len(inits) == len(active):
                break
            assert time.monotonic() < deadline, (props, inits)
            time.sleep(0.05)
        main_pids = {int(props[u]["MainPID"]) for u in active}
        assert all(Path(f"/proc/{p}").exists() for p in main_pids)
        groups = {c.name for c in cgroup_dirs_of_slice()}
        assert groups == active, (groups, active)
        rt = d.runtime / "sandboxes"
        dirs = {p.name for p in rt.iterdir()} if rt.exists() else set()
        assert dirs == active, (dirs, active)
        # and the units that were cut short start normally now
        for i in range(n):
            d.ctl("start", f"p{i}.unit")
        assert len(inits_in_slice()) == n
    finally:
        d.stop()
        for leftover in cgroup_dirs_of_slice():
            kill_and_remove_cgroup(leftover)
        remove_empty_slice()
    assert_no_sanitizer_report(tmp_path)
