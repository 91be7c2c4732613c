/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sysinfo-view.h"

#define SI_LOAD_SCALE 65536.0 /* 1 << SI_LOAD_SHIFT */

/* "Key:   123 kB" of meminfo, in bytes; false when absent. */
static bool meminfo_value(const char *text, const char *key, unsigned long *ret) {
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long long kb;
        if (strncmp(l, key, kl) == 0 && l[kl] == ':' &&
            sscanf(l + kl + 1, "%llu", &kb) == 1 && kb <= UINT64_MAX / 1024) {
            *ret = (unsigned long) (kb * 1024);
            return true;
        }
    }
    return false;
}

int sysinfo_from_proc(const char *meminfo, const char *uptime, const char *loadavg,
                      struct sysinfo *si) {
    double up, l1, l5, l15;
    unsigned running, total;
    *si = (struct sysinfo){.mem_unit = 1};
    if (sscanf(uptime, "%lf", &up) != 1 || up < 0 || up > 1e12)
        return -EINVAL;
    if (sscanf(loadavg, "%lf %lf %lf %u/%u", &l1, &l5, &l15, &running, &total) != 5 ||
        l1 < 0 || l5 < 0 || l15 < 0 || l1 > 1e6 || l5 > 1e6 || l15 > 1e6)
        return -EINVAL;
    if (!meminfo_value(meminfo, "MemTotal", &si->totalram) ||
        !meminfo_value(meminfo, "MemFree", &si->freeram))
        return -EINVAL;
    si->uptime = (long) up;
    si->loads[0] = (unsigned long) (l1 * SI_LOAD_SCALE);
    si->loads[1] = (unsigned long) (l5 * SI_LOAD_SCALE);
    si->loads[2] = (unsigned long) (l15 * SI_LOAD_SCALE);
    (void) meminfo_value(meminfo, "Shmem", &si->sharedram);
    (void) meminfo_value(meminfo, "Buffers", &si->bufferram);
    (void) meminfo_value(meminfo, "SwapTotal", &si->totalswap);
    (void) meminfo_value(meminfo, "SwapFree", &si->freeswap);
    si->procs = total > 65535 ? 65535 : (unsigned short) total;
    return 0;
}

_Static_assert(sizeof(SysinfoCompat32) == 64, "the kernel's compat_sysinfo");

void sysinfo_to_compat32(const struct sysinfo *si, SysinfoCompat32 *ret) {
    unsigned long v[8] = {si->totalram, si->freeram,   si->sharedram, si->bufferram,
                          si->totalswap, si->freeswap, si->totalhigh, si->freehigh};
    unsigned unit = si->mem_unit ? si->mem_unit : 1, shift = 0;
    if (si->totalram > UINT32_MAX || si->totalswap > UINT32_MAX)
        while (unit < 4096) {
            unit <<= 1;
            shift++;
        }
    *ret = (SysinfoCompat32){
        .uptime = si->uptime > INT32_MAX ? INT32_MAX : (int32_t) si->uptime,
        .loads = {(uint32_t) si->loads[0], (uint32_t) si->loads[1], (uint32_t) si->loads[2]},
        .totalram = (uint32_t) (v[0] >> shift), .freeram = (uint32_t) (v[1] >> shift),
        .sharedram = (uint32_t) (v[2] >> shift), .bufferram = (uint32_t) (v[3] >> shift),
        .totalswap = (uint32_t) (v[4] >> shift), .freeswap = (uint32_t) (v[5] >> shift),
        .procs = si->procs, .totalhigh = (uint32_t) (v[6] >> shift),
        .freehigh = (uint32_t) (v[7] >> shift), .mem_unit = unit};
}

int maps_writable_step(const char *line, uint64_t *cur, uint64_t end) {
    unsigned long long start, stop;
    char perms[5];
    if (sscanf(line, "%llx-%llx %4s", &start, &stop, perms) != 3 || stop <= start)
        return 0; /* not a mapping line: nothing it says */
    if (stop <= *cur)
        return 0; /* below the range */
    if (start > *cur || perms[1] != 'w')
        return -EFAULT; /* a hole, or read-only: the kernel's sysinfo() would fault */
    *cur = stop;
    return *cur >= end ? 1 : 0;
}
