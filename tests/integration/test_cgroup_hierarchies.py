# SPDX-License-Identifier: GPL-2.0-or-later
"""A sandbox has its own group in every mounted cgroup hierarchy (the unified one of a
hybrid host and named v1 ones like name=systemd included) and its own cgroup namespace, so
a root payload that makes a user namespace and mounts a hierarchy sees and reaches nothing
but its own group (issue 7, escape 4). Checked from the host."""

import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from conftest import (BUILD, SLICE, Daemon, assert_no_sanitizer_report, cgroup_root, is_v2,
                      kill_and_remove_cgroup, unit_text)

SLEEPER = "/bin/sh -c 'exec sleep 1000'"
CG_ESCAPE = BUILD / "tests" / "helpers" / "cg-escape"
# the default bounding set plus CAP_SYS_ADMIN, so that neither a missing capability nor a
# seccomp filter that allows user namespaces to CAP_SYS_ADMIN holders is what stops the attack
CAPS_PLUS_ADMIN = ("CapabilityBoundingSet=CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID "
                   "CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE "
                   "CAP_SYS_CHROOT CAP_SETFCAP CAP_SYS_ADMIN")
NO_CGROUPNS = "Namespaces=pid mount uts ipc net"


def hierarchies():
    """Every cgroup hierarchy mounted at its root here: (mount point, fs type, the options
    that mount it again, e.g. 'cpu,cpuacct' or 'none,name=systemd')."""
    seen, out = set(), []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, post = line.split(" - ")
        f, (fstype, _src, superopts) = pre.split(), post.split()
        if fstype not in ("cgroup", "cgroup2") or f[3] != "/" or f[2] in seen:
            continue
        seen.add(f[2])
        mnt = f[4].replace("\\040", " ")
        if fstype == "cgroup2":
            out.append((Path(mnt), fstype, "none"))
            continue
        known = set(Path("/proc/cgroups").read_text().split())
        opts = [o for o in superopts.split(",") if o in known or o.startswith("name=")]
        if not any(o in known for o in opts):
            opts.insert(0, "none")
        out.append((Path(mnt), fstype, ",".join(opts)))
    return out


def unified_mount():
    return next(m for m, t, _ in hierarchies() if t == "cgroup2")


def proc_cgroup(pid):
    return Path(f"/proc/{pid}/cgroup").read_text().splitlines()


def init_of(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int([l for l in status.splitlines() if l.startswith("PPid:")][0].split()[1])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().split(") ")[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return False


def groups_of(unit):
    """The unit's group directory in every mounted hierarchy."""
    return [m / SLICE / unit for m, _, _ in hierarchies()]


@pytest.fixture(scope="module")
def tools_layer(tmp_path_factory):
    d = tmp_path_factory.mktemp("tools")
    (d / "bin").mkdir()
    shutil.copy2(CG_ESCAPE, d / "bin" / "cg-escape")
    return d


def with_tools(layers, tools):
    return {"base": layers["base"], "top": f"{layers['top']} {tools}"}


@pytest.fixture
def daemon_in_own_group(tmp_path):
    """sandboxd started in a unified group of its own, as systemd runs a service (on a hybrid
    host that is a group of /sys/fs/cgroup/unified)."""
    grp = unified_mount() / f"sandboxd-{SLICE}-test.service"
    grp.mkdir()
    d = Daemon(tmp_path)
    d.start(cgroup=grp)
    try:
        yield d
    finally:
        d.stop()
        for leftover in [g for u in ("victim.unit", "attack.unit") for g in groups_of(u)]:
            if leftover.exists():
                kill_and_remove_cgroup(leftover)
        kill_and_remove_cgroup(grp)
    assert_no_sanitizer_report(tmp_path)


@pytest.mark.cgroup_v1
def test_sandbox_has_its_own_group_in_every_hierarchy(daemon, layers):
    """The init and the payload leave the daemon's group in every mounted hierarchy: the v1
    controllers the unit sets no limit on, named ones, and the hybrid host's unified one."""
    daemon.write_unit("own.unit", unit_text(layers, SLEEPER))
    daemon.ctl("start", "own.unit")
    pid = int(daemon.show("own.unit")["MainPID"])
    for p in (pid, init_of(pid)):
        lines = proc_cgroup(p)
        assert f"0::/{SLICE}/own.unit" in lines, lines
        assert len(lines) == len(hierarchies()), (lines, hierarchies())
        assert all(l.endswith(f":/{SLICE}/own.unit") for l in lines), lines
    for g in groups_of("own.unit"):
        assert g.is_dir(), g
    assert (unified_mount() / SLICE / "own.unit").is_dir()
    daemon.ctl("stop", "own.unit")
    for g in groups_of("own.unit"):
        assert not g.exists(), g


@pytest.mark.cgroup_v1
def test_init_is_born_in_its_unified_group_on_a_hybrid_host(tmp_path, layers):
    """A hybrid host's unified hierarchy has no tasks file, and a write to cgroup.procs waits
    out an RCU grace period after a quiet spell (~12 ms here): the init is born in its
    unified group by clone3(CLONE_INTO_CGROUP) and joins the v1 hierarchies by writing
    tasks, ending up in its own group in every one."""
    d = Daemon(tmp_path)
    d.start(args=["--debug"])
    try:
        d.write_unit("hy.unit", unit_text(layers, SLEEPER))
        d.ctl("start", "hy.unit")
        out = d.output.read_text()
        assert (f"born in its cgroup by clone3(CLONE_INTO_CGROUP): /{SLICE}/hy.unit "
                "(the unified hierarchy; joined the v1 ones)") in out, out[-2000:]
        pid = int(d.show("hy.unit")["MainPID"])
        for p in (pid, init_of(pid)):
            lines = proc_cgroup(p)
            assert len(lines) == len(hierarchies()), (lines, hierarchies())
            assert all(l.endswith(f":/{SLICE}/hy.unit") for l in lines), lines
        d.ctl("stop", "hy.unit")
    finally:
        d.stop()


@pytest.mark.cgroup_v1
def test_unified_group_is_removed_after_a_failed_start(daemon, layers):
    """A start that fails once the groups exist (the init cannot exec the payload) removes
    them all, the unified one included."""
    daemon.write_unit("bad.unit", unit_text(layers, "/bin/does-not-exist"))
    r = daemon.ctl("start", "bad.unit", check=False)
    assert r.returncode != 0 and "does-not-exist" in r.stderr, r.stderr
    for g in groups_of("bad.unit"):
        assert not g.exists(), g


@pytest.mark.cgroup_v1
def test_unified_group_is_found_after_readoption(daemon, layers, init_reaper):
    daemon.stop()
    daemon.start(keep_running=True)
    daemon.write_unit("adopt.unit", unit_text(layers, SLEEPER))
    daemon.ctl("start", "adopt.unit")
    pid = int(daemon.show("adopt.unit")["MainPID"])
    daemon.stop(signal.SIGTERM)
    daemon.start()
    assert daemon.show("adopt.unit")["MainPID"] == str(pid)
    assert f"0::/{SLICE}/adopt.unit" in proc_cgroup(pid)
    daemon.ctl("stop", "adopt.unit")
    assert not alive(pid)
    for g in groups_of("adopt.unit"):
        assert not g.exists(), g


def test_payload_is_in_its_own_cgroup_namespace_by_default(daemon, layers):
    """Namespaces= defaults to a cgroup namespace, rooted at the sandbox's own group in every
    hierarchy: /proc/self/cgroup inside says / on every line."""
    daemon.write_unit("ns.unit", unit_text(
        layers, "/bin/sh -c 'cat /proc/self/cgroup; echo cat-done; exec sleep 1000'"))
    daemon.ctl("start", "ns.unit")
    props = daemon.show("ns.unit")
    assert "cgroup" in props["Namespaces"].split()
    pid = int(props["MainPID"])
    assert os.readlink(f"/proc/{pid}/ns/cgroup") != os.readlink("/proc/self/ns/cgroup")
    daemon.wait_for("ns.unit", lambda p: "cat-done" in daemon.log("ns.unit"))
    out = daemon.payload_output("ns.unit")
    lines = [l for l in out[:out.index("cat-done")] if re.match(r"\d+:[^:]*:", l)]
    assert len(lines) == len(proc_cgroup(pid)), lines
    assert all(l.endswith(":/") for l in lines), lines


@pytest.mark.parametrize("namespaces", ["default", "no-cgroupns"])
def test_payload_cannot_kill_outside_its_group(daemon_in_own_group, layers, tools_layer,
                                               namespaces):
    """The attack of escape 4: a root payload makes a user namespace in which it is host root,
    mounts cgroup2 (the unified hierarchy of a hybrid host) and writes cgroup.kill at the top
    of what it sees. sandboxd and a neighbour sandbox must live on. Without a cgroup namespace
    of the daemon's making too: the payload's own group is what protects."""
    d = daemon_in_own_group
    d.write_unit("victim.unit", unit_text(layers, SLEEPER))
    d.ctl("start", "victim.unit")
    victim = int(d.show("victim.unit")["MainPID"])
    sandbox = CAPS_PLUS_ADMIN + ("\n" + NO_CGROUPNS if namespaces == "no-cgroupns" else "")
    d.write_unit("attack.unit", unit_text(
        with_tools(layers, tools_layer),
        "/bin/sh -c '/bin/cg-escape /tmp/cg cgroup2 none cgroup.kill=1; echo attack-done; "
        "exec sleep 1000'", sandbox=sandbox))
    d.ctl("start", "attack.unit")
    # The payload either killed its own sandbox or was refused (nsdelegate on the v2 leg).
    d.wait_for("attack.unit", lambda p: p["ActiveState"] != "active" or
               "attack-done" in d.log("attack.unit"))
    log = d.log("attack.unit")
    assert "mount: ok" in log, log  # the attack did run
    assert "victim" not in log and SLICE not in log, log  # it saw nothing outside its group
    assert d.proc.poll() is None, "sandboxd was killed"
    assert alive(victim)
    assert d.show("victim.unit")["ActiveState"] == "active"
    d.ctl("stop", "victim.unit")


def test_every_hierarchy_a_payload_mounts_shows_only_its_own_group(daemon, layers,
                                                                   tools_layer):
    """The payload mounts each hierarchy of the host in turn (v1 controllers, named ones,
    cgroup2): none shows a group of another sandbox or of the host, and none lets it move a
    process outside its group."""
    daemon.write_unit("victim.unit", unit_text(layers, SLEEPER, resources="CPUQuota=50%"))
    daemon.ctl("start", "victim.unit")
    cmds = "; ".join(f"/bin/cg-escape /tmp/cg{i} {t} {o} cgroup.procs=1"
                     for i, (_, t, o) in enumerate(hierarchies()))
    daemon.write_unit("attack.unit", unit_text(
        with_tools(layers, tools_layer), f"/bin/sh -c '{cmds}; echo attack-done; "
        "exec sleep 1000'", sandbox=CAPS_PLUS_ADMIN))
    daemon.ctl("start", "attack.unit")
    daemon.wait_for("attack.unit", lambda p: "attack-done" in daemon.log("attack.unit"))
    log = daemon.log("attack.unit")
    assert log.count("mount: ok") == len(hierarchies()), log
    assert "visible:" not in log, log
    pid = int(daemon.show("attack.unit")["MainPID"])
    init = init_of(pid)
    for p in (pid, init):
        assert all(l.endswith(f":/{SLICE}/attack.unit") for l in proc_cgroup(p)), \
            proc_cgroup(p)
    daemon.ctl("stop", "attack.unit")
    daemon.ctl("stop", "victim.unit")


def subgroup_cases():
    if is_v2():
        return [("cgroup2", "none")]
    return [("cgroup2", "none"), ("cgroup", "pids"), ("cgroup", "memory")]


@pytest.mark.parametrize("fstype,opts", subgroup_cases())
def test_groups_a_payload_makes_do_not_outlive_it(daemon, layers, tools_layer, fstype, opts):
    """A payload that mounts its hierarchy can make sub-groups of its own and move into them:
    stop still kills every process and removes the whole tree."""
    daemon.write_unit("nest.unit", unit_text(
        with_tools(layers, tools_layer),
        f"/bin/sh -c '/bin/cg-escape /tmp/cg {fstype} {opts} +a +a/b a/b/cgroup.procs=$$; "
        "echo nested; exec sleep 1000'", sandbox=CAPS_PLUS_ADMIN))
    daemon.ctl("start", "nest.unit")
    daemon.wait_for("nest.unit", lambda p: "nested" in daemon.log("nest.unit"))
    log = daemon.log("nest.unit")
    assert "a/b/cgroup.procs: ok" in log, log
    pid = int(daemon.show("nest.unit")["MainPID"])
    mnt = unified_mount() if fstype == "cgroup2" else cgroup_root() / opts
    assert (mnt / SLICE / "nest.unit" / "a" / "b").is_dir()
    assert str(pid) in (mnt / SLICE / "nest.unit" / "a" / "b" / "cgroup.procs").read_text()
    daemon.ctl("stop", "nest.unit")
    assert daemon.show("nest.unit")["ActiveState"] == "inactive"
    assert not alive(pid)
    for g in groups_of("nest.unit"):
        assert not g.exists(), g
