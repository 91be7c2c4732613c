# SPDX-License-Identifier: GPL-2.0-or-later
"""Files the daemon and sandboxctl read are opened without blocking and must be regular: a FIFO
given as a unit file once froze the whole daemon (a blocking open() in its event loop), and
`verify` hung on it too."""

import os
import subprocess

import pytest

from conftest import SANDBOXCTL, Daemon, unit_text

pytestmark = pytest.mark.layout_independent

NOT_REGULAR = "not a regular file (a FIFO, socket or device cannot be a unit file)"


def special_unit(units, kind):
    path = units / f"{kind}.unit"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "big":
        path.write_text("# padding\n" * 200000)  # 2 MB
    return path


EXPECTED = {
    "fifo": NOT_REGULAR,
    "zero": NOT_REGULAR,
    "dir": "is a directory, not a unit file",
    "big": "larger than 1024 KiB, not a unit file",
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_verify_refuses_without_hanging(tmp_path, kind):
    path = special_unit(tmp_path, kind)
    r = subprocess.run([str(SANDBOXCTL), "verify", str(path)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1
    assert r.stderr.strip() == f"{path}: {EXPECTED[kind]}"


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_start_refuses_and_daemon_still_answers(daemon, layers, kind):
    path = special_unit(daemon.units, kind)
    # by path (sandboxctl resolves symlinks) and by name from the unit path
    for arg, named in ((path, os.path.realpath(path)), (f"{kind}.unit", path)):
        r = daemon.ctl("start", arg, check=False, timeout=10)
        assert r.returncode == 1
        assert r.stderr.strip() == f"{named}: {EXPECTED[kind]}"
    # the loop is free: a query and a real start still work
    daemon.write_unit("ok.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("start", "ok.unit", timeout=10)
    assert daemon.show("ok.unit")["ActiveState"] == "active"
    assert f"{kind}.unit" not in daemon.ctl("list", timeout=10).stdout
    daemon.ctl("stop", "ok.unit", timeout=30)


def test_fifo_state_file_does_not_block_startup(tmp_path):
    """A state file left as a FIFO in the runtime directory (nothing sandboxd wrote) is skipped
    at start-up instead of blocking the daemon before it listens."""
    d = Daemon(tmp_path)
    state_dir = d.runtime / "sandboxes" / "ghost.unit"
    state_dir.mkdir(parents=True)
    os.mkfifo(state_dir / "state")
    d.start()
    try:
        r = d.ctl("list", timeout=10)
        assert "0 units listed." in r.stdout
    finally:
        d.stop()
