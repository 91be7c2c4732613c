# SPDX-License-Identifier: GPL-2.0-or-later
"""[Health]: Exec=, TCP= and HTTP= probes, OnFailure= actions, Startup=yes ordering, and that a
probe runs confined like the payload and never outlives its timeout."""

import os
import signal
import time

import pytest

from conftest import Daemon, sandbox_exec, unit_text

# busybox httpd on 127.0.0.1:80 of the sandbox's own network namespace (Network=none)
WEB = ("/bin/sh -c 'mkdir -p /tmp/www && echo ok > /tmp/www/index.html && "
       "exec httpd -f -p 80 -h /tmp/www'")


def health_unit(layers, exec_start, health, service="", unit="", sandbox="Network=none"):
    return unit_text(layers, exec_start, sandbox=sandbox, service=service, unit=unit) + \
        "[Health]\n" + health + "\n"


def host_pids_running(argv0_and_args):
    """PIDs on the host whose command line is exactly this."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:-1] == [a.encode() for a in argv0_and_args]:
                    out.append(int(p))
        except OSError:
            pass
    return out


def test_http_probe_turns_unhealthy_and_restarts(daemon, layers):
    daemon.write_unit("web.unit", health_unit(
        layers, WEB, "HTTP=80/index.html\nIntervalSec=300ms\nRetries=2\nOnFailure=restart"))
    daemon.ctl("start", "web")
    p = daemon.wait_for("web.unit", lambda p: p["Health"] == "healthy")
    assert p["HealthResult"] == "HTTP status 200", p
    assert 'Health: healthy (last probe: HTTP status 200' in daemon.ctl("status", "web").stdout
    pid = p["MainPID"]
    r = sandbox_exec(pid, "rm", "/tmp/www/index.html")
    assert r.returncode == 0, r.stderr
    p = daemon.wait_for("web.unit", lambda p: p["NRestarts"] == "1" and p["Health"] == "healthy")
    assert p["MainPID"] != pid and p["ActiveState"] == "active"
    log = daemon.log("web.unit")
    assert "Unhealthy: 2 probes in a row failed, the last with HTTP status 404" in log, log
    assert "Restarting (OnFailure=restart in [Health])." in log


def test_tcp_probe(daemon, layers):
    daemon.write_unit("web.unit", health_unit(layers, WEB, "TCP=80\nIntervalSec=300ms"))
    daemon.write_unit("shut.unit", health_unit(layers, WEB,
                                               "TCP=81\nIntervalSec=300ms\nRetries=1"))
    daemon.ctl("start", "web", "shut")
    assert daemon.wait_for("web.unit", lambda p: p["Health"] == "healthy")["HealthResult"] == \
        "connected"
    p = daemon.wait_for("shut.unit", lambda p: p["Health"] == "unhealthy")
    assert p["HealthResult"] == "connection to port 81: Connection refused", p
    assert p["ActiveState"] == "active"  # OnFailure=none: reported only


@pytest.mark.parametrize("who", ["root", "nobody", "userns"])
def test_a_hanging_exec_probe_is_killed_at_its_timeout(daemon, layers, who):
    """Also when the command drops privileges (which clears a parent-death signal): the probe's
    PID namespace goes whole."""
    extra = {"root": "", "nobody": "User=nobody",
             "userns": "Namespaces=pid mount uts ipc net cgroup user"}[who]
    daemon.write_unit("hang.unit", health_unit(
        layers, "/bin/sleep 2000",
        "Exec=/bin/sh -c 'echo probing; /bin/sleep 1000 & exec /bin/sleep 1001'\n"
        "TimeoutSec=500ms\nIntervalSec=1h\nRetries=1\nOnFailure=none",
        sandbox=f"Network=none\n{extra}"))
    daemon.ctl("start", "hang")
    p = daemon.wait_for("hang.unit", lambda p: p["Health"] == "unhealthy")
    assert p["HealthResult"] == "timeout after 500 ms" and p["HealthOutput"] == "probing", p
    # the probe, and what it left in the background, are gone: killed with its PID namespace
    deadline = time.monotonic() + 10
    while host_pids_running(["/bin/sleep", "1000"]) or host_pids_running(["/bin/sleep", "1001"]):
        assert time.monotonic() < deadline, "a probe process outlived its timeout"
        time.sleep(0.05)
    assert daemon.show("hang.unit")["ActiveState"] == "active"


def test_a_probe_enters_the_payloads_user_namespace(daemon, layers):
    """Namespaces=user: the probe gets the payload's user namespace (taken from the init
    through its pidfd, never from a PID the payload could name and let be reused)."""
    daemon.write_unit("u.unit", health_unit(
        layers, "/bin/sleep 2000",
        "Exec=/bin/sh -c 'echo $(cat /proc/self/uid_map) uid=$(id -u)'\nIntervalSec=300ms",
        sandbox="Network=none\nNamespaces=pid mount uts ipc net cgroup user"))
    daemon.ctl("start", "u")
    p = daemon.wait_for("u.unit", lambda p: "uid=" in p["HealthOutput"])
    with open(f"/proc/{p['MainPID']}/uid_map") as f:
        payload_map = " ".join(f.read().split())
    assert p["HealthOutput"] == f"{payload_map} uid=0", (p["HealthOutput"], payload_map)
    assert p["Health"] == "healthy"


def test_an_exec_probe_runs_confined_like_the_payload(daemon, layers, tmp_path):
    # a hostile payload rewrites the probe's program in its own rw layer: whatever it puts
    # there runs with no more than the payload has
    src = tmp_path / "src"
    src.mkdir()
    (src / "check").write_text(
        "#!/bin/sh\n"
        "echo uid=$(id -u) $(grep CapBnd /proc/self/status | tr -d '\\t') "
        "mount=$(mount -t tmpfs none /mnt 2>/dev/null && echo yes || echo no) "
        "pid=$$\n")
    daemon.write_unit("c.unit", health_unit(
        layers, "/bin/sh -c 'cp /src/check /tmp/check; chmod 755 /tmp/check; exec sleep 1000'",
        "Exec=/tmp/check\nIntervalSec=300ms",
        sandbox=f"Network=none\nUser=nobody\nVolume={src}:/src:ro"))
    daemon.ctl("start", "c")
    p = daemon.wait_for("c.unit", lambda p: p["HealthOutput"].startswith("uid="))
    with open(f"/proc/{p['MainPID']}/status") as f:
        bnd = [l.split()[1] for l in f.read().splitlines() if l.startswith("CapBnd:")][0]
    # the payload's identity and bounding set, no mount, and a PID namespace of its own (PID 1
    # there is the probe's reaper, the command PID 2)
    assert p["HealthOutput"] == f"uid=65534 CapBnd:{bnd} mount=no pid=2", p
    assert p["Health"] == "healthy"


def test_startup_yes_holds_the_start_and_after(daemon, layers):
    daemon.write_unit("db.unit", health_unit(
        layers, "/bin/sh -c 'sleep 1; touch /tmp/ready; exec sleep 1000'",
        "Exec=/bin/test -e /tmp/ready\nIntervalSec=10min\nStartup=yes"))
    daemon.write_unit("app.unit", unit_text(layers, "/bin/sleep 1000",
                                            unit="Requires=db\nAfter=db"))
    daemon.ctl("start", "app")
    assert daemon.show("db.unit")["Health"] == "healthy"
    out = daemon.output.read_text()
    assert out.index("db.unit: Healthy") < out.index("app.unit: Starting."), out
    # while it waits it is activating, and failed probes do not count
    assert "Unhealthy" not in daemon.log("db.unit")


def test_health_goes_on_after_a_daemon_restart(tmp_path, layers, init_reaper):
    d = Daemon(tmp_path)
    d.start(keep_running=True)
    try:
        d.write_unit("web.unit", health_unit(layers, WEB,
                                             "HTTP=80/\nIntervalSec=300ms\nRetries=1"))
        d.ctl("start", "web")
        pid = d.wait_for("web.unit", lambda p: p["Health"] == "healthy")["MainPID"]
        d.stop()
        d.start(keep_running=True)
        assert d.show("web.unit")["MainPID"] == pid  # adopted, not restarted
        sandbox_exec(pid, "rm", "/tmp/www/index.html")
        p = d.wait_for("web.unit", lambda p: p["Health"] == "unhealthy")
        assert p["HealthResult"] == "HTTP status 404" and p["MainPID"] == pid
        d.ctl("stop", "web")
    finally:
        d.stop()


def test_bad_health_settings_are_refused(daemon, layers):
    path = daemon.write_unit("bad.unit", unit_text(layers, "/bin/true") +
                             "[Health]\nTCP=80\nHTTP=99999\nRetries=0\nOnFailure=reboot\n"
                             "IntervalSec=0\n")
    r = daemon.ctl("verify", path, check=False)
    assert r.returncode == 1
    for msg in ("HTTP=99999: expected PORT or PORT/PATH", "Retries=: must be 1 or more",
                "OnFailure=reboot: expected none, restart, stop or kill",
                "IntervalSec=: must be a time span above 0"):
        assert msg in r.stderr, r.stderr
    daemon.write_unit("two.unit", unit_text(layers, "/bin/true") +
                      "[Health]\nTCP=80\nExec=/bin/true\n")
    r = daemon.ctl("verify", daemon.units / "two.unit", check=False)
    assert "give only one of them" in r.stderr
    daemon.write_unit("path.unit", unit_text(layers, "/bin/true") +
                      "[Health]\nHTTP=80/a b\n")
    r = daemon.ctl("verify", daemon.units / "path.unit", check=False)
    assert "printable ASCII without spaces" in r.stderr



def test_a_probe_does_not_outlive_sandboxd(tmp_path, layers, init_reaper):
    """Only sandboxd enforces TimeoutSec=: a probe under way when it dies (SIGKILL: no
    cleanup of its own) goes with it, and the sandbox stays for the next sandboxd."""
    d = Daemon(tmp_path)
    d.start(keep_running=True)
    try:
        d.write_unit("slow.unit", health_unit(layers, "/bin/sleep 2000",
                                              "Exec=/bin/sleep 1003\nTimeoutSec=1h"))
        d.ctl("start", "slow")
        pid = d.show("slow.unit")["MainPID"]
        deadline = time.monotonic() + 20
        while not host_pids_running(["/bin/sleep", "1003"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        d.stop(signal.SIGKILL)
        deadline = time.monotonic() + 20
        while host_pids_running(["/bin/sleep", "1003"]):
            assert time.monotonic() < deadline, "the probe outlived sandboxd"
            time.sleep(0.05)
        assert os.path.exists(f"/proc/{pid}")  # the sandbox itself runs on
        d.start(keep_running=True)
        assert d.show("slow.unit")["MainPID"] == pid
        d.ctl("stop", "slow")
    finally:
        d.stop()
