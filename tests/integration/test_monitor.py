# SPDX-License-Identifier: GPL-2.0-or-later
"""sandboxctl monitor: the bus's UnitStateChanged signals, printed as they happen; a subscriber
that never reads cannot stall sandboxd."""

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import SANDBOXCTL, interrupt, interruptible, unit_text

pytestmark = pytest.mark.layout_independent


def monitor(daemon, *args):
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    p = subprocess.Popen([str(SANDBOXCTL), "monitor", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, preexec_fn=interruptible)
    time.sleep(0.3)  # subscribed (the call returns before any change we make)
    return p


def stop_monitor(p):
    return interrupt(p)


def test_monitor_prints_start_crash_restart_stop_in_order(daemon, layers, tmp_path):
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    # fails once (exit 3), then runs
    daemon.write_unit("m.unit", unit_text(
        layers, "/bin/sh -c 'if [ ! -e /ctl/ran ]; then touch /ctl/ran; exit 3; fi; "
                "exec sleep 1000'",
        sandbox=f"Volume={ctl}:/ctl", service="Restart=on-failure\nRestartSec=200ms"))
    daemon.write_unit("other.unit", unit_text(layers, "/bin/sleep 1000"))
    mon = monitor(daemon, "--json", "m")
    everything = monitor(daemon)
    try:
        daemon.ctl("start", "m")
        daemon.wait_for("m.unit", lambda p: p["NRestarts"] == "1" and
                        p["ActiveState"] == "active")
        daemon.ctl("start", "other")
        daemon.ctl("restart", "m")
        daemon.ctl("stop", "m")
        time.sleep(0.5)
    finally:
        out, err = stop_monitor(mon)
        all_out, _ = stop_monitor(everything)
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert {r["unit"] for r in rows} == {"m.unit"}, rows  # only what was asked for
    seen = [(r["new_state"], r["sub_state"]) for r in rows]
    assert seen == [
        ("activating", "start"), ("active", "running"),                  # start
        ("activating", "auto-restart"), ("activating", "start"),         # crash, restart
        ("active", "running"),
        ("deactivating", "stop-sigterm"), ("inactive", "dead"),          # restart
        ("activating", "start"), ("active", "running"),
        ("deactivating", "stop-sigterm"), ("inactive", "dead"),          # stop
    ], seen
    crash = rows[2]
    assert crash["old_state"] == "active" and crash["result"] == "exit-code", crash
    assert rows[1]["main_pid"] > 0 and rows[-1]["main_pid"] == 0
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps)
    # the plain form, for people; every unit without arguments
    assert "other.unit: inactive -> activating (start)" in all_out, all_out
    assert "m.unit: active -> activating (auto-restart) Result: exit-code" in all_out, all_out


def test_subscriber_that_never_reads_cannot_stall_sandboxd(daemon, layers):
    """A hostile bus client subscribes and never reads: sandboxd's writes to it do not block,
    it goes on serving everyone else, and past 256 queued messages the client is dropped
    (memory it holds in the daemon stays bounded)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(str(daemon.socket))
    uid = str(os.getuid()).encode().hex().encode()
    sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\nBEGIN\r\n")
    # Subscribe(), as dbus wire bytes: a method call with no body
    path, iface = b"/org/sandboxd1", b"org.sandboxd1.Manager"

    def field(code, sig, value):
        return bytes([code, 1]) + sig + b"\0" + len(value).to_bytes(4, "little") + value + \
            b"\0"

    def pad8(b):
        return b + b"\0" * (-len(b) % 8)
    parts = [field(1, b"o", path), field(2, b"s", iface), field(3, b"s", b"Subscribe")]
    fields = b"".join(pad8(f) for f in parts[:-1]) + parts[-1]  # no padding after the last
    header = b"l\1\0\1" + (0).to_bytes(4, "little") + (1).to_bytes(4, "little") + \
        len(fields).to_bytes(4, "little")
    sock.sendall(pad8(header + fields))
    try:
        # units that end at once and are restarted at once: a stream of state changes (eight,
        # so that a slow machine, or the emulated v2 guest, makes it as fast)
        names = [f"churn{i}" for i in range(8)]
        for n in names:
            daemon.write_unit(f"{n}.unit", unit_text(
                layers, "/bin/true", unit="StartLimitBurst=1000000",
                service="Restart=always\nRestartSec=1ms"))
        daemon.ctl("start", *names, timeout=60)
        deadline = time.monotonic() + 300
        out = daemon.output
        while "unread; dropping it" not in out.read_text():
            assert time.monotonic() < deadline, "the silent subscriber was never dropped"
            # sandboxd answers everyone else meanwhile
            assert daemon.show("churn0.unit")["Restart"] == "always"
            time.sleep(0.5)
        daemon.ctl("stop", *names, timeout=60)
        # what was sent before the drop is there, then the end of the stream
        got = b""
        sock.settimeout(10)
        while chunk := sock.recv(1 << 20):
            got += chunk
        # what the kernel held for it (its 64 KiB buffer); the queued rest went with the drop
        assert b"OK " in got and got.count(b"UnitStateChanged") >= 50, len(got)
    finally:
        sock.close()
    assert daemon.proc.poll() is None
