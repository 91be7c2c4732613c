/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* logs.c */
typedef enum LogOutput {
    LOG_OUTPUT_SHORT, /* "DATE TIME IDENT[PID]: MESSAGE", as the file holds it */
    LOG_OUTPUT_CAT,   /* the message only */
    LOG_OUTPUT_JSON,  /* one object per line, journalctl's field names */
} LogOutput;

/* Where a unit's log is, from its LogTarget=, LogPath= and LogMaxFiles= properties. */
typedef struct LogSource {
    const char *unit, *target, *path;
    unsigned max_files;
} LogSource;

/* Prints the last lines (0: all) of the units' logs not older than since (0: any), merged by
 * time; then, with follow, what comes until interrupted. */
int logs_show(const LogSource *srcs, size_t n, unsigned lines, uint64_t since, LogOutput output,
              bool follow);
/* --since=: "2026-11-30 18:00[:00]", "18:00", "today", "yesterday", "now", "-1h", "5min ago". */
int parse_since(const char *s, uint64_t *ret);

/* sandboxctl.c: a method without arguments; on a bus error prints it and returns the exit code
 * to use (> 0). */
typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;
int ctl_call(sd_bus *bus, const char *method, sd_bus_message **reply);

/* top.c */
typedef enum TopOrder {
    TOP_ORDER_CPU,
    TOP_ORDER_MEMORY,
    TOP_ORDER_TASKS,
    TOP_ORDER_IO,
    TOP_ORDER_NAME,
} TopOrder;
/* iterations 0: until interrupted; a redrawn screen on a terminal, else one table (or JSON
 * array) per iteration. */
int verb_top(sd_bus *bus, unsigned iterations, uint64_t delay_usec, TopOrder order, bool json,
             bool legend);
