# SPDX-License-Identifier: GPL-2.0-or-later
"""enable, disable, is-enabled, and the start of the enabled units when sandboxd starts."""

import os
import time

from conftest import cgroup_dir, notify_unit, unit_text


def sleeper(layers, text="running"):
    return unit_text(layers, f"/bin/sh -c 'echo {text}; exec sleep 1000'")


def wait_active(daemon, unit, timeout=15):
    deadline = time.monotonic() + timeout
    while daemon.show(unit).get("ActiveState") != "active":
        assert time.monotonic() < deadline, daemon.output.read_text()[-2000:]
        time.sleep(0.05)


def list_rows(daemon):
    out = daemon.ctl("list").stdout.splitlines()
    assert out[0].split()[:5] == ["UNIT", "ACTIVE", "SUB", "ENABLED", "PID"]
    return {line.split()[0]: line.split() for line in out[1:] if line and "listed." not in line}


def test_enable_disable_and_is_enabled(daemon, layers):
    daemon.write_unit("web.unit", sleeper(layers))
    r = daemon.ctl("is-enabled", "web", check=False)
    assert r.returncode == 1 and r.stdout == "disabled\n"
    r = daemon.ctl("enable", "web")
    link = daemon.enabled / "web.unit"
    assert r.stdout == f"Created symlink {link} -> {daemon.units / 'web.unit'}.\n"
    assert os.readlink(link) == str(daemon.units / "web.unit")
    assert daemon.ctl("is-enabled", "web.unit").stdout == "enabled\n"
    assert daemon.ctl("enable", "web").stdout == ""  # nothing to do
    assert daemon.show("web.unit")["ActiveState"] == "inactive"  # enable does not start
    daemon.ctl("enable", "--now", "web")
    wait_active(daemon, "web.unit")
    assert list_rows(daemon)["web.unit"][3] == "enabled"
    assert daemon.show("web.unit")["UnitFileState"] == "enabled"
    r = daemon.ctl("disable", "--now", "web")
    assert r.stdout == f"Removed {link}.\n"
    assert not os.path.lexists(link)
    assert daemon.show("web.unit")["ActiveState"] == "inactive"
    assert list_rows(daemon)["web.unit"][3] == "disabled"
    assert daemon.ctl("disable", "web").stdout == ""  # disabled already: fine


def test_a_path_outside_the_unit_path_is_linked(daemon, layers, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "side.unit").write_text(sleeper(layers))
    daemon.ctl("enable", elsewhere / "side.unit")
    assert os.readlink(daemon.enabled / "side.unit") == str(elsewhere / "side.unit")
    assert daemon.ctl("is-enabled", "side").stdout == "enabled\n"


def test_a_bad_unit_file_is_not_enabled(daemon, layers):
    daemon.write_unit("good.unit", sleeper(layers))
    daemon.write_unit("bad.unit", "[Service]\nExecStart=/bin/true\nRestart=sometimes\n")
    r = daemon.ctl("enable", "good", "bad", check=False)
    assert r.returncode != 0
    assert "bad.unit:3: Restart=sometimes" in r.stderr
    # all or nothing: the good one is not linked either
    assert not daemon.enabled.exists() or os.listdir(daemon.enabled) == []
    r = daemon.ctl("enable", "nosuch", check=False)
    assert r.returncode != 0 and "nosuch" in r.stderr
    r = daemon.ctl("enable", "../../etc/passwd", check=False)
    assert r.returncode != 0
    r = daemon.ctl("is-enabled", "a/b", check=False)
    assert r.returncode != 0 and "not a valid unit name" in r.stderr


def test_sandboxd_starts_exactly_the_enabled_units(daemon, layers, init_reaper):
    for name in ("one", "two", "off"):
        daemon.write_unit(f"{name}.unit", sleeper(layers, name))
    daemon.ctl("enable", "one", "two")
    daemon.stop()
    daemon.start()
    wait_active(daemon, "one.unit")
    wait_active(daemon, "two.unit")
    rows = list_rows(daemon)
    assert "off.unit" not in rows or rows["off.unit"][1] == "inactive"
    # the kernel's view: each enabled unit's payload in its own group, none for the other
    for u in ("one.unit", "two.unit"):
        pid = daemon.show(u)["MainPID"]
        assert pid in (cgroup_dir("pids", u) / "cgroup.procs").read_text().split()
    assert not cgroup_dir("pids", "off.unit").exists()
    out = daemon.output.read_text()
    assert "Starting 2 enabled units." in out and "Started 2 of 2 enabled units." in out
    pids = {u: int(daemon.show(u)["MainPID"]) for u in ("one.unit", "two.unit")}
    # a new sandboxd that adopts them (the old one was killed) does not start them again
    daemon.proc.kill()
    daemon.proc.wait()
    daemon.start()
    for u, pid in pids.items():
        wait_active(daemon, u)
        assert int(daemon.show(u)["MainPID"]) == pid
    assert daemon.output.read_text().count("enabled unit one.unit runs already (adopted)") == 1
    daemon.ctl("stop", "one.unit", "two.unit")


def test_broken_links_in_the_enabled_directory_are_skipped(daemon, layers, tmp_path):
    daemon.write_unit("fine.unit", sleeper(layers))
    daemon.ctl("enable", "fine")
    secret = tmp_path / "secret"
    secret.write_text("root:x:0:0\n")
    os.symlink(daemon.units / "gone.unit", daemon.enabled / "gone.unit")  # its file is gone
    os.symlink(secret, daemon.enabled / "evil.unit")  # not a unit file, wrong name
    os.symlink(daemon.units / "fine.unit", daemon.enabled / "alias.unit")  # another's name
    (daemon.enabled / "plain.unit").write_text(sleeper(layers))  # not a link
    daemon.write_unit("plain.unit", sleeper(layers))
    for verb in ("enable", "disable"):  # neither replaces nor removes someone's file
        r = daemon.ctl(verb, "plain", check=False)
        assert r.returncode != 0 and "is not a link; remove it by hand" in r.stderr, r.stderr
        assert (daemon.enabled / "plain.unit").read_text() == sleeper(layers)
    daemon.stop()
    daemon.start()
    wait_active(daemon, "fine.unit")
    out = daemon.output.read_text()
    assert f"{daemon.enabled / 'evil.unit'}: links to {secret}, not to an absolute path of a " \
           "file named evil.unit; ignored" in out
    assert f"{daemon.enabled / 'alias.unit'}: links to {daemon.units / 'fine.unit'}" in out
    assert f"{daemon.enabled / 'plain.unit'}: not a link to a unit file; ignored" in out
    assert "enabled unit gone.unit: " in out
    assert "Starting 1 enabled unit." in out
    rows = list_rows(daemon)
    assert set(rows) == {"fine.unit"}
    daemon.ctl("stop", "fine.unit")


def test_only_root_enables(daemon, layers):
    """A local user reaches neither the socket (0600) nor, with the socket opened to all, the
    methods (sd-bus refuses privileged methods to other uids; each also checks the caller's
    uid): no link is made either way."""
    import subprocess
    from conftest import SANDBOXCTL
    daemon.write_unit("web.unit", sleeper(layers))
    public = str(daemon.socket)
    # the directories above the socket made passable for others (pytest's are 0700), and
    # put back afterwards
    changed = []
    for d in daemon.socket.parents:
        m = os.stat(d).st_mode & 0o7777
        if not m & 0o001:
            changed.append((d, m))
            os.chmod(d, m | 0o001)
    mode = os.stat(daemon.socket).st_mode & 0o777
    try:
        def as_nobody(*args):
            return subprocess.run([str(SANDBOXCTL), "--socket", public, *args], user=65534,
                                  group=65534, capture_output=True, text=True, timeout=30)
        r = as_nobody("enable", "web")
        assert r.returncode != 0 and "permission denied" in r.stderr, r.stderr
        os.chmod(public, 0o666)
        for args in (["enable", "web"], ["disable", "web"], ["is-enabled", "web"]):
            r = as_nobody(*args)
            assert r.returncode != 0 and "not permitted" in r.stderr, r.stderr
        assert not daemon.enabled.exists() or os.listdir(daemon.enabled) == []
    finally:
        os.chmod(public, mode)
        for d, m in changed:
            os.chmod(d, m)


def proc_start_seconds(pid):
    """When the kernel started pid, in seconds since boot (CLOCK_BOOTTIME, clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def test_boot_starts_the_enabled_units_in_dependency_order(daemon, layers, notify_layer):
    """The boot of five enabled units: db <- app (Requires+After db, Type=notify, ready after
    1 s) <- web (After app, Wants cache), cache; and one that is not enabled."""
    daemon.write_unit("db.unit", sleeper(layers, "db"))
    daemon.write_unit("app.unit", notify_unit(layers, notify_layer, "--ready-after-ms 1000",
                                              unit="Requires=db\nAfter=db"))
    daemon.write_unit("web.unit", sleeper(layers, "web") + "[Unit]\nAfter=app\nWants=cache\n")
    daemon.write_unit("cache.unit", sleeper(layers, "cache"))
    daemon.write_unit("off.unit", sleeper(layers, "off"))
    daemon.write_unit("extra.unit", sleeper(layers, "extra"))
    daemon.ctl("enable", "db", "app", "web", "cache", "extra")
    daemon.stop()
    for d in (daemon.state, daemon.runtime):  # a fresh state tree
        if d.exists():
            import shutil
            shutil.rmtree(d)
    daemon.start()
    for u in ("db.unit", "app.unit", "web.unit", "cache.unit", "extra.unit"):
        wait_active(daemon, u)
    rows = list_rows(daemon)
    assert "off.unit" not in rows
    out = daemon.output.read_text()
    assert "Started 5 of 5 enabled units." in out
    # web began only after app's READY=1 came (sandboxd's order of events) ...
    assert out.index("app.unit: Ready (READY=1).") < out.index("web.unit: Starting.")
    assert out.index("db.unit: Started, main PID") < out.index("app.unit: Starting.")
    # ... and the kernel agrees: web's payload was born after app sent READY=1
    ready_line = [l for l in daemon.payload_output("app.unit") if "boottime" in l][0]
    ready_at = float(ready_line.rsplit(" ", 1)[1])
    web_born = proc_start_seconds(daemon.show("web.unit")["MainPID"])
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert web_born + tick >= ready_at, (web_born, ready_at)
    # independent units start side by side: db, cache and extra all began before any of them
    # had started
    first_started = min(out.index(f"{u}: Started, main PID") for u in ("db.unit", "cache.unit",
                                                                        "extra.unit"))
    for u in ("db.unit", "cache.unit", "extra.unit"):
        assert out.index(f"{u}: Starting.") < first_started, out
    daemon.ctl("stop", "db", "cache", "extra", "web")
