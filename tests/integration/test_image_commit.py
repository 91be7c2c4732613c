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


def test_start_and_stop_wait_for_a_commit(daemon, base_layout):
    """While the worker reads the rw layer, the unit is neither started nor stopped."""
    start_changer(daemon, base_layout)
    daemon.ctl("stop", "rt.unit")
    # a worker that takes a while: a big file in the rw layer
    big = daemon.state / "sandboxes/rt.unit/upper/big"
    with open(big, "wb") as f:
        f.truncate(0)
        f.write(os.urandom(1 << 20) * 200)
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    p = subprocess.Popen([str(SANDBOXCTL), "commit", "rt.unit", "big"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while ": commit " not in daemon.output.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r = daemon.ctl("start", "rt.unit", check=False)
    finished = p.poll() is not None
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    if not finished:  # raced only when the start came while the commit ran
        assert r.returncode != 0 and "a commit of its rw layer is under way" in r.stderr
    assert "image big:latest" in out


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


def test_a_user_namespaced_sandbox_commits_its_own_ids(daemon, base_layout):
    start_changer(daemon, base_layout, "us.unit", "Namespaces=pid mount uts ipc net user cgroup\n")
    upper = daemon.state / "sandboxes/us.unit/upper"
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
