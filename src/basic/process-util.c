/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "path-util.h"
#include "process-util.h"

int parse_stat_start_time(const char *stat, uint64_t *ret) {
    /* the command name may hold spaces and ')': fields start after the last ')' */
    const char *p = strrchr(stat, ')');
    if (!p)
        return -EBADMSG;
    p++;
    /* after ')' come field 3 (state) ... field 22 (starttime): skip 19 fields */
    for (int field = 3; field < 22; field++) {
        p += strspn(p, " ");
        p += strcspn(p, " ");
        if (!*p)
            return -EBADMSG;
    }
    p += strspn(p, " ");
    char buf[32];
    size_t n = strcspn(p, " \n");
    if (n == 0 || n >= sizeof buf)
        return -EBADMSG;
    memcpy(buf, p, n);
    buf[n] = 0;
    return safe_atou64(buf, ret);
}

int pid_get_start_time(pid_t pid, uint64_t *ret) {
    char path[64];
    _cleanup_free_ char *text = NULL;
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    int r = read_file(path, 4096, &text, NULL);
    if (r < 0)
        return r == -ENOENT ? -ESRCH : r;
    return parse_stat_start_time(text, ret);
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
