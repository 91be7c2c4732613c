/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One cgroup per sandbox, in every hierarchy mounted when cg_init() ran: on cgroup v1 one
 * directory per controller hierarchy (limited or not), per named hierarchy (name=systemd) and in
 * the unified one of a hybrid host; on v2 one directory in the unified tree. The layout is read
 * from the mount table at cg_init(); nothing here assumes either. */

/* The most hierarchies a host may have mounted (cg_init() fails with -E2BIG beyond): the size
 * of the array given to cg_open_procs_fds(). */
#define CG_HIERARCHIES_MAX 32

typedef enum CgLayout {
    CG_LAYOUT_V1, /* our controllers are on v1 hierarchies (also "hybrid" hosts) */
    CG_LAYOUT_V2, /* our controllers are on the unified hierarchy */
} CgLayout;

typedef struct CgIoLimit {
    dev_t dev;        /* a whole disk */
    uint64_t max[4];  /* read bytes/s, write bytes/s, read IOPS, write IOPS; UINT64_MAX: none */
} CgIoLimit;

typedef struct CgLimits {
    uint32_t cpu_quota_permyriad; /* UINT32_MAX: none */
    uint64_t cpu_period_usec;
    uint64_t cpu_weight; /* 1..10000, v2's scale; UINT64_MAX: none (also below) */
    const char *cpus; /* kernel list "0-1,3"; NULL: none */
    uint64_t memory_max;
    uint64_t memory_high;
    uint64_t memory_swap_max;
    uint64_t tasks_max;
    const CgIoLimit *io;
    size_t n_io;
} CgLimits;

/* Limits cg_create() left out because this layout has no file for them. */
enum {
    CG_IGNORED_MEMORY_HIGH = 1 << 0, /* v1 */
    CG_IGNORED_SWAP = 1 << 1,        /* v1 without swap accounting, or without MemoryMax= */
};

typedef struct CgStats {
    uint64_t memory_current; /* UINT64_MAX when unknown, for each field */
    uint64_t cpu_usage_nsec;
    uint64_t tasks_current;
    uint64_t io_read_bytes, io_write_bytes; /* all devices; v1: only with an IO limit's group */
} CgStats;

typedef struct Cgroup Cgroup;

/* Reads the controller mount table and picks our root in each hierarchy; call once at
 * start-up. root: "" for the hierarchy's root, a path like "system.slice/x.service", or NULL
 * to choose: on v2, our own group if a service manager delegated it (systemd's Delegate=yes
 * marks it with the trusted.delegate xattr), else the hierarchy's root. When our root is our
 * own group, this process moves into root/supervisor, since v2 lets no process live in a
 * group that hands controllers down. */
int cg_init(const char *root, CgLayout *ret_layout);
/* "" or "system.slice/sandboxd.service" */
const char *cg_root(void);
/* We live in root/supervisor (moved there, or started there). */
bool cg_root_is_delegated(void);
const char *cg_layout_to_string(CgLayout l);

/* Creates the parent "slice" (e.g. "sandbox.slice") below our root in every hierarchy we
 * use; on v2 enables our controllers in cgroup.subtree_control of the root and the slice. */
int cg_create_slice(const char *slice);
/* Removes the slice if it is empty; -EBUSY when not. */
int cg_remove_slice(const char *slice);

/* The controller the limits need that we cannot use here ("cpuset", "io"...), or NULL. */
const char *cg_missing_controller(const CgLimits *l);
/* Creates slice/name in every hierarchy, with the limits written. On failure nothing is left
 * behind. Limits the layout cannot express are skipped and reported in *ret_ignored
 * (CG_IGNORED_*).
 * -EOPNOTSUPP when cg_missing_controller() names one. */
int cg_create(const char *slice, const char *name, const CgLimits *l, Cgroup **ret,
              unsigned *ret_ignored);
Cgroup *cg_free(Cgroup *cg);
/* Attaches to an existing slice/name, in the hierarchies where it exists (re-adoption of a
 * running sandbox). -ENOENT when it exists nowhere. */
int cg_open(const char *slice, const char *name, Cgroup **ret);

/* An O_PATH fd of the group's directory in its cgroup2 hierarchy (the only one on v2, the
 * unified one of a hybrid host), for clone3(CLONE_INTO_CGROUP); *ret_index (may be NULL): that
 * hierarchy's place in cg_open_procs_fds()'s array. -EOPNOTSUPP without a cgroup2 hierarchy. */
int cg_open_dir(const Cgroup *cg, int *ret_index);

/* "/sandbox.slice/web.unit" */
const char *cg_display_path(const Cgroup *cg);

/* Opens cgroup.procs of each hierarchy (tasks on v1), O_WRONLY|O_CLOEXEC, for a child that
 * joins by writing "0" before it execs; the child must be single-threaded. Returns the number
 * of fds, -ERANGE when more than max (give it CG_HIERARCHIES_MAX). */
int cg_open_procs_fds(const Cgroup *cg, int *fds, size_t max);

/* Sends sig to every process in the cgroup and the groups below it (for SIGKILL, cgroup.kill of
 * the group on a v2 hierarchy: the unified one of a hybrid host too). */
int cg_kill(const Cgroup *cg, int sig);
/* Moves the calling process into the leaf group LEAF below its own group of the cgroup2
 * hierarchy (made if missing), so that its own group may hand controllers down to others;
 * -EOPNOTSUPP without a cgroup2 hierarchy. Needs no cg_init(). */
int cg_move_self_to_leaf(const char *leaf);
/* Every process of the group and of the groups a payload made below it (*ret: free()). */
int cg_read_pids(const Cgroup *cg, pid_t **ret, size_t *ret_n);
/* Freezes or thaws the group and the groups below it, through its cgroup2 hierarchy;
 * -EOPNOTSUPP without one (pure v1: we make no group in a v1 freezer hierarchy). Frozen once
 * every task has stopped (a task in an uninterruptible sleep delays it): cg_is_frozen() says
 * when, 1 or 0. */
int cg_freeze(const Cgroup *cg, bool freeze);
int cg_is_frozen(const Cgroup *cg);
/* 1 when no process is left (below it either), 0 when some are, negative errno on error. */
int cg_is_empty(const Cgroup *cg);
/* rmdir in every hierarchy, of the groups a payload made below it too; -EBUSY while processes
 * remain. Never migrates processes away. */
int cg_destroy(Cgroup *cg);

int cg_read_stats(const Cgroup *cg, CgStats *ret);
/* Number of processes the kernel's OOM killer killed in this cgroup. */
int cg_read_oom_kills(const Cgroup *cg, uint64_t *ret);
/* Path of a file of the group in the hierarchy of the named controller (tests and status). */
int cg_file_path(const Cgroup *cg, const char *controller, const char *file, char **ret);
