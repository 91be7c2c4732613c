# SPDX-License-Identifier: GPL-2.0-or-later
"""Type=notify and WatchdogSec=: readiness and keep-alives over $NOTIFY_SOCKET, with a payload
that speaks the protocol by hand (tests/helpers/notify-payload.c)."""

import os
import socket
import subprocess
import time

from conftest import BUILD, Daemon, notify_unit, unit_text


def start_in_background(daemon, unit):
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    return subprocess.Popen([str(BUILD / "src" / "sandboxctl" / "sandboxctl"), "start", unit],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_start_waits_for_ready(daemon, layers, notify_layer):
    daemon.write_unit("n.unit", notify_unit(layers, notify_layer,
                                            "--status 'warming up' --ready-after-ms 700"))
    t0 = time.monotonic()
    daemon.ctl("start", "n")
    p = daemon.show("n.unit")
    assert p["ActiveState"] == "active" and p["Type"] == "notify"
    assert p["StatusText"] == "warming up"
    # the start was answered after READY=1, which the payload sent after its sleep: the
    # payload's own output orders the two, no clock is compared
    out = daemon.payload_output("n.unit")
    assert out[-2] == "sent READY=1" and out[-1].startswith("READY=1 sent at boottime"), out
    assert "Ready (READY=1)." in daemon.log("n.unit")
    log = daemon.output.read_text()
    assert log.index("n.unit: Started, main PID") < log.index("n.unit: Ready (READY=1).")
    assert time.monotonic() - t0 >= 0.7  # a lower bound only: it cannot be faster
    assert 'Status: "warming up"' in daemon.ctl("status", "n").stdout


def test_no_ready_hits_the_start_timeout(daemon, layers, notify_layer):
    daemon.write_unit("n.unit", notify_unit(layers, notify_layer, "--no-ready",
                                            service="Type=notify\nTimeoutStartSec=1s"))
    r = daemon.ctl("start", "n", check=False)
    assert r.returncode != 0
    assert "did not send READY=1 within TimeoutStartSec= (1000 ms)" in r.stderr, r.stderr
    p = daemon.show("n.unit")
    assert (p["ActiveState"], p["Result"]) == ("failed", "timeout")
    assert p["ControlGroup"] == ""  # stopped, nothing left


def test_an_exec_unit_is_ready_at_exec(daemon, layers, notify_layer):
    # Type=exec (the default) never looks at the socket, and gets none
    daemon.write_unit("e.unit", notify_unit(layers, notify_layer, "--no-ready", service=""))
    daemon.ctl("start", "e")
    assert daemon.show("e.unit")["ActiveState"] == "active"
    assert not (daemon.runtime / "sandboxes" / "e.unit" / "notify").exists()


def test_a_message_from_outside_the_sandbox_is_ignored(daemon, layers, notify_layer):
    daemon.write_unit("n.unit", notify_unit(layers, notify_layer, "--no-ready",
                                            service="Type=notify\nTimeoutStartSec=3s"))
    proc = start_in_background(daemon, "n")
    path = daemon.runtime / "sandboxes" / "n.unit" / "notify" / "notify"
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # a host process (this test, root) that finds the socket: READY=1 and a fake status
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1\nSTATUS=forged", str(path))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "did not send READY=1" in err, (out, err)
    p = daemon.show("n.unit")
    assert p["Result"] == "timeout" and p["StatusText"] != "forged"


def test_oversized_messages_are_dropped(daemon, layers, notify_layer):
    daemon.write_unit("n.unit", notify_unit(layers, notify_layer, "--big --no-ready",
                                            service="Type=notify\nTimeoutStartSec=1s"))
    r = daemon.ctl("start", "n", check=False)
    assert r.returncode != 0 and "did not send READY=1" in r.stderr
    assert daemon.payload_output("n.unit")[0].startswith("sent READY=1")


def test_missed_keep_alives_restart_with_result_watchdog(daemon, layers, notify_layer):
    daemon.write_unit("w.unit", notify_unit(
        layers, notify_layer, "--pings 3",
        service="Type=notify\nWatchdogSec=400ms\nRestart=on-watchdog\nRestartSec=100ms"))
    daemon.ctl("start", "w")
    pid = daemon.show("w.unit")["MainPID"]
    p = daemon.wait_for("w.unit", lambda p: p["NRestarts"] != "0" and p["ActiveState"] == "active")
    assert p["MainPID"] != pid
    assert "Watchdog timeout (limit 400 ms)" in daemon.log("w.unit")
    assert "keep-alives stop" in daemon.payload_output("w.unit")
    # without a restart policy it ends failed, Result=watchdog
    daemon.ctl("stop", "w")
    daemon.write_unit("w.unit", notify_unit(layers, notify_layer, "--pings 2",
                                            service="Type=notify\nWatchdogSec=400ms"))
    daemon.ctl("start", "w")
    p = daemon.wait_for("w.unit", lambda p: p["ActiveState"] == "failed")
    assert p["Result"] == "watchdog"


def test_pinging_keeps_it_running(daemon, layers, notify_layer):
    daemon.write_unit("w.unit", notify_unit(layers, notify_layer, "--pings -1",
                                            service="Type=notify\nWatchdogSec=300ms"))
    daemon.ctl("start", "w")
    time.sleep(1.5)  # five watchdog periods: a liveness window, the assertion is the state
    p = daemon.show("w.unit")
    assert (p["ActiveState"], p["NRestarts"]) == ("active", "0")
    assert "WATCHDOG_USEC=300000" not in p.get("Environment", "")  # not a unit setting


def test_notify_survives_a_daemon_restart(tmp_path, layers, notify_layer, init_reaper):
    d = Daemon(tmp_path)
    d.start(keep_running=True)
    try:
        trigger = tmp_path / "trigger"
        trigger.mkdir()
        d.write_unit("n.unit", notify_unit(layers, notify_layer,
                                           "--ready-when /trigger/go --pings -1",
                                           service="Type=notify\nWatchdogSec=1s",
                                           sandbox=f"Volume={trigger}:/trigger"))
        proc = start_in_background(d, "n")
        deadline = time.monotonic() + 20
        while d.ctl("show", "-p", "MainPID", "--value", "n", check=False).stdout.strip() in ("", "0"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pid = d.show("n.unit")["MainPID"]
        assert d.show("n.unit")["ActiveState"] == "activating"
        d.stop()  # kept running, still before READY=1
        proc.wait(timeout=30)
        d.start(keep_running=True)
        assert d.show("n.unit")["ActiveState"] == "activating"
        (trigger / "go").touch()
        # adopted while starting, the READY=1 that comes now is heard on the new socket
        p = d.wait_for("n.unit", lambda p: p["ActiveState"] == "active")
        assert p["MainPID"] == pid
        time.sleep(2.5)  # the keep-alives reach the new sandboxd, or the watchdog fires
        p = d.show("n.unit")
        assert (p["ActiveState"], p["MainPID"], p["Result"]) == ("active", pid, "success"), p
        d.ctl("stop", "n")
    finally:
        d.stop()


def daemon_fd_count(daemon):
    return len(os.listdir(f"/proc/{daemon.proc.pid}/fd"))


def test_a_flood_or_passed_descriptors_cost_the_daemon_nothing(daemon, layers, notify_layer):
    """A hostile payload floods its notify socket and sends descriptors along: sandboxd keeps
    answering, reads the socket's worth, closes every descriptor, and READY=1 still counts."""
    daemon.write_unit("flood.unit", notify_unit(
        layers, notify_layer, "--flood 20000 --pass-fds 500",
        service="Type=notify\nTimeoutStartSec=60s"))
    before = daemon_fd_count(daemon)
    proc = start_in_background(daemon, "flood")
    # while it floods, the daemon answers other callers (a bound for a slow emulated guest)
    deadline = time.monotonic() + 180
    while "flood: " not in "".join(daemon.payload_output("flood.unit")):
        assert daemon.ctl("list").returncode == 0
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    p = daemon.show("flood.unit")
    assert p["ActiveState"] == "active"
    assert p["StatusText"].startswith(("flood ", "with fds")), p["StatusText"]
    assert "pass-fds: 500 of 500 sent" in daemon.payload_output("flood.unit")
    # 8000 descriptors were sent; none stayed with the daemon
    assert daemon_fd_count(daemon) <= before + 8, (before, daemon_fd_count(daemon))


def test_mainpid_is_translated_from_the_sandbox_and_checked(daemon, layers, notify_layer):
    # PID 1 inside is the sandbox's init: MAINPID=1 names it, by its host PID
    daemon.write_unit("m.unit", notify_unit(layers, notify_layer, "--mainpid 1"))
    daemon.ctl("start", "m")
    main = daemon.show("m.unit")["MainPID"]
    with open(f"/proc/{main}/comm") as f:
        assert f.read().strip() == "sandboxd-init"
    assert "(MAINPID=1)" in daemon.log("m.unit")
    # no such process in the sandbox: ignored, the payload stays the main process
    daemon.write_unit("x.unit", notify_unit(layers, notify_layer, "--mainpid 4000000"))
    daemon.ctl("start", "x")
    with open(f"/proc/{daemon.show('x.unit')['MainPID']}/cmdline", "rb") as f:
        assert f.read().startswith(b"/bin/notify-payload")
    assert "Main PID is now" not in daemon.log("x.unit")


def test_a_deep_runtime_directory_still_gets_its_socket(daemon, layers, notify_layer):
    """sun_path holds 108 bytes; a runtime directory deeper than that (a long unit name, a long
    --runtime-dir) must not keep a Type=notify unit from starting."""
    name = "n" * 150 + ".unit"
    daemon.write_unit(name, notify_unit(layers, notify_layer, "--ready-after-ms 100"))
    assert len(str(daemon.runtime / "sandboxes" / name / "notify" / "notify")) > 108
    daemon.ctl("start", name)
    assert daemon.show(name)["ActiveState"] == "active"
    daemon.ctl("stop", name)


def test_mainpid_floods_do_not_stall_the_daemon(daemon, layers, notify_layer):
    """Each MAINPID= looks at every process of the sandbox: a payload with many processes
    sending messages full of MAINPID= lines once stalled sandboxd for seconds per message.
    Now one look per message at most, and two a second."""
    daemon.write_unit("mp.unit", unit_text(
        layers, "/bin/sh -c 'for i in $(seq 150); do sleep 1000 & done; "
                "exec /bin/notify-payload --flood 3000 --flood-line MAINPID=99999'",
        service="Type=notify\nTimeoutStartSec=5min", sandbox=f"Layers={notify_layer}"))
    proc = start_in_background(daemon, "mp")
    deadline = time.monotonic() + 300
    while "flood: " not in "".join(daemon.payload_output("mp.unit")):
        daemon.ctl("list", timeout=30)  # answers within the client's own 25 s, or fails
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.communicate(timeout=300)
    assert daemon.show("mp.unit")["ActiveState"] == "active"
    assert "Main PID is now" not in daemon.log("mp.unit")
