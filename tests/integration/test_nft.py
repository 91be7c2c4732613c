# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon's nftables table (src/sys/nft.c) and conntrack flushes (src/sys/conntrack.c),
driven by tests/helpers/nft-probe and read back from the kernel with nft and conntrack.

Every test runs in network namespaces of its own (a sleeping process holds each one), inside
the session's private one: the host's ruleset is never touched, and no test sees another's
table. The traffic tests build a small network: a hub (the host: bridge sbx0 and the table),
two sandboxes on the bridge and a "wan" peer on a veth."""

import json
import os
import select
import subprocess
import sys
import time

import pytest

from conftest import BUILD

pytestmark = pytest.mark.layout_independent

PROBE = BUILD / "tests" / "helpers" / "nft-probe"
PY = sys.executable

BRIDGE = "sbx0"
V4 = "10.88.0.0/16"
V6 = "fd00:88::/64"


class Netns:
    """A network namespace held by `unshare --net sleep`; commands enter it with nsenter."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        ours = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 5
        while True:
            try:
                if os.readlink(f"/proc/{self.proc.pid}/ns/net") != ours:
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("unshare --net did not come up")
            time.sleep(0.005)
        self.pid = self.proc.pid
        self.run("ip", "link", "set", "lo", "up")

    def cmd(self, *args):
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", "--", *map(str, args)]

    def run(self, *args, check=True, input=None, timeout=30):
        p = subprocess.run(self.cmd(*args), capture_output=True, text=True, input=input,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{args} failed ({p.returncode}): {p.stdout}{p.stderr}")
        return p

    def popen(self, *args, **kw):
        return subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE, text=True, **kw)

    def sysctl(self, path, value):
        self.run("sh", "-c", f"echo {value} > /proc/sys/net/{path}")

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def ns():
    n = Netns()
    yield n
    n.close()


def probe(ns, *args, check=True):
    return ns.run(PROBE, *args, check=check)


def replace(ns, *elements, v6=V6, check=True):
    return probe(ns, "replace", BRIDGE, V4, v6 or "-", *elements, check=check)


def table_json(ns, family="inet"):
    out = ns.run("nft", "-j", "list", "table", family, "sandboxd").stdout
    return [o for o in json.loads(out)["nftables"] if "metainfo" not in o]


def table_text(ns, family="inet"):
    return ns.run("nft", "list", "table", family, "sandboxd").stdout


def tables_text(ns):
    """Both tables: every change is to both."""
    return table_text(ns) + table_text(ns, "bridge")


def elements(ns, family="inet"):
    """{set name: sorted elements}, each element as nft -j prints it (a value, or a pair of
    concatenations for a map)."""
    got = {}
    for o in table_json(ns, family):
        for kind in ("set", "map"):
            if kind in o:
                got[o[kind]["name"]] = sorted(json.dumps(e) for e in o[kind].get("elem", []))
    return {k: [json.loads(e) for e in v] for k, v in got.items()}


def map_elem(key, data):
    return [{"concat": key}, {"concat": data}]


def rules(ns, family="inet"):
    """{chain: [rule text]} from nft's listing."""
    got, chain = {}, None
    for line in table_text(ns, family).splitlines():
        line = line.strip()
        if line.startswith("chain "):
            chain = line.split()[1]
            got[chain] = []
        elif chain and line and not line.startswith(("type ", "}")):
            got[chain].append(line)
    return got


# sandboxes' addresses bound to their bridge ports (sbxa, sbxb), and one only masqueraded
ELEMENTS = ["addr,10.88.0.2,sbxa", "addr,10.88.0.3,sbxb", "addr,fd00:88::2,sbxa",
            "addr,10.88.0.4",
            "port,tcp,*4,8080,10.88.0.2,80", "port,udp,*4,5353,10.88.0.3,53",
            "port,tcp,127.0.0.1,8081,10.88.0.2,80", "port,tcp,*6,8080,fd00:88::2,80",
            "port,udp,fd00:1::1,53,fd00:88::3,5353"]

EXPECTED_ELEMENTS = {
    "masq4": ["10.88.0.2", "10.88.0.3", "10.88.0.4"],
    "masq6": ["fd00:88::2"],
    "ports4_any": sorted([map_elem(["tcp", 8080], ["10.88.0.2", 80]),
                          map_elem(["udp", 5353], ["10.88.0.3", 53])], key=json.dumps),
    "ports4_addr": [map_elem(["127.0.0.1", "tcp", 8081], ["10.88.0.2", 80])],
    "ports6_any": [map_elem(["tcp", 8080], ["fd00:88::2", 80])],
    "ports6_addr": [map_elem(["fd00:1::1", "udp", 53], ["fd00:88::3", 5353])],
}

DNAT = [
    "fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @ports4_addr",
    "meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @ports4_any",
    "fib daddr type local ip6 daddr != ::1 dnat ip6 to ip6 daddr . meta l4proto . th dport "
    "map @ports6_addr",
    "fib daddr type local ip6 daddr != ::1 dnat ip6 to meta l4proto . th dport map @ports6_any",
]
EXPECTED_RULES = {
    "raw_prerouting": [
        'iifname != "lo" ip daddr 127.0.0.0/8 drop',
        f'iifname "{BRIDGE}" ip saddr != 10.88.0.0/16 drop',
        f'iifname "{BRIDGE}" ip6 saddr != fd00:88::/64 ip6 saddr != fe80::/64 ip6 saddr != :: drop',
        f'iifname "{BRIDGE}" ip6 saddr fd00:88::1 drop',
        f'iifname != "{BRIDGE}" iifname != "lo" ip saddr 10.88.0.0/16 drop',
        f'iifname != "{BRIDGE}" iifname != "lo" ip6 saddr fd00:88::/64 drop',
    ],
    "prerouting": DNAT,
    "output": DNAT,
    "postrouting": [
        f'ip saddr @masq4 oifname != "{BRIDGE}" masquerade',
        f'ip saddr 127.0.0.0/8 oifname "{BRIDGE}" masquerade',
        f'ip saddr 10.88.0.0/16 ip saddr != 10.88.0.1 oifname "{BRIDGE}" ct status dnat '
        'masquerade',
        f'ip6 saddr @masq6 oifname != "{BRIDGE}" masquerade',
        f'ip6 saddr fd00:88::/64 ip6 saddr != fd00:88::1 oifname "{BRIDGE}" ct status dnat '
        'masquerade',
    ],
    "forward": [
        "ct state established,related accept",
        f'oifname "{BRIDGE}" ct status dnat accept',
        f'iifname "{BRIDGE}" accept',
        f'oifname "{BRIDGE}" drop',
    ],
}

EXPECTED_BRIDGE_ELEMENTS = {
    "src4": [{"concat": ["sbxa", "10.88.0.2"]}, {"concat": ["sbxb", "10.88.0.3"]}],
    "src6": [{"concat": ["sbxa", "fd00:88::2"]}],
}
BRIDGE_RULES = [
    'iifname "sbx*" ether type != ip ether type != arp ether type != ip6 drop',
    'iifname "sbx*" iifname . ip saddr != @src4 drop',
    'iifname "sbx*" iifname . arp saddr ip != @src4 drop',
    'iifname "sbx*" ip6 saddr != fe80::/64 ip6 saddr != :: iifname . ip6 saddr != @src6 drop',
    # nft 1.0.6 has no name for a neighbour advertisement's target
    'iifname "sbx*" icmpv6 type nd-neighbor-advert @th,64,64 != 0xfe80000000000000 '
    'iifname . @th,64,128 != @src6 drop',
]
# no router solicitation or advertisement, redirect or listener report from a sandbox
# (prerouting) or from the host into one (output)
UNWANTED = ("icmpv6 type nd-router-solicit", "icmpv6 type nd-router-advert",
            "icmpv6 type nd-redirect", "icmp type redirect", "icmpv6 type mld-listener-report",
            "icmpv6 type mld-listener-done", "icmpv6 type mld2-listener-report")
BRIDGE_RULES += [f'{t} iifname "sbx*" drop' for t in UNWANTED]
BRIDGE_OUT_RULES = [f'{t} oifname "sbx*" drop' for t in UNWANTED]


def test_replace_reads_back_exactly(ns):
    replace(ns, *ELEMENTS)
    objs = table_json(ns)
    sets = {o[k]["name"]: o[k] for o in objs for k in ("set", "map") if k in o}
    assert {n: (s["type"], s.get("map")) for n, s in sets.items()} == {
        "masq4": ("ipv4_addr", None),
        "masq6": ("ipv6_addr", None),
        "ports4_any": (["inet_proto", "inet_service"], "ipv4_addr . inet_service"),
        "ports4_addr": (["ipv4_addr", "inet_proto", "inet_service"], "ipv4_addr . inet_service"),
        "ports6_any": (["inet_proto", "inet_service"], "ipv6_addr . inet_service"),
        "ports6_addr": (["ipv6_addr", "inet_proto", "inet_service"], "ipv6_addr . inet_service"),
    }
    chains = {o["chain"]["name"]: o["chain"] for o in objs if "chain" in o}
    assert {n: (c["type"], c["hook"], c["prio"], c["policy"]) for n, c in chains.items()} == {
        "raw_prerouting": ("filter", "prerouting", -300, "accept"),
        "prerouting": ("nat", "prerouting", -100, "accept"),
        "output": ("nat", "output", -100, "accept"),
        "postrouting": ("nat", "postrouting", 100, "accept"),
        "forward": ("filter", "forward", 0, "accept"),
    }
    assert elements(ns) == EXPECTED_ELEMENTS
    assert rules(ns) == EXPECTED_RULES
    objs = table_json(ns, "bridge")
    assert {o["set"]["name"]: o["set"]["type"] for o in objs if "set" in o} == {
        "src4": ["ifname", "ipv4_addr"], "src6": ["ifname", "ipv6_addr"]}
    assert [(c["name"], c["type"], c["hook"], c["prio"], c["policy"])
            for o in objs if "chain" in o for c in [o["chain"]]] == [
        ("prerouting", "filter", "prerouting", -300, "accept"),
        ("output", "filter", "output", -200, "accept")]
    assert elements(ns, "bridge") == EXPECTED_BRIDGE_ELEMENTS
    assert rules(ns, "bridge") == {"prerouting": BRIDGE_RULES, "output": BRIDGE_OUT_RULES}
    assert probe(ns, "intact", BRIDGE, V4, V6).stdout == "1\n"


def test_replace_without_ipv6(ns):
    replace(ns, "addr,10.88.0.2", "port,tcp,*4,8080,10.88.0.2,80", v6=None)
    assert elements(ns) == {"masq4": ["10.88.0.2"],
                            "ports4_any": [map_elem(["tcp", 8080], ["10.88.0.2", 80])],
                            "ports4_addr": []}
    got = rules(ns)
    assert got["prerouting"] == DNAT[:2] and got["postrouting"] == EXPECTED_RULES["postrouting"][:3]
    # no IPv6 subnet: a sandbox's IPv6 may only be link-local
    assert got["raw_prerouting"] == EXPECTED_RULES["raw_prerouting"][:2] + [
        f'iifname "{BRIDGE}" ip6 saddr != fe80::/64 ip6 saddr != :: drop',
        EXPECTED_RULES["raw_prerouting"][4]]
    # nor on the bridge, and no src6
    assert rules(ns, "bridge")["prerouting"] == BRIDGE_RULES[:3] + [
        'iifname "sbx*" ip6 saddr != fe80::/64 ip6 saddr != :: drop',
        'iifname "sbx*" icmpv6 type nd-neighbor-advert @th,64,64 != 0xfe80000000000000 drop',
        ] + BRIDGE_RULES[5:]
    assert elements(ns, "bridge") == {"src4": []}
    assert probe(ns, "intact", BRIDGE, V4, "-").stdout == "1\n"
    # an IPv6 element has no map to go to: refused before anything is sent
    p = replace(ns, "port,tcp,*6,8080,fd00:88::2,80", v6=None, check=False)
    assert p.returncode == 1 and "EINVAL" in p.stderr
    assert elements(ns)["masq4"] == ["10.88.0.2"]


def test_replace_is_idempotent_and_drops_what_was_there(ns):
    replace(ns, *ELEMENTS)
    first = tables_text(ns)
    replace(ns, *ELEMENTS)
    assert tables_text(ns) == first
    # whatever someone added to our table goes with the next replace
    ns.run("nft", "add", "chain", "inet", "sandboxd", "extra")
    ns.run("nft", "add", "rule", "inet", "sandboxd", "forward", "drop")
    ns.run("nft", "add", "element", "inet", "sandboxd", "masq4", "{ 10.88.9.9 }")
    ns.run("nft", "add", "element", "bridge", "sandboxd", "src4", '{ "sbxz" . 10.88.9.9 }')
    assert probe(ns, "intact", BRIDGE, V4, V6).stdout == "0\n"
    replace(ns, *ELEMENTS)
    assert tables_text(ns) == first
    # and a replace with fewer elements leaves only those
    replace(ns, "addr,10.88.0.7")
    assert elements(ns) == {"masq4": ["10.88.0.7"], "masq6": [], "ports4_any": [],
                            "ports4_addr": [], "ports6_any": [], "ports6_addr": []}
    assert elements(ns, "bridge") == {"src4": [], "src6": []}


def test_elements_add_and_delete(ns):
    replace(ns)
    probe(ns, "add", "addr,10.88.0.5,sbx5", "port,tcp,*4,8080,10.88.0.5,80",
          "port,udp,10.0.0.1,53,10.88.0.5,5353", "port,tcp,*6,443,fd00:88::5,8443")
    assert elements(ns, "bridge") == {"src4": [{"concat": ["sbx5", "10.88.0.5"]}], "src6": []}
    assert elements(ns) == {
        "masq4": ["10.88.0.5"], "masq6": [],
        "ports4_any": [map_elem(["tcp", 8080], ["10.88.0.5", 80])],
        "ports4_addr": [map_elem(["10.0.0.1", "udp", 53], ["10.88.0.5", 5353])],
        "ports6_any": [map_elem(["tcp", 443], ["fd00:88::5", 8443])], "ports6_addr": []}
    probe(ns, "delete", "port,tcp,*4,8080,10.88.0.5,80", "addr,10.88.0.5,sbx5")
    assert elements(ns, "bridge") == {"src4": [], "src6": []}
    got = elements(ns)
    assert got["masq4"] == [] and got["ports4_any"] == []
    assert got["ports4_addr"] and got["ports6_any"]


def test_a_failing_batch_changes_nothing(ns):
    replace(ns, *ELEMENTS)
    before = tables_text(ns)
    # one element twice in a batch: the second add fails, the first is undone with it
    p = probe(ns, "add", "addr,10.88.0.9", "port,tcp,*4,9000,10.88.0.9,80",
              "port,tcp,*4,9000,10.88.0.9,80", check=False)
    assert p.returncode == 1 and "EEXIST" in p.stderr
    assert tables_text(ns) == before
    # an element that is there already, and the same port to another sandbox
    for el in ("port,tcp,*4,8080,10.88.0.2,80", "port,tcp,*4,8080,10.88.0.9,80"):
        p = probe(ns, "add", "addr,10.88.0.9", el, check=False)
        assert p.returncode == 1 and "EEXIST" in p.stderr, p.stderr
        assert tables_text(ns) == before
    # a port bound twice to one address: the inet half of the batch goes with it
    p = probe(ns, "add", "addr,10.88.0.9,sbxc", "addr,fd00:88::2,sbxa", check=False)
    assert p.returncode == 1 and "EEXIST" in p.stderr
    assert tables_text(ns) == before
    # deleting a missing element fails the deletion of the present one too
    p = probe(ns, "delete", "addr,10.88.0.2", "addr,10.88.0.99", check=False)
    assert p.returncode == 1 and "ENOENT" in p.stderr
    assert tables_text(ns) == before
    # a replace whose elements clash leaves the previous table whole
    p = replace(ns, "addr,10.88.0.1", "addr,10.88.0.1", check=False)
    assert p.returncode == 1 and "EEXIST" in p.stderr
    assert tables_text(ns) == before


def test_without_the_table(ns):
    p = probe(ns, "add", "addr,10.88.0.2", check=False)
    assert p.returncode == 1 and "ENOENT" in p.stderr
    assert probe(ns, "intact", BRIDGE, V4, V6).stdout == "0\n"
    probe(ns, "table-delete")  # none there: not an error
    replace(ns)
    probe(ns, "table-delete")
    assert ns.run("nft", "list", "tables").stdout == ""


def test_bad_input_is_refused_before_the_kernel(ns):
    replace(ns)
    before = table_text(ns)
    for el in ("port,tcp,10.0.0.1,80,fd00:88::2,80",  # host and sandbox of two families
               "port,tcp,*4,0,10.88.0.2,80", "port,tcp,*4,80,10.88.0.2,0",
               # a port the bridge table does not filter; a name too long for a link
               "addr,10.88.0.2,eth0", "addr,10.88.0.2,sbx", "addr,10.88.0.2,sbx0123456789abc"):
        p = probe(ns, "add", el, check=False)
        assert p.returncode == 1 and "EINVAL" in p.stderr, (el, p.stderr)
    p = probe(ns, "replace", "a-bridge-name-too-long", V4, "-", check=False)
    assert p.returncode == 1 and "EINVAL" in p.stderr
    assert table_text(ns) == before


def drop_rule_handle(ns):
    """The handle of the forward chain's drop rule."""
    listing = ns.run("nft", "-a", "list", "chain", "inet", "sandboxd", "forward").stdout
    return [ln.split()[-1] for ln in listing.splitlines() if " drop " in ln][0]


# nft command lines; {drop} is the handle of the forward chain's drop rule. A map that rules
# use cannot go before the rules (EBUSY).
DAMAGE = [
    "delete rule inet sandboxd forward handle {drop}",
    "flush chain inet sandboxd prerouting; flush chain inet sandboxd output; "
    "delete map inet sandboxd ports6_any",
    "flush chain inet sandboxd postrouting",
    "delete chain inet sandboxd raw_prerouting",
    "add chain inet sandboxd prerouting2",
    "delete table inet sandboxd",
    "delete chain bridge sandboxd prerouting",
    "delete table bridge sandboxd",
    "add chain bridge sandboxd extra",
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_intact_sees_damage(ns, damage):
    replace(ns, *ELEMENTS)
    ns.run("nft", damage.replace("{drop}", drop_rule_handle(ns)))
    assert probe(ns, "intact", BRIDGE, V4, V6).stdout == "0\n"
    replace(ns, *ELEMENTS)
    assert probe(ns, "intact", BRIDGE, V4, V6).stdout == "1\n"


def test_intact_is_per_network(ns):
    replace(ns, v6=None)
    assert probe(ns, "intact", BRIDGE, V4, "-").stdout == "1\n"
    assert probe(ns, "intact", BRIDGE, V4, V6).stdout == "0\n"  # the v6 maps are missing


def monitor(ns, timeout_ms, *network):
    m = ns.popen(PROBE, "monitor", timeout_ms, *network)
    assert m.stdout.readline() == "ready\n"
    return m


def monitor_result(m):
    ready, _, _ = select.select([m.stdout], [], [], 10)
    assert ready, "the monitor said nothing"
    out = m.stdout.readline().strip()
    m.wait(timeout=5)
    return out


@pytest.mark.parametrize("change", DAMAGE[:4] + DAMAGE[6:8] + [
    "delete element inet sandboxd masq4 { 10.88.0.2 }",
    'delete element bridge sandboxd src4 { "sbxa" . 10.88.0.2 }',
    "flush ruleset",
])
def test_monitor_reports_deletions(ns, change):
    replace(ns, *ELEMENTS)
    change = change.replace("{drop}", drop_rule_handle(ns))
    m = monitor(ns, 5000)
    ns.run("nft", change)
    assert monitor_result(m) == "touched", change


def test_monitor_is_quiet_about_other_tables_and_additions(ns):
    replace(ns, *ELEMENTS)
    ns.run("nft", "add", "table", "inet", "other")
    ns.run("nft", "add", "chain", "inet", "other", "c")
    m = monitor(ns, 500)
    ns.run("nft", "add", "element", "inet", "sandboxd", "masq4", "{ 10.88.0.77 }")
    ns.run("nft", "delete", "chain", "inet", "other", "c")
    ns.run("nft", "delete", "table", "inet", "other")
    ns.run("nft", "add", "element", "bridge", "sandboxd", "src4", '{ "sbxz" . 10.88.0.77 }')
    ns.run("nft", "add", "table", "ip", "sandboxd")  # our name, another family
    ns.run("nft", "delete", "table", "ip", "sandboxd")
    ns.run("nft", "add", "table", "bridge", "other")
    ns.run("nft", "delete", "table", "bridge", "other")
    assert monitor_result(m) == "quiet"


def test_monitor_ignores_its_own_changes(ns):
    # the probe replaces the table, adds and deletes an element, then listens
    m = monitor(ns, 500, BRIDGE, V4, V6)
    assert monitor_result(m) == "quiet"
    m = monitor(ns, 5000, BRIDGE, V4, V6)
    ns.run("nft", "delete", "rule", "inet", "sandboxd", "forward", "handle",
           drop_rule_handle(ns))
    assert monitor_result(m) == "touched"


# ---- conntrack ----

def ct_list(ns, *args):
    out = ns.run("conntrack", "-L", *args).stdout
    return [ln for ln in out.splitlines() if ln.strip()]


def ct_insert(ns, proto, src, dst, sport, dport, *extra):
    ns.run("conntrack", "-I", "-p", proto, "-s", src, "-d", dst, "--sport", sport, "--dport",
           dport, "-t", "100", *extra)


def local_addresses(ns):
    """2.2.2.2 and fd00::2 become the namespace's own: a port flush takes entries to them."""
    ns.run("ip", "addr", "add", "2.2.2.2/32", "dev", "lo")
    ns.run("ip", "addr", "add", "fd00::2/128", "dev", "lo", "nodad")


def test_conntrack_flush_port(ns):
    local_addresses(ns)
    ct_insert(ns, "udp", "1.1.1.1", "2.2.2.2", 1000, 5353)
    ct_insert(ns, "udp", "1.1.1.2", "2.2.2.2", 1000, 5353, "--zone", 7)
    ct_insert(ns, "udp", "fd00::1", "fd00::2", 1000, 5353)
    ct_insert(ns, "udp", "1.1.1.3", "127.0.0.5", 1000, 5353)  # all of 127/8 is local
    ct_insert(ns, "tcp", "1.1.1.1", "2.2.2.2", 1000, 5353, "--state", "ESTABLISHED")
    ct_insert(ns, "udp", "1.1.1.1", "2.2.2.2", 5353, 53)  # a source port, not ours
    # to another host's 5353 (a sandbox's or the host's own flow): not ours either
    ct_insert(ns, "udp", "2.2.2.2", "3.3.3.3", 1000, 5353)
    ct_insert(ns, "udp", "fd00::2", "fd00::3", 1000, 5353)
    assert probe(ns, "flush-ct", "port", "udp", 5353).stdout == "4\n"
    left = ct_list(ns)
    assert len(left) == 4
    assert any(ln.startswith("tcp") and "dport=5353 " in ln for ln in left)
    assert any(ln.startswith("udp") and "sport=5353 dport=53 " in ln for ln in left)
    assert any("dst=3.3.3.3 " in ln for ln in left) and any("dst=fd00::3 " in ln for ln in left)
    assert probe(ns, "flush-ct", "port", "udp", 5353).stdout == "0\n"


def test_conntrack_flush_address(ns):
    ct_insert(ns, "tcp", "10.88.0.2", "8.8.8.8", 1000, 80, "--state", "ESTABLISHED")
    ct_insert(ns, "udp", "9.9.9.9", "10.88.0.2", 1000, 53)
    # a DNATed connection: the sandbox is only in the reply direction
    ct_insert(ns, "tcp", "9.9.9.9", "192.0.2.1", 1000, 8080, "--state", "ESTABLISHED",
              "--dst-nat", "10.88.0.2:80")
    ct_insert(ns, "tcp", "10.88.0.3", "8.8.8.8", 1000, 80, "--state", "ESTABLISHED")
    ct_insert(ns, "tcp", "fd00:88::2", "fd00::8", 1000, 80, "--state", "ESTABLISHED")
    assert len(ct_list(ns)) == 5
    assert probe(ns, "flush-ct", "addr", "10.88.0.2").stdout == "3\n"
    left = ct_list(ns)
    assert len(left) == 2 and not any("10.88.0.2 " in ln for ln in left)
    assert probe(ns, "flush-ct", "addr", "fd00:88::2").stdout == "1\n"
    assert len(ct_list(ns)) == 1


def test_conntrack_flush_many(ns):
    local_addresses(ns)
    for i in range(300):
        ct_insert(ns, "udp", f"1.1.{i // 250}.{i % 250 + 1}", "2.2.2.2", 1000 + i, 6000)
    ct_insert(ns, "udp", "1.1.9.9", "2.2.2.2", 1000, 6001)
    assert probe(ns, "flush-ct", "port", "udp", 6000).stdout == "300\n"
    assert len(ct_list(ns)) == 1


# ---- traffic ----

SERVER = r"""
import socket, sys, threading
socks = []
for spec in sys.argv[1:]:
    kind, port = spec.split(":")
    fam = socket.AF_INET6 if kind.endswith("6") else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if kind.startswith("tcp") else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", int(port)))
    if kind.startswith("tcp"):
        s.listen(64)
    socks.append((kind, s))
def serve(kind, s):
    while True:
        if kind.startswith("tcp"):
            c, a = s.accept()
            c.sendall(f"tcp from {a[0]}\n".encode())
            c.close()
        else:
            d, a = s.recvfrom(100)
            s.sendto(f"udp from {a[0]}\n".encode(), a)
for k, s in socks:
    threading.Thread(target=serve, args=(k, s), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

CLIENT = r"""
import socket, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
sport = int(sys.argv[4]) if len(sys.argv) > 4 else 0
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
try:
    if kind == "tcp":
        s = socket.create_connection((host, port), timeout=1.5)
        print(s.recv(100).decode().strip())
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(1.5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", sport))
        s.sendto(b"hello", (host, port))
        print(s.recvfrom(100)[0].decode().strip())
except OSError as e:
    print("error", type(e).__name__)
"""

# A TCP SYN in an Ethernet frame, sent on a packet socket: a neighbour that addresses
# 127.0.0.1 to the host's MAC (no routing table of its own would send it).
RAW_SYN = r"""
import socket, struct, sys
ifname, src_mac, dst_mac, src, dst, dport = sys.argv[1:7]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
tcp = struct.pack("!HHIIBBHHH", 40002, int(dport), 1, 0, 5 << 4, 0x02, 65535, 0, 0)
pseudo = saddr + daddr + struct.pack("!BBH", 0, 6, len(tcp))
tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, saddr, daddr)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
mac = lambda m: bytes.fromhex(m.replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
s.send(mac(dst_mac) + mac(src_mac) + b"\x08\x00" + ip + tcp)
"""

NET_ELEMENTS = ["addr,10.88.0.2", "addr,10.88.0.3", "addr,fd00:88::2",
                "port,tcp,*4,8080,10.88.0.2,80", "port,tcp,127.0.0.1,8081,10.88.0.2,80",
                "port,udp,*4,5353,10.88.0.2,53", "port,tcp,*6,8080,fd00:88::2,80"]


def link_mac(ns, ifname):
    return json.loads(ns.run("ip", "-j", "link", "show", ifname).stdout)[0]["address"]


class Net:
    """hub: bridge sbx0 (10.88.0.1/16, fd00:88::1/64), vwan (198.51.100.1/24,
    2001:db8:1::1/64), the table; sb (10.88.0.2, fd00:88::2) and sb2 (10.88.0.3) on the
    bridge; wan (198.51.100.2, 2001:db8:1::2). Servers: sb tcp/80 (v4, v6), udp/53; wan
    tcp/9. Each answers with the source address it saw."""

    def __init__(self):
        self.hub, self.sb, self.sb2, self.wan = Netns(), Netns(), Netns(), Netns()
        self.servers = []
        hub = self.hub
        hub.run("ip", "link", "add", BRIDGE, "type", "bridge")
        hub.run("ip", "addr", "add", "10.88.0.1/16", "dev", BRIDGE)
        hub.run("ip", "addr", "add", "fd00:88::1/64", "dev", BRIDGE, "nodad")
        hub.run("ip", "link", "set", BRIDGE, "up")
        for name, peer, v4, v6 in (("vsb", self.sb, "10.88.0.2", "fd00:88::2"),
                                   ("vsb2", self.sb2, "10.88.0.3", "fd00:88::3")):
            hub.run("ip", "link", "add", name, "type", "veth", "peer", "name", "eth0",
                    "netns", peer.pid)
            hub.run("ip", "link", "set", name, "master", BRIDGE, "up")
            self.configure(peer, f"{v4}/16", f"{v6}/64", "10.88.0.1", "fd00:88::1")
        hub.run("ip", "link", "add", "vwan", "type", "veth", "peer", "name", "eth0", "netns",
                self.wan.pid)
        hub.run("ip", "addr", "add", "198.51.100.1/24", "dev", "vwan")
        hub.run("ip", "addr", "add", "2001:db8:1::1/64", "dev", "vwan", "nodad")
        hub.run("ip", "link", "set", "vwan", "up")
        self.configure(self.wan, "198.51.100.2/24", "2001:db8:1::2/64", "198.51.100.1",
                       "2001:db8:1::1")
        # the wan peer may try the sandboxes' addresses directly (the forward chain's job)
        self.wan.run("ip", "route", "add", "10.88.0.0/16", "via", "198.51.100.1")
        hub.sysctl("ipv4/ip_forward", 1)
        hub.sysctl("ipv6/conf/all/forwarding", 1)
        # what the daemon sets on its bridge for 127.0.0.1 ports (never on `all`)
        hub.sysctl(f"ipv4/conf/{BRIDGE}/route_localnet", 1)
        self.serve(self.sb, "tcp:80", "tcp6:80", "udp:53")
        self.serve(self.wan, "tcp:9")
        self.replace()
        self.settle()

    def settle(self):
        """Waits out the duplicate address detection of the link-local addresses: until it
        ends, neighbour discovery through them stalls a first IPv6 connection for a second."""
        deadline = time.monotonic() + 10
        for n in (self.hub, self.sb, self.sb2, self.wan):
            while n.run("ip", "-6", "addr", "show", "tentative").stdout.strip():
                assert time.monotonic() < deadline, "IPv6 addresses stay tentative"
                time.sleep(0.05)

    @staticmethod
    def configure(n, v4, v6, gw4, gw6):
        n.run("ip", "addr", "add", v4, "dev", "eth0")
        n.run("ip", "addr", "add", v6, "dev", "eth0", "nodad")
        n.run("ip", "link", "set", "eth0", "up")
        n.run("ip", "route", "add", "default", "via", gw4)
        n.run("ip", "-6", "route", "add", "default", "via", gw6)

    def serve(self, n, *specs):
        p = n.popen(PY, "-c", SERVER, *specs)
        self.servers.append(p)
        assert p.stdout.readline() == "ready\n"

    def replace(self):
        probe(self.hub, "replace", BRIDGE, V4, V6, *NET_ELEMENTS)

    def close(self):
        for p in self.servers:
            p.kill()
            p.wait()
        for n in (self.sb, self.sb2, self.wan, self.hub):
            n.close()


def client(n, kind, host, port, sport=0):
    return n.run(PY, "-c", CLIENT, kind, host, port, sport).stdout.strip()


@pytest.fixture(scope="module")
def net():
    n = Net()
    yield n
    n.close()


@pytest.fixture
def clean_ct(net):
    yield
    net.hub.run("conntrack", "-F", check=False)


def test_traffic_from_outside_to_a_published_port(net, clean_ct):
    assert client(net.wan, "tcp", "198.51.100.1", 8080) == "tcp from 198.51.100.2"
    assert client(net.wan, "udp", "198.51.100.1", 5353) == "udp from 198.51.100.2"
    assert client(net.wan, "tcp", "2001:db8:1::1", 8080) == "tcp from 2001:db8:1::2"


def test_traffic_from_the_host_itself(net, clean_ct):
    # through the output chain; from 127.0.0.1 it needs route_localnet on the bridge and the
    # masquerade of 127.0.0.0/8 (the sandbox could not answer 127.0.0.1)
    assert client(net.hub, "tcp", "127.0.0.1", 8080) == "tcp from 10.88.0.1"
    assert client(net.hub, "tcp", "127.0.0.1", 8081) == "tcp from 10.88.0.1"
    assert client(net.hub, "tcp", "198.51.100.1", 8080) == "tcp from 198.51.100.1"
    assert client(net.hub, "tcp", "2001:db8:1::1", 8080) == "tcp from 2001:db8:1::1"
    # [::1] is never DNATed (IPv6 cannot route it to the bridge): refused, not hanging
    assert client(net.hub, "tcp", "::1", 8080) == "error ConnectionRefusedError"


def test_traffic_port_published_on_one_address_only(net, clean_ct):
    assert client(net.wan, "tcp", "198.51.100.1", 8081) == "error ConnectionRefusedError"
    assert client(net.hub, "tcp", "198.51.100.1", 8081) == "error ConnectionRefusedError"


def test_traffic_sandbox_reaches_out_masqueraded(net, clean_ct):
    assert client(net.sb, "tcp", "198.51.100.2", 9) == "tcp from 198.51.100.1"


# both legs: the guest's kernel has no br_netfilter, so hairpin NAT takes the other path there
@pytest.mark.both_legs
def test_traffic_hairpin(net, clean_ct):
    # a sandbox reaching a sibling's published port through the host's address
    assert client(net.sb2, "tcp", "198.51.100.1", 8080) == "tcp from 10.88.0.1"


def test_traffic_unpublished_ports_are_not_forwarded(net, clean_ct):
    assert client(net.wan, "tcp", "10.88.0.2", 80) == "error TimeoutError"
    assert client(net.hub, "tcp", "10.88.0.2", 80) == "tcp from 10.88.0.1"  # the host may


def test_remote_loopback_is_dropped(net, clean_ct):
    """moby#45610: a neighbour sends a SYN for 127.0.0.1:8081 (published on 127.0.0.1 only) to
    the host's MAC. DNAT in prerouting would turn it into a connection to the sandbox before
    the kernel's martian check; the raw chain drops it first."""
    hub_mac, wan_mac = link_mac(net.hub, "vwan"), link_mac(net.wan, "eth0")

    def syn():
        net.wan.run(PY, "-c", RAW_SYN, "eth0", wan_mac, hub_mac, "198.51.100.2", "127.0.0.1",
                    8081)
        time.sleep(0.3)
        return [ln for ln in ct_list(net.hub, "-p", "tcp") if "dport=8081" in ln]

    try:
        assert syn() == []
        # the control: without the drop the SYN reaches the sandbox, which answers it
        net.hub.run("nft", "flush", "chain", "inet", "sandboxd", "raw_prerouting")
        seen = syn()
        assert len(seen) == 1 and "src=10.88.0.2" in seen[0], seen
    finally:
        net.replace()


def test_conntrack_flush_of_real_connections(net, clean_ct):
    for _ in range(3):
        assert client(net.wan, "tcp", "198.51.100.1", 8080) == "tcp from 198.51.100.2"
    assert client(net.sb, "tcp", "198.51.100.2", 9) == "tcp from 198.51.100.1"
    to_8080 = [ln for ln in ct_list(net.hub, "-p", "tcp") if "dport=8080" in ln]
    assert len(to_8080) == 3 and all("src=10.88.0.2" in ln for ln in to_8080)
    assert probe(net.hub, "flush-ct", "port", "tcp", 8080).stdout == "3\n"
    assert not [ln for ln in ct_list(net.hub, "-p", "tcp") if "dport=8080" in ln]
    # the sandbox's outgoing connection (its address in the original direction) is left;
    # (only TCP is counted here: the bridge's IGMP reports make entries of their own)
    sandbox = [ln for ln in ct_list(net.hub) if "10.88.0.2 " in ln]
    assert len([ln for ln in sandbox if ln.startswith("tcp")]) == 1
    assert probe(net.hub, "flush-ct", "addr", "10.88.0.2").stdout == f"{len(sandbox)}\n"
    assert not [ln for ln in ct_list(net.hub) if "10.88.0.2 " in ln]


def test_conntrack_flush_unsticks_a_udp_client(net, clean_ct):
    """A UDP client that keeps sending to a port before it is published keeps its un-NATed
    entry, and with it never reaches the sandbox, until the entry is flushed (moby#8795)."""
    el = "port,udp,*4,5354,10.88.0.2,53"
    try:
        assert client(net.wan, "udp", "198.51.100.1", 5354, 40001) == "error TimeoutError"
        probe(net.hub, "add", el)
        assert client(net.wan, "udp", "198.51.100.1", 5354, 40001) == "error TimeoutError"
        assert int(probe(net.hub, "flush-ct", "port", "udp", 5354).stdout) >= 1
        assert client(net.wan, "udp", "198.51.100.1", 5354, 40001) == "udp from 198.51.100.2"
        # a new client never had the problem
        assert client(net.wan, "udp", "198.51.100.1", 5354, 40002) == "udp from 198.51.100.2"
    finally:
        probe(net.hub, "delete", el, check=False)


def test_traffic_follows_element_changes(net, clean_ct):
    el = "port,tcp,*4,8090,10.88.0.2,80"
    assert client(net.wan, "tcp", "198.51.100.1", 8090) == "error ConnectionRefusedError"
    probe(net.hub, "add", el)
    try:
        assert client(net.wan, "tcp", "198.51.100.1", 8090) == "tcp from 198.51.100.2"
    finally:
        probe(net.hub, "delete", el)
    assert client(net.wan, "tcp", "198.51.100.1", 8090) == "error ConnectionRefusedError"
