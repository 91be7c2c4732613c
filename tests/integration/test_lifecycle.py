# SPDX-License-Identifier: GPL-2.0-or-later
"""Supervision and the CLI: start/stop/status/show/list, Restart= with the start limit,
TimeoutStopSec= for a payload that ignores SIGTERM, start failures reported by step."""

import os
import time

from conftest import SLICE, cgroup_dir, unit_text

SLEEPER = "/bin/sh -c 'exec sleep 1000'"


def test_start_by_name_status_show_list(daemon, layers):
    daemon.write_unit("web.unit", unit_text(layers, SLEEPER, resources="TasksMax=30"))
    daemon.ctl("start", "web")  # ".unit" is implied, found in the unit path
    st = daemon.ctl("status", "web.unit")
    assert st.returncode == 0
    assert "web.unit - test sandbox" in st.stdout
    assert "Active: active (running)" in st.stdout
    assert f"CGroup: /{SLICE}/web.unit" in st.stdout
    assert "Tasks: 2 (limit: 30)" in st.stdout
    assert "Started, main PID" in st.stdout  # the log tail

    keys = "Id ActiveState SubState Result MainPID NRestarts ExecMainStatus ControlGroup " \
           "MemoryCurrent CPUUsageNSec TasksCurrent".split()
    props = daemon.show("web.unit")
    for k in keys:
        assert k in props, k
    assert props["SubState"] == "running"
    assert props["Result"] == "success"
    assert int(props["CPUUsageNSec"]) > 0
    only = daemon.ctl("show", "web.unit", "-p", "ActiveState,MainPID").stdout.splitlines()
    assert [l.split("=")[0] for l in only] == ["ActiveState", "MainPID"]
    assert daemon.ctl("show", "web.unit", "-p", "Id", "--value").stdout == "web.unit\n"

    lst = daemon.ctl("list").stdout
    assert "web.unit" in lst and "running" in lst and "1 unit listed." in lst

    daemon.ctl("stop", "web.unit")
    st = daemon.ctl("status", "web.unit", check=False)
    assert st.returncode == 3
    assert "inactive (dead)" in st.stdout
    assert daemon.ctl("status", "nope.unit", check=False).returncode == 4


def test_start_by_path_and_restart(daemon, layers, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "p.unit").write_text(unit_text(layers, SLEEPER))
    r = daemon.ctl("start", elsewhere / "p.unit")
    assert r.returncode == 0
    pid1 = int(daemon.show("p.unit")["MainPID"])
    daemon.ctl("restart", "p.unit")
    pid2 = int(daemon.show("p.unit")["MainPID"])
    assert pid1 != pid2 and pid2 > 0
    assert not os.path.exists(f"/proc/{pid1}")
    daemon.ctl("stop", "p.unit")


def test_restart_on_failure_until_start_limit(daemon, layers):
    daemon.write_unit("crash.unit", unit_text(
        layers, "/bin/sh -c 'exit 3'", service="Restart=on-failure\nRestartSec=50ms"))
    r = daemon.ctl("start", "crash.unit", check=False)
    assert r.returncode == 0  # the first start did start the payload
    p = daemon.wait_for("crash.unit", lambda p: p["ActiveState"] == "failed")
    assert p["Result"] == "start-limit-hit"
    assert int(p["NRestarts"]) >= 4
    assert p["ExecMainStatus"] == "3"
    log = daemon.log("crash.unit")
    assert log.count("Main process exited, status=3") == 5  # StartLimitBurst=5 in 10 s
    assert "Start request repeated too quickly" in log
    # refused until reset
    r = daemon.ctl("start", "crash.unit", check=False)
    assert r.returncode != 0 and "start limit hit" in r.stderr
    daemon.ctl("reset-failed", "crash.unit")
    assert daemon.show("crash.unit")["ActiveState"] == "inactive"
    assert not cgroup_dir("memory", "crash.unit").exists()


def test_restart_no_stays_down(daemon, layers):
    daemon.write_unit("once.unit", unit_text(layers, "/bin/sh -c 'exit 3'",
                                             service="Restart=no"))
    daemon.ctl("start", "once.unit")
    p = daemon.wait_for("once.unit", lambda p: p["ActiveState"] == "failed")
    assert p["Result"] == "exit-code" and p["ExecMainStatus"] == "3"
    time.sleep(0.5)  # a restart would have happened by now (RestartSec=100ms)
    p = daemon.show("once.unit")
    assert p["ActiveState"] == "failed" and p["NRestarts"] == "0"
    assert daemon.log("once.unit").count("Main process exited") == 1


def test_clean_exit_is_success(daemon, layers):
    daemon.write_unit("ok.unit", unit_text(layers, "/bin/true"))
    daemon.ctl("start", "ok.unit")
    p = daemon.wait_for("ok.unit", lambda p: p["ActiveState"] == "inactive")
    assert p["Result"] == "success" and p["ExecMainStatus"] == "0"


def test_stop_times_out_then_kills_the_cgroup(daemon, layers):
    stubborn = "/bin/sh -c 'trap \"echo ignoring TERM\" TERM; sleep 1000 & while :; do " \
               "wait; done'"
    daemon.write_unit("stubborn.unit", unit_text(layers, stubborn,
                                                 service="TimeoutStopSec=1s"))
    daemon.ctl("start", "stubborn.unit")
    pid = int(daemon.show("stubborn.unit")["MainPID"])
    procs_file = cgroup_dir("pids", "stubborn.unit") / "cgroup.procs"
    assert len(procs_file.read_text().split()) == 3  # init, shell, sleep
    t0 = time.monotonic()
    daemon.ctl("stop", "stubborn.unit")
    elapsed = time.monotonic() - t0
    assert elapsed >= 1.0  # it waited TimeoutStopSec= before killing
    p = daemon.show("stubborn.unit")
    assert p["ActiveState"] == "inactive" and p["Result"] == "timeout"
    assert "ignoring TERM" in daemon.log("stubborn.unit")
    assert not os.path.exists(f"/proc/{pid}")
    for ctrl in ("memory", "pids"):
        assert not cgroup_dir(ctrl, "stubborn.unit").exists()


def test_kill_signal_is_forwarded(daemon, layers):
    daemon.write_unit("sig.unit", unit_text(
        layers,
        "/bin/sh -c 'trap \"echo got INT; exit 0\" INT; echo trapped; sleep 1000 & wait'",
        service="KillSignal=SIGINT"))
    daemon.ctl("start", "sig.unit")
    # start returns at the shell's exec, before it has set its trap
    daemon.wait_for("sig.unit", lambda p: "trapped" in daemon.log("sig.unit"))
    daemon.ctl("stop", "sig.unit")
    assert "got INT" in daemon.log("sig.unit")
    assert daemon.show("sig.unit")["Result"] == "success"


def test_exec_failure_is_reported_with_its_step(daemon, layers):
    daemon.write_unit("noexec.unit", unit_text(layers, "/bin/does-not-exist"))
    r = daemon.ctl("start", "noexec.unit", check=False)
    assert r.returncode != 0
    assert "executing /bin/does-not-exist (step exec): No such file or directory" in r.stderr
    p = daemon.show("noexec.unit")
    assert p["ActiveState"] == "failed" and p["Result"] == "resources"
    assert not cgroup_dir("memory", "noexec.unit").exists()
    assert not (daemon.runtime / "sandboxes" / "noexec.unit").exists()


def test_missing_layer_fails_before_anything_exists(daemon, layers, tmp_path):
    daemon.write_unit("nolayer.unit", unit_text({"base": tmp_path / "nope", "top": layers["top"]},
                                                SLEEPER))
    r = daemon.ctl("start", "nolayer.unit", check=False)
    assert r.returncode != 0
    assert f"Layers={tmp_path / 'nope'}: No such file or directory" in r.stderr
    assert not cgroup_dir("memory", "nolayer.unit").exists()


def test_unknown_user_is_reported(daemon, layers):
    daemon.write_unit("nouser.unit", unit_text(layers, SLEEPER, sandbox="User=ghost"))
    r = daemon.ctl("start", "nouser.unit", check=False)
    assert r.returncode != 0
    # what was looked up where, and no stray errno text ("No such process") after it
    assert r.stderr.endswith("User=ghost: no such user in the sandbox's /etc/passwd "
                             "(step user)\n"), r.stderr
    assert not cgroup_dir("memory", "nouser.unit").exists()


def test_daemon_shutdown_stops_sandboxes(daemon, layers):
    daemon.write_unit("a.unit", unit_text(layers, SLEEPER))
    daemon.ctl("start", "a.unit")
    pid = int(daemon.show("a.unit")["MainPID"])
    daemon.stop()
    assert not os.path.exists(f"/proc/{pid}")
    assert not cgroup_dir("memory", "a.unit").exists()
    assert not cgroup_dir("memory", "a.unit").parent.exists()  # empty slice removed too


def test_without_pid_namespace_stop_kills_every_process(daemon, layers):
    """With no PID namespace the init is not PID 1 and orphans do not die with it: the stop
    must still leave no process behind (SIGKILL to the cgroup)."""
    daemon.write_unit("nopidns.unit", unit_text(
        layers, "/bin/sh -c 'setsid sleep 1000 & sleep 1000 & echo forked; exec sleep 1000'",
        sandbox="Namespaces=mount uts"))
    daemon.ctl("start", "nopidns.unit")
    daemon.wait_for("nopidns.unit", lambda p: "forked" in daemon.log("nopidns.unit"))
    pid = int(daemon.show("nopidns.unit")["MainPID"])
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
    procs = (cgroup_dir("pids", "nopidns.unit") / "cgroup.procs").read_text().split()
    assert len(procs) == 4  # init, payload, two sleeps
    daemon.ctl("stop", "nopidns.unit")
    for p in procs:
        assert not os.path.exists(f"/proc/{p}"), p
    assert not cgroup_dir("pids", "nopidns.unit").exists()
