# SPDX-License-Identifier: GPL-2.0-or-later
"""commit, diff and export: a sandbox's rw layer as a new image, what it changed, and an image
as an OCI layout tar that umoci reads back. The rw layer is the payload's, so every test that
reads it also checks, from the host, that nothing outside it came along."""

import gzip
import hashlib
import json
import os
import signal
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import (SANDBOXCTL, SLICE, cgroup_root, import_into, is_v2, make_busybox_layer,
                      skopeo, umoci, wait_output)

INIT_FILES = {b"etc/hostname", b"etc/hosts", b"etc/resolv.conf"}
MOUNT_POINTS = {b"proc", b"sys", b"dev", b"tmp", b"run"}


@pytest.fixture(scope="module")
def base_layout(tmp_path_factory):
    """An OCI layout "base:1" (umoci): busybox, /srv/hello, a directory to replace."""
    d = tmp_path_factory.mktemp("commitlayout")
    lay, b = d / "L", d / "bundle"
    umoci("init", "--layout", lay)
    umoci("new", "--image", f"{lay}:1")
    umoci("unpack", "--image", f"{lay}:1", b)
    make_busybox_layer(b / "rootfs")
    (b / "rootfs/srv/old").mkdir(parents=True)
    (b / "rootfs/srv/hello").write_text("from the image\n")
    (b / "rootfs/srv/old/a").write_text("a\n")
    (b / "rootfs/srv/old/b").write_text("b\n")
    (b / "rootfs/srv/gone").write_text("to be deleted\n")
    umoci("repack", "--image", f"{lay}:1", b)
    umoci("config", "--image", f"{lay}:1", "--config.env", "FROM=image",
          "--config.cmd", "/bin/sh", "--config.cmd", "-c", "--config.cmd", "exec sleep 1000")
    return lay


def listing(root: Path, skip=()):
    """path -> (type, mode, uid, gid, size, sha256 or link target), below root, without the
    top-level names in skip."""
    out = {}
    broot = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(broot):
        if dirpath == broot:
            dirnames[:] = [n for n in dirnames if n not in skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, broot)
            if dirpath == broot and n in skip:
                continue
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            else:
                what = None
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                        st.st_gid, st.st_size if stat.S_ISREG(st.st_mode) else 0, what)
    return out


def unified_dir(unit):
    """The unit's group in the cgroup2 hierarchy (the only one on v2, `unified` on a hybrid
    host), where its freezer is."""
    return cgroup_root() / SLICE / unit if is_v2() else cgroup_root() / "unified" / SLICE / unit


def frozen(unit):
    events = (unified_dir(unit) / "cgroup.events").read_text()
    return dict(line.split() for line in events.splitlines())["frozen"] == "1"


CHANGES = ("echo changed > /srv/hello; rm /srv/gone; rm /bin/ls; "
           "rm -r /srv/old; mkdir /srv/old; echo new > /srv/old/c; "
           "mkdir -p /data/sub; echo new > /data/sub/f; chown 33:50 /data/sub/f; "
           "chmod 4750 /data/sub/f; ln /data/sub/f /data/hard; ln -s /srv/hello /data/abs; "
           "ln -s ../srv/hello /data/rel; mkfifo /data/fifo; "
           "echo mine > /etc/hostname; echo mine >> /etc/hosts; echo done; exec sleep 1000")


def start_changer(daemon, base_layout, unit="rt.unit", extra=""):
    import_into(daemon, "import-oci", f"{base_layout}:1", "base:1")
    daemon.write_unit(unit, f"[Sandbox]\nImage=base:1\n{extra}[Service]\n"
                      f"ExecStart=/bin/sh -c '{CHANGES}'\n")
    daemon.ctl("start", unit)
    assert wait_output(daemon, unit) == ["done"]


def test_diff_lists_what_the_sandbox_changed(daemon, base_layout):
    start_changer(daemon, base_layout)
    out = daemon.ctl("diff", "rt.unit").stdout.splitlines()
    assert "C /srv/hello" in out and "D /srv/gone" in out and "D /bin/ls" in out
    assert "A /data/sub" in out and "A /data/sub/f" in out and "A /data/fifo" in out
    # an opaque directory hides what the image had in it
    assert "C /srv/old" in out and "D /srv/old/a" in out and "D /srv/old/b" in out
    assert "A /srv/old/c" in out
    # the init layer's files are the sandbox's own, not a change to its image
    assert not [line for line in out if "/etc/host" in line]
    assert len(out) == len(set(out))
    daemon.ctl("stop", "rt.unit")
    assert daemon.ctl("diff", "rt.unit").stdout.splitlines() == out  # stopped: the same


def test_round_trip_commit_export_import_run(daemon, base_layout, tmp_path):
    start_changer(daemon, base_layout)
    pid = int(daemon.show("rt.unit")["MainPID"])
    # a running sandbox: frozen for the copy, thawed after, still running
    r = daemon.ctl("commit", "rt.unit", "snap:v2")
    assert "image snap:v2" in r.stdout
    assert not frozen("rt.unit")
    assert daemon.show("rt.unit")["ActiveState"] == "active"
    assert "Frozen while its rw layer is committed as snap:v2" in daemon.log("rt.unit")
    sandbox_view = listing(Path(f"/proc/{pid}/root"), MOUNT_POINTS)

    out = tmp_path / "snap.tar"
    daemon.ctl("image", "export", "snap:v2", out)
    names = tarfile.open(out).getnames()
    assert "oci-layout" in names and "index.json" in names
    index = json.loads(tarfile.open(out).extractfile("index.json").read())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v2"

    # umoci unpacks the export to exactly what the sandbox saw, less the init layer's files
    lay = tmp_path / "lay"
    lay.mkdir()
    subprocess.run(["tar", "-C", lay, "-xf", out], check=True)
    umoci("unpack", "--image", f"{lay}:v2", tmp_path / "bundle")
    rootfs = tmp_path / "bundle/rootfs"
    exported = listing(rootfs, MOUNT_POINTS)
    for f in INIT_FILES:
        assert f not in exported, f  # never committed
        sandbox_view.pop(f, None)
    assert exported == sandbox_view
    assert os.stat(rootfs / "data/hard").st_ino == os.stat(rootfs / "data/sub/f").st_ino
    # skopeo reads it too
    skopeo(tmp_path, "inspect", f"oci-archive:{out}:v2")

    # imported back under a new name, a sandbox from it sees the changes
    daemon.ctl("image", "import", f"{out}:v2", "again")
    daemon.write_unit("again.unit", "[Sandbox]\nImage=again\n[Service]\nExecStart=/bin/sh -c "
                      "'cat /srv/hello; ls /srv/old; ls /bin/ls /srv/gone 2>&1 | wc -l; "
                      "stat -c \"%a %u %g\" /data/sub/f; cat /etc/hostname; echo $FROM; "
                      "exec sleep 1000'\n")
    daemon.ctl("start", "again.unit")
    got = wait_output(daemon, "again.unit", 6)
    assert got[:5] == ["changed", "c", "2", "4750 33 50", "again"]
    assert got[5] == "image"  # the config came along
    daemon.ctl("stop", "again.unit")
    daemon.ctl("stop", "rt.unit")
    hist = json.loads(daemon.ctl("image", "inspect", "snap:v2").stdout)["config"]["history"]
    assert hist[-1]["created_by"] == "sandboxctl commit rt.unit"


def test_commit_of_a_stopped_unit_and_the_store_shares_the_base(daemon, base_layout):
    start_changer(daemon, base_layout)
    daemon.ctl("stop", "rt.unit")
    daemon.ctl("commit", "rt", "snap")
    rec = json.loads(daemon.ctl("image", "inspect", "snap").stdout)
    base = json.loads(daemon.ctl("image", "inspect", "base:1").stdout)
    assert rec["layers"][:-1] == base["layers"]  # the same base layers, one more on top
    top = daemon.state / "images/layers" / rec["layers"][-1][7:] / "diff"
    assert (top / "srv/hello").read_text() == "changed\n"
    st = os.lstat(top / "srv/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(top / "srv/old", "trusted.overlay.opaque") == b"y"
    for f in INIT_FILES:
        assert not os.path.lexists(top / os.fsdecode(f))


def test_commit_refuses_what_it_cannot_do(daemon, base_layout, tmp_path):
    import_into(daemon, "import-oci", f"{base_layout}:1", "base:1")
    daemon.write_unit("never.unit", "[Sandbox]\nImage=base:1\n")
    r = daemon.ctl("commit", "never.unit", "x", check=False)
    assert r.returncode != 0 and "never.unit has no rw layer" in r.stderr
    daemon.write_unit("plain.unit", "[Sandbox]\nRootDirectory=/\n[Service]\nExecStart=/bin/true\n")
    r = daemon.ctl("commit", "plain.unit", "x", check=False)
    assert r.returncode != 0 and "plain.unit has no Image=" in r.stderr
    r = daemon.ctl("commit", "never.unit", "../x", check=False)
    assert r.returncode != 0 and "../x" in r.stderr
    r = daemon.ctl("image", "export", "nosuch", tmp_path / "o.tar", check=False)
    assert r.returncode != 0 and "nosuch:latest: no such image" in r.stderr
    assert not list(tmp_path.glob("o.tar*"))  # a failed export leaves no file


def begin_slow_commit(daemon, base_layout, unit="slow.unit", size="300M"):
    """A running unit whose rw layer holds a sparse SIZE file (no disk for the payload, a long
    read for the commit), and a commit of it under way (the sandbox frozen)."""
    import_into(daemon, "import-oci", f"{base_layout}:1", "base:1")
    daemon.write_unit(unit, "[Sandbox]\nImage=base:1\n[Service]\nExecStart=/bin/sh -c "
                      f"'truncate -s {size} /big; echo done; exec sleep 1000'\n")
    daemon.ctl("start", unit)
    wait_output(daemon, unit)
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    p = subprocess.Popen([str(SANDBOXCTL), "commit", unit, "slow"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while "Frozen while its rw layer is committed" not in daemon.log(unit):
        assert time.monotonic() < deadline and p.poll() is None, p.communicate()
        time.sleep(0.01)
    return p


def assert_nothing_of_the_commit_left(daemon):
    """What a killed worker leaves in tmp/ goes with the next worker's start; no layer or
    record of the commit exists."""
    store = daemon.state / "images"
    import_into(daemon, "inspect", "base:1")
    assert os.listdir(store / "tmp") == []
    assert os.listdir(store / "images") == ["base:1"]
    assert len(os.listdir(store / "layers")) == 1


def test_a_stop_cancels_a_commit_and_a_start_waits_for_it(daemon, base_layout):
    """A payload's sparse file makes a long commit with its sandbox frozen: a start is refused
    meanwhile, a stop cancels the commit (the worker killed, nothing of it left) and stops the
    unit at once."""
    p = begin_slow_commit(daemon, base_layout)
    r = daemon.ctl("start", "slow.unit")  # running already: nothing to do
    t0 = time.monotonic()
    daemon.ctl("stop", "slow.unit")
    out, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "the commit was cancelled: slow.unit was stopped" in err, err
    assert daemon.show("slow.unit")["ActiveState"] in ("inactive", "failed")
    assert "Stopping: the commit of its rw layer is cancelled." in daemon.log("slow.unit")
    assert time.monotonic() - t0 < 30  # not the stop timeout of a frozen payload (90 s)
    assert_nothing_of_the_commit_left(daemon)
    # stopped, its rw layer stays; a start while a commit of it runs is refused
    commits = daemon.output.read_text().count(": commit ")
    p = subprocess.Popen([str(SANDBOXCTL), "commit", "slow.unit", "slow"],
                         env=dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while daemon.output.read_text().count(": commit ") == commits:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r = daemon.ctl("start", "slow.unit", check=False)
    assert r.returncode != 0 and "a commit of its rw layer is under way" in r.stderr
    p.kill()  # the client goes; the commit goes on and finishes
    p.wait()
    # a bound against a hang, not a speed check: reading, hashing and packing 300 MB took over
    # 120 s in the software-emulated v2 guest
    deadline = time.monotonic() + 600
    while "image worker" not in daemon.output.read_text().split(": commit ")[-1]:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_sandboxd_stops_during_a_commit(daemon, base_layout, tmp_path):
    """SIGTERM while a commit runs: the stop of every sandbox cancels it, and sandboxd exits."""
    p = begin_slow_commit(daemon, base_layout)
    daemon.proc.send_signal(signal.SIGTERM)
    daemon.proc.wait(timeout=60)
    p.communicate(timeout=30)
    assert p.returncode != 0
    assert_nothing_of_the_commit_left(daemon)
    assert not (unified_dir("slow.unit")).exists()  # stopped, its group gone
    daemon.start()
    assert "0 units listed." in daemon.ctl("list").stdout  # nothing left running


@pytest.mark.parametrize("started_daemon_config", ["[Images]\nImportMaxSize=64M\n"])
def test_a_sparse_file_cannot_make_a_commit_fill_the_disk(tmp_path, base_layout,
                                                         started_daemon_config):
    from conftest import started_daemon
    with started_daemon(tmp_path, config=started_daemon_config) as d:
        import_into(d, "import-oci", f"{base_layout}:1", "base:1")
        d.write_unit("sp.unit", "[Sandbox]\nImage=base:1\n[Service]\nExecStart=/bin/sh -c "
                     "'truncate -s 8G /big; echo done; exec sleep 1000'\n")
        d.ctl("start", "sp.unit")
        wait_output(d, "sp.unit")
        r = d.ctl("commit", "sp.unit", "sp", check=False)
        assert r.returncode != 0
        assert ("'big': 8589934592 bytes would take the layer past the limit of 67108864 "
                "bytes") in r.stderr, r.stderr
        assert not frozen("sp.unit") and d.show("sp.unit")["ActiveState"] == "active"
        assert_nothing_of_the_commit_left(d)
        d.ctl("stop", "sp.unit")


def test_symlinks_in_the_rw_layer_are_kept_never_followed(daemon, base_layout, tmp_path):
    """The payload points links at host files and swaps a directory for a link to / as fast
    as it can while the commit runs: the image gets links, never host content."""
    secret = tmp_path / "host-secret"
    secret.write_text("HOST-SECRET-1\n")
    import_into(daemon, "import-oci", f"{base_layout}:1", "base:1")
    daemon.write_unit("evil.unit", "[Sandbox]\nImage=base:1\n[Service]\nExecStart=/bin/sh -c "
                      f"'ln -s {secret} /srv/leak; ln -s / /srv/root; mkdir /srv/d; echo go; "
                      "while :; do mv /srv/d /srv/x; ln -s / /srv/d; rm /srv/d; mv /srv/x /srv/d; "
                      "done'\n")
    daemon.ctl("start", "evil.unit")
    wait_output(daemon, "evil.unit")
    for i in range(5):
        daemon.ctl("commit", "evil.unit", f"evil:{i}")
        rec = json.loads(daemon.ctl("image", "inspect", f"evil:{i}").stdout)
        top = daemon.state / "images/layers" / rec["layers"][-1][7:] / "diff"
        assert os.readlink(top / "srv/leak") == str(secret)
        assert os.readlink(top / "srv/root") == "/"
        # one moment of the loop: d and x each missing, an empty directory, or d a link to /
        d, x = top / "srv/d", top / "srv/x"
        assert not d.is_symlink() or os.readlink(d) == "/"
        for p in (d, x):
            assert p.is_symlink() or not p.exists() or (p.is_dir() and os.listdir(p) == [])
        found = subprocess.run(["grep", "-rl", "HOST-SECRET-1", str(top)], capture_output=True,
                               text=True)
        assert found.stdout == ""
    out = tmp_path / "evil.tar"
    daemon.ctl("image", "export", "evil:4", out)
    for m in tarfile.open(out):
        if m.name.startswith("blobs/") and m.isfile():
            blob = tarfile.open(out).extractfile(m).read()
            if blob[:2] == b"\x1f\x8b":
                blob = gzip.decompress(blob)
            assert b"HOST-SECRET-1" not in blob
    daemon.ctl("stop", "evil.unit")


def test_device_nodes_in_the_rw_layer_are_left_out(daemon, base_layout):
    """A payload that could make a device node (or a host that put one there) gets no device
    into an image."""
    start_changer(daemon, base_layout)
    daemon.ctl("stop", "rt.unit")
    upper = daemon.state / "sandboxes/rt.unit/upper"
    os.mknod(upper / "data/disk", 0o600 | stat.S_IFBLK, os.makedev(8, 0))
    os.mknod(upper / "data/mem", 0o600 | stat.S_IFCHR, os.makedev(1, 1))
    r = daemon.ctl("commit", "rt.unit", "nodev")
    assert "2 device nodes of the rw layer " in r.stdout and " left out" in r.stdout
    rec = json.loads(daemon.ctl("image", "inspect", "nodev").stdout)
    top = daemon.state / "images/layers" / rec["layers"][-1][7:] / "diff"
    assert not os.path.lexists(top / "data/disk") and not os.path.lexists(top / "data/mem")
    assert (top / "data/sub/f").exists()


def test_whiteout_names_and_user_overlay_xattrs_in_the_rw_layer(daemon, base_layout):
    """A payload's file named .wh.etc would delete /etc from the committed image while diff
    shows an added file: refused, naming it. A user.overlay.opaque xattr (the payload may set
    user.* xattrs; the kernel ignores this one on our mounts) does not make a directory opaque
    in the image."""
    import_into(daemon, "import-oci", f"{base_layout}:1", "base:1")
    daemon.write_unit("wh.unit", "[Sandbox]\nImage=base:1\n[Service]\nExecStart=/bin/sh -c "
                      "'touch /.wh.etc; echo x > /srv/old/c; touch \"/srv/a\\\\x1b\"; "
                      "echo done; exec sleep 1000'\n")
    daemon.ctl("start", "wh.unit")
    wait_output(daemon, "wh.unit")
    diff = daemon.ctl("diff", "wh.unit").stdout.splitlines()
    assert "A /.wh.etc" in diff
    assert "A /srv/a\\\\x1b" in diff  # a backslash in a name is escaped too
    r = daemon.ctl("commit", "wh.unit", "wh", check=False)
    assert r.returncode != 0 and "'.wh.etc': a name OCI keeps for whiteouts" in r.stderr
    assert not frozen("wh.unit")
    daemon.ctl("stop", "wh.unit")
    upper = daemon.state / "sandboxes/wh.unit/upper"
    os.unlink(upper / ".wh.etc")
    os.setxattr(upper / "srv/old", "user.overlay.opaque", b"y")
    daemon.ctl("commit", "wh.unit", "wh")
    rec = json.loads(daemon.ctl("image", "inspect", "wh").stdout)
    top = daemon.state / "images/layers" / rec["layers"][-1][7:] / "diff"
    assert "trusted.overlay.opaque" not in os.listxattr(top / "srv/old")
    assert not any(x.startswith("user.overlay") for x in os.listxattr(top / "srv/old"))
    assert (top / "srv/old/c").read_text() == "x\n"


def test_a_user_namespaced_sandbox_commits_its_own_ids(daemon, base_layout):
    start_changer(daemon, base_layout, "us.unit", "Namespaces=pid mount uts ipc net user cgroup\n")
    upper = daemon.state / "sandboxes/us.unit/upper"
    # the payload's root hands the root directory to another of its ids: the shift comes from
    # the daemon, not from the tree's owners
    pid = int(daemon.show("us.unit")["MainPID"])
    subprocess.run(["nsenter", "-t", str(pid), "-m", "-p", "-U", "-r", "-w", "chown", "1000",
                    "/"], check=True, capture_output=True, timeout=30)
    host_uid = os.stat(upper / "data/sub/f").st_uid
    assert host_uid >= 0x80000  # 33 inside, shifted on the host
    daemon.ctl("commit", "us.unit", "us")
    rec = json.loads(daemon.ctl("image", "inspect", "us").stdout)
    top = daemon.state / "images/layers" / rec["layers"][-1][7:] / "diff"
    st = os.stat(top / "data/sub/f")
    assert (st.st_uid, st.st_gid) == (33, 50)
    assert os.stat(top / "data").st_uid == 0
    daemon.ctl("stop", "us.unit")


def test_a_sandbox_left_frozen_by_a_killed_daemon_is_thawed(daemon, base_layout, init_reaper):
    start_changer(daemon, base_layout)
    (unified_dir("rt.unit") / "cgroup.freeze").write_text("1")
    deadline = time.monotonic() + 5
    while not frozen("rt.unit"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    daemon.stop(signal.SIGKILL)
    daemon.start()
    assert not frozen("rt.unit")
    assert daemon.show("rt.unit")["ActiveState"] == "active"
    daemon.ctl("stop", "rt.unit")


def test_export_to_standard_output_and_not_to_a_terminal(daemon, base_layout, tmp_path):
    import_into(daemon, "import-oci", f"{base_layout}:1", "base:1")
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    with open(tmp_path / "s.tar", "wb") as f:
        r = subprocess.run([str(SANDBOXCTL), "image", "export", "base:1", "-"], stdout=f,
                           stderr=subprocess.PIPE, env=env, timeout=60)
    assert r.returncode == 0 and b"exported base:1" in r.stderr
    assert "oci-layout" in tarfile.open(tmp_path / "s.tar").getnames()
    # an export over an existing file that fails leaves the file as it was
    keep = tmp_path / "keep.tar"
    keep.write_text("precious")
    r = daemon.ctl("image", "export", "nosuch", keep, check=False)
    assert r.returncode != 0 and keep.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.glob("keep.tar*")) == ["keep.tar"]


def test_an_export_nobody_reads_holds_up_no_prune(daemon, base_layout, tmp_path):
    import_into(daemon, "import-oci", f"{base_layout}:1", "base:1")
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    p = subprocess.Popen([str(SANDBOXCTL), "image", "export", "base:1", "-"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # never read
    deadline = time.monotonic() + 10
    while ": export " not in daemon.output.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)  # the worker fills the pipe and blocks
    assert p.poll() is None
    r = daemon.ctl("image", "prune")
    assert "freed 0" in r.stdout
    p.kill()
    p.communicate()
    deadline = time.monotonic() + 10
    while "image worker" not in daemon.output.read_text().split(": export ")[-1]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert os.listdir(daemon.state / "images/tmp") == []
