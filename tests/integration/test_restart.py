# SPDX-License-Identifier: GPL-2.0-or-later
"""`restart` loads and checks the unit file before it stops anything, as systemd does: a typo
(or a deleted file) once stopped the service and then failed to start it again."""

import os

import pytest

from conftest import cgroup_dir, unit_text


def started(daemon, layers, name, **kw):
    daemon.write_unit(name, unit_text(layers, "/bin/sleep 1000", **kw))
    daemon.ctl("start", name)
    return daemon.show(name)["MainPID"]


@pytest.mark.parametrize("how", ["broken", "deleted"])
def test_restart_with_bad_file_keeps_instance(daemon, layers, how):
    pid = started(daemon, layers, "svc.unit")
    path = daemon.units / "svc.unit"
    if how == "broken":
        path.write_text(unit_text(layers, "/bin/sleep 1000", resources="MemoryMax=12X"))
    else:
        path.unlink()
    r = daemon.ctl("restart", "svc.unit", check=False)
    if how == "broken":
        assert r.returncode == 1
        assert r.stderr.strip() == f"{path}:8: MemoryMax=12X: expected a size above 0 like " \
                                   "64M, 1.5G, or infinity"
    else:
        assert r.returncode == 4
        assert "unit svc.unit not found" in r.stderr
    p = daemon.show("svc.unit")
    assert p["ActiveState"] == "active" and p["MainPID"] == pid
    assert os.path.exists(f"/proc/{pid}")
    assert str(pid) in (cgroup_dir("pids", "svc.unit") / "cgroup.procs").read_text().split()
    assert "Stopping" not in daemon.log("svc.unit")
    if how == "deleted":
        path.write_text(unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("stop", "svc.unit")


def test_restart_applies_new_file(daemon, layers):
    pid = started(daemon, layers, "svc.unit", resources="TasksMax=10")
    daemon.write_unit("svc.unit", unit_text(layers, "/bin/sleep 1000", resources="TasksMax=7"))
    daemon.ctl("restart", "svc.unit")
    p = daemon.show("svc.unit")
    assert p["ActiveState"] == "active" and p["MainPID"] != pid and p["TasksMax"] == "7"
    assert (cgroup_dir("pids", "svc.unit") / "pids.max").read_text().strip() == "7"
    assert not os.path.exists(f"/proc/{pid}")
    # one stop, then one start once the sandbox was down
    log = daemon.log("svc.unit")
    assert log.count("Stopping") == 1 and log.count("Started") == 2
    daemon.ctl("stop", "svc.unit")


def test_restart_of_stopped_or_unknown_unit_starts_it(daemon, layers):
    daemon.write_unit("new.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("restart", "new.unit")  # never loaded
    assert daemon.show("new.unit")["ActiveState"] == "active"
    daemon.ctl("stop", "new.unit")
    daemon.ctl("restart", "new.unit")  # loaded, inactive
    assert daemon.show("new.unit")["ActiveState"] == "active"
    daemon.ctl("stop", "new.unit")
