/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blockdev.h"
#include "macro.h"
#include "path-util.h"

int block_whole_disk(const char *path, dev_t *ret) {
    struct stat st;
    char sys[64];
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISBLK(st.st_mode))
        return -ENOTBLK;
    unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
    snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u/partition", maj, min);
    if (access(sys, F_OK) < 0) {
        *ret = st.st_rdev;
        return 0;
    }
    /* /sys/dev/block/M:m links to .../block/vda/vda1; the disk's "dev" is one level up */
    snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u/../dev", maj, min);
    _cleanup_free_ char *text = NULL;
    int r = read_file(sys, 64, &text, NULL);
    if (r < 0)
        return r;
    if (sscanf(text, "%u:%u", &maj, &min) != 2)
        return -EIO;
    *ret = makedev(maj, min);
    return 0;
}
