/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape-util.h"
#include "utf8.h"

/* "\xNN" is the longest form of one input byte */
#define ESCAPED_MAX 4

static char *escape_byte(char *o, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    static const char named[] = {['\a'] = 'a', ['\b'] = 'b',  ['\n'] = 'n', ['\v'] = 'v',
                                 ['\f'] = 'f', ['\r'] = 'r', ['\\'] = '\\'};
    *o++ = '\\';
    if (c < sizeof named && named[c]) {
        *o++ = named[c];
    } else {
        *o++ = 'x';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 0xf];
    }
    return o;
}

/* Whether the character of k bytes at s (k == 0: a byte that begins none) goes as it is. */
static bool is_shown(const char *s, size_t k, EscapeFlags flags) {
    unsigned char c = (unsigned char) s[0];
    if (k == 0)
        return false;
    if (k == 1)
        return ((c >= ' ' && c != 0x7f) || c == '\t' ||
                (c == '\n' && (flags & ESCAPE_KEEP_NEWLINE))) &&
               !(c == '\\' && (flags & ESCAPE_BACKSLASH));
    unsigned char c1 = (unsigned char) s[1], c2 = k > 2 ? (unsigned char) s[2] : 0;
    if (k == 3 && c == 0xe2 &&
        ((c1 == 0x80 && c2 >= 0xaa && c2 <= 0xae) || (c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9)))
        return false; /* bidi embeddings, overrides, isolates: they reorder what follows */
    return !(k == 2 && c == 0xc2 && c1 < 0xa0); /* U+0080..U+009F */
}

char *escape_terminal(const char *s, size_t n, EscapeFlags flags) {
    if (n > (SIZE_MAX - 1) / ESCAPED_MAX)
        return NULL;
    char *r = malloc(n * ESCAPED_MAX + 1), *o = r;
    if (!r)
        return NULL;
    while (n > 0) {
        size_t k = utf8_char_len(s, n);
        if (is_shown(s, k, flags)) {
            memcpy(o, s, k);
            o += k;
        } else {
            /* byte by byte, so a C1 control shows as the two bytes of its UTF-8 form */
            k = k ?: 1;
            for (size_t i = 0; i < k; i++)
                o = escape_byte(o, (unsigned char) s[i]);
        }
        s += k;
        n -= k;
    }
    *o = 0;
    return r;
}
