/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp-apply.h"

int seccomp_apply_program(const uint8_t *bpf, size_t size, bool no_new_privs) {
    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    if (!bpf)
        return 0;
    if (size == 0 || size % sizeof(struct sock_filter) != 0 ||
        size / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -EINVAL;
    struct sock_fprog prog = {
        .len = (unsigned short) (size / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *) bpf,
    };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return -errno;
    return 0;
}

int seccomp_sysinfo_listener(void) {
#if defined(__x86_64__)
    /* the default profile allows i386 calls (int 0x80): their sysinfo (116) too */
    const uint32_t arch = AUDIT_ARCH_X86_64, compat_arch = AUDIT_ARCH_I386, compat_nr = 116;
#elif defined(__aarch64__)
    const uint32_t arch = AUDIT_ARCH_AARCH64, compat_arch = 0, compat_nr = 0;
#else
    return -EOPNOTSUPP;
#endif
    struct sock_filter insns[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 2),
        /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* x32 calls have the same arch and a high bit in nr: not equal, allowed through */
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sysinfo, 3, 4),
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, compat_arch, 0, 3),
        /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, compat_nr, 0, 1),
        /* 7 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        /* 8 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof insns / sizeof insns[0], .filter = insns};
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                      &prog);
    return fd < 0 ? -errno : (int) fd;
}
