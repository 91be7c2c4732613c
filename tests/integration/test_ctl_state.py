# SPDX-License-Identifier: GPL-2.0-or-later
"""sandboxctl is-active and is-failed, with systemctl's output and exit codes."""

from conftest import unit_text


def test_is_active_and_is_failed(daemon, layers):
    daemon.write_unit("up.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.write_unit("bad.unit", unit_text(layers, "/bin/sh -c 'exit 7'"))
    daemon.ctl("start", "up", "bad")
    daemon.wait_for("bad.unit", lambda p: p["ActiveState"] == "failed")
    r = daemon.ctl("is-active", "up")
    assert (r.returncode, r.stdout) == (0, "active\n")
    r = daemon.ctl("is-active", "bad", "never-loaded", check=False)
    assert (r.returncode, r.stdout) == (3, "failed\ninactive\n")  # 3: not running
    r = daemon.ctl("is-active", "never-loaded", "up", check=False)
    assert (r.returncode, r.stdout) == (0, "inactive\nactive\n")  # any one active
    r = daemon.ctl("is-failed", "up", "bad")
    assert (r.returncode, r.stdout) == (0, "active\nfailed\n")
    r = daemon.ctl("is-failed", "up", check=False)
    assert (r.returncode, r.stdout) == (1, "active\n")
    r = daemon.ctl("is-active", "-q", "bad", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (3, "", "")
    r = daemon.ctl("--quiet", "is-failed", "bad")
    assert (r.returncode, r.stdout) == (0, "")


def test_is_active_without_sandboxd_is_not_active(daemon, layers):
    """systemctl's: 3 (and one line on stderr, nothing on stdout) when nobody can answer."""
    daemon.stop()
    r = daemon.ctl("is-active", "up", check=False)
    assert r.returncode == 3 and r.stdout == "" and "sandboxd is not running" in r.stderr, r


def test_cat_prints_the_unit_file(daemon, layers):
    text = unit_text(layers, "/bin/sleep 1000") + "# a comment with \x1b[31m in it\n"
    path = daemon.write_unit("web.unit", text)
    r = daemon.ctl("cat", "web")  # not loaded yet: found in the unit path, as a start would
    escaped = text.replace("\x1b", "\\x1b")
    assert r.stdout == f"# {path}\n{escaped}", r.stdout
    assert daemon.ctl("cat", "--raw", "web.unit").stdout == f"# {path}\n{text}"
    daemon.write_unit("db.unit", unit_text(layers, "/bin/true"))
    r = daemon.ctl("cat", "web", "db")
    assert r.stdout.startswith(f"# {path}\n") and f"\n\n# {daemon.units / 'db.unit'}\n" in r.stdout
    r = daemon.ctl("cat", "nosuch", check=False)
    assert r.returncode != 0 and "nosuch" in r.stderr
    # names only: sandboxd reads as root and is nobody's file reader
    r = daemon.ctl("cat", "/etc/shadow", check=False)
    assert r.returncode != 0 and "cat takes unit names, not paths" in r.stderr
    assert "root:" not in r.stdout


def test_kill_the_main_process_or_all(daemon, layers):
    daemon.write_unit("t.unit", unit_text(
        layers, "/bin/sh -c 'trap \"echo got-usr1\" USR1; echo ready; "
                "while :; do sleep 0.1; done'"))
    daemon.ctl("start", "t")
    daemon.wait_for("t.unit", lambda p: "ready" in daemon.payload_output("t.unit"))
    daemon.ctl("kill", "-s", "SIGUSR1", "--kill-whom=main", "t")
    daemon.wait_for("t.unit", lambda p: "got-usr1" in daemon.payload_output("t.unit"))
    assert daemon.show("t.unit")["ActiveState"] == "active"
    assert "Sent SIGUSR1 to the main process." in daemon.log("t.unit")
    daemon.ctl("kill", "--signal=9", "t")  # every process, the init too
    p = daemon.wait_for("t.unit", lambda p: p["ActiveState"] in ("failed", "inactive"))
    assert p["Result"] == "signal", p
    r = daemon.ctl("kill", "t", check=False)
    assert r.returncode != 0 and "does not run" in r.stderr
    r = daemon.ctl("kill", "--kill-whom=children", "t", check=False)
    assert r.returncode != 0 and "expected main or all" in r.stderr
    r = daemon.ctl("kill", "--signal=SIGNOPE", "t", check=False)
    assert r.returncode != 0 and "expected a signal name" in r.stderr


def test_try_restart_and_reload_or_restart(daemon, layers):
    daemon.write_unit("up.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.write_unit("down.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("start", "up")
    pid = daemon.show("up.unit")["MainPID"]
    daemon.ctl("try-restart", "up", "down", "never-loaded")
    assert daemon.show("up.unit")["MainPID"] != pid  # it ran: restarted
    assert daemon.show("up.unit")["ActiveState"] == "active"
    r = daemon.ctl("is-active", "down", check=False)
    assert r.stdout == "inactive\n"  # it did not run: left alone, not started
    daemon.ctl("reload-or-restart", "down")  # no reload here: a restart, which starts it
    assert daemon.show("down.unit")["ActiveState"] == "active"


def test_status_before_the_first_start(daemon, layers):
    """A unit of the unit path is known by name to every verb, before any start."""
    path = daemon.write_unit("web.unit", unit_text(layers, "/bin/sleep 1000"))
    r = daemon.ctl("status", "web", check=False)
    assert r.returncode == 3, r  # not active
    assert f"Loaded: loaded ({path}; disabled)" in r.stdout, r.stdout
    assert "Active: inactive (dead)" in r.stdout, r.stdout
    assert daemon.ctl("show", "web", "-p", "ActiveState", "--value").stdout == "inactive\n"
    assert daemon.ctl("is-active", "web", check=False).stdout == "inactive\n"
    # a name that is nowhere: 4, as systemctl's "could not be found"
    r = daemon.ctl("status", "nosuch", check=False)
    assert r.returncode == 4 and "nosuch" in r.stderr, r
    # a broken file says where it is broken, and nothing is loaded
    daemon.write_unit("broken.unit", "[Service]\nExecStart=/bin/true\nRestart=sometimes\n")
    r = daemon.ctl("status", "broken", check=False)
    assert r.returncode != 0 and "broken.unit:3" in r.stderr and "Restart" in r.stderr, r
    names = [ln.split()[0] for ln in daemon.ctl("list", "--no-legend").stdout.splitlines()]
    assert names == ["web.unit"], names


def test_list_unit_files(daemon, layers):
    daemon.write_unit("b.unit", unit_text(layers, "/bin/true"))
    daemon.write_unit("a.unit", unit_text(layers, "/bin/true"))
    (daemon.units / "notes.txt").write_text("not a unit")
    (daemon.units / "dangling.unit").symlink_to(daemon.units / "gone.unit")
    other = daemon.tmp / "elsewhere"
    other.mkdir()
    (other / "c.unit").write_text(unit_text(layers, "/bin/true"))
    daemon.ctl("enable", "a", str(other / "c.unit"))
    r = daemon.ctl("list-unit-files")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["UNIT", "FILE", "STATE", "PATH"], lines
    rows = [ln.split() for ln in lines[1:] if ln.strip()][:-1]
    assert rows == [["a.unit", "enabled", str(daemon.units / "a.unit")],
                    ["b.unit", "disabled", str(daemon.units / "b.unit")],
                    ["c.unit", "enabled", str(other / "c.unit")]], r.stdout
    assert lines[-1] == "3 unit files listed.", lines
    r = daemon.ctl("list-unit-files", "--no-legend")
    assert [ln.split()[0] for ln in r.stdout.splitlines()] == ["a.unit", "b.unit", "c.unit"]


def test_daemon_reload_and_changed_on_disk(daemon, layers):
    path = daemon.write_unit("t.unit", unit_text(layers, "/bin/sleep 1000"))
    idle = daemon.write_unit("idle.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("start", "t")
    daemon.ctl("status", "idle", check=False)  # loaded, not started
    assert daemon.show("t.unit")["NeedDaemonReload"] == "no"
    warning = "Warning: the unit file of t.unit changed on disk. Run 'sandboxctl daemon-reload'"
    assert warning not in daemon.ctl("status", "t").stdout
    path.write_text(unit_text(layers, "/bin/sleep 2000"))
    idle.write_text(unit_text(layers, "/bin/sleep 3000"))
    assert daemon.show("t.unit")["NeedDaemonReload"] == "yes"
    assert warning in daemon.ctl("status", "t").stdout
    daemon.ctl("daemon-reload")
    p = daemon.show("t.unit")
    # the running one keeps what it started with, and says a restart applies the new file
    assert p["NeedDaemonReload"] == "no" and p["ExecStart"] == "/bin/sleep 1000", p
    assert p["ReloadedConfigPending"] == "yes"
    st = daemon.ctl("status", "t").stdout
    assert warning not in st and "a restart applies the reloaded unit file" in st, st
    assert daemon.show("idle.unit")["ExecStart"] == "/bin/sleep 3000"  # at rest: new at once
    daemon.ctl("restart", "t")
    p = daemon.show("t.unit")
    assert p["ExecStart"] == "/bin/sleep 2000" and p["ReloadedConfigPending"] == "no", p
    # a file broken meanwhile is named with its error; the unit stays as it was
    idle.write_text("[Service]\nExecStart=/bin/true\nTasksMax=lots\n")
    r = daemon.ctl("daemon-reload", check=False)
    assert r.returncode == 1 and "idle.unit:3" in r.stderr, r
    assert daemon.show("idle.unit")["ExecStart"] == "/bin/sleep 3000"
    assert daemon.show("t.unit")["ActiveState"] == "active"


def test_status_colours(daemon, layers):
    daemon.write_unit("bad.unit", unit_text(layers, "/bin/sh -c 'exit 3'"))
    daemon.ctl("start", "bad", check=False)
    daemon.wait_for("bad.unit", lambda p: p["ActiveState"] == "failed")
    plain = daemon.ctl("status", "bad", check=False).stdout  # a pipe: no colours
    assert "\x1b" not in plain and "Active: failed (Result: exit-code)" in plain, plain
    r = daemon.ctl("status", "bad", check=False, env={"SYSTEMD_COLORS": "1"})
    assert "\x1b[0;1;31mfailed\x1b[0m (Result: exit-code)" in r.stdout, r.stdout
    r = daemon.ctl("status", "bad", check=False, env={"SYSTEMD_COLORS": "1", "NO_COLOR": "1"})
    assert "\x1b" not in r.stdout


def test_show_every_setting_in_systemd_formats(daemon, layers):
    daemon.write_unit("s.unit", unit_text(
        layers, "/bin/sh -c 'sleep 1000'",
        sandbox="Environment=A=1 \"B=two words\"\nUser=nobody\nHostname=box\n"
                f"Volume={daemon.tmp}:/data:ro\nReadOnly=yes",
        service="RestartSec=1min 30s\nTimeoutStopSec=2.5s\nKillSignal=SIGINT\nRestart=on-failure",
        unit="StartLimitBurst=7\nDocumentation=man:x(1)",
        resources="CPUQuota=50%"))
    p = daemon.show("s")  # not started: the file's settings, known by name
    expect = {"RestartUSec": "1min 30s", "TimeoutStopUSec": "2s 500ms", "KillSignal": "2",
              "Environment": 'A=1 "B=two words"', "User": "nobody", "Hostname": "box",
              "Volumes": f"{daemon.tmp}:/data:ro", "ReadOnly": "yes", "Restart": "on-failure",
              "StartLimitBurst": "7", "TimeoutStartUSec": "1min 30s",
              "Documentation": "man:x(1)", "CPUQuotaPerSecUSec": "500ms",
              "ExecStart": "/bin/sh -c \"sleep 1000\"", "MemoryMax": "infinity",
              "Namespaces": "pid mount uts ipc net cgroup", "WatchdogUSec": "0",
              "StateChangeTimestampUSec": p["StateChangeTimestampUSec"]}
    assert {k: p.get(k) for k in expect} == expect, p
    assert p["Layers"].split() == [str(layers["base"]), str(layers["top"])]
    # without --all, empty values are left out, as systemctl does; -p names them anyway
    plain = daemon.ctl("show", "s").stdout.splitlines()
    assert "Group=" not in plain and "KillSignal=2" in plain, plain
    assert daemon.ctl("show", "s", "-p", "Group").stdout == "Group=\n"
    # in the order of the properties, as systemctl, not of -p
    assert daemon.ctl("show", "s", "-p", "User,KillSignal", "--value").stdout == "2\nnobody\n"
    assert "Group=" in daemon.ctl("show", "s", "--all").stdout.splitlines()
