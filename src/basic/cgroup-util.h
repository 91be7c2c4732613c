/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Escapes a name for use as a cgroup directory, as systemd does: names that could be taken for
 * a kernel control file ("cgroup.procs", "tasks", "cpu.max"...) or that start with '_' or '.'
 * get a '_' prefix. NULL on OOM. */
char *cg_escape(const char *name);

/* Reads one line of /proc/self/mountinfo. Returns 1 when it is a cgroup hierarchy ("cgroup" or
 * "cgroup2") mounted at the hierarchy's root, with the mount point (octal escapes undone) and
 * whether it is cgroup2; 0 for any other line (other file systems, a sub-tree of a hierarchy
 * bind-mounted or seen from another cgroup namespace); -EINVAL when the line is malformed. */
int cg_mountinfo_hierarchy(const char *line, char **ret_mount, bool *ret_v2);

/* The first path in the text of a /proc/PID/cgroup file (lines "ID:CONTROLLERS:PATH", one per
 * hierarchy) that is prefix or lies below it; NULL when none does. prefix: "/sandbox.slice".
 * Points into text. */
const char *cg_text_find_path_under(const char *text, const char *prefix, size_t *ret_len);
