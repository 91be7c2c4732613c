/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/start-floor: the floor a sandbox start is measured against. What the kernel must do
 * for a detached sandbox, with nothing around it: cgroups made (and limits written), a child
 * cloned into new mount, pid, uts, ipc and network namespaces and joined to them, an overlay
 * root (a read-only layer + a fresh upper), /proc, /sys and a /dev tmpfs, pivot_root, a
 * hostname, lo up and, with --veth, a veth pair whose peer is made in the child's namespace
 * and whose host end joins a bridge, eth0 given an address and a default route; then the
 * payload is exec'd. It returns (printing the payload's host pid) once the exec happened.
 * No daemon, no bus, no state file, no seccomp, no init: the payload is pid 1 of its
 * namespace, so killing it ends the sandbox. The same raw rtnetlink calls as sandboxd's
 * (src/sys/rtnl.c for the veth, netdev.c inside), so a benchmark compares the rest.
 *
 * usage: start-floor --layer DIR --run DIR [--cgroup DIR]... [--set FILE=VALUE]...
 *                    [--veth NAME --bridge NAME --addr A.B.C.D/N --gateway A.B.C.D]
 *                    -- COMMAND [ARG]...
 * --run: an empty directory of this sandbox's own (upper, work, root are made in it);
 * --cgroup: a group to make and join (v1: one per hierarchy, joined by the child writing "0"
 * to its `tasks`; the group in the (one) v2 hierarchy by clone3(CLONE_INTO_CGROUP));
 * --set: a limit written after the groups exist. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netdev.h"
#include "rtnl.h"

#define MAX_GROUPS 16

static struct {
    const char *layer, *run, *veth, *bridge;
    const char *groups[MAX_GROUPS];
    size_t n_groups;
    char *sets[MAX_GROUPS];
    size_t n_sets;
    PlanNetwork net;
    char **argv;
    int go[2], done[2];
    int join_fds[MAX_GROUPS]; /* v1: each group's `tasks`, written "0" by the child */
    size_t n_join;
    int v2_group_fd; /* a v2 group (if any): the child is born in it */
} a;

static void die(const char *what) {
    fprintf(stderr, "start-floor: %s: %m\n", what);
    exit(1);
}

/* In the child: report what failed through the done pipe (the parent reads it) and exit. */
static void child_die(const char *what) {
    dprintf(a.done[1], "%s: %s", what, strerror(errno));
    _exit(1);
}

static int write_file(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, s, strlen(s));
    int r = n < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int child(void) {
    char c, p[4096];
    const char *step = NULL;

    close(a.go[1]);
    close(a.done[0]);
    /* "0" moves the writer alone: no global threadgroup lock (and its RCU wait) on v1. */
    for (size_t i = 0; i < a.n_join; i++)
        if (write(a.join_fds[i], "0", 1) < 0)
            child_die("joining a cgroup");
    if (read(a.go[0], &c, 1) != 1)
        _exit(1);
    /* The payload's output goes nowhere: the caller waits for this program's, not the
     * payload's, end of output. */
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
        child_die("/dev/null");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_die("making / private");
    snprintf(p, sizeof p, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", a.layer, a.run,
             a.run);
    char root[4096];
    snprintf(root, sizeof root, "%s/root", a.run);
    if (mount("overlay", root, "overlay", 0, p) < 0)
        child_die("overlay");
    if (chdir(root) < 0)
        child_die("chdir root");
    /* The sysctl netdev_configure writes needs a writable /proc/sys: before the new root. */
    if (netdev_configure(&a.net, &step) < 0)
        child_die(step ? step : "network");
    (void) mkdir("proc", 0555);
    (void) mkdir("sys", 0555);
    (void) mkdir("dev", 0755);
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        child_die("/proc");
    if (mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        child_die("/sys");
    if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k") < 0)
        child_die("/dev");
    if (mknod("dev/null", S_IFREG | 0666, 0) < 0 ||
        mount("/dev/null", "dev/null", NULL, MS_BIND, NULL) < 0)
        child_die("/dev/null");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        child_die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        child_die("detaching the old root");
    if (chdir("/") < 0)
        child_die("chdir /");
    if (sethostname("floor", 5) < 0)
        child_die("sethostname");
    execv(a.argv[0], a.argv);
    child_die("exec");
    return 1;
}

static void parse_addr(const char *s, struct in_addr *ret, uint8_t *ret_prefix) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = 0;
        *ret_prefix = (uint8_t) atoi(slash + 1);
    }
    if (inet_pton(AF_INET, buf, ret) != 1) {
        fprintf(stderr, "start-floor: bad address %s\n", s);
        exit(2);
    }
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"layer", required_argument, NULL, 'l'}, {"run", required_argument, NULL, 'r'},
        {"cgroup", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"veth", required_argument, NULL, 'v'},   {"bridge", required_argument, NULL, 'b'},
        {"addr", required_argument, NULL, 'a'},   {"gateway", required_argument, NULL, 'g'},
        {}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
        switch (o) {
        case 'l': a.layer = optarg; break;
        case 'r': a.run = optarg; break;
        case 'c':
            if (a.n_groups == MAX_GROUPS)
                return 2;
            a.groups[a.n_groups++] = optarg;
            break;
        case 's':
            if (a.n_sets == MAX_GROUPS)
                return 2;
            a.sets[a.n_sets++] = optarg;
            break;
        case 'v': a.veth = optarg; break;
        case 'b': a.bridge = optarg; break;
        case 'a':
            parse_addr(optarg, &a.net.addr4, &a.net.prefix4);
            a.net.has_v4 = true;
            break;
        case 'g': parse_addr(optarg, &a.net.gateway4, &(uint8_t){0}); break;
        default: return 2;
        }
    }
    if (!a.layer || !a.run || optind >= argc || (!!a.veth != !!a.bridge) ||
        (a.veth && !a.net.has_v4)) {
        fprintf(stderr, "usage: start-floor --layer DIR --run DIR [--cgroup DIR]... "
                        "[--set FILE=VALUE]... [--veth NAME --bridge NAME --addr A/N "
                        "--gateway G] -- COMMAND [ARG]...\n");
        return 2;
    }
    a.argv = argv + optind;
    a.net.eth0 = a.veth != NULL;
    a.net.mtu = 1500;

    char p[4096];
    const char *subdirs[] = {"upper", "work", "root"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", a.run, subdirs[i]);
        if (mkdir(p, 0755) < 0)
            die(p);
    }
    a.v2_group_fd = -1;
    for (size_t i = 0; i < a.n_groups; i++) {
        struct statfs fs;
        if (mkdir(a.groups[i], 0755) < 0)
            die(a.groups[i]);
        if (statfs(a.groups[i], &fs) < 0)
            die(a.groups[i]);
        if (fs.f_type == CGROUP2_SUPER_MAGIC && a.v2_group_fd < 0) {
            a.v2_group_fd = open(a.groups[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (a.v2_group_fd < 0)
                die(a.groups[i]);
            continue;
        }
        snprintf(p, sizeof p, "%s/tasks", a.groups[i]);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            die(p);
        a.join_fds[a.n_join++] = fd;
    }
    for (size_t i = 0; i < a.n_sets; i++) {
        char *eq = strchr(a.sets[i], '=');
        if (!eq)
            return 2;
        *eq = 0;
        errno = -write_file(a.sets[i], eq + 1);
        if (errno)
            die(a.sets[i]);
    }
    uint32_t bridge_index = 0;
    if (a.bridge && !(bridge_index = if_nametoindex(a.bridge)))
        die(a.bridge);

    if (pipe2(a.go, O_CLOEXEC) < 0 || pipe2(a.done, O_CLOEXEC) < 0)
        die("pipe");
    /* Born in the v2 group when there is one (no migration at all), as sandboxd's init is. */
    struct clone_args ca = {
        .flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                 (a.v2_group_fd >= 0 ? CLONE_INTO_CGROUP : 0),
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t) (a.v2_group_fd >= 0 ? a.v2_group_fd : 0),
    };
    pid_t pid = (pid_t) syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0)
        die("clone3");
    if (pid == 0)
        _exit(child());
    close(a.go[0]);
    close(a.done[1]);
    if (a.veth) {
        snprintf(p, sizeof p, "/proc/%d/ns/net", pid);
        int ns = open(p, O_RDONLY | O_CLOEXEC);
        Rtnl *nl = NULL;
        int r;
        if (ns < 0)
            die(p);
        if ((r = rtnl_open(&nl)) < 0 ||
            (r = rtnl_veth_create(nl, a.veth, "eth0", ns, bridge_index, 1500)) < 0) {
            errno = -r;
            die("veth");
        }
        rtnl_close(nl);
        close(ns);
    }
    if (write(a.go[1], "g", 1) != 1)
        die("go");
    /* EOF once the exec closed the child's copy (O_CLOEXEC); text if a step failed. */
    char msg[512];
    ssize_t n = read(a.done[0], msg, sizeof msg - 1);
    if (n > 0) {
        msg[n] = 0;
        fprintf(stderr, "start-floor: %s\n", msg);
        (void) waitpid(pid, NULL, 0);
        return 1;
    }
    printf("%d\n", pid);
    return 0;
}
