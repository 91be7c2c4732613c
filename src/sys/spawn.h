/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Starts the sandbox's init in new namespaces, inside its cgroup.
 *
 * The child is cloned with CLONE_VM|CLONE_VFORK: no page tables are copied however large the
 * daemon grows (a fork from a 1 GiB process costs ~22 ms here, this ~2 ms), and the daemon is
 * suspended until the child has exec'd the init. Between clone and exec the child only makes
 * system calls; it writes failures into memory the parent reads afterwards. */

typedef struct SpawnParams {
    unsigned long clone_flags; /* CLONE_NEW* other than CLONE_NEWCGROUP */
    bool cgroup_ns;            /* unshare the cgroup namespace after joining the cgroup */
    const int *cgroup_fds;     /* cgroup.procs of each hierarchy, written "0" to join */
    size_t n_cgroup_fds;
    int stdin_fd, output_fd; /* 0 and 1+2 of the init and its payload */
    int sync_fd;             /* becomes fd 3 */
    int plan_fd;             /* becomes fd 4 */
    int exit_fd;             /* becomes fd 5: where the init records the payload's end */
    int userns_fd;           /* becomes fd 6 when >= 0: the payload's user namespace */
    const char *init_path;
} SpawnParams;

typedef struct SpawnError {
    const char *step; /* "cgroup", "cgroupns", "fds", "exec-init" */
} SpawnError;

/* On success returns 0 with the init's pid and a pidfd for it. */
int spawn_init(const SpawnParams *p, pid_t *ret_pid, int *ret_pidfd, SpawnError *e);

#define SPAWN_SYNC_FD 3
#define SPAWN_PLAN_FD 4
#define SPAWN_EXIT_FD 5
#define SPAWN_USERNS_FD 6
