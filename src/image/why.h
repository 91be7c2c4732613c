/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "macro.h"

/* Sets *ret_why (when ret_why is not NULL and it is still unset: the first reason wins) to
 * the formatted text; returns error, for `return image_why(ret_why, -EBADMSG, ...)`. */
int image_why(char **ret_why, int error, const char *fmt, ...) _printf_(3, 4);
