/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* sysinfo(2) as a sandbox's proc view says it: a payload's sysinfo() is answered by its init
 * (seccomp user notification) from the lxcfs-backed /proc files it reads, so `free` and
 * `uptime`, which call sysinfo() rather than read /proc, show the sandbox too. Pure. */

#include <stdint.h>
#include <sys/sysinfo.h>

/* Fills si from the texts of /proc/meminfo, /proc/uptime and /proc/loadavg; -EINVAL when one
 * lacks a value it needs (MemTotal, MemFree, the uptime, three loads). Sizes in bytes
 * (mem_unit 1). */
int sysinfo_from_proc(const char *meminfo, const char *uptime, const char *loadavg,
                      struct sysinfo *si);

/* struct sysinfo of a 32-bit (i386) caller: the kernel's compat_sysinfo. */
typedef struct SysinfoCompat32 {
    int32_t uptime;
    uint32_t loads[3];
    uint32_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs, pad;
    uint32_t totalhigh, freehigh, mem_unit;
    char _f[8];
} SysinfoCompat32;

/* si as the kernel gives it to a 32-bit caller: sizes that do not fit 32 bits are counted in
 * pages instead (mem_unit raised to 4096), as do_compat_sysinfo() does. */
void sysinfo_to_compat32(const struct sysinfo *si, SysinfoCompat32 *ret);

/* One line of /proc/PID/maps ("START-END PERMS ...", in address order) against the range
 * [*cur, end) a write must cover: 1 when the range is covered by writable mappings up to here,
 * 0 to read the next line, -EFAULT when part of it is unmapped or not writable. */
int maps_writable_step(const char *line, uint64_t *cur, uint64_t end);
