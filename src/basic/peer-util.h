/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Who is at the other end of a connected unix socket, in a way that survives pid reuse.
 * *ret_pid is the peer's pid in our pid namespace and *ret_pidfd a pidfd for it. With
 * SO_PEERPIDFD (Linux 6.5+) the kernel pins the very process that connected and 1 is
 * returned; before that the pidfd comes from pidfd_open(pid) and 0 is returned: the caller
 * must check the process is not a later one that reused the pid (pid_started_before()).
 * -ESRCH when the peer is gone or has no pid in our namespace. */
int peer_pidfd(int sockfd, pid_t *ret_pid, int *ret_pidfd);

/* 0 while the process of pidfd has not exited, -ESRCH once it has. */
int pidfd_check_alive(int pidfd);

/* Clock ticks since boot (the unit of /proc/PID/stat's start time), now. */
uint64_t boot_time_ticks(void);

/* 1 when /proc/PID/ns/NS (e.g. "pid") is the same namespace as ours, 0 when not. */
int pid_shares_namespace(pid_t pid, const char *ns);
