/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroups through libcgroup (the only file that includes it).
 *
 * libcgroup 2.0.2 (Debian 12) creates groups and writes values in every hierarchy, on v1 and v2,
 * but it does not translate file names between the two (that came in 3.0), so the mapping is
 * ours: cpu.cfs_quota_us/cpu.cfs_period_us vs cpu.max, memory.limit_in_bytes vs memory.max.
 * We do not use cgroup_delete_cgroup(): it migrates live processes to the parent before the
 * rmdir, which would let them escape their limits. rmdir(2) refuses a non-empty group, which is
 * what we want. Statistics are read from the files directly: cgroup_get_cgroup() reads every
 * file of every hierarchy and truncates large ones.
 *
 * A sandbox gets a group in every hierarchy mounted when we start, not only in those of the
 * controllers it needs: in any hierarchy where it stayed in our group, a payload that mounts
 * the hierarchy from a user namespace sees our group as its root and can act on it (write
 * cgroup.kill of the unified hierarchy of a hybrid host, freeze it, move its own processes into
 * a neighbour's group). libcgroup does not list named v1 hierarchies (Debian builds it with
 * name=systemd opaque) nor a controller-less cgroup2 mount, so the other hierarchies
 * ("extra") come from our own reading of /proc/self/mountinfo. */

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
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "cgroup.h"
#include "macro.h"
#include "parse-util.h"
#include "path-util.h"

typedef enum Ctrl {
    CTRL_CPU,
    CTRL_CPUACCT,
    CTRL_CPUSET,
    CTRL_MEMORY,
    CTRL_PIDS,
    CTRL_IO,
    _CTRL_MAX
} Ctrl;

/* v2 names; v1 calls io "blkio" and has cpuacct (v2 puts usage in every group's cpu.stat) */
static const char *const ctrl_names[_CTRL_MAX] = {"cpu", "cpuacct", "cpuset", "memory", "pids", "io"};

/* Every other mounted hierarchy: named v1 ones, v1 controllers we set no limits with, the
 * unified one of a hybrid host. */
#define EXTRA_MAX (CG_HIERARCHIES_MAX - _CTRL_MAX)

static struct {
    char *mount[_CTRL_MAX]; /* NULL: controller not available */
    bool v2[_CTRL_MAX];
    char *extra[EXTRA_MAX];
    bool extra_v2[EXTRA_MAX];
    size_t n_extra;
    CgLayout layout;
    char *root;     /* our part of each hierarchy, relative to its mount: "" or "a/b.service" */
    bool delegated; /* root was delegated to us and we moved into root/supervisor */
    bool initialized;
    /* v1: the slice (a path like cg->path) whose new cpuset children copy its cpus and mems
     * (cgroup.clone_children), so a sandbox without AllowedCPUs= writes neither: each write
     * of cpuset.cpus checks every sibling and rebuilds the scheduler domains, ~0.2 ms of
     * every start with 300 sandboxes running */
    char *cpuset_clone_slice;
} state;

static const char *ctrl_name(Ctrl c) {
    return c == CTRL_IO && !state.v2[c] ? "blkio" : ctrl_names[c];
}

struct Cgroup {
    char *path;    /* "sandbox.slice/web.unit", relative to each hierarchy's root */
    char *display; /* "/sandbox.slice/web.unit" */
    unsigned ctrls; /* 1 << Ctrl */
    unsigned extras; /* 1 << index in state.extra */
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

/* Our group on the unified hierarchy, from the "0::/x/y" line of /proc/self/cgroup, as "x/y"
 * ("" for the root). */
static int own_v2_cgroup(char **ret) {
    _cleanup_free_ char *text = NULL;
    int r = read_small("/proc/self/cgroup", &text);
    if (r < 0)
        return r;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
        if (strncmp(l, "0::/", 4) == 0) {
            *ret = strdup(l + 4);
            return *ret ? 0 : -ENOMEM;
        }
    return -ENODATA;
}

/* systemd marks a Delegate=yes group with this xattr (user.delegate for user managers). */
static bool group_is_delegated(const char *mount, const char *path) {
    _cleanup_free_ char *p = NULL;
    if (asprintf(&p, "%s/%s", mount, path) < 0)
        return false;
    return getxattr(p, "trusted.delegate", NULL, 0) >= 0 ||
           getxattr(p, "user.delegate", NULL, 0) >= 0;
}

/* Picks the part of the hierarchy that is ours. On v2 under a service manager that delegated
 * a subtree (systemd's Delegate=yes), that subtree; else the root. */
static int choose_root(const char *root, int v2_ctrl, const char *own_group) {
    if (root) {
        while (*root == '/')
            root++;
        state.root = strdup(root);
        if (!state.root)
            return -ENOMEM;
        size_t n = strlen(state.root);
        while (n > 0 && state.root[n - 1] == '/')
            state.root[--n] = 0;
    } else if (v2_ctrl >= 0) {
        _cleanup_free_ char *own = strdup(own_group);
        if (!own)
            return -ENOMEM;
        /* restarted by a manager that starts us in a sub-group (DelegateSubgroup=supervisor) */
        char *slash = strrchr(own, '/');
        if (streq(slash ? slash + 1 : own, "supervisor")) {
            if (slash)
                *slash = 0;
            else
                *own = 0;
        }
        state.root = strdup(*own && group_is_delegated(state.mount[v2_ctrl], own) ? own : "");
        if (!state.root)
            return -ENOMEM;
    } else {
        state.root = strdup("");
        if (!state.root)
            return -ENOMEM;
    }
    return 0;
}

/* v2 lets no process live in a group that hands controllers down ("no internal processes"):
 * when we are in our own root, move into root/supervisor first. */
static int leave_root(int v2_ctrl, const char *own) {
    _cleanup_free_ char *dir = NULL, *procs = NULL;
    if (v2_ctrl < 0 || !*state.root)
        return 0;
    size_t n = strlen(state.root);
    if (strncmp(own, state.root, n) == 0 && streq(own + n, "/supervisor")) {
        state.delegated = true; /* started there (DelegateSubgroup=, or our earlier self) */
        return 0;
    }
    if (!streq(own, state.root))
        return 0;
    if (asprintf(&dir, "%s/%s/supervisor", state.mount[v2_ctrl], state.root) < 0 ||
        asprintf(&procs, "%s/cgroup.procs", dir) < 0)
        return -ENOMEM;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    int r = write_small(procs, "0");
    if (r < 0)
        return r;
    state.delegated = true;
    return 0;
}

/* Whether a space-separated list holds word. */
static bool word_in_list(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *w = list; (w = strstr(w, word)); w += n)
        if ((w == list || w[-1] == ' ') && (w[n] == 0 || w[n] == ' ' || w[n] == '\n'))
            return true;
    return false;
}

/* On v2 a controller is usable below our root only if the root lists it in cgroup.controllers. */
static int drop_unavailable(int v2_ctrl) {
    _cleanup_free_ char *p = NULL, *text = NULL;
    if (v2_ctrl < 0)
        return 0;
    if (asprintf(&p, "%s/%s%scgroup.controllers", state.mount[v2_ctrl], state.root,
                 *state.root ? "/" : "") < 0)
        return -ENOMEM;
    int r = read_small(p, &text);
    if (r < 0)
        return r;
    for (int c = 0; c < _CTRL_MAX; c++)
        if (state.mount[c] && state.v2[c] && !word_in_list(text, ctrl_names[c]))
            state.mount[c] = mfree(state.mount[c]);
    return 0;
}

/* Adds every hierarchy mounted at its root that none of our controllers lives on; a hierarchy
 * mounted twice counts once. */
static int find_extra_hierarchies(void) {
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    _cleanup_free_ char *line = NULL;
    dev_t seen[CG_HIERARCHIES_MAX];
    size_t n_seen = 0, size = 0;
    struct stat st;

    if (!f)
        return -errno;
    for (int c = 0; c < _CTRL_MAX; c++)
        if (state.mount[c] && stat(state.mount[c], &st) >= 0)
            seen[n_seen++] = st.st_dev;
    while (getline(&line, &size, f) > 0) {
        _cleanup_free_ char *m = NULL;
        bool v2, dup = false;
        int r = cg_mountinfo_hierarchy(line, &m, &v2);
        if (r == -ENOMEM)
            return r;
        if (r <= 0 || stat(m, &st) < 0)
            continue;
        for (size_t i = 0; i < n_seen; i++)
            dup |= seen[i] == st.st_dev;
        if (dup)
            continue;
        /* refuse rather than leave a sandbox in our group in the ones we could not track */
        if (state.n_extra == EXTRA_MAX)
            return -E2BIG;
        seen[n_seen++] = st.st_dev;
        state.extra_v2[state.n_extra] = v2;
        state.extra[state.n_extra++] = TAKE_PTR(m);
    }
    return 0;
}

int cg_init(const char *root, CgLayout *ret_layout) {
    if (!state.initialized) {
        cgroup_set_logger(quiet_logger, CGROUP_LOG_ERROR, NULL);
        int r = cg_errno(cgroup_init());
        if (r < 0)
            return r;
        for (int c = 0; c < _CTRL_MAX; c++) {
            char *m = NULL;
            struct statfs sfs;
            if (cgroup_get_subsys_mount_point(ctrl_names[c], &m) != 0 || !m) {
                free(m);
                m = NULL;
                if (c != CTRL_IO || cgroup_get_subsys_mount_point("blkio", &m) != 0 || !m)
                    continue;
            }
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
        int v2_ctrl = state.layout == CG_LAYOUT_V2 ? CTRL_MEMORY : -1;
        _cleanup_free_ char *own = NULL;
        if (v2_ctrl >= 0 && (r = own_v2_cgroup(&own)) < 0)
            return r;
        r = choose_root(root, v2_ctrl, own);
        if (r >= 0)
            r = leave_root(v2_ctrl, own);
        if (r >= 0)
            r = drop_unavailable(v2_ctrl);
        if (r >= 0)
            r = find_extra_hierarchies();
        if (r < 0)
            return r;
        if (!state.mount[CTRL_MEMORY] || !state.mount[CTRL_PIDS])
            return -EOPNOTSUPP;
        state.initialized = true;
    }
    if (ret_layout)
        *ret_layout = state.layout;
    return 0;
}

const char *cg_root(void) {
    return state.root ? state.root : "";
}

bool cg_root_is_delegated(void) {
    return state.delegated;
}

/* mount/path/file; path "" is the hierarchy's root, file NULL the directory. */
static char *hier_path(const char *mount, const char *path, const char *file) {
    char *r;
    if (asprintf(&r, "%s%s%s%s%s", mount, *path ? "/" : "", path, file ? "/" : "",
                 file ? file : "") < 0)
        return NULL;
    return r;
}

static char *ctrl_path(Ctrl c, const char *path, const char *file) {
    return hier_path(state.mount[c], path, file);
}

/* "slice" relative to our root: "root/slice", or "slice" when the root is the hierarchy's. */
static char *under_root(const char *rel) {
    char *r;
    if (asprintf(&r, "%s%s%s", state.root, *state.root ? "/" : "", rel) < 0)
        return NULL;
    return r;
}

/* The hierarchy that holds the process list: any, they all hold the same processes. */
static Ctrl procs_ctrl(void) {
    return CTRL_PIDS;
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

/* v2: hands our controllers down from group path to its children, "+cpu +memory ...". The
 * group must hold no process (we live in root/supervisor when root is not the hierarchy's). */
static int enable_subtree(const char *path) {
    char buf[128] = "";
    _cleanup_free_ char *p = NULL;
    if (state.layout != CG_LAYOUT_V2)
        return 0;
    for (int c = 0; c < _CTRL_MAX; c++)
        if (state.mount[c] && state.v2[c]) {
            strcat(buf, *buf ? " +" : "+");
            strcat(buf, ctrl_names[c]);
        }
    p = ctrl_path(CTRL_MEMORY, path, "cgroup.subtree_control");
    if (!p)
        return -ENOMEM;
    return write_small(p, buf);
}

int cg_create_slice(const char *slice) {
    _cleanup_free_ char *path = under_root(slice);
    if (!path)
        return -ENOMEM;
    int r = enable_subtree(state.root);
    if (r < 0)
        return r;
    struct cgroup *cg = cgroup_new_cgroup(path);
    if (!cg)
        return -ENOMEM;
    for (int c = 0; c < _CTRL_MAX && r == 0; c++) {
        if (!(slice_ctrls() & (1u << c)))
            continue;
        struct cgroup_controller *ctl = cgroup_add_controller(cg, ctrl_name((Ctrl) c));
        if (!ctl) {
            r = -ENOMEM;
            break;
        }
        if (c == CTRL_CPUSET && !state.v2[c]) {
            /* v1 creates cpuset groups with empty cpus/mems and then refuses to let anything
             * in: copy our root's, so children can be given a subset. */
            _cleanup_free_ char *cpus = NULL, *mems = NULL, *p1 = NULL, *p2 = NULL;
            p1 = ctrl_path(CTRL_CPUSET, state.root, "cpuset.cpus");
            p2 = ctrl_path(CTRL_CPUSET, state.root, "cpuset.mems");
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
    if (r == 0)
        r = enable_subtree(path);
    if (r == 0 && state.mount[CTRL_CPUSET] && !state.v2[CTRL_CPUSET]) {
        _cleanup_free_ char *p = ctrl_path(CTRL_CPUSET, path, "cgroup.clone_children");
        free(state.cpuset_clone_slice);
        state.cpuset_clone_slice = NULL;
        /* without it every start copies the two values by hand, as before */
        if (p && write_small(p, "1") >= 0)
            state.cpuset_clone_slice = strdup(path);
    }
    for (size_t i = 0; i < state.n_extra && r == 0; i++) {
        _cleanup_free_ char *p = hier_path(state.extra[i], path, NULL);
        r = p ? mkdir_p(p, 0755) : -ENOMEM;
    }
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
    _cleanup_free_ char *path = under_root(slice);
    if (!path)
        return -ENOMEM;
    int r = rmdir_in(slice_ctrls(), path);
    for (size_t i = 0; i < state.n_extra; i++) {
        _cleanup_free_ char *p = hier_path(state.extra[i], path, NULL);
        if (!p)
            return -ENOMEM;
        if (rmdir(p) < 0 && errno != ENOENT && r == 0)
            r = -errno;
    }
    return r;
}

static int add_value(struct cgroup_controller *ctl, const char *name, const char *value) {
    return cgroup_add_value_string(ctl, name, value) == 0 ? 0 : -ENOMEM;
}

static int add_u64(struct cgroup_controller *ctl, const char *name, uint64_t v) {
    char buf[32];
    if (v == UINT64_MAX)
        snprintf(buf, sizeof buf, "max");
    else
        snprintf(buf, sizeof buf, "%" PRIu64, v);
    return add_value(ctl, name, buf);
}

static bool v1_has_memsw(void) {
    _cleanup_free_ char *p = ctrl_path(CTRL_MEMORY, state.root, "memory.memsw.limit_in_bytes");
    return p && access(p, F_OK) >= 0;
}

/* systemd's mapping of CPUWeight= (default 100) to v1's cpu.shares (default 1024) */
static uint64_t weight_to_shares(uint64_t w) {
    uint64_t s = w * 1024 / 100;
    return s < 2 ? 2 : s > 262144 ? 262144 : s;
}

/* Adds the limit files of controller c, with the names of the hierarchy it lives on. Limits
 * the layout has no file for are left out and flagged in *ignored. */
static int add_limits(struct cgroup_controller *ctl, Ctrl c, const CgLimits *l,
                      unsigned *ignored) {
    char buf[64];
    int r = 0;
    switch (c) {
    case CTRL_CPU:
        if (l->cpu_quota_permyriad != UINT32_MAX) {
            uint64_t quota = (uint64_t) l->cpu_quota_permyriad * l->cpu_period_usec / 10000;
            if (quota < 1000)
                quota = 1000; /* the kernel's minimum quota is 1ms */
            if (state.v2[c]) {
                snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64, quota, l->cpu_period_usec);
                r = add_value(ctl, "cpu.max", buf);
            } else {
                r = add_u64(ctl, "cpu.cfs_period_us", l->cpu_period_usec);
                r = r ?: add_u64(ctl, "cpu.cfs_quota_us", quota);
            }
        }
        if (r == 0 && l->cpu_weight != UINT64_MAX)
            r = state.v2[c] ? add_u64(ctl, "cpu.weight", l->cpu_weight)
                            : add_u64(ctl, "cpu.shares", weight_to_shares(l->cpu_weight));
        break;
    case CTRL_CPUSET: {
        r = add_value(ctl, "cpuset.cpus", l->cpus);
        if (r == 0 && !state.v2[c]) {
            /* v1 needs mems as well before a task may join; take our root's */
            _cleanup_free_ char *p = ctrl_path(c, state.root, "cpuset.mems"), *mems = NULL;
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
        if (state.v2[c]) {
            if (l->memory_max != UINT64_MAX)
                r = add_u64(ctl, "memory.max", l->memory_max);
            if (r == 0 && l->memory_high != UINT64_MAX)
                r = add_u64(ctl, "memory.high", l->memory_high);
            if (r == 0 && l->memory_swap_max != UINT64_MAX)
                r = add_u64(ctl, "memory.swap.max", l->memory_swap_max);
            break;
        }
        /* v1: written in this order, the combined limit must not be below the memory one */
        if (l->memory_max != UINT64_MAX)
            r = add_u64(ctl, "memory.limit_in_bytes", l->memory_max);
        if (l->memory_high != UINT64_MAX)
            *ignored |= CG_IGNORED_MEMORY_HIGH; /* soft_limit is reclaim priority, not this */
        if (l->memory_swap_max != UINT64_MAX) {
            /* memsw counts memory + swap: meaningful only with a memory limit */
            if (l->memory_max == UINT64_MAX || !v1_has_memsw())
                *ignored |= CG_IGNORED_SWAP;
            else if (r == 0)
                r = add_u64(ctl, "memory.memsw.limit_in_bytes",
                            l->memory_max > UINT64_MAX - 1 - l->memory_swap_max
                                ? UINT64_MAX - 1
                                : l->memory_max + l->memory_swap_max);
        }
        break;
    case CTRL_PIDS:
        if (l->tasks_max != UINT64_MAX)
            r = add_u64(ctl, "pids.max", l->tasks_max);
        break;
    default:
        break;
    }
    return r;
}

/* io.max takes one line per device and libcgroup one value per file: written by hand. */
static int write_io_limits(const char *path, const CgLimits *l) {
    static const char *const v1_files[4] = {
        "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
    static const char *const v2_keys[4] = {"rbps", "wbps", "riops", "wiops"};
    char line[256];
    int r;
    for (size_t i = 0; i < l->n_io; i++) {
        const CgIoLimit *io = &l->io[i];
        unsigned maj = major(io->dev), min = minor(io->dev);
        if (state.v2[CTRL_IO]) {
            _cleanup_free_ char *p = ctrl_path(CTRL_IO, path, "io.max");
            int n = snprintf(line, sizeof line, "%u:%u", maj, min);
            for (int t = 0; t < 4; t++) {
                if (io->max[t] == UINT64_MAX)
                    n += snprintf(line + n, sizeof line - (size_t) n, " %s=max", v2_keys[t]);
                else
                    n += snprintf(line + n, sizeof line - (size_t) n, " %s=%" PRIu64,
                                  v2_keys[t], io->max[t]);
            }
            if (!p)
                return -ENOMEM;
            if ((r = write_small(p, line)) < 0)
                return r;
            continue;
        }
        for (int t = 0; t < 4; t++) {
            if (io->max[t] == UINT64_MAX)
                continue;
            _cleanup_free_ char *p = ctrl_path(CTRL_IO, path, v1_files[t]);
            if (!p)
                return -ENOMEM;
            snprintf(line, sizeof line, "%u:%u %" PRIu64, maj, min, io->max[t]);
            if ((r = write_small(p, line)) < 0)
                return r;
        }
    }
    return 0;
}

typedef struct Hier {
    const char *mount;
    bool v2;
} Hier;

/* The distinct hierarchies the group lives in (on v2 every controller shares one). */
static size_t group_hiers(const Cgroup *cg, Hier h[static CG_HIERARCHIES_MAX]) {
    size_t n = 0;
    for (int c = 0; c < _CTRL_MAX; c++) {
        if (!(cg->ctrls & (1u << c)) || !state.mount[c])
            continue;
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup |= streq(h[i].mount, state.mount[c]);
        if (!dup)
            h[n++] = (Hier){state.mount[c], state.v2[c]};
    }
    for (size_t i = 0; i < state.n_extra; i++)
        if (cg->extras & (1u << i))
            h[n++] = (Hier){state.extra[i], state.extra_v2[i]};
    return n;
}

/* A payload that mounts its hierarchy can make groups below its own. We walk and remove
 * them, to this depth; a deeper one keeps the group busy (v2 and hybrid hosts still kill
 * everything through cgroup.kill). */
#define TREE_DEPTH_MAX 32

static bool is_subgroup(const struct dirent *e) {
    return e->d_type == DT_DIR && !streq(e->d_name, ".") && !streq(e->d_name, "..");
}

/* rmdir of name and every group below it, deepest first: -EBUSY while processes remain. */
static int rmdir_tree_at(int dir_fd, const char *name, unsigned depth) {
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        safe_close(fd);
        return -errno;
    }
    int r = 0;
    for (struct dirent *e; depth < TREE_DEPTH_MAX && (e = readdir(d));)
        if (is_subgroup(e)) {
            int k = rmdir_tree_at(dirfd(d), e->d_name, depth + 1);
            if (r == 0)
                r = k;
        }
    if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
        r = -errno;
    return r;
}

static int destroy_in(const Hier *h, size_t n, const char *path) {
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = hier_path(h[i].mount, path, NULL);
        if (!p)
            return -ENOMEM;
        int k = rmdir_tree_at(AT_FDCWD, p, 0);
        if (r == 0)
            r = k;
    }
    return r;
}

static int add_pid(pid_t **pids, size_t *n, pid_t pid) {
    if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4...: grow by doubling */
        pid_t *np = realloc(*pids, (*n ? *n * 2 : 1) * sizeof(pid_t));
        if (!np)
            return -ENOMEM;
        *pids = np;
    }
    (*pids)[(*n)++] = pid;
    return 0;
}

/* The processes of the group at dir_fd/name and of every group below it. */
static int collect_pids_at(int dir_fd, const char *name, unsigned depth, pid_t **pids,
                           size_t *n) {
    _cleanup_free_ char *text = NULL;
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT && depth > 0 ? 0 : -errno; /* raced with its removal */
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        safe_close(fd);
        return -errno;
    }
    _cleanup_close_ int procs = openat(dirfd(d), "cgroup.procs", O_RDONLY | O_CLOEXEC);
    if (procs < 0)
        return errno == ENOENT && depth > 0 ? 0 : -errno;
    int r = read_fd(procs, 1024 * 1024, &text, NULL);
    if (r < 0)
        return r;
    for (char *s = strtok(text, "\n"); s; s = strtok(NULL, "\n"))
        if ((r = add_pid(pids, n, (pid_t) atoi(s))) < 0)
            return r;
    for (struct dirent *e; depth < TREE_DEPTH_MAX && (e = readdir(d));)
        if (is_subgroup(e) && (r = collect_pids_at(dirfd(d), e->d_name, depth + 1, pids, n)) < 0)
            return r;
    return 0;
}

Cgroup *cg_free(Cgroup *cg) {
    if (!cg)
        return NULL;
    free(cg->path);
    free(cg->display);
    free(cg);
    return NULL;
}

static Cgroup *cgroup_alloc(const char *slice, const char *name) {
    _cleanup_free_ char *escaped = cg_escape(name), *rel = NULL;
    Cgroup *cg = calloc(1, sizeof(Cgroup));
    if (!escaped || !cg || asprintf(&rel, "%s/%s", slice, escaped) < 0 ||
        !(cg->path = under_root(rel)) || asprintf(&cg->display, "/%s", cg->path) < 0)
        return cg_free(cg);
    return cg;
}

static unsigned limits_ctrls(const CgLimits *l) {
    unsigned m = 1u << CTRL_MEMORY | 1u << CTRL_PIDS;
    if (state.mount[CTRL_CPUACCT])
        m |= 1u << CTRL_CPUACCT;
    if (l->cpu_quota_permyriad != UINT32_MAX || l->cpu_weight != UINT64_MAX)
        m |= 1u << CTRL_CPU;
    if (l->cpus)
        m |= 1u << CTRL_CPUSET;
    if (l->n_io > 0)
        m |= 1u << CTRL_IO;
    return m;
}

/* Whether path's parent is the slice whose cpuset children start with its cpus and mems. */
static bool cpuset_cloned(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = state.cpuset_clone_slice ? strlen(state.cpuset_clone_slice) : 0;
    return n > 0 && slash && (size_t) (slash - path) == n &&
           strncmp(path, state.cpuset_clone_slice, n) == 0;
}

/* The group in the hierarchies of controllers the unit sets no limit with, and in the extra
 * ones: a plain mkdir, as libcgroup would chown every file of each (~1 ms per start here).
 * EEXIST is fine, as for libcgroup (on v2 it is the one directory libcgroup made). */
static int create_unlimited(Cgroup *cg, unsigned ctrls) {
    for (int c = 0; c < _CTRL_MAX; c++) {
        if (!(ctrls & (1u << c)) || !state.mount[c])
            continue;
        _cleanup_free_ char *p = ctrl_path((Ctrl) c, cg->path, NULL);
        if (!p)
            return -ENOMEM;
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        cg->ctrls |= 1u << c;
        if (c == CTRL_CPUSET && !state.v2[c] && !cpuset_cloned(cg->path))
            /* v1 admits no task while cpus or mems is empty, as a new group's are */
            for (int i = 0; i < 2; i++) {
                const char *f = i == 0 ? "cpuset.cpus" : "cpuset.mems";
                _cleanup_free_ char *from = ctrl_path((Ctrl) c, state.root, f), *v = NULL;
                _cleanup_free_ char *to = ctrl_path((Ctrl) c, cg->path, f);
                int r = from && to ? read_small(from, &v) : -ENOMEM;
                if (r < 0 || (r = write_small(to, v)) < 0)
                    return r;
            }
    }
    for (size_t i = 0; i < state.n_extra; i++) {
        _cleanup_free_ char *p = hier_path(state.extra[i], cg->path, NULL);
        if (!p)
            return -ENOMEM;
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        cg->extras |= 1u << i;
    }
    return 0;
}

const char *cg_missing_controller(const CgLimits *l) {
    unsigned m = limits_ctrls(l);
    for (int c = 0; c < _CTRL_MAX; c++)
        if ((m & (1u << c)) && !state.mount[c])
            return c == CTRL_IO && state.layout == CG_LAYOUT_V1 ? "blkio" : ctrl_names[c];
    return NULL;
}

int cg_create(const char *slice, const char *name, const CgLimits *l, Cgroup **ret,
              unsigned *ret_ignored) {
    Cgroup *cg = cgroup_alloc(slice, name);
    struct cgroup *lc = NULL;
    unsigned ignored = 0;
    int r = 0;

    if (!cg)
        return -ENOMEM;
    cg->ctrls = limits_ctrls(l);
    if (cg_missing_controller(l)) {
        r = -EOPNOTSUPP; /* asked for a limit this host cannot enforce */
        goto fail;
    }

    lc = cgroup_new_cgroup(cg->path);
    if (!lc) {
        r = -ENOMEM;
        goto fail;
    }
    for (int c = 0; c < _CTRL_MAX && r == 0; c++) {
        if (!(cg->ctrls & (1u << c)))
            continue;
        struct cgroup_controller *ctl = cgroup_add_controller(lc, ctrl_name((Ctrl) c));
        r = ctl ? add_limits(ctl, (Ctrl) c, l, &ignored) : -ENOMEM;
    }
    if (r == 0)
        r = cg_errno(cgroup_create_cgroup(lc, 0));
    if (r == 0)
        r = write_io_limits(cg->path, l);
    if (r == 0) /* every other hierarchy too: see the top of the file */
        r = create_unlimited(cg, slice_ctrls() & ~cg->ctrls);
    cgroup_free(&lc);
    if (r < 0) {
        /* cgroup_create_cgroup makes the directories before writing values: undo them */
        Hier h[CG_HIERARCHIES_MAX];
        (void) destroy_in(h, group_hiers(cg, h), cg->path);
        goto fail;
    }
    *ret = cg;
    if (ret_ignored)
        *ret_ignored = ignored;
    return 0;

fail:
    cg_free(cg);
    return r;
}

int cg_open(const char *slice, const char *name, Cgroup **ret) {
    Cgroup *cg = cgroup_alloc(slice, name);
    if (!cg)
        return -ENOMEM;
    for (int c = 0; c < _CTRL_MAX; c++) {
        struct stat st;
        _cleanup_free_ char *p = state.mount[c] ? ctrl_path((Ctrl) c, cg->path, NULL) : NULL;
        if (p && stat(p, &st) >= 0 && S_ISDIR(st.st_mode))
            cg->ctrls |= 1u << c;
    }
    for (size_t i = 0; i < state.n_extra; i++) {
        struct stat st;
        _cleanup_free_ char *p = hier_path(state.extra[i], cg->path, NULL);
        if (p && stat(p, &st) >= 0 && S_ISDIR(st.st_mode))
            cg->extras |= 1u << i;
    }
    /* any of them: a creation cut short (a sandboxd killed in cg_create) left only some */
    if (!cg->ctrls && !cg->extras) {
        cg_free(cg);
        return -ENOENT;
    }
    *ret = cg;
    return 0;
}

int cg_open_dir(const Cgroup *cg, int *ret_index) {
    /* the one cgroup2 hierarchy the group is in: the only one on v2, the unified one beside
     * the v1 ones of a hybrid host */
    Hier h[CG_HIERARCHIES_MAX];
    size_t n = group_hiers(cg, h);
    for (size_t i = 0; i < n; i++) {
        if (!h[i].v2)
            continue;
        _cleanup_free_ char *p = hier_path(h[i].mount, cg->path, NULL);
        if (!p)
            return -ENOMEM;
        int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        if (ret_index)
            *ret_index = (int) i;
        return fd;
    }
    return -EOPNOTSUPP;
}

const char *cg_display_path(const Cgroup *cg) {
    return cg->display;
}

int cg_open_procs_fds(const Cgroup *cg, int *fds, size_t max) {
    Hier h[CG_HIERARCHIES_MAX];
    size_t n = group_hiers(cg, h);
    if (n > max)
        return -ERANGE;
    for (size_t i = 0; i < n; i++) {
        /* v1: "tasks", which moves the writing thread alone. A move by cgroup.procs takes the
         * global threadgroup lock for writing, which waits out an RCU grace period (~12 ms
         * here) whenever no move happened in the last one: most starts. The child that writes
         * is a single thread, so both files move the same. v2 has no such file (and clone3
         * puts the child straight into its group there). */
        const char *file = h[i].v2 ? "cgroup.procs" : "tasks";
        _cleanup_free_ char *p = hier_path(h[i].mount, cg->path, file);
        fds[i] = p ? open(p, O_WRONLY | O_CLOEXEC) : -ENOMEM;
        if (fds[i] < 0) {
            int r = p ? -errno : -ENOMEM;
            while (i > 0)
                safe_close(fds[--i]);
            return r;
        }
    }
    return (int) n;
}

int cg_read_pids(const Cgroup *cg, pid_t **ret, size_t *ret_n) {
    _cleanup_free_ char *p = ctrl_path(procs_ctrl(), cg->path, NULL);
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    if (!p)
        return -ENOMEM;
    int r = collect_pids_at(AT_FDCWD, p, 0, &pids, &n);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(pids);
    *ret_n = n;
    return 0;
}

int cg_kill(const Cgroup *cg, int sig) {
    Hier h[CG_HIERARCHIES_MAX];
    size_t n_h = group_hiers(cg, h);
    for (size_t i = 0; i < n_h && sig == SIGKILL; i++)
        if (h[i].v2) {
            /* 5.14+: the kernel kills the whole subtree, forks included; a hybrid host's
             * unified group holds every process too, controller or not */
            _cleanup_free_ char *p = hier_path(h[i].mount, cg->path, "cgroup.kill");
            if (!p)
                return -ENOMEM;
            if (write_small(p, "1") >= 0)
                return 0;
            break;
        }
    /* Without cgroup.kill a process may fork while we walk the list: go round until a pass
     * finds nobody new. */
    for (int round = 0; round < 32; round++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n;
        int r = cg_read_pids(cg, &pids, &n);
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

/* The group's file in its cgroup2 hierarchy (the only one on v2, the unified one of a hybrid
 * host), where the freezer is (5.2+: in every group, controller or not). */
static int v2_file(const Cgroup *cg, const char *file, char **ret) {
    Hier h[CG_HIERARCHIES_MAX];
    size_t n_h = group_hiers(cg, h);
    for (size_t i = 0; i < n_h; i++)
        if (h[i].v2) {
            *ret = hier_path(h[i].mount, cg->path, file);
            return *ret ? 0 : -ENOMEM;
        }
    return -EOPNOTSUPP;
}

int cg_freeze(const Cgroup *cg, bool freeze) {
    _cleanup_free_ char *p = NULL;
    int r = v2_file(cg, "cgroup.freeze", &p);
    return r < 0 ? r : write_small(p, freeze ? "1" : "0");
}

int cg_is_frozen(const Cgroup *cg) {
    _cleanup_free_ char *p = NULL;
    uint64_t frozen = 0;
    int r = v2_file(cg, "cgroup.events", &p);
    if (r >= 0)
        r = read_keyed(p, "frozen", &frozen);
    return r < 0 ? r : frozen != 0;
}

int cg_is_empty(const Cgroup *cg) {
    _cleanup_free_ pid_t *pids = NULL;
    size_t n;
    int r = cg_read_pids(cg, &pids, &n);
    if (r == -ENOENT)
        return 1;
    if (r < 0)
        return r;
    return n == 0;
}

int cg_destroy(Cgroup *cg) {
    Hier h[CG_HIERARCHIES_MAX];
    return destroy_in(h, group_hiers(cg, h), cg->path);
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

/* Bytes read and written, summed over devices: v2 io.stat ("8:0 rbytes=N wbytes=N ..."), v1
 * blkio.throttle.io_service_bytes ("8:0 Read N"). */
static void read_io_bytes(const Cgroup *cg, uint64_t *rd, uint64_t *wr) {
    bool v2 = state.v2[CTRL_IO];
    _cleanup_free_ char *p = NULL, *text = NULL;
    if (!state.mount[CTRL_IO] || (!v2 && !(cg->ctrls & (1u << CTRL_IO))))
        return;
    p = ctrl_path(CTRL_IO, cg->path, v2 ? "io.stat" : "blkio.throttle.io_service_bytes");
    if (!p || read_small(p, &text) < 0)
        return;
    uint64_t r = 0, w = 0;
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long long a, b;
        char *x;
        if (v2) {
            if ((x = strstr(l, "rbytes=")) && sscanf(x, "rbytes=%llu", &a) == 1)
                r += a;
            if ((x = strstr(l, "wbytes=")) && sscanf(x, "wbytes=%llu", &b) == 1)
                w += b;
        } else if (sscanf(l, "%*u:%*u Read %llu", &a) == 1)
            r += a;
        else if (sscanf(l, "%*u:%*u Write %llu", &b) == 1)
            w += b;
    }
    *rd = r;
    *wr = w;
}

int cg_read_stats(const Cgroup *cg, CgStats *ret) {
    CgStats s = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
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
    read_io_bytes(cg, &s.io_read_bytes, &s.io_write_bytes);
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

int cg_move_self_to_leaf(const char *leaf) {
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    _cleanup_free_ char *line = NULL, *mount = NULL, *own = NULL, *dir = NULL, *procs = NULL;
    size_t size = 0;
    if (!f)
        return -errno;
    while (!mount && getline(&line, &size, f) > 0) {
        _cleanup_free_ char *m = NULL;
        bool v2;
        int r = cg_mountinfo_hierarchy(line, &m, &v2);
        if (r == -ENOMEM)
            return r;
        if (r > 0 && v2)
            mount = TAKE_PTR(m);
    }
    if (!mount)
        return -EOPNOTSUPP; /* v1 only: no rule against processes beside groups */
    int r = own_v2_cgroup(&own);
    if (r < 0)
        return r;
    if (asprintf(&dir, "%s/%s%s%s", mount, own, *own ? "/" : "", leaf) < 0 ||
        asprintf(&procs, "%s/cgroup.procs", dir) < 0)
        return -ENOMEM;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    return write_small(procs, "0");
}
