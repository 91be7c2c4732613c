/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The INI reader of unit files and sandboxd.conf: inih tokenises, a table maps Section.Key to a
 * value parser. This is the only file that includes <ini.h>.
 *
 * Debian's libinih (r55) has runtime knobs that must be set, or it cuts values at " ;", splits
 * lines over 199 bytes into two (a key-injection hazard), and treats indented lines as
 * continuations. We feed it through our own reader, which also counts lines (the shared library
 * cannot report them), joins systemd's backslash continuations, and rejects what systemd would
 * not accept (a "Key: value" line, an unterminated section header) before inih sees it. */

#include <assert.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-parser.h"
#include "path-util.h"
#include "strv.h"
#include "utf8.h"

#define LOGICAL_LINE_MAX (64 * 1024 - 2)

void conf_parser_init(ConfParser *p, const char *path, const ConfSyntax *syntax, void *target) {
    *p = (ConfParser){.path = path, .syntax = syntax, .target = target};
}

/* "PATH:LINE: ..." or, for line 0, "PATH: ..."; NULL on OOM. */
_printf_(3, 0) static char *format_error(const char *path, unsigned line, const char *fmt,
                                        va_list ap) {
    _cleanup_free_ char *msg = NULL;
    char *full = NULL;
    if (vasprintf(&msg, fmt, ap) < 0 || (line ? asprintf(&full, "%s:%u: %s", path, line, msg)
                                              : asprintf(&full, "%s: %s", path, msg)) < 0)
        return NULL;
    return full;
}

int conf_append_error(char ***errors, const char *path, unsigned line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *full = format_error(path, line, fmt, ap);
    va_end(ap);
    return full ? strv_consume(errors, full) : -ENOMEM;
}

void conf_add_error(ConfParser *p, unsigned line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *full = format_error(p->path, line, fmt, ap);
    va_end(ap);
    if (!full) {
        p->oom = -ENOMEM;
        return;
    }
    if (p->n_errors + 1 >= p->n_errors_allocated) {
        size_t n = p->n_errors_allocated ? p->n_errors_allocated * 2 : 8;
        char **e = reallocarray(p->errors, n, sizeof(char *));
        if (!e) {
            p->oom = -ENOMEM;
            return;
        }
        p->errors = e;
        p->n_errors_allocated = n;
    }
    p->errors[p->n_errors++] = TAKE_PTR(full);
    p->errors[p->n_errors] = NULL;
}

unsigned conf_line_of(const ConfParser *p, const char *key) {
    unsigned best = 0;
    for (size_t i = 0; i < p->syntax->n_keys; i++)
        if (streq(p->syntax->keys[i].key, key) && p->key_line[i] > best)
            best = p->key_line[i];
    return best;
}

/* Reads the next physical line without its newline; NULL at the end. */
static char *next_physical_line(ConfParser *p) {
    if (!*p->cursor)
        return NULL;
    size_t n = strcspn(p->cursor, "\n");
    char *l = strndup(p->cursor, n);
    if (!l) {
        p->oom = -ENOMEM;
        return NULL;
    }
    p->cursor += n + (p->cursor[n] == '\n');
    p->line++;
    if (n > 0 && l[n - 1] == '\r')
        l[n - 1] = 0;
    return l;
}

static char *strip(char *s) {
    s += strspn(s, " \t");
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

/* Checks one logical line; returns the text inih should see (blank for a rejected line). */
static const char *check_logical_line(ConfParser *p, char *l) {
    const ConfSyntax *syn = p->syntax;
    if (!*l || *l == '#' || *l == ';')
        return l;
    if (*l == '[') {
        size_t n = strlen(l);
        if (n < 3 || l[n - 1] != ']' || memchr(l + 1, ']', n - 2)) {
            conf_add_error(p, p->logical_line, "%s: expected a section header like [%s]", l,
                           syn->sections[syn->n_sections - 1]);
            p->section_ok = false;
            return "";
        }
        snprintf(p->section, sizeof p->section, "%.*s", (int) (n - 2), l + 1);
        p->section_ok = false;
        for (size_t i = 0; i < syn->n_sections; i++)
            if (n - 2 == strlen(syn->sections[i]) && streq(p->section, syn->sections[i])) {
                p->section_ok = true;
                if (!p->section_line[i])
                    p->section_line[i] = p->logical_line;
            }
        if (!p->section_ok && !(syn->x_prefix_ignored && strncmp(l + 1, "X-", 2) == 0))
            conf_add_error(p, p->logical_line, "[%.*s]: unknown section, expected %s",
                           (int) (n - 2), l + 1, syn->sections_hint);
        /* inih truncates long section names; it never needs the name since we track it */
        return "[S]";
    }
    size_t k = strcspn(l, "=:");
    if (l[k] != '=' || k == 0 || strspn(l, " \t") == k) {
        conf_add_error(p, p->logical_line, "'%.*s': expected Key=value",
                       (int) utf8_prefix_len(l, 40), l);
        return "";
    }
    if (!p->section[0]) {
        conf_add_error(p, p->logical_line, "%.*s=: assignment outside of any section", (int) k,
                       l);
        return "";
    }
    return l;
}

/* The text ends up in D-Bus strings (Description= in list and status), which must be UTF-8:
 * one bad byte made the daemon unable to answer `list` for every unit. Comments may hold
 * anything. */
static const char *reject_invalid_utf8(ConfParser *p, const char *l) {
    if (*l == '#' || *l == ';')
        return l;
    size_t k = strcspn(l, "=");
    if (l[k] == '=' && k > 0 && utf8_is_valid_n(l, k))
        conf_add_error(p, p->logical_line, "%.*s=: not valid UTF-8; %ss are UTF-8 text",
                       (int) utf8_prefix_len(l, k > 60 ? 60 : k), l, p->syntax->kind);
    else
        conf_add_error(p, p->logical_line, "not valid UTF-8; %ss are UTF-8 text",
                       p->syntax->kind);
    return "";
}

/* Builds the next logical line: strips it, joins lines that end in a backslash (comment lines
 * inside a continuation are skipped, as systemd does), then checks it. */
static int next_logical_line(ConfParser *p) {
    _cleanup_free_ char *joined = NULL;
    size_t len = 0;
    bool started = false, too_long = false; /* joined is NULL while every piece was too long */

    p->logical = mfree(p->logical);
    for (;;) {
        _cleanup_free_ char *raw = next_physical_line(p);
        if (!raw) {
            if (p->oom)
                return p->oom;
            if (!started)
                return 0;
            break;
        }
        char *s = strip(raw);
        if (started && (*s == '#' || *s == ';'))
            continue;
        if (!started)
            p->logical_line = p->line;
        started = true;
        size_t n = strlen(s);
        bool more = n > 0 && s[n - 1] == '\\';
        if (more)
            s[n - 1] = ' ';
        if (len + n > LOGICAL_LINE_MAX)
            too_long = true;
        else {
            char *j = realloc(joined, len + n + 1);
            if (!j)
                return -ENOMEM;
            joined = j;
            memcpy(joined + len, s, n + 1);
            len += n;
        }
        if (!more)
            break;
    }

    const char *text;
    if (too_long) {
        conf_add_error(p, p->logical_line, "line longer than %d bytes", LOGICAL_LINE_MAX);
        text = "";
    } else if (!utf8_is_valid(strip(joined)))
        text = reject_invalid_utf8(p, strip(joined));
    else
        text = check_logical_line(p, strip(joined));
    if (asprintf(&p->logical, "%s\n", text) < 0)
        return -ENOMEM;
    p->logical_len = strlen(p->logical);
    p->logical_off = 0;
    return 1;
}

/* fgets()-like: inih may ask for a line in pieces while it grows its buffer. */
static char *reader(char *str, int num, void *stream) {
    ConfParser *p = stream;
    if (num < 2)
        return NULL;
    if (!p->logical || p->logical_off >= p->logical_len)
        if (next_logical_line(p) <= 0)
            return NULL;
    size_t n = p->logical_len - p->logical_off;
    if (n > (size_t) num - 1)
        n = (size_t) num - 1;
    memcpy(str, p->logical + p->logical_off, n);
    str[n] = 0;
    p->logical_off += n;
    return str;
}

/* inih's contract: nonzero is success. We always go on, collecting errors ourselves. */
static int handler(void *user, const char *section, const char *name, const char *value) {
    ConfParser *p = user;
    const ConfSyntax *syn = p->syntax;
    const char *why = NULL;
    (void) section; /* inih's copy may be truncated; the reader tracks the real one */

    if (!p->section_ok || (syn->x_prefix_ignored && strncmp(name, "X-", 2) == 0))
        return 1;
    for (size_t i = 0; i < syn->n_keys; i++) {
        const ConfKey *k = &syn->keys[i];
        if (!streq(k->section, p->section) || !streq(k->key, name))
            continue;
        int r = k->parse(p, value, (uint8_t *) p->target + k->offset, k->data, &why);
        if (r == -ENOMEM)
            p->oom = r;
        else if (r < 0)
            conf_add_error(p, p->logical_line, "%s=%.*s%s: %s", name,
                           (int) utf8_prefix_len(value, 60), value,
                           strlen(value) > 60 ? "..." : "", why ? why : "invalid value");
        else
            p->key_line[i] = p->logical_line;
        return 1;
    }
    conf_add_error(p, p->logical_line, "%s=%.*s%s: unknown key in section [%s]", name,
                   (int) utf8_prefix_len(value, 60), value, strlen(value) > 60 ? "..." : "",
                   p->section);
    return 1;
}

int conf_parse(ConfParser *p, const char *text) {
    assert(p->syntax->n_sections <= CONF_SECTIONS_MAX && p->syntax->n_keys <= CONF_KEYS_MAX);
    p->cursor = text;

    /* Process-global knobs of Debian's libinih; set on every parse since nothing else uses
     * inih in our programs. */
    ini_allow_inline_comments = false;
    ini_allow_multiline = false;
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = LOGICAL_LINE_MAX + 2;
    ini_stop_on_first_error = false;
    ini_allow_no_value = false;

    int r = ini_parse_stream(reader, p, handler, p);
    p->logical = mfree(p->logical);
    if (p->oom)
        return p->oom;
    if (r == -2)
        return p->oom = -ENOMEM;
    if (r != 0 && !p->errors) /* the reader filters what inih refuses; never ignore it */
        conf_add_error(p, 0, "cannot parse line %d", r);
    return p->oom;
}

int conf_parser_finish(ConfParser *p, char ***ret_errors) {
    _cleanup_strv_free_ char **errors = TAKE_PTR(p->errors);
    p->logical = mfree(p->logical);
    if (p->oom)
        return p->oom;
    bool bad = errors;
    if (ret_errors)
        *ret_errors = TAKE_PTR(errors);
    return bad ? -EINVAL : 0;
}

/* A file-level problem, reported like a parse error so every caller names the file. */
_printf_(3, 4) static int file_error(char ***ret_errors, const char *path, const char *fmt, ...) {
    if (!ret_errors)
        return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    char *full = format_error(path, 0, fmt, ap);
    va_end(ap);
    if (!full)
        return -ENOMEM;
    *ret_errors = NULL;
    int r = strv_consume(ret_errors, full);
    return r < 0 ? r : -EINVAL;
}

int conf_read_file(const char *path, size_t max, const char *kind, char **ret_text,
                   char ***ret_errors) {
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = read_file(path, max, &text, &len);
    switch (r) {
    case -EISDIR:
        return file_error(ret_errors, path, "is a directory, not a %s", kind);
    case -EBADFD:
        return file_error(ret_errors, path,
                          "not a regular file (a FIFO, socket or device cannot be a %s)", kind);
    case -EFBIG:
        return file_error(ret_errors, path, "larger than %zu KiB, not a %s", max / 1024, kind);
    default:
        if (r < 0)
            return r;
    }
    if (strlen(text) != len)
        return file_error(ret_errors, path, "contains a NUL byte, not a text file");
    *ret_text = TAKE_PTR(text);
    return 0;
}
