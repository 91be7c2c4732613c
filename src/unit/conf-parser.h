/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The INI reader that unit files and sandboxd.conf share: systemd's syntax (comments, backslash
 * continuations, Key=value, [Section]), a table of Section.Key -> value parser -> field, and
 * every problem collected as "FILE:LINE: Key=value: why". Internal to src/unit/; conf-parser.c
 * is the only file that includes <ini.h>. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct ConfParser ConfParser;

/* Parses one value into field (the target plus the key's offset). Returns 0, or a negative
 * errno with *why saying what is wrong in words (-ENOMEM needs no words). An empty value is
 * passed on like any other: each parser knows what its empty assignment resets. */
typedef int (*ConfValueParser)(ConfParser *p, const char *value, void *field, uintptr_t data,
                               const char **why);

typedef struct ConfKey {
    const char *section;
    const char *key;
    ConfValueParser parse;
    size_t offset;
    uintptr_t data; /* the parser's own: a default, a type */
} ConfKey;

#define CONF_SECTIONS_MAX 8
#define CONF_KEYS_MAX 96

typedef struct ConfSyntax {
    const char *const *sections; /* at most CONF_SECTIONS_MAX */
    size_t n_sections;
    const char *sections_hint; /* for an unknown section: "[Unit], [Sandbox] or [Service]" */
    bool x_prefix_ignored;     /* X-Section and X-Key belong to the user (systemd's rule) */
    const ConfKey *keys;       /* at most CONF_KEYS_MAX */
    size_t n_keys;
    const char *kind; /* "unit file": in messages about the text as a whole */
} ConfSyntax;

struct ConfParser {
    const char *path; /* as messages name it */
    const ConfSyntax *syntax;
    void *target; /* the struct the keys' offsets point into */
    char **errors; /* NULL-terminated, grown by doubling: a 1 MiB file can hold 500000 */
    size_t n_errors, n_errors_allocated;
    int oom;

    unsigned logical_line; /* first physical line of the current logical line */
    unsigned section_line[CONF_SECTIONS_MAX]; /* first line of each known section; 0: none */
    unsigned key_line[CONF_KEYS_MAX];         /* last line that assigned each key */
    char why_buf[128]; /* for a value parser's *why that names values */

    /* the reader's own */
    const char *cursor;
    char *logical;
    size_t logical_len, logical_off;
    unsigned line; /* physical lines consumed so far */
    bool section_ok;
    char section[64];
};

void conf_parser_init(ConfParser *p, const char *path, const ConfSyntax *syntax, void *target);
/* "FILE:LINE: ..." (or "FILE: ..." for line 0) appended to p->errors. */
_printf_(3, 4) void conf_add_error(ConfParser *p, unsigned line, const char *fmt, ...);
/* The same for a list of messages outside a parse: 0 or -ENOMEM. */
_printf_(4, 5) int conf_append_error(char ***errors, const char *path, unsigned line,
                                     const char *fmt, ...);
/* The last line that assigned key (in any section), for errors across keys; 0 if none. */
unsigned conf_line_of(const ConfParser *p, const char *key);
/* Reads text through inih and the key table. Returns 0 (problems are in p->errors) or
 * -ENOMEM. */
int conf_parse(ConfParser *p, const char *text);
/* Frees the parser's state and hands its messages over: -EINVAL with them in *ret_errors (freed
 * when ret_errors is NULL), or 0 with *ret_errors NULL; p->oom wins over both. */
int conf_parser_finish(ConfParser *p, char ***ret_errors);
/* Reads path as the text of a configuration file of at most max bytes. A directory, a FIFO (not
 * opened blocking, so it cannot hang the caller), a larger file or one holding a NUL byte is
 * -EINVAL with "FILE: why" in *ret_errors. Other negative errnos: it could not be read. */
int conf_read_file(const char *path, size_t max, const char *kind, char **ret_text,
                   char ***ret_errors);

/* The key tables, for the test that holds the man pages to them. */
const ConfSyntax *unit_file_syntax(void);
const ConfSyntax *daemon_config_syntax(void);
