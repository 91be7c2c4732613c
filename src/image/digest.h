/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* SHA-256 for OCI digests ("sha256:" + 64 hex digits), on libgcrypt: libsystemd already loads
 * it into every process of ours, so it costs no new library. */

#include <stdbool.h>
#include <stddef.h>

#define DIGEST_STRING_MAX (sizeof("sha256:") - 1 + 64 + 1)

typedef struct Sha256 Sha256;

int sha256_new(Sha256 **ret);
void sha256_update(Sha256 *h, const void *data, size_t size);
/* Writes "sha256:<hex>" into out (DIGEST_STRING_MAX bytes). The state is done after this. */
void sha256_final(Sha256 *h, char out[static DIGEST_STRING_MAX]);
Sha256 *sha256_free(Sha256 *h);
static inline void sha256_freep(Sha256 **h) {
    if (*h)
        sha256_free(*h);
}

/* Whether s is "sha256:" and 64 lowercase hex digits: the only algorithm we accept, and a form
 * safe to use as a file name. */
bool digest_is_valid(const char *s);
