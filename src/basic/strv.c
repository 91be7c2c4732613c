/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
    if (!l)
        return NULL;
    for (char **s = l; *s; s++)
        free(*s);
    free(l);
    return NULL;
}

size_t strv_length(char *const *l) {
    size_t n = 0;
    if (l)
        while (l[n])
            n++;
    return n;
}

int strv_consume(char ***l, char *value) {
    if (!value)
        return -ENOMEM;
    size_t n = strv_length(*l);
    char **c = realloc(*l, sizeof(char *) * (n + 2));
    if (!c) {
        free(value);
        return -ENOMEM;
    }
    c[n] = value;
    c[n + 1] = NULL;
    *l = c;
    return 0;
}

int strv_extend(char ***l, const char *value) {
    return strv_consume(l, strdup(value));
}

int strv_extend_strv(char ***a, char *const *b) {
    STRV_FOREACH(s, b) {
        int r = strv_extend(a, *s);
        if (r < 0)
            return r;
    }
    return 0;
}

char **strv_copy(char *const *l) {
    char **c = calloc(strv_length(l) + 1, sizeof(char *));
    if (!c)
        return NULL;
    size_t i = 0;
    STRV_FOREACH(s, l) {
        c[i] = strdup(*s);
        if (!c[i])
            return strv_free(c);
        i++;
    }
    return c;
}

bool strv_contains(char *const *l, const char *s) {
    STRV_FOREACH(i, l)
        if (streq(*i, s))
            return true;
    return false;
}

char *strv_join(char *const *l, const char *sep) {
    size_t len = 1, k = strlen(sep);
    STRV_FOREACH(s, l)
        len += strlen(*s) + k;
    char *r = malloc(len), *p = r;
    if (!r)
        return NULL;
    *p = 0;
    STRV_FOREACH(s, l) {
        if (s != l)
            p = stpcpy(p, sep);
        p = stpcpy(p, *s);
    }
    return r;
}
