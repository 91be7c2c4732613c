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
