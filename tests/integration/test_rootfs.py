# SPDX-License-Identifier: GPL-2.0-or-later
"""The floor and the walls: overlay of layers with shadowing and whiteouts, writes in the rw
layer only, hostname, PID namespace with our init as PID 1, distinct namespaces, volumes."""

import os
from pathlib import Path

from conftest import sandbox_exec, unit_text

SLEEPER = "/bin/sh -c 'echo ready; exec sleep 1000'"


def start_sleeper(daemon, layers, name="fs.unit", **kw):
    daemon.write_unit(name, unit_text(layers, SLEEPER, **kw))
    daemon.ctl("start", name)
    props = daemon.show(name)
    assert props["ActiveState"] == "active"
    pid = int(props["MainPID"])
    assert pid > 0
    return pid


def test_layers_shadow_whiteout_and_rw_layer(daemon, layers):
    pid = start_sleeper(daemon, layers, sandbox="Hostname=layered")
    assert sandbox_exec(pid, "cat", "/etc/motd").stdout == "from top\n"
    assert sandbox_exec(pid, "cat", "/etc/only-base").stdout == "base only\n"
    r = sandbox_exec(pid, "cat", "/etc/secret")
    assert r.returncode != 0 and "No such file" in r.stderr

    assert sandbox_exec(pid, "sh", "-c", "echo written > /etc/new-file && rm /etc/only-base"
                        ).returncode == 0
    upper = daemon.state / "sandboxes" / "fs.unit" / "upper"
    assert (upper / "etc" / "new-file").read_text() == "written\n"
    # the deletion is a whiteout in the rw layer; the image layer is untouched
    assert (layers["base"] / "etc" / "only-base").read_text() == "base only\n"
    st = os.lstat(upper / "etc" / "only-base")
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0
    for layer in layers.values():
        assert not (layer / "etc" / "new-file").exists()


def test_rw_layer_survives_restart_and_clean_removes_it(daemon, layers):
    pid = start_sleeper(daemon, layers)
    assert sandbox_exec(pid, "sh", "-c", "echo kept > /root/state").returncode == 0
    daemon.ctl("stop", "fs.unit")
    daemon.ctl("start", "fs.unit")
    pid = int(daemon.show("fs.unit")["MainPID"])
    assert sandbox_exec(pid, "cat", "/root/state").stdout == "kept\n"
    r = daemon.ctl("clean", "fs.unit", check=False)
    assert r.returncode != 0 and "stop it" in r.stderr  # refused while running
    daemon.ctl("stop", "fs.unit")
    daemon.ctl("clean", "fs.unit")
    assert not (daemon.state / "sandboxes" / "fs.unit").exists()
    assert not (daemon.runtime / "sandboxes" / "fs.unit").exists()


def test_hostname_init_and_pid_namespace(daemon, layers):
    pid = start_sleeper(daemon, layers, sandbox="Hostname=box-1")
    assert sandbox_exec(pid, "hostname").stdout.strip() == "box-1"
    assert sandbox_exec(pid, "cat", "/etc/hostname").stdout.strip() == "box-1"
    assert "box-1" in sandbox_exec(pid, "cat", "/etc/hosts").stdout
    ps = sandbox_exec(pid, "ps", "-o", "pid,comm").stdout.split("\n")[1:]
    procs = {int(l.split()[0]): l.split()[1] for l in ps if l.strip()}
    assert procs[1] == "sandboxd-init"
    # only the sandbox's own: init, the payload and the ps we ran (the payload is not always
    # PID 2: the proc view's lxcfs may have had a short-lived helper in the namespace first)
    assert sorted(procs.values()) == ["ps", "sandboxd-init", "sleep"], procs
    # the host's pid of PID 1 inside is the init's, whose child is the payload
    assert Path(f"/proc/{pid}/status").read_text().count("NSpid") == 1
    nspid = [l for l in Path(f"/proc/{pid}/status").read_text().splitlines()
             if l.startswith("NSpid:")][0].split()
    assert procs[int(nspid[-1])] == "sleep"


def test_namespaces_differ_from_host(daemon, layers):
    pid = start_sleeper(daemon, layers)
    for ns in ("pid", "mnt", "uts", "ipc", "net"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    # the network namespace holds the loopback and the veth end sandboxd made (Network=bridge,
    # the default), never a link of the host's
    links = sandbox_exec(pid, "ip", "-o", "link").stdout
    names = [l.split(":")[1].strip().split("@")[0] for l in links.splitlines()]
    assert names == ["lo", "eth0"], links


def test_namespaces_subset_shares_the_rest(daemon, layers):
    pid = start_sleeper(daemon, layers, sandbox="Namespaces=mount pid")
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{pid}/ns/uts") == os.readlink("/proc/self/ns/uts")


def test_proc_dev_sys(daemon, layers):
    pid = start_sleeper(daemon, layers)
    mounts = sandbox_exec(pid, "cat", "/proc/self/mounts").stdout
    kinds = {l.split()[1]: (l.split()[2], l.split()[3]) for l in mounts.splitlines()}
    assert kinds["/"][0] == "overlay"
    assert kinds["/proc"][0] == "proc"
    assert kinds["/dev"][0] == "tmpfs"
    assert kinds["/dev/pts"][0] == "devpts"
    assert kinds["/sys"][0] == "sysfs" and "ro" in kinds["/sys"][1].split(",")
    devs = sandbox_exec(pid, "ls", "/dev").stdout.split()
    for d in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx"):
        assert d in devs
    assert sandbox_exec(pid, "sh", "-c", "echo x > /dev/null").returncode == 0
    # masked and read-only parts of /proc
    assert sandbox_exec(pid, "cat", "/proc/kcore").stdout == ""
    r = sandbox_exec(pid, "sh", "-c", "echo 1 > /proc/sys/kernel/panic")
    assert r.returncode != 0
    # no mount of the host is visible: the old root was detached
    assert not any(p.startswith(str(layers["base"])) for p in kinds)


def test_volumes_rw_and_ro(daemon, layers, tmp_path):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "file").write_text("host file\n")
    pid = start_sleeper(daemon, layers,
                        sandbox=f"Volume={rw}:/data/rw\nVolume={ro}:/data/ro:ro")
    assert sandbox_exec(pid, "sh", "-c", "echo from-sandbox > /data/rw/out").returncode == 0
    assert (rw / "out").read_text() == "from-sandbox\n"
    assert sandbox_exec(pid, "cat", "/data/ro/file").stdout == "host file\n"
    r = sandbox_exec(pid, "sh", "-c", "echo x > /data/ro/new")
    assert r.returncode != 0 and "Read-only" in r.stderr
    assert not (ro / "new").exists()


def test_user_environment_and_workdir(daemon, layers):
    daemon.write_unit("who.unit", unit_text(
        layers, "/bin/sh -c 'id; pwd; echo \"GREETING=$GREETING\"; exec sleep 1000'",
        sandbox="User=www\nEnvironment=\"GREETING=hello world\"\nWorkingDirectory=/tmp"))
    daemon.ctl("start", "who.unit")
    daemon.wait_for("who.unit", lambda p: "GREETING" in daemon.log("who.unit"))
    out = daemon.payload_output("who.unit")
    assert "uid=33(www) gid=33(www) groups=50(staff)" in out
    assert "/tmp" in out
    assert "GREETING=hello world" in out


def test_root_directory_read_only(daemon, layers, tmp_path):
    daemon.write_unit("plain.unit", f"""[Sandbox]
RootDirectory={layers['base']}
ReadOnly=yes
Hostname=plain
[Service]
ExecStart={SLEEPER}
""")
    daemon.ctl("start", "plain.unit")
    pid = int(daemon.show("plain.unit")["MainPID"])
    assert sandbox_exec(pid, "cat", "/etc/motd").stdout == "from base\n"
    r = sandbox_exec(pid, "sh", "-c", "echo x > /etc/motd")
    assert r.returncode != 0 and "Read-only" in r.stderr
    assert sandbox_exec(pid, "hostname").stdout.strip() == "plain"


def test_loopback_is_up_and_a_server_answers_on_it(daemon, layers, tmp_path):
    www = tmp_path / "www-layer"
    (www / "var" / "www").mkdir(parents=True)
    (www / "var" / "www" / "index.html").write_text("hello from the sandbox\n")
    daemon.write_unit("web.unit", f"""[Sandbox]
Layers={layers['base']} {www}
User=www
[Service]
ExecStart=/bin/httpd -f -v -p 8080 -h /var/www
""")
    daemon.ctl("start", "web.unit")
    pid = int(daemon.show("web.unit")["MainPID"])
    link = sandbox_exec(pid, "ip", "-o", "link", "show", "lo").stdout
    assert "UP" in link.split("<")[1].split(">")[0].split(",")
    got = sandbox_exec(pid, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/")
    assert got.stdout == "hello from the sandbox\n", got.stderr
    daemon.wait_for("web.unit", lambda p: "response:200" in daemon.log("web.unit"))


def cap_bounding_set(pid):
    line = [l for l in Path(f"/proc/{pid}/status").read_text().splitlines()
            if l.startswith("CapBnd:")][0]
    return int(line.split()[1], 16)


DEFAULT_CAPS = sum(1 << c for c in (0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 31))


def test_payload_gets_the_default_capability_bounding_set(daemon, layers):
    daemon.write_unit("caps.unit", unit_text(
        layers, "/bin/sh -c 'mount -t tmpfs none /tmp; echo mount-rc=$?; exec sleep 1000'"))
    daemon.ctl("start", "caps.unit")
    pid = int(daemon.show("caps.unit")["MainPID"])
    assert cap_bounding_set(pid) == DEFAULT_CAPS
    eff = [l for l in Path(f"/proc/{pid}/status").read_text().splitlines()
           if l.startswith("CapEff:")][0]
    assert int(eff.split()[1], 16) == DEFAULT_CAPS  # root in the sandbox, but only these
    daemon.wait_for("caps.unit", lambda p: "mount-rc=" in daemon.log("caps.unit"))
    log = daemon.log("caps.unit")
    assert "mount-rc=1" in log and "permission denied" in log  # no CAP_SYS_ADMIN: EPERM
    assert "cap_sys_admin" not in daemon.show("caps.unit")["CapabilityBoundingSet"]


def test_capability_bounding_set_can_grant_and_user_gets_none(daemon, layers):
    daemon.write_unit("admin.unit", unit_text(
        layers, "/bin/sh -c 'mount -t tmpfs none /tmp && echo mounted; exec sleep 1000'",
        sandbox="CapabilityBoundingSet=CAP_SYS_ADMIN"))
    daemon.ctl("start", "admin.unit")
    pid = int(daemon.show("admin.unit")["MainPID"])
    assert cap_bounding_set(pid) == 1 << 21
    daemon.wait_for("admin.unit", lambda p: "mounted" in daemon.log("admin.unit"))
    daemon.write_unit("user.unit", unit_text(layers, SLEEPER, sandbox="User=www"))
    daemon.ctl("start", "user.unit")
    pid = int(daemon.show("user.unit")["MainPID"])
    status = Path(f"/proc/{pid}/status").read_text()
    assert "CapEff:\t0000000000000000" in status and "CapPrm:\t0000000000000000" in status


def test_no_daemon_fd_reaches_the_payload(daemon, layers):
    daemon.write_unit("fds.unit", unit_text(layers, SLEEPER))
    daemon.ctl("start", "fds.unit")
    pid = int(daemon.show("fds.unit")["MainPID"])
    fds = sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))
    assert fds == [0, 1, 2], [(f, os.readlink(f"/proc/{pid}/fd/{f}")) for f in fds]
    # stdin is the sandbox's own /dev/null, stdout and stderr pipes the init relays (one per
    # stream): nothing that reopens to a host file or reaches the daemon
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    assert os.readlink(f"/proc/{pid}/fd/1").startswith("pipe:")
    assert os.readlink(f"/proc/{pid}/fd/2").startswith("pipe:")
    assert os.readlink(f"/proc/{pid}/fd/2") != os.readlink(f"/proc/{pid}/fd/1")
    init = int(open(f"/proc/{pid}/status").read().split("PPid:")[1].split()[0])
    init_pipes = {os.readlink(f"/proc/{init}/fd/{f}") for f in os.listdir(f"/proc/{init}/fd")}
    # the payload's pipes are the init's relay pipes, not the log pipe to the daemon
    assert os.readlink(f"/proc/{init}/fd/1") not in (os.readlink(f"/proc/{pid}/fd/1"),
                                                       os.readlink(f"/proc/{pid}/fd/2"))
    assert os.readlink(f"/proc/{pid}/fd/1") in init_pipes
    # the payload's cwd is inside its own root, never a host directory
    assert os.readlink(f"/proc/{pid}/cwd") == "/"


def test_init_reaps_orphaned_zombies(daemon, layers):
    # 20 grandchildren whose parent exits at once: they are re-parented to the init, exit, and
    # must not stay zombies (a plain payload as PID 1 would leak them up to pids.max)
    daemon.write_unit("orphans.unit", unit_text(
        layers, "/bin/sh -c 'for i in $(seq 20); do (sleep 0.2 &) ; done; echo spawned; "
                "exec sleep 1000'"))
    daemon.ctl("start", "orphans.unit")
    pid = int(daemon.show("orphans.unit")["MainPID"])
    daemon.wait_for("orphans.unit", lambda p: "spawned" in daemon.log("orphans.unit"))
    daemon.wait_for("orphans.unit", lambda p: p["TasksCurrent"] == "2")
    states = sandbox_exec(pid, "ps", "-o", "stat").stdout.split()[1:]
    assert "Z" not in "".join(states), states


def test_cgroup_namespace_roots_the_sandbox_at_its_cgroup(daemon, layers):
    daemon.write_unit("cgns.unit", unit_text(
        layers, "/bin/sh -c 'cat /proc/self/cgroup; exec sleep 1000'",
        sandbox="Namespaces=pid mount uts ipc net cgroup"))
    daemon.ctl("start", "cgns.unit")
    pid = int(daemon.show("cgns.unit")["MainPID"])
    assert os.readlink(f"/proc/{pid}/ns/cgroup") != os.readlink("/proc/self/ns/cgroup")
    # v1 names the memory hierarchy, v2 has the one "0::" line
    daemon.wait_for("cgns.unit", lambda p: any(
        ":memory:" in l or l.startswith("0::") for l in daemon.payload_output("cgns.unit")))
    lines = [l for l in daemon.payload_output("cgns.unit") if ":memory:" in l or
             l.startswith("0::")]
    assert lines and all(l.endswith(":/") for l in lines), lines
