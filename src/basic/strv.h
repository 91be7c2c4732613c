/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* NULL-terminated string vectors. A NULL strv is an empty one. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
/* Appends a copy of value. */
int strv_extend(char ***l, const char *value);
/* Appends value, taking ownership (freed on failure too). */
int strv_consume(char ***l, char *value);
int strv_extend_strv(char ***a, char *const *b);
char **strv_copy(char *const *l);
bool strv_contains(char *const *l, const char *s);
/* Joins with sep; returns NULL only on OOM. */
char *strv_join(char *const *l, const char *sep);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
