/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): with the
 * pid it names one process for good, across pid reuse. */
int pid_get_start_time(pid_t pid, uint64_t *ret);
/* Same, from the text of a /proc/PID/stat file (for tests). */
int parse_stat_start_time(const char *stat, uint64_t *ret);
/* Its state letter (R, S, D, T...) and the CPU time it used (utime + stime, clock ticks):
 * fields 3, 14 and 15 of /proc/PID/stat. */
int pid_get_cpu(pid_t pid, char *ret_state, uint64_t *ret_ticks);
int parse_stat_cpu(const char *stat, char *ret_state, uint64_t *ret_ticks);
/* A child of pid, found by scanning /proc (kernels without CONFIG_PROC_CHILDREN have no
 * children file); -ESRCH when it has none. For rare paths only. */
int pid_find_child(pid_t pid, pid_t *ret);
