/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Shared by sandboxctl's own files. */

#define IMAGE_STORE_DEFAULT "/var/lib/sandboxd/images"

extern bool arg_raw;
extern const char *arg_config, *arg_image_store, *arg_unit_path;

/* One line of text from the daemon or a unit file, escaped for the terminal unless --raw.
 * NULL on OOM. */
char *line_shown(const char *s);
/* A message on stderr, escaped the same way (newlines kept). */
void print_message(const char *text);

/* verify.c */
int verb_verify(char **args);
