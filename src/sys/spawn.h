/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "init-protocol.h"

/* Starts the sandbox's init in new namespaces, inside its cgroup.
 *
 * With a cgroup2 hierarchy the child is made with clone3(CLONE_INTO_CGROUP|CLONE_VFORK), born
 * inside the sandbox's group there, and on a hybrid host joins the v1 hierarchies by writing
 * "0" to their tasks files. Elsewhere (pure v1, or kernels before 5.7) it is cloned with
 * CLONE_VM|CLONE_VFORK, copying no page tables however large the daemon grows (a fork from a
 * 1 GiB process costs ~22 ms here, this ~2 ms), and joins every hierarchy by writing. A
 * cgroup.procs write waits out an RCU grace period (~12 ms) after a quiet spell; being born
 * in the group or writing tasks does not. Either way the daemon is suspended until the child
 * has exec'd the init; between clone and exec the child only makes system calls, and reports
 * a failure through a shared page. */

typedef struct SpawnParams {
    unsigned long clone_flags; /* CLONE_NEW* other than CLONE_NEWCGROUP */
    bool cgroup_ns;            /* unshare the cgroup namespace after joining the cgroup */
    int cgroup_dir_fd;         /* the group's directory in its cgroup2 hierarchy, for
                                * clone3(CLONE_INTO_CGROUP); -EBADF: none */
    const int *cgroup_fds;     /* cg_open_procs_fds(): of each hierarchy, written "0" to join */
    size_t n_cgroup_fds;
    int cgroup_dir_index; /* the entry of cgroup_fds that a birth in cgroup_dir_fd makes
                           * needless; -1: none */
    /* what the init gets, by InitFd number; -EBADF: not handed over (only INIT_FD_USERNS
     * may be absent). Every other descriptor is closed before the init is exec'd. */
    int fds[_INIT_FD_MAX];
    uint64_t nofile_soft; /* the init's soft RLIMIT_NOFILE when below the current; 0: keep */
    const char *init_path;
} SpawnParams;

typedef struct SpawnError {
    const char *step; /* "clone3", "clone", "cgroup", "cgroupns", "fds", "exec-init" */
} SpawnError;

/* On success returns the init's pid and a pidfd for it, and 1 when it was born in its cgroup2
 * group (clone3), 0 when it joined every hierarchy by writing. */
int spawn_init(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd, SpawnError *e);

/* A health probe (sandboxd-init --probe FLAGS) in a running sandbox: the child joins the
 * sandbox's cgroup (cgroup_fds) and execs the init binary from init_fd with the probe's plan on
 * PROBE_FD_PLAN, the sandbox init's pidfd on PROBE_FD_NS (the runner enters the namespaces
 * ns_flags names through it: never the user namespace, which only the payload enters; the PID
 * namespace for its children), the payload's user namespace on PROBE_FD_USERNS (-EBADF: none)
 * and out_fd as stdout and stderr. */
#define PROBE_FD_PLAN 4
#define PROBE_FD_NS 5
#define PROBE_FD_USERNS 6
/* the runner's exit status when the probe could not be run at all (not the command's) */
#define PROBE_EXIT_SETUP 125

typedef struct ProbeSpawnParams {
    int ns_pidfd;
    int ns_flags;
    const int *cgroup_fds;
    size_t n_cgroup_fds;
    int plan_fd, userns_fd, out_fd, init_fd;
} ProbeSpawnParams;

int spawn_probe(const ProbeSpawnParams *p, pid_t *ret_pid, int *ret_pidfd, SpawnError *e);
