# SPDX-License-Identifier: GPL-2.0-or-later
"""seccomp by default, NoNewPrivileges=, and the escapes they close (issue 7: 3, limits lifted
from a new user namespace; 5, the host's keyring). A static probe (tests/seccomp-probe.c) runs
as the payload and prints what each try got; the outcome that matters is read on the host:
/proc/PID/status, the cgroup files, the host's keyring."""

import ctypes
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from conftest import BUILD, cgroup_file, is_v2, unit_text

PROBE = BUILD / "tests" / "seccomp-probe"
SLEEP = "exec sleep 1000"
# sandboxd's default bounding set (Podman's 11), as /proc/PID/status prints it
DEFAULT_CAPBND = "00000000800405fb"


@pytest.fixture(scope="session")
def probe_layer(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    (d / "bin").mkdir()
    shutil.copy2(PROBE, d / "bin" / "seccomp-probe")
    return d


def probe_unit(daemon, layers, probe_layer, name, command, sandbox="", resources=""):
    """Starts a unit that runs the probe, then sleeps; returns its properties once the probe
    printed its last line."""
    daemon.write_unit(name, unit_text(
        layers, f"/bin/sh -c '/bin/seccomp-probe {command}; {SLEEP}'",
        sandbox=f"Layers={probe_layer}\n{sandbox}", resources=resources))
    daemon.ctl("start", name)
    done = "escape done" if command == "escape-limits" else \
        "syscalls done" if command == "syscalls" else None
    if done:
        daemon.wait_for(name, lambda p: done in daemon.log(name))
    return daemon.show(name)


def results(log):
    """'NAME RESULT' lines of the probe -> {NAME: RESULT}."""
    out = {}
    for line in log.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2 and (parts[0].startswith(("allowed-", "escape-", "keyring-")) or
                                parts[1] in ("ok",) or parts[1].startswith(("E", "signal"))):
            out[parts[0]] = parts[1] if len(parts) == 2 else f"{parts[1]} {parts[2]}"
    return out


def status(pid):
    """/proc/PID/status as a dict, read on the host."""
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(l.split(":\t", 1) for l in text.splitlines() if ":\t" in l)


def test_default_profile_denies_what_docker_denies(daemon, layers, probe_layer):
    p = probe_unit(daemon, layers, probe_layer, "probe.unit", "syscalls")
    assert p["Seccomp"] == "default" and p["NoNewPrivileges"] == "no"
    got = results("\n".join(daemon.payload_output("probe.unit")))
    denied = {k: v for k, v in got.items() if not k.startswith("allowed-")}
    assert len(denied) >= 37, got
    # clone3's flags cannot be read by a filter: ENOSYS, so libc falls back to clone
    assert denied.pop("clone3") == "ENOSYS"
    # the x32 ABI is refused whole, as by a kernel without it
    assert denied.pop("x32-keyctl") == "ENOSYS"
    assert {k: v for k, v in denied.items() if v != "EPERM"} == {}
    assert {k: v for k, v in got.items() if k.startswith("allowed-")} == {
        "allowed-personality-query": "ok", "allowed-getpid": "ok", "allowed-socket-unix": "ok",
        "allowed-setgroups-256": "ok"}

    st = status(p["MainPID"])
    # the profile's filter, and the proc view's sysinfo(2) one (ProcView=yes, the default)
    assert st["Seccomp"] == "2" and st["Seccomp_filters"] == "2"
    assert st["NoNewPrivs"] == "0"
    assert st["CapBnd"] == DEFAULT_CAPBND
    assert st["CapInh"] == "0000000000000000" and st["CapAmb"] == "0000000000000000"
    daemon.ctl("stop", "probe.unit")


def test_unconfined_denies_nothing(daemon, layers, probe_layer):
    """The control: with every capability and no filter nothing above fails with EPERM, so each
    EPERM under the default profile is the filter's."""
    p = probe_unit(daemon, layers, probe_layer, "open.unit", "syscalls",
                   sandbox="SeccompProfile=unconfined\nCapabilityBoundingSet=~")
    assert p["Seccomp"] == "unconfined"
    got = results("\n".join(daemon.payload_output("open.unit")))
    assert got["unshare-user"] == "ok" and got["clone-newuser"] == "ok"
    assert {k: v for k, v in got.items() if v == "EPERM"} == {}
    # only the proc view's filter, which hands sysinfo(2) to the init and denies nothing
    assert status(p["MainPID"])["Seccomp_filters"] == "1"
    daemon.ctl("stop", "open.unit")
    p = probe_unit(daemon, layers, probe_layer, "bare.unit", "syscalls",
                   sandbox="SeccompProfile=unconfined\nProcView=no")
    assert status(p["MainPID"])["Seccomp"] == "0"
    daemon.ctl("stop", "bare.unit")


def test_unconfined_lets_a_user_namespace_be_made(daemon, layers, probe_layer):
    """Without CAP_SYS_ADMIN a user namespace needs no capability: only the filter stops it."""
    p = probe_unit(daemon, layers, probe_layer, "userns.unit", "syscalls",
                   sandbox="SeccompProfile=unconfined")
    assert results("\n".join(daemon.payload_output("userns.unit")))["unshare-user"] == "ok"
    assert status(p["MainPID"])["CapBnd"] == DEFAULT_CAPBND
    daemon.ctl("stop", "userns.unit")


@pytest.mark.parametrize("sandbox,nnp", [
    ("", "0"),
    ("NoNewPrivileges=yes", "1"),
    # a non-root payload: the filter goes on before the uid switch, while CAP_SYS_ADMIN is held
    ("User=www", "0"),
    ("User=www\nNoNewPrivileges=yes", "1"),
    # the payload's own user namespace: loaded there, as its root
    ("Namespaces=pid mount uts ipc net user", "0"),
    ("Namespaces=pid mount uts ipc net user\nUser=www", "0"),
], ids=["root", "root-nnp", "user", "user-nnp", "userns", "userns-user"])
def test_filter_and_no_new_privs(daemon, layers, probe_layer, sandbox, nnp):
    p = probe_unit(daemon, layers, probe_layer, "nnp.unit", "syscalls", sandbox=sandbox)
    assert p["NoNewPrivileges"] == ("yes" if nnp == "1" else "no")
    st = status(p["MainPID"])
    assert st["Seccomp"] == "2" and st["Seccomp_filters"] == "2"  # with the view's sysinfo one
    assert st["NoNewPrivs"] == nnp
    got = results("\n".join(daemon.payload_output("nnp.unit")))
    assert got["unshare-user"] == "EPERM" and got["keyctl"] == "EPERM"
    assert got["allowed-getpid"] == "ok"
    daemon.ctl("stop", "nnp.unit")


def cgroup_limits(unit):
    if is_v2():
        return (cgroup_file("memory", unit, "", "memory.max").read_text().strip(),
                cgroup_file("pids", unit, "pids.max").read_text().strip(),
                cgroup_file("cpu", unit, "", "cpu.max").read_text().strip())
    return (cgroup_file("memory", unit, "memory.limit_in_bytes").read_text().strip(),
            cgroup_file("pids", unit, "pids.max").read_text().strip(),
            cgroup_file("cpu", unit, "cpu.cfs_quota_us").read_text().strip())


def test_limits_cannot_be_lifted_from_inside(daemon, layers, probe_layer):
    """Escape 3: a root payload makes a user + mount + cgroup namespace, maps 0 to its own 0,
    mounts the cgroup hierarchies and writes -1/max into its limits. The default filter refuses
    the first step; the kernel still holds the unit's limits afterwards."""
    limits = "MemoryMax=64M\nTasksMax=20\nCPUQuota=20%"
    probe_unit(daemon, layers, probe_layer, "esc.unit", "escape-limits", resources=limits)
    expected = (str(64 << 20), "20", "20000 100000" if is_v2() else "20000")
    got = results("\n".join(daemon.payload_output("esc.unit")))
    assert got["escape-unshare"] == "EPERM", got
    assert cgroup_limits("esc.unit") == expected
    daemon.ctl("stop", "esc.unit")

    # the control: without the filter the first step succeeds (what follows is the escape
    # itself, which other defences may or may not stop)
    probe_unit(daemon, layers, probe_layer, "esc-open.unit", "escape-limits",
               sandbox="SeccompProfile=unconfined", resources=limits)
    assert results("\n".join(daemon.payload_output("esc-open.unit")))["escape-unshare"] == "ok"
    daemon.ctl("stop", "esc-open.unit")


# ---- the keyring (escape 5), through keyctl(2) from this process ----

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_add_key, SYS_keyctl = 248, 250
KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING = -4, -3
KEYCTL_GET_KEYRING_ID, KEYCTL_UNLINK, KEYCTL_SEARCH, KEYCTL_READ, KEYCTL_INVALIDATE = \
    0, 9, 10, 11, 21


def keyctl(*args):
    r = libc.syscall(ctypes.c_long(SYS_keyctl), *[ctypes.c_long(a) if isinstance(a, int) else a
                                                   for a in args])
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


def add_user_key(desc, payload):
    r = libc.syscall(ctypes.c_long(SYS_add_key), b"user", desc.encode(), payload,
                     ctypes.c_size_t(len(payload)), ctypes.c_long(KEY_SPEC_USER_KEYRING))
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


def search_user_key(desc):
    try:
        return keyctl(KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, b"user", desc.encode(), 0)
    except OSError:
        return None


def drop_key(key_id):
    for op in (KEYCTL_INVALIDATE, KEYCTL_UNLINK):
        try:
            keyctl(op, key_id, KEY_SPEC_USER_KEYRING)
        except OSError:
            pass


def keyring_unit(daemon, layers, probe_layer, name, key_id, desc, planted, sandbox=""):
    cmd = (f"/bin/seccomp-probe keyring-read {key_id}; /bin/seccomp-probe keyring-search {desc}; "
           f"/bin/seccomp-probe keyring-add {planted}; /bin/seccomp-probe keyring-session; "
           f"echo keyring-done; {SLEEP}")
    daemon.write_unit(name, unit_text(layers, f"/bin/sh -c '{cmd}'",
                                      sandbox=f"Layers={probe_layer}\n{sandbox}"))
    daemon.ctl("start", name)
    daemon.wait_for(name, lambda p: "keyring-done" in daemon.log(name))
    return results("\n".join(daemon.payload_output(name)))


def test_host_keyring_out_of_reach(daemon, layers, probe_layer):
    """Escape 5: a key in root's user keyring on the host cannot be read from inside, and a key
    added inside does not appear on the host."""
    tag = uuid.uuid4().hex[:12]
    desc, planted = f"sandboxd-test-{tag}", f"sandboxd-test-planted-{tag}"
    key = add_user_key(desc, b"host-secret")
    try:
        got = keyring_unit(daemon, layers, probe_layer, "keys.unit", key, desc, planted)
        assert got["keyring-read"] == "EPERM"
        assert got["keyring-search"] == "EPERM"
        assert got["keyring-add"] == "EPERM"
        assert got["keyring-session"] == "EPERM"
        assert search_user_key(planted) is None
        # the host's key is still there, unchanged
        buf = ctypes.create_string_buffer(64)
        n = keyctl(KEYCTL_READ, key, buf, 64)
        assert buf.raw[:n] == b"host-secret"
        daemon.ctl("stop", "keys.unit")

        # without the filter: the payload still has a session keyring of its own (not the one
        # of whoever started sandboxd), so the host's key is not its possession to read
        got = keyring_unit(daemon, layers, probe_layer, "keys-open.unit", key, desc,
                           planted + "-open", sandbox="SeccompProfile=unconfined")
        mine = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
        assert got["keyring-session"].startswith("ok ")
        assert int(got["keyring-session"].split()[1]) != mine
        assert got["keyring-read"] != "ok host-secret"
        # and what the filter stops: a key planted from inside lands in the host's keyring
        assert got["keyring-add"].startswith("ok ")
        assert search_user_key(planted + "-open") is not None
        daemon.ctl("stop", "keys-open.unit")
    finally:
        for d in (desc, planted, planted + "-open"):
            k = search_user_key(d)
            if k is not None:
                drop_key(k)
        drop_key(key)
    assert search_user_key(desc) is None


# ---- Docker/OCI JSON profiles ----

SMALL_PROFILE = """{
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["unshare", "keyctl", "not_a_syscall_here"], "action": "SCMP_ACT_ERRNO",
         "errnoRet": 13},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_NE"}]},
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
    ]
}
"""


def test_json_profile(daemon, layers, probe_layer, tmp_path):
    prof = tmp_path / "small.json"
    prof.write_text(SMALL_PROFILE)
    p = probe_unit(daemon, layers, probe_layer, "json.unit", "syscalls",
                   sandbox=f"SeccompProfile={prof}")
    assert p["Seccomp"] == str(prof)
    got = results("\n".join(daemon.payload_output("json.unit")))
    assert got["unshare-user"] == "EACCES" and got["keyctl"] == "EACCES"
    assert got["i386-keyctl"] == "EACCES"
    assert got["x32-keyctl"] == "EACCES"  # the profile lists x32: its rules apply
    assert got["personality"] == "EPERM" and got["allowed-personality-query"] == "ok"
    # allowed by default: what the kernel says without a filter in the way
    assert got["clone3"] == "EINVAL" and got["bpf"] != "EACCES"
    assert status(p["MainPID"])["Seccomp"] == "2"
    daemon.ctl("stop", "json.unit")


@pytest.mark.parametrize("content,why", [
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [', "not valid JSON: the text ends early"),
    ('{"defaultAction": "SCMP_ACT_MAYBE"}', 'defaultAction: unknown action "SCMP_ACT_MAYBE"'),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], '
     '"action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]}',
     "syscalls[0].args[0]: index: 9 out of range"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}',
     'architectures: libseccomp does not know "vax"'),
    (None, "No such file or directory"),
    ("fifo", "not a regular file"),
], ids=["truncated", "action", "arg-index", "arch", "missing", "fifo"])
def test_bad_json_profile_names_the_file(daemon, layers, tmp_path, content, why):
    prof = tmp_path / "bad.json"
    if content == "fifo":
        os.mkfifo(prof)  # nobody writes: a blocking open would hang the daemon
    elif content is not None:
        prof.write_text(content)
    daemon.write_unit("badjson.unit", unit_text(layers, "/bin/sh -c 'exec sleep 1000'",
                                                sandbox=f"SeccompProfile={prof}"))
    t0 = time.monotonic()
    r = daemon.ctl("start", "badjson.unit", check=False, timeout=20)
    assert r.returncode != 0
    assert f"SeccompProfile={prof}: {why}" in r.stderr, r.stderr
    assert daemon.show("badjson.unit")["ActiveState"] == "failed"
    assert time.monotonic() - t0 < 15  # a liveness bound, not a timing assertion
    # the daemon is still there for everyone else
    assert daemon.ctl("list").returncode == 0


def test_seccomp_keys_in_unit_files(daemon, layers):
    daemon.write_unit("bad-key.unit", unit_text(layers, "/bin/true",
                                                       sandbox="SeccompProfile=relative.json\n"
                                                               "NoNewPrivileges=perhaps"))
    r = daemon.ctl("start", "bad-key.unit", check=False)
    assert r.returncode != 0
    assert "SeccompProfile=relative.json: expected default, unconfined, or the absolute path" \
        in r.stderr
    assert "NoNewPrivileges=perhaps: expected a boolean" in r.stderr
    daemon.write_unit("keys.unit", unit_text(layers, "/bin/sh -c 'exec sleep 1000'",
                                             sandbox="SeccompProfile=default\n"
                                                     "NoNewPrivileges=yes"))
    daemon.ctl("start", "keys.unit")
    p = daemon.show("keys.unit")
    assert p["Seccomp"] == "default" and p["NoNewPrivileges"] == "yes"
    daemon.ctl("stop", "keys.unit")
