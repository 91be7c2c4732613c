/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a start needs before anything runs: checks of what the unit names on the host, the init
 * layer's files, the user namespace range, and the plan handed to sandboxd-init. */

#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blockdev.h"
#include "cgroup.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "path-util.h"
#include "plan.h"
#include "process-util.h"
#include "sandbox-internal.h"
#include "sandbox.h"
#include "seccomp-cache.h"
#include "strv.h"

static int write_text(const char *dir, const char *name, const char *text) {
    _cleanup_free_ char *p = path_join(dir, name);
    if (!p)
        return -ENOMEM;
    return write_file_atomic(p, text, strlen(text), 0644);
}

/* The host's resolv.conf without loopback name servers, which the sandbox cannot reach. */
static char *filtered_resolv_conf(void) {
    _cleanup_free_ char *text = NULL;
    char *out;
    size_t n = 0;
    if (read_file("/etc/resolv.conf", 64 * 1024, &text, NULL) < 0)
        return strdup("");
    /* + 2: a last line without its newline gets one */
    out = malloc(strlen(text) + 2);
    if (!out)
        return NULL;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        char *v = l + strspn(l, " \t");
        if (strncmp(v, "nameserver", 10) == 0) {
            v += 10 + strspn(v + 10, " \t");
            if (strncmp(v, "127.", 4) == 0 || strncmp(v, "::1", 3) == 0)
                continue;
        }
        n += (size_t) sprintf(out + n, "%s\n", l);
    }
    out[n] = 0;
    return out;
}

const char *sandbox_effective_hostname(const Sandbox *s, char buf[static 65]) {
    if (s->config->hostname)
        return s->config->hostname;
    /* like nspawn: the machine is called after the unit, "web.unit" -> "web" */
    size_t n = 0;
    for (const char *p = s->name; *p && *p != '.' && n < 64; p++)
        buf[n++] = (char) ((*p == '_' || *p == ':' || *p == '@') ? '-' : *p);
    buf[n] = 0;
    return n ? buf : "sandbox";
}

int sandbox_write_init_layer(const Sandbox *s, const char *init_dir, const char *hostname) {
    _cleanup_free_ char *etc = path_join(init_dir, "etc"), *hosts = NULL, *resolv = NULL,
                        *hn = NULL;
    if (!etc)
        return -ENOMEM;
    int r = mkdir_p(etc, 0755);
    if (r < 0)
        return r;
    if (asprintf(&hn, "%s\n", hostname) < 0 ||
        asprintf(&hosts,
                 "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "127.0.1.1\t%s\n",
                 hostname) < 0)
        return -ENOMEM;
    resolv = filtered_resolv_conf();
    if (!resolv)
        return -ENOMEM;
    (void) s;
    if ((r = write_text(etc, "hostname", hn)) < 0 || (r = write_text(etc, "hosts", hosts)) < 0 ||
        (r = write_text(etc, "resolv.conf", resolv)) < 0)
        return r;
    return 0;
}

unsigned long sandbox_clone_flags(unsigned ns) {
    unsigned long f = 0;
    f |= (ns & NS_PID) ? CLONE_NEWPID : 0;
    f |= (ns & NS_MOUNT) ? CLONE_NEWNS : 0;
    f |= (ns & NS_UTS) ? CLONE_NEWUTS : 0;
    f |= (ns & NS_IPC) ? CLONE_NEWIPC : 0;
    f |= (ns & NS_NET) ? CLONE_NEWNET : 0;
    /* NS_USER is not a clone flag here: the init builds the root as host root and only the
     * payload enters the user namespace (see sandboxd-init) */
    return f;
}

#define USERNS_BASE_MIN 0x80000U    /* above the ids a host hands out */
#define USERNS_BASE_MAX 0x6FFF0000U /* below what nspawn and others treat as reserved */

uint32_t sandbox_userns_base(const char *name) {
    /* FNV-1a: stable across restarts and machines, so the rw layer's owners stay right */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t) *p) * 0x100000001b3ULL;
    uint32_t slots = (USERNS_BASE_MAX - USERNS_BASE_MIN) / USERNS_SIZE;
    return USERNS_BASE_MIN + (uint32_t) (h % slots) * USERNS_SIZE;
}

/* Picks the unit's host id range; two running sandboxes never share one. */
int sandbox_pick_userns_base(Sandbox *s) {
    Manager *m = s->manager;
    uint32_t base = sandbox_userns_base(s->name);
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        Sandbox *o = m->sandboxes[i];
        if (o != s && o->userns_base == base && (sandbox_is_running(o) || o->adopted))
            return sandbox_set_start_error(s, "Namespaces=user: host ids %u-%u are used by %s, which is "
                                      "running; rename one of the units",
                                   base, base + USERNS_SIZE - 1, o->name),
                   -EADDRINUSE;
    }
    s->userns_base = base;
    return 0;
}

/* The unit's filter, from the manager's cache (a JSON profile is read and parsed here, at
 * every start, so an edited file takes effect). */
static int sandbox_resolve_seccomp(Sandbox *s) {
    const UnitConfig *c = s->config;
    SeccompError e = {};
    s->seccomp = seccomp_filter_unref(s->seccomp);
    int r = seccomp_cache_get(&s->manager->seccomp_cache, c->seccomp_profile,
                              c->capability_bounding_set, &s->seccomp, &e);
    if (r == -ENOMEM)
        return sandbox_set_start_error(s, "out of memory"), r;
    if (r < 0)
        return sandbox_set_start_error(s, "SeccompProfile=%s: %s",
                                       c->seccomp_profile ? c->seccomp_profile : "default",
                                       e.detail[0] ? e.detail : strerror(-r)),
               r;
    return 0;
}

/* Records "KEY=value: why" and returns r; errno is read by the caller right after the failed
 * call, never after other calls ran. */
static int preflight_fail(Sandbox *s, int r, const char *what, const char *why) {
    sandbox_set_start_error(s, "%s: %s", what, why ? why : strerror(-r));
    return r;
}

/* Checks what the unit names on the host, before anything is created. */
int sandbox_preflight(Sandbox *s) {
    const UnitConfig *c = s->config;
    _cleanup_free_ char *what = NULL;
    struct stat st;
    STRV_FOREACH(l, c->layers) {
        free(what);
        if (asprintf(&what, "Layers=%s", *l) < 0)
            return -ENOMEM;
        if (stat(*l, &st) < 0)
            return preflight_fail(s, -errno, what, NULL);
        if (!S_ISDIR(st.st_mode))
            return preflight_fail(s, -ENOTDIR, what, "not a directory");
        if (strpbrk(*l, ":,\\"))
            return preflight_fail(s, -EINVAL, what,
                                  "overlayfs cannot take ':', ',' or '\\' in a layer path");
    }
    if (c->root_directory) {
        free(what);
        if (asprintf(&what, "RootDirectory=%s", c->root_directory) < 0)
            return -ENOMEM;
        if (stat(c->root_directory, &st) < 0)
            return preflight_fail(s, -errno, what, NULL);
        if (!S_ISDIR(st.st_mode))
            return preflight_fail(s, -ENOTDIR, what, "not a directory");
    }
    for (size_t i = 0; i < c->n_volumes; i++) {
        free(what);
        if (asprintf(&what, "Volume=%s:%s", c->volumes[i].source, c->volumes[i].target) < 0)
            return -ENOMEM;
        if (stat(c->volumes[i].source, &st) < 0)
            return preflight_fail(s, -errno, what, NULL);
    }
    if (access(s->manager->config.init_path, X_OK) < 0) {
        int r = -errno;
        sandbox_set_start_error(s, "cannot execute %s: %s", s->manager->config.init_path,
                                strerror(-r));
        return r;
    }
    return sandbox_resolve_seccomp(s);
}

int sandbox_build_plan(Sandbox *s, const char *root, const char *init_dir, const char *upper,
                      const char *work, const char *hostname, SandboxPlan **ret) {
    const UnitConfig *c = s->config;
    SandboxPlan *p = calloc(1, sizeof(SandboxPlan));
    if (!p)
        return -ENOMEM;
    p->root_mount = strdup(root);
    p->init_layer = strdup(init_dir);
    p->lowers = strv_copy(c->layers);
    p->root_directory = c->root_directory ? strdup(c->root_directory) : NULL;
    p->upper = upper ? strdup(upper) : NULL;
    p->work = work ? strdup(work) : NULL;
    p->read_only = c->read_only;
    p->hostname = (c->namespaces & NS_UTS) ? strdup(hostname) : NULL;
    p->argv = strv_copy(c->exec_start);
    p->env = strv_copy(c->environment);
    p->working_directory = c->working_directory ? strdup(c->working_directory) : NULL;
    p->user = c->user ? strdup(c->user) : NULL;
    p->group = c->group ? strdup(c->group) : NULL;
    p->pid_ns = c->namespaces & NS_PID;
    p->net_ns = c->namespaces & NS_NET;
    p->capability_bounding_set = c->capability_bounding_set;
    p->no_new_privs = c->no_new_privileges;
    if (s->seccomp) {
        if (!(p->seccomp_bpf = malloc(s->seccomp->size))) {
            plan_free(p);
            return -ENOMEM;
        }
        memcpy(p->seccomp_bpf, s->seccomp->bpf, s->seccomp->size);
        p->seccomp_bpf_size = s->seccomp->size;
    }
    p->userns_base = s->userns_base;
    if (s->userns_base && !(p->stage_dir = path_join(s->runtime_dir, "stage"))) {
        plan_free(p);
        return -ENOMEM;
    }
    /* the daemon's own directories, hidden in the sandbox wherever its root shows them */
    const ManagerConfig *mc = &s->manager->config;
    _cleanup_free_ char *socket_dir = strndup(mc->socket_path, strrchr(mc->socket_path, '/') -
                                                                   mc->socket_path);
    const char *hide[] = {mc->runtime_dir, socket_dir, mc->state_dir, mc->log_dir};
    for (size_t i = 0; i < ELEMENTSOF(hide); i++)
        if (!socket_dir || (*hide[i] && !strv_contains(p->hide_paths, hide[i]) &&
                            strv_extend(&p->hide_paths, hide[i]) < 0)) {
            plan_free(p);
            return -ENOMEM;
        }
    p->volumes = calloc(c->n_volumes + 1, sizeof(PlanVolume));
    bool oom = !p->root_mount || !p->init_layer || (c->layers && !p->lowers) || !p->argv ||
               (c->environment && !p->env) || !p->volumes ||
               ((c->namespaces & NS_UTS) && !p->hostname);
    for (size_t i = 0; !oom && i < c->n_volumes; i++) {
        p->volumes[i] = (PlanVolume){strdup(c->volumes[i].source), strdup(c->volumes[i].target),
                                     c->volumes[i].read_only};
        p->n_volumes++;
        oom = !p->volumes[i].source || !p->volumes[i].target;
    }
    if (oom) {
        plan_free(p);
        return -ENOMEM;
    }
    *ret = p;
    return 0;
}

int sandbox_resolve_io_limits(Sandbox *s, CgIoLimit **ret, size_t *ret_n) {
    const UnitConfig *c = s->config;
    _cleanup_free_ CgIoLimit *io = c->n_io_limits ? calloc(c->n_io_limits, sizeof(CgIoLimit))
                                                  : NULL;
    if (c->n_io_limits && !io)
        return sandbox_set_start_error(s, "out of memory"), -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < c->n_io_limits; i++) {
        const IoLimit *l = &c->io_limits[i];
        bool any = false;
        for (int t = 0; t < _IO_LIMIT_MAX; t++)
            any |= l->max[t] != UINT64_MAX;
        if (!any)
            continue; /* every limit of the device was reset by an empty assignment */
        int r = block_whole_disk(l->path, &io[n].dev);
        if (r < 0) {
            IoLimitType t = 0;
            while (t < _IO_LIMIT_MAX - 1 && l->max[t] == UINT64_MAX)
                t++;
            return sandbox_set_start_error(s, "%s=%s: %s", io_limit_key(t), l->path,
                                           r == -ENOTBLK ? "not a block device"
                                                         : strerror(-r)), r;
        }
        memcpy(io[n++].max, l->max, sizeof io[0].max);
    }
    *ret = TAKE_PTR(io);
    *ret_n = n;
    return 0;
}
