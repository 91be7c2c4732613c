/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Escapes a name for use as a cgroup directory, as systemd does: names that could be taken for
 * a kernel control file ("cgroup.procs", "tasks", "cpu.max"...) or that start with '_' or '.'
 * get a '_' prefix. NULL on OOM. */
char *cg_escape(const char *name);
