/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A starting sandboxd reads every RUNTIME/sandboxes/NAME/state it finds; a truncated or damaged
 * file must be refused, never crash the daemon that would adopt the other sandboxes. */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the daemon reads the file with read_file(), which NUL-terminates it */
    _cleanup_free_ char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    SandboxSavedState st = {0};
    int r = sandbox_read_state(text, &st);
    if (r > 0 || (r == 0 && !st.unit_path) || (r < 0 && st.unit_path))
        __builtin_trap();
    free(st.unit_path);
    return 0;
}
