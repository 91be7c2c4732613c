/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxd-init: PID 1 of a sandbox.
 *
 * Exec'd by sandboxd inside the new namespaces and cgroup, with the sync socket on fd 3 and the
 * plan (a sealed memfd) on fd 4. It waits for "go" (the daemon's side is ready), builds the
 * root file system, forks and execs the payload, then stays as a tiny init: it reaps zombies,
 * forwards termination signals to the payload, and exits with the payload's status after
 * telling the daemon how the payload ended.
 *
 * Every failure before the payload runs is sent to the daemon as {step, errno, detail}; this is
 * the one place where dying on error is right: the daemon undoes the rest. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "keyring.h"
#include "macro.h"
#include "netdev.h"
#include "passwd.h"
#include "plan.h"
#include "rootfs.h"
#include "seccomp-apply.h"
#include "spawn.h"
#include "strv.h"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

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
    (void) sendmsg(SPAWN_SYNC_FD, &mh, MSG_NOSIGNAL);
}

_printf_(3, 4) _noreturn_ static void die(const char *step, int error, const char *fmt, ...) {
    SyncMsg m = {.type = SYNC_ERROR, .error = error < 0 ? -error : error};
    va_list ap;
    snprintf(m.step, sizeof m.step, "%s", step);
    va_start(ap, fmt);
    vsnprintf(m.detail, sizeof m.detail, fmt, ap);
    va_end(ap);
    send_msg(&m, 0);
    _exit(EXIT_FAILURE);
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

static void resolve_identity(const SandboxPlan *p, Identity *id) {
    *id = (Identity){0};
    if (!p->user && !p->group)
        return;
    _cleanup_fclose_ FILE *pw = fopen("/etc/passwd", "re");
    _cleanup_fclose_ FILE *gr = fopen("/etc/group", "re");
    if (p->user) {
        UserRecord u;
        int r = passwd_find_user(pw, p->user, &u);
        if (r < 0)
            die("user", r, "User=%s: %s", p->user,
                r == -ESRCH ? "no such user in the sandbox's /etc/passwd" : strerror(-r));
        id->uid = u.uid;
        id->gid = u.gid;
        id->home = u.home;
        r = passwd_member_groups(gr, p->user, &id->groups, &id->n_groups);
        if (r < 0)
            die("user", r, "reading the sandbox's /etc/group");
    }
    if (p->group) {
        int r = passwd_find_group(gr, p->group, &id->gid);
        if (r < 0)
            die("user", r, "Group=%s: %s", p->group,
                r == -ESRCH ? "no such group in the sandbox's /etc/group" : strerror(-r));
    }
}

/* In the payload's child, before exec: enter the user namespace, drop to the identity, enter
 * the directory. */
static int become_payload(const SandboxPlan *p, int userns_fd, const Identity *id,
                          const char **step) {
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
        n = recv(SPAWN_SYNC_FD, &m, sizeof m, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t) sizeof m || m.type != SYNC_GO)
        return -EPIPE; /* the daemon went away: leave quietly */
    return 0;
}

int main(void) {
    SandboxPlan *plan = NULL;
    Identity id;
    sigset_t mask;
    int r;

    /* The payload must not ptrace us or open /proc/1/exe and mem (runc CVE-2019-5736). */
    (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
        sigaddset(&mask, forwarded[i]);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    /* fd 5 stays open (not inherited by the payload) to record how the payload ended */
    (void) fcntl(SPAWN_EXIT_FD, F_SETFD, FD_CLOEXEC);
    r = plan_from_fd(SPAWN_PLAN_FD, &plan);
    if (r < 0)
        die("plan", r, "reading the sandbox plan");
    safe_close(SPAWN_PLAN_FD);
    if (wait_for_go() < 0)
        _exit(EXIT_FAILURE);

    /* made by the daemon, where /proc matches its pid namespace; the payload enters it */
    int userns_fd = plan->userns_base ? SPAWN_USERNS_FD : -EBADF;
    if (userns_fd >= 0 && fcntl(userns_fd, F_SETFD, FD_CLOEXEC) < 0)
        die("userns", -errno, "no user namespace on fd %d", SPAWN_USERNS_FD);
    StepError e = {0};
    r = rootfs_setup(plan, userns_fd, &e);
    if (r >= 0)
        r = rootfs_set_hostname(plan, &e);
    if (r < 0)
        die(e.step, r, "%s", e.detail);
    if (plan->net_ns && (r = netdev_loopback_up()) < 0)
        die("network", r, "bringing the loopback device up");
    resolve_identity(plan, &id);
    char **env = payload_env(plan, &id);
    if (!env)
        die("environment", -ENOMEM, "building the environment");

    if (!plan->pid_ns)
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    int exec_pipe[2];
    if (pipe2(exec_pipe, O_CLOEXEC) < 0)
        die("exec", -errno, "creating a pipe");
    pid_t payload = fork();
    if (payload < 0)
        die("fork", -errno, "forking the payload");
    if (payload == 0) {
        const char *step = "exec";
        safe_close(exec_pipe[0]);
        safe_close(SPAWN_SYNC_FD);
        safe_close(SPAWN_EXIT_FD);
        r = become_payload(plan, userns_fd, &id, &step);
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
        else
            snprintf(m.detail, sizeof m.detail, "switching to uid %u gid %u", id.uid, id.gid);
        (void) write(exec_pipe[1], &m, sizeof m);
        _exit(127);
    }
    safe_close(exec_pipe[1]);

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
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t) sizeof si) {
            if (errno == EINTR)
                continue;
            _exit(EXIT_FAILURE);
        }
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
            m = (SyncMsg){.type = SYNC_EXIT, .code = info.si_code, .status = info.si_status};
            /* the file first: it outlives a daemon restart, the socket does not */
            (void) write(SPAWN_EXIT_FD, &m, sizeof m);
            send_msg(&m, 0);
            _exit(info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status);
        }
    }
}
