/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

typedef enum EscapeFlags {
    ESCAPE_KEEP_NEWLINE = 1 << 0, /* text of many lines (a log): "\n" goes as it is */
    ESCAPE_BACKSLASH = 1 << 1,    /* a backslash as two: names whose escapes must be told
                                   * from bytes that look like one (diff's paths) */
} EscapeFlags;

/* A copy of the n bytes at s that a terminal shows and never interprets, for text a payload or
 * a unit file chose (a log, a Description=): an escape sequence can rewrite what is on the
 * screen (a forged line, a cleared screen), set the window title, or write the clipboard (OSC
 * 52). Escaped, each as \a \b \v \f \r (and \n without ESCAPE_KEEP_NEWLINE) or \xNN per byte:
 * C0 controls other than tab, DEL, C1 controls (U+0080..U+009F, which some terminals take as
 * ESC [ and the like), the bidi embeddings, overrides and isolates (U+202A..U+202E,
 * U+2066..U+2069, which make text read in another order than it is), and every byte that does
 * not begin a valid UTF-8 character (a stray 0x9b is CSI to an 8-bit terminal). Everything
 * else, backslashes (unless ESCAPE_BACKSLASH) and valid UTF-8 included, is copied as it is: the
 * result is for reading, not for decoding back. NUL-terminated; NULL on OOM. */
char *escape_terminal(const char *s, size_t n, EscapeFlags flags);
