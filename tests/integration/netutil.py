# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers of the network tests: namespaces that play other machines, an uplink to them,
clients with timeouts, and read-back of what the kernel holds (links, the nftables table
sandboxd owns, the conntrack table).

Everything here acts on the namespace the test runs in, which tests/run-integration made
private (conftest refuses to run otherwise), or on namespaces made here; nothing touches the
host's network or sends traffic off the machine. Every client call has a timeout, so a broken
network fails a test with a message instead of hanging it."""

import ctypes
import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

# The network the tests give sandboxd (sandboxd.conf [Network]): known subnets, so expected
# addresses and elements can be written down.
BRIDGE = "sandbox0"
SUBNET4 = ipaddress.ip_network("10.88.0.0/16")
SUBNET6 = ipaddress.ip_network("fd00:88::/64")
GATEWAY4 = "10.88.0.1"
GATEWAY6 = "fd00:88::1"
NET_CONF = f"[Network]\nBridge={BRIDGE}\nSubnet={SUBNET4}\nIPv6Subnet={SUBNET6}\n"

TABLE = ("inet", "sandboxd")
SETS = ("masq4", "masq6", "ports4_any", "ports4_addr", "ports6_any", "ports6_addr")
# src/sys/nft.h: the static chains of the table
CHAINS = {"raw_prerouting", "prerouting", "output", "postrouting", "forward"}
EMPTY = {"masq4": set(), "masq6": set(), "ports4_any": {}, "ports4_addr": {},
         "ports6_any": {}, "ports6_addr": {}}

PR_SET_PDEATHSIG = 1


def run(*cmd, timeout=15, check=True, input=None):
    """Runs cmd (strings or paths) with a timeout; check=True turns a failure into an
    AssertionError that shows the command and its output."""
    cmd = [str(c) for c in cmd]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(cmd)}: no answer within {timeout}s "
                             f"(stdout: {e.stdout!r}, stderr: {e.stderr!r})") from None
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\nstdout: {r.stdout}\n"
                             f"stderr: {r.stderr}")
    return r


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def netns_of(pid):
    return os.readlink(f"/proc/{pid}/ns/net")


class NetNs:
    """A network namespace of its own, held by a `sleep` that unshare(1) runs in it: it dies
    with the namespace when close() kills it, and with us (PDEATHSIG) if the run is killed, so
    nothing outlives a failed test. Its mount namespace is ours: the host's tools run in it."""

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"],
                                     preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        mine = netns_of("self")
        deadline = time.monotonic() + 5
        while True:
            try:
                if netns_of(self.pid) != mine:
                    break
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("unshare --net did not make a network namespace")
            time.sleep(0.005)
        self.run("ip", "link", "set", "lo", "up")

    def cmd(self, *cmd):
        return ["nsenter", "-t", str(self.pid), "-n", "--", *map(str, cmd)]

    def run(self, *cmd, timeout=15, check=True, input=None):
        return run(*self.cmd(*cmd), timeout=timeout, check=check, input=input)

    def popen(self, *cmd, **kw):
        return subprocess.Popen(self.cmd(*cmd), preexec_fn=_die_with_parent, **kw)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class SandboxNs:
    """A sandbox's network namespace seen from the host, by its payload's pid: the host's
    tools (curl, ip, python) run there, entering nothing else."""

    def __init__(self, pid):
        self.pid = int(pid)

    cmd = NetNs.cmd
    run = NetNs.run


class Uplink:
    """A veth `uplink0` from the test's namespace to `outside`, a namespace playing the rest of
    the world (a LAN, the internet), with IPv4 and IPv6 addresses on both ends and the outside's
    default routes through us, so replies to anything we send or forward come back."""
    HOST_IF = "uplink0"
    HOST4, OUT4 = "198.51.100.1", "198.51.100.2"
    HOST6, OUT6 = "2001:db8::1", "2001:db8::2"

    def __init__(self):
        run("ip", "link", "set", "lo", "up")
        self.outside = NetNs()
        try:
            run("ip", "link", "add", self.HOST_IF, "type", "veth", "peer", "name", "eth0",
                "netns", self.outside.pid)
            run("ip", "addr", "add", f"{self.HOST4}/24", "dev", self.HOST_IF)
            run("ip", "addr", "add", f"{self.HOST6}/64", "dev", self.HOST_IF, "nodad")
            run("ip", "link", "set", self.HOST_IF, "up")
            o = self.outside
            o.run("ip", "addr", "add", f"{self.OUT4}/24", "dev", "eth0")
            o.run("ip", "addr", "add", f"{self.OUT6}/64", "dev", "eth0", "nodad")
            o.run("ip", "link", "set", "eth0", "up")
            o.run("ip", "route", "add", "default", "via", self.HOST4)
            o.run("ip", "-6", "route", "add", "default", "via", self.HOST6)
        except BaseException:
            self.close()
            raise

    def close(self):
        # deleting our end deletes the pair at once; the namespace goes with its holder
        run("ip", "link", "del", self.HOST_IF, check=False)
        self.outside.close()

    def attacker_routes_loopback(self):
        """Makes the outside send packets for 127.0.0.1 to us, as an attacker on our LAN can
        (moby#45610, CVE-2020-8558): 127.0.0.0/8 is no longer local there, but routed via our
        uplink address. The outside's loopback loses its address for it (and its local 127/8
        routes with it): nothing there needs it."""
        o = self.outside
        o.run("ip", "addr", "flush", "dev", "lo")
        o.run("sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1",
              "net.ipv4.conf.eth0.route_localnet=1")
        o.run("ip", "route", "add", "127.0.0.0/8", "via", self.HOST4, "dev", "eth0",
              "src", self.OUT4)


# --- clients ---------------------------------------------------------------------------------

def url(host, port, path="/"):
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"


def http_get(u, ns=None, timeout=5):
    """GET with curl (in ns if given: a NetNs or SandboxNs). Returns (status, body): status 0
    with curl's error as the body when no HTTP answer came."""
    cmd = ["curl", "-sS", "--noproxy", "*", "--connect-timeout", str(timeout), "--max-time",
           str(timeout), "-o", "-", "-w", "\n%{http_code}", u]
    if ns is not None:
        cmd = ns.cmd(*cmd)
    r = run(*cmd, timeout=timeout + 5, check=False)
    if r.returncode != 0:
        return 0, (r.stderr.strip() or f"curl exit {r.returncode}")
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def wait_http(u, expect, ns=None, timeout=15, what=""):
    """Polls GET u until the body contains expect (the server may not listen yet); fails with
    the last answer after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = http_get(u, ns, timeout=3)
        if code == 200 and expect in body:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"GET {u}{' from ' + what if what else ''}: expected 200 with "
                                 f"{expect!r}, got {code}: {body[:500]!r}")
        time.sleep(0.1)


def assert_no_http(u, ns=None, timeout=3, what=""):
    code, body = http_get(u, ns, timeout=timeout)
    assert code == 0, (f"GET {u}{' from ' + what if what else ''} must not be answered, "
                       f"got {code}: {body[:300]!r}")
    return body


UDP_CLIENT = r"""
import socket, sys
host, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3]
src, timeout = int(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", src))
s.settimeout(timeout)
s.sendto(payload.encode(), (host, port))
try:
    print(s.recvfrom(2048)[0].decode())
except socket.timeout:
    print("TIMEOUT")
"""


def udp_exchange(host, port, payload, ns=None, src_port=0, timeout=3):
    """Sends one datagram from (ns and) src_port, returns the answer's text or None."""
    cmd = ["/usr/bin/python3", "-c", UDP_CLIENT, host, port, payload, src_port, timeout]
    if ns is not None:
        cmd = ns.cmd(*cmd)
    r = run(*cmd, timeout=timeout + 10)
    out = r.stdout.strip()
    return None if out == "TIMEOUT" else out


PEER_SERVER = r"""
import http.server, socket, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        peer = self.client_address[0]
        if peer.startswith("::ffff:") and "." in peer:
            peer = peer[7:]
        body = f"peer={peer}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print(peer, flush=True)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
S(("::", int(sys.argv[1])), H).serve_forever()
"""


class PeerServer:
    """An HTTP server in a namespace that answers every GET with "peer=ADDRESS": the source
    address it saw (IPv4 peers as a.b.c.d). Stops on close()."""

    def __init__(self, ns, port):
        self.ns, self.port = ns, port
        self.proc = ns.popen("/usr/bin/python3", "-c", PEER_SERVER, port,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:  # answering? (asked from its own namespace: no ss, whose sock_diag
            # modules the qemu guest lacks)
            code, body = http_get(url("::1", port), ns, timeout=2)
            if code == 200:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
                raise AssertionError(f"the peer server on port {port} did not come up: "
                                     f"{body} {err}")
            time.sleep(0.05)

    def close(self):
        self.proc.kill()
        self.proc.wait()


# --- read-back of kernel state ---------------------------------------------------------------

def links():
    """{name: {"kind": ..., "master": ...}} of the test's namespace."""
    out = json.loads(run("ip", "-d", "-j", "link", "show").stdout)
    return {l["ifname"]: {"kind": l.get("linkinfo", {}).get("info_kind"),
                          "master": l.get("master")} for l in out}


def bridge_ports(bridge=BRIDGE):
    """The host ends of the sandboxes' veths: whatever is enslaved to the bridge (their names
    are sandboxd's business)."""
    return sorted(n for n, l in links().items() if l["master"] == bridge)


def ns_links(ns):
    """Link names inside a namespace (NetNs or SandboxNs)."""
    return sorted(l["ifname"] for l in json.loads(ns.run("ip", "-j", "link", "show").stdout))


def ns_addresses(ns, ifname="eth0"):
    """({ipv4 addresses}, {ipv6 global addresses}) of ifname inside ns, as "a/prefix"."""
    out = json.loads(ns.run("ip", "-j", "addr", "show", "dev", ifname).stdout)
    v4, v6 = set(), set()
    for l in out:
        for a in l.get("addr_info", []):
            if a["family"] == "inet":
                v4.add(f"{a['local']}/{a['prefixlen']}")
            elif a["family"] == "inet6" and a.get("scope") == "global":
                v6.add(f"{a['local']}/{a['prefixlen']}")
    return v4, v6


def ns_default_routes(ns):
    """{4: gateway, 6: gateway} of ns's main table."""
    r = {}
    for fam in ("4", "6"):
        for route in json.loads(ns.run("ip", f"-{fam}", "-j", "route", "show", "default").stdout):
            r[int(fam)] = route.get("gateway")
    return r


_PROTOS = {6: "tcp", 17: "udp", "6": "tcp", "17": "udp"}


def _norm_scalar(kind, v):
    if isinstance(v, dict) and "elem" in v:  # an element with flags or a comment
        v = v["elem"]["val"]
    if kind in ("ipv4_addr", "ipv6_addr"):
        return str(ipaddress.ip_address(v))
    if kind == "inet_proto":
        return _PROTOS.get(v, v)
    if kind == "inet_service":
        if isinstance(v, str):
            return int(v) if v.isdigit() else socket.getservbyname(v)
        return v
    return v


def _norm_value(types, v):
    if isinstance(v, dict) and "elem" in v:
        v = v["elem"]["val"]
    if len(types) == 1:
        return _norm_scalar(types[0], v)
    if not (isinstance(v, dict) and "concat" in v and len(v["concat"]) == len(types)):
        raise AssertionError(f"unexpected nft element {v!r} for type {' . '.join(types)}")
    return tuple(_norm_scalar(t, x) for t, x in zip(types, v["concat"]))


def _types(t):
    if isinstance(t, list):
        return t
    return [x.strip() for x in t.split(".")]


def nft_table_json(family=TABLE[0], name=TABLE[1]):
    """The table's objects as `nft -j` lists them, or None when there is no such table."""
    # the nft tool reads a whole table into its cache: 2 x 65535 elements take it over 15 s in
    # the v2 leg's software-emulated guest (sandboxd's own batches take well under a second)
    r = run("nft", "-j", "list", "table", family, name, check=False, timeout=180)
    if r.returncode != 0:
        if "No such file or directory" in r.stderr:
            return None
        raise AssertionError(f"nft list table {family} {name}: {r.stderr}")
    return [o for o in json.loads(r.stdout)["nftables"] if "metainfo" not in o]


def nft_elements(family=TABLE[0], name=TABLE[1]):
    """The elements of every set and map of the table, normalized: sets as Python sets, maps
    as dicts, concatenations as tuples, addresses in their canonical text, protocols as
    "tcp"/"udp", ports as ints, e.g.
      {"masq4": {"10.88.0.2"}, "ports4_any": {("tcp", 8080): ("10.88.0.2", 80)}, ...}.
    None when the table does not exist."""
    objs = nft_table_json(family, name)
    if objs is None:
        return None
    out = {}
    for o in objs:
        if "set" in o:
            s = o["set"]
            out[s["name"]] = {_norm_value(_types(s["type"]), e) for e in s.get("elem", [])}
        elif "map" in o:
            m = o["map"]
            kt, vt = _types(m["type"]), _types(m["map"])
            out[m["name"]] = {_norm_value(kt, k): _norm_value(vt, v) for k, v in m.get("elem", [])}
    return out


def nft_digest(*sets, family=TABLE[0], name=TABLE[1]):
    """{set: (element count, hash of its elements)} as tests/helpers/nft-probe reads them
    straight from the kernel: for tables too large for nft_elements() in the emulated v2
    guest (the nft tool takes minutes there for 2 x 65535 elements). None when the table
    or one of the sets does not exist."""
    from conftest import BUILD
    r = run(BUILD / "tests" / "helpers" / "nft-probe", "digest", family, name, *(sets or SETS),
            timeout=60, check=False)
    if r.returncode != 0:
        if "ENOENT" in r.stderr:
            return None
        raise AssertionError(f"nft-probe digest: {r.stderr}")
    out = {}
    for line in r.stdout.splitlines():
        set_name, count, digest = line.split()
        out[set_name] = (int(count), digest)
    return out


def port_bindings():
    """{(bridge port, address)}: the sources table bridge sandboxd admits from each sandbox's
    port (sets src4, src6); None when there is no such table."""
    e = nft_elements("bridge", TABLE[1])
    return None if e is None else e.get("src4", set()) | e.get("src6", set())


def nft_chains(family=TABLE[0], name=TABLE[1]):
    objs = nft_table_json(family, name) or []
    return {o["chain"]["name"] for o in objs if "chain" in o}


def _strip_handles(x):
    if isinstance(x, dict):
        return {k: _strip_handles(v) for k, v in x.items() if k != "handle"}
    if isinstance(x, list):
        return [_strip_handles(v) for v in x]
    return x


def _normalized(objs):
    """Without handles (which change on every rebuild) and with elements sorted (their order
    is the kernel's): equal exactly when the rules, sets and elements are the same."""
    objs = _strip_handles(objs)
    for o in objs:
        for kind in ("set", "map"):
            if kind in o and "elem" in o[kind]:
                o[kind]["elem"] = sorted(o[kind]["elem"], key=lambda e: json.dumps(e))
    return objs


def nft_ruleset():
    """The whole ruleset of the namespace, normalized (see _normalized)."""
    r = run("nft", "-j", "list", "ruleset", timeout=180)
    return _normalized([o for o in json.loads(r.stdout)["nftables"] if "metainfo" not in o])


def nft_table_normalized(family=TABLE[0], name=TABLE[1]):
    """The table (chains, rules, sets, elements), normalized; None if there is none."""
    objs = nft_table_json(family, name)
    return None if objs is None else _normalized(objs)


def expected_elements(addr4=None, addr6=None, ports=(), v6=True):
    """The elements sandboxd must hold for sandboxes with these addresses and published ports,
    ports given as (host_addr or None, proto, host_port, sandbox_addr, port) where sandbox_addr
    is the sandbox's address of the right family; addr4/addr6: one address or a list."""
    e = {k: (set() if k.startswith("masq") else {}) for k in SETS
         if v6 or not k.endswith(("6", "6_any", "6_addr"))}
    for a in ([addr4] if isinstance(addr4, str) else addr4 or []):
        e["masq4"].add(a)
    for a in ([addr6] if isinstance(addr6, str) else addr6 or []):
        e["masq6"].add(a)
    for host, proto, hport, saddr, port in ports:
        fam = 6 if ":" in saddr else 4
        if host is None:
            e[f"ports{fam}_any"][(proto, hport)] = (saddr, port)
        else:
            e[f"ports{fam}_addr"][(str(ipaddress.ip_address(host)), proto, hport)] = (saddr, port)
    return e


def wait_nft_elements(expected, timeout=5):
    """Polls until the table's elements equal expected; returns how long it took. Fails with
    both sides shown."""
    t0 = time.monotonic()
    while True:
        got = nft_elements()
        if got == expected:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"nft table inet sandboxd after {timeout}s:\n  got      {got}\n"
                                 f"  expected {expected}")
        time.sleep(0.05)


def conntrack_entries():
    """Every conntrack entry of the namespace (IPv4 and IPv6) as
    (proto, (orig src, dst, sport, dport), (reply src, dst, sport, dport)) tuples; the timeouts
    and states, which change by themselves, are left out."""
    entries = set()
    for fam in ("ipv4", "ipv6"):
        r = run("conntrack", "-L", "-f", fam, check=False)
        if r.returncode != 0 and "0 flow entries" not in r.stderr:
            raise AssertionError(f"conntrack -L -f {fam}: {r.stderr}")
        for line in r.stdout.splitlines():
            words = line.split()
            if not words:
                continue
            kv = [w.split("=", 1) for w in words if "=" in w]
            srcs = [i for i, (k, _) in enumerate(kv) if k == "src"]
            if len(srcs) < 2:
                continue

            def tup(part):
                d = dict(part)
                return (d.get("src"), d.get("dst"), d.get("sport", d.get("type")),
                        d.get("dport", d.get("code")))
            entries.add((words[0], tup(kv[srcs[0]:srcs[1]]), tup(kv[srcs[1]:])))
    return entries


def conntrack_involving(addresses):
    """The entries where one of addresses (texts) is a source or destination, either way."""
    addrs = {str(ipaddress.ip_address(a)) for a in addresses}

    def canon(a):
        try:
            return str(ipaddress.ip_address(a))
        except ValueError:
            return a
    return {e for e in conntrack_entries()
            if {canon(e[1][0]), canon(e[1][1]), canon(e[2][0]), canon(e[2][1])} & addrs}


def conntrack_left(addresses, timeout=2.0):
    """The entries of addresses still there once sandboxd's flush has had up to timeout
    seconds: it runs right after a stop's answer is out (one dump of the kernel's whole hash
    costs ~9 ms, so it is not on the stop's path)."""
    deadline = time.monotonic() + timeout
    while True:
        left = conntrack_involving(addresses)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def wait_until(pred, what, timeout=10):
    """Polls pred() until true; fails with what (a string, or a function giving one) after
    timeout seconds. For state the kernel settles a moment later (a dead sandbox's veth goes
    with its namespace, cleaned up asynchronously)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(what() if callable(what) else what)
        time.sleep(0.05)


def leases(state_dir):
    """{unit: [addresses]} of the lease files under STATE_DIR/network/leases."""
    d = Path(state_dir) / "network" / "leases"
    if not d.is_dir():
        return {}
    return {f.name: [l.strip() for l in f.read_text().splitlines() if l.strip()]
            for f in sorted(d.iterdir())}


def remove_leftovers():
    """What an earlier test (or module) may have left in the shared test namespace: sandboxd's
    table and bridge. Network tests start from none of them."""
    run("nft", "delete", "table", *TABLE, check=False)
    run("ip", "link", "del", BRIDGE, check=False)


def sysctl(path):
    return Path("/proc/sys", path).read_text().strip()


def sandbox_wget(pid, u, timeout=5):
    """GET u with busybox wget inside the sandbox whose payload is pid (all its namespaces and
    its root, a clean environment: no proxy). Returns (ok, body or error text). busybox's own
    timeout applet bounds it (Debian's static busybox 1.35 crashes on wget -T)."""
    cmd = ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
           "/bin/env", "-i", "PATH=/bin", "timeout", "-s", "KILL", str(timeout),
           "wget", "-q", "-O", "-", u]
    r = run(*cmd, timeout=timeout + 10, check=False)
    if r.returncode != 0:
        return False, (r.stderr.strip() or f"wget exit {r.returncode}")
    return True, r.stdout


def wait_sandbox_wget(pid, u, expect, timeout=15, what=""):
    deadline = time.monotonic() + timeout
    while True:
        ok, body = sandbox_wget(pid, u, timeout=3)
        if ok and expect in body:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"wget {u} inside {what or 'the sandbox'} (pid {pid}): expected "
                                 f"{expect!r}, got {'' if ok else 'error '}{body[:500]!r}")
        time.sleep(0.1)
