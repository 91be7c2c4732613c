/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* systemd's start limit: at most burst events in a window of interval that opens with the
 * first event. interval 0 or burst 0 disables the limit. */
typedef struct RateLimit {
    uint64_t interval_usec;
    unsigned burst;
    uint64_t begin_usec;
    unsigned num;
} RateLimit;

/* Counts an event at now; false when it is over the limit. */
bool ratelimit_below(RateLimit *rl, uint64_t now_usec);
void ratelimit_reset(RateLimit *rl);
