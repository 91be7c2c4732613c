# SPDX-License-Identifier: GPL-2.0-or-later
"""Sandboxes outlive a sandboxd restart (--keep-running, or a crash) and the next sandboxd adopts
them: it supervises, stops and restarts them, and notices exits that happened while it was
away."""

import os
import signal
import time
from pathlib import Path

import pytest

from conftest import SLICE, cgroup_dir, unit_text

SLEEPER = "/bin/sh -c 'exec sleep 1000'"
# exits with 7 once /ctl/quit exists (a volume the test controls)
QUITTER = "/bin/sh -c 'while [ ! -e /ctl/quit ]; do sleep 0.05; done; exit 7'"


def running(pid):
    """True while pid exists and is not a zombie; it may be reaped while we look."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().split(") ")[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while running(pid):
        assert time.monotonic() < deadline, f"{pid} did not exit"
        time.sleep(0.02)


def wait_reaped(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        assert time.monotonic() < deadline, f"{pid} was not reaped"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["sigterm-keep-running", "sigkill"])
def test_sandbox_survives_daemon_restart_and_is_adopted(daemon, layers, init_reaper, how):
    daemon.stop()
    daemon.start(keep_running=True)
    daemon.write_unit("keep.unit", unit_text(layers, SLEEPER, resources="TasksMax=10"))
    daemon.ctl("start", "keep.unit")
    before = daemon.show("keep.unit")
    pid = int(before["MainPID"])

    daemon.stop(signal.SIGTERM if how == "sigterm-keep-running" else signal.SIGKILL)
    assert os.path.exists(f"/proc/{pid}")  # the service did not notice
    assert cgroup_dir("pids", "keep.unit").exists()

    daemon.start()
    after = daemon.show("keep.unit")
    assert after["ActiveState"] == "active"
    assert after["MainPID"] == str(pid)
    assert after["ControlGroup"] == f"/{SLICE}/keep.unit"
    assert after["TasksMax"] == "10"  # the unit file was reloaded
    assert "Adopted by sandboxd" in daemon.log("keep.unit")
    st = daemon.ctl("status", "keep.unit")
    assert "active (running)" in st.stdout

    daemon.ctl("stop", "keep.unit")
    wait_gone(pid)
    p = daemon.show("keep.unit")
    assert p["ActiveState"] == "inactive" and p["Result"] == "success"
    assert not cgroup_dir("pids", "keep.unit").exists()


def wait_reaped(pid, timeout=10):
    """Until pid is gone from /proc: a zombie still has its pidfd and start time, so a
    sandboxd started meanwhile would adopt it (the InitReaper reaps it within ~20 ms)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        assert time.monotonic() < deadline, f"{pid} was not reaped"
        time.sleep(0.02)


def test_exit_while_away_is_reported_and_cleaned_up(daemon, layers, tmp_path, init_reaper):
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    daemon.stop()
    daemon.start(keep_running=True)
    daemon.write_unit("quit.unit", unit_text(layers, QUITTER, sandbox=f"Volume={ctl}:/ctl"))
    daemon.ctl("start", "quit.unit")
    pid = int(daemon.show("quit.unit")["MainPID"])
    init = int(Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1])  # its ppid
    daemon.stop()
    (ctl / "quit").touch()
    # the init too: while it lives, the next sandboxd adopts it and sees the exit itself; a
    # zombie still counts (pidfd_open succeeds on it), so wait until the reaper took it
    wait_gone(pid)
    wait_reaped(init)

    daemon.start()
    p = daemon.wait_for("quit.unit", lambda p: p["ActiveState"] == "failed")
    assert p["Result"] == "exit-code" and p["ExecMainStatus"] == "7"
    assert "ended while sandboxd was away" in daemon.log("quit.unit")
    daemon.wait_for("quit.unit", lambda p: not cgroup_dir("pids", "quit.unit").exists())
    assert not (daemon.runtime / "sandboxes" / "quit.unit").exists()


def test_exit_after_adoption_follows_restart_policy(daemon, layers, tmp_path, init_reaper):
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    daemon.stop()
    daemon.start(keep_running=True)
    daemon.write_unit("again.unit", unit_text(
        layers, QUITTER, sandbox=f"Volume={ctl}:/ctl", service="Restart=on-failure"))
    daemon.ctl("start", "again.unit")
    pid = int(daemon.show("again.unit")["MainPID"])
    daemon.stop()
    daemon.start()
    assert daemon.show("again.unit")["MainPID"] == str(pid)

    (ctl / "quit").touch()  # the adopted payload ends with 7 ...
    daemon.wait_for("again.unit", lambda p: p["NRestarts"] == "1")
    (ctl / "quit").unlink()  # ... and the restarted one keeps running
    p = daemon.wait_for("again.unit", lambda p: p["ActiveState"] == "active")
    assert p["MainPID"] != str(pid)
    assert "Main process exited, status=7" in daemon.log("again.unit")
    daemon.ctl("stop", "again.unit")
