# SPDX-License-Identifier: GPL-2.0-or-later
"""Regressions for what a red-team run found after the hardening of issue 7: a volume source
swapped for a symlink between two starts, root-only host sockets reachable from a sandbox on
the host's own root, the init's generated files writable under ReadOnly=yes, volumes without
nosuid/nodev, and a payload that sets the init's RLIMIT_FSIZE to hide its output."""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import BUILD, unit_text

INIT_LIMITS = BUILD / "tests" / "helpers" / "init-limits"


def test_volume_source_swapped_for_a_symlink_is_refused(daemon, layers, tmp_path):
    """A payload with Volume=VOL:/data and Volume=VOL/logs:/logs replaced VOL/logs (through
    /data) with a symlink to a host directory; the automatic restart then bound that host
    directory, read-write, on /logs."""
    vol = tmp_path / "vol"
    (vol / "logs").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    daemon.write_unit("swap.unit", unit_text(
        layers, "/bin/sh -c 'if [ -e /logs/.second ]; then :; fi; "
                "touch /logs/pwned; rm -rf /data/logs; "
                f"ln -s {victim} /data/logs; exit 1'",
        sandbox=f"Volume={vol}:/data\nVolume={vol}/logs:/logs",
        service="Restart=on-failure\nRestartSec=50ms",
        unit="StartLimitBurst=3"))
    daemon.ctl("start", "swap.unit", check=False)
    p = daemon.wait_for("swap.unit", lambda p: p["ActiveState"] == "failed")
    assert os.path.islink(vol / "logs")  # the first run did swap it
    assert not (victim / "pwned").exists()  # and no later run wrote through it
    assert "a component of the path is a symbolic link" in daemon.log("swap.unit"), p


def test_root_directory_slash_has_private_run_and_tmp(daemon, tmp_path):
    """With RootDirectory=/ the payload is root on the host's own tree: every root-only socket
    of another service (in /run or /tmp) would take it for the host's root."""
    sock_dir = Path("/run") / f"sandboxd-test-{os.getpid()}"
    sock_dir.mkdir(mode=0o700)
    path = sock_dir / "service.sock"
    got = []
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    os.chmod(path, 0o600)
    srv.listen(4)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                got.append(c)
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    host_tmp = Path("/tmp") / f"sandboxd-test-{os.getpid()}"
    try:
        host_tmp.write_text("host\n")
    except OSError:  # the v2 guest's /tmp is the host's, read-only: "tmp-writable" still tells
        host_tmp = None
    try:
        daemon.write_unit("slash.unit", f"""[Sandbox]
RootDirectory=/
ReadOnly=yes
[Service]
ExecStart=/bin/sh -c 'cat {host_tmp or "/tmp/absent"}; echo cat-rc=$?; ls {sock_dir}; echo ls-rc=$?; \
echo x > /tmp/mine && echo tmp-writable; echo done; exec sleep 1000'
""")
        daemon.ctl("start", "slash.unit")
        daemon.wait_for("slash.unit", lambda p: "done" in daemon.payload_output("slash.unit"))
        out = daemon.payload_output("slash.unit")
        assert "cat-rc=1" in out and "ls-rc=0" not in out, out
        assert "tmp-writable" in out, out  # a fresh tmpfs, not the host's /tmp
        assert not (Path("/tmp") / "mine").exists()  # (also when it was writable here)
        assert got == []  # the host service saw no connection
    finally:
        stop.set()
        t.join()
        srv.close()
        for c in got:
            c.close()
        shutil.rmtree(sock_dir)
        if host_tmp:
            host_tmp.unlink()


def test_generated_files_are_read_only_with_read_only(daemon, layers):
    daemon.write_unit("rofiles.unit", f"""[Sandbox]
RootDirectory={layers['base']}
ReadOnly=yes
[Service]
ExecStart=/bin/sh -c 'for f in hostname hosts resolv.conf; do echo x >> /etc/$f; \
echo $f-rc=$?; done; echo done; exec sleep 1000'
""")
    daemon.ctl("start", "rofiles.unit")
    daemon.wait_for("rofiles.unit", lambda p: "done" in daemon.payload_output("rofiles.unit"))
    out = daemon.payload_output("rofiles.unit")
    for f in ("hostname", "hosts", "resolv.conf"):
        assert f"{f}-rc=1" in out, out


def test_volumes_are_nosuid_nodev(daemon, layers, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    daemon.write_unit("vols.unit", unit_text(layers, "/bin/sleep 1000",
                                             sandbox=f"Volume={vol}:/data"))
    daemon.ctl("start", "vols.unit")
    pid = int(daemon.show("vols.unit")["MainPID"])
    line = [l for l in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
            if l.split()[4] == "/data"][0]
    opts = line.split()[5].split(",")
    assert "nosuid" in opts and "nodev" in opts, line


def test_payload_cannot_silence_the_init(daemon, layers, tmp_path):
    """prlimit(1, RLIMIT_FSIZE, 0) from a root payload used to work (prlimit checks only that
    the ids match) and silenced the init's log writes: the init's saved ids are nobody's now,
    so it is refused, and the payload's lines and its exit status arrive."""
    tools = tmp_path / "tools"
    (tools / "bin").mkdir(parents=True)
    shutil.copy2(INIT_LIMITS, tools / "bin" / "init-limits")
    text = unit_text(layers, "/bin/init-limits").replace(
        f"Layers={layers['base']} {layers['top']}",
        f"Layers={layers['base']} {layers['top']} {tools}")
    daemon.write_unit("quiet.unit", text)
    daemon.ctl("start", "quiet.unit")
    p = daemon.wait_for("quiet.unit", lambda p: p["ActiveState"] in ("failed", "inactive"))
    out = daemon.payload_output("quiet.unit")
    assert "prlimit-init=Operation not permitted" in out, out
    assert [l for l in out if l.startswith("after-limit")] == \
        ["after-limit 0", "after-limit 1", "after-limit 2"], out
    assert p["Result"] == "exit-code" and p["ExecMainStatus"] == "7", p
