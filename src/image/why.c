/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "why.h"

#include <stdarg.h>
#include <stdio.h>

int image_why(char **ret_why, int error, const char *fmt, ...) {
    if (ret_why && !*ret_why) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret_why, fmt, ap) < 0)
            *ret_why = NULL;
        va_end(ap);
    }
    return error;
}
