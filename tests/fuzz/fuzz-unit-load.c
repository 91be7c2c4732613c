/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit files are written by whoever may call StartUnit or run `sandboxctl verify`: any text must
 * give a unit or errors, never a crash, a leak or undefined behaviour. */

#include <string.h>

#include "fuzz.h"
#include "strv.h"
#include "unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* unit_load() refuses a file with a NUL byte before parsing, so the parser only ever sees a
     * string: cut at the first NUL as that refusal would leave nothing else to parse. */
    _cleanup_free_ char *text = strndup((const char *)data, size);
    if (!text)
        return 0;
    UnitConfig *u = NULL;
    char **errors = NULL;
    int r = unit_load_string("/etc/sandboxd/units/fuzz.unit", text, &u, &errors);
    /* the contract callers rely on: a unit and no errors, or -EINVAL and at least one error */
    if ((r == 0) != (u != NULL) || (r == -EINVAL) != (errors != NULL) ||
        (r < 0 && r != -EINVAL && r != -ENOMEM))
        __builtin_trap();
    if (u) {
        /* and the check against the bridge's subnets, with IPv6 known and left to the daemon */
        UnitNetworkContext net = {
            .v4 = {AF_INET, {.bytes = {10, 88}}, 16},
            .v6 = {AF_INET6, {.bytes = {0xfd}}, 64},
        };
        for (int i = 0; i < 2; i++) {
            char **check = NULL;
            r = unit_check_network(u, &net, &check);
            if (r != -ENOMEM && ((r == 0) != (check == NULL) || (r < 0 && r != -EINVAL)))
                __builtin_trap();
            strv_free(check);
            net.v6 = (InAddrPrefix){};
            net.v6_unknown = true;
        }
    }
    unit_config_free(u);
    strv_free(errors);
    return 0;
}
