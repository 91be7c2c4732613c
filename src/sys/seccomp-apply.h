/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The init's side of seccomp: loads a program the daemon compiled, with prctl() alone, so that
 * sandboxd-init needs no libseccomp. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sets no_new_privs when asked, then loads bpf (NULL: none) as the calling thread's filter.
 * Without no_new_privs the kernel wants CAP_SYS_ADMIN in the caller's user namespace, which
 * a switch from uid 0 to another uid drops: then call it before that switch. */
int seccomp_apply_program(const uint8_t *bpf, size_t size, bool no_new_privs);

/* A filter that hands sysinfo(2) (of the native architecture) to a supervisor: loaded on the
 * calling thread under the same conditions as seccomp_apply_program(); returns its listener
 * (SECCOMP_FILTER_FLAG_NEW_LISTENER). Other filters stacked with it still decide first when
 * they deny the call. */
int seccomp_sysinfo_listener(void);
