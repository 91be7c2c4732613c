/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SeccompProfile=PATH names a Docker/OCI JSON profile that the root daemon parses and compiles
 * at every start: bad JSON, odd types, huge arrays and unknown names must be refused with an
 * error, never crash it, and whatever parses must compile or be refused cleanly. */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "seccomp-profile.h"
#include "seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    SeccompProfile *p = NULL;
    SeccompError e = {0};
    int r = seccomp_profile_parse_json((const char *) data, size, &p, &e);
    if ((r < 0) != (p == NULL))
        __builtin_trap();
    if (r < 0)
        return 0;
    /* a small profile compiles quickly; a big one is what the parse limits are for */
    if (size < 4096) {
        uint8_t *bpf = NULL;
        size_t n = 0;
        r = seccomp_compile(p, ~0ULL, &bpf, &n, &e);
        if (r >= 0 && (n == 0 || n % 8 != 0))
            __builtin_trap();
        free(bpf);
    }
    seccomp_profile_free(p);
    return 0;
}
