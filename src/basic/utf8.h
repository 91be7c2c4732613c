/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* UTF-8 as D-Bus (and sd-bus) accepts it in a string: no overlong forms, no surrogates, nothing
 * above U+10FFFF, and none of the noncharacters U+FDD0..U+FDEF and U+xFFFE/U+xFFFF. */
bool utf8_is_valid(const char *s);
bool utf8_is_valid_n(const char *s, size_t n);
/* Length (1-4) of the character, valid as above, that the n bytes at s begin with; 0 if they
 * begin with none (a stray or missing continuation byte, an overlong form, a cut-off one). */
size_t utf8_char_len(const char *s, size_t n);
/* A copy of s with each byte that does not begin a valid character replaced by U+FFFD, as
 * systemd's utf8_escape_invalid() does. NULL on OOM. */
char *utf8_escape_invalid(const char *s);
/* The longest prefix of s of at most max bytes that does not end inside a character (for
 * "%.*s" of valid text). */
size_t utf8_prefix_len(const char *s, size_t max);
