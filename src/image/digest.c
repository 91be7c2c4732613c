/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "digest.h"

#include <errno.h>
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct Sha256 {
    gcry_md_hd_t md;
};

int sha256_new(Sha256 **ret) {
    /* libgcrypt wants its version checked once before use; later calls are cheap. */
    if (!gcry_check_version(NULL))
        return -EIO;
    Sha256 *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    if (gcry_md_open(&h->md, GCRY_MD_SHA256, 0) != 0) {
        free(h);
        return -EIO;
    }
    *ret = h;
    return 0;
}

void sha256_update(Sha256 *h, const void *data, size_t size) {
    gcry_md_write(h->md, data, size);
}

void sha256_final(Sha256 *h, char out[static DIGEST_STRING_MAX]) {
    const unsigned char *d = gcry_md_read(h->md, GCRY_MD_SHA256);
    char *p = stpcpy(out, "sha256:");
    for (size_t i = 0; i < 32; i++)
        p += sprintf(p, "%02x", d[i]);
}

Sha256 *sha256_free(Sha256 *h) {
    if (h) {
        gcry_md_close(h->md);
        free(h);
    }
    return NULL;
}

bool digest_is_valid(const char *s) {
    if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}
