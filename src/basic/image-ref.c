/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "image-ref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

static bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component of Docker's grammar: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool name_component_is_valid(const char *p, size_t n) {
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < n && is_lower_alnum(p[i]))
            i++;
        if (i == start)
            return false;
        if (i == n)
            return true;
        if (p[i] == '.')
            i++;
        else if (p[i] == '_')
            i += i + 1 < n && p[i + 1] == '_' ? 2 : 1;
        else if (p[i] == '-')
            while (i < n && p[i] == '-')
                i++;
        else
            return false;
    }
}

bool image_name_is_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return false;
    for (const char *p = name;;) {
        const char *end = strchrnul(p, '/');
        if (!name_component_is_valid(p, (size_t) (end - p)))
            return false;
        if (!*end)
            return true;
        p = end + 1;
    }
}

bool image_tag_is_valid(const char *tag) {
    size_t n = strlen(tag);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = tag[i];
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_';
        if (!word && (i == 0 || (c != '.' && c != '-')))
            return false;
    }
    return true;
}

int image_ref_split(const char *ref, char **ret_name, char **ret_tag, const char **ret_why) {
    const char *colon = strrchr(ref, ':');
    if (colon && strchr(colon, '/'))
        colon = NULL;
    _cleanup_free_ char *name = colon ? strndup(ref, (size_t) (colon - ref)) : strdup(ref);
    _cleanup_free_ char *tag = strdup(colon ? colon + 1 : "latest");
    if (!name || !tag)
        return -ENOMEM;
    if (!image_name_is_valid(name)) {
        *ret_why = "not a valid image name (lowercase letters and digits, with '.', '_', '-' "
                   "or '/' between them)";
        return -EINVAL;
    }
    if (!image_tag_is_valid(tag)) {
        *ret_why = "not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters)";
        return -EINVAL;
    }
    *ret_name = TAKE_PTR(name);
    *ret_tag = TAKE_PTR(tag);
    return 0;
}

char *image_record_file_name(const char *name, const char *tag) {
    if (!image_name_is_valid(name) || !image_tag_is_valid(tag))
        return NULL;
    char *f;
    if (asprintf(&f, "%s:%s", name, tag) < 0)
        return NULL;
    for (char *p = f; *p; p++)
        if (*p == '/')
            *p = '+';
    return f;
}
