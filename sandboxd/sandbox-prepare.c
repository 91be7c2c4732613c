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
#include "in-addr-util.h"
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

#define HOST_RESOLV_CONF "/etc/resolv.conf"
/* systemd-resolved's list of its upstream servers, for hosts whose resolv.conf names only its
 * stub at 127.0.0.53, which a sandbox cannot reach */
#define RESOLVED_RESOLV_CONF "/run/systemd/resolve/resolv.conf"
#define RESOLV_CONF_SIZE_MAX (64 * 1024)

/* The first word of a resolv.conf line is keyword (followed by blanks); returns what follows. */
static const char *resolv_keyword(const char *line, const char *keyword) {
    const char *v = line + strspn(line, " \t");
    size_t n = strlen(keyword);
    if (strncmp(v, keyword, n) != 0 || (v[n] != ' ' && v[n] != '\t'))
        return NULL;
    return v + n + strspn(v + n, " \t");
}

/* "nameserver ADDR" with ADDR on loopback */
static bool is_loopback_server(const char *ns) {
    char buf[INET6_ADDRSTRLEN];
    size_t n = strcspn(ns, " \t");
    int family;
    union in_addr_union a;
    if (n >= sizeof buf)
        return false;
    memcpy(buf, ns, n);
    buf[n] = 0;
    return in_addr_parse(buf, &family, &a) >= 0 && in_addr_is_loopback(family, &a);
}

typedef enum ResolvLines {
    RESOLV_ALL,            /* everything but the servers skipped */
    RESOLV_SERVERS,        /* nameserver lines only */
    RESOLV_SEARCH_OPTIONS, /* search, domain and options lines only */
} ResolvLines;

/* Copies the lines of text that what selects to f, without the nameservers on loopback when
 * skip_loopback; returns how many nameserver lines it copied. */
static int copy_resolv_lines(FILE *f, const char *text, ResolvLines what, bool skip_loopback) {
    int servers = 0;
    for (const char *l = text; l && *l; l += strcspn(l, "\n"), l += *l == '\n') {
        _cleanup_free_ char *line = strndup(l, strcspn(l, "\n"));
        if (!line)
            return -ENOMEM;
        const char *ns = resolv_keyword(line, "nameserver");
        bool search = resolv_keyword(line, "search") || resolv_keyword(line, "domain") ||
                      resolv_keyword(line, "options");
        if ((what == RESOLV_SERVERS && !ns) || (what == RESOLV_SEARCH_OPTIONS && !search) ||
            (ns && skip_loopback && is_loopback_server(ns)))
            continue;
        fprintf(f, "%s\n", line);
        servers += !!ns;
    }
    return servers;
}

int sandbox_resolv_conf_text(const UnitConfig *c, const char *host, const char *resolved,
                             char **ret, bool *ret_no_resolvers) {
    /* a sandbox in the host's network namespace reaches the host's loopback resolvers */
    bool skip_loopback = c->namespaces & NS_NET;
    char *text = NULL;
    size_t size = 0;
    int servers;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return -ENOMEM;
    if (c->dns_assigned) {
        /* DNS= replaces the servers only: the host's search domains and options stay */
        servers = copy_resolv_lines(f, host, RESOLV_SEARCH_OPTIONS, false);
        STRV_FOREACH(d, c->dns)
            if (servers >= 0 && fprintf(f, "nameserver %s\n", *d) > 0)
                servers++;
    } else {
        servers = copy_resolv_lines(f, host, RESOLV_ALL, skip_loopback);
        if (servers == 0)
            servers = copy_resolv_lines(f, resolved, RESOLV_SERVERS, skip_loopback);
    }
    if (fclose(f) != 0 || servers < 0) {
        free(text);
        return -ENOMEM;
    }
    *ret = text;
    if (ret_no_resolvers)
        *ret_no_resolvers = servers == 0;
    return 0;
}

char *sandbox_hosts_text(const UnitConfig *c, const char *hostname, const PlanNetwork *net) {
    char *text = NULL, a[INET6_ADDRSTRLEN];
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fputs("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", f);
    bool own = net && net->eth0 && (net->has_v4 || net->has_v6);
    if (own && net->has_v4)
        fprintf(f, "%s\t%s\n", inet_ntop(AF_INET, &net->addr4, a, sizeof a), hostname);
    if (own && net->has_v6)
        fprintf(f, "%s\t%s\n", inet_ntop(AF_INET6, &net->addr6, a, sizeof a), hostname);
    if (!own) /* Debian's way for a name without an address of its own */
        fprintf(f, "127.0.1.1\t%s\n", hostname);
    for (size_t i = 0; i < c->n_extra_hosts; i++)
        fprintf(f, "%s\t%s\n",
                in_addr_to_string(c->extra_hosts[i].family, &c->extra_hosts[i].addr, a),
                c->extra_hosts[i].name);
    if (fclose(f) != 0)
        return mfree(text);
    return text;
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

int sandbox_write_init_layer(const Sandbox *s, const char *init_dir, const char *hostname,
                             const PlanNetwork *net, bool *ret_no_resolvers) {
    _cleanup_free_ char *etc = path_join(init_dir, "etc"), *hosts = NULL, *resolv = NULL,
                        *hn = NULL, *host_resolv = NULL, *resolved = NULL;
    bool no_resolvers;
    if (!etc)
        return -ENOMEM;
    int r = mkdir_p(etc, 0755);
    if (r < 0)
        return r;
    if (asprintf(&hn, "%s\n", hostname) < 0)
        return -ENOMEM;
    hosts = sandbox_hosts_text(s->config, hostname, net);
    if (!hosts)
        return -ENOMEM;
    /* either may be missing: a host without resolvers, or without systemd-resolved */
    (void) read_file(HOST_RESOLV_CONF, RESOLV_CONF_SIZE_MAX, &host_resolv, NULL);
    (void) read_file(RESOLVED_RESOLV_CONF, RESOLV_CONF_SIZE_MAX, &resolved, NULL);
    r = sandbox_resolv_conf_text(s->config, host_resolv, resolved, &resolv, &no_resolvers);
    if (r < 0)
        return r;
    if ((r = write_text(etc, "hostname", hn)) < 0 || (r = write_text(etc, "hosts", hosts)) < 0 ||
        (r = write_text(etc, "resolv.conf", resolv)) < 0)
        return r;
    if (sandbox_wants_notify(s)) {
        /* the mount point of the notify directory, also on a read-only root */
        _cleanup_free_ char *mp = path_join(init_dir, NOTIFY_DIR_INSIDE);
        if (!mp)
            return -ENOMEM;
        if ((r = mkdir_p(mp, 0755)) < 0)
            return r;
    }
    if (ret_no_resolvers)
        *ret_no_resolvers = no_resolvers;
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
    /* Image=: the image's layers and config, read anew at every start (a new import of the
     * same NAME:TAG takes effect at the next one) */
    s->image = resolved_image_free(s->image);
    if (c->image) {
        _cleanup_free_ char *why = NULL;
        int r = image_resolve(s->manager->config.image_store, c->image, &s->image, &why);
        if (r < 0) {
            sandbox_set_start_error(s, "Image=%s", why ?: strerror(-r));
            return r;
        }
        if (!c->exec_start && !s->image->argv) {
            sandbox_set_start_error(s, "Image=%s: its config names no Entrypoint or Cmd; set "
                                       "ExecStart=", c->image);
            return -ENOEXEC;
        }
    }
    STRV_FOREACH(l, s->image ? s->image->lowers : c->layers) {
        free(what);
        if (asprintf(&what, "%s=%s", s->image ? "Image" : "Layers", s->image ? c->image : *l) <
            0)
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
    const ResolvedImage *img = c->image ? s->image : NULL;
    char *const *lowers = img ? img->lowers : c->layers;
    p->lowers = strv_copy(lowers);
    p->root_directory = c->root_directory ? strdup(c->root_directory) : NULL;
    p->upper = upper ? strdup(upper) : NULL;
    p->work = work ? strdup(work) : NULL;
    p->read_only = c->read_only;
    p->hostname = (c->namespaces & NS_UTS) ? strdup(hostname) : NULL;
    /* the unit's keys win over the image's config; Environment= per name */
    p->argv = strv_copy(c->exec_start ?: img ? img->argv : NULL);
    int env_r = img ? env_merge(img->env, c->environment, &p->env)
                    : ((p->env = strv_copy(c->environment)) || !c->environment ? 0 : -ENOMEM);
    const char *wd = c->working_directory ?: img ? img->working_directory : NULL;
    const char *user = c->user ?: img ? img->user : NULL;
    const char *group = c->group ?: !c->user && img ? img->group : NULL;
    p->working_directory = wd ? strdup(wd) : NULL;
    p->user = user ? strdup(user) : NULL;
    p->group = group ? strdup(group) : NULL;
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
    /* ProcView=: lxcfs's files, if it serves now */
    s->procview = false;
    if (c->proc_view) {
        const char *dir = procview_dir(s->manager->procview);
        if (dir && !(p->procview_dir = strdup(dir))) {
            plan_free(p);
            return -ENOMEM;
        }
        s->procview = dir != NULL;
        s->procview_generation = procview_generation(s->manager->procview);
        if (!dir && s->manager->config.lxcfs_path && !streq(s->manager->config.lxcfs_path, "none"))
            sandbox_log_event(s, "ProcView: lxcfs does not serve now; this start sees the "
                                 "host's values in /proc/meminfo, /proc/cpuinfo and the rest.");
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
    /* Type=notify, WatchdogSec=: the socket's directory, read-only, and where it is */
    bool notify = sandbox_wants_notify(s);
    char watchdog[64];
    snprintf(watchdog, sizeof watchdog, "WATCHDOG_USEC=%" PRIu64, c->watchdog_usec);
    if (notify && (strv_extend(&p->env, "NOTIFY_SOCKET=" NOTIFY_SOCKET_INSIDE) < 0 ||
                   (c->watchdog_usec && strv_extend(&p->env, watchdog) < 0))) {
        plan_free(p);
        return -ENOMEM;
    }
    p->volumes = calloc(c->n_volumes + 2, sizeof(PlanVolume));
    bool oom = !p->root_mount || !p->init_layer || (lowers && !p->lowers) || !p->argv ||
               env_r < 0 || (wd && !p->working_directory) || (user && !p->user) ||
               (group && !p->group) || !p->volumes ||
               ((c->namespaces & NS_UTS) && !p->hostname);
    for (size_t i = 0; !oom && i < c->n_volumes; i++) {
        p->volumes[i] = (PlanVolume){strdup(c->volumes[i].source), strdup(c->volumes[i].target),
                                     c->volumes[i].read_only};
        p->n_volumes++;
        oom = !p->volumes[i].source || !p->volumes[i].target;
    }
    if (!oom && notify) {
        PlanVolume *v = &p->volumes[p->n_volumes++];
        *v = (PlanVolume){path_join(s->runtime_dir, "notify"), strdup(NOTIFY_DIR_INSIDE), true};
        oom = !v->source || !v->target;
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

/* [Health] Exec=: what sandboxd-init --probe needs to run the command as the payload runs
 * (identity, environment, bounding set, seccomp filter, user namespace). A sandbox adopted
 * from an earlier sandboxd gets its filter and image config looked up here. */
int sandbox_build_probe_plan(Sandbox *s, SandboxPlan **ret) {
    const UnitConfig *c = s->config;
    int r;
    if (!s->seccomp) {
        SeccompError e = {};
        r = seccomp_cache_get(&s->manager->seccomp_cache, c->seccomp_profile,
                              c->capability_bounding_set, &s->seccomp, &e);
        if (r < 0)
            return r;
    }
    if (c->image && !s->image) {
        _cleanup_free_ char *why = NULL;
        if ((r = image_resolve(s->manager->config.image_store, c->image, &s->image, &why)) < 0)
            return r;
    }
    _cleanup_(plan_freep) SandboxPlan *p = calloc(1, sizeof(SandboxPlan));
    if (!p)
        return -ENOMEM;
    const ResolvedImage *img = c->image ? s->image : NULL;
    const char *wd = c->working_directory ?: img ? img->working_directory : NULL;
    const char *user = c->user ?: img ? img->user : NULL;
    const char *group = c->group ?: !c->user && img ? img->group : NULL;
    /* the plan's format wants a root; --probe enters the sandbox's, and reads none of these */
    p->root_mount = strdup("/");
    p->root_directory = strdup("/");
    p->argv = strv_copy(c->health.exec);
    r = img ? env_merge(img->env, c->environment, &p->env)
            : ((p->env = strv_copy(c->environment)) || !c->environment ? 0 : -ENOMEM);
    p->working_directory = wd ? strdup(wd) : NULL;
    p->user = user ? strdup(user) : NULL;
    p->group = group ? strdup(group) : NULL;
    p->capability_bounding_set = c->capability_bounding_set;
    p->no_new_privs = c->no_new_privileges;
    p->userns_base = s->userns_base;
    p->stage_dir = s->userns_base ? strdup("/") : NULL;
    if (r < 0 || !p->root_mount || !p->root_directory || !p->argv || (wd && !p->working_directory) ||
        (user && !p->user) || (group && !p->group) || (s->userns_base && !p->stage_dir))
        return -ENOMEM;
    if (s->seccomp) {
        if (!(p->seccomp_bpf = malloc(s->seccomp->size)))
            return -ENOMEM;
        memcpy(p->seccomp_bpf, s->seccomp->bpf, s->seccomp->size);
        p->seccomp_bpf_size = s->seccomp->size;
    }
    *ret = TAKE_PTR(p);
    return 0;
}

int sandbox_pick_cpus(Sandbox *s, unsigned n, char **ret) {
    cpu_set_t mine;
    unsigned online[CPU_SET_MAX], count = 0;
    *ret = NULL;
    /* the CPUs sandboxd may use; fewer than n: the quota alone limits it */
    if (sched_getaffinity(0, sizeof mine, &mine) < 0)
        return -errno;
    for (unsigned c = 0; c < CPU_SET_MAX && c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &mine))
            online[count++] = c;
    if (count < n)
        return 0;
    /* spread: each unit starts at a place of its own, so CPUs=1 units do not all share CPU 0 */
    unsigned h = 5381;
    for (const char *p = s->name; *p; p++)
        h = h * 33 + (unsigned char) *p;
    CpuSet set = {};
    for (unsigned i = 0; i < n; i++) {
        unsigned c = online[(h + i) % count];
        set.bits[c / 8] |= (uint8_t) (1u << (c % 8));
    }
    *ret = cpu_set_to_string(&set);
    return *ret ? 0 : -ENOMEM;
}
