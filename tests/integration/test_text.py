# SPDX-License-Identifier: GPL-2.0-or-later
"""Text that is not UTF-8 never breaks the bus: unit files must be UTF-8 (refused at load,
naming file, line and key), every string the daemon sends is valid UTF-8, and the log goes as
bytes. Before, a non-UTF-8 Description= made `list` and `status` fail for every unit, and a
payload could hide its whole log by printing one such byte."""

import os
import subprocess
import time

import pytest

from conftest import SANDBOXCTL, unit_text

pytestmark = pytest.mark.layout_independent


def ctl_bytes(daemon, *args):
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    return subprocess.run([str(SANDBOXCTL), *map(str, args)], capture_output=True, env=env,
                          timeout=30)


def test_non_utf8_description_refused_at_load(daemon, layers):
    daemon.write_unit("good.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("start", "good.unit")
    bad = daemon.units / "bad.unit"
    bad.write_bytes(unit_text(layers, "/bin/sleep 1000").replace(
        "Description=test sandbox", "Description=caf\xe9").encode("latin-1"))
    r = daemon.ctl("start", "bad.unit", check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == \
        f"{bad}:2: Description=: not valid UTF-8; unit files are UTF-8 text"
    r = subprocess.run([str(SANDBOXCTL), "verify", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and "bad.unit:2: Description=: not valid UTF-8" in r.stderr
    # every other unit still lists and shows
    assert "good.unit" in daemon.ctl("list").stdout
    assert daemon.ctl("status", "good.unit").returncode == 0
    daemon.ctl("stop", "good.unit")


def test_non_utf8_unit_path_is_escaped(daemon, layers):
    """A unit directory whose name is not UTF-8 (an admin's choice) reaches FragmentPath and
    error messages: they are escaped, so show, list and a refused start still answer."""
    weird = daemon.tmp / b"units-\xff".decode("utf-8", "surrogateescape")
    weird.mkdir()
    (weird / "w.unit").write_text(unit_text(layers, "/bin/sleep 1000"))
    (weird / "broken.unit").write_text(unit_text(layers, "/bin/sleep 1000") + "Bogus=1\n")
    daemon.stop()
    daemon.start(args=("--unit-path", weird))
    daemon.ctl("start", "w")
    r = ctl_bytes(daemon, "show", "w.unit", "-p", "FragmentPath", "--value")
    assert r.returncode == 0
    assert r.stdout.decode() == f"{daemon.tmp}/units-\ufffd/w.unit\n"
    assert b"w.unit" in ctl_bytes(daemon, "list").stdout
    assert ctl_bytes(daemon, "status", "w.unit").returncode == 0
    r = ctl_bytes(daemon, "start", "broken")  # the error reply carries the path
    assert r.returncode == 1
    assert r.stderr.decode() == \
        f"{daemon.tmp}/units-\ufffd/broken.unit:12: Bogus=1: unknown key in section " \
        "[Service]\n"
    daemon.ctl("stop", "w.unit")


def test_log_is_bytes(daemon, layers):
    daemon.write_unit("noisy.unit", unit_text(
        layers, "/bin/sh -c \"printf 'before\\\\n\\\\377\\\\376\\\\300 binary\\\\n'; "
                "echo after; exec sleep 1000\""))
    daemon.ctl("start", "noisy.unit")
    for _ in range(200):
        r = ctl_bytes(daemon, "logs", "noisy.unit", "-n", "0", "--raw")
        if b"after" in r.stdout:
            break
        time.sleep(0.05)
    assert r.returncode == 0, r.stderr
    # the payload's lines, each behind the init's "DATE TIME sh[PID]: " prefix, bytes intact
    payload = [l.split(b": ", 1)[1] for l in r.stdout.splitlines() if b" sh[" in l]
    assert payload == [b"before", b"\xff\xfe\xc0 binary", b"after"], r.stdout
    # exactly the file's bytes: nothing lost or rewritten on the way
    assert r.stdout == (daemon.logs / "noisy.unit.log").read_bytes()
    r = ctl_bytes(daemon, "logs", "noisy.unit", "-n", "2", "--raw")
    assert r.stdout == b"".join(
        (daemon.logs / "noisy.unit.log").read_bytes().splitlines(keepends=True)[-2:])
    r = ctl_bytes(daemon, "status", "noisy.unit", "-n", "5", "--raw")
    assert r.returncode == 0 and b"\xff\xfe\xc0 binary\n" in r.stdout
    # without --raw the bytes that are not UTF-8 are shown escaped (test_ctl_escape.py)
    # (the last lines: sandboxd's "Started" may land before or after the payload's lines)
    r = ctl_bytes(daemon, "logs", "noisy.unit", "-n", "3")
    assert r.returncode == 0 and b"sh[" in r.stdout
    assert any(l.endswith(b": \\xff\\xfe\\xc0 binary") for l in r.stdout.split(b"\n")), \
        r.stdout
    daemon.ctl("stop", "noisy.unit")
