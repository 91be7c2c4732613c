/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Compiled seccomp filters, kept by the manager: compiling a profile costs milliseconds, a
 * start must not pay that each time. A filter depends on the profile (the built-in default, or
 * a JSON file's text) and on the bounding-set capabilities the profile's rules look at. */

#include <stddef.h>
#include <stdint.h>

#include "seccomp-profile.h"

typedef struct SeccompFilter {
    unsigned n_ref;
    uint8_t *bpf;
    size_t size;
} SeccompFilter;

SeccompFilter *seccomp_filter_ref(SeccompFilter *f);
SeccompFilter *seccomp_filter_unref(SeccompFilter *f);

typedef struct SeccompCache SeccompCache;

SeccompCache *seccomp_cache_free(SeccompCache *c);

/* The filter for profile (NULL: the default; "unconfined"; or a JSON file's path) and a
 * payload with bounding set caps, compiled on a miss; a JSON file is read at every call, so an
 * edited file takes effect at the next start. *ret is a new reference, NULL for unconfined.
 * *c is created on first use. On error e says why (without naming the file). */
int seccomp_cache_get(SeccompCache **c, const char *profile, uint64_t caps, SeccompFilter **ret,
                      SeccompError *e);

/* Entries held, for tests and debug logs. */
size_t seccomp_cache_size(const SeccompCache *c);
