# SPDX-License-Identifier: GPL-2.0-or-later
"""The bus socket's file appears only once sandboxd listens: it is bound under a temporary name
and renamed after listen(), so a client that sees the file is never refused."""

import os
import socket
import subprocess
import time

import pytest

from conftest import INIT, SANDBOXD, SLICE

pytestmark = pytest.mark.layout_independent


def test_socket_file_appears_only_when_it_accepts(tmp_path):
    for round_ in range(10):
        t = tmp_path / f"r{round_}"
        (t / "units").mkdir(parents=True)
        sock = t / "run" / "private"
        proc = subprocess.Popen(
            [str(SANDBOXD), "--socket", str(sock), "--state-dir", str(t / "state"),
             "--runtime-dir", str(t / "run"), "--log-dir", str(t / "log"),
             "--unit-path", str(t / "units"), "--init", str(INIT), "--slice", SLICE,
             "--enabled-dir", str(t / "enabled")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not sock.exists():
                assert proc.poll() is None and time.monotonic() < deadline
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(str(sock))  # ECONNREFUSED here was the bind()-listen() window
            # and the temporary name is gone
            # (and the proc view's lxcfs mount and pidfile)
            assert set(os.listdir(sock.parent)) - {"procview", "procview.pid", "sandboxes"} \
                == {"private"}, os.listdir(sock.parent)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
