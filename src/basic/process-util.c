/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "path-util.h"
#include "process-util.h"

/* Field `field` (1-based, as proc(5) counts, >= 3) of a /proc/PID/stat text into buf. */
static int stat_field(const char *stat, int field, char *buf, size_t size) {
    /* the command name may hold spaces and ')': fields start after the last ')' */
    const char *p = strrchr(stat, ')');
    if (!p || field < 3)
        return -EBADMSG;
    p++;
    for (int f = 3; f < field; f++) {
        p += strspn(p, " ");
        p += strcspn(p, " ");
        if (!*p)
            return -EBADMSG;
    }
    p += strspn(p, " ");
    size_t n = strcspn(p, " \n");
    if (n == 0 || n >= size)
        return -EBADMSG;
    memcpy(buf, p, n);
    buf[n] = 0;
    return 0;
}

int parse_stat_start_time(const char *stat, uint64_t *ret) {
    char buf[32];
    int r = stat_field(stat, 22, buf, sizeof buf);
    return r < 0 ? r : safe_atou64(buf, ret);
}

int parse_stat_cpu(const char *stat, char *ret_state, uint64_t *ret_ticks) {
    char state[4], ut[32], st[32];
    uint64_t u, s;
    int r = stat_field(stat, 3, state, sizeof state);
    if (r < 0 || (r = stat_field(stat, 14, ut, sizeof ut)) < 0 ||
        (r = stat_field(stat, 15, st, sizeof st)) < 0 || (r = safe_atou64(ut, &u)) < 0 ||
        (r = safe_atou64(st, &s)) < 0)
        return r;
    if (u > UINT64_MAX - s)
        return -ERANGE;
    *ret_state = state[0];
    *ret_ticks = u + s;
    return 0;
}

static int read_pid_stat(pid_t pid, char **ret) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    int r = read_file(path, 4096, ret, NULL);
    return r == -ENOENT ? -ESRCH : r;
}

int pid_get_cpu(pid_t pid, char *ret_state, uint64_t *ret_ticks) {
    _cleanup_free_ char *text = NULL;
    int r = read_pid_stat(pid, &text);
    return r < 0 ? r : parse_stat_cpu(text, ret_state, ret_ticks);
}

int pid_get_start_time(pid_t pid, uint64_t *ret) {
    _cleanup_free_ char *text = NULL;
    int r = read_pid_stat(pid, &text);
    return r < 0 ? r : parse_stat_start_time(text, ret);
}

int pid_find_child(pid_t pid, pid_t *ret) {
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    int r = -ESRCH;
    for (struct dirent *de; (de = readdir(d));) {
        char path[64];
        _cleanup_free_ char *text = NULL;
        long v = strtol(de->d_name, NULL, 10);
        if (v <= 0 || v > INT32_MAX)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", v);
        if (read_file(path, 4096, &text, NULL) < 0)
            continue;
        const char *p = strrchr(text, ')');
        int ppid;
        if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == pid) {
            *ret = (pid_t) v;
            r = 0;
            break;
        }
    }
    closedir(d);
    return r;
}
