# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared pieces of the network benchmarks (bench/net-*): a private mount + network namespace
for the whole run, a sandboxd from the build tree with a known [Network], a busybox layer, and
the statistics every bench prints. Nothing here touches the host's network: the bench re-runs
itself under `unshare --net --mount` before doing anything."""

import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("SANDBOXD_BUILD", ROOT / "build")).resolve()
SLICE = os.environ.get("SANDBOXD_BENCH_SLICE", "sandbox-bench.slice")
CTL = str(BUILD / "src" / "sandboxctl" / "sandboxctl")
NET_CONF = "[Network]\nBridge=sandbox0\nSubnet=10.88.0.0/16\nIPv6Subnet=fd00:88::/64\n"
GATEWAY4 = "10.88.0.1"


def enter_private_namespace(tools=()):
    """Re-runs the calling script as root in a private mount and network namespace (argv[1] is
    then --inside) and returns its own arguments. Checks the build and tools first."""
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return sys.argv[2:]
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    if not (BUILD / "sandboxd" / "sandboxd").exists():
        sys.exit("bench: build first (ninja -C build)")
    for t in ("unshare", "ip", *tools):
        if not shutil.which(t):
            sys.exit(f"bench: {t} is missing (see contrib/debian-packages)")
    script = os.path.abspath(sys.argv[0])
    os.execvp("unshare", ["unshare", "--mount", "--net", "--propagation", "private", "--",
                          sys.executable, script, "--inside", *sys.argv[1:]])


class Sandboxd:
    """A sandboxd on a temporary tree (units in WORK/units), stopped by close()."""

    def __init__(self, config=NET_CONF, debug=False):
        self.work = Path(tempfile.mkdtemp(prefix="sandboxd-netbench."))
        self.units = self.work / "units"
        self.units.mkdir()
        self.sock = self.work / "sock"
        self.env = dict(os.environ, SANDBOXD_SOCKET=str(self.sock))
        self.layer = self.work / "rootfs"
        subprocess.run([str(ROOT / "contrib" / "make-busybox-layer"), str(self.layer)],
                       check=True, stdout=subprocess.DEVNULL)
        (self.work / "sandboxd.conf").write_text(config)
        self.log = open(self.work / "sandboxd.log", "w")
        self.proc = subprocess.Popen(
            [str(BUILD / "sandboxd" / "sandboxd"), *(["--debug"] if debug else []),
             "--config", str(self.work / "sandboxd.conf"), "--socket", str(self.sock),
             "--state-dir", str(self.work / "state"), "--runtime-dir", str(self.work / "run"),
             "--log-dir", str(self.work / "log"), "--unit-path", str(self.units),
             "--enabled-dir", str(self.work / "enabled"),
             "--slice", SLICE, "--init", str(BUILD / "src" / "init" / "sandboxd-init"),
             "--image-worker", str(BUILD / "src" / "image" / "sandboxd-image")],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self._accepts():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                sys.exit("bench: sandboxd did not come up:\n" +
                         (self.work / "sandboxd.log").read_text())
            time.sleep(0.01)

    def _accepts(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(self.sock))
                return True
            except OSError:
                return False

    def unit(self, name, sandbox="", exec_start="/bin/sleep 1000"):
        """Writes NAME.unit on the busybox layer; sandbox: extra [Sandbox] lines."""
        (self.units / f"{name}.unit").write_text(
            "[Unit]\nStartLimitIntervalSec=0\n"
            f"[Sandbox]\nLayers={self.layer}\n{sandbox}\n"
            "[Resources]\nMemoryMax=64M\nTasksMax=64\n"
            f"[Service]\nExecStart={exec_start}\n")
        return f"{name}.unit"

    def ctl(self, *args, out=False):
        r = subprocess.run([CTL, *args], env=self.env, capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            sys.exit(f"bench: sandboxctl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout if out else None

    def show(self, unit, prop):
        return self.ctl("show", unit, "-p", prop, "--value", out=True).strip()

    def timed(self, *args):
        """Wall time of one sandboxctl call in ms (a start returns once the payload exec'd)."""
        t0 = time.perf_counter_ns()
        self.ctl(*args)
        return (time.perf_counter_ns() - t0) / 1e6

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)


class Floor:
    """bench/start-floor (build/bench/start-floor): the kernel's part of a networked sandbox
    start with nothing around it, on sandboxd's bridge, in groups beside sandboxd's under the
    bench slice with the units' limits (MemoryMax=64M, TasksMax=64). start() returns its wall
    time in ms; stop() kills the payload (pid 1 of its namespaces), reaps it (this process is
    made a child subreaper) and removes its groups and directories, untimed."""
    BIN = BUILD / "bench" / "start-floor"
    PR_SET_CHILD_SUBREAPER = 36

    def __init__(self, sandboxd):
        if not self.BIN.exists():
            sys.exit(f"bench: {self.BIN} is missing (ninja -C build)")
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(self.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.layer = sandboxd.layer
        self.work = Path(tempfile.mkdtemp(prefix="sandboxd-floor."))
        self.serial = 0
        self.pid = None
        unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        if unified:
            self.slices = [Path("/sys/fs/cgroup") / SLICE]
        else:
            self.slices = [p for p in Path("/sys/fs/cgroup").glob(f"*/{SLICE}") if p.is_dir()]
        if not self.slices:
            sys.exit(f"bench: no {SLICE} to put the floor's groups in (start a unit first)")
        self.limits = {"memory.max": "67108864", "memory.limit_in_bytes": "67108864",
                       "pids.max": "64"}

    def start(self):
        self.serial += 1
        name = f"floor-{self.serial}"
        run = self.work / name
        run.mkdir()
        groups = [s / name for s in self.slices]
        args = [str(self.BIN), "--layer", str(self.layer), "--run", str(run)]
        for g in groups:
            args += ["--cgroup", str(g)]
        for s in self.slices:
            for f, v in self.limits.items():
                if (s / f).exists():
                    args += ["--set", f"{s / name / f}={v}"]
        args += ["--veth", f"flr{self.serial}", "--bridge", "sandbox0",
                 "--addr", "10.88.250.1/16", "--gateway", GATEWAY4, "--", "/bin/sleep", "1000"]
        t0 = time.perf_counter_ns()
        r = subprocess.run(args, capture_output=True, text=True)
        ms = (time.perf_counter_ns() - t0) / 1e6
        if r.returncode != 0:
            sys.exit(f"bench: start-floor failed: {r.stderr.strip()}")
        self.pid, self.groups, self.run = int(r.stdout), groups, run
        return ms

    def stop(self):
        if self.pid is None:
            return
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        for g in self.groups:
            deadline = time.monotonic() + 10
            while True:
                try:
                    g.rmdir()
                    break
                except OSError:  # busy until the kernel has moved the dead task out
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.001)
        shutil.rmtree(self.run, ignore_errors=True)
        self.pid = None

    def close(self):
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


class Outside:
    """A namespace playing a client on the LAN: a veth from the bench namespace (198.51.100.1)
    to it (198.51.100.2), default route through us. Its holder (a sleep) dies with close()."""
    HOST4, OUT4 = "198.51.100.1", "198.51.100.2"

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 5
        while True:
            try:
                if os.readlink(f"/proc/{self.proc.pid}/ns/net") != mine:
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                sys.exit("bench: unshare --net made no namespace")
            time.sleep(0.005)
        sh = lambda *c: subprocess.run([str(x) for x in c], check=True)
        sh("ip", "link", "add", "uplink0", "type", "veth", "peer", "name", "eth0", "netns",
           self.proc.pid)
        sh("ip", "addr", "add", f"{self.HOST4}/24", "dev", "uplink0")
        sh("ip", "link", "set", "uplink0", "up")
        for c in (("ip", "link", "set", "lo", "up"),
                  ("ip", "addr", "add", f"{self.OUT4}/24", "dev", "eth0"),
                  ("ip", "link", "set", "eth0", "up"),
                  ("ip", "route", "add", "default", "via", self.HOST4),
                  # a client making thousands of connections a second keeps ports in use
                  ("sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1",
                   "net.ipv4.ip_local_port_range=1024 65000")):
            sh(*self.cmd(*c))

    def cmd(self, *c):
        return ["nsenter", "-t", str(self.proc.pid), "-n", "--", *map(str, c)]

    def close(self):
        subprocess.run(["ip", "link", "del", "uplink0"], stderr=subprocess.DEVNULL)
        self.proc.kill()
        self.proc.wait()


def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return statistics.median(xs), q[0], q[2]


def bootstrap_median(xs, n=2000, seed=1):
    """95% bootstrap interval of the median of xs."""
    rng = random.Random(seed)
    boot = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(n))
    return boot[int(n * 0.025)], boot[int(n * 0.975) - 1]


def print_table(rows, unit="ms"):
    """rows: [(name, samples)], with median, p25, p75."""
    print(f"{'':<28} {'median':>9} {'p25':>9} {'p75':>9}   ({unit})")
    for name, xs in rows:
        m, lo, hi = quartiles(xs)
        print(f"{name:<28} {m:>9.2f} {lo:>9.2f} {hi:>9.2f}")
