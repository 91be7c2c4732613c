# SPDX-License-Identifier: GPL-2.0-or-later
"""rtnetlink, both sides: the daemon's (src/sys/rtnl.c: bridge, veth, routes, sysctls) and the
init's (netdev_configure()), driven by tests/helpers/rtnl-probe in this suite's private network
namespace, then read back from both namespaces with `ip -j` and crossed with real traffic."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, BUSYBOX

PROBE = BUILD / "tests" / "helpers" / "rtnl-probe"
BRIDGE, VETH = "sbxprobe0", "vhprobe0"
PROBE_LINKS = (BRIDGE, VETH, "vhprobe1", "sbxprobe1", "vhprobe2")


def ip(*args, netns=None, check=True):
    cmd = ["ip", "-j", *args]
    if netns:
        cmd = ["nsenter", f"--net={netns}", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}: {r.stderr}")
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []


def link_exists(name):
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def delete_links(*names):
    for name in names:
        if link_exists(name):
            subprocess.run(["ip", "link", "del", name], capture_output=True)


@pytest.fixture
def netns_pin(tmp_path):
    """A file the probe bind-mounts its second namespace on; unmounted (the namespace freed)
    and the probe's links removed whatever the test did."""
    pin = tmp_path / "netns"
    pin.touch()
    delete_links(*PROBE_LINKS)
    yield pin
    subprocess.run(["umount", str(pin)], capture_output=True)
    delete_links(*PROBE_LINKS)


def addrs_of(link_json):
    return {(a["local"], a["prefixlen"]): a for a in link_json[0]["addr_info"]}


def test_bridge_veth_and_init_side(netns_pin):
    r = subprocess.run([str(PROBE), "e2e", "--pin", str(netns_pin)], capture_output=True,
                       text=True, timeout=120)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and not [l for l in lines if l.startswith("FAIL")], \
        r.stdout + r.stderr
    assert lines[-1] == "OK: 0 failed"
    passed = [l for l in lines if l.startswith("PASS ")]
    assert len(passed) >= 45
    for what in ("veth created (r=0)", "host end: veth, master sbxprobe0, up",
                 "netdev_configure inside (r=0", "configure twice: -EEXIST at step",
                 "bridge taken down has its addresses again", "link delete again: -ENODEV",
                 "veth onto a non-bridge master fails and leaves no link"):
        assert any(what in l for l in passed), what

    # the host side, as `ip` sees it: the bridge with both gateways, up ...
    br = ip("addr", "show", "dev", BRIDGE)
    assert "UP" in br[0]["flags"] and br[0]["mtu"] == 1500
    a = addrs_of(br)
    assert ("10.231.0.1", 16) in a
    assert a[("fd5b:e7::1", 64)].get("nodad") and not a[("fd5b:e7::1", 64)].get("tentative")
    # ... the host end enslaved, up, same MTU, and no peer on this side
    vh = ip("-d", "link", "show", VETH)[0]
    assert vh["master"] == BRIDGE and "UP" in vh["flags"] and vh["mtu"] == 1500
    assert vh["linkinfo"]["info_kind"] == "veth"
    # a bridge port needs no IPv6 address: none made, so no routes or DAD/MLD per sandbox
    assert vh.get("inet6_addr_gen_mode") == "none", vh
    assert not [a for a in ip("addr", "show", "dev", VETH)[0].get("addr_info", [])
                if a["family"] == "inet6"]
    assert vh["linkinfo"]["info_slave_data"]["hairpin"] is True
    assert not link_exists("eth0")
    assert Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").read_text() == "1\n"
    assert Path("/proc/sys/net/ipv4/conf/all/route_localnet").read_text() == "0\n"

    # inside: lo and eth0 up, the addresses, the default routes via the bridge
    lo = ip("link", "show", "lo", netns=netns_pin)[0]
    assert "UP" in lo["flags"]
    eth0 = ip("addr", "show", "dev", "eth0", netns=netns_pin)
    assert "UP" in eth0[0]["flags"] and "LOWER_UP" in eth0[0]["flags"]
    assert eth0[0]["mtu"] == 1500
    a = addrs_of(eth0)
    assert ("10.231.0.2", 16) in a
    assert a[("fd5b:e7::2", 64)].get("nodad") and not a[("fd5b:e7::2", 64)].get("tentative")
    assert [(x["dst"], x.get("gateway"), x["dev"], x["protocol"])
            for x in ip("-4", "route", "show", "default", netns=netns_pin)] == \
        [("default", "10.231.0.1", "eth0", "static")]
    assert [(x["dst"], x.get("gateway"), x["dev"], x["protocol"])
            for x in ip("-6", "route", "show", "default", netns=netns_pin)] == \
        [("default", "fd5b:e7::1", "eth0", "static")]

    # and traffic crosses the pair and the bridge, both families, at once (no DAD wait)
    for target in ("10.231.0.1", "fd5b:e7::1"):
        p = subprocess.run(["nsenter", f"--net={netns_pin}", str(BUSYBOX), "ping", "-c", "1",
                            "-W", "5", target], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr

    # the sandbox's namespace goes: the kernel takes the host end with it (asynchronously)
    subprocess.run(["umount", str(netns_pin)], check=True)
    deadline = time.monotonic() + 10
    while link_exists(VETH) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not link_exists(VETH)
    assert link_exists(BRIDGE)


@pytest.fixture
def dummy():
    """A link with the kinds of routes a host has: connected, default, blackhole, another
    table; removed (with its routes) afterwards."""
    name = "sbxdummy0"
    delete_links(name)
    # (a veth pair, both ends here: this kernel has no dummy links, and a lone bridge has no
    # carrier, hence no link-local route)
    cmds = [["link", "add", name, "type", "veth", "peer", "name", name + "p"],
            ["link", "set", name, "up"], ["link", "set", name + "p", "up"],
            ["link", "set", "lo", "up"],
            ["addr", "add", "192.0.2.1/24", "dev", name],
            ["-6", "addr", "add", "2001:db8:1::1/64", "dev", name, "nodad"],
            ["route", "add", "default", "via", "192.0.2.254"],
            ["-6", "route", "add", "default", "via", "2001:db8:1::fe"],
            ["route", "add", "blackhole", "198.51.100.0/24"],
            ["route", "add", "203.0.113.0/24", "dev", name, "table", "100"]]
    for c in cmds:
        subprocess.run(["ip", *c], check=True, capture_output=True)
    yield name
    subprocess.run(["ip", "route", "del", "blackhole", "198.51.100.0/24"], capture_output=True)
    delete_links(name)


@pytest.mark.parametrize("prefix,exclude,expected", [
    ("192.0.2.0/25", None, "routed"),           # inside a connected subnet
    ("192.0.0.0/16", None, "routed"),           # around it
    ("192.0.2.0/24", "sbxdummy0", "not routed"),  # through the excepted link only
    ("172.16.0.0/12", None, "not routed"),      # the default route is no claim on a subnet
    ("198.51.100.128/25", None, "routed"),      # a blackhole is the host's
    ("203.0.113.0/24", None, "not routed"),     # another table than main
    ("127.0.0.0/8", None, "not routed"),        # the local table's entries
    ("2001:db8::/32", None, "routed"),
    ("2001:db8:2::/48", None, "not routed"),    # the IPv6 default route
    ("fe80::/64", None, "routed"),              # a link's link-local route is in main
])
def test_prefix_is_routed(dummy, prefix, exclude, expected):
    r = subprocess.run([str(PROBE), "routed", prefix] + ([exclude] if exclude else []),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == expected
