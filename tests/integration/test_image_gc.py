# SPDX-License-Identifier: GPL-2.0-or-later
"""sandboxd.conf [Images]: StoreMaxSize= keeps the store under a limit after each import,
commit and stop, least recently used first, never taking an image a unit file names, a
sandbox runs on, or that was just imported; ImportMaxSize= bounds what one import unpacks."""

import gzip
import io
import os
import tarfile
import time

import pytest

from conftest import started_daemon

pytestmark = pytest.mark.layout_independent

MIB = 1 << 20


@pytest.fixture
def gc_daemon(request, tmp_path):
    with started_daemon(tmp_path, config=request.param) as d:
        yield d


def image_tar(tmp_path, name, size=MIB):
    """A one-file rootfs tar of size random bytes (each image its own layer)."""
    path = tmp_path / f"{name}.tar"
    with tarfile.open(path, "w") as tf:
        data = os.urandom(size)
        ti = tarfile.TarInfo("payload")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    return path


def images(d):
    return sorted(p.name for p in (d.state / "images/images").iterdir())


def wait_log(d, text):
    deadline = time.monotonic() + 15
    while text not in d.output.read_text():
        assert time.monotonic() < deadline, d.output.read_text()[-3000:]
        time.sleep(0.05)


def store_bytes(d):
    return sum(int((p / "size").read_text()) for p in (d.state / "images/layers").iterdir())


@pytest.mark.parametrize("gc_daemon", ["[Images]\nStoreMaxSize=3.5M\n"], indirect=True)
def test_least_recently_used_goes_first_and_named_images_stay(gc_daemon, tmp_path):
    d = gc_daemon
    for name in ("a", "b", "c"):
        d.ctl("image", "import", image_tar(tmp_path, name), name)
        time.sleep(0.02)  # distinct mtimes
    assert images(d) == ["a:latest", "b:latest", "c:latest"]  # 3.1 MiB: under the limit
    d.write_unit("a.unit", "[Sandbox]\nImage=a\n[Service]\nExecStart=/payload\n")
    # a start of b (it fails: the image has nothing to run) uses b after c was imported: c is
    # now the least recently used
    d.write_unit("b.unit", "[Sandbox]\nImage=b\n[Service]\nExecStart=/payload\n")
    d.ctl("start", "b.unit", check=False)
    (d.units / "b.unit").unlink()
    d.ctl("image", "import", image_tar(tmp_path, "d"), "d")
    wait_log(d, "StoreMaxSize=: removed image c:latest")
    assert images(d) == ["a:latest", "b:latest", "d:latest"]
    assert store_bytes(d) <= 3.5 * MIB
    assert "freed" in d.output.read_text()


@pytest.mark.parametrize("gc_daemon", ["[Images]\nStoreMaxSize=1.5M\n"], indirect=True)
def test_running_and_just_imported_images_stay_until_a_stop_frees_them(gc_daemon, tmp_path):
    from conftest import make_busybox_layer
    d = gc_daemon
    root = tmp_path / "root"
    make_busybox_layer(root)
    big = root / "big"
    big.write_bytes(os.urandom(MIB))
    d.ctl("image", "import", root, "run")  # busybox (2 MiB) + 1 MiB: over the limit alone
    wait_log(d, "still ")  # nothing to take: it was just imported
    d.write_unit("r.unit", "[Sandbox]\nImage=run\n[Service]\nExecStart=/bin/sleep 1000\n")
    d.ctl("start", "r.unit")
    (d.units / "r.unit").unlink()  # now only the running sandbox holds it
    d.ctl("image", "import", image_tar(tmp_path, "b"), "b")
    time.sleep(0.5)
    assert images(d) == ["b:latest", "run:latest"]  # running / just imported
    mark = len(d.output.read_text())
    d.ctl("stop", "r.unit")
    wait_log(d, "StoreMaxSize=: removed image run:latest")
    assert images(d) == ["b:latest"]
    assert "StoreMaxSize=: removed layer" in d.output.read_text()[mark:]


@pytest.mark.parametrize("gc_daemon", ["[Images]\nImportMaxSize=1M\n"], indirect=True)
def test_import_max_size_stops_a_gzip_bomb(gc_daemon, tmp_path):
    d = gc_daemon
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w") as tf:
        ti = tarfile.TarInfo("zeros")
        ti.size = 8 * MIB
        tf.addfile(ti, io.BytesIO(bytes(ti.size)))
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(big.getvalue(), compresslevel=9))
    r = d.ctl("image", "import", bomb, "bomb", check=False)
    assert r.returncode != 0 and "limit of 1048576" in r.stderr, r.stderr
    assert images(d) == [] and os.listdir(d.state / "images/layers") == []
    assert os.listdir(d.state / "images/tmp") == []


@pytest.mark.parametrize("text,why", [
    ("[Images]\nStoreMaxSize=lots\n", "StoreMaxSize=lots: expected a size like 20G"),
    ("[Images]\nStoreMaxSize=0\n", "StoreMaxSize=0: a size of 0 would hold nothing"),
    ("[Images]\nImportMaxSize=-1\n", "ImportMaxSize=-1: expected a size"),
    ("[Image]\nStoreMaxSize=1G\n", "[Network], [Images] or [Logs]"),
])
def test_bad_images_settings_are_named(tmp_path, text, why):
    from conftest import SANDBOXCTL
    import subprocess
    conf = tmp_path / "sandboxd.conf"
    conf.write_text(text)
    unit = tmp_path / "x.unit"
    unit.write_text("[Sandbox]\nRootDirectory=/\n[Service]\nExecStart=/bin/true\n")
    r = subprocess.run([str(SANDBOXCTL), "verify", "--config", str(conf), str(unit)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and why in r.stderr, r.stderr
    assert f"{conf}:2" in r.stderr or f"{conf}:1" in r.stderr
