/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "macro.h"
#include "parse-util.h"
#include "passwd.h"
#include "path-util.h"

int passwd_read_file(int rootfd, const char *path, char **ret) {
    /* O_NONBLOCK: a FIFO must not hang the init before fstat can refuse it; no magic links,
     * or /etc/passwd -> /proc/self/fd/N would read a descriptor the init holds */
    struct open_how how = {
        .flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    while (*path == '/')
        path++;
    _cleanup_close_ int fd = (int) syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    if (fd < 0) {
        if (errno != ENOENT)
            return -errno;
        *ret = NULL;
        return 0;
    }
    /* /dev/zero never ends and a FIFO may never answer: only a regular file, bounded */
    int r = fd_verify_regular(fd);
    if (r < 0)
        return r;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_size > (off_t) PASSWD_FILE_MAX)
        return -EFBIG;
    /* read_fd() refuses a file that fills max: one more byte lets exactly the cap through */
    return read_fd(fd, PASSWD_FILE_MAX + 1, ret, NULL);
}

/* Copies the line at *text (without its newline) into *line and moves *text past it. Returns 0
 * at the end of the text. */
static int next_line(const char **text, char **line) {
    if (!*text || !**text)
        return 0;
    size_t n = strcspn(*text, "\n");
    free(*line);
    *line = strndup(*text, n);
    if (!*line)
        return -ENOMEM;
    *text += n + ((*text)[n] == '\n');
    return 1;
}

/* Splits a colon-separated line into at most n fields, in place. Returns the field count. */
static size_t split_fields(char *line, char **f, size_t n) {
    size_t i = 0;
    while (i < n) {
        f[i++] = line;
        char *c = strchr(line, ':');
        if (!c)
            break;
        *c = 0;
        line = c + 1;
    }
    return i;
}

int passwd_find_user(const char *passwd, const char *name, UserRecord *ret) {
    uint32_t id;
    int r = parse_id(name, &id);
    if (r == -ERANGE)
        return r;
    bool numeric = r >= 0;
    _cleanup_free_ char *line = NULL;

    while ((r = next_line(&passwd, &line)) > 0) {
        char *fl[7];
        uint32_t uid, gid;
        if (split_fields(line, fl, 7) < 7)
            continue;
        int ru = parse_id(fl[2], &uid);
        if (numeric ? ru < 0 || uid != id : !streq(fl[0], name))
            continue;
        /* the entry is ours: an id out of range is refused, never skipped for a later one */
        if (ru == -ERANGE)
            return ru;
        int rg = parse_id(fl[3], &gid);
        if (rg == -ERANGE)
            return rg;
        if (ru < 0 || rg < 0)
            continue;
        char *home = *fl[5] ? strdup(fl[5]) : NULL;
        if (*fl[5] && !home)
            return -ENOMEM;
        *ret = (UserRecord){.uid = uid, .gid = gid, .home = home};
        return 0;
    }
    if (r < 0)
        return r;
    if (!numeric)
        return -ESRCH;
    *ret = (UserRecord){.uid = id, .gid = id};
    return 0;
}

int passwd_find_group(const char *group, const char *name, gid_t *ret) {
    uint32_t id;
    _cleanup_free_ char *line = NULL;
    int r = parse_id(name, &id);
    if (r != -EINVAL) {
        if (r >= 0)
            *ret = id;
        return r;
    }
    while ((r = next_line(&group, &line)) > 0) {
        char *fl[4];
        uint32_t gid;
        if (split_fields(line, fl, 4) < 3 || !streq(fl[0], name))
            continue;
        r = parse_id(fl[2], &gid);
        if (r == -ERANGE)
            return r;
        if (r >= 0) {
            *ret = gid;
            return 0;
        }
    }
    return r < 0 ? r : -ESRCH;
}

int passwd_member_groups(const char *group, const char *user_name, gid_t **ret, size_t *ret_n) {
    _cleanup_free_ char *line = NULL;
    _cleanup_free_ gid_t *l = NULL;
    size_t n = 0;
    int r;
    while ((r = next_line(&group, &line)) > 0) {
        char *fl[4], *save = NULL;
        uint32_t gid;
        if (split_fields(line, fl, 4) < 4)
            continue;
        for (char *m = strtok_r(fl[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            if (!streq(m, user_name))
                continue;
            r = parse_id(fl[2], &gid);
            if (r == -ERANGE)
                return r; /* setgroups() would refuse it later, with a worse message */
            if (r < 0)
                break;
            gid_t *nl = realloc(l, sizeof(gid_t) * (n + 1));
            if (!nl)
                return -ENOMEM;
            l = nl;
            l[n++] = gid;
            break;
        }
    }
    if (r < 0)
        return r;
    *ret = TAKE_PTR(l);
    *ret_n = n;
    return 0;
}
