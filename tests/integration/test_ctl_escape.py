# SPDX-License-Identifier: GPL-2.0-or-later
"""A payload's output and a unit file's text reach the admin's terminal through sandboxctl:
escape sequences in them must be shown, never interpreted. Before, `logs` and `status` wrote
the log byte for byte, so a payload could forge a sandboxd line over its own prefix (\\r, CSI
K), set the window title (OSC 0), write the clipboard (OSC 52) or clear the screen. Now every
control character, C1 control and invalid UTF-8 byte is escaped (\\r, \\x1b, \\xNN...) unless
--raw is given; `show` (the interface for scripts) escapes only on a terminal."""

import os
import re
import select
import subprocess
import time
import tty

from conftest import SANDBOXCTL, unit_text

PAYLOAD = r"""#!/bin/sh
printf '\r2024-01-01 00:00:00 sandboxd[esc.unit]: Stopped esc.unit.\033[K\n'
printf 'title \033]0;owned\007\n'
printf 'clip \033]52;c;ZXZpbA==\007\n'
printf 'clear \033[2J\n'
printf 'c1 \302\233 lone \233 bs \010 del \177 bad \377 ok caf\303\251 tab\tend\n'
echo done
exec sleep 1000
"""

# what each payload line must look like once escaped, after the init's "DATE TIME sh[PID]: "
ESCAPED = [
    b"\\r2024-01-01 00:00:00 sandboxd[esc.unit]: Stopped esc.unit.\\x1b[K",
    b"title \\x1b]0;owned\\a",
    b"clip \\x1b]52;c;ZXZpbA==\\a",
    b"clear \\x1b[2J",
    b"c1 \\xc2\\x9b lone \\x9b bs \\b del \\x7f bad \\xff ok caf\xc3\xa9 tab\tend",
    b"done",
]
# bytes no escaped output may hold: the payload's controls, a C1 control in UTF-8 or alone,
# invalid UTF-8 (the \r of a newline is no exception: the pty is raw, nothing adds one)
FORBIDDEN = [b"\x1b", b"\x07", b"\r", b"\x08", b"\x7f", b"\xc2\x9b", b"\x9b", b"\xff"]
DESCRIPTION = "esc \x1b]0;desc-title\x07 \x1b[2J sandbox"
DESCRIPTION_ESCAPED = b"esc \\x1b]0;desc-title\\a \\x1b[2J sandbox"


def ctl_env(daemon):
    return dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))


def ctl_pipe(daemon, *args):
    return subprocess.run([str(SANDBOXCTL), *map(str, args)], capture_output=True,
                          env=ctl_env(daemon), timeout=30)


# status's own colours on a terminal (systemctl's): the only escape sequences sandboxctl writes
OWN_COLOURS = (b"\x1b[0;1;32m", b"\x1b[0;1;31m", b"\x1b[0m")


def ctl_pty(daemon, *args, timeout=30):
    """Runs sandboxctl with stdout and stderr on a pseudo-terminal, as an admin would; returns
    (exit status, every byte the terminal got, less sandboxctl's own colour sequences)."""
    master, slave = os.openpty()
    tty.setraw(slave)  # no output processing: the bytes read are the bytes written
    try:
        p = subprocess.Popen([str(SANDBOXCTL), *map(str, args)], stdin=subprocess.DEVNULL,
                             stdout=slave, stderr=slave, env=ctl_env(daemon))
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.5)[0]:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed
                break
            if not chunk:
                break
            out += chunk
        else:
            p.kill()
        for c in OWN_COLOURS:
            out = out.replace(c, b"")
        return p.wait(timeout=timeout), out
    finally:
        os.close(master)


def payload_lines(out):
    return [l.split(b"]: ", 1)[1] for l in out.split(b"\n") if b" sh[" in l]


def assert_escaped(out):
    for b in FORBIDDEN:
        assert b not in out, (b, out)
    out.decode("utf-8")  # what is left is valid UTF-8


def start_payload(daemon, layers, tmp_path):
    layer = tmp_path / "payload-layer"
    layer.mkdir()
    (layer / "payload.sh").write_text(PAYLOAD)
    (layer / "payload.sh").chmod(0o755)
    text = unit_text({"base": layers["base"], "top": layer}, "/bin/sh /payload.sh")
    daemon.write_unit("esc.unit", text.replace("Description=test sandbox",
                                               f"Description={DESCRIPTION}"))
    daemon.ctl("start", "esc.unit")
    for _ in range(200):
        if b"done" in (daemon.logs / "esc.unit.log").read_bytes():
            return
        time.sleep(0.05)
    raise AssertionError("the payload never finished writing:\n" + daemon.log("esc.unit"))


def test_logs_on_a_terminal_are_escaped(daemon, layers, tmp_path):
    start_payload(daemon, layers, tmp_path)
    rc, out = ctl_pty(daemon, "logs", "esc.unit", "-n", "0")
    assert rc == 0, out
    assert_escaped(out)
    assert payload_lines(out) == ESCAPED, out
    # the forged event stays behind the payload's own prefix, on the payload's line
    forged = [l for l in out.split(b"\n") if b"Stopped esc.unit." in l]
    assert len(forged) == 1 and b" sh[" in forged[0].split(b"sandboxd[")[0], out
    daemon.ctl("stop", "esc.unit")


def test_logs_to_a_pipe_are_escaped_and_raw_gives_the_bytes(daemon, layers, tmp_path):
    """A pipe is no safer: `logs | grep` or `| tail` prints on the terminal all the same."""
    start_payload(daemon, layers, tmp_path)
    r = ctl_pipe(daemon, "logs", "esc.unit", "-n", "0")
    assert r.returncode == 0, r.stderr
    assert_escaped(r.stdout)
    assert payload_lines(r.stdout) == ESCAPED
    log = (daemon.logs / "esc.unit.log").read_bytes()
    r = ctl_pipe(daemon, "logs", "esc.unit", "-n", "0", "--raw")
    assert r.returncode == 0 and r.stdout == log
    r = ctl_pipe(daemon, "--raw", "logs", "esc.unit", "-n", "3")
    assert r.returncode == 0 and r.stdout == b"".join(re.findall(rb"[^\n]*\n", log)[-3:])
    # --raw on a terminal too: the admin asked for the bytes
    rc, out = ctl_pty(daemon, "logs", "esc.unit", "-n", "0", "--raw")
    assert rc == 0 and out == log
    daemon.ctl("stop", "esc.unit")


def test_status_on_a_terminal_is_escaped(daemon, layers, tmp_path):
    start_payload(daemon, layers, tmp_path)
    rc, tty_out = ctl_pty(daemon, "status", "esc.unit", "-n", "20")
    r = ctl_pipe(daemon, "status", "esc.unit", "-n", "20")
    for rc, out in ((rc, tty_out), (r.returncode, r.stdout)):
        assert rc == 0, out
        assert_escaped(out)
        assert out.split(b"\n")[0].endswith(b" esc.unit - " + DESCRIPTION_ESCAPED), out
        assert payload_lines(out) == ESCAPED, out
    r = ctl_pipe(daemon, "status", "esc.unit", "-n", "20", "--raw")
    assert r.returncode == 0
    assert DESCRIPTION.encode() in r.stdout and b"\r2024-01-01" in r.stdout
    daemon.ctl("stop", "esc.unit")


def test_list_and_show(daemon, layers, tmp_path):
    start_payload(daemon, layers, tmp_path)
    for rc, out in (ctl_pty(daemon, "list"),
                    (lambda r: (r.returncode, r.stdout))(ctl_pipe(daemon, "list"))):
        assert rc == 0
        assert_escaped(out)
        row = [l for l in out.split(b"\n") if l.startswith(b"esc.unit ")]
        assert len(row) == 1 and row[0].endswith(DESCRIPTION_ESCAPED), out
    # show escapes on a terminal; to a pipe it is the interface for scripts: as it is
    rc, out = ctl_pty(daemon, "show", "esc.unit", "-p", "Description", "--value")
    assert rc == 0 and out == DESCRIPTION_ESCAPED + b"\n"
    rc, out = ctl_pty(daemon, "show", "esc.unit", "-p", "Description")
    assert rc == 0 and out == b"Description=" + DESCRIPTION_ESCAPED + b"\n"
    r = ctl_pipe(daemon, "show", "esc.unit", "-p", "Description", "--value")
    assert r.returncode == 0 and r.stdout == DESCRIPTION.encode() + b"\n"
    rc, out = ctl_pty(daemon, "--raw", "show", "esc.unit", "-p", "Description", "--value")
    assert rc == 0 and out == DESCRIPTION.encode() + b"\n"
    daemon.ctl("stop", "esc.unit")


def test_start_error_quoting_a_path_is_escaped(daemon, layers):
    """The start error names the missing executable, a path from the unit file (or the
    sandbox's root): on stderr and in status's Error: line, escaped."""
    daemon.write_unit("badexec.unit", unit_text(layers, "/bin/no\x1b[2Jsuch"))
    r = ctl_pipe(daemon, "start", "badexec.unit")
    assert r.returncode == 1
    assert b"\x1b" not in r.stderr and b"/bin/no\\x1b[2Jsuch" in r.stderr, r.stderr
    rc, out = ctl_pty(daemon, "start", "badexec.unit")
    assert rc == 1 and b"\x1b" not in out and b"/bin/no\\x1b[2Jsuch" in out, out
    rc, out = ctl_pty(daemon, "status", "badexec.unit")
    assert rc == 3
    assert_escaped(out)
    error = [l for l in out.split(b"\n") if l.startswith(b"      Error: ")]
    assert len(error) == 1 and b"/bin/no\\x1b[2Jsuch" in error[0], out
    command = [l for l in out.split(b"\n") if l.startswith(b"    Command: ")]
    assert command == [b"    Command: /bin/no\\x1b[2Jsuch"], out
    r = ctl_pipe(daemon, "--raw", "start", "badexec.unit")
    assert r.returncode == 1 and b"/bin/no\x1b[2Jsuch" in r.stderr


def test_verify_errors_are_escaped(tmp_path):
    bad = tmp_path / "bad.unit"
    bad.write_text("[Unit]\nDescription=x\n[Resources]\nMemoryMax=\x1b]52;c;ZXZpbA==\x07\n")
    r = subprocess.run([str(SANDBOXCTL), "verify", str(bad)], capture_output=True)
    assert r.returncode == 1
    assert b"\x1b" not in r.stderr and b"\x07" not in r.stderr, r.stderr
    assert b"MemoryMax=\\x1b]52;c;ZXZpbA==\\a" in r.stderr, r.stderr
