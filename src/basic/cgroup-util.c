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

const char *cg_text_find_path_under(const char *text, const char *prefix, size_t *ret_len) {
    size_t n = strlen(prefix);
    for (const char *l = text; *l;) {
        size_t len = strcspn(l, "\n");
        const char *c1 = memchr(l, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - l)) : NULL;
        if (c2) {
            const char *path = c2 + 1;
            size_t plen = len - (size_t) (path - l);
            if (plen >= n && memcmp(path, prefix, n) == 0 && (plen == n || path[n] == '/')) {
                if (ret_len)
                    *ret_len = plen;
                return path;
            }
        }
        l += len + (l[len] == '\n');
    }
    return NULL;
}
