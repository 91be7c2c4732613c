/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-util.h"
#include "macro.h"

char *cg_escape(const char *name) {
    static const char *const controllers[] = {
        "cpu", "cpuacct", "cpuset", "memory", "pids", "io", "blkio", "devices", "freezer",
        "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "cgroup",
    };
    bool prefix = name[0] == '_' || name[0] == '.' || streq(name, "notify_on_release") ||
                  streq(name, "release_agent") || streq(name, "tasks");
    const char *dot = strchr(name, '.');
    if (!prefix && dot)
        for (size_t i = 0; i < ELEMENTSOF(controllers); i++)
            if ((size_t) (dot - name) == strlen(controllers[i]) &&
                strncmp(name, controllers[i], (size_t) (dot - name)) == 0)
                prefix = true;
    char *r;
    if (asprintf(&r, "%s%s", prefix ? "_" : "", name) < 0)
        return NULL;
    return r;
}
