/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxd-init: PID 1 of a sandbox.
 *
 * Exec'd by sandboxd inside the new namespaces and cgroup, with the descriptors of
 * init-protocol.h. It waits for "go" (the daemon's side is ready), builds the root file system,
 * forks and execs the payload, then stays as a tiny init: it reaps zombies, forwards
 * termination signals to the payload, relays the payload's output into the unit's log (the
 * payload only ever holds a pipe, never the host file), and exits with the payload's status
 * after telling the daemon how the payload ended.
 *
 * Every failure before the payload runs is sent to the daemon as {step, errno, detail}; this is
 * the one place where dying on error is right: the daemon undoes the rest. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/openat2.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "init-protocol.h"
#include "keyring.h"
#include "macro.h"
#include "netdev.h"
#include "passwd.h"
#include "plan.h"
#include "rootfs.h"
#include "seccomp-apply.h"
#include "spawn.h"
#include "sysinfo-view.h"
#include "strv.h"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
/* --probe: a health probe's runner, whose failures go to its output, not to a sync socket */
static bool probe_mode = false;

static void send_msg(const SyncMsg *m, pid_t cred_pid) {
    struct iovec iov = {(void *) m, sizeof *m};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } control = {};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (cred_pid > 0) {
        /* the kernel translates the pid into the daemon's pid namespace */
        struct ucred cred = {.pid = cred_pid, .uid = getuid(), .gid = getgid()};
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof cred);
        memcpy(CMSG_DATA(c), &cred, sizeof cred);
    }
    (void) sendmsg(INIT_FD_SYNC, &mh, MSG_NOSIGNAL);
}

_printf_(4, 0) _noreturn_ static void die_full(const char *step, int error, bool complete,
                                               const char *fmt, va_list ap_in) {
    SyncMsg m = {.type = SYNC_ERROR, .error = error < 0 ? -error : error,
                 .code = complete ? SYNC_ERROR_DETAIL_COMPLETE : 0};
    va_list ap;
    snprintf(m.step, sizeof m.step, "%s", step);
    va_copy(ap, ap_in);
    vsnprintf(m.detail, sizeof m.detail, fmt, ap);
    va_end(ap);
    if (probe_mode) {
        dprintf(STDERR_FILENO, "probe: %s (step %s)%s%s\n", m.detail, m.step,
                complete ? "" : ": ", complete ? "" : strerror(m.error));
        _exit(PROBE_EXIT_SETUP);
    }
    send_msg(&m, 0);
    _exit(EXIT_FAILURE);
}

/* The step failed: "detail (step S): strerror(error)" */
_printf_(3, 4) _noreturn_ static void die(const char *step, int error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    die_full(step, error, false, fmt, ap);
}

/* The same, where the detail says all (no errno text after a lookup that found nothing). */
_printf_(3, 4) _noreturn_ static void die_said(const char *step, int error, const char *fmt,
                                               ...) {
    va_list ap;
    va_start(ap, fmt);
    die_full(step, error, true, fmt, ap);
}

/* execvpe() searches the PATH of our own environment, which is empty: search the payload's. */
static void exec_payload(char **argv, char **env) {
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    STRV_FOREACH(e, env)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    if (strchr(argv[0], '/')) {
        execve(argv[0], argv, env);
        return;
    }
    int saved = ENOENT;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        char buf[4096];
        if (n > 0 && (size_t) snprintf(buf, sizeof buf, "%.*s/%s", (int) n, p, argv[0]) <
                         sizeof buf) {
            execve(buf, argv, env);
            if (errno != ENOENT && errno != ENOTDIR)
                saved = errno; /* e.g. EACCES: report it rather than "not found" */
        }
        p += n + (p[n] == ':');
    }
    errno = saved;
}

typedef struct Identity {
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t n_groups;
    char *home;
} Identity;

static char *read_account_file(int rootfd, const char *path) {
    char *text = NULL;
    int r = passwd_read_file(rootfd, path, &text);
    if (r == -EBADFD || r == -EISDIR)
        die("user", r, "reading the sandbox's %s: not a regular file", path);
    if (r == -EFBIG)
        die("user", r, "reading the sandbox's %s: larger than %u MiB", path,
            PASSWD_FILE_MAX >> 20);
    if (r < 0)
        die("user", r, "reading the sandbox's %s", path);
    return text;
}

static void resolve_identity(const SandboxPlan *p, Identity *id) {
    *id = (Identity){0};
    if (!p->user && !p->group)
        return;
    /* we are in the sandbox's root: the image's files, read without following it out */
    _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        die("user", -errno, "opening the sandbox's root");
    _cleanup_free_ char *pw = p->user ? read_account_file(rootfd, "/etc/passwd") : NULL;
    _cleanup_free_ char *gr = read_account_file(rootfd, "/etc/group");
    if (p->user) {
        UserRecord u;
        int r = passwd_find_user(pw, p->user, &u);
        if (r == -ESRCH || r == -ERANGE)
            die_said("user", r, "User=%s: %s", p->user,
                     r == -ESRCH ? "no such user in the sandbox's /etc/passwd"
                                 : "its uid or gid in the sandbox's /etc/passwd is above "
                                   "2147483647, refused");
        if (r < 0)
            die("user", r, "User=%s: looking it up in the sandbox's /etc/passwd", p->user);
        id->uid = u.uid;
        id->gid = u.gid;
        id->home = u.home;
        r = passwd_member_groups(gr, p->user, &id->groups, &id->n_groups);
        if (r == -ERANGE)
            die_said("user", r, "User=%s: a group of the sandbox's /etc/group listing it has a "
                     "gid above 2147483647, refused", p->user);
        if (r < 0)
            die("user", r, "User=%s: reading the sandbox's /etc/group", p->user);
    }
    if (p->group) {
        int r = passwd_find_group(gr, p->group, &id->gid);
        if (r == -ESRCH || r == -ERANGE)
            die_said("user", r, "Group=%s: %s", p->group,
                     r == -ESRCH ? "no such group in the sandbox's /etc/group"
                                 : "its gid in the sandbox's /etc/group is above 2147483647, "
                                   "refused");
        if (r < 0)
            die("user", r, "Group=%s: looking it up in the sandbox's /etc/group", p->group);
    }
}

/* In the payload's child, before exec: enter the user namespace, drop to the identity, enter
 * the directory. */
/* The sysinfo(2) filter (ProcView=): its listener goes to the init over sock, which answers
 * from the proc view. Loaded before the unit's filter, which may not allow seccomp() or
 * sendmsg(). Best effort: without it sysinfo() shows the host. */
static void install_sysinfo_listener(int *sock, bool no_new_privs) {
    if (*sock < 0)
        return;
    if (no_new_privs)
        (void) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int fd = seccomp_sysinfo_listener();
    if (fd >= 0) {
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control = {};
        char byte = 'L';
        struct iovec iov = {&byte, 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                            .msg_controllen = sizeof control.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        (void) sendmsg(*sock, &mh, MSG_NOSIGNAL);
        close(fd);
    }
    *sock = safe_close(*sock);
}

static int become_payload(const SandboxPlan *p, int userns_fd, const Identity *id,
                          int sysinfo_sock, const char **step) {
    sigset_t all;
    sigemptyset(&all);
    for (int s = 1; s < _NSIG; s++)
        signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (setsid() < 0)
        return *step = "setsid", -errno;
    /* Only the payload enters the user namespace: every other namespace stays owned by the
     * host's, so even its root cannot mount, set the host name or change the network. */
    *step = "userns";
    if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0)
        return -errno;
    *step = "capabilities";
    int r = caps_limit_bounding_set(p->capability_bounding_set);
    if (r < 0)
        return r;
    /* keys are not namespaced: not the session keyring of whoever started sandboxd */
    *step = "keyring";
    if ((r = keyring_join_new_session()) < 0)
        return r;
    /* Loading a filter without no_new_privs needs CAP_SYS_ADMIN, which the switch from uid 0
     * to another uid drops: then it goes on now, else last before the exec (runc's order). */
    bool filter_last = p->no_new_privs || id->uid == 0;
    *step = "seccomp";
    if (!filter_last)
        install_sysinfo_listener(&sysinfo_sock, p->no_new_privs);
    if (!filter_last && (r = seccomp_apply_program(p->seccomp_bpf, p->seccomp_bpf_size,
                                                   p->no_new_privs)) < 0)
        return r;
    *step = "user";
    if (setgroups(id->n_groups, id->groups) < 0 || setresgid(id->gid, id->gid, id->gid) < 0 ||
        setresuid(id->uid, id->uid, id->uid) < 0)
        return -errno;
    *step = "working-directory";
    const char *dir = p->working_directory ? p->working_directory : id->home ? id->home : "/";
    if (chdir(dir) < 0) {
        if (p->working_directory)
            return -errno;
        if (chdir("/") < 0) /* a missing home is not fatal, as for login */
            return -errno;
    }
    *step = "seccomp";
    if (filter_last)
        install_sysinfo_listener(&sysinfo_sock, p->no_new_privs);
    if (filter_last &&
        (r = seccomp_apply_program(p->seccomp_bpf, p->seccomp_bpf_size, p->no_new_privs)) < 0)
        return r;
    *step = "exec";
    return 0;
}

static char **payload_env(const SandboxPlan *p, const Identity *id) {
    char **env = NULL;
    char buf[64];
    /* defaults first; the unit's Environment= wins */
    if (strv_extend(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") <
            0 ||
        strv_extend(&env, "container=sandboxd") < 0)
        return strv_free(env);
    snprintf(buf, sizeof buf, "HOME=%s", id->home ? id->home : "/");
    if (!id->home || strlen(id->home) < sizeof buf - 5)
        if (strv_extend(&env, buf) < 0)
            return strv_free(env);
    STRV_FOREACH(e, p->env) {
        size_t n = strcspn(*e, "=") + 1;
        for (char **o = env; *o; o++)
            if (strncmp(*o, *e, n) == 0) {
                char *c = strdup(*e);
                if (!c)
                    return strv_free(env);
                free(*o);
                *o = c;
                goto next;
            }
        if (strv_extend(&env, *e) < 0)
            return strv_free(env);
    next:;
    }
    return env;
}

static int wait_for_go(void) {
    SyncMsg m;
    ssize_t n;
    do
        n = recv(INIT_FD_SYNC, &m, sizeof m, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t) sizeof m || m.type != SYNC_GO)
        return -EPIPE; /* the daemon went away: leave quietly */
    return 0;
}

/* The payload's stdout and stderr, relayed line by line to the daemon as LogRecords on
 * INIT_FD_LOG (a pipe), which writes the unit's log file or the journal. Records are ours, so
 * nothing a payload prints can pass for one of sandboxd's own event lines; the bytes of a line
 * are kept as they are. The write blocks while the daemon does not read (a restart): the
 * payload's own pipe then fills and it waits, as a service's output waits for journald. */
typedef struct Relay {
    int fd; /* read end of the pipe; -EBADF once every writer is gone */
    LogStream stream;
    uint32_t pid;
    char ident[LOG_RECORD_IDENT_MAX];
    uint8_t ident_len;
    size_t len;
    char buf[LOG_RECORD_LINE_MAX];
} Relay;

static void relay_init(Relay *r, int fd, LogStream stream, const char *argv0, pid_t pid) {
    const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
    size_t n = 0;
    for (const char *c = base; *c && n < sizeof r->ident; c++)
        r->ident[n++] = (*c > ' ' && *c < 0x7f && *c != '[' && *c != ']') ? *c : '_';
    r->ident_len = (uint8_t) n;
    r->stream = stream;
    r->pid = (uint32_t) pid;
    r->fd = fd;
    r->len = 0;
}

static void relay_emit(const Relay *r, const char *line, size_t n) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    LogRecord h = {.usec = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000,
                   .pid = r->pid, .len = (uint16_t) n, .stream = (uint8_t) r->stream,
                   .ident_len = r->ident_len};
    struct iovec iov[] = {{&h, sizeof h}, {(void *) r->ident, r->ident_len}, {(void *) line, n}};
    /* one writev: a record is never split by another of ours (we are the pipe's only
     * writer, and signals are blocked, so a blocking write completes) */
    if (writev(INIT_FD_LOG, iov, ELEMENTSOF(iov)) < 0) {
        /* the daemon's reader is gone (it stopped reading a malformed stream): lines go */
    }
}

/* Reads what is there; returns false once the pipe is closed. */
static bool relay_read(Relay *r) {
    if (r->fd < 0)
        return false;
    ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0) {
        if (r->len > 0)
            relay_emit(r, r->buf, r->len);
        r->len = 0;
        r->fd = safe_close(r->fd);
        return false;
    }
    r->len += (size_t) n;
    char *start = r->buf, *end = r->buf + r->len, *nl;
    while ((nl = memchr(start, '\n', (size_t) (end - start)))) {
        relay_emit(r, start, (size_t) (nl - start));
        start = nl + 1;
    }
    r->len = (size_t) (end - start);
    memmove(r->buf, start, r->len);
    if (r->len == sizeof r->buf) { /* a line longer than the buffer is cut, not lost */
        relay_emit(r, r->buf, r->len);
        r->len = 0;
    }
    return true;
}

/* Everything still queued, then whatever was left without a newline. */
static void relay_drain(Relay *r) {
    if (r->fd < 0)
        return;
    (void) fcntl(r->fd, F_SETFL, O_NONBLOCK);
    while (relay_read(r) && r->fd >= 0) {
        struct pollfd p = {r->fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0)
            break;
    }
    if (r->len > 0)
        relay_emit(r, r->buf, r->len);
    r->len = 0;
}

/* In the payload's child: stdin is the sandbox's own /dev/null (never a host node), stdout and
 * stderr the relay pipes, and no other descriptor survives the exec. */
static int payload_stdio(int out_fd, int err_fd) {
    struct stat st;
    /* still root here, in a root the payload may have rewritten (its /dev is a tmpfs it can
     * write with CAP_DAC_OVERRIDE): no symlink, no FIFO to block on */
    struct open_how how = {.flags = O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int in = (int) syscall(SYS_openat2, AT_FDCWD, "/dev/null", &how, sizeof how);
    if (in >= 0 && (fstat(in, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)))
        in = safe_close(in); /* not a null device: the image's, or a trap */
    if (in < 0) {
        int p[2]; /* an empty pipe whose writer is gone reads as end of file, like /dev/null */
        if (pipe2(p, O_CLOEXEC) < 0)
            return -errno;
        safe_close(p[1]);
        in = p[0];
    }
    if (dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        return -errno;
    if (in > 2)
        safe_close(in);
    /* CLOEXEC rather than close: the exec-status pipe must stay open until the exec */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) /* 5.11 */
        for (int fd = 3; fd < 65536; fd++)
            (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

/* sandboxd-init --probe: a [Health] Exec= probe. The daemon's child has put us into the
 * sandbox's cgroup and namespaces (the root is the sandbox's), with a PID namespace of our own
 * for our children. The command runs as the payload does: its user namespace, identity,
 * capability bounding set, keyring, seccomp filter and environment; its output goes to ours
 * (a pipe the daemon reads). We exit with its status (128 + signal when killed). The daemon
 * kills us at TimeoutSec=; the command, PID 1 of its namespace, dies with us (PDEATHSIG), and
 * everything it started with it. */
/* The exit status that tells how pid ended: its own, or 128 + the signal that killed it. */
static int wait_status(pid_t pid) {
    for (;;) {
        int status;
        pid_t p = waitpid(pid, &status, 0);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            return PROBE_EXIT_SETUP;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
}

static int probe_main(const char *ns_flags) {
    SandboxPlan *plan = NULL;
    Identity id;
    char *end;
    probe_mode = true;
    (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    unsigned long flags = strtoul(ns_flags, &end, 16);
    if (*end || (flags & ~(unsigned long) (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                           CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP)))
        die("setns", -EINVAL, "namespace flags %s", ns_flags);
    /* the sandbox's namespaces, from its init's pidfd (all at once, 5.8); our descriptors
     * were opened on the host and stay what they are */
    if (flags && setns(PROBE_FD_NS, (int) flags) < 0)
        die("setns", -errno, "entering the sandbox's namespaces");
    safe_close(PROBE_FD_NS);
    int r = plan_from_fd(PROBE_FD_PLAN, &plan);
    if (r < 0)
        die("plan", r, "reading the probe's plan");
    safe_close(PROBE_FD_PLAN);
    int userns_fd = plan->userns_base ? PROBE_FD_USERNS : -EBADF;
    if (userns_fd >= 0 && fcntl(userns_fd, F_SETFD, FD_CLOEXEC) < 0)
        die("userns", -errno, "no user namespace on fd %d", PROBE_FD_USERNS);
    if (chdir("/") < 0)
        die("chdir", -errno, "entering the sandbox's root");
    resolve_identity(plan, &id);
    char **env = payload_env(plan, &id);
    if (!env)
        die("environment", -ENOMEM, "building the environment");
    /* A chain in which each process dies with its parent (PDEATHSIG), none of them changing
     * its credentials (which would clear that): we (the daemon's child, killed at TimeoutSec=)
     * -> a child born in the sandbox's PID namespace, which makes a namespace of its own below
     * it (only a process living in the sandbox's may: the kernel refuses a new one to whoever
     * merely entered it) -> that namespace's PID 1, a reaper that stays as it is -> the
     * command, which drops to the payload's identity (and may clear its own PDEATHSIG: it does
     * not matter). When the reaper goes, the kernel kills everything in its namespace: what
     * the command started cannot outlive the probe. None of us is dumpable; each sets its
     * saved uid to nobody, as the init does, so a root payload cannot prlimit() us. */
    if (setresgid(-1, -1, 65534) < 0 || setresuid(-1, -1, 65534) < 0)
        die("init", -errno, "setting the runner's saved ids");
    pid_t runner = fork();
    if (runner < 0)
        die("fork", -errno, "forking the probe");
    if (runner > 0)
        _exit(wait_status(runner));
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() == 1)
        _exit(PROBE_EXIT_SETUP);
    if (unshare(CLONE_NEWPID) < 0)
        die("pidns", -errno, "making the probe's PID namespace");
    pid_t reaper = fork();
    if (reaper < 0)
        die("fork", -errno, "forking the probe");
    if (reaper > 0)
        _exit(wait_status(reaper));
    /* PID 1 of the probe's namespace: its parent is outside it */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != 0)
        _exit(PROBE_EXIT_SETUP);
    pid_t child = fork();
    if (child < 0)
        die("fork", -errno, "forking the probe");
    if (child == 0) {
        const char *step = "stdio";
        r = payload_stdio(STDOUT_FILENO, STDERR_FILENO);
        if (r >= 0)
            r = become_payload(plan, userns_fd, &id, -EBADF, &step);
        if (r >= 0) {
            exec_payload(plan->argv, env);
            r = -errno;
            step = "exec";
        }
        dprintf(STDERR_FILENO, "probe: %s %s: %s\n", step, plan->argv[0], strerror(-r));
        _exit(PROBE_EXIT_SETUP);
    }
    /* the command's status; its children, orphaned to us meanwhile, go with the namespace */
    _exit(wait_status(child));
}

/* The listener the payload's child sends once it loaded the sysinfo filter; -EBADF if none. */
static int receive_fd(int sock) {
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    char byte;
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    int fd = -EBADF;
    if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
        return -EBADF;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* Up to size-1 bytes of a /proc file of the view, NUL-terminated; false on failure. */
static bool read_view_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, size - 1 - n);
        if (k <= 0) {
            close(fd);
            buf[n] = 0;
            return k == 0 && n > 0;
        }
        n += (size_t) k;
        if (n == size - 1) {
            close(fd);
            buf[n] = 0;
            return true;
        }
    }
}

/* Writes buf into the memory of the task waiting on req. Its mm is pinned first (an open
 * /proc/TID/mem), then the notification is checked still valid: the fd is then the caller's
 * memory, even if the pid is reused or a sibling thread execs (a setuid program) right after;
 * process_vm_writev() would look the pid up again. /proc/TID/mem writes even read-only pages
 * (FOLL_FORCE): the range must lie in writable mappings, else EFAULT as the kernel's call.
 * -ESRCH: the call is gone; -EFAULT: a bad pointer; other errors: the host refused (ptrace
 * rules, an LSM), and the kernel should answer. */
static int write_to_caller(int listener, struct seccomp_notif *req, uint64_t addr,
                           const void *buf, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%u/mem", req->pid);
    int mem = open(path, O_RDWR | O_CLOEXEC);
    if (mem < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    int r = -EFAULT;
    if (addr <= UINT64_MAX - size && addr + size <= (uint64_t) INT64_MAX) {
        snprintf(path, sizeof path, "/proc/%u/maps", req->pid);
        FILE *maps = fopen(path, "re");
        char line[512];
        uint64_t cur = addr;
        r = maps ? -EFAULT : -errno;
        while (maps && fgets(line, sizeof line, maps)) {
            int k = maps_writable_step(line, &cur, addr + size);
            if (k != 0) {
                r = k > 0 ? 0 : k;
                break;
            }
            if (!strchr(line, '\n')) /* a long path: skip the rest of the line */
                while (fgets(line, sizeof line, maps) && !strchr(line, '\n'))
                    ;
        }
        if (maps)
            fclose(maps);
    }
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
        r = -ESRCH;
    else if (r == 0 && pwrite(mem, buf, size, (off_t) addr) != (ssize_t) size)
        r = -EFAULT;
    close(mem);
    return r;
}

/* A payload's sysinfo(): the proc view's values, written into its buffer (in the 32-bit
 * layout for an i386 call); anything else, a view that does not answer now, or a write the
 * host refuses (Yama, an LSM) goes on to the kernel as it is. */
static void answer_sysinfo(int listener) {
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    memset(&req, 0, sizeof req);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
        return; /* the caller went away meanwhile */
    resp = (struct seccomp_notif_resp){.id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
    static char meminfo[16384], uptime[256], loadavg[256];
    struct sysinfo si;
    SysinfoCompat32 si32;
#ifdef __x86_64__
    bool compat = req.data.arch == AUDIT_ARCH_I386;
#else
    bool compat = false;
#endif
    if ((compat || req.data.nr == __NR_sysinfo) &&
        read_view_file("/proc/meminfo", meminfo, sizeof meminfo) &&
        read_view_file("/proc/uptime", uptime, sizeof uptime) &&
        read_view_file("/proc/loadavg", loadavg, sizeof loadavg) &&
        sysinfo_from_proc(meminfo, uptime, loadavg, &si) >= 0) {
        if (compat)
            sysinfo_to_compat32(&si, &si32);
        size_t size = compat ? sizeof si32 : sizeof si;
        uint64_t addr = compat ? (uint32_t) req.data.args[0] : req.data.args[0];
        int r = write_to_caller(listener, &req, addr, compat ? (void *) &si32 : (void *) &si,
                                size);
        if (r == -ESRCH)
            return; /* the call is gone */
        if (r == 0)
            resp = (struct seccomp_notif_resp){.id = req.id};
        else if (r == -EFAULT) /* a bad pointer: the kernel's answer too */
            resp = (struct seccomp_notif_resp){.id = req.id, .val = -1, .error = -EFAULT};
    }
    (void) ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* The view is lxcfs's: a hung lxcfs blocks the read of an answer until sandboxd's watch kills
 * it (seconds). A thread of its own waits then, not the loop that forwards signals and relays
 * the payload's output. It starts with a call pending, which its first poll() finds. */
static void *sysinfo_thread(void *arg) {
    int listener = (int) (intptr_t) arg;
    for (;;) {
        struct pollfd p = {listener, POLLIN, 0};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p.revents & POLLIN)
            answer_sysinfo(listener);
        else if (p.revents) /* every task of the filter is gone */
            break;
    }
    safe_close(listener);
    return NULL;
}

/* true: the thread owns the listener now */
static bool start_sysinfo_thread(int listener) {
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0)
        return false;
    (void) pthread_attr_setstacksize(&attr, 64 * 1024);
    (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    bool ok = pthread_create(&t, &attr, sysinfo_thread, (void *) (intptr_t) listener) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

int main(int argc, char **argv) {
    SandboxPlan *plan = NULL;
    Identity id;
    sigset_t mask;
    int r;

    if (argc == 3 && streq(argv[1], "--probe"))
        return probe_main(argv[2]);
    /* The payload must not ptrace us or open /proc/1/exe and mem (runc CVE-2019-5736). */
    (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
        sigaddset(&mask, forwarded[i]);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    /* a write over RLIMIT_FSIZE (which the payload can set for us) fails, never kills us */
    signal(SIGXFSZ, SIG_IGN);

    /* fd 5 stays open (not inherited by the payload) to record how the payload ended */
    (void) fcntl(INIT_FD_EXIT, F_SETFD, FD_CLOEXEC);
    r = plan_from_fd(INIT_FD_PLAN, &plan);
    if (r < 0)
        die("plan", r, "reading the sandbox plan");
    safe_close(INIT_FD_PLAN);
    if (wait_for_go() < 0)
        _exit(EXIT_FAILURE);

    /* made by the daemon, where /proc matches its pid namespace; the payload enters it */
    int userns_fd = plan->userns_base ? INIT_FD_USERNS : -EBADF;
    if (userns_fd >= 0 && fcntl(userns_fd, F_SETFD, FD_CLOEXEC) < 0)
        die("userns", -errno, "no user namespace on fd %d", INIT_FD_USERNS);
    /* glibc reads the time zone once, on first use: make that the host's /etc/localtime, so log
     * lines carry the daemon's local time and no file of the image is ever parsed here */
    (void) localtime_r(&(time_t){time(NULL)}, &(struct tm){0});
    /* the network first: it writes /proc/sys/net, read-only in the root made below (the
     * daemon made eth0 before "go") */
    const char *net_step = NULL;
    if (plan->net_ns && (r = netdev_configure(&plan->net, &net_step)) < 0)
        die(net_step, r, "configuring the sandbox's network");
    StepError e = {0};
    r = rootfs_setup(plan, userns_fd, &e);
    if (r >= 0)
        r = rootfs_set_hostname(plan, &e);
    if (r < 0)
        die(e.step, r, "%s", e.detail);
    resolve_identity(plan, &id);
    char **env = payload_env(plan, &id);
    if (!env)
        die("environment", -ENOMEM, "building the environment");

    if (!plan->pid_ns)
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    /* prlimit() and the like let a process with the same real, effective and saved ids as
     * ours (a root payload) set our limits, e.g. RLIMIT_FSIZE=0 to silence the log. A saved
     * id of nobody is enough to fail that check; euid 0 keeps every capability we use, and
     * the payload sets all three of its ids itself. */
    if (setresgid(-1, -1, 65534) < 0 || setresuid(-1, -1, 65534) < 0)
        die("init", -errno, "setting the init's saved ids");
    int exec_pipe[2], out_pipe[2], err_pipe[2], sysinfo_pair[2] = {-EBADF, -EBADF};
    if (pipe2(exec_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 ||
        pipe2(err_pipe, O_CLOEXEC) < 0)
        die("exec", -errno, "creating a pipe");
    /* the proc view answers sysinfo() too (free, uptime); best effort */
    if (plan->procview_dir &&
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sysinfo_pair) < 0)
        sysinfo_pair[0] = sysinfo_pair[1] = -EBADF;
    pid_t payload = fork();
    if (payload < 0)
        die("fork", -errno, "forking the payload");
    if (payload == 0) {
        const char *step = "stdio";
        safe_close(exec_pipe[0]);
        safe_close(out_pipe[0]);
        safe_close(err_pipe[0]);
        safe_close(sysinfo_pair[0]);
        safe_close(INIT_FD_SYNC);
        safe_close(INIT_FD_EXIT);
        safe_close(INIT_FD_LOG_READ);
        r = payload_stdio(out_pipe[1], err_pipe[1]);
        if (r >= 0)
            r = become_payload(plan, userns_fd, &id, sysinfo_pair[1], &step);
        if (r >= 0) {
            exec_payload(plan->argv, env);
            r = -errno;
        }
        SyncMsg m = {.type = SYNC_ERROR, .error = -r};
        snprintf(m.step, sizeof m.step, "%s", step);
        if (streq(step, "exec"))
            snprintf(m.detail, sizeof m.detail, "executing %s", plan->argv[0]);
        else if (streq(step, "seccomp"))
            snprintf(m.detail, sizeof m.detail, "loading the seccomp filter");
        else if (streq(step, "keyring"))
            snprintf(m.detail, sizeof m.detail, "joining a new session keyring");
        else if (streq(step, "working-directory"))
            snprintf(m.detail, sizeof m.detail, "WorkingDirectory=%s",
                     plan->working_directory ? plan->working_directory : "");
        else if (streq(step, "stdio"))
            snprintf(m.detail, sizeof m.detail, "setting up the payload's output");
        else
            snprintf(m.detail, sizeof m.detail, "switching to uid %u gid %u", id.uid, id.gid);
        /* a lost message still fails the start: the payload exits 127 before its exec */
        ssize_t w = write(exec_pipe[1], &m, sizeof m);
        (void) w;
        _exit(127);
    }
    safe_close(exec_pipe[1]);
    safe_close(out_pipe[1]);
    safe_close(err_pipe[1]);
    safe_close(sysinfo_pair[1]);
    int sysinfo_sock = sysinfo_pair[0], listener = -EBADF;
    Relay relay[2];
    relay_init(&relay[0], out_pipe[0], LOG_STREAM_STDOUT, plan->argv[0], payload);
    relay_init(&relay[1], err_pipe[0], LOG_STREAM_STDERR, plan->argv[0], payload);

    /* The pipe closes on the payload's successful exec; a message means it failed. */
    SyncMsg m;
    ssize_t n;
    do
        n = read(exec_pipe[0], &m, sizeof m);
    while (n < 0 && errno == EINTR);
    safe_close(exec_pipe[0]);
    if (n == (ssize_t) sizeof m) {
        (void) waitpid(payload, NULL, 0);
        send_msg(&m, 0);
        _exit(EXIT_FAILURE);
    }
    m = (SyncMsg){.type = SYNC_READY};
    send_msg(&m, payload);

    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0)
        _exit(EXIT_FAILURE);
    for (;;) {
        /* a closed relay's fd is negative: poll() skips it */
        struct pollfd pfd[5] = {{sfd, POLLIN, 0}, {relay[0].fd, POLLIN, 0},
                                {relay[1].fd, POLLIN, 0}, {sysinfo_sock, POLLIN, 0},
                                {listener, POLLIN, 0}};
        if (poll(pfd, 5, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(EXIT_FAILURE);
        }
        for (int i = 0; i < 2; i++)
            if (pfd[i + 1].revents)
                (void) relay_read(&relay[i]);
        if (pfd[3].revents) {
            listener = receive_fd(sysinfo_sock);
            sysinfo_sock = safe_close(sysinfo_sock);
        }
        /* on the first call: a payload that never calls sysinfo() pays no task for it (the
         * thread counts towards TasksMax=); without a thread the loop answers */
        if ((pfd[4].revents & POLLIN) && start_sysinfo_thread(listener))
            listener = -EBADF;
        else if (pfd[4].revents & POLLIN)
            answer_sysinfo(listener);
        else if (pfd[4].revents) /* every task of the filter is gone */
            listener = safe_close(listener);
        if (!pfd[0].revents)
            continue;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t) sizeof si)
            continue;
        if (si.ssi_signo != SIGCHLD) {
            (void) kill(payload, (int) si.ssi_signo);
            continue;
        }
        for (;;) {
            siginfo_t info = {0};
            if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
                break;
            if (info.si_pid != payload)
                continue; /* an orphan we adopted: reaped, nothing else to do */
            /* its last words first; what its children still write dies with the namespace */
            relay_drain(&relay[0]);
            relay_drain(&relay[1]);
            m = (SyncMsg){.type = SYNC_EXIT, .code = info.si_code, .status = info.si_status};
            /* the file first: it outlives a daemon restart, the socket does not */
            (void) setrlimit(RLIMIT_FSIZE, &(struct rlimit){RLIM_INFINITY, RLIM_INFINITY});
            if (write(INIT_FD_EXIT, &m, sizeof m) != (ssize_t) sizeof m) {
                /* the socket below still tells a sandboxd that runs */
            }
            send_msg(&m, 0);
            _exit(info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status);
        }
    }
}
