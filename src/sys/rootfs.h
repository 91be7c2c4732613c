/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "plan.h"

/* Which step failed and on what, for the message the daemon shows. */
typedef struct StepError {
    const char *step;
    char detail[400];
} StepError;

/* Builds the sandbox's root file system and pivots into it. Must run in a new mount namespace
 * (all mounts die with it, so a failure leaves nothing on the host). */
/* With userns_fd >= 0 the image layers (and a root directory) are mounted idmapped into that
 * user namespace, so that the image's root-owned files are root's inside it; the rw layer is
 * not, so what the sandbox writes is owned by its unprivileged host ids. */
int rootfs_setup(const SandboxPlan *p, int userns_fd, StepError *e);

/* Sets the host name, when the plan has one. */
int rootfs_set_hostname(const SandboxPlan *p, StepError *e);

/* Overlay mount options for lower layers (lowest first) + init layer + upper/work; -EINVAL when
 * a path holds a character overlayfs cannot take in its option string (':' ',' '\\'). */
int rootfs_overlay_options(char *const *lowers, const char *init_layer, const char *upper,
                           const char *work, char **ret);
