# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon refuses bus clients that live inside a sandbox (escape 8 of issue 7): a root
payload on RootDirectory=/ that reached the socket called StartUnit for a unit with
RootDirectory=/ and CAP_SYS_ADMIN, and got a writable host root. Checked from the host: the
unit it asked for never started, and the daemon logged the refusal with the client's pid."""

import os
import re
import subprocess
import time

import pytest

from conftest import SANDBOXCTL, cgroup_dir, unit_text

REFUSAL = re.compile(r"Refusing a bus connection from PID (\d+): (.*)")


def refusals(daemon):
    return REFUSAL.findall(daemon.output.read_text())


@pytest.mark.parametrize("namespaces", ["pid mount uts ipc net", "mount uts ipc net"],
                         ids=["own-pid-ns", "host-pid-ns"])
def test_payload_cannot_start_units(daemon, layers, namespaces):
    """The socket itself is handed in with a Volume= (the runtime directory is hidden in every
    sandbox, a volume of it too; a file strictly inside it is not), so the test does not
    depend on the hiding; it goes over a file the read-only host root already has. Without a
    pid namespace the cgroup check alone holds."""
    daemon.write_unit("victim.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.write_unit("attacker.unit", (
        "[Sandbox]\nRootDirectory=/\nReadOnly=yes\n"
        f"Namespaces={namespaces}\nVolume={daemon.socket}:/etc/debian_version\n"
        "[Service]\n"
        f"ExecStart=/bin/sh -c '{SANDBOXCTL} --socket /etc/debian_version start victim.unit; "
        "echo attacker-rc=$?; exec sleep 1000'\n"))
    daemon.ctl("start", "attacker.unit")
    deadline = time.monotonic() + 30
    while "attacker-rc=" not in daemon.log("attacker.unit"):
        assert time.monotonic() < deadline, daemon.log("attacker.unit")
        time.sleep(0.05)
    assert "attacker-rc=1" in daemon.log("attacker.unit")
    assert "closed the connection" in daemon.log("attacker.unit")
    # the host's view: victim.unit never ran
    r = daemon.ctl("status", "victim.unit", check=False)  # known by name; never started
    assert r.returncode == 3 and "Active: inactive (dead)" in r.stdout, r
    assert not cgroup_dir("pids", "victim.unit").exists()
    found = refusals(daemon)
    assert len(found) == 1, daemon.output.read_text()
    reason = found[0][1]
    if namespaces.startswith("pid"):
        assert "another PID namespace" in reason
    else:
        assert "runs inside a sandbox (cgroup /" in reason and "/attacker.unit" in reason
    # the daemon itself is fine and still serves the host
    assert daemon.show("attacker.unit")["ActiveState"] == "active"
    daemon.ctl("stop", "attacker.unit")


def test_host_client_in_slice_cgroup_refused(daemon):
    """A process in the host's pid namespace, but in a cgroup under the slice, is refused;
    the same client outside it is served."""
    intruder = cgroup_dir("pids", "intruder.scope")
    intruder.mkdir()
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    try:
        p = subprocess.Popen(
            [str(SANDBOXCTL), "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
            preexec_fn=lambda: (intruder / "cgroup.procs").write_text("0"))
        out, err = p.communicate(timeout=30)
        assert p.returncode == 1, out
        assert err == f"sandboxctl: sandboxd at {daemon.socket} closed the connection (it " \
                      "refuses clients that run inside a sandbox, and logs why)\n"
        assert refusals(daemon) == [
            (str(p.pid), f"it runs inside a sandbox (cgroup {intruder_path(intruder)}).")]
    finally:
        for _ in range(100):
            try:
                intruder.rmdir()
                break
            except OSError:
                time.sleep(0.05)
    r = daemon.ctl("list")
    assert "0 units listed." in r.stdout
    assert len(refusals(daemon)) == 1


def intruder_path(d):
    """The group's path as /proc/PID/cgroup shows it."""
    parts = d.parts
    i = parts.index(os.environ.get("SANDBOXD_TEST_SLICE", "sandbox.slice"))
    return "/" + "/".join(parts[i:])
