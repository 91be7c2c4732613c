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
int rootfs_setup(const SandboxPlan *p, StepError *e);

/* Sets the host name, when the plan has one. */
int rootfs_set_hostname(const SandboxPlan *p, StepError *e);

/* Overlay mount options for lower layers (lowest first) + init layer + upper/work; -EINVAL when
 * a path holds a character overlayfs cannot take in its option string (':' ',' '\\'). */
int rootfs_overlay_options(char *const *lowers, const char *init_layer, const char *upper,
                           const char *work, char **ret);
