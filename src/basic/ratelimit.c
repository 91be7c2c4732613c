/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ratelimit.h"

bool ratelimit_below(RateLimit *rl, uint64_t now_usec) {
    if (rl->interval_usec == 0 || rl->burst == 0)
        return true;
    if (rl->begin_usec == 0 || now_usec - rl->begin_usec > rl->interval_usec) {
        rl->begin_usec = now_usec;
        rl->num = 1;
        return true;
    }
    if (rl->num < rl->burst) {
        rl->num++;
        return true;
    }
    return false;
}

void ratelimit_reset(RateLimit *rl) {
    rl->begin_usec = 0;
    rl->num = 0;
}
