/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Escapes a name for use as a cgroup directory, as systemd does: names that could be taken for
 * a kernel control file ("cgroup.procs", "tasks", "cpu.max"...) or that start with '_' or '.'
 * get a '_' prefix. NULL on OOM. */
char *cg_escape(const char *name);

/* The first path in the text of a /proc/PID/cgroup file (lines "ID:CONTROLLERS:PATH", one per
 * hierarchy) that is prefix or lies below it; NULL when none does. prefix: "/sandbox.slice".
 * Points into text. */
const char *cg_text_find_path_under(const char *text, const char *prefix, size_t *ret_len);
