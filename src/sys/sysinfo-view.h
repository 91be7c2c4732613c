/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* sysinfo(2) as a sandbox's proc view says it: a payload's sysinfo() is answered by its init
 * (seccomp user notification) from the lxcfs-backed /proc files it reads, so `free` and
 * `uptime`, which call sysinfo() rather than read /proc, show the sandbox too. Pure. */

#include <sys/sysinfo.h>

/* Fills si from the texts of /proc/meminfo, /proc/uptime and /proc/loadavg; -EINVAL when one
 * lacks a value it needs (MemTotal, MemFree, the uptime, three loads). Sizes in bytes
 * (mem_unit 1). */
int sysinfo_from_proc(const char *meminfo, const char *uptime, const char *loadavg,
                      struct sysinfo *si);
