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
