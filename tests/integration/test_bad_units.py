# SPDX-License-Identifier: GPL-2.0-or-later
"""Bad unit files: `verify` (offline) and `start` give the same FILE:LINE errors, and a refused
start creates nothing: no cgroup, no state, no runtime directory."""

import subprocess

import pytest

from conftest import SANDBOXCTL, cgroup_dir

GOOD = "[Sandbox]\nLayers=/tmp\n[Service]\nExecStart=/bin/true\n"

CASES = {
    "unknown-key": (GOOD + "Colour=blue\n",
                    "{path}:5: Colour=blue: unknown key in section [Service]"),
    "bad-size": ("[Sandbox]\nLayers=/tmp\n[Resources]\nMemoryMax=12X\n[Service]\n"
                 "ExecStart=/bin/true\n",
                 "{path}:4: MemoryMax=12X: expected a size above 0 like 64M, 1.5G, or infinity"),
    "bad-timespan": (GOOD + "RestartSec=soon\n",
                     "{path}:5: RestartSec=soon: expected a time span like 100ms, 5s or "
                     "1min 30s"),
    "missing-execstart": ("[Sandbox]\nLayers=/tmp\n[Service]\nRestart=always\n",
                          "{path}:3: ExecStart=: missing; [Service] must say what to run"),
    "bad-namespace": ("[Sandbox]\nLayers=/tmp\nNamespaces=pid mount time\n[Service]\n"
                      "ExecStart=/bin/true\n",
                      "{path}:3: Namespaces=pid mount time: unknown namespace, expected words "
                      "from: pid mount uts ipc net user cgroup"),
    # (uid_t) -1 makes setresuid() a no-op: the payload would run as root
    "user-id-out-of-range": ("[Sandbox]\nLayers=/tmp\nUser=4294967295\n[Service]\n"
                             "ExecStart=/bin/true\n",
                             "{path}:3: User=4294967295: numeric ids above 2147483647 are "
                             "refused ((uid_t) -1 would leave the payload root)"),
    # Network= is settled against Namespaces= after the whole file, naming both lines
    "network-needs-netns": ("[Sandbox]\nNetwork=bridge\nLayers=/tmp\nNamespaces=pid mount\n"
                            "[Service]\nExecStart=/bin/true\n",
                            "{path}:2: Network=bridge: needs a network namespace, but "
                            "Namespaces= on line 4 has no net"),
    "port-on-ipv6-loopback": ("[Sandbox]\nLayers=/tmp\nPort=[::1]:8080:80\n[Service]\n"
                              "ExecStart=/bin/true\n",
                              "{path}:3: Port=[::1]:8080:80: [::1] cannot be published: the "
                              "kernel does not route connections to IPv6 loopback that were "
                              "DNATed elsewhere (IPv6 has no route_localnet); use 127.0.0.1 "
                              "for a port on loopback only"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_reports_file_and_line(tmp_path, case):
    text, expected = CASES[case]
    path = tmp_path / f"{case}.unit"
    path.write_text(text)
    r = subprocess.run([str(SANDBOXCTL), "verify", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip() == expected.format(path=path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_start_refuses_and_creates_nothing(daemon, case):
    text, expected = CASES[case]
    path = daemon.write_unit(f"{case}.unit", text)
    r = daemon.ctl("start", f"{case}.unit", check=False)
    assert r.returncode != 0
    assert r.stderr.strip() == expected.format(path=path)
    assert not cgroup_dir("memory", f"{case}.unit").exists()
    assert not (daemon.state / "sandboxes" / f"{case}.unit").exists()
    assert not (daemon.runtime / "sandboxes" / f"{case}.unit").exists()
    assert f"{case}.unit" not in daemon.ctl("list").stdout


def test_verify_lists_every_error_of_every_file(tmp_path):
    a, b, good = tmp_path / "a.unit", tmp_path / "b.unit", tmp_path / "good.unit"
    a.write_text("[Sandbox]\nLayers=rel\n[Resources]\nTasksMax=-1\n[Service]\n"
                 "ExecStart=/bin/true\n")
    b.write_text("[Nope]\nX=1\n")
    good.write_text(GOOD)
    r = subprocess.run([str(SANDBOXCTL), "verify", str(good)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""
    r = subprocess.run([str(SANDBOXCTL), "verify", str(a), str(good), str(b)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert f"{a}:2: Layers=rel: layer directories must be absolute paths without . or .." \
        in lines
    assert any(l.startswith(f"{a}:4: TasksMax=-1:") for l in lines)
    assert any(l.startswith(f"{b}:1: [Nope]: unknown section") for l in lines)
    assert not any(str(good) in l for l in lines)


def test_verify_checks_addresses_against_sandboxd_conf(tmp_path):
    """verify checks IPAddress= and IPv6Address= against the subnets of --config's file."""
    unit, conf = tmp_path / "web.unit", tmp_path / "sandboxd.conf"
    unit.write_text("[Sandbox]\nLayers=/tmp\nIPAddress=10.50.0.1\nIPv6Address=fd00::5\n"
                    "[Service]\nExecStart=/bin/true\n")

    def verify(*args):
        return subprocess.run([str(SANDBOXCTL), "verify", *args], capture_output=True,
                              text=True)

    conf.write_text("[Network]\nSubnet=10.50.0.0/24\nIPv6Subnet=none\n")
    r = verify("--config", str(conf), str(unit))
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"{unit}:3: IPAddress=10.50.0.1: the bridge's own address (the sandboxes' gateway) in "
        "its subnet 10.50.0.0/24",
        f"{unit}:4: IPv6Address=fd00::5: IPv6 is off in sandboxd.conf (IPv6Subnet=none)"]
    conf.write_text("[Network]\nSubnet=10.50.0.0/30\nIPv6Subnet=fd00::/120\n")
    unit.write_text(unit.read_text().replace("10.50.0.1", "10.50.0.2"))
    r = verify("--config", str(conf), str(unit))
    assert (r.returncode, r.stderr) == (0, "")
    # a bad sandboxd.conf fails verify with its own FILE:LINE; a named one must exist
    conf.write_text("[Network]\nSubnet=10.50.0.1/24\n")
    r = verify("--config", str(conf), str(unit))
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"{conf}:2: Subnet=10.50.0.1/24: expected an IPv4 prefix with its host bits zero, "
        "like 10.88.0.0/16"]
    r = verify("--config", str(tmp_path / "nope.conf"), str(unit))
    assert r.returncode == 1
    assert r.stderr.strip() == f"{tmp_path / 'nope.conf'}: No such file or directory"


def test_bad_edit_keeps_running_sandbox(daemon, layers):
    """A broken edit of a running unit is refused on the next start and changes nothing."""
    from conftest import unit_text
    daemon.write_unit("live.unit", unit_text(layers, "/bin/sh -c 'exec sleep 1000'"))
    daemon.ctl("start", "live.unit")
    pid = daemon.show("live.unit")["MainPID"]
    daemon.write_unit("live.unit", "[Service]\nExecStart=/bin/true\nBogus=1\n")
    r = daemon.ctl("start", "live.unit", check=False)
    assert r.returncode != 0 and "Bogus=1: unknown key" in r.stderr
    p = daemon.show("live.unit")
    assert p["ActiveState"] == "active" and p["MainPID"] == pid
    daemon.ctl("stop", "live.unit")
