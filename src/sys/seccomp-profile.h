/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A seccomp profile as data, in Docker's model: a default action, the architectures, and rules
 * that name syscalls, an action, optional argument checks, and conditions (capabilities in the
 * bounding set, the host's architecture, a minimum kernel) under which a rule applies. The
 * built-in default profile and Docker/OCI JSON profiles both become this; seccomp.c compiles
 * it. Nothing here touches the kernel or includes libseccomp. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* A JSON profile larger than this is refused (Docker's default profile is ~20 KiB). */
#define SECCOMP_PROFILE_MAX_SIZE (1024 * 1024)
#define SECCOMP_ARGS_MAX 6

typedef enum SeccompActionType {
    SECCOMP_ACTION_ALLOW,
    SECCOMP_ACTION_ERRNO,
    SECCOMP_ACTION_KILL_THREAD,
    SECCOMP_ACTION_KILL_PROCESS,
    SECCOMP_ACTION_TRAP,
    SECCOMP_ACTION_TRACE,
    SECCOMP_ACTION_LOG,
} SeccompActionType;

typedef struct SeccompAction {
    SeccompActionType type;
    uint16_t data; /* the errno for ERRNO, the message for TRACE */
} SeccompAction;

typedef enum SeccompOp {
    SECCOMP_OP_NE,
    SECCOMP_OP_LT,
    SECCOMP_OP_LE,
    SECCOMP_OP_EQ,
    SECCOMP_OP_GE,
    SECCOMP_OP_GT,
    SECCOMP_OP_MASKED_EQ, /* (arg & value) == value_two */
} SeccompOp;

typedef struct SeccompArg {
    unsigned index; /* 0..5 */
    SeccompOp op;
    uint64_t value, value_two;
} SeccompArg;

/* Docker's "includes"/"excludes": includes holds when every part holds, excludes when any does. */
typedef struct SeccompCondition {
    uint64_t caps;       /* bit n: capability n */
    bool unknown_cap;    /* named a capability this host does not know (never held) */
    char **arches;       /* Docker's names of the host's architecture: amd64, x86, arm64 ... */
    unsigned min_kernel; /* SECCOMP_KERNEL(major, minor); 0: none */
} SeccompCondition;

#define SECCOMP_KERNEL(major, minor) (((unsigned) (major) << 8) | (unsigned) (minor))

typedef struct SeccompRule {
    char **names;
    SeccompAction action;
    SeccompArg args[SECCOMP_ARGS_MAX];
    size_t n_args;
    SeccompCondition includes, excludes;
} SeccompRule;

typedef struct SeccompProfile {
    SeccompAction default_action;
    /* libseccomp names ("x86_64", "x86", "x32"); NULL: the native one and, on x86-64, x86,
     * so a 32-bit syscall meets the same rules instead of a kill */
    char **architectures;
    SeccompRule *rules;
    size_t n_rules;
} SeccompProfile;

SeccompProfile *seccomp_profile_free(SeccompProfile *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SeccompProfile *, seccomp_profile_free)

/* What went wrong in a profile, in words ("syscalls[3].action: unknown action \"X\""). */
typedef struct SeccompError {
    char detail[256];
} SeccompError;

/* sandboxd's default: Docker's default profile (an allowlist, EPERM for the rest). */
int seccomp_profile_new_default(SeccompProfile **ret);

/* Parses a Docker/OCI seccomp profile: defaultAction, defaultErrnoRet, architectures or
 * archMap, syscalls[] with names (or name), action, errnoRet, args (index, value, valueTwo,
 * op), includes/excludes (caps, arches, minKernel). -EINVAL with e filled on bad input. */
int seccomp_profile_parse_json(const char *text, size_t len, SeccompProfile **ret,
                               SeccompError *e);

/* Reads a profile file: a regular file (opened without blocking, so a FIFO cannot stall the
 * daemon) of at most SECCOMP_PROFILE_MAX_SIZE bytes, without NUL bytes. */
int seccomp_profile_read_file(const char *path, char **ret_text, size_t *ret_len,
                              SeccompError *e);

/* The capabilities any rule's condition looks at: a compiled profile depends only on
 * (bounding set & this). */
uint64_t seccomp_profile_caps_mask(const SeccompProfile *p);

/* Docker's name for the architecture this program runs on ("amd64"), for includes.arches. */
const char *seccomp_native_arch_name(void);

/* Does the rule apply to a payload with this bounding set, on this kernel and architecture
 * (Docker's rule: every part of includes holds and no part of excludes does)? */
bool seccomp_rule_applies(const SeccompRule *r, uint64_t caps, unsigned kernel,
                          const char *arch);

/* "6.1.0-13-amd64" -> SECCOMP_KERNEL(6, 1); -EINVAL when it does not start that way. */
int seccomp_parse_kernel_version(const char *release, unsigned *ret);
