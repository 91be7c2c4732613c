/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The start of a sandbox, in named steps that read top to bottom:
 *
 *   prepare runtime (with the network lease) -> cgroup -> plan -> handover fds -> spawn ->
 *   network link -> record -> watch -> release
 *
 * One StartContext owns every descriptor and path the steps make, and goes with one cleanup.
 * A step that fails records why (start_error, for the caller and status) and returns a
 * negative errno; sandbox_start_process() then undoes exactly what was made: the init is
 * killed if it exists, the cgroup and the runtime directory are removed. */

#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init-protocol.h"
#include "log.h"
#include "manager.h"
#include "network.h"
#include "parse-util.h"
#include "path-util.h"
#include "plan.h"
#include "rm-rf.h"
#include "sandbox-internal.h"
#include "sandbox.h"
#include "spawn.h"
#include "strv.h"
#include "time-util.h"
#include "userns.h"

#define MAX_CGROUP_FDS CG_HIERARCHIES_MAX
/* sandboxd raises its own soft fd limit to the hard one; a sandbox starts from the usual 1024,
 * as systemd gives its services (select() breaks above FD_SETSIZE) */
#define SANDBOX_NOFILE_SOFT 1024

typedef struct StartContext {
    Sandbox *s;
    char *root, *init_dir, *state, *upper, *work, *stage, *exit_path, *cpus;
    char hostname_buf[65];
    const char *hostname;
    CgIoLimit *io;
    size_t n_io;
    SandboxPlan *plan;
    int cg_fds[MAX_CGROUP_FDS];
    size_t n_cg_fds;
    int cg_dir_fd;
    int cg_dir_index; /* cg_fds' entry of cg_dir_fd's hierarchy */
    int fds[_INIT_FD_MAX]; /* what the init gets, by number (init-protocol.h) */
    int sync_fd;           /* our end of the sync socket */
    PlanNetwork net;       /* eth0 for the init to address */
} StartContext;

static void start_context_done(StartContext *c) {
    free(c->root);
    free(c->init_dir);
    free(c->state);
    free(c->upper);
    free(c->work);
    free(c->stage);
    free(c->exit_path);
    free(c->cpus);
    free(c->io);
    plan_free(c->plan);
    for (size_t i = 0; i < c->n_cg_fds; i++)
        safe_close(c->cg_fds[i]);
    safe_close(c->cg_dir_fd);
    for (int i = 0; i < _INIT_FD_MAX; i++)
        if (i != INIT_FD_STDERR) /* the same descriptor as INIT_FD_LOG */
            safe_close(c->fds[i]);
    safe_close(c->sync_fd);
}

/* Records "what: strerror(-r)" as the start error and returns r, so errno is read once, right
 * after the call that failed, and never after other calls have run. */
_printf_(3, 4) static int start_fail(Sandbox *s, int r, const char *fmt, ...) {
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    sandbox_set_start_error(s, "%s: %s", what, strerror(-r));
    return r;
}

static int step_prepare_runtime(StartContext *c) {
    Sandbox *s = c->s;
    Manager *m = s->manager;
    const UnitConfig *u = s->config;
    int r = sandbox_preflight(s);
    if (r < 0)
        return r;
    s->userns_base = 0;
    if ((u->namespaces & NS_USER) && (r = sandbox_pick_userns_base(s)) < 0)
        return r;
    /* addresses and ports first: the init layer's /etc/hosts names the sandbox's address */
    if ((r = network_sandbox_prepare(m->network, s, &c->net)) < 0)
        return r;

    c->root = path_join(s->runtime_dir, "root");
    c->init_dir = path_join(s->runtime_dir, "init");
    c->exit_path = path_join(s->runtime_dir, "exit");
    if (asprintf(&c->state, "%s/sandboxes/%s", m->config.state_dir, s->name) < 0)
        c->state = NULL;
    if (!c->root || !c->init_dir || !c->exit_path || !c->state)
        return start_fail(s, -ENOMEM, "preparing the runtime directory");
    c->hostname = sandbox_effective_hostname(s, c->hostname_buf);

    /* mount point and init layer, made anew at every start */
    (void) rm_rf(s->runtime_dir);
    if ((r = mkdir_p(c->root, 0700)) < 0)
        return start_fail(s, r, "creating %s", c->root);
    if (sandbox_wants_notify(s) && (r = sandbox_notify_open(s)) < 0)
        return start_fail(s, r, "creating the notify socket in %s", s->runtime_dir);
    bool no_resolvers = false;
    if ((r = sandbox_write_init_layer(s, c->init_dir, c->hostname, &c->net, &no_resolvers)) < 0)
        return start_fail(s, r, "writing the init layer in %s", c->init_dir);
    if (no_resolvers && u->network != NETWORK_NONE)
        sandbox_log_event(s, "No name server for /etc/resolv.conf: the host has only loopback "
                             "resolvers and no /run/systemd/resolve/resolv.conf; set DNS=.");
    if ((u->layers || u->image) && !u->read_only) {
        /* the rw layer survives restarts; the state root stays private (CVE-2021-41091) */
        c->upper = path_join(c->state, "upper");
        c->work = path_join(c->state, "work");
        if (!c->upper || !c->work)
            return start_fail(s, -ENOMEM, "preparing the rw layer");
        (void) mkdir_p(m->config.state_dir, 0700);
        if ((r = mkdir_p(c->upper, 0755)) < 0 || (r = mkdir_p(c->work, 0700)) < 0)
            return start_fail(s, r, "creating the rw layer in %s", c->state);
        /* the root directory of the sandbox is the rw layer's: its root must own it */
        uid_t owner = s->userns_base;
        if (lchown(c->upper, owner, owner) < 0)
            return start_fail(s, -errno, "handing %s to host id %u", c->upper, (unsigned) owner);
    }
    if (s->userns_base) {
        c->stage = path_join(s->runtime_dir, "stage");
        if (!c->stage)
            return start_fail(s, -ENOMEM, "preparing the layer stage");
        if ((r = mkdir_p(c->stage, 0700)) < 0)
            return start_fail(s, r, "creating the layer stage in %s", s->runtime_dir);
    }
    return 0;
}

static int step_cgroup(StartContext *c) {
    Sandbox *s = c->s;
    Manager *m = s->manager;
    const UnitConfig *u = s->config;
    int r;
    if (u->allowed_cpus_set && !(c->cpus = cpu_set_to_string(&u->allowed_cpus)))
        return start_fail(s, -ENOMEM, "AllowedCPUs=");
    if (u->cpus && !u->allowed_cpus_set && (r = sandbox_pick_cpus(s, u->cpus, &c->cpus)) < 0)
        return start_fail(s, r, "CPUs=%u: picking CPUs", u->cpus);
    if ((r = sandbox_resolve_io_limits(s, &c->io, &c->n_io)) < 0)
        return r;
    /* a previous instance's group that could not be removed yet: never share it */
    if (s->cgroup && (r = sandbox_release_cgroup(s)) < 0)
        return start_fail(s, r, "removing the previous instance's cgroup %s",
                          cg_display_path(s->cgroup));
    CgLimits limits = {
        .cpu_quota_permyriad = u->cpu_quota_permyriad,
        .cpu_period_usec = CPU_QUOTA_PERIOD_USEC,
        .cpu_weight = u->cpu_weight,
        .cpus = c->cpus,
        .memory_max = u->memory_max,
        .memory_high = u->memory_high,
        .memory_swap_max = u->memory_swap_max,
        .tasks_max = u->tasks_max,
        .io = c->io,
        .n_io = c->n_io,
    };
    unsigned ignored = 0;
    r = cg_create(m->config.slice, s->name, &limits, &s->cgroup, &ignored);
    if (r == -EOPNOTSUPP && cg_missing_controller(&limits)) {
        sandbox_set_start_error(s, "creating cgroup %s/%s: [Resources] needs the %s controller, "
                                   "which is not available to sandboxd on this host",
                                m->config.slice, s->name, cg_missing_controller(&limits));
        return r;
    }
    if (r < 0)
        return start_fail(s, r, "creating cgroup %s/%s", m->config.slice, s->name);
    /* as systemd: a limit the hierarchy cannot express is reported, and the unit runs */
    if (ignored & CG_IGNORED_MEMORY_HIGH)
        sandbox_log_event(s, "MemoryHigh= needs cgroup v2; not applied on this host");
    if (ignored & CG_IGNORED_SWAP)
        sandbox_log_event(s, "MemorySwapMax= on cgroup v1 needs swap accounting and "
                             "MemoryMax=; not applied");
    r = cg_open_procs_fds(s->cgroup, c->cg_fds, MAX_CGROUP_FDS);
    if (r < 0)
        return start_fail(s, r, "opening cgroup.procs of %s", cg_display_path(s->cgroup));
    c->n_cg_fds = (size_t) r;
    /* -EOPNOTSUPP on pure v1: the child joins by writing */
    c->cg_dir_fd = cg_open_dir(s->cgroup, &c->cg_dir_index);
    return 0;
}

static int step_plan(StartContext *c) {
    Sandbox *s = c->s;
    int r = sandbox_build_plan(s, c->root, c->init_dir, c->upper, c->work, c->hostname,
                               &c->plan);
    if (r >= 0) {
        c->plan->net = c->net;
        r = plan_to_memfd(c->plan);
    }
    if (r < 0)
        return start_fail(s, r, "writing the sandbox plan");
    c->fds[INIT_FD_PLAN] = r;
    return 0;
}

static int step_handover_fds(StartContext *c) {
    Sandbox *s = c->s;
    int r, pair[2];

    c->fds[INIT_FD_STDIN] = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (c->fds[INIT_FD_STDIN] < 0)
        return start_fail(s, -errno, "opening /dev/null");
    r = sandbox_log_pipe(s, &c->fds[INIT_FD_LOG], &c->fds[INIT_FD_LOG_READ]);
    if (r < 0)
        return start_fail(s, r, "creating the log pipe");
    c->fds[INIT_FD_STDERR] = c->fds[INIT_FD_LOG];
    c->fds[INIT_FD_EXIT] = open(c->exit_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
                                                  O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c->fds[INIT_FD_EXIT] < 0)
        return start_fail(s, -errno, "creating %s", c->exit_path);
    if (s->userns_base &&
        (r = userns_create(s->userns_base, USERNS_SIZE, &c->fds[INIT_FD_USERNS])) < 0)
        return start_fail(s, r, "creating the user namespace for host ids %u-%u",
                          s->userns_base, s->userns_base + USERNS_SIZE - 1);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
        return start_fail(s, -errno, "creating the sync socket");
    c->sync_fd = pair[0];
    c->fds[INIT_FD_SYNC] = pair[1];
    if (setsockopt(c->sync_fd, SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)) < 0)
        return start_fail(s, -errno, "setting up the sync socket");
    return 0;
}

static int step_spawn(StartContext *c) {
    Sandbox *s = c->s;
    const UnitConfig *u = s->config;
    SpawnParams sp = {
        .clone_flags = sandbox_clone_flags(u->namespaces),
        .cgroup_ns = u->namespaces & NS_CGROUP,
        .cgroup_dir_fd = c->cg_dir_fd,
        .cgroup_fds = c->cg_fds,
        .n_cgroup_fds = c->n_cg_fds,
        .cgroup_dir_index = c->cg_dir_fd >= 0 ? c->cg_dir_index : -1,
        .nofile_soft = SANDBOX_NOFILE_SOFT,
        .init_path = s->manager->config.init_path,
    };
    memcpy(sp.fds, c->fds, sizeof sp.fds);
    SpawnError se = {0};
    int r = spawn_init(&sp, &s->init_pid, &s->init_pidfd, &se);
    if (r < 0)
        return start_fail(s, r, "spawning the sandbox (step %s)", se.step);
    log_debug("%s: init %d %s %s%s", s->name, (int) s->init_pid,
              r > 0 ? "born in its cgroup by clone3(CLONE_INTO_CGROUP):" : "joined its cgroup",
              cg_display_path(s->cgroup),
              r > 0 && c->n_cg_fds > 1 ? " (the unified hierarchy; joined the v1 ones)" : "");
    /* the init has its copies; ours of its end must go, or we never see it hang up */
    c->fds[INIT_FD_SYNC] = safe_close(c->fds[INIT_FD_SYNC]);
    s->sync_fd = TAKE_FD(c->sync_fd);
    return 0;
}

/* Between the clone and "go": the veth's peer is made straight inside the init's network
 * namespace, where the init addresses it once released. */
static int step_network_link(StartContext *c) {
    Sandbox *s = c->s;
    if (!s->net.attached)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int) s->init_pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return start_fail(s, -errno, "opening the network namespace of the init (%s)", path);
    return network_sandbox_attach(s->manager->network, s, fd);
}

/* Before the init is released: a sandboxd killed from here on leaves a state file, so the next
 * one adopts the sandbox (or cleans up after it) instead of letting it run unseen. Without it,
 * the init would only wait for "go" and leave when our end of the socket closes. */
static int step_record(StartContext *c) {
    int r = sandbox_save(c->s);
    if (r < 0)
        return start_fail(c->s, r, "recording the sandbox's state in %s", c->s->runtime_dir);
    return 0;
}

static int step_watch(StartContext *c) {
    Sandbox *s = c->s;
    Manager *m = s->manager;
    const UnitConfig *u = s->config;
    /* the init's exit reaches us through the manager's SIGCHLD handler */
    int r = sd_event_add_io(m->event, &s->sync_source, s->sync_fd, EPOLLIN, sandbox_on_sync, s);
    if (r >= 0)
        /* messages before the exit: READY/EXIT must be read before the child is handled */
        r = sd_event_source_set_priority(s->sync_source, SD_EVENT_PRIORITY_IMPORTANT);
    if (r >= 0 && u->timeout_start_usec != USEC_INFINITY)
        r = sd_event_add_time_relative(m->event, &s->timer_source, CLOCK_MONOTONIC,
                                       u->timeout_start_usec, TIMER_ACCURACY_USEC, sandbox_on_start_timeout, s);
    if (r < 0)
        return start_fail(s, r, "watching the sandbox");
    return 0;
}

static int step_release(StartContext *c) {
    SyncMsg go = {.type = SYNC_GO};
    if (send(c->s->sync_fd, &go, sizeof go, MSG_NOSIGNAL) != (ssize_t) sizeof go)
        return start_fail(c->s, -errno, "releasing the sandbox's init");
    return 0;
}

int sandbox_start_process(Sandbox *s) {
    _cleanup_(start_context_done) StartContext c = {
        .s = s,
        .cg_dir_fd = -EBADF,
        .cg_dir_index = -1,
        .sync_fd = -EBADF,
    };
    for (int i = 0; i < _INIT_FD_MAX; i++)
        c.fds[i] = -EBADF;
    int r;

    static const struct {
        const char *name;
        int (*run)(StartContext *c);
    } steps[] = {
        {"prepare_runtime", step_prepare_runtime},
        {"cgroup", step_cgroup},
        {"plan", step_plan},
        {"handover_fds", step_handover_fds},
        {"spawn", step_spawn},
        {"network_link", step_network_link},
        {"record", step_record},
        {"watch", step_watch},
        {"release", step_release},
    };
    /* what each step took, for --debug: where a start's time goes (bench/ finds how much) */
    char timing[256];
    size_t used = 0;
    uint64_t t = now_usec(CLOCK_MONOTONIC);

    r = 0;
    for (size_t i = 0; i < ELEMENTSOF(steps) && r >= 0; i++) {
        r = steps[i].run(&c);
        uint64_t t2 = now_usec(CLOCK_MONOTONIC);
        int k = snprintf(timing + used, sizeof timing - used, " %s %" PRIu64, steps[i].name,
                         t2 - t);
        if (k > 0 && (size_t) k < sizeof timing - used)
            used += (size_t) k;
        t = t2;
    }
    s->released_usec = t;
    log_debug("%s: start steps (µs):%s", s->name, timing);
    if (r < 0) {
        if (s->init_pidfd >= 0) {
            /* the init still waits for "go": it holds nothing but its namespaces */
            (void) syscall(SYS_pidfd_send_signal, s->init_pidfd, SIGKILL, NULL, 0);
            (void) waitid(P_PIDFD, (id_t) s->init_pidfd, &(siginfo_t){0}, WEXITED);
            s->init_pid = 0;
        }
        sandbox_release_runtime(s);
        return r;
    }
    return 0;
}
