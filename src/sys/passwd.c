/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "passwd.h"

/* Splits a colon-separated line into at most n fields, in place. Returns the field count. */
static size_t split_fields(char *line, char **f, size_t n) {
    size_t i = 0;
    line[strcspn(line, "\n")] = 0;
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

int passwd_find_user(FILE *f, const char *name, UserRecord *ret) {
    uint32_t id;
    bool numeric = safe_atou32(name, &id) >= 0;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;

    if (f) {
        rewind(f);
        while (getline(&line, &cap, f) > 0) {
            char *fl[7];
            uint32_t uid, gid;
            if (split_fields(line, fl, 7) < 7 || safe_atou32(fl[2], &uid) < 0 ||
                safe_atou32(fl[3], &gid) < 0)
                continue;
            if (numeric ? uid != id : !streq(fl[0], name))
                continue;
            char *home = *fl[5] ? strdup(fl[5]) : NULL;
            if (*fl[5] && !home)
                return -ENOMEM;
            *ret = (UserRecord){.uid = uid, .gid = gid, .home = home};
            return 0;
        }
    }
    if (!numeric)
        return -ESRCH;
    *ret = (UserRecord){.uid = id, .gid = id};
    return 0;
}

int passwd_find_group(FILE *f, const char *name, gid_t *ret) {
    uint32_t id;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    if (safe_atou32(name, &id) >= 0) {
        *ret = id;
        return 0;
    }
    if (f) {
        rewind(f);
        while (getline(&line, &cap, f) > 0) {
            char *fl[4];
            uint32_t gid;
            if (split_fields(line, fl, 4) >= 3 && streq(fl[0], name) &&
                safe_atou32(fl[2], &gid) >= 0) {
                *ret = gid;
                return 0;
            }
        }
    }
    return -ESRCH;
}

int passwd_member_groups(FILE *f, const char *user_name, gid_t **ret, size_t *ret_n) {
    _cleanup_free_ char *line = NULL;
    _cleanup_free_ gid_t *l = NULL;
    size_t cap = 0, n = 0;
    if (f) {
        rewind(f);
        while (getline(&line, &cap, f) > 0) {
            char *fl[4];
            uint32_t gid;
            if (split_fields(line, fl, 4) < 4 || safe_atou32(fl[2], &gid) < 0)
                continue;
            for (char *m = strtok(fl[3], ","); m; m = strtok(NULL, ","))
                if (streq(m, user_name)) {
                    gid_t *nl = realloc(l, sizeof(gid_t) * (n + 1));
                    if (!nl)
                        return -ENOMEM;
                    l = nl;
                    l[n++] = gid;
                    break;
                }
        }
    }
    *ret = TAKE_PTR(l);
    *ret_n = n;
    return 0;
}
