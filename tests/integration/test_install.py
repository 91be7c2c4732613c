# SPDX-License-Identifier: GPL-2.0-or-later
"""`meson install` (into a DESTDIR): what an install holds, man pages that lint clean, a
sandboxd.service that `systemd-analyze verify` passes, a sandboxd.conf a reinstall keeps, and
the bash completion of verbs, unit names and properties."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD, ROOT, SANDBOXCTL, unit_text

pytestmark = pytest.mark.layout_independent

PAGES = ["man1/sandboxctl.1", "man5/sandbox.unit.5", "man5/sandboxd.conf.5", "man8/sandboxd.8"]


def prefix_of_build():
    out = subprocess.run(["meson", "introspect", "--buildoptions", str(BUILD)],
                         capture_output=True, text=True, check=True).stdout
    import json
    return next(o["value"] for o in json.loads(out) if o["name"] == "prefix")


def meson_install(destdir):
    """meson install of the build tree into destdir; the build tree may be read-only (the v2
    guest shares it so): its install log goes to a tmpfs in a mount namespace of our own."""
    script = f'mount -t tmpfs tmpfs "{BUILD}/meson-logs" && exec meson install -C "{BUILD}" ' \
             f'--destdir "{destdir}" --no-rebuild --quiet'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           script], capture_output=True, text=True)


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("destdir")
    r = meson_install(d)
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def test_install_holds_everything(destdir):
    p = prefix_of_build().lstrip("/")
    expect = [f"{p}/sbin/sandboxd", f"{p}/bin/sandboxctl", f"{p}/libexec/sandboxd-init",
              f"{p}/libexec/sandboxd-image",
              "etc/sandboxd/units/README", "etc/sandboxd/sandboxd.conf",
              f"{p}/share/sandboxd/sandboxd.conf",
              f"{p}/share/doc/sandboxd/examples/web.unit",
              f"{p}/share/doc/sandboxd/examples/resources.unit",
              f"{p}/share/bash-completion/completions/sandboxctl"]
    expect += [f"{p}/share/man/{page}" for page in PAGES]
    missing = [e for e in expect if not (destdir / e).exists()]
    assert not missing, missing
    units = list(destdir.rglob("sandboxd.service")) + \
        list(destdir.rglob("sandboxd-sandboxes.service"))
    assert len(units) == 2, units
    service = next(u for u in units if u.name == "sandboxd.service").read_text()
    assert f"ExecStart=/{p}/sbin/sandboxd --keep-running" in service
    assert "@sbindir@" not in service


def test_man_pages_lint_clean(destdir):
    p = prefix_of_build().lstrip("/")
    for page in PAGES:
        path = destdir / p / "share/man" / page
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", str(path)],
                           capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80"))
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)
        assert "SEE ALSO" in r.stdout
        r = subprocess.run(["mandoc", "-T", "lint", "-W", "error", str(path)],
                           capture_output=True, text=True)
        assert r.returncode == 0, (page, r.stdout, r.stderr)


def test_systemd_analyze_verify_passes(destdir):
    """The installed sandboxd.service as systemd would load it: the binaries and man pages
    where it names them (the DESTDIR's prefix bound over the real one in a mount namespace
    of this test's own), its Documentation=man:sandboxd(8) found."""
    p = "/" + prefix_of_build().lstrip("/")
    # (and a /tmp of its own: the v2 guest's is read-only, and systemd-analyze works there)
    script = (f"mount --bind {destdir}{p} {p} && mount -t tmpfs tmpfs /tmp && "
              "systemd-analyze verify sandboxd.service sandboxd-sandboxes.service")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "sandboxd" not in r.stderr, r.stderr
    # the check is real: without the man page it fails
    script = (f"mount --bind {destdir}{p} {p} && mount -t tmpfs tmpfs {p}/share/man && "
              "mount -t tmpfs tmpfs /tmp && systemd-analyze verify sandboxd.service")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "man sandboxd(8)" in r.stderr, r.stderr


def test_reinstall_keeps_the_admins_sandboxd_conf(destdir, tmp_path):
    conf = destdir / "etc/sandboxd/sandboxd.conf"
    # the default is all comments, and valid
    unit = tmp_path / "t.unit"
    unit.write_text("[Service]\nExecStart=/bin/true\n[Sandbox]\nRootDirectory=/\n")
    r = subprocess.run([str(SANDBOXCTL), "verify", "--config", str(conf), str(unit)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert all(ln.startswith(("#", "[")) or not ln.strip()
               for ln in conf.read_text().splitlines())
    conf.write_text("[Logs]\nMaxFiles=9\n")
    r = meson_install(destdir)
    assert r.returncode == 0, r.stderr
    assert conf.read_text() == "[Logs]\nMaxFiles=9\n"


def complete(destdir, line, env=None):
    """COMPREPLY for the command line `line` (the cursor at its end), as bash completes it."""
    p = prefix_of_build().lstrip("/")
    script = destdir / p / "share/bash-completion/completions/sandboxctl"
    words = line.split(" ")
    bash = (f"source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
            f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT={len(line)}; "
            "_sandboxctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    env = dict(os.environ, PATH=f"{SANDBOXCTL.parent}:{os.environ['PATH']}", **(env or {}))
    r = subprocess.run(["bash", "-c", bash], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


def test_bash_completion(destdir, daemon, layers):
    assert sorted(complete(destdir, "sandboxctl st")) == ["start", "status", "stop"]
    assert "--follow" in complete(destdir, "sandboxctl logs --fo")
    env = {"SANDBOXD_SOCKET": str(daemon.socket)}
    daemon.write_unit("web.unit", unit_text(layers, "/bin/sleep 1000"))
    daemon.write_unit("worker.unit", unit_text(layers, "/bin/sleep 1000"))
    assert complete(destdir, "sandboxctl start we", env) == ["web.unit"]
    assert complete(destdir, "sandboxctl --no-pager status w", env) == ["web.unit", "worker.unit"]
    assert complete(destdir, "sandboxctl show -p MainP") == ["MainPID"]
    assert complete(destdir, "sandboxctl show -p Id,Descr") == ["Id,Description"]
    assert complete(destdir, "sandboxctl logs -o j") == ["json"]
    # without sandboxd: verbs still complete, units are none, nothing is printed
    assert complete(destdir, "sandboxctl start we", {"SANDBOXD_SOCKET": "/nonexistent"}) == []


def test_completion_knows_every_property(destdir, daemon, layers):
    """The completion's property list against what show --all prints, so they cannot drift:
    a plain unit and one with [Health] (IO limits need a device and are listed by hand)."""
    p = prefix_of_build().lstrip("/")
    script = (destdir / p / "share/bash-completion/completions/sandboxctl").read_text()
    listed = set(script.split('__sandboxctl_properties="')[1].split('"')[0].split())
    daemon.write_unit("plain.unit", unit_text(layers, "/bin/true"))
    daemon.write_unit("probed.unit", unit_text(layers, "/bin/true") + "[Health]\nTCP=80\n")
    shown = set()
    for u in ("plain", "probed"):
        shown |= {ln.split("=", 1)[0] for ln in daemon.ctl("show", "--all", u).stdout.splitlines()}
    assert shown - listed == set(), shown - listed
    io = {"IOReadBandwidthMax", "IOWriteBandwidthMax", "IOReadIOPSMax", "IOWriteIOPSMax"}
    assert listed - shown == io, listed - shown
