# SPDX-License-Identifier: GPL-2.0-or-later
"""User= and Group= against a hostile image: ids above 2^31-1 are refused (4294967295 is
(uid_t) -1, which setresuid() takes as "unchanged": the payload stayed root), and the image's
/etc/passwd and /etc/group are read bounded: a FIFO or /dev/zero fails at once with a clear
error instead of hanging the start or growing the init until the OOM killer."""

import os

import pytest

from conftest import unit_text

# the payload leaves a marker in a host directory: its absence proves it never ran
MARKER_CMD = "/bin/sh -c 'touch /out/ran; exec sleep 1000'"


def image_with(tmp_path, passwd=None, group=None):
    """A layer above the busybox base that replaces /etc/passwd and /etc/group: text, or a
    callable that makes the file at the path it is given."""
    layer = tmp_path / "hostile-layer"
    (layer / "etc").mkdir(parents=True)
    for name, what in (("passwd", passwd), ("group", group)):
        if what is None:
            continue
        if callable(what):
            what(layer / "etc" / name)
        else:
            (layer / "etc" / name).write_text(what)
    return layer


def start_refused(daemon, layers, tmp_path, layer, sandbox, name="id.unit"):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    # MemoryMax= keeps a regression (reading /dev/zero whole) from eating the host's memory
    text = unit_text(layers, MARKER_CMD, sandbox=f"Volume={out}:/out\n{sandbox}",
                     resources="MemoryMax=64M", service="TimeoutStartSec=15s")
    text = text.replace(f"Layers={layers['base']} {layers['top']}",
                        f"Layers={layers['base']} {layer}")
    daemon.write_unit(name, text)
    r = daemon.ctl("start", name, check=False, timeout=30)
    assert r.returncode != 0, r.stdout
    # a unit refused at load is not even loaded
    show = daemon.ctl("show", name, check=False)
    assert "ActiveState=active" not in show.stdout.splitlines()
    assert not (out / "ran").exists(), "the payload ran"
    return r.stderr


@pytest.mark.parametrize("entry", [
    "app:x:4294967295:4294967295:app:/:/bin/sh",
    "app:x:2147483648:100:app:/:/bin/sh",
    "app:x:1000:4294967295:app:/:/bin/sh",  # gid -1 would leave the root group
])
def test_passwd_id_above_2_31_is_refused(daemon, layers, tmp_path, entry):
    layer = image_with(tmp_path, passwd="root:x:0:0:root:/root:/bin/sh\n" + entry + "\n")
    err = start_refused(daemon, layers, tmp_path, layer, "User=app")
    assert "User=app: its uid or gid in the sandbox's /etc/passwd is above 2147483647" in err
    assert "(step user)" in err


def test_group_id_above_2_31_is_refused(daemon, layers, tmp_path):
    layer = image_with(tmp_path, group="root:x:0:\nevil:x:4294967295:\n")
    err = start_refused(daemon, layers, tmp_path, layer, "Group=evil")
    assert "Group=evil: its gid in the sandbox's /etc/group is above 2147483647" in err
    # a supplementary group of the user counts too
    layer2 = tmp_path / "l2"
    (layer2 / "etc").mkdir(parents=True)
    (layer2 / "etc" / "group").write_text("root:x:0:\nevil:x:4294967295:www\n")
    err = start_refused(daemon, layers, tmp_path, layer2, "User=www", name="id2.unit")
    assert "User=www: a group of the sandbox's /etc/group listing it has a gid above" in err


def test_numeric_user_above_2_31_is_refused_before_anything_runs(daemon, layers, tmp_path):
    err = start_refused(daemon, layers, tmp_path, layers["top"], "User=4294967295")
    assert ":7: User=4294967295: numeric ids above 2147483647 are refused" in err


@pytest.mark.parametrize("file,make", [
    ("passwd", lambda p: p.symlink_to("/dev/zero")),
    ("passwd", lambda p: os.mkfifo(p)),
    ("group", lambda p: p.symlink_to("/dev/zero")),
    ("group", lambda p: os.mkfifo(p)),
    ("passwd", lambda p: p.mkdir()),
], ids=["passwd-dev-zero", "passwd-fifo", "group-dev-zero", "group-fifo", "passwd-dir"])
def test_account_file_that_is_not_a_regular_file_fails_fast(daemon, layers, tmp_path, file,
                                                            make):
    layer = image_with(tmp_path, **{file: make})
    # TimeoutStartSec=15s and MemoryMax=64M: a blocking open or an unbounded read ends in a
    # timeout or an OOM kill, never in this message
    err = start_refused(daemon, layers, tmp_path, layer, "User=www")
    assert f"reading the sandbox's /etc/{file}: not a regular file (step user)" in err


def test_account_file_larger_than_the_cap_is_refused(daemon, layers, tmp_path):
    def sparse(p):
        with open(p, "wb") as f:
            f.truncate(4 * 1024 * 1024 + 1)
    layer = image_with(tmp_path, passwd=sparse)
    err = start_refused(daemon, layers, tmp_path, layer, "User=www")
    assert "reading the sandbox's /etc/passwd: larger than 4 MiB (step user)" in err


def test_passwd_symlink_stays_inside_the_root(daemon, layers, tmp_path):
    """An absolute symlink in the image is the image's file, not the host's: the host's
    /etc/passwd has no user of this name."""
    def link(p):
        p.symlink_to("/etc/users")
        (p.parent / "users").write_text("root:x:0:0::/root:/bin/sh\n"
                                        "imgonly:x:4242:4242::/:/bin/sh\n")
    layer = image_with(tmp_path, passwd=link)
    daemon.write_unit("link.unit", unit_text(layers, "/bin/sh -c 'id; exec sleep 1000'",
                                             sandbox="User=imgonly").replace(
        f"Layers={layers['base']} {layers['top']}", f"Layers={layers['base']} {layer}"))
    daemon.ctl("start", "link.unit")
    daemon.wait_for("link.unit", lambda p: "uid=" in daemon.log("link.unit"))
    assert "uid=4242(imgonly) gid=4242" in daemon.log("link.unit")
