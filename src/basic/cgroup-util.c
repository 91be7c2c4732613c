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

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s, size_t n) {
    char *r = malloc(n + 1), *o = r;
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            *o++ = (char) ((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
            i += 3;
        } else
            *o++ = s[i];
    }
    *o = 0;
    return r;
}

/* The n-th space-separated field of s (0-based), with its length; NULL past the end. */
static const char *field(const char *s, unsigned n, size_t *len) {
    for (;;) {
        s += strspn(s, " ");
        if (!*s || *s == '\n')
            return NULL;
        size_t l = strcspn(s, " \n");
        if (n-- == 0) {
            *len = l;
            return s;
        }
        s += l;
    }
}

int cg_mountinfo_hierarchy(const char *line, char **ret_mount, bool *ret_v2) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS */
    size_t root_len = 0, mp_len = 0, len = 0;
    const char *root = field(line, 3, &root_len), *mp = field(line, 4, &mp_len), *f;
    if (!root || !mp)
        return -EINVAL;
    unsigned i = 6;
    while ((f = field(line, i, &len)) && !(len == 1 && *f == '-'))
        i++;
    if (!f || !(f = field(line, i + 1, &len)))
        return -EINVAL;
    bool v2 = len == 7 && strncmp(f, "cgroup2", 7) == 0;
    if (!v2 && !(len == 6 && strncmp(f, "cgroup", 6) == 0))
        return 0;
    if (root_len != 1 || *root != '/')
        return 0;
    char *m = unescape_octal(mp, mp_len);
    if (!m)
        return -ENOMEM;
    *ret_mount = m;
    *ret_v2 = v2;
    return 1;
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
