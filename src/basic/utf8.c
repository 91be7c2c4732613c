/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define REPLACEMENT_CHARACTER "\xef\xbf\xbd"

static bool unichar_is_valid(uint32_t c) {
    return c < 0x110000 && (c & 0xfffff800) != 0xd800 && !(c >= 0xfdd0 && c <= 0xfdef) &&
           (c & 0xfffe) != 0xfffe;
}

size_t utf8_char_len(const char *str, size_t n) {
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    const unsigned char *s = (const unsigned char *) str;
    size_t len;
    uint32_t c;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, c = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, c = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, c = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    return c >= min[len] && unichar_is_valid(c) ? len : 0;
}

bool utf8_is_valid_n(const char *s, size_t n) {
    while (n > 0) {
        size_t k = utf8_char_len(s, n);
        if (k == 0)
            return false;
        s += k;
        n -= k;
    }
    return true;
}

bool utf8_is_valid(const char *s) {
    return utf8_is_valid_n(s, strlen(s));
}

char *utf8_escape_invalid(const char *s) {
    size_t n = strlen(s);
    char *r = malloc(n * 3 + 1), *o = r;
    const char *p = s;
    if (!r)
        return NULL;
    while (n > 0) {
        size_t k = utf8_char_len(p, n);
        if (k > 0) {
            memcpy(o, p, k);
            o += k;
        } else {
            memcpy(o, REPLACEMENT_CHARACTER, 3);
            o += 3;
            k = 1;
        }
        p += k;
        n -= k;
    }
    *o = 0;
    return r;
}

size_t utf8_prefix_len(const char *s, size_t max) {
    size_t n = strnlen(s, max);
    if (n < max || s[n] == 0)
        return n;
    while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
        n--; /* s[n] continues the character that starts before it */
    return n;
}
