/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Compiles a seccomp profile into the classic BPF program the kernel runs, with libseccomp (the
 * only file that includes it). The daemon compiles; sandboxd-init only loads the bytes
 * (seccomp-apply.h), so the init stays free of libseccomp. */

#include <stddef.h>
#include <stdint.h>

#include "seccomp-profile.h"

/* The filter for a payload whose capability bounding set is caps: the profile's rules that
 * apply on this host and with these capabilities, on each of the profile's architectures (by
 * default the native one and, on x86-64, x86). For a profile that does not allow by default,
 * syscalls newer than libseccomp knows get ENOSYS rather than the default action, as runc
 * does, so that libc falls back to an older call instead of failing; so do x32 calls unless
 * the profile lists x32 (x86 only).
 *
 * Returns the program as bytes (a multiple of sizeof(struct sock_filter)); on a profile the
 * compiler refuses, -EINVAL and e says why. */
int seccomp_compile(const SeccompProfile *p, uint64_t caps, uint8_t **ret_bpf, size_t *ret_size,
                    SeccompError *e);
