/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>

/* The whole disk a block device node stands for: io.max and blkio.throttle.* accept disks
 * only, so a partition gives the disk that holds it (as systemd does). -ENOTBLK when path is
 * not a block device. */
int block_whole_disk(const char *path, dev_t *ret);
