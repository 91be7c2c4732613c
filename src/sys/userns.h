/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Creates a user namespace that maps ids 0..size-1 to base..base+size-1 on the host, through a
 * short-lived helper child (a namespace needs a process to be created in), and returns an fd to
 * it: for idmapped mounts, and for the payload to enter. The caller keeps every privilege and
 * every other namespace it had. */
int userns_create(uid_t base, uint32_t size, int *ret_fd);
/* (It must run where /proc shows the caller's own pid namespace: the maps are written through
 * /proc/PID of the helper.) */
