# SPDX-License-Identifier: GPL-2.0-or-later
"""Image= units: the image's layers under the init and rw layers, its config's Entrypoint, Cmd,
Env, WorkingDir and User as defaults a unit may override, and the errors a user meets."""

import json
import os
import subprocess
import time

import pytest

from conftest import (SANDBOXCTL, import_into, make_busybox_layer, skopeo, umoci,
                      wait_output)


pytestmark = pytest.mark.layout_independent

@pytest.fixture(scope="module")
def app_layout(tmp_path_factory):
    """An OCI layout "app": busybox, whose config runs a script that prints what it sees."""
    d = tmp_path_factory.mktemp("applayout")
    lay, b = d / "L", d / "bundle"
    umoci("init", "--layout", lay)
    umoci("new", "--image", f"{lay}:app")
    umoci("unpack", "--image", f"{lay}:app", b)
    make_busybox_layer(b / "rootfs")
    (b / "rootfs/srv").mkdir()
    (b / "rootfs/srv/hello").write_text("from the image\n")
    (b / "rootfs/etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "app:x:1234:1234:app:/srv:/bin/sh\n")
    (b / "rootfs/etc/group").write_text("root:x:0:\napp:x:1234:\n")
    umoci("repack", "--image", f"{lay}:app", b)
    umoci("config", "--image", f"{lay}:app", "--config.entrypoint", "/bin/sh",
          "--config.entrypoint", "-c", "--config.cmd",
          'echo "FOO=$FOO BAR=$BAR pwd=$(pwd) id=$(id -u)"; cat hello; exec sleep 1000',
          "--config.env", "FOO=image", "--config.env", "BAR=image",
          "--config.workingdir", "/srv", "--config.user", "app")
    return lay


def test_an_image_unit_runs_the_images_config(daemon, app_layout):
    import_into(daemon, "import-oci", f"{app_layout}:app", "app")
    daemon.write_unit("app.unit", "[Sandbox]\nImage=app\n")
    daemon.ctl("start", "app.unit")
    out = wait_output(daemon, "app.unit", 2)
    assert out[0] == "FOO=image BAR=image pwd=/srv id=1234"
    assert out[1] == "from the image"
    show = daemon.show("app.unit")
    assert show["Image"] == "app:latest" and show["ActiveState"] == "active"
    daemon.ctl("stop", "app.unit")


def test_the_units_keys_win_over_the_images_config(daemon, app_layout):
    import_into(daemon, "import-oci", f"{app_layout}:app", "app:v1")
    daemon.write_unit("app.unit", "[Sandbox]\nImage=app:v1\nEnvironment=FOO=unit\n"
                      "WorkingDirectory=/\nUser=root\n[Service]\nExecStart=/bin/sh -c "
                      "'echo FOO=$FOO BAR=$BAR pwd=$(pwd) id=$(id -u); echo two; "
                      "exec sleep 1000'\n")
    daemon.ctl("start", "app.unit")
    out = wait_output(daemon, "app.unit", 2)
    assert out[0] == "FOO=unit BAR=image pwd=/ id=0"
    daemon.ctl("stop", "app.unit")


def test_writes_go_to_the_rw_layer_and_never_into_the_store(daemon, app_layout):
    import_into(daemon, "import-oci", f"{app_layout}:app", "app")
    store = daemon.state / "images"
    before = subprocess.run(["find", str(store / "layers"), "-printf", "%p %s %m\\n"],
                            capture_output=True, text=True, check=True).stdout
    daemon.write_unit("w.unit", "[Sandbox]\nImage=app\nUser=root\n[Service]\nExecStart=/bin/sh -c "
                      "'echo changed > /srv/hello; rm /bin/ls; touch /new; echo done; "
                      "exec sleep 1000'\n")
    daemon.ctl("start", "w.unit")
    wait_output(daemon, "w.unit", 1)
    daemon.ctl("stop", "w.unit")
    after = subprocess.run(["find", str(store / "layers"), "-printf", "%p %s %m\\n"],
                           capture_output=True, text=True, check=True).stdout
    assert before == after
    upper = daemon.state / "sandboxes" / "w.unit" / "upper"
    assert (upper / "srv/hello").read_text() == "changed\n"
    assert (upper / "new").exists()
    st = os.lstat(upper / "bin/ls")
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0  # an overlayfs whiteout


def test_a_missing_image_is_a_clear_start_error(daemon):
    daemon.write_unit("none.unit", "[Sandbox]\nImage=nosuch:1\n[Service]\nExecStart=/bin/true\n")
    r = daemon.ctl("start", "none.unit", check=False)
    assert r.returncode != 0
    assert "Image=nosuch:1: not in the image store" in r.stderr
    assert "sandboxctl image import" in r.stderr


def test_an_image_without_a_command_needs_execstart(daemon, tmp_path):
    root = tmp_path / "root"
    make_busybox_layer(root)
    tar = tmp_path / "root.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    import_into(daemon, "import-tar", tar, "plain")
    daemon.write_unit("plain.unit", "[Sandbox]\nImage=plain\n")
    r = daemon.ctl("start", "plain.unit", check=False)
    assert r.returncode != 0
    assert "Image=plain:latest: its config names no Entrypoint or Cmd; set ExecStart=" in r.stderr
    daemon.write_unit("plain.unit", "[Sandbox]\nImage=plain\n[Service]\n"
                      "ExecStart=/bin/sh -c 'echo ran; exec sleep 1000'\n")
    daemon.ctl("start", "plain.unit")
    assert wait_output(daemon, "plain.unit", 1) == ["ran"]
    daemon.ctl("stop", "plain.unit")


def test_a_layer_removed_from_the_store_is_named(daemon, app_layout):
    import_into(daemon, "import-oci", f"{app_layout}:app", "app")
    rec = json.loads((daemon.state / "images/images/app:latest").read_text())
    layer = daemon.state / "images/layers" / rec["layers"][0].split(":")[1]
    subprocess.run(["rm", "-rf", str(layer)], check=True)
    daemon.write_unit("app.unit", "[Sandbox]\nImage=app\n")
    r = daemon.ctl("start", "app.unit", check=False)
    assert r.returncode != 0
    assert f"layer {rec['layers'][0]} is missing from the store" in r.stderr


@pytest.mark.parametrize("text,why", [
    ("[Sandbox]\nImage=app\nLayers=/x\n", ":3: Layers=: cannot be combined with Image= (line 2)"),
    ("[Sandbox]\nImage=app\nRootDirectory=/\n",
     ":3: RootDirectory=: cannot be combined with Image= (line 2)"),
    ("[Sandbox]\nImage=App\n", ":2: Image=App: not a valid image name"),
    ("[Sandbox]\nImage=app:-x\n", ":2: Image=app:-x: not a valid tag"),
])
def test_bad_image_lines_are_verify_errors(daemon, text, why):
    path = daemon.write_unit("bad.unit", text)
    r = daemon.ctl("verify", str(path), check=False)
    assert r.returncode != 0 and why in r.stderr, r.stderr


# sandboxctl image import / list: the daemon runs the worker and answers when it is done.

def test_sandboxctl_imports_and_lists(daemon, app_layout, tmp_path):
    r = daemon.ctl("image", "import", f"{app_layout}:app", "web:1")
    assert r.stdout.splitlines()[-1] == "image web:1"
    root = tmp_path / "root"
    make_busybox_layer(root)
    tgz = tmp_path / "root.tar.gz"
    subprocess.run(["tar", "-C", str(root), "-czf", str(tgz), "."], check=True)
    # a relative path is resolved by the CLI
    r = subprocess.run([str(SANDBOXCTL), "image", "import", "root.tar.gz", "library/bb"],
                       cwd=tmp_path, env=dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket)),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = daemon.ctl("image", "list").stdout.splitlines()
    assert out[0].split() == ["IMAGE", "TAG", "ID", "LAYERS", "SIZE", "SHARED", "CREATED"]
    rows = {tuple(line.split()[:2]): line.split() for line in out[1:] if line and
            not line.endswith("listed.")}
    assert rows[("web", "1")][3] == "1" and rows[("library/bb", "latest")][3] == "1"
    assert rows[("web", "1")][5] == "0B" and rows[("library/bb", "latest")][5] == "0B"
    assert out[-1] == "2 images listed."
    daemon.write_unit("web.unit", "[Sandbox]\nImage=web:1\n")
    daemon.ctl("start", "web.unit")
    assert wait_output(daemon, "web.unit", 2)[1] == "from the image"
    daemon.ctl("stop", "web.unit")


@pytest.mark.parametrize("source,ref,why", [
    ("/nonexistent/x.tar", "x", "/nonexistent/x.tar: No such file or directory"),
    ("{tmp}:v1", "x", "a plain directory (no oci-layout file) is a root file system: it has "
     "no ':REF' to pick"),
    ("{tmp}/t.tar", "Bad", "Bad: not a valid image name"),
    ("{tmp}/t.tar", "x", "t.tar: not a tar: Unrecognized archive format"),
])
def test_import_errors_are_clear_and_leave_nothing(daemon, tmp_path, source, ref, why):
    (tmp_path / "t.tar").write_text("not a tar at all\n" * 10)
    r = daemon.ctl("image", "import", source.format(tmp=tmp_path), ref, check=False)
    assert r.returncode != 0 and why in r.stderr, r.stderr
    store = daemon.state / "images"
    for sub in ("images", "layers", "tmp"):
        assert not (store / sub).exists() or os.listdir(store / sub) == []


def test_a_daemon_killed_during_an_import_leaves_a_consistent_store(daemon, tmp_path):
    """sandboxd is SIGKILLed while its worker is in the middle of a layer (fed from a FIFO we
    stop writing); the worker then sees its input end early and fails. A new sandboxd finds
    no partial layer or record, and the same import succeeds."""
    root = tmp_path / "root"
    make_busybox_layer(root)
    tar = subprocess.run(["tar", "-C", str(root), "-cf", "-", "."], capture_output=True,
                         check=True).stdout
    fifo = tmp_path / "feed.tar"
    os.mkfifo(fifo)
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    ctl = subprocess.Popen([str(SANDBOXCTL), "image", "import", str(fifo), "fed"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "wb") as w:  # opens once the worker has opened its end
        w.write(tar[:len(tar) // 2])
        w.flush()
        store_tmp = daemon.state / "images" / "tmp"
        deadline = time.monotonic() + 10
        while not store_tmp.exists() or not os.listdir(store_tmp):
            assert time.monotonic() < deadline, "the worker never began the layer"
            time.sleep(0.01)
        daemon.proc.kill()
        daemon.proc.wait()
    out, err = ctl.communicate(timeout=30)
    assert ctl.returncode != 0
    # the orphaned worker fails on its truncated input and removes its work
    deadline = time.monotonic() + 10
    while os.listdir(store_tmp):
        assert time.monotonic() < deadline, os.listdir(store_tmp)
        time.sleep(0.05)
    store = daemon.state / "images"
    assert os.listdir(store / "layers") == [] and os.listdir(store / "images") == []
    daemon.start()
    plain = tmp_path / "plain.tar"
    plain.write_bytes(tar)
    r = daemon.ctl("image", "import", plain, "fed")
    assert r.stdout.splitlines()[-1] == "image fed:latest"
    assert len(os.listdir(store / "layers")) == 1


def test_a_directory_imports_and_runs_and_its_links_stay_links(daemon, tmp_path):
    """A root file system as a directory: one layer, read without following any link in it
    (a link to a host file or to / is kept as a link, never copied through)."""
    root = tmp_path / "rootdir"
    make_busybox_layer(root)
    secret = tmp_path / "host-secret"
    secret.write_text("HOST-SECRET-2\n")
    (root / "srv").mkdir()
    (root / "srv/hello").write_text("from a directory\n")
    (root / "srv/leak").symlink_to(secret)
    (root / "srv/all").symlink_to("/")
    os.link(root / "srv/hello", root / "srv/hard")
    os.chown(root / "srv/hello", 33, 50)
    r = daemon.ctl("image", "import", root, "fromdir:1")
    assert r.stdout.splitlines()[-1] == "image fromdir:1"
    rec = json.loads(daemon.ctl("image", "inspect", "fromdir:1").stdout)
    assert rec["source"] == "rootfs-dir" and len(rec["layers"]) == 1
    layer = daemon.state / "images/layers" / rec["layers"][0][7:] / "diff"
    assert os.readlink(layer / "srv/leak") == str(secret)
    assert os.readlink(layer / "srv/all") == "/"
    assert os.stat(layer / "srv/hard").st_ino == os.stat(layer / "srv/hello").st_ino
    assert os.stat(layer / "srv/hello").st_uid == 33
    found = subprocess.run(["grep", "-rl", "HOST-SECRET-2", str(daemon.state / "images")],
                           capture_output=True, text=True)
    assert found.stdout == ""
    daemon.write_unit("dir.unit", "[Sandbox]\nImage=fromdir:1\n[Service]\nExecStart=/bin/sh -c "
                      "'cat /srv/hello; stat -c %u /srv/hello; exec sleep 1000'\n")
    daemon.ctl("start", "dir.unit")
    assert wait_output(daemon, "dir.unit", 2) == ["from a directory", "33"]
    daemon.ctl("stop", "dir.unit")


def test_sandboxctl_imports_a_docker_archive_and_runs_it(daemon, app_layout, tmp_path):
    da = tmp_path / "app.tar"
    skopeo(tmp_path, "copy", f"oci:{app_layout}:app", f"docker-archive:{da}:web:3")
    daemon.ctl("image", "import", f"{da}:web:3", "web:3")
    daemon.write_unit("web.unit", "[Sandbox]\nImage=web:3\n")
    daemon.ctl("start", "web.unit")
    assert wait_output(daemon, "web.unit", 2)[0] == "FOO=image BAR=image pwd=/srv id=1234"
    daemon.ctl("stop", "web.unit")


# inspect, tag, remove, prune

def rootfs_tar(tmp_path, name, marker):
    root = tmp_path / name
    make_busybox_layer(root)
    (root / "marker").write_text(marker + "\n")
    tar = tmp_path / f"{name}.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    return tar


def layer_ids(daemon):
    return sorted(os.listdir(daemon.state / "images" / "layers"))


def test_inspect_and_tag(daemon, app_layout):
    daemon.ctl("image", "import", f"{app_layout}:app", "app:1")
    info = json.loads(daemon.ctl("image", "inspect", "app:1").stdout)
    assert info["name"] == "app" and info["tag"] == "1"
    assert [d["present"] for d in info["layer_details"]] == [True]
    assert info["config"]["config"]["User"] == "app"
    assert daemon.ctl("image", "tag", "app:1", "library/app").stdout == "tagged library/app:latest\n"
    listed = daemon.ctl("image", "list").stdout
    assert "library/app" in listed and listed.strip().endswith("2 images listed.")
    # the same layer under two names: all of it shared, stored once
    rows = [line.split() for line in listed.splitlines()[1:3]]
    assert rows[0][4] == rows[0][5] == rows[1][5] != "0B"
    r = daemon.ctl("image", "inspect", "nosuch", check=False)
    assert r.returncode != 0 and "nosuch:latest: no such image" in r.stderr


def test_remove_is_refused_while_a_unit_uses_the_image(daemon, app_layout):
    daemon.ctl("image", "import", f"{app_layout}:app", "app")
    unit = daemon.write_unit("app.unit", "[Sandbox]\nImage=app\n")
    daemon.ctl("start", "app.unit")
    r = daemon.ctl("image", "remove", "app", check=False)
    assert r.returncode != 0 and "app:latest is used by app.unit, which is running" in r.stderr
    daemon.ctl("stop", "app.unit")
    r = daemon.ctl("image", "remove", "app", check=False)
    assert r.returncode != 0 and f"named by Image= in {unit}" in r.stderr
    assert "--force" in r.stderr
    assert daemon.ctl("--force", "image", "remove", "app").stdout == "removed app:latest\n"
    assert "0 images listed." in daemon.ctl("image", "list").stdout
    assert len(layer_ids(daemon)) == 1  # the layers wait for prune


def test_prune_frees_exactly_the_unreferenced_layers(daemon, app_layout, tmp_path):
    daemon.ctl("image", "import", f"{app_layout}:app", "app")
    one = daemon.ctl("image", "import", rootfs_tar(tmp_path, "one", "1"), "one").stdout
    two = daemon.ctl("image", "import", rootfs_tar(tmp_path, "two", "2"), "two").stdout
    one_id, two_id = one.split()[1], two.split()[1]
    assert len(layer_ids(daemon)) == 3
    daemon.ctl("image", "remove", "one")
    out = daemon.ctl("image", "prune").stdout.splitlines()
    assert out[0].startswith(f"removed layer {one_id} ") and out[-1].startswith("freed ")
    assert len(out) == 2
    assert two_id.split(":")[1] in layer_ids(daemon) and len(layer_ids(daemon)) == 2
    assert daemon.ctl("image", "prune").stdout == "freed 0\n"


def test_prune_keeps_the_layers_of_a_running_sandbox(daemon, tmp_path):
    """The running sandbox's image is re-imported with other content: its old layer is in no
    record, but its overlay still stands on it."""
    daemon.ctl("image", "import", rootfs_tar(tmp_path, "v1", "v1"), "svc")
    old = layer_ids(daemon)
    daemon.write_unit("svc.unit", "[Sandbox]\nImage=svc\n[Service]\n"
                      "ExecStart=/bin/sh -c 'cat /marker; exec sleep 1000'\n")
    daemon.ctl("start", "svc.unit")
    daemon.ctl("image", "import", rootfs_tar(tmp_path, "v2", "v2"), "svc")
    assert daemon.ctl("image", "prune").stdout == "freed 0\n"
    assert set(old) <= set(layer_ids(daemon))
    assert wait_output(daemon, "svc.unit", 1) == ["v1"]
    daemon.ctl("stop", "svc.unit")
    out = daemon.ctl("image", "prune").stdout
    assert f"removed layer sha256:{old[0]} " in out
    daemon.ctl("start", "svc.unit")  # the new record's layer
    assert wait_output(daemon, "svc.unit", 2)[-1] == "v2"
    daemon.ctl("stop", "svc.unit")


def test_prune_never_removes_the_layers_of_a_readopted_sandbox(daemon, tmp_path, init_reaper):
    """After a daemon restart the sandbox runs on layers this sandboxd did not set up; its
    image is then re-imported with other content. A prune must not take the old layer from
    under it (the prune is refused), checked on disk and by the payload still reading it."""
    daemon.stop()
    daemon.start(keep_running=True)
    daemon.ctl("image", "import", rootfs_tar(tmp_path, "v1", "v1"), "svc")
    old = layer_ids(daemon)
    daemon.write_unit("svc.unit", "[Sandbox]\nImage=svc\n[Service]\n"
                      "ExecStart=/bin/sh -c 'cat /marker; exec sleep 1000'\n")
    daemon.ctl("start", "svc.unit")
    daemon.stop()
    daemon.start()
    assert daemon.show("svc.unit")["ActiveState"] == "active"
    daemon.ctl("image", "import", rootfs_tar(tmp_path, "v2", "v2"), "svc")
    r = daemon.ctl("image", "prune", check=False)
    assert r.returncode != 0 and "svc.unit runs on an image whose layers" in r.stderr
    assert set(old) <= set(layer_ids(daemon))
    pid = daemon.show("svc.unit")["MainPID"]
    with open(f"/proc/{pid}/root/marker") as f:
        assert f.read() == "v1\n"
    daemon.ctl("stop", "svc.unit")
    assert "removed layer" in daemon.ctl("image", "prune").stdout


def test_offline_verify_only_warns_about_a_missing_image(daemon, tmp_path):
    unit = tmp_path / "v.unit"
    unit.write_text("[Unit]\nDescription=x\n[Sandbox]\nImage=later:2\n")
    store = daemon.state / "images"
    r = subprocess.run([str(SANDBOXCTL), "verify", "--image-store", str(store), str(unit)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (f"{unit}:4: Image=later:2: warning: not in the image store {store} (no such image);"
            f" import it with 'sandboxctl image import SOURCE later:2' before a start") in r.stderr
    root = tmp_path / "root"
    make_busybox_layer(root)
    daemon.ctl("image", "import", root, "later:2")
    r = subprocess.run([str(SANDBOXCTL), "verify", "--image-store", str(store), str(unit)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_import_shows_progress_on_a_terminal_only(daemon, app_layout, tmp_path):
    import pty
    env = dict(os.environ, SANDBOXD_SOCKET=str(daemon.socket))
    master, slave = pty.openpty()
    try:
        r = subprocess.run([str(SANDBOXCTL), "image", "import", f"{app_layout}:app", "prog"],
                           stdout=subprocess.PIPE, stderr=slave, env=env, timeout=120)
        os.close(slave)
        slave = -1
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert r.returncode == 0
    assert b"Importing layer 1/1: " in seen and seen.endswith(b"\r\x1b[K"), seen
    assert r.stdout.decode().splitlines()[-1] == "image prog:latest"
    # not a terminal: no progress, the same result
    r = daemon.ctl("image", "import", f"{app_layout}:app", "prog2")
    assert "Importing" not in r.stderr and r.stdout.splitlines()[-1] == "image prog2:latest"


@pytest.mark.parametrize("compress", [["gzip", "-n"], ["zstd", "-q"], ["xz"], None])
def test_rootfs_tarballs_of_each_compression_import_and_run(daemon, tmp_path, compress):
    root = tmp_path / "root"
    make_busybox_layer(root)
    (root / "etc/motd").write_text(f"packed with {compress[0] if compress else 'none'}\n")
    tar = tmp_path / "root.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    if compress:
        subprocess.run([*compress, str(tar)], check=True)
        tar = next(p for p in tmp_path.iterdir() if p.name.startswith("root.tar."))
    daemon.ctl("image", "import", tar, "packed")
    daemon.write_unit("packed.unit", "[Sandbox]\nImage=packed\n[Service]\n"
                      "ExecStart=/bin/sh -c 'cat /etc/motd; exec sleep 1000'\n")
    daemon.ctl("start", "packed.unit")
    assert wait_output(daemon, "packed.unit") == [(root / "etc/motd").read_text().strip()]
    daemon.ctl("stop", "packed.unit")
