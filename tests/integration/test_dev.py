# SPDX-License-Identifier: GPL-2.0-or-later
"""The sandbox's /dev is its own: nodes made with mknod on its tmpfs, never binds of the host's
(with a bind, `chmod 600 /dev/null` inside changed the host's /dev/null).

The host's real /dev is never at risk here: the tests run in a private mount namespace, and a
fixture binds fake nodes (char devices with the same numbers, so everything keeps working, but
inodes of their own on a scratch tmpfs) over /dev/null, /dev/zero, ... before sandboxd starts.
Whatever a regression did would land on the fakes, which are checked afterwards."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import SLICE, kill_and_remove_cgroup, make_busybox_layer, sandbox_exec, unit_text

NODES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9),
         "tty": (5, 0)}
SLEEPER = "/bin/sh -c 'echo ready; exec sleep 1000'"


def node_state(st):
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
            st.st_rdev)


@pytest.fixture
def fake_host_dev(tmp_path):
    scratch = tmp_path / "fakedev"
    scratch.mkdir()
    # a tmpfs of our own: device nodes work there whatever the options of /tmp
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "fakedev", str(scratch)],
                   check=True)
    # O_PATH fds on the real nodes: their state stays readable while the fakes cover them
    real = {n: os.open(f"/dev/{n}", os.O_PATH | os.O_NOFOLLOW) for n in NODES}
    bound = []
    try:
        before = {n: node_state(os.fstat(fd)) for n, fd in real.items()}
        fakes = {}
        for name, (major, minor) in NODES.items():
            f = scratch / name
            os.mknod(f, stat.S_IFCHR | 0o666, os.makedev(major, minor))
            os.chmod(f, 0o666)
            subprocess.run(["mount", "--bind", str(f), f"/dev/{name}"], check=True)
            bound.append(f"/dev/{name}")
            st = os.stat(f"/dev/{name}")
            assert (st.st_dev, st.st_ino) == (os.stat(f).st_dev, os.stat(f).st_ino)
            fakes[name] = f
        yield {"fakes": fakes, "real": real, "before": before}
        for n, fd in real.items():
            assert node_state(os.fstat(fd)) == before[n], f"the host's real /dev/{n} changed"
    finally:
        for b in reversed(bound):
            subprocess.run(["umount", "-l", b], check=False)
        subprocess.run(["umount", "-l", str(scratch)], check=False)
        for fd in real.values():
            os.close(fd)


def start(daemon, layers, name="dev.unit"):
    daemon.write_unit(name, unit_text(layers, SLEEPER))
    daemon.ctl("start", name)
    return int(daemon.show(name)["MainPID"])


def test_dev_nodes_are_made_in_the_sandbox_not_bound_from_the_host(fake_host_dev, daemon,
                                                                   layers):
    # the daemon must start over the fakes, as it would over the host's nodes
    daemon.stop()
    daemon.start()
    fakes = fake_host_dev["fakes"]
    pid = start(daemon, layers)
    mountinfo = sandbox_exec(pid, "cat", "/proc/self/mountinfo").stdout
    mounted = {l.split()[4] for l in mountinfo.splitlines()}
    for name, (major, minor) in NODES.items():
        out = sandbox_exec(pid, "stat", "-c", "%F|%t|%T|%a|%u|%g|%d|%i", f"/dev/{name}")
        kind, tmaj, tmin, mode, uid, gid, dev, ino = out.stdout.strip().split("|")
        assert kind == "character special file", out
        assert (int(tmaj, 16), int(tmin, 16)) == (major, minor)
        assert (mode, uid, gid) == ("666", "0", "0")
        fake = os.stat(fakes[name])
        real = os.fstat(fake_host_dev["real"][name])
        assert (int(dev), int(ino)) != (fake.st_dev, fake.st_ino), f"/dev/{name} is the host's"
        assert (int(dev), int(ino)) != (real.st_dev, real.st_ino), f"/dev/{name} is the host's"
        assert f"/dev/{name}" not in mounted, f"/dev/{name} is a bind mount"
    # and they work
    assert sandbox_exec(pid, "sh", "-c", "echo x > /dev/null").returncode == 0
    assert sandbox_exec(pid, "sh", "-c", "head -c 16 /dev/zero | wc -c").stdout.strip() == "16"
    assert sandbox_exec(pid, "sh", "-c", "head -c 16 /dev/urandom | wc -c").stdout.strip() == "16"
    r = sandbox_exec(pid, "sh", "-c", "echo x > /dev/full")
    assert r.returncode != 0 and "No space left" in r.stderr


def test_chmod_chown_rm_mknod_inside_leave_the_host_nodes_alone(fake_host_dev, daemon, layers):
    daemon.stop()
    daemon.start()
    fakes = fake_host_dev["fakes"]
    before = {n: node_state(os.stat(f)) for n, f in fakes.items()}
    pid = start(daemon, layers)
    # the payload itself (root with the default capabilities) attacks every node
    attack = "; ".join(f"chmod 600 /dev/{n}; chown 1:1 /dev/{n}; rm -f /dev/{n}; "
                       f"mknod /dev/{n} c 1 3; echo {n}-mknod=$?"
                       for n in NODES) + "; chmod 600 /dev/ptmx /dev/pts/ptmx; echo done"
    daemon.write_unit("attack.unit", unit_text(layers, f"/bin/sh -c '{attack}; exec sleep 1000'"))
    daemon.ctl("start", "attack.unit")
    daemon.wait_for("attack.unit", lambda p: "done" in daemon.log("attack.unit"))
    log = daemon.log("attack.unit")
    for n in NODES:
        assert f"{n}-mknod=1" in log  # no CAP_MKNOD in the default set
    # and from a full-capability process in the sandbox's namespaces as well
    for n in NODES:
        sandbox_exec(pid, "chmod", "600", f"/dev/{n}")
        sandbox_exec(pid, "chown", "1:1", f"/dev/{n}")
    assert sandbox_exec(pid, "stat", "-c", "%a %u", "/dev/null").stdout.strip() == "600 1"
    after = {n: node_state(os.stat(f)) for n, f in fakes.items()}
    assert after == before, "a host node changed"


@pytest.mark.parametrize("root", ["layers", "root-directory"])
def test_device_nodes_an_image_brings_cannot_be_opened(daemon, layers, tmp_path, root):
    """With no device cgroup, a node in an image (b 8:0 as /opt/disk) would be the host's
    disk: the root is nodev. char 1:3 stands in here for the disk."""
    probe = ("/bin/sh -c 'echo x > /opt/disk; echo w=$?; cat /opt/disk; echo r=$?; echo end; "
             "exec sleep 1000'")
    if root == "layers":
        img = tmp_path / "devimg"
        (img / "opt").mkdir(parents=True)
        os.mknod(img / "opt" / "disk", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        text = unit_text(layers, probe).replace(f"Layers={layers['base']} {layers['top']}",
                                                f"Layers={layers['base']} {img}")
    else:
        img = tmp_path / "devroot"
        make_busybox_layer(img)
        (img / "opt").mkdir()
        os.mknod(img / "opt" / "disk", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        text = f"[Sandbox]\nRootDirectory={img}\n[Service]\nExecStart={probe}\n"
    daemon.write_unit("devimg.unit", text)
    daemon.ctl("start", "devimg.unit")
    daemon.wait_for("devimg.unit", lambda p: "end" in daemon.log("devimg.unit"))
    log = daemon.log("devimg.unit")
    assert "w=1" in log and "r=1" in log and "Permission denied" in log, log
    # the sandbox's own /dev still works
    pid = int(daemon.show("devimg.unit")["MainPID"])
    assert sandbox_exec(pid, "sh", "-c", "echo x > /dev/null").returncode == 0


@pytest.mark.cgroup_v1
def test_where_mknod_is_refused_the_host_node_is_bound_read_only(fake_host_dev, daemon, layers):
    """A devices cgroup (v1) that denies mknod stands in for a user namespace without
    CAP_MKNOD: the init falls back to binding the host's nodes, read-only, so chmod and chown
    inside fail and the nodes still work."""
    # Each sandbox has its own group in every hierarchy, made below the slice's: a v1 devices
    # group copies its parent's rules when it is made, so the deny goes on the slice.
    slice_dir = Path("/sys/fs/cgroup/devices") / SLICE
    assert slice_dir.is_dir()  # made by the daemon at start-up
    try:
        (slice_dir / "devices.deny").write_text("c *:* m")
        (slice_dir / "devices.deny").write_text("b *:* m")
        pid = start(daemon, layers)
        mounts = {l.split()[4]: l.split()[5].split(",")
                  for l in sandbox_exec(pid, "cat", "/proc/self/mountinfo").stdout.splitlines()}
        fakes = fake_host_dev["fakes"]
        before = {n: node_state(os.stat(f)) for n, f in fakes.items()}
        for name, (major, minor) in NODES.items():
            assert "ro" in mounts[f"/dev/{name}"], name
            out = sandbox_exec(pid, "stat", "-c", "%F|%t|%T", f"/dev/{name}").stdout.strip()
            assert out == f"character special file|{major:x}|{minor:x}", out
            r = sandbox_exec(pid, "chmod", "600", f"/dev/{name}")
            assert r.returncode != 0 and "Read-only file system" in r.stderr, r
            r = sandbox_exec(pid, "chown", "1:1", f"/dev/{name}")
            assert r.returncode != 0, r
        assert sandbox_exec(pid, "sh", "-c", "echo x > /dev/null").returncode == 0
        assert sandbox_exec(pid, "sh", "-c", "head -c 16 /dev/zero | wc -c").stdout.strip() == "16"
        assert {n: node_state(os.stat(f)) for n, f in fakes.items()} == before
        # files are still masked by a verified null device
        assert sandbox_exec(pid, "cat", "/proc/interrupts").stdout == ""
        # a host node is bound only after checking it is the device it claims to be
        impostor = fakes["zero"].parent / "impostor"
        impostor.write_text("not a device\n")
        subprocess.run(["mount", "--bind", str(impostor), "/dev/zero"], check=True)
        try:
            daemon.write_unit("impostor.unit", unit_text(layers, SLEEPER))
            r = daemon.ctl("start", "impostor.unit", check=False)
        finally:
            subprocess.run(["umount", "-l", "/dev/zero"], check=True)
        assert r.returncode != 0 and "creating /dev/zero (step dev): No such device" in r.stderr
    finally:
        daemon.stop()
        if slice_dir.exists():  # the slice outlives this daemon if another test left it
            for rule in ("c *:* m", "b *:* m"):
                (slice_dir / "devices.allow").write_text(rule)
