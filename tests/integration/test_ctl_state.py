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


def test_is_active_without_sandboxd_is_an_error_not_an_answer(daemon, layers):
    daemon.stop()
    r = daemon.ctl("is-active", "up", check=False)
    assert r.returncode == 1 and r.stdout == "" and r.stderr, r


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
