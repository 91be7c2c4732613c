# SPDX-License-Identifier: GPL-2.0-or-later
"""The image store (src/image/store.c) through its worker, sandboxd-image: layers shared by
content, records written crash-safely, a SIGKILLed import leaving nothing a later one trips
over."""

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time

import pytest

from conftest import BUILD, make_busybox_layer, skopeo, umoci

pytestmark = pytest.mark.layout_independent

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


# OCI image layouts, made with umoci and skopeo as users get them.

def setcap_raw(path):
    # struct vfs_cap_data revision 2, effective, permitted = CAP_NET_RAW
    os.setxattr(path, "security.capability", (0x02000001).to_bytes(4, "little") +
                (1 << 13).to_bytes(4, "little") + bytes(12))


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """Layout L with t1 (busybox) and t2 (t1 + a layer that deletes, makes opaque, links,
    sets ids and capabilities, and has a FIFO, a long path and a non-UTF-8 name)."""
    d = tmp_path_factory.mktemp("oci")
    lay, b = d / "L", d / "bundle"
    umoci("init", "--layout", lay)
    umoci("new", "--image", f"{lay}:t1")
    umoci("unpack", "--image", f"{lay}:t1", b)
    make_busybox_layer(b / "rootfs")
    os.makedirs(b / "rootfs/opq/sub")
    (b / "rootfs/opq/old").write_text("old\n")
    (b / "rootfs/gone").write_text("gone\n")
    umoci("repack", "--image", f"{lay}:t1", b)
    umoci("config", "--image", f"{lay}:t1", "--config.entrypoint", "/bin/sh",
           "--config.env", "FOO=bar", "--config.workingdir", "/tmp")
    subprocess.run(["rm", "-rf", str(b)], check=True)
    umoci("unpack", "--image", f"{lay}:t1", b)
    r = b / "rootfs"
    os.unlink(r / "gone")
    subprocess.run(["rm", "-rf", str(r / "opq")], check=True)
    os.makedirs(r / "opq")
    (r / "opq/new").write_text("new\n")
    (r / "suid").write_text("#!/bin/sh\n")
    os.chmod(r / "suid", 0o4755)
    os.chown(r / "suid", 0, 0)
    os.link(r / "suid", r / "suid-hard")
    os.symlink("/bin/busybox", r / "abs-link")
    os.symlink("../bin/busybox", r / "tmp/rel-link")
    os.mkfifo(r / "fifo")
    long_dir = r / "long" / "/".join(["d" * 50] * 5)
    os.makedirs(long_dir)
    (long_dir / "file").write_text("long\n")
    with open(os.path.join(os.fsencode(r), b"caf\xe9"), "w") as f:
        f.write("latin-1 name\n")
    (r / "owned").write_text("owned\n")
    os.chown(r / "owned", 1234, 5678)
    (r / "cap").write_bytes(b"\x7fELF")
    setcap_raw(r / "cap")
    umoci("repack", "--image", f"{lay}:t2", b)
    return lay


def merged_listing(tmp_path, store, diff_ids):
    """The tree an overlay of the image's layers shows, as conftest-free text lines."""
    lowers = ":".join(str(store / "layers" / i.split(":")[1] / "diff") for i in reversed(diff_ids))
    mnt = tmp_path / "merged"
    mnt.mkdir(exist_ok=True)
    return tree_of(["unshare", "-m", "sh", "-c",
                    f"mount -t overlay overlay -o ro,lowerdir={lowers} {mnt} && cd {mnt} && "
                    f"{LISTER}"])


# One line per entry: path, type, mode, owner, size, content hash or link target, capability.
LISTER = ("find . -mindepth 1 -print0 | sort -z | xargs -0 -n 50 /usr/bin/python3 -c '"
          "import os, sys, stat, hashlib\n"
          "for p in sys.argv[1:]:\n"
          "    st = os.lstat(p); m = st.st_mode\n"
          "    what = hashlib.sha256(open(p, \"rb\").read()).hexdigest() if stat.S_ISREG(m) "
          "else os.readlink(p) if stat.S_ISLNK(m) else \"\"\n"
          "    try: cap = os.getxattr(p, \"security.capability\", follow_symlinks=False).hex()\n"
          "    except OSError: cap = \"\"\n"
          "    print(ascii(p), oct(m), st.st_uid, st.st_gid, st.st_size if stat.S_ISREG(m) "
          "else 0, what, cap)'")


def tree_of(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_an_oci_layout_imports_and_its_layers_merge_to_umocis_tree(tmp_path, layout):
    store = tmp_path / "store"
    r = run(store, "import-oci", f"{layout}:t2", "app:2")
    rec = json.loads((store / "images" / "app:2").read_text())
    assert len(rec["layers"]) == 2 and rec["source"] == "oci-layout"
    assert rec["config"]["config"]["Entrypoint"] == ["/bin/sh"]
    assert rec["config"]["config"]["Env"] == ["FOO=bar"]
    assert [line.split()[2] for line in r.stdout.splitlines()[:2]] == ["new", "new"]
    # the reference: umoci's own unpacking of the same image
    ref = tmp_path / "ref"
    umoci("unpack", "--image", f"{layout}:t2", ref)
    want = tree_of(["sh", "-c", f"cd {ref}/rootfs && {LISTER}"])
    got = merged_listing(tmp_path, store, rec["layers"])
    assert got == want
    text = "\n".join(got)
    assert "'./gone'" not in text and "'./opq/old'" not in text and "'./opq/new'" in text
    assert "'./caf\\udce9'" in text or "'./caf\\xe9'" in text
    cap_line = next(line for line in got if line.startswith("'./cap' "))
    assert cap_line.endswith(" 0100000200200000" + "00" * 12)


def test_zstd_layers_from_skopeo_import(tmp_path, layout):
    z = tmp_path / "Z"
    skopeo(tmp_path, "copy", "--dest-compress-format", "zstd", f"oci:{layout}:t2", f"oci:{z}:t2")
    index = json.loads((z / "index.json").read_text())
    manifest = json.loads((z / "blobs/sha256" /
                           index["manifests"][0]["digest"].split(":")[1]).read_text())
    assert all(ly["mediaType"].endswith("+zstd") for ly in manifest["layers"])
    store = tmp_path / "store"
    run(store, "import-oci", z, "zapp")
    run(store, "import-oci", f"{layout}:t2", "gzapp")
    z_rec = json.loads((store / "images" / "zapp:latest").read_text())
    gz_rec = json.loads((store / "images" / "gzapp:latest").read_text())
    # other blobs, the same uncompressed layers: stored once
    assert z_rec["layers"] == gz_rec["layers"] and z_rec["source_digest"] != gz_rec["source_digest"]
    assert len(layer_dirs(store)) == 2


def test_a_layout_with_several_refs_names_them(tmp_path, layout):
    r = run(tmp_path / "store", "import-oci", layout, "x", check=False)
    assert r.returncode == 1 and "refs: t1, t2" in r.stderr
    r = run(tmp_path / "store", "import-oci", f"{layout}:t9", "x", check=False)
    assert r.returncode == 1 and "no manifest named t9 (refs: t1, t2)" in r.stderr


def copy_layout(src, dst):
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


def blob_path(lay, digest):
    return lay / "blobs/sha256" / digest.split(":")[1]


def manifest_of(lay, ref):
    index = json.loads((lay / "index.json").read_text())
    d = next(m for m in index["manifests"]
             if m["annotations"]["org.opencontainers.image.ref.name"] == ref)
    return d, json.loads(blob_path(lay, d["digest"]).read_text())


def test_a_corrupted_layer_blob_is_named_and_nothing_is_left(tmp_path, layout):
    lay = copy_layout(layout, tmp_path / "L")
    _, m = manifest_of(lay, "t2")
    top = blob_path(lay, m["layers"][1]["digest"])
    data = bytearray(top.read_bytes())
    data[len(data) // 2] ^= 0xff
    top.write_bytes(bytes(data))
    store = tmp_path / "store"
    r = run(store, "import-oci", f"{lay}:t2", "bad", check=False)
    assert r.returncode == 1
    assert m["layers"][1]["digest"] in r.stderr
    assert os.listdir(store / "images") == [] and os.listdir(store / "tmp") == []
    assert len(layer_dirs(store)) == 1  # the intact base layer stays, shared and complete


def test_a_blob_swapped_for_another_is_named_by_its_digest(tmp_path, layout):
    lay = copy_layout(layout, tmp_path / "L")
    _, m = manifest_of(lay, "t2")
    base, top = (blob_path(lay, ly["digest"]) for ly in m["layers"])
    top.write_bytes(base.read_bytes())  # valid gzip, wrong content
    store = tmp_path / "store"
    r = run(store, "import-oci", f"{lay}:t2", "swapped", check=False)
    assert r.returncode == 1
    assert f"blob {m['layers'][1]['digest']}: its content has digest " in r.stderr
    assert os.listdir(store / "images") == [] and os.listdir(store / "tmp") == []


def test_a_manifest_with_ten_thousand_layers_is_refused(tmp_path, layout):
    lay = copy_layout(layout, tmp_path / "L")
    desc, m = manifest_of(lay, "t1")
    m["layers"] = m["layers"] * 10000
    blob = json.dumps(m).encode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    blob_path(lay, digest).write_bytes(blob)
    index = {"schemaVersion": 2, "manifests": [dict(desc, digest=digest, size=len(blob))]}
    (lay / "index.json").write_text(json.dumps(index))
    r = run(tmp_path / "store", "import-oci", lay, "many", check=False)
    assert r.returncode == 1 and "10000 layers, more than 128" in r.stderr
    assert layer_dirs(tmp_path / "store") == []


def test_an_image_index_resolves_to_our_platform(tmp_path, layout):
    lay = copy_layout(layout, tmp_path / "L")
    desc, _ = manifest_of(lay, "t2")
    other = dict(desc, platform={"os": "linux", "architecture": "s390x"})
    ours = dict(desc, platform={"os": "linux", "architecture": "amd64"})
    for d in (other, ours):
        d.pop("annotations", None)
    nested = json.dumps({"schemaVersion": 2,
                         "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [other, ours]}).encode()
    digest = "sha256:" + hashlib.sha256(nested).hexdigest()
    blob_path(lay, digest).write_bytes(nested)
    (lay / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest,
        "size": len(nested), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    run(tmp_path / "store", "import-oci", f"{lay}:multi", "multi")
    rec = json.loads((tmp_path / "store/images/multi:latest").read_text())
    assert len(rec["layers"]) == 2


def test_a_symlinked_blob_is_not_followed(tmp_path, layout):
    lay = copy_layout(layout, tmp_path / "L")
    desc, m = manifest_of(lay, "t1")
    cfg = blob_path(lay, m["config"]["digest"])
    cfg.unlink()
    os.symlink("/etc/hostname", cfg)
    r = run(tmp_path / "store", "import-oci", f"{lay}:t1", "sym", check=False)
    assert r.returncode == 1 and m["config"]["digest"] in r.stderr
    assert "Too many levels of symbolic links" in r.stderr or "symbolic" in r.stderr


def test_concurrent_imports_sharing_a_layer_unpack_it_once(tmp_path, layout):
    store = tmp_path / "store"
    run(store, "import-tar", "/dev/null", "init-store", check=False)  # makes the store dirs
    procs = [subprocess.Popen([str(IMAGE), "--store", str(store), "import-oci",
                               f"{layout}:{ref}", f"c{i}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for i, ref in enumerate(("t2", "t2", "t1", "t2"))]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(out)
    base = outs[0].splitlines()[0].split()[1]
    states = [line.split()[2] for o in outs for line in o.splitlines()
              if line.startswith(f"layer {base} ")]
    assert sorted(states) == ["new", "present", "present", "present"]
    assert len(layer_dirs(store)) == 2


# Image archives: skopeo's docker-archive and oci-archive, a legacy docker save, hostile ones.

def test_a_docker_archive_imports_to_the_same_tree(tmp_path, layout):
    da = tmp_path / "da.tar"
    skopeo(tmp_path, "copy", f"oci:{layout}:t2", f"docker-archive:{da}:app:2")
    store = tmp_path / "store"
    run(store, "import-file", f"{da}:app:2", "dapp")  # the tag holds ':' itself
    run(store, "import-oci", f"{layout}:t2", "oapp")
    d = json.loads((store / "images/dapp:latest").read_text())
    o = json.loads((store / "images/oapp:latest").read_text())
    assert d["source"] == "docker-archive" and d["layers"] == o["layers"]
    assert d["source_digest"] == "sha256:" + hashlib.sha256(da.read_bytes()).hexdigest()
    assert d["config"]["config"]["Entrypoint"] == ["/bin/sh"]
    assert os.listdir(store / "tmp") == []  # the unpacked archive is gone
    r = run(store, "import-file", f"{da}:other", "x", check=False)
    assert r.returncode == 1 and "0 images tagged other" in r.stderr


def test_an_oci_archive_imports_by_ref(tmp_path, layout):
    oa = tmp_path / "oa.tar"
    skopeo(tmp_path, "copy", f"oci:{layout}:t2", f"oci-archive:{oa}:v2")
    store = tmp_path / "store"
    run(store, "import-file", f"{oa}:v2", "oa")
    rec = json.loads((store / "images/oa:latest").read_text())
    assert rec["source"] == "oci-archive" and len(rec["layers"]) == 2
    want = tree_of(["sh", "-c", f"cd {tmp_path} && umoci unpack --image {layout}:t2 ref "
                    f">/dev/null && cd ref/rootfs && {LISTER}"])
    assert merged_listing(tmp_path, store, rec["layers"]) == want


def legacy_docker_save(tmp_path, layer_target, extra=()):
    """A `docker save` of the legacy form: <id>/layer.tar a symlink to the shared layer."""
    root = tmp_path / "root"
    make_busybox_layer(root)
    layer = subprocess.run(["tar", "-C", str(root), "-cf", "-", "."], capture_output=True,
                           check=True).stdout
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    lid = "a" * 64
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["legacy:1"],
                            "Layers": [f"{lid}/layer.tar"]}]).encode()
    out = tmp_path / "legacy.tar"
    with tarfile.open(out, "w") as t:
        def add(name, data=None, link=None):
            ti = tarfile.TarInfo(name)
            if link is not None:
                ti.type, ti.linkname = tarfile.SYMTYPE, link
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
        add(f"{lid}/VERSION", b"1.0")
        add(f"{'b' * 64}.tar", layer)
        add(f"{lid}/layer.tar", link=layer_target)
        add(cfg_name, config)
        add("manifest.json", manifest)
        for name, data in extra:
            add(name, data)
    return out


def test_a_legacy_docker_save_with_shared_layer_symlinks_imports(tmp_path):
    da = legacy_docker_save(tmp_path, layer_target=f"../{'b' * 64}.tar")
    store = tmp_path / "store"
    r = run(store, "import-file", da, "legacy")
    assert r.stdout.splitlines()[-1] == "image legacy:latest"
    rec = json.loads((store / "images/legacy:latest").read_text())
    assert rec["config"]["config"]["Cmd"] == ["/bin/sh"]


def test_an_archive_cannot_reach_outside_through_its_names_or_links(tmp_path):
    """A layer path that is a symlink out of the archive, and entries named ../ or absolute:
    the symlink is not followed out (the import fails naming the blob), the entries are never
    written, and the work directory is removed."""
    victim = tmp_path / "victim.tar"
    victim.write_bytes(b"not for you")
    da = legacy_docker_save(tmp_path, layer_target=str(victim),
                            extra=[("../escaped", b"x"), (f"{tmp_path}/abs-escaped", b"x")])
    store = tmp_path / "store"
    r = run(store, "import-file", da, "evil", check=False)
    assert r.returncode == 1 and f"{'a' * 64}/layer.tar" in r.stderr
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "abs-escaped").exists()
    assert not (store / "escaped").exists()
    assert os.listdir(store / "tmp") == [] and os.listdir(store / "images") == []
    assert victim.read_bytes() == b"not for you"


def test_a_gzip_bomb_import_stops_at_the_limit_and_leaves_nothing(tmp_path):
    """256 MiB of zeros (32 files of 8 MiB, each under the limit) in ~250 KiB of gzip; the
    worker's limit (by default twice the store's free space) is set to 16 MiB here."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for i in range(32):
            ti = tarfile.TarInfo(f"zeros-{i}")
            ti.size = 8 << 20
            t.addfile(ti, io.BytesIO(bytes(ti.size)))
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9))
    raw = None
    store = tmp_path / "store"
    r = subprocess.run([str(IMAGE), "--store", str(store), "--max-bytes", str(16 << 20),
                        "import-tar", str(bomb), "bomb"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "larger than the limit of 16777216 bytes" in r.stderr
    assert layer_dirs(store) == [] and os.listdir(store / "tmp") == []
    assert os.listdir(store / "images") == []
