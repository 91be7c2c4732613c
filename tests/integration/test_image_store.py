# SPDX-License-Identifier: GPL-2.0-or-later
"""The image store (src/image/store.c) through its worker, sandboxd-image: layers shared by
content, records written crash-safely, a SIGKILLed import leaving nothing a later one trips
over."""

import gzip
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BUILD, make_busybox_layer

IMAGE = BUILD / "src" / "image" / "sandboxd-image"


def run(store, *args, input=None, check=True):
    r = subprocess.run([str(IMAGE), "--store", str(store), *map(str, args)], input=input,
                       capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def rootfs_tgz(tmp_path_factory):
    d = tmp_path_factory.mktemp("rootfs")
    make_busybox_layer(d / "root")
    tgz = d / "root.tar.gz"
    subprocess.run(["tar", "-C", str(d / "root"), "-czf", str(tgz), "."], check=True)
    return tgz


def layer_dirs(store):
    return sorted(os.listdir(store / "layers"))


def test_a_rootfs_tarball_becomes_a_one_layer_image(tmp_path, rootfs_tgz):
    store = tmp_path / "store"
    r = run(store, "import-tar", rootfs_tgz, "busybox")
    kind, diff_id, state, size = r.stdout.splitlines()[0].split()
    assert (kind, state) == ("layer", "new")
    assert r.stdout.splitlines()[-1] == "image busybox:latest"
    rec = json.loads((store / "images" / "busybox:latest").read_text())
    assert rec["layers"] == [diff_id] and rec["name"] == "busybox" and rec["tag"] == "latest"
    # the diff_id is the uncompressed tar's digest, the source digest the file's
    raw = rootfs_tgz.read_bytes()
    assert diff_id == "sha256:" + hashlib.sha256(gzip.decompress(raw)).hexdigest()
    assert rec["source_digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    diff = store / "layers" / diff_id.split(":")[1] / "diff"
    assert (diff / "bin" / "busybox").is_file()
    assert int((diff.parent / "size").read_text()) == int(size)
    assert os.listdir(store / "tmp") == []


def test_two_images_of_the_same_layer_store_it_once(tmp_path, rootfs_tgz):
    store = tmp_path / "store"
    run(store, "import-tar", rootfs_tgz, "one")
    before = subprocess.run(["du", "-sb", str(store / "layers")], capture_output=True,
                            text=True, check=True).stdout.split()[0]
    r = run(store, "import-tar", rootfs_tgz, "library/two:v2")
    assert " present " in r.stdout.splitlines()[0]
    after = subprocess.run(["du", "-sb", str(store / "layers")], capture_output=True,
                           text=True, check=True).stdout.split()[0]
    assert len(layer_dirs(store)) == 1 and before == after
    assert sorted(os.listdir(store / "images")) == ["library+two:v2", "one:latest"]
    assert os.listdir(store / "tmp") == []


@pytest.mark.parametrize("ref,why", [("Upper", "not a valid image name"),
                                     ("a//b", "not a valid image name"),
                                     ("-a", "not a valid image name"),
                                     ("a:-tag", "not a valid tag"),
                                     ("a:" + "t" * 129, "not a valid tag"),
                                     ("../../etc/x", "not a valid image name")])
def test_bad_names_are_refused_before_anything_is_written(tmp_path, rootfs_tgz, ref, why):
    store = tmp_path / "store"
    r = run(store, "import-tar", rootfs_tgz, ref, check=False)
    assert r.returncode == 1 and why in r.stderr
    assert layer_dirs(store) == [] and os.listdir(store / "images") == []


def test_a_refused_layer_leaves_no_layer_and_no_record(tmp_path):
    store = tmp_path / "store"
    evil = tmp_path / "evil.tar"
    subprocess.run(["/usr/bin/python3", "-c", "import tarfile,io,sys\n"
                    "t=tarfile.open(sys.argv[1],'w')\n"
                    "i=tarfile.TarInfo('ok');i.size=2;t.addfile(i,io.BytesIO(b'ok'))\n"
                    "i=tarfile.TarInfo('../escape');i.size=1;t.addfile(i,io.BytesIO(b'x'))\n"
                    "t.close()", str(evil)], check=True)
    r = run(store, "import-tar", evil, "evil", check=False)
    assert r.returncode == 1 and "entry '../escape'" in r.stderr
    assert layer_dirs(store) == [] and os.listdir(store / "images") == []
    assert os.listdir(store / "tmp") == []
    assert not (tmp_path / "escape").exists()


def test_a_sigkilled_import_leaves_nothing_a_later_import_trips_over(tmp_path, rootfs_tgz):
    """The importer is killed while it unpacks (its input is a pipe we stop feeding); no layer
    and no record may count as present, and the same import then succeeds."""
    store = tmp_path / "store"
    data = rootfs_tgz.read_bytes()
    p = subprocess.Popen([str(IMAGE), "--store", str(store), "import-tar", "-", "killed"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(data[:len(data) // 2])
    p.stdin.flush()
    deadline = time.monotonic() + 10
    # wait until it has begun writing the layer under tmp/
    while not (store / "tmp").exists() or not any(os.scandir(store / "tmp")):
        assert time.monotonic() < deadline, "the import never started unpacking"
        time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    p.stdin.close()
    p.stdout.close()
    p.stderr.close()
    assert layer_dirs(store) == [] and os.listdir(store / "images") == []
    assert os.listdir(store / "tmp") != []  # the partial layer, under its temporary name
    r = run(store, "import-tar", rootfs_tgz, "killed")
    assert " new " in r.stdout.splitlines()[0]
    assert len(layer_dirs(store)) == 1 and os.listdir(store / "images") == ["killed:latest"]
    assert os.listdir(store / "tmp") == []  # the next open removed the leftovers


def test_an_import_in_progress_keeps_its_work_from_another_opener(tmp_path, rootfs_tgz):
    """A second importer opening the store while the first still writes must not remove the
    first one's temporary layer."""
    store = tmp_path / "store"
    data = rootfs_tgz.read_bytes()
    p = subprocess.Popen([str(IMAGE), "--store", str(store), "import-tar", "-", "slow"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(data[:len(data) // 2])
        p.stdin.flush()
        deadline = time.monotonic() + 10
        while not (store / "tmp").exists() or not any(os.scandir(store / "tmp")):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        run(store, "import-tar", rootfs_tgz, "fast")
        assert os.listdir(store / "tmp") != []
        p.stdin.write(data[len(data) // 2:])
        p.stdin.close()
        assert p.wait(timeout=60) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    assert sorted(os.listdir(store / "images")) == ["fast:latest", "slow:latest"]
    assert len(layer_dirs(store)) == 1 and os.listdir(store / "tmp") == []
