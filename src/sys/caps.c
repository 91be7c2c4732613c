/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cap_t, cap_free)

int caps_limit_bounding_set(uint64_t keep) {
    cap_value_t last = cap_max_bits();
    for (cap_value_t c = 0; c < last; c++)
        if (c >= 64 || !(keep & (1ULL << c)))
            if (cap_drop_bound(c) < 0 && errno != EINVAL)
                return -errno;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;
    /* root's exec adds the inheritable set back to the permitted one: clear it */
    _cleanup_(cap_freep) cap_t caps = cap_get_proc();
    if (!caps)
        return -errno;
    if (cap_clear_flag(caps, CAP_INHERITABLE) < 0 || cap_set_proc(caps) < 0)
        return -errno;
    return 0;
}
