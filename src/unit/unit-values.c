/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Value grammar of unit files that is ours rather than systemd's generic forms: command lines,
 * environment assignments, volumes, namespace sets, enums and names. */

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "strv.h"
#include "unit-internal.h"

static const char *const restart_policy_table[_RESTART_MAX] = {
    [RESTART_NO] = "no",
    [RESTART_ON_SUCCESS] = "on-success",
    [RESTART_ON_FAILURE] = "on-failure",
    [RESTART_ON_ABNORMAL] = "on-abnormal",
    [RESTART_ON_ABORT] = "on-abort",
    [RESTART_ALWAYS] = "always",
    [RESTART_ON_WATCHDOG] = "on-watchdog",
};

const char *restart_policy_to_string(RestartPolicy p) {
    return p >= 0 && p < _RESTART_MAX ? restart_policy_table[p] : NULL;
}

RestartPolicy restart_policy_from_string(const char *s) {
    for (int i = 0; i < _RESTART_MAX; i++)
        if (s && streq(s, restart_policy_table[i]))
            return (RestartPolicy) i;
    return _RESTART_INVALID;
}

static const struct {
    const char *name;
    unsigned flag;
} namespace_table[] = {
    {"pid", NS_PID}, {"mount", NS_MOUNT}, {"uts", NS_UTS},       {"ipc", NS_IPC},
    {"net", NS_NET}, {"user", NS_USER},   {"cgroup", NS_CGROUP},
};

char *namespaces_to_string(char buf[static 64], unsigned ns) {
    char *p = buf;
    *p = 0;
    for (size_t i = 0; i < ELEMENTSOF(namespace_table); i++)
        if (ns & namespace_table[i].flag)
            p += sprintf(p, "%s%s", p == buf ? "" : " ", namespace_table[i].name);
    return buf;
}

int unit_parse_namespaces(const char *s, unsigned *ret, const char **why) {
    _cleanup_strv_free_ char **words = NULL;
    unsigned ns = 0;
    int r = unit_split_command(s, &words);
    if (r < 0) {
        *why = "unbalanced quotes";
        return r;
    }
    STRV_FOREACH(w, words) {
        size_t i;
        for (i = 0; i < ELEMENTSOF(namespace_table); i++)
            if (streq(*w, namespace_table[i].name))
                break;
        if (i == ELEMENTSOF(namespace_table)) {
            *why = "unknown namespace, expected words from: pid mount uts ipc net user cgroup";
            return -EINVAL;
        }
        ns |= namespace_table[i].flag;
    }
    *ret = ns;
    return 0;
}

bool unit_name_is_valid(const char *name) {
    if (isempty(name) || strlen(name) > UNIT_NAME_MAX || streq(name, ".") || streq(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char) *p) && !strchr(":_.@-", *p))
            return false;
    return true;
}

/* One C-style escape after a backslash; returns bytes consumed from s, or -EINVAL. */
static int unescape_one(const char *s, char *ret) {
    static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''s ";
    if (!*s)
        return -EINVAL;
    for (size_t i = 0; simple[i]; i += 2)
        if (*s == simple[i]) {
            *ret = simple[i + 1];
            return 1;
        }
    if (*s == 'x' && isxdigit((unsigned char) s[1]) && isxdigit((unsigned char) s[2])) {
        unsigned v;
        sscanf(s + 1, "%2x", &v);
        if (v == 0)
            return -EINVAL; /* would cut the word */
        *ret = (char) v;
        return 3;
    }
    if (s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
        unsigned v = (unsigned) ((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
        if (v == 0)
            return -EINVAL;
        *ret = (char) v;
        return 3;
    }
    return -EINVAL;
}

int unit_split_command(const char *s, char ***ret) {
    _cleanup_strv_free_ char **l = NULL;
    _cleanup_free_ char *word = malloc(strlen(s) + 1);
    const char *p = s;
    if (!word)
        return -ENOMEM;

    for (;;) {
        p += strspn(p, " \t\n\r");
        if (!*p)
            break;
        size_t n = 0;
        char quote = 0;
        for (; *p; p++) {
            if (!quote && strchr(" \t\n\r", *p))
                break;
            if (quote && *p == quote) {
                quote = 0;
                continue;
            }
            if (!quote && (*p == '"' || *p == '\'')) {
                quote = *p;
                continue;
            }
            if (*p == '\\') {
                int k = unescape_one(p + 1, &word[n]);
                if (k < 0)
                    return -EINVAL;
                n++;
                p += k;
                continue;
            }
            word[n++] = *p;
        }
        if (quote)
            return -EINVAL;
        word[n] = 0;
        int r = strv_extend(&l, word);
        if (r < 0)
            return r;
    }
    if (!l) {
        l = calloc(1, sizeof(char *));
        if (!l)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(l);
    return 0;
}

static bool env_name_is_valid(const char *s, size_t n) {
    if (n == 0 || isdigit((unsigned char) s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char) s[i]) && s[i] != '_')
            return false;
    return true;
}

int unit_parse_environment(const char *s, char ***list, const char **why) {
    _cleanup_strv_free_ char **words = NULL;
    int r = unit_split_command(s, &words);
    if (r < 0) {
        *why = "unbalanced quotes or bad escape";
        return r;
    }
    STRV_FOREACH(w, words) {
        const char *eq = strchr(*w, '=');
        if (!eq || !env_name_is_valid(*w, (size_t) (eq - *w))) {
            *why = "expected NAME=value assignments, NAME made of letters, digits and _";
            return -EINVAL;
        }
    }
    /* each assignment is checked against the earlier ones: bound the list, so a huge file
     * cannot keep the daemon's event loop parsing for seconds */
    if (strv_length(*list) + strv_length(words) > UNIT_ENVIRONMENT_MAX) {
        *why = "more than " STRINGIFY(UNIT_ENVIRONMENT_MAX) " variables";
        return -E2BIG;
    }
    STRV_FOREACH(w, words) {
        /* a later assignment of the same name replaces the earlier one */
        size_t n = (size_t) (strchr(*w, '=') - *w) + 1;
        for (char **e = *list; e && *e; e++)
            if (strncmp(*e, *w, n) == 0) {
                char *c = strdup(*w);
                if (!c)
                    return -ENOMEM;
                free(*e);
                *e = c;
                goto next;
            }
        r = strv_extend(list, *w);
        if (r < 0)
            return r;
    next:;
    }
    return 0;
}

int unit_parse_volume(const char *s, Volume *ret, const char **why) {
    _cleanup_free_ char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    char *target = strchr(copy, ':');
    if (!target) {
        *why = "expected HOST:PATH[:ro|rw]";
        return -EINVAL;
    }
    *target++ = 0;
    char *mode = strchr(target, ':');
    bool ro = false;
    if (mode) {
        *mode++ = 0;
        if (streq(mode, "ro"))
            ro = true;
        else if (!streq(mode, "rw")) {
            *why = "the third field must be ro or rw";
            return -EINVAL;
        }
    }
    if (!path_is_normalized_absolute(copy) || !path_is_normalized_absolute(target)) {
        *why = "both paths must be absolute, without . or .. components";
        return -EINVAL;
    }
    if (streq(target, "/")) {
        *why = "a volume cannot replace the sandbox's root";
        return -EINVAL;
    }
    Volume v = {.source = strdup(copy), .target = strdup(target), .read_only = ro};
    if (!v.source || !v.target) {
        free(v.source);
        free(v.target);
        return -ENOMEM;
    }
    *ret = v;
    return 0;
}

bool unit_hostname_is_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
        return false;
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char) *p) && *p != '-' && *p != '.')
            return false;
        if (*p == '.' && p[1] == '.')
            return false;
    }
    return true;
}

bool unit_user_name_is_valid(const char *s) {
    uint32_t id;
    int r = parse_id(s, &id);
    if (r != -EINVAL)
        return r >= 0;
    size_t n = strlen(s);
    if (n == 0 || n > 32 || s[0] == '-' || isdigit((unsigned char) s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char) *p) && !strchr("_-.", *p))
            return false;
    return true;
}

int unit_parse_capabilities(const char *s, uint64_t *ret, bool *ret_invert, const char **why) {
    _cleanup_strv_free_ char **words = NULL;
    bool invert = s[0] == '~';
    uint64_t caps = 0;
    if (unit_split_command(s + invert, &words) < 0) {
        *why = "unbalanced quotes";
        return -EINVAL;
    }
    STRV_FOREACH(w, words) {
        cap_value_t c;
        if (cap_from_name(*w, &c) < 0 || c < 0 || c >= 64) {
            *why = "unknown capability, expected names like CAP_NET_BIND_SERVICE";
            return -EINVAL;
        }
        caps |= 1ULL << c;
    }
    *ret = caps;
    *ret_invert = invert;
    return 0;
}

char *capability_set_to_string(uint64_t caps) {
    _cleanup_strv_free_ char **names = NULL;
    for (cap_value_t c = 0; c < 64; c++) {
        if (!(caps & (1ULL << c)))
            continue;
        char *n = cap_to_name(c);
        if (!n)
            return NULL;
        int r = strv_extend(&names, n);
        cap_free(n);
        if (r < 0)
            return NULL;
    }
    return names ? strv_join(names, " ") : strdup("");
}
