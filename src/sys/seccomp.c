/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Profile -> BPF with libseccomp; the only includer of <seccomp.h>. */

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "path-util.h"
#include "seccomp.h"
#include "strv.h"

#define BPF_INSNS_MAX 4096 /* the kernel's BPF_MAXINSNS */
#define X32_SYSCALL_BIT 0x40000000U

static void ctx_releasep(scmp_filter_ctx *c) {
    if (*c)
        seccomp_release(*c);
}

static uint32_t scmp_action(SeccompAction a) {
    switch (a.type) {
    case SECCOMP_ACTION_ALLOW:
        return SCMP_ACT_ALLOW;
    case SECCOMP_ACTION_ERRNO:
        return SCMP_ACT_ERRNO(a.data);
    case SECCOMP_ACTION_KILL_THREAD:
        return SCMP_ACT_KILL;
    case SECCOMP_ACTION_KILL_PROCESS:
        return SCMP_ACT_KILL_PROCESS;
    case SECCOMP_ACTION_TRAP:
        return SCMP_ACT_TRAP;
    case SECCOMP_ACTION_TRACE:
        return SCMP_ACT_TRACE(a.data);
    case SECCOMP_ACTION_LOG:
        return SCMP_ACT_LOG;
    }
    return SCMP_ACT_KILL_PROCESS;
}

static const enum scmp_compare scmp_ops[] = {
    [SECCOMP_OP_NE] = SCMP_CMP_NE, [SECCOMP_OP_LT] = SCMP_CMP_LT,
    [SECCOMP_OP_LE] = SCMP_CMP_LE, [SECCOMP_OP_EQ] = SCMP_CMP_EQ,
    [SECCOMP_OP_GE] = SCMP_CMP_GE, [SECCOMP_OP_GT] = SCMP_CMP_GT,
    [SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const SeccompRule *r) {
    struct scmp_arg_cmp cmp[SECCOMP_ARGS_MAX];
    bool repeated = false;
    for (size_t i = 0; i < r->n_args; i++) {
        cmp[i] = (struct scmp_arg_cmp){r->args[i].index, scmp_ops[r->args[i].op],
                                       r->args[i].value, r->args[i].value_two};
        for (size_t j = 0; j < i; j++)
            repeated |= r->args[j].index == r->args[i].index;
    }
    if (!repeated)
        return seccomp_rule_add_array(ctx, action, nr, (unsigned) r->n_args, cmp);
    /* runc's reading of one argument checked twice: either check passes (one rule each) */
    for (size_t i = 0; i < r->n_args; i++) {
        int k = seccomp_rule_add_array(ctx, action, nr, 1, &cmp[i]);
        if (k < 0 && k != -EEXIST)
            return k;
    }
    return 0;
}

static int add_arches(scmp_filter_ctx ctx, const SeccompProfile *p, SeccompError *e) {
    if (!p->architectures) {
#if defined(__x86_64__) && !defined(__ILP32__)
        /* 32-bit programs (int 0x80) meet the same rules rather than a kill for a bad
         * architecture. x32 is left out: its copy of the rules made the program 40% longer
         * and every load ~0.1-0.2 ms slower, for an ABI most kernels disable; the prologue
         * answers its calls with ENOSYS, as such a kernel does (build_stub()). */
        int r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
        if (r < 0 && r != -EEXIST)
            return r;
#endif
        return 0;
    }
    STRV_FOREACH(a, p->architectures) {
        uint32_t token = seccomp_arch_resolve_name(*a);
        if (token == 0) {
            snprintf(e->detail, sizeof e->detail, "architectures: libseccomp does not know \"%s\"",
                     *a);
            return -EINVAL;
        }
        int r = seccomp_arch_add(ctx, token);
        if (r < 0 && r != -EEXIST)
            return r;
    }
    return 0;
}

/* The highest syscall number libseccomp knows for an architecture within [lo, hi). */
static uint32_t max_known(uint32_t arch, uint32_t lo, uint32_t hi) {
    uint32_t max = 0;
    for (uint32_t n = lo; n < hi; n++) {
        char *name = seccomp_syscall_resolve_num_arch(arch, (int) n);
        if (name)
            max = n;
        free(name);
    }
    return max;
}

/* A prologue to libseccomp's program: on x86, syscall numbers above the highest libseccomp
 * knows return ENOSYS (runc's patchbpf does the same), and so do x32 calls when the filter has
 * no rules for x32. Any other architecture falls through to libseccomp's program, which kills
 * what it was not built for. */
typedef struct Stub {
    struct sock_filter insn[32];
    int jt[32], jf[32]; /* label of each jump target; -1: the next instruction */
    size_t n;
} Stub;

enum { L_NEXT = -1, L_X86_64, L_X32, L_I386, L_ENOSYS, L_PROG, _L_MAX };

static void emit(Stub *s, uint16_t code, uint32_t k, int jt, int jf) {
    s->insn[s->n] = (struct sock_filter){code, 0, 0, k};
    s->jt[s->n] = jt;
    s->jf[s->n] = jf;
    s->n++;
}

static int build_stub(scmp_filter_ctx ctx, Stub *s) {
    static uint32_t max64, max32, x32_low, x32_high; /* the same for every compile */
    if (max64 == 0) {
        max64 = max_known(SCMP_ARCH_X86_64, 0, 1024);
        max32 = max_known(SCMP_ARCH_X86, 0, 1024);
        /* x32 has its own calls at 512..547, below the numbers of newer common ones */
        x32_low = max_known(SCMP_ARCH_X32, X32_SYSCALL_BIT, X32_SYSCALL_BIT + 512);
        x32_high = max_known(SCMP_ARCH_X32, X32_SYSCALL_BIT + 512, X32_SYSCALL_BIT + 1024);
    }
    bool x32 = seccomp_arch_exist(ctx, SCMP_ARCH_X32) == 0 && x32_low && x32_high;
    bool i386 = seccomp_arch_exist(ctx, SCMP_ARCH_X86) == 0 && max32;
    bool x86_64 = seccomp_arch_exist(ctx, SCMP_ARCH_X86_64) == 0 && max64;
    int label[_L_MAX] = {0};
    *s = (Stub){.n = 0};
    if (!x86_64 && !i386)
        return 0;

    emit(s, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), L_NEXT, L_NEXT);
    if (x86_64)
        emit(s, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, L_X86_64, L_NEXT);
    if (i386)
        emit(s, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, L_I386, L_NEXT);
    emit(s, BPF_JMP | BPF_JA, 0, L_PROG, L_NEXT);
    if (x86_64) {
        label[L_X86_64] = (int) s->n;
        emit(s, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), L_NEXT, L_NEXT);
        emit(s, BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, x32 ? L_X32 : L_ENOSYS, L_NEXT);
        emit(s, BPF_JMP | BPF_JGT | BPF_K, max64, L_ENOSYS, L_PROG);
    }
    if (x86_64 && x32) {
        label[L_X32] = (int) s->n;
        emit(s, BPF_JMP | BPF_JGT | BPF_K, x32_high, L_ENOSYS, L_NEXT);
        emit(s, BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT + 512, L_PROG, L_NEXT);
        emit(s, BPF_JMP | BPF_JGT | BPF_K, x32_low, L_ENOSYS, L_PROG);
    }
    if (i386) {
        label[L_I386] = (int) s->n;
        emit(s, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), L_NEXT, L_NEXT);
        emit(s, BPF_JMP | BPF_JGT | BPF_K, max32, L_ENOSYS, L_PROG);
    }
    label[L_ENOSYS] = (int) s->n;
    emit(s, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, L_NEXT, L_NEXT);
    label[L_PROG] = (int) s->n;

    for (size_t i = 0; i < s->n; i++) {
        int next = (int) i + 1;
        if (s->insn[i].code == (BPF_JMP | BPF_JA)) {
            s->insn[i].k = (uint32_t) (label[s->jt[i]] - next);
            continue;
        }
        if (BPF_CLASS(s->insn[i].code) != BPF_JMP)
            continue;
        /* all targets are ahead and within the stub: offsets fit the 8-bit fields */
        s->insn[i].jt = (uint8_t) (s->jt[i] == L_NEXT ? 0 : label[s->jt[i]] - next);
        s->insn[i].jf = (uint8_t) (s->jf[i] == L_NEXT ? 0 : label[s->jf[i]] - next);
    }
    return 0;
}

static int export_bpf(scmp_filter_ctx ctx, uint8_t **ret, size_t *ret_size) {
    _cleanup_close_ int fd = memfd_create("sandboxd-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return r;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    _cleanup_free_ char *buf = NULL;
    size_t len;
    r = read_fd(fd, BPF_INSNS_MAX * sizeof(struct sock_filter), &buf, &len);
    if (r < 0)
        return r == -EFBIG ? -E2BIG : r;
    if (len == 0 || len % sizeof(struct sock_filter) != 0)
        return -EIO;
    *ret = (uint8_t *) TAKE_PTR(buf);
    *ret_size = len;
    return 0;
}

int seccomp_compile(const SeccompProfile *p, uint64_t caps, uint8_t **ret_bpf, size_t *ret_size,
                    SeccompError *e) {
    uint32_t def = scmp_action(p->default_action);
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx)
        return -ENOMEM;
    /* the program is exported, not loaded here; the init sets no_new_privs when asked */
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r < 0)
        return r;
    /* a binary tree over syscall numbers: fewer instructions run per syscall */
    (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if ((r = add_arches(ctx, p, e)) < 0)
        return r;

    struct utsname u;
    unsigned kernel = 0;
    if (uname(&u) == 0)
        (void) seccomp_parse_kernel_version(u.release, &kernel);
    const char *arch = seccomp_native_arch_name();
    for (size_t i = 0; i < p->n_rules; i++) {
        const SeccompRule *rule = &p->rules[i];
        uint32_t action = scmp_action(rule->action);
        /* libseccomp refuses a rule that repeats the default, which it would not change */
        if (action == def || !seccomp_rule_applies(rule, caps, kernel, arch))
            continue;
        STRV_FOREACH(name, rule->names) {
            int nr = seccomp_syscall_resolve_name(*name);
            if (nr == __NR_SCMP_ERROR)
                continue; /* unknown here: skipped, as Docker does */
            r = add_rule(ctx, action, nr, rule);
            if (r < 0 && r != -EEXIST) {
                snprintf(e->detail, sizeof e->detail, "syscalls[%zu]: %s: %s", i, *name,
                         strerror(-r));
                return -EINVAL;
            }
        }
    }

    _cleanup_free_ uint8_t *prog = NULL;
    size_t size = 0;
    if ((r = export_bpf(ctx, &prog, &size)) < 0) {
        snprintf(e->detail, sizeof e->detail, "exporting the filter: %s", strerror(-r));
        return r == -E2BIG ? -EINVAL : r;
    }
    Stub stub = {.n = 0};
    if (p->default_action.type != SECCOMP_ACTION_ALLOW &&
        p->default_action.type != SECCOMP_ACTION_LOG && (r = build_stub(ctx, &stub)) < 0)
        return r;
    size_t stub_size = stub.n * sizeof(struct sock_filter);
    if (size + stub_size > BPF_INSNS_MAX * sizeof(struct sock_filter)) {
        snprintf(e->detail, sizeof e->detail, "the filter has more than %d instructions",
                 BPF_INSNS_MAX);
        return -EINVAL;
    }
    uint8_t *out = malloc(stub_size + size);
    if (!out)
        return -ENOMEM;
    memcpy(out, stub.insn, stub_size);
    memcpy(out + stub_size, prog, size);
    *ret_bpf = out;
    *ret_size = stub_size + size;
    return 0;
}
