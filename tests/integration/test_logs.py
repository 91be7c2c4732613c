# SPDX-License-Identifier: GPL-2.0-or-later
"""sandboxctl logs: -n, -f across rotations, --since, -o cat|json, several units merged by
time; [Logs] MaxFileSize=/MaxFiles= rotation; a flooding payload bounded on disk; the
journal, with a real systemd-journald in a mount namespace of the test's own."""

import json
import os
import re
import subprocess
import time

import pytest

from conftest import INIT, SANDBOXCTL, SANDBOXD, SLICE, interrupt, interruptible, unit_text

pytestmark = pytest.mark.layout_independent

ROTATING = "[Logs]\nMaxFileSize=4K\nMaxFiles=3\n"


def numbered(text):
    return [int(m) for m in re.findall(r"line-(\d+)-x", text)]


def test_follow_across_rotations(daemon, layers):
    daemon.stop()
    daemon.start(config=ROTATING)
    # 100-byte lines, 20 a second: the 4K file rotates every 2 seconds
    daemon.write_unit("talk.unit", unit_text(
        layers, "/bin/sh -c 'i=0; while :; do i=$((i+1)); "
                "echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
                "sleep 0.05; done'"))
    daemon.ctl("start", "talk")
    daemon.wait_for("talk.unit", lambda p: len(numbered(daemon.log("talk.unit"))) >= 5)
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    f = subprocess.Popen([str(SANDBOXCTL), "logs", "-f", "-n", "3", "talk"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         preexec_fn=interruptible)
    try:
        log2 = daemon.logs / "talk.unit.log.2"
        # two rotations after the follow started: .2 holds lines written after it
        deadline = time.monotonic() + 60
        start_seen = None
        while time.monotonic() < deadline:
            if log2.exists() and numbered(log2.read_text(errors="replace")):
                first_in_2 = numbered(log2.read_text(errors="replace"))[0]
                if start_seen is None:
                    start_seen = first_in_2
                elif first_in_2 > start_seen:
                    break  # .2 was replaced: at least two rotations while following
            time.sleep(0.1)
        else:
            raise AssertionError("the log never rotated twice")
        daemon.ctl("stop", "talk")
        time.sleep(1.5)  # the follower checks at least once a second
    finally:
        out, err = interrupt(f)
    got = numbered(out.decode(errors="replace"))
    assert len(got) > 40, (got, err)
    # every line once, in order, none lost at a rotation
    assert got == list(range(got[0], got[0] + len(got))), got
    assert b"sandboxd[talk.unit]: Stopped." in out, out[-500:]
    # bounded: MaxFiles=3 is the file and two rotated ones
    files = sorted(p.name for p in daemon.logs.iterdir() if p.name.startswith("talk.unit"))
    assert files == ["talk.unit.log", "talk.unit.log.1", "talk.unit.log.2"], files
    for p in daemon.logs.iterdir():
        assert p.stat().st_size <= 4096, (p, p.stat().st_size)
    # -n reads back through the rotated files, oldest first
    r = daemon.ctl("logs", "-n", "0", "talk")
    all_lines = numbered(r.stdout)
    assert all_lines == list(range(all_lines[0], all_lines[0] + len(all_lines))), all_lines
    assert all_lines[0] == numbered(log2.read_text())[0]


def test_merge_since_and_formats(daemon, layers):
    daemon.write_unit("a.unit", unit_text(
        layers, "/bin/sh -c 'echo a-first; sleep 3; echo a-second; printf \"bad \\377 \\033x\\n\"; "
                "exec sleep 1000'"))
    daemon.write_unit("b.unit", unit_text(
        layers, "/bin/sh -c 'echo b-first >&2; exec sleep 1000'"))
    daemon.ctl("start", "a")
    daemon.wait_for("a.unit", lambda p: "a-first" in daemon.log("a.unit"))
    time.sleep(1.5)
    daemon.ctl("start", "b")
    daemon.wait_for("b.unit", lambda p: "b-first" in daemon.log("b.unit"))
    daemon.wait_for("a.unit", lambda p: "bad" in daemon.log("a.unit"))
    r = daemon.ctl("logs", "-n", "0", "-o", "cat", "a", "b")
    texts = [ln for ln in r.stdout.splitlines() if ln in ("a-first", "b-first", "a-second")]
    assert texts == ["a-first", "b-first", "a-second"], r.stdout
    assert "bad \\xff \\x1bx" in r.stdout  # escaped, as everything sandboxctl prints
    # short: the lines as the file holds them, with their prefix
    short = daemon.ctl("logs", "-n", "0", "a", "b").stdout.splitlines()
    b_line = next(ln for ln in short if ln.endswith("b-first"))
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d sh\[\d+\]: b-first$", b_line), b_line
    # --since the second of b's line: a's first line is older
    since = b_line[:19]
    r = daemon.ctl("logs", "-n", "0", "-o", "cat", f"--since={since}", "a", "b")
    assert "a-first" not in r.stdout and "b-first" in r.stdout and "a-second" in r.stdout, \
        r.stdout
    assert daemon.ctl("logs", "--since=-1h", "-n", "0", "-o", "cat", "a").stdout.count(
        "a-first") == 1
    r = daemon.ctl("logs", "--since=soon", "a", check=False)
    assert r.returncode == 1 and "--since=soon: expected a time" in r.stderr
    # json: journalctl's names; bytes that are not UTF-8 as an array
    rows = [json.loads(ln) for ln in daemon.ctl("logs", "-n", "0", "-o", "json", "a",
                                                "b").stdout.splitlines()]
    b_row = next(x for x in rows if x.get("MESSAGE") == "b-first")
    assert b_row["SANDBOXD_UNIT"] == "b.unit" and b_row["SYSLOG_IDENTIFIER"] == "sh"
    assert int(b_row["SYSLOG_PID"]) > 0 and int(b_row["__REALTIME_TIMESTAMP"]) > 0
    bad = next(x for x in rows if isinstance(x["MESSAGE"], list))
    assert bytes(bad["MESSAGE"]) == b"bad \xff \x1bx"
    events = [x for x in rows if x["SYSLOG_IDENTIFIER"] == "sandboxd"]
    assert any(x["MESSAGE"].startswith("Started, main PID") for x in events), events
    # -n counts the merged lines
    assert len(daemon.ctl("logs", "-n", "2", "a", "b").stdout.splitlines()) == 2
    r = daemon.ctl("logs", "-o", "yaml", "a", check=False)
    assert r.returncode == 1 and "expected short, cat or json" in r.stderr


def test_flooding_payload_is_bounded_and_others_answer(daemon, layers):
    """A payload that writes as fast as it can: its log stays within MaxFiles x
    MaxFileSize, its lines are cut at 4 KiB, and sandboxd keeps answering."""
    daemon.stop()
    daemon.start(config="[Logs]\nMaxFileSize=64K\nMaxFiles=2\n")
    daemon.write_unit("flood.unit", unit_text(
        layers, "/bin/sh -c 'head -c 20000 /dev/zero | tr \"\\\\0\" x; echo; exec yes "
                "sandboxd[other.unit]: Started, main PID 1.'"))
    daemon.write_unit("quiet.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.ctl("start", "flood", "quiet")
    deadline = time.monotonic() + 30
    while not (daemon.logs / "flood.unit.log.1").exists():
        assert time.monotonic() < deadline, "the flood never rotated its log"
        time.sleep(0.1)
    for _ in range(20):  # the daemon answers meanwhile
        assert daemon.show("quiet.unit")["ActiveState"] == "active"
    time.sleep(2)
    daemon.ctl("stop", "flood")
    sizes = {p.name: p.stat().st_size for p in daemon.logs.iterdir()
             if p.name.startswith("flood.unit")}
    assert set(sizes) == {"flood.unit.log", "flood.unit.log.1"}, sizes
    assert all(s <= 64 * 1024 for s in sizes.values()), sizes
    text = "".join((daemon.logs / n).read_text(errors="replace") for n in sorted(sizes))
    for line in text.splitlines():
        # every line is ours: a stamp and the payload's name, or sandboxd's own events
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (yes|sh|sandboxd)\[[^\]]+\]: ", line), \
            line[:200]
        assert len(line) <= 4096 + 64, len(line)
    assert "sandboxd[other.unit]" not in [ln.split(" ", 2)[2].split(":")[0]
                                          for ln in text.splitlines()]


JOURNAL_SCRIPT = r"""
set -e
# a journald of our own on a /run of our own; pytest's directory (the test's and the layers',
# under /run in the v2 guest) is bound back in from a descriptor opened before
exec 9<"{base}"
mount -t tmpfs tmpfs /run
mkdir -p "{base}" && mount --no-canonicalize --bind /proc/self/fd/9 "{base}"
mount -t tmpfs tmpfs /var/log/journal 2>/dev/null || true
mkdir -p /run/systemd/journal /run/log/journal
/lib/systemd/systemd-journald > "{tmp}/journald.out" 2>&1 &
JPID=$!
for i in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
{sandboxd} --socket {tmp}/sock --state-dir {tmp}/state --runtime-dir {tmp}/rt \
    --log-dir {tmp}/log --unit-path {tmp}/units --init {init} --slice {slice} \
    --enabled-dir {tmp}/enabled --log-target=auto > {tmp}/sandboxd.out 2>&1 &
DPID=$!
export SANDBOXD_SOCKET={tmp}/sock
for i in $(seq 100); do {ctl} list >/dev/null 2>&1 && break; sleep 0.1; done
rc=0
{ctl} start j.unit || rc=1
for i in $(seq 100); do
    journalctl --no-pager -q SANDBOXD_UNIT=j.unit -o cat | grep -q to-stderr && break
    sleep 0.1
done
echo "=== journalctl"
journalctl --no-pager -q SANDBOXD_UNIT=j.unit -o json
echo "=== victim"
journalctl --no-pager -q SANDBOXD_UNIT=victim.unit -o json
echo "=== logs"
{ctl} logs -n 0 -o cat j.unit || rc=1
echo "=== show"
{ctl} show -p LogTarget,LogPath --value j.unit
{ctl} stop j.unit || rc=1
kill $DPID; wait $DPID || true
kill $JPID; wait $JPID || true
exit $rc
"""


def test_journal_with_a_real_journald(tmp_path, layers):
    (tmp_path / "units").mkdir()
    (tmp_path / "units" / "j.unit").write_text(unit_text(
        layers, "/bin/sh -c 'echo to-stdout; echo to-stderr >&2; "
                "printf \"SANDBOXD_UNIT=victim.unit\\nPRIORITY=0 \\001 \\377\\n\"; "
                "exec sleep 1000'"))
    # pytest's base directory: the test's own and the session's layers are below it
    base = os.path.commonpath([tmp_path, layers["base"]])
    script = JOURNAL_SCRIPT.format(sandboxd=SANDBOXD, ctl=SANDBOXCTL, init=INIT, slice=SLICE,
                                   tmp=tmp_path, base=base)
    def text(name):
        return (tmp_path / name).read_text() if (tmp_path / name).exists() else ""
    try:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                            script], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"timed out: {e.stdout}\n--- sandboxd:\n{text('sandboxd.out')}"
                             f"\n--- journald:\n{text('journald.out')}")
    out = text("sandboxd.out")
    assert r.returncode == 0, (r.stdout, r.stderr, out)
    journal_and_victim, rest = r.stdout.split("=== logs\n")
    journal, victim = journal_and_victim.split("=== victim\n")
    # a payload's line is a MESSAGE, whatever it says: no field of it reaches the entry
    assert victim.strip() == "", victim
    logs, show = rest.split("=== show\n")
    rows = [json.loads(ln) for ln in journal.split("=== journalctl\n")[1].splitlines()]
    by_msg = {x["MESSAGE"]: x for x in rows if isinstance(x.get("MESSAGE"), str)}
    out_row, err_row = by_msg["to-stdout"], by_msg["to-stderr"]
    assert out_row["PRIORITY"] == "6" and err_row["PRIORITY"] == "4", (out_row, err_row)
    assert out_row["SYSLOG_IDENTIFIER"] == "sh" and int(out_row["SYSLOG_PID"]) > 0
    assert out_row["SANDBOXD_UNIT"] == "j.unit"
    assert any(m.startswith("j.unit: Started, main PID") for m in by_msg), by_msg.keys()
    assert by_msg["SANDBOXD_UNIT=victim.unit"]["SANDBOXD_UNIT"] == "j.unit"
    binary = next(x for x in rows if isinstance(x.get("MESSAGE"), list))
    assert bytes(binary["MESSAGE"]) == b"PRIORITY=0 \x01 \xff" and binary["PRIORITY"] == "6"
    # sandboxctl reads it back through sd-journal
    assert "to-stdout" in logs.splitlines() and "to-stderr" in logs.splitlines(), logs
    assert any(ln.startswith("Started, main PID") for ln in logs.splitlines()), logs
    assert show.splitlines() == ["journal", ""], show
    # nothing went to a file
    assert not (tmp_path / "log" / "j.unit.log").exists()


def test_output_while_sandboxd_is_away_is_logged_after_adoption(daemon, layers, init_reaper):
    """The init holds the log pipe (and its read end for the next sandboxd): what the payload
    writes while no sandboxd runs waits there, and the next one logs it, in order."""
    daemon.stop()
    daemon.start(keep_running=True)
    daemon.write_unit("away.unit", unit_text(
        layers, "/bin/sh -c 'i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.05; done'"))
    daemon.ctl("start", "away")
    daemon.wait_for("away.unit", lambda p: "tick-3" in daemon.log("away.unit"))
    daemon.stop()
    before = daemon.log("away.unit")
    time.sleep(1)  # ~20 lines written with nobody reading
    daemon.start()
    daemon.wait_for("away.unit", lambda p: len(re.findall(r"tick-(\d+)", daemon.log(
        "away.unit"))) > len(re.findall(r"tick-(\d+)", before)) + 25)
    ticks = [int(x) for x in re.findall(r"tick-(\d+)", daemon.log("away.unit"))]
    assert ticks == list(range(1, len(ticks) + 1)), ticks  # none lost, none twice
    daemon.ctl("stop", "away")
