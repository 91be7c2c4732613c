/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroups through libcgroup (the only file that includes it).
 *
 * libcgroup 2.0.2 (Debian 12) creates groups and writes values in every hierarchy, on v1 and v2,
 * but it does not translate file names between the two (that came in 3.0), so the mapping is
 * ours: cpu.cfs_quota_us/cpu.cfs_period_us vs cpu.max, memory.limit_in_bytes vs memory.max.
 * We do not use cgroup_delete_cgroup(): it migrates live processes to the parent before the
 * rmdir, which would let them escape their limits. rmdir(2) refuses a non-empty group, which is
 * what we want. Statistics are read from the files directly: cgroup_get_cgroup() reads every
 * file of every hierarchy and truncates large ones. */

#include <fcntl.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "cgroup.h"
#include "macro.h"
#include "parse-util.h"
#include "path-util.h"

typedef enum Ctrl { CTRL_CPU, CTRL_CPUACCT, CTRL_CPUSET, CTRL_MEMORY, CTRL_PIDS, _CTRL_MAX } Ctrl;

static const char *const ctrl_names[_CTRL_MAX] = {"cpu", "cpuacct", "cpuset", "memory", "pids"};

static struct {
    char *mount[_CTRL_MAX]; /* NULL: controller not available */
    bool v2[_CTRL_MAX];
    CgLayout layout;
    bool initialized;
} state;

struct Cgroup {
    char *path;    /* "sandbox.slice/web.unit", relative to each hierarchy's root */
    char *display; /* "/sandbox.slice/web.unit" */
    unsigned ctrls; /* 1 << Ctrl */
};

static void quiet_logger(void *userdata, int level, const char *fmt, va_list ap) {
    /* libcgroup prints to stdout by default; we report its errors through return codes */
    (void) userdata, (void) level, (void) fmt, (void) ap;
}

static int cg_errno(int r) {
    if (r == 0)
        return 0;
    int e = cgroup_get_last_errno();
    switch (r) {
    case ECGROUPNOTEXIST:
        return -ENOENT;
    case ECGROUPNOTMOUNTED:
    case ECGROUPSUBSYSNOTMOUNTED:
        return -EOPNOTSUPP;
    case ECGVALUEEXISTS:
        return -EEXIST;
    case ECGINVAL:
        return -EINVAL;
    case ECGROUPNOTALLOWED:
        return -EACCES;
    default:
        return e > 0 ? -e : -EIO;
    }
}

const char *cg_layout_to_string(CgLayout l) {
    return l == CG_LAYOUT_V2 ? "v2" : "v1";
}

int cg_init(CgLayout *ret_layout) {
    if (!state.initialized) {
        cgroup_set_logger(quiet_logger, CGROUP_LOG_ERROR, NULL);
        int r = cg_errno(cgroup_init());
        if (r < 0)
            return r;
        for (int c = 0; c < _CTRL_MAX; c++) {
            char *m = NULL;
            struct statfs sfs;
            if (cgroup_get_subsys_mount_point(ctrl_names[c], &m) != 0 || !m)
                continue;
            if (statfs(m, &sfs) < 0) {
                free(m);
                continue;
            }
            state.mount[c] = m;
            state.v2[c] = sfs.f_type == CGROUP2_SUPER_MAGIC;
        }
        if (!state.mount[CTRL_MEMORY] || !state.mount[CTRL_PIDS])
            return -EOPNOTSUPP; /* limits and stop-by-cgroup need both */
        state.layout = state.v2[CTRL_MEMORY] ? CG_LAYOUT_V2 : CG_LAYOUT_V1;
        /* v2 has no cpuacct: usage comes from cpu.stat of every group */
        if (state.v2[CTRL_MEMORY])
            state.mount[CTRL_CPUACCT] = mfree(state.mount[CTRL_CPUACCT]);
        state.initialized = true;
    }
    if (ret_layout)
        *ret_layout = state.layout;
    return 0;
}

static char *ctrl_path(Ctrl c, const char *path, const char *file) {
    char *r;
    if (asprintf(&r, "%s/%s%s%s", state.mount[c], path, file ? "/" : "", file ? file : "") < 0)
        return NULL;
    return r;
}

/* The hierarchy that holds the process list: any, they all hold the same processes. */
static Ctrl procs_ctrl(void) {
    return CTRL_PIDS;
}

static int read_small(const char *path, char **ret) {
    return read_file(path, 1024 * 1024, ret, NULL);
}

static int write_small(const char *path, const char *value) {
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, value, strlen(value));
    if (n < 0)
        return -errno;
    return 0;
}

/* Reads "key N" from a flat keyed file like memory.events or cpu.stat. */
static int read_keyed(const char *path, const char *key, uint64_t *ret) {
    _cleanup_free_ char *text = NULL;
    int r = read_small(path, &text);
    if (r < 0)
        return r;
    size_t k = strlen(key);
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, key, k) == 0 && l[k] == ' ') {
            char *end = strchr(l, '\n');
            if (end)
                *end = 0;
            return safe_atou64(l + k + 1, ret);
        }
    return -ENODATA;
}

static int read_u64_file(const char *path, uint64_t *ret) {
    _cleanup_free_ char *text = NULL;
    int r = read_small(path, &text);
    if (r < 0)
        return r;
    text[strcspn(text, "\n")] = 0;
    if (streq(text, "max")) {
        *ret = UINT64_MAX;
        return 0;
    }
    return safe_atou64(text, ret);
}

static unsigned slice_ctrls(void) {
    unsigned m = 0;
    for (int c = 0; c < _CTRL_MAX; c++)
        if (state.mount[c])
            m |= 1u << c;
    return m;
}

int cg_create_slice(const char *slice) {
    struct cgroup *cg = cgroup_new_cgroup(slice);
    int r = 0;
    if (!cg)
        return -ENOMEM;
    for (int c = 0; c < _CTRL_MAX && r == 0; c++) {
        if (!(slice_ctrls() & (1u << c)))
            continue;
        struct cgroup_controller *ctl = cgroup_add_controller(cg, ctrl_names[c]);
        if (!ctl) {
            r = -ENOMEM;
            break;
        }
        if (c == CTRL_CPUSET && !state.v2[c]) {
            /* v1 creates cpuset groups with empty cpus/mems and then refuses to let anything
             * in: copy the root's, so children can be given a subset. */
            _cleanup_free_ char *cpus = NULL, *mems = NULL, *p1 = NULL, *p2 = NULL;
            p1 = ctrl_path(CTRL_CPUSET, "", "cpuset.cpus");
            p2 = ctrl_path(CTRL_CPUSET, "", "cpuset.mems");
            if (!p1 || !p2)
                r = -ENOMEM;
            else if ((r = read_small(p1, &cpus)) >= 0 && (r = read_small(p2, &mems)) >= 0) {
                cpus[strcspn(cpus, "\n")] = mems[strcspn(mems, "\n")] = 0;
                if (cgroup_add_value_string(ctl, "cpuset.cpus", cpus) != 0 ||
                    cgroup_add_value_string(ctl, "cpuset.mems", mems) != 0)
                    r = -ENOMEM;
            }
        }
    }
    if (r == 0)
        r = cg_errno(cgroup_create_cgroup(cg, 0));
    cgroup_free(&cg);
    return r;
}

static int rmdir_in(unsigned ctrls, const char *path) {
    int r = 0;
    for (int c = 0; c < _CTRL_MAX; c++) {
        if (!(ctrls & (1u << c)) || !state.mount[c])
            continue;
        _cleanup_free_ char *p = ctrl_path((Ctrl) c, path, NULL);
        if (!p)
            return -ENOMEM;
        if (rmdir(p) < 0 && errno != ENOENT && r == 0)
            r = -errno;
    }
    return r;
}

int cg_remove_slice(const char *slice) {
    return rmdir_in(slice_ctrls(), slice);
}

static int add_value(struct cgroup_controller *ctl, const char *name, const char *value) {
    return cgroup_add_value_string(ctl, name, value) == 0 ? 0 : -ENOMEM;
}

/* Adds the limit files of controller c, with the names of the hierarchy it lives on. */
static int add_limits(struct cgroup_controller *ctl, Ctrl c, const CgLimits *l) {
    char buf[64];
    int r = 0;
    switch (c) {
    case CTRL_CPU: {
        uint64_t quota = (uint64_t) l->cpu_quota_permyriad * l->cpu_period_usec / 10000;
        if (quota < 1000)
            quota = 1000; /* the kernel's minimum quota is 1ms */
        if (state.v2[c]) {
            snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64, quota, l->cpu_period_usec);
            r = add_value(ctl, "cpu.max", buf);
        } else {
            snprintf(buf, sizeof buf, "%" PRIu64, l->cpu_period_usec);
            r = add_value(ctl, "cpu.cfs_period_us", buf);
            snprintf(buf, sizeof buf, "%" PRIu64, quota);
            if (r == 0)
                r = add_value(ctl, "cpu.cfs_quota_us", buf);
        }
        break;
    }
    case CTRL_CPUSET: {
        r = add_value(ctl, "cpuset.cpus", l->cpus);
        if (r == 0 && !state.v2[c]) {
            /* v1 needs mems as well before a task may join; take the slice's */
            _cleanup_free_ char *p = ctrl_path(c, "", "cpuset.mems"), *mems = NULL;
            if (!p)
                return -ENOMEM;
            r = read_small(p, &mems);
            if (r < 0)
                return r;
            mems[strcspn(mems, "\n")] = 0;
            r = add_value(ctl, "cpuset.mems", mems);
        }
        break;
    }
    case CTRL_MEMORY:
        if (l->memory_max != UINT64_MAX) {
            snprintf(buf, sizeof buf, "%" PRIu64, l->memory_max);
            r = add_value(ctl, state.v2[c] ? "memory.max" : "memory.limit_in_bytes", buf);
        }
        break;
    case CTRL_PIDS:
        if (l->tasks_max != UINT64_MAX) {
            snprintf(buf, sizeof buf, "%" PRIu64, l->tasks_max);
            r = add_value(ctl, "pids.max", buf);
        }
        break;
    default:
        break;
    }
    return r;
}

Cgroup *cg_free(Cgroup *cg) {
    if (!cg)
        return NULL;
    free(cg->path);
    free(cg->display);
    free(cg);
    return NULL;
}

int cg_create(const char *slice, const char *name, const CgLimits *l, Cgroup **ret) {
    _cleanup_free_ char *escaped = cg_escape(name);
    Cgroup *cg = calloc(1, sizeof(Cgroup));
    struct cgroup *lc = NULL;
    int r = 0;

    if (!escaped || !cg)
        goto oom;
    if (asprintf(&cg->path, "%s/%s", slice, escaped) < 0 ||
        asprintf(&cg->display, "/%s", cg->path) < 0)
        goto oom;

    cg->ctrls = 1u << CTRL_MEMORY | 1u << CTRL_PIDS;
    if (state.mount[CTRL_CPUACCT])
        cg->ctrls |= 1u << CTRL_CPUACCT;
    if (l->cpu_quota_permyriad != UINT32_MAX)
        cg->ctrls |= 1u << CTRL_CPU;
    if (l->cpus)
        cg->ctrls |= 1u << CTRL_CPUSET;
    for (int c = 0; c < _CTRL_MAX; c++)
        if ((cg->ctrls & (1u << c)) && !state.mount[c]) {
            r = -EOPNOTSUPP; /* asked for a limit this host cannot enforce */
            goto fail;
        }

    lc = cgroup_new_cgroup(cg->path);
    if (!lc)
        goto oom;
    for (int c = 0; c < _CTRL_MAX && r == 0; c++) {
        if (!(cg->ctrls & (1u << c)))
            continue;
        struct cgroup_controller *ctl = cgroup_add_controller(lc, ctrl_names[c]);
        r = ctl ? add_limits(ctl, (Ctrl) c, l) : -ENOMEM;
    }
    if (r == 0)
        r = cg_errno(cgroup_create_cgroup(lc, 0));
    cgroup_free(&lc);
    if (r < 0) {
        /* cgroup_create_cgroup makes the directories before writing values: undo them */
        (void) rmdir_in(cg->ctrls, cg->path);
        goto fail;
    }
    *ret = cg;
    return 0;

oom:
    r = -ENOMEM;
fail:
    cg_free(cg);
    return r;
}

int cg_open(const char *slice, const char *name, Cgroup **ret) {
    _cleanup_free_ char *escaped = cg_escape(name);
    Cgroup *cg = calloc(1, sizeof(Cgroup));
    if (!escaped || !cg || asprintf(&cg->path, "%s/%s", slice, escaped) < 0 ||
        asprintf(&cg->display, "/%s", cg->path) < 0) {
        cg_free(cg);
        return -ENOMEM;
    }
    for (int c = 0; c < _CTRL_MAX; c++) {
        struct stat st;
        _cleanup_free_ char *p = state.mount[c] ? ctrl_path((Ctrl) c, cg->path, NULL) : NULL;
        if (p && stat(p, &st) >= 0 && S_ISDIR(st.st_mode))
            cg->ctrls |= 1u << c;
    }
    if (!(cg->ctrls & (1u << CTRL_PIDS))) {
        cg_free(cg);
        return -ENOENT;
    }
    *ret = cg;
    return 0;
}

const char *cg_display_path(const Cgroup *cg) {
    return cg->display;
}

int cg_open_procs_fds(const Cgroup *cg, int *fds, size_t max) {
    size_t n = 0;
    const char *seen[_CTRL_MAX];
    for (int c = 0; c < _CTRL_MAX; c++) {
        if (!(cg->ctrls & (1u << c)))
            continue;
        bool dup = false; /* on v2 every controller shares one directory */
        for (size_t i = 0; i < n; i++)
            dup |= streq(seen[i], state.mount[c]);
        if (dup)
            continue;
        if (n == max)
            goto fail_range;
        _cleanup_free_ char *p = ctrl_path((Ctrl) c, cg->path, "cgroup.procs");
        if (!p)
            goto fail_nomem;
        fds[n] = open(p, O_WRONLY | O_CLOEXEC);
        if (fds[n] < 0) {
            int r = -errno;
            while (n > 0)
                safe_close(fds[--n]);
            return r;
        }
        seen[n++] = state.mount[c];
    }
    return (int) n;
fail_range:
    while (n > 0)
        safe_close(fds[--n]);
    return -ERANGE;
fail_nomem:
    while (n > 0)
        safe_close(fds[--n]);
    return -ENOMEM;
}

static int read_pids(const Cgroup *cg, pid_t **ret, size_t *ret_n) {
    _cleanup_free_ char *p = ctrl_path(procs_ctrl(), cg->path, "cgroup.procs"), *text = NULL;
    if (!p)
        return -ENOMEM;
    int r = read_small(p, &text);
    if (r < 0)
        return r;
    size_t n = 0, cap = 0;
    pid_t *pids = NULL;
    for (char *s = strtok(text, "\n"); s; s = strtok(NULL, "\n")) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            pid_t *np = realloc(pids, cap * sizeof(pid_t));
            if (!np) {
                free(pids);
                return -ENOMEM;
            }
            pids = np;
        }
        pids[n++] = (pid_t) atoi(s);
    }
    *ret = pids;
    *ret_n = n;
    return 0;
}

int cg_kill(const Cgroup *cg, int sig) {
    if (sig == SIGKILL && state.v2[procs_ctrl()]) {
        _cleanup_free_ char *p = ctrl_path(procs_ctrl(), cg->path, "cgroup.kill");
        if (!p)
            return -ENOMEM;
        if (write_small(p, "1") >= 0) /* 5.14+: the kernel kills them all, forks included */
            return 0;
    }
    /* Without cgroup.kill a process may fork while we walk the list: go round until a pass
     * finds nobody new. */
    for (int round = 0; round < 32; round++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n;
        int r = read_pids(cg, &pids, &n);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        if (n == 0 || (round > 0 && sig != SIGKILL))
            return 0;
        for (size_t i = 0; i < n; i++)
            (void) kill(pids[i], sig);
        if (sig != SIGKILL)
            return 0;
    }
    return -EBUSY;
}

int cg_is_empty(const Cgroup *cg) {
    _cleanup_free_ pid_t *pids = NULL;
    size_t n;
    int r = read_pids(cg, &pids, &n);
    if (r == -ENOENT)
        return 1;
    if (r < 0)
        return r;
    return n == 0;
}

int cg_destroy(Cgroup *cg) {
    return rmdir_in(cg->ctrls, cg->path);
}

int cg_file_path(const Cgroup *cg, const char *controller, const char *file, char **ret) {
    for (int c = 0; c < _CTRL_MAX; c++)
        if (streq(controller, ctrl_names[c])) {
            if (!state.mount[c])
                return -EOPNOTSUPP;
            char *p = ctrl_path((Ctrl) c, cg->path, file);
            if (!p)
                return -ENOMEM;
            *ret = p;
            return 0;
        }
    return -EINVAL;
}

int cg_read_stats(const Cgroup *cg, CgStats *ret) {
    CgStats s = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
    _cleanup_free_ char *mem = ctrl_path(CTRL_MEMORY, cg->path,
                                         state.v2[CTRL_MEMORY] ? "memory.current"
                                                               : "memory.usage_in_bytes");
    _cleanup_free_ char *pids = ctrl_path(CTRL_PIDS, cg->path, "pids.current");
    _cleanup_free_ char *cpu = NULL;
    if (state.mount[CTRL_CPUACCT])
        cpu = ctrl_path(CTRL_CPUACCT, cg->path, "cpuacct.usage");
    else if (state.mount[CTRL_CPU])
        cpu = ctrl_path(CTRL_CPU, cg->path, "cpu.stat");
    else if (state.mount[CTRL_MEMORY]) /* v2: cpu.stat is in every group */
        cpu = ctrl_path(CTRL_MEMORY, cg->path, "cpu.stat");
    if (!mem || !pids || !cpu)
        return -ENOMEM;
    (void) read_u64_file(mem, &s.memory_current);
    (void) read_u64_file(pids, &s.tasks_current);
    if (state.mount[CTRL_CPUACCT])
        (void) read_u64_file(cpu, &s.cpu_usage_nsec);
    else if (read_keyed(cpu, "usage_usec", &s.cpu_usage_nsec) >= 0)
        s.cpu_usage_nsec *= 1000;
    *ret = s;
    return 0;
}

int cg_read_oom_kills(const Cgroup *cg, uint64_t *ret) {
    bool v2 = state.v2[CTRL_MEMORY];
    _cleanup_free_ char *p =
        ctrl_path(CTRL_MEMORY, cg->path, v2 ? "memory.events" : "memory.oom_control");
    if (!p)
        return -ENOMEM;
    return read_keyed(p, "oom_kill", ret);
}
