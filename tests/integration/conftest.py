# SPDX-License-Identifier: GPL-2.0-or-later
"""Harness for the integration tests: a real sandboxd on a temporary state tree, driven with
sandboxctl, checked from outside (cgroup files, /proc/PID/ns, the layer directories).

Run it through tests/run-integration, which puts the whole run in a private mount and network
namespace: everything network-related that the daemon makes lives and dies there."""

import contextlib
import inspect
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SANDBOXD_BUILD", ROOT / "build")).resolve()
SANDBOXD = BUILD / "sandboxd" / "sandboxd"
SANDBOXCTL = BUILD / "src" / "sandboxctl" / "sandboxctl"
INIT = BUILD / "src" / "init" / "sandboxd-init"
IMAGE_WORKER = BUILD / "src" / "image" / "sandboxd-image"
BUSYBOX = Path("/bin/busybox")
# A run may pick its own slice (SANDBOXD_TEST_SLICE), so two suites can share a host; the
# cleanup below only ever touches this slice.
SLICE = os.environ.get("SANDBOXD_TEST_SLICE", "sandbox.slice")


def pytest_sessionstart(session):
    if os.geteuid() != 0:
        pytest.exit("the integration tests need root", returncode=1)
    outer = os.environ.get("SANDBOXD_TEST_OUTER_NETNS")
    if not outer or os.readlink("/proc/self/ns/net") == outer:
        pytest.exit("refusing to run in the host's network namespace: use tests/run-integration",
                    returncode=1)
    for p in (SANDBOXD, SANDBOXCTL, INIT, BUSYBOX):
        if not p.exists():
            pytest.exit(f"{p} is missing (build first; busybox-static must be installed)",
                        returncode=1)


def pytest_configure(config):
    config.addinivalue_line("markers", "cgroup_v2: runs only where the controllers are on a "
                            "pure cgroup v2 hierarchy (tests/vm/run)")
    config.addinivalue_line("markers", "cgroup_v1: runs only where the controllers are on "
                            "cgroup v1 hierarchies")
    config.addinivalue_line("markers", "soak: many repetitions (a minute or two); part of the "
                            "normal suite, `-m 'not soak'` leaves them out")
    config.addinivalue_line("markers", "layout_independent: nothing it checks depends on the "
                            "cgroup layout; the v2 guest leg (SANDBOXD_TEST_LAYOUT_ONLY=1) "
                            "leaves it to the host leg")
    config.addinivalue_line("markers", "both_legs: in a layout_independent module, runs on the "
                            "v2 guest leg too (its kernel or cgroup cleanup differs there)")


def pytest_collection_modifyitems(config, items):
    """A test about one cgroup layout runs on the leg that has it, and is deselected (not
    skipped, not counted) on the other: CI runs both legs, so every test runs somewhere."""
    layout = "cgroup_v2" if is_v2() else "cgroup_v1"
    other = "cgroup_v1" if is_v2() else "cgroup_v2"
    keep = [i for i in items if other not in i.keywords]
    dropped = [i for i in items if other in i.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        print(f"\n{len(dropped)} test(s) for the other cgroup layout deselected (this host: "
              f"{layout})")
    # A test that reads the cgroup tree depends on the layout whatever its module says: one in
    # a layout_independent module must be marked both_legs, or the v2 leg would lose it.
    readers = re.compile(r"\b(cgroup_dir|cgroup_file|cgroup_root|cgroup_dirs_of_slice|is_v2|"
                         r"unified_dir)\(")
    unmarked = [f"{i.path.name}::{i.function.__name__}" for i in items
                if "layout_independent" in i.keywords and "both_legs" not in i.keywords
                and getattr(i, "function", None) is not None
                and readers.search(inspect.getsource(i.function))]
    if unmarked:
        raise pytest.UsageError("layout_independent tests that read the cgroup tree need "
                                "@pytest.mark.both_legs: " + ", ".join(sorted(set(unmarked))))
    # The v2 guest runs under software emulation, about 10x slower than the host: it runs what
    # the cgroup layout (or its kernel, Debian's own) can change, and the host leg, which CI
    # always runs too, covers the rest. tests/vm/run sets this; SANDBOXD_VM_ALL=1 there runs all.
    if os.environ.get("SANDBOXD_TEST_LAYOUT_ONLY") == "1":
        left = [i for i in items
                if "layout_independent" in i.keywords and "both_legs" not in i.keywords]
        if left:
            config.hook.pytest_deselected(items=left)
            gone = set(left)
            items[:] = [i for i in items if i not in gone]
            print(f"\n{len(left)} layout-independent test(s) deselected: the host leg runs them")


def make_busybox_layer(d: Path):
    """A minimal root: static busybox and its applets, passwd/group, the mount points."""
    for sub in ("bin", "etc", "proc", "dev", "sys", "tmp", "root", "home/www", "data"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, d / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        if a != "busybox":  # `busybox --list` names itself; linking it would clobber the binary
            (d / "bin" / a).symlink_to("busybox")
    (d / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                      "www:x:33:33:www:/home/www:/bin/sh\n"
                                      "nobody:x:65534:65534:nobody:/:/bin/false\n")
    (d / "etc" / "group").write_text("root:x:0:\nwww:x:33:\nstaff:x:50:www\nnogroup:x:65534:\n")
    os.chmod(d / "tmp", 0o1777)


@pytest.fixture(scope="session")
def layers(tmp_path_factory):
    """Two image layers: `top` shadows a file of `base` and whites another out, overlay-style
    (a 0/0 character device)."""
    root = tmp_path_factory.mktemp("layers")
    base, top = root / "base", root / "top"
    make_busybox_layer(base)
    (base / "etc" / "motd").write_text("from base\n")
    (base / "etc" / "secret").write_text("must be hidden\n")
    (base / "etc" / "only-base").write_text("base only\n")
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "motd").write_text("from top\n")
    os.mknod(top / "etc" / "secret", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    return {"base": base, "top": top}


def helper_layer(tmp_path_factory, name):
    """A layer holding /bin/NAME, the static program tests/helpers/NAME.c."""
    d = tmp_path_factory.mktemp(f"{name}-layer")
    (d / "bin").mkdir()
    (d / "bin" / name).write_bytes((BUILD / "tests" / "helpers" / name).read_bytes())
    os.chmod(d / "bin" / name, 0o755)
    return d


@pytest.fixture(scope="session")
def notify_layer(tmp_path_factory):
    """A layer with /bin/notify-payload, a Type=notify payload that speaks the protocol by
    hand."""
    return helper_layer(tmp_path_factory, "notify-payload")


def notify_unit(layers, notify_layer, args, service="Type=notify", sandbox="", unit=""):
    return unit_text(layers, f"/bin/notify-payload {args}", service=service, unit=unit,
                     sandbox=f"Layers={notify_layer}\n{sandbox}")


class Daemon:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.units = tmp / "units"
        self.units.mkdir()
        self.socket = tmp / "run" / "private"
        self.state = tmp / "state"
        self.runtime = tmp / "run"
        self.logs = tmp / "log"
        self.enabled = tmp / "enabled"  # never the host's /etc/sandboxd/enabled
        self.proc = None
        self.output = tmp / "sandboxd.out"
        self.config = None

    def start(self, keep_running=False, cgroup=None, args=(), pass_fds=(), nofile=None,
              config=None):
        """cgroup: a v2 group directory the daemon is started in, as a service manager
        would. nofile: (soft, hard) RLIMIT_NOFILE it starts with. config: sandboxd.conf for
        --config, as text (written to TMP/sandboxd.conf) or a path; later starts keep using it.
        Without one the daemon reads its default path, as before."""
        if config is not None:
            if isinstance(config, Path):
                self.config = config
            else:
                self.config = self.tmp / "sandboxd.conf"
                self.config.write_text(config)
        if self.config is not None:
            args = ("--config", str(self.config), *args)
        if self.socket.exists():  # left by a killed daemon: wait for the new one's
            self.socket.unlink()

        def enter_cgroup():
            if cgroup:
                (Path(cgroup) / "cgroup.procs").write_text("0")
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
        self.proc = subprocess.Popen(
            [str(SANDBOXD), "--socket", str(self.socket), "--state-dir", str(self.state),
             "--runtime-dir", str(self.runtime), "--log-dir", str(self.logs),
             "--unit-path", str(self.units), "--init", str(INIT), "--slice", SLICE,
             "--image-worker", str(IMAGE_WORKER), "--enabled-dir", str(self.enabled),
             "--log-target=file",  # files even on a host where journald runs
             *args] +
            (["--keep-running"] if keep_running else []),
            stdout=open(self.output, "a"), stderr=subprocess.STDOUT,
            preexec_fn=enter_cgroup if cgroup or nofile else None, pass_fds=pass_fds)
        # the socket's file appears at bind(), a moment before listen(): wait until it takes
        # connections, or a client (or a SIGSTOP) in between sees ECONNREFUSED
        deadline = time.monotonic() + 10
        while not self.accepts_connections():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sandboxd did not come up:\n" + self.output.read_text())
            time.sleep(0.01)

    def accepts_connections(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(self.socket))
                return True
            except (FileNotFoundError, ConnectionRefusedError):
                return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def ctl(self, *args, check=True, timeout=60, env=None):
        env = dict(os.environ, SANDBOXD_SOCKET=str(self.socket), **(env or {}))
        r = subprocess.run([str(SANDBOXCTL), *map(str, args)], capture_output=True, text=True,
                           env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"sandboxctl {' '.join(map(str, args))} -> {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def show(self, unit):
        out = self.ctl("show", "--all", unit).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(self, unit, pred, timeout=20):
        """Polls the unit's properties until pred(props) holds: a liveness bound, not a
        timing assertion."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.show(unit)
            if pred(p):
                return p
            if time.monotonic() > deadline:
                raise AssertionError(f"{unit} never reached the expected state: {p}")
            time.sleep(0.05)

    def write_unit(self, name, text):
        path = self.units / name
        path.write_text(text)
        return path

    def log(self, unit):
        p = self.logs / f"{unit}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def payload_output(self, unit):
        """The payload's lines of the unit's log, without the prefix the init gives each
        ("DATE TIME IDENT[PID]: "); sandboxd's own event lines are left out."""
        out = []
        for line in self.log(unit).splitlines():
            m = PAYLOAD_LINE.match(line)
            if m:
                out.append(m.group(1))
        return out


PAYLOAD_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [^ \[]+\[\d+\]: (.*)$")
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def assert_no_sanitizer_report(tmp: Path):
    """Under a sanitizer build (SANDBOXD_BUILD=build-asan) a report in the daemon's output or
    a unit log (where sandboxd-init writes) fails the test; other builds never print these."""
    for f in [tmp / "sandboxd.out", *(tmp / "log").glob("*.log")]:
        if f.exists():
            text = f.read_text(errors="replace")
            for marker in SANITIZER_REPORTS:
                assert marker not in text, f"{f}:\n{text[max(0, text.index(marker) - 200):][:3000]}"


def kill_stray_lxcfs(under):
    """The proc view's lxcfs of a daemon on `under` that a test killed or stopped with
    --keep-running (it outlives its sandboxd by design), and its mount."""
    under = str(under)
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            argv = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"lxcfs") and any(a.startswith(under.encode()) for a in argv):
            try:
                os.kill(int(p.name), signal.SIGKILL)
            except ProcessLookupError:
                pass
    for mnt in reversed(Path("/proc/self/mounts").read_text().splitlines()):
        target = mnt.split()[1]
        if target.startswith(under) and "fuse" in mnt.split()[2]:
            subprocess.run(["umount", "-l", target], capture_output=True)


@pytest.fixture(autouse=True)
def no_stray_lxcfs(tmp_path):
    """Every test: a daemon it killed (or made by hand) may leave its proc view's lxcfs."""
    yield
    kill_stray_lxcfs(tmp_path)


@contextlib.contextmanager
def started_daemon(tmp_path, **start_args):
    """A sandboxd on tmp_path (Daemon.start's arguments), stopped afterwards with whatever a
    failed test left in its slice."""
    d = Daemon(tmp_path)
    d.start(**start_args)
    try:
        yield d
    finally:
        d.stop()
        # Whatever a failed test left: nothing of ours may outlive it.
        for leftover in cgroup_dirs_of_slice():
            kill_and_remove_cgroup(leftover)
        kill_stray_lxcfs(tmp_path)
    assert_no_sanitizer_report(tmp_path)


@pytest.fixture
def daemon(tmp_path):
    with started_daemon(tmp_path) as d:
        yield d


def cgroup_root():
    return Path("/sys/fs/cgroup")


def is_v2():
    return (cgroup_root() / "cgroup.controllers").exists() and \
        "memory" in (cgroup_root() / "cgroup.controllers").read_text()


def cgroup_dir(controller, unit):
    """Where the kernel keeps the unit's group for a controller, on either layout."""
    if is_v2():
        return cgroup_root() / SLICE / unit
    return cgroup_root() / controller / SLICE / unit


def cgroup_file(controller, unit, v1_name, v2_name=None):
    return cgroup_dir(controller, unit) / (v2_name if is_v2() and v2_name else v1_name)


def cgroup_dirs_of_slice():
    dirs = []
    if is_v2():
        bases = [cgroup_root() / SLICE]
    else:
        bases = [p / SLICE for p in cgroup_root().iterdir() if (p / SLICE).is_dir()]
    for b in bases:
        if b.is_dir():
            dirs += [c for c in b.iterdir() if c.is_dir()]
    return dirs


def remove_empty_slice():
    """The slice's own directories, once no group is left below them (a sandboxd left with
    --keep-running does not remove its slice; the next one would)."""
    bases = [cgroup_root() / SLICE] if is_v2() else \
        [p / SLICE for p in cgroup_root().iterdir() if (p / SLICE).is_dir()]
    for b in bases:
        try:
            b.rmdir()
        except OSError:
            pass


def kill_and_remove_cgroup(d: Path):
    for _ in range(50):
        pids = (d / "cgroup.procs").read_text().split() if (d / "cgroup.procs").exists() else []
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            d.rmdir()
            return
        except OSError:
            time.sleep(0.05)


def interruptible():
    """preexec_fn for a client the test stops with SIGINT (^C): a run started in the
    background (`.ci/run &`) ignores SIGINT, its children inherit that, and sandboxctl, as
    programs should, keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(p, timeout=10):
    """^C to a client started with preexec_fn=interruptible; its (stdout, stderr). One that
    does not end is killed, so a failing test leaves no process behind."""
    p.send_signal(signal.SIGINT)
    try:
        return p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise


def sandbox_exec(pid, *cmd):
    """Runs cmd inside the sandbox whose process is pid (all its namespaces and its root)."""
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
                           *cmd], capture_output=True, text=True, timeout=30)


def unit_text(layers, exec_start, sandbox="", resources="", service="", unit=""):
    return (f"[Unit]\nDescription=test sandbox\n{unit}\n"
            f"[Sandbox]\nLayers={layers['base']} {layers['top']}\n{sandbox}\n"
            f"[Resources]\n{resources}\n"
            f"[Service]\nExecStart={exec_start}\n{service}\n")


class InitReaper:
    """Stands in for the host's PID 1 while sandboxd is away: sandbox inits left by a stopped
    sandboxd are re-parented to us (we are a child subreaper) and reaped here once they exit.
    Only sandboxd-init and lxcfs (the proc view) zombies are reaped, never subprocess's own children."""

    def __init__(self):
        import ctypes
        import threading
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def reap_once(self):
        me = os.getpid()
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            if comm in ("sandboxd-init", "lxcfs") and fields[0] == "Z" and int(fields[1]) == me:
                try:
                    os.waitpid(int(p.name), os.WNOHANG)
                except ChildProcessError:
                    pass

    def run(self):
        while not self.stop_event.wait(0.02):
            self.reap_once()


@pytest.fixture(scope="session")
def init_reaper():
    r = InitReaper()
    yield r
    r.stop_event.set()


def import_into(daemon, *args):
    """Runs the image worker on the daemon's store (ARGS: a verb and its arguments)."""
    r = subprocess.run([str(IMAGE_WORKER), "--store", str(daemon.state / "images"), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def wait_output(daemon, unit, n=1):
    """The payload's output lines once there are at least n."""
    deadline = time.monotonic() + 15
    while len(daemon.payload_output(unit)) < n:
        assert time.monotonic() < deadline, daemon.log(unit)
        time.sleep(0.05)
    return daemon.payload_output(unit)


def umoci(*args):
    """umoci, the OCI layout tool of the image tests."""
    subprocess.run(["umoci", *map(str, args)], check=True, capture_output=True)


def skopeo(tmp, *args):
    """skopeo with its temporary files in the test's directory (it uses /var/tmp otherwise,
    which a VM's read-only root has read-only), failing with what it said."""
    r = subprocess.run(["skopeo", "--tmpdir", str(tmp), *map(str, args)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
