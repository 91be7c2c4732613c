/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* rm -rf that never crosses into another file system or a mount point and never follows
 * symlinks, with constant fd use and stack depth whatever the depth of the tree (one directory
 * open at a time; the way back up is checked). Goes on past what it cannot remove, as rm -rf
 * does, up to a bound; returns the first error. 0 if path does not exist. */
int rm_rf(const char *path);
