/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure value parsers with systemd's syntax. All return 0 or a negative errno
 * (-EINVAL bad syntax, -ERANGE out of range) and write *ret only on success. */

int safe_atou64(const char *s, uint64_t *ret);
int safe_atou32(const char *s, uint32_t *ret);
int parse_boolean(const char *s); /* 1, 0, or -EINVAL */

/* The largest uid or gid accepted anywhere, as runc: above it a 32-bit id can be (uid_t) -1,
 * which setresuid() takes as "unchanged", leaving a payload meant to drop privileges as root. */
#define ID_VALID_MAX 2147483647U
/* A numeric uid or gid: -EINVAL when not a number, -ERANGE above ID_VALID_MAX. */
int parse_id(const char *s, uint32_t *ret);

/* "1024", "64M", "1.5G" (base 1024, suffixes B K M G T P E). */
int parse_size(const char *s, uint64_t *ret);
/* The same with base 1000 or 1024: "5M" is 5000000 bytes/s in IOReadBandwidthMax=. */
int parse_size_base(const char *s, uint64_t base, uint64_t *ret);
/* Like parse_size, but "infinity" gives UINT64_MAX. */
int parse_size_or_infinity(const char *s, uint64_t *ret);
/* "1min 30s", "100ms", "2.5s", "infinity"; a bare number is seconds. */
int parse_timespan(const char *s, uint64_t *ret_usec);
/* "20%", "150%", "12.5%" -> permyriad (1/10000): 2000, 15000, 1250. */
int parse_percent_permyriad(const char *s, uint32_t *ret);
/* "SIGTERM", "TERM" or a number, 1.._NSIG-1. */
int parse_signal(const char *s, int *ret);
const char *signal_to_string(int sig);

#define CPU_SET_MAX 1024
typedef struct CpuSet {
    uint8_t bits[CPU_SET_MAX / 8];
} CpuSet;

/* "0-1,3" or "0 2 4-7" into a set; an empty set is -EINVAL. */
int parse_cpu_set(const char *s, CpuSet *ret);
bool cpu_set_is_set(const CpuSet *c, unsigned cpu);
bool cpu_set_is_empty(const CpuSet *c);
/* Canonical kernel form "0-1,3"; NULL on OOM. */
char *cpu_set_to_string(const CpuSet *c);

/* Human forms for output: "1min 30s", "1.5G". buf must hold 64 bytes. */
char *format_timespan(char buf[static 64], uint64_t usec);
/* The same to the microsecond, as systemctl show prints time spans: "1min 30s 250ms". */
char *format_timespan_exact(char buf[static 64], uint64_t usec);
char *format_bytes(char buf[static 64], uint64_t bytes);
