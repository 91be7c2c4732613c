# SPDX-License-Identifier: GPL-2.0-or-later
"""How long sandboxctl waits: queries give up after 25 s (systemctl's default) when sandboxd
is hung, start/stop/restart wait for their job however long it takes, --timeout= bounds any
call, and a daemon that is not there is said to be so. Before, every call waited 15 minutes."""

import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import SANDBOXCTL, Daemon, unit_text

pytestmark = pytest.mark.layout_independent


def popen_ctl(sock, *args):
    env = dict(os.environ, SANDBOXD_SOCKET=str(sock))
    return subprocess.Popen([str(SANDBOXCTL), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(p, timeout):
    t0 = time.monotonic()
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err, time.monotonic() - t0


def test_queries_time_out_jobs_wait(daemon, layers, tmp_path):
    """In parallel, to keep the test short: a stop that takes 28 s (the payload ignores
    SIGTERM; TimeoutStopSec=28s) on the working daemon, and queries to a second, stopped
    (SIGSTOP) daemon."""
    daemon.write_unit("stubborn.unit", unit_text(
        layers, "/bin/sh -c \"trap '' TERM; exec sleep 1000\"",
        service="TimeoutStopSec=28s"))
    daemon.ctl("start", "stubborn.unit")

    (tmp_path / "hung").mkdir()
    hung = Daemon(tmp_path / "hung")
    hung.start()
    os.kill(hung.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        stop = popen_ctl(daemon.socket, "stop", "stubborn.unit")
        query = popen_ctl(hung.socket, "list")
        short = popen_ctl(hung.socket, "--timeout=2s", "status", "x.unit")

        rc, _, err, took = finish(short, 30)
        assert rc == 3 and 1.5 < took < 10, (took, err)  # status unanswered: "not active"
        assert err == f"sandboxctl: sandboxd at {hung.socket} did not answer within 2s\n"

        rc, _, err, took = finish(query, 60)
        took = time.monotonic() - t0
        assert rc == 1 and 24 < took < 40, (took, err)
        assert err == f"sandboxctl: sandboxd at {hung.socket} did not answer within 25s\n"
        assert stop.poll() is None  # the job is still waited for
        # the working daemon answers queries meanwhile
        assert daemon.show("stubborn.unit")["ActiveState"] == "deactivating"

        rc, _, err, took = finish(stop, 60)
        took = time.monotonic() - t0
        assert rc == 0 and took > 27, (took, err)
        p = daemon.show("stubborn.unit")
        assert p["ActiveState"] in ("inactive", "failed") and p["MainPID"] == "0"
    finally:
        os.kill(hung.proc.pid, signal.SIGCONT)
        hung.stop()


def test_daemon_not_running(tmp_path):
    missing = tmp_path / "missing"
    hint = "start it with 'sandboxd &' as root\n"
    r = subprocess.run([str(SANDBOXCTL), "--socket", str(missing), "list"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert r.stderr == f"sandboxctl: sandboxd is not running (no socket at {missing}); " + hint
    dead = tmp_path / "dead"  # a socket nobody listens on any more
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(dead))
    s.close()
    r = subprocess.run([str(SANDBOXCTL), "--socket", str(dead), "start", "x.unit"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert r.stderr == f"sandboxctl: sandboxd is not running (nothing listens on {dead}); " + hint
    # status-like verbs say "not active" (3), as systemctl does; the others fail (1)
    for verb, rc in (("status", 3), ("is-active", 3), ("show", 1), ("stop", 1),
                     ("is-failed", 1), ("cat", 1)):
        r = subprocess.run([str(SANDBOXCTL), "--socket", str(missing), verb, "x.unit"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == rc and r.stdout == "", (verb, r)
        assert r.stderr.count("\n") == 1 and "sandboxd is not running" in r.stderr, (verb, r)


def test_not_root(daemon, tmp_path):
    """A user who is not root is told root is needed, not a bare errno."""
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        str(SANDBOXCTL), "--socket", str(daemon.socket), "list"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    assert r.stderr == (f"sandboxctl: permission denied on {daemon.socket}: sandboxd answers "
                        "root only (run sandboxctl as root)\n"), r


def test_bad_timeout_option():
    r = subprocess.run([str(SANDBOXCTL), "--timeout=soon", "list"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and "--timeout=soon: expected a time span" in r.stderr
