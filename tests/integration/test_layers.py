# SPDX-License-Identifier: GPL-2.0-or-later
"""Image layers (src/image/layer.c, driven by tests/helpers/layer-unpack): a layer tar becomes a
directory in overlayfs form, with its digests computed while streaming; hostile archives are
refused or contained, checked from the host side (nothing appears outside the layer)."""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import BUILD

pytestmark = pytest.mark.layout_independent

UNPACK = BUILD / "tests" / "helpers" / "layer-unpack"

# struct vfs_cap_data, revision 2, effective, permitted = CAP_NET_RAW (13)
CAP_NET_RAW = (0x02000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + \
    bytes(12)


class Tar:
    """A tar built entry by entry in memory (pax format: long names, xattrs)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tf = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT,
                               encoding="utf-8", errors="surrogateescape")

    def add(self, name, type=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0,
            linkname="", xattrs=None, size=None, devmajor=0, devminor=0, mtime=1700000000):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.linkname, ti.mtime = \
            type, mode, uid, gid, linkname, mtime
        ti.devmajor, ti.devminor = devmajor, devminor
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                              for k, v in xattrs.items()}
        if type == tarfile.REGTYPE:
            ti.size = len(data) if size is None else size
            self.tf.addfile(ti, io.BytesIO(data))
        else:
            self.tf.addfile(ti)
        return self

    def bytes(self):
        self.tf.close()
        return self.buf.getvalue()


def unpack(tmp_path, blob, *opts, name="layer"):
    """Runs layer-unpack on blob; returns (ok, fields or error text, the layer directory)."""
    src = tmp_path / f"{name}.blob"
    src.write_bytes(blob)
    out = tmp_path / name
    r = subprocess.run([str(UNPACK), *opts, str(src), str(out)], capture_output=True,
                       timeout=120)
    assert r.returncode in (0, 1), r.stderr
    fields = dict(line.split(b"=", 1) for line in r.stdout.splitlines() if b"=" in line)
    if r.returncode == 1:
        return False, r.stdout.decode(errors="replace"), out
    return True, {k.decode(): v.decode(errors="surrogateescape") for k, v in fields.items()}, out


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def listing(root: Path):
    """Every entry below root: path -> (type, mode, uid, gid, size, sha256 or link target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, os.fsencode(root))
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                what = (os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                what = None
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                        st.st_gid, st.st_size if stat.S_ISREG(st.st_mode) else 0, what)
    return out


def everything_tar():
    long_name = "deep/" + "/".join(["d" * 60] * 4) + "/file-with-a-long-path"
    return (Tar()
            .add("./", tarfile.DIRTYPE, mode=0o755)
            .add("etc/", tarfile.DIRTYPE, mode=0o755)
            .add("etc/motd", data=b"hello\n", mode=0o644, uid=1000, gid=1001)
            .add("bin/", tarfile.DIRTYPE, mode=0o755)
            .add("bin/suid", data=b"#!/bin/sh\n", mode=0o4755)
            .add("bin/sgid-sticky-dir/", tarfile.DIRTYPE, mode=0o3775, gid=50)
            .add("bin/ping", data=b"\x7fELF", mode=0o755, xattrs={
                "security.capability": CAP_NET_RAW, "user.note": b"kept"})
            .add("bin/hard", tarfile.LNKTYPE, linkname="bin/suid")
            .add("bin/sh-abs", tarfile.SYMTYPE, linkname="/bin/busybox")
            .add("bin/sh-rel", tarfile.SYMTYPE, linkname="../etc/motd")
            .add("run/fifo", tarfile.FIFOTYPE, mode=0o600)
            .add(long_name, data=b"long\n")
            .add("caf\udce9-latin1", data=b"not utf-8 name\n")
            .add("sparse-dirs/a/b/c/implied", data=b"x")  # parents never listed
            .bytes())


def test_a_layer_unpacks_to_exactly_its_tree(tmp_path):
    blob = everything_tar()
    ok, res, out = unpack(tmp_path, blob)
    assert ok, res
    assert res["diff_id"] == sha(blob) and res["blob_digest"] == sha(blob)
    assert int(res["tar_size"]) == len(blob)
    got = listing(out)
    # what the tar says, entry by entry
    with tarfile.open(fileobj=io.BytesIO(blob), encoding="utf-8",
                      errors="surrogateescape") as tf:
        for ti in tf.getmembers():
            rel = os.fsencode(os.path.normpath(ti.name))
            if rel == b".":
                continue
            kind, mode, uid, gid, size, what = got[rel]
            if ti.islnk():
                assert os.path.samefile(out / os.fsdecode(rel), out / ti.linkname)
                continue
            if not ti.issym():  # a symlink's mode is always 0777
                assert mode == ti.mode, ti.name
            assert (uid, gid) == (ti.uid, ti.gid), ti.name
            if ti.isreg():
                assert kind == stat.S_IFREG and size == ti.size
                assert what == hashlib.sha256(tf.extractfile(ti).read()).hexdigest()
            elif ti.issym():
                assert kind == stat.S_IFLNK and what == os.fsencode(ti.linkname)
            elif ti.isdir():
                assert kind == stat.S_IFDIR
            elif ti.isfifo():
                assert kind == stat.S_IFIFO
    assert got[b"sparse-dirs/a/b/c"][0] == stat.S_IFDIR
    assert os.getxattr(out / "bin/ping", "security.capability") == CAP_NET_RAW
    assert os.getxattr(out / "bin/ping", "user.note") == b"kept"
    assert os.stat(out / "etc/motd").st_mtime == 1700000000
    assert os.stat(out / "etc").st_mtime == 1700000000  # directory times set last
    assert os.stat(out / "bin/suid").st_nlink == 2


@pytest.mark.parametrize("how", ["gzip", "zstd", "xz", "bzip2", "none"])
def test_compressions_are_told_by_content_and_both_digests_are_right(tmp_path, how):
    tar = everything_tar()
    blob = {"gzip": lambda b: gzip.compress(b), "xz": lzma.compress, "bzip2": bz2.compress,
            "none": lambda b: b,
            "zstd": lambda b: subprocess.run(["zstd", "-q", "-c"], input=b, check=True,
                                             capture_output=True).stdout}[how](tar)
    ok, res, out = unpack(tmp_path, blob)
    assert ok, res
    assert res["diff_id"] == sha(tar)
    assert res["blob_digest"] == sha(blob)
    assert int(res["blob_size"]) == len(blob)
    assert (out / "etc/motd").read_bytes() == b"hello\n"


def test_whiteouts_become_overlayfs_ones_and_the_merged_view_is_right(tmp_path):
    lower = (Tar().add("keep", data=b"k").add("gone", data=b"g")
             .add("d/", tarfile.DIRTYPE).add("d/old", data=b"o").add("d/sub/", tarfile.DIRTYPE)
             .add("e/", tarfile.DIRTYPE).add("e/stays", data=b"s").bytes())
    upper = (Tar().add(".wh.gone").add("d/", tarfile.DIRTYPE).add("d/.wh..wh..opq")
             .add("d/new", data=b"n").add("e/.wh..wh.plnk", data=b"aufs")
             .add(".wh..wh.aufs", data=b"aufs").bytes())
    ok, res, l1 = unpack(tmp_path, lower, name="l1")
    assert ok, res
    ok, res, l2 = unpack(tmp_path, upper, name="l2")
    assert ok, res
    st = os.lstat(l2 / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(l2 / "d", "trusted.overlay.opaque") == b"y"
    assert not (l2 / "d/.wh..wh..opq").exists() and not (l2 / "e/.wh..wh.plnk").exists()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        f"mount -t overlay overlay -o lowerdir={l2}:{l1} {mnt} && "
                        f"cd {mnt} && find . | sort"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.split() == [".", "./d", "./d/new", "./e", "./e/stays", "./keep"]


def test_overlayfs_metadata_in_an_image_is_dropped(tmp_path):
    """An image must not forge overlayfs xattrs (opaque, redirect, metacopy) on its own."""
    blob = (Tar().add("d/", tarfile.DIRTYPE, xattrs={"trusted.overlay.opaque": b"y",
                                                     "trusted.overlay.redirect": b"/etc"})
            .add("f", data=b"x", xattrs={"user.overlay.metacopy": b"", "user.ok": b"1"})
            .bytes())
    ok, res, out = unpack(tmp_path, blob)
    assert ok, res
    assert os.listxattr(out / "d") == []
    assert os.listxattr(out / "f") == ["user.ok"]


def test_devices_are_skipped_unless_allowed(tmp_path):
    blob = (Tar().add("dev/", tarfile.DIRTYPE)
            .add("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
            .add("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0)
            .add("dev/whiteout", tarfile.CHRTYPE).bytes())  # 0/0: overlayfs' own whiteout
    ok, res, out = unpack(tmp_path, blob, name="default")
    assert ok, res
    assert res["devices_skipped"] == "2" and res["first_device_skipped"] == "dev/null"
    assert sorted(os.listdir(out / "dev")) == ["whiteout"]
    ok, res, out = unpack(tmp_path, blob, "--allow-devices", name="allowed")
    assert ok, res
    st = os.lstat(out / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


# Hostile archives. Each runs beside a "host" directory of files the archive aims at; after
# the run nothing in it may have changed and nothing may exist outside the layer directory.

@pytest.fixture
def host(tmp_path):
    h = tmp_path / "host"
    h.mkdir()
    (h / "secret").write_text("host secret\n")
    os.chmod(h / "secret", 0o600)
    return h


def host_state(h: Path):
    return {p.name: (p.read_bytes(), os.lstat(p).st_mode, os.lstat(p).st_nlink)
            for p in h.iterdir()}


def outside_entries(tmp_path, out):
    """What exists under tmp_path besides the layer, its blob and the host fixture."""
    return sorted(p.name for p in tmp_path.iterdir()
                  if p.name not in (out.name, out.name + ".blob", "host"))


def in_root(h, t=None):
    """A tar that first makes, inside the layer, the directory the host path h names."""
    t = t or Tar()
    parts = str(h).strip("/").split("/")
    for i in range(1, len(parts) + 1):
        t.add("/".join(parts[:i]) + "/", tarfile.DIRTYPE)
    return t


HOSTILE = {
    # name: (entries, expect): "refused" (the import fails, naming the entry) or a path
    # ("{h}": the host directory's path without its leading "/") inside the layer where the
    # write is contained. A symlink resolves inside the layer's root: where its target does not
    # exist there, what goes through it is refused; where it does, it lands there.
    "dotdot": (lambda h: Tar().add("../escape", data=b"x").add("a/../../escape2", data=b"x"),
               "refused"),
    "absolute": (lambda h: Tar().add(f"{h}/planted", data=b"x"), "{h}/planted"),
    "symlink-then-file": (lambda h: Tar().add("lnk", tarfile.SYMTYPE, linkname=str(h))
                          .add("lnk/planted", data=b"x"), "refused"),
    "symlink-then-file-in-root": (lambda h: in_root(h).add("lnk", tarfile.SYMTYPE,
                                                           linkname=str(h))
                                  .add("lnk/planted", data=b"x"), "{h}/planted"),
    "relative-symlink-then-file": (
        lambda h: in_root(h).add("a/", tarfile.DIRTYPE)
        .add("a/lnk", tarfile.SYMTYPE, linkname="../../../../../../../" + str(h))
        .add("a/lnk/planted", data=b"x"), "{h}/planted"),
    "symlink-then-hardlink": (lambda h: Tar().add("lnk", tarfile.SYMTYPE, linkname=str(h))
                              .add("stolen", tarfile.LNKTYPE, linkname="lnk/secret"),
                              "refused"),
    "hardlink-absolute": (lambda h: Tar().add("stolen", tarfile.LNKTYPE,
                                              linkname=f"{h}/secret"), "refused"),
    "hardlink-dotdot": (lambda h: Tar().add("stolen", tarfile.LNKTYPE,
                                            linkname="../host/secret"), "refused"),
    "hardlink-to-outside-symlink-then-chmod": (
        # CVE-2021-32760: the link's metadata must not reach the symlink's target
        lambda h: Tar().add("lnk", tarfile.SYMTYPE, linkname=f"{h}/secret")
        .add("hl", tarfile.LNKTYPE, linkname="lnk", mode=0o777)
        .add("hl", data=b"replaced", mode=0o4777), "hl"),
    "directory-replaced-by-symlink": (
        lambda h: Tar().add("d/", tarfile.DIRTYPE).add("d", tarfile.SYMTYPE, linkname=str(h))
        .add("d/planted", data=b"x"), "refused"),
    "directory-replaced-by-symlink-in-root": (
        lambda h: in_root(h).add("d/", tarfile.DIRTYPE)
        .add("d", tarfile.SYMTYPE, linkname=str(h)).add("d/planted", data=b"x"),
        "{h}/planted"),
    "root-replaced-by-symlink": (lambda h: Tar().add("./", tarfile.SYMTYPE, linkname=str(h))
                                 .add("planted", data=b"x"), "refused"),
    "whiteout-of-parent": (lambda h: Tar().add("a/", tarfile.DIRTYPE).add("a/.wh.."),
                           "refused"),
    "whiteout-bare": (lambda h: Tar().add(".wh."), "refused"),
    "whiteout-through-symlink": (lambda h: Tar().add("lnk", tarfile.SYMTYPE, linkname=str(h))
                                 .add("lnk/.wh.secret"), "refused"),
    "whiteout-through-symlink-in-root": (
        lambda h: in_root(h).add("lnk", tarfile.SYMTYPE, linkname=str(h))
        .add("lnk/.wh.secret"), "{h}/secret"),
    "opaque-through-symlink": (lambda h: Tar().add("lnk", tarfile.SYMTYPE, linkname=str(h))
                               .add("lnk/.wh..wh..opq"), "refused"),
    "file-over-nonempty-dir": (lambda h: Tar().add("d/", tarfile.DIRTYPE)
                               .add("d/f", data=b"x").add("d", data=b"y"), "refused"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused_or_contained(tmp_path, host, case):
    make, expect = HOSTILE[case]
    before = host_state(host)
    ok, res, out = unpack(tmp_path, make(host).bytes())
    assert host_state(host) == before, "the host directory changed"
    assert outside_entries(tmp_path, out) == [], "something was written outside the layer"
    if expect == "refused":
        assert not ok, f"accepted: {res}"
        assert "entry '" in res, res
    else:
        assert ok, res
        assert os.path.lexists(out / expect.format(h=str(host)[1:])), sorted(listing(out))


def test_a_refusal_names_the_entry_and_why(tmp_path):
    ok, res, _ = unpack(tmp_path, Tar().add("fine", data=b"x").add("../x", data=b"y").bytes())
    assert not ok
    assert "entry '../x': a '..' component" in res


def test_a_truncated_gzip_is_an_error(tmp_path):
    blob = gzip.compress(everything_tar())
    ok, res, _ = unpack(tmp_path, blob[:len(blob) // 2])
    assert not ok and "error:" in res


def test_a_gzip_bomb_stops_at_the_limit(tmp_path):
    # 256 MiB of zeros in one file, ~250 KiB compressed; the limit is 16 MiB
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w") as tf:
        ti = tarfile.TarInfo("zeros")
        ti.size = 256 << 20

        class Zeros(io.RawIOBase):
            left = ti.size

            def readinto(self, b):
                n = min(len(b), self.left)
                b[:n] = bytes(n)
                self.left -= n
                return n
        tf.addfile(ti, Zeros())
    blob = gzip.compress(big.getvalue(), compresslevel=9)
    ok, res, out = unpack(tmp_path, blob, "--max-bytes", str(16 << 20))
    assert not ok
    assert "limit of 16777216" in res
    assert sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) <= 16 << 20


def test_an_entry_claiming_a_tebibyte_is_refused_before_any_write(tmp_path):
    t = Tar()
    ti = tarfile.TarInfo("huge")
    ti.size = 1 << 40
    t.tf.fileobj.write(ti.tobuf(tarfile.PAX_FORMAT))  # the header alone, no data
    t.tf.fileobj.write(bytes(1024))
    blob = t.buf.getvalue()
    ok, res, out = unpack(tmp_path, blob, "--max-bytes", str(1 << 30))
    assert not ok
    assert "entry 'huge': claims 1099511627776 bytes" in res
    assert not (out / "huge").exists()


def test_the_entry_count_is_bounded(tmp_path):
    t = Tar()
    for i in range(50):
        t.add(f"f{i}", data=b"")
    ok, res, _ = unpack(tmp_path, t.bytes(), "--max-entries", "20")
    assert not ok and "more than 20 entries" in res


def test_garbage_is_not_a_layer(tmp_path):
    ok, res, _ = unpack(tmp_path, b"this is no tar at all, just text\n" * 20)
    assert not ok and "error:" in res
