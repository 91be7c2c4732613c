/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Seccomp: the JSON profile parser (good and hostile input), rule conditions, the compiled
 * default filter loaded into a child (what it denies, what it lets through), the filter's trip
 * through the plan (and plan bytes that must be refused), and the manager's cache. */
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "plan.h"
#include "seccomp-apply.h"
#include "seccomp-cache.h"
#include "seccomp.h"
#include "strv.h"

#define CAP_BIT(n) (1ULL << (n))
#define CAP_SYS_ADMIN_ 21
#define CAP_SYS_PTRACE_ 19
#define DEFAULT_CAPS 0x800405fbULL /* sandboxd's default bounding set */

static SeccompProfile *parse_ok(const char *json) {
    SeccompProfile *p = NULL;
    SeccompError e = {};
    int r = seccomp_profile_parse_json(json, strlen(json), &p, &e);
    if (r < 0)
        fail_msg("unexpected: %s (%s)", e.detail, json);
    return p;
}

static void parse_bad(const char *json, const char *why) {
    SeccompProfile *p = NULL;
    SeccompError e = {};
    int r = seccomp_profile_parse_json(json, strlen(json), &p, &e);
    if (r != -EINVAL || p)
        fail_msg("accepted: %s", json);
    if (!strstr(e.detail, why))
        fail_msg("for %s: expected \"%s\" in \"%s\"", json, why, e.detail);
}

/* The parser reads len bytes, not up to a NUL: what lies beyond is not its business (it once
 * scanned past len for trailing text, which the fuzz target found). */
static void test_json_length_bounded(void **state) {
    static const char text[] = "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}  X";
    SeccompProfile *p = NULL;
    SeccompError e = {0};
    assert_int_equal(seccomp_profile_parse_json(text, sizeof text - 2, &p, &e), 0);
    seccomp_profile_free(p);
    p = NULL;
    assert_int_equal(seccomp_profile_parse_json(text, sizeof text - 1, &p, &e), -EINVAL);
    assert_null(p);
}

static void test_json_good(void **state) {
    SeccompProfile *p = parse_ok(
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,\n"
        " \"archMap\": [{\"architecture\": \"SCMP_ARCH_AARCH64\","
        "               \"subArchitectures\": [\"SCMP_ARCH_ARM\"]},\n"
        "              {\"architecture\": \"SCMP_ARCH_X86_64\","
        "               \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]}],\n"
        " \"syscalls\": [\n"
        "  {\"names\": [\"read\", \"write\", \"no_such_call\"], \"action\": \"SCMP_ACT_ALLOW\","
        "   \"comment\": \"unknown keys are ignored, as by Docker\"},\n"
        "  {\"name\": \"ptrace\", \"action\": \"SCMP_ACT_ALLOW\","
        "   \"includes\": {\"minKernel\": \"4.8\"}},\n"
        "  {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\","
        "   \"args\": [{\"index\": 0, \"value\": 2114060288, \"valueTwo\": 0,"
        "              \"op\": \"SCMP_CMP_MASKED_EQ\"}],"
        "   \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"], \"arches\": [\"s390x\"]}},\n"
        "  {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38},\n"
        "  {\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ALLOW\","
        "   \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\", \"CAP_NO_SUCH_THING\"]}},\n"
        "  {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_KILL_PROCESS\", \"args\": null},\n"
        "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": ["
        "     {\"index\": 0, \"value\": 18446744073709551615, \"op\": \"SCMP_CMP_EQ\"}]}\n"
        " ]}\n");
    assert_int_equal(p->default_action.type, SECCOMP_ACTION_ERRNO);
    assert_int_equal(p->default_action.data, 1);
    /* archMap: only the native entry, with its sub-architectures */
    assert_int_equal(strv_length(p->architectures), 3);
    assert_string_equal(p->architectures[0], "x86_64");
    assert_string_equal(p->architectures[2], "x32");
    assert_int_equal(p->n_rules, 7);
    assert_int_equal(strv_length(p->rules[0].names), 3);
    assert_string_equal(p->rules[1].names[0], "ptrace");
    assert_int_equal(p->rules[1].includes.min_kernel, SECCOMP_KERNEL(4, 8));
    assert_int_equal(p->rules[2].n_args, 1);
    assert_int_equal(p->rules[2].args[0].op, SECCOMP_OP_MASKED_EQ);
    assert_int_equal(p->rules[2].args[0].value, 0x7E020000);
    assert_int_equal(p->rules[2].excludes.caps, CAP_BIT(CAP_SYS_ADMIN_));
    assert_int_equal(p->rules[3].action.type, SECCOMP_ACTION_ERRNO);
    assert_int_equal(p->rules[3].action.data, 38);
    assert_true(p->rules[4].includes.unknown_cap);
    assert_int_equal(p->rules[5].action.type, SECCOMP_ACTION_KILL_PROCESS);
    assert_int_equal(p->rules[6].args[0].value, UINT64_MAX);
    assert_int_equal(seccomp_profile_caps_mask(p), CAP_BIT(CAP_SYS_ADMIN_));
    seccomp_profile_free(p);

    /* the smallest profile, and "architectures" as OCI writes it */
    p = parse_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
                 "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"]}");
    assert_int_equal(p->n_rules, 0);
    assert_int_equal(p->default_action.type, SECCOMP_ACTION_ALLOW);
    assert_string_equal(p->architectures[1], "x86");
    seccomp_profile_free(p);
    /* ERRNO without a number is EPERM, as for runc */
    p = parse_ok("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[]}");
    assert_int_equal(p->default_action.data, EPERM);
    seccomp_profile_free(p);
}

static void test_json_bad(void **state) {
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"", "ends early"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\"", "ends early"},
        {"not json", "not valid JSON"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\"} trailing", "not valid JSON"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\"} {}", "not valid JSON"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\",}", "not valid JSON"},
        {"[]", "expected a JSON object"},
        {"{}", "defaultAction: missing"},
        {"{\"defaultAction\": 1}", "defaultAction: expected a string"},
        {"{\"defaultAction\": \"SCMP_ACT_SOMETIMES\"}", "unknown action \"SCMP_ACT_SOMETIMES\""},
        {"{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "SCMP_ACT_NOTIFY is not supported"},
        {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": -1}", "out of range"},
        {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 4096}", "out of range"},
        {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1.5}", "whole number"},
        {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": \"1\"}", "whole number"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}", "syscalls: expected an array"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [1]}", "syscalls[0]: expected an object"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"action\": \"SCMP_ACT_ALLOW\"}]}",
         "names: missing or empty"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [], "
         "\"action\": \"SCMP_ACT_ALLOW\"}]}",
         "names: missing or empty"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": \"read\", "
         "\"action\": \"SCMP_ACT_ALLOW\"}]}",
         "expected an array of strings"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [7], "
         "\"action\": \"SCMP_ACT_ALLOW\"}]}",
         "names[0]: expected a string"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"name\": \"read\", "
         "\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
         "both \"name\" and \"names\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"Read()\"], "
         "\"action\": \"SCMP_ACT_ALLOW\"}]}",
         "is not a syscall name"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"]}]}",
         "syscalls[0]: action: missing"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 70000}]}",
         "syscalls[0]: errnoRet: 70000 out of range"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 6, \"value\": 1, "
         "\"op\": \"SCMP_CMP_EQ\"}]}]}",
         "syscalls[0].args[0]: index: 6 out of range"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 1, "
         "\"op\": \"SCMP_CMP_ALMOST\"}]}]}",
         "unknown operator"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 1}]}]}",
         "op: missing"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": -5, "
         "\"op\": \"SCMP_CMP_EQ\"}]}]}",
         "value: -5 out of range"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"args\": {}}]}",
         "args: expected an array"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{},{},{},{},{},{},{}]}]}",
         "args: at most 6"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"4\"}}]}",
         "minKernel: expected"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"4.8.1\"}}]}",
         "minKernel: expected"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"minKernel\": \"0.0\"}}]}",
         "minKernel: expected"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": \"CAP_SYS_ADMIN\"}}]}",
         "caps: expected an array of strings"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"includes\": []}]}",
         "includes: expected an object"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"], "
         "\"archMap\": []}",
         "both \"architectures\" and \"archMap\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"x86_64\"]}",
         "is not an architecture like SCMP_ARCH_X86_64"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": [{\"architecture\": 1}]}",
         "archMap[0]: architecture: expected a string"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, "
         "\"value\": 99999999999999999999999, \"op\": \"SCMP_CMP_EQ\"}]}]}",
         "out of range"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"re\\u0000ad\"], "
         "\"action\": \"SCMP_ACT_ALLOW\"}]}",
         "contains a NUL byte"},
        {"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         "not valid JSON"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++)
        parse_bad(cases[i].json, cases[i].why);

    /* an embedded NUL, and a text over the size limit */
    SeccompProfile *p = NULL;
    SeccompError e = {};
    assert_int_equal(seccomp_profile_parse_json("{}\0{}", 5, &p, &e), -EINVAL);
    size_t big = SECCOMP_PROFILE_MAX_SIZE + 1;
    char *text = malloc(big + 1);
    memset(text, ' ', big);
    text[big] = 0;
    assert_int_equal(seccomp_profile_parse_json(text, big, &p, &e), -EINVAL);
    assert_null(p);
    free(text);
}

static void test_rule_conditions(void **state) {
    char *amd64[] = {"amd64", "x32", NULL}, *s390[] = {"s390x", NULL};
    SeccompRule r = {.includes = {.caps = CAP_BIT(CAP_SYS_ADMIN_)}};
    assert_false(seccomp_rule_applies(&r, DEFAULT_CAPS, SECCOMP_KERNEL(6, 1), "amd64"));
    assert_true(seccomp_rule_applies(&r, DEFAULT_CAPS | CAP_BIT(CAP_SYS_ADMIN_),
                                     SECCOMP_KERNEL(6, 1), "amd64"));
    r = (SeccompRule){.excludes = {.caps = CAP_BIT(CAP_SYS_ADMIN_), .arches = s390}};
    assert_true(seccomp_rule_applies(&r, DEFAULT_CAPS, SECCOMP_KERNEL(6, 1), "amd64"));
    assert_false(seccomp_rule_applies(&r, DEFAULT_CAPS, SECCOMP_KERNEL(6, 1), "s390x"));
    assert_false(seccomp_rule_applies(&r, CAP_BIT(CAP_SYS_ADMIN_), SECCOMP_KERNEL(6, 1), "amd64"));
    r = (SeccompRule){.includes = {.arches = amd64, .min_kernel = SECCOMP_KERNEL(4, 8)}};
    assert_true(seccomp_rule_applies(&r, 0, SECCOMP_KERNEL(4, 8), "amd64"));
    assert_false(seccomp_rule_applies(&r, 0, SECCOMP_KERNEL(4, 7), "amd64"));
    assert_false(seccomp_rule_applies(&r, 0, SECCOMP_KERNEL(6, 1), "arm64"));
    r = (SeccompRule){.excludes = {.min_kernel = SECCOMP_KERNEL(5, 0)}};
    assert_true(seccomp_rule_applies(&r, 0, SECCOMP_KERNEL(4, 19), "amd64"));
    assert_false(seccomp_rule_applies(&r, 0, SECCOMP_KERNEL(5, 0), "amd64"));
    r = (SeccompRule){.includes = {.unknown_cap = true}};
    assert_false(seccomp_rule_applies(&r, UINT64_MAX, SECCOMP_KERNEL(6, 1), "amd64"));

    unsigned k;
    assert_int_equal(seccomp_parse_kernel_version("6.18.44-fc-v669", &k), 0);
    assert_int_equal(k, SECCOMP_KERNEL(6, 18));
    assert_int_equal(seccomp_parse_kernel_version("4.8", &k), 0);
    assert_int_equal(k, SECCOMP_KERNEL(4, 8));
    assert_int_equal(seccomp_parse_kernel_version("6", &k), -EINVAL);
    assert_int_equal(seccomp_parse_kernel_version("x.1", &k), -EINVAL);
    assert_int_equal(seccomp_parse_kernel_version("300.1", &k), -EINVAL);
    assert_string_equal(seccomp_native_arch_name(), "amd64");
}

static void compile_ok(const SeccompProfile *p, uint64_t caps, uint8_t **bpf, size_t *size) {
    SeccompError e = {};
    int r = seccomp_compile(p, caps, bpf, size, &e);
    if (r < 0)
        fail_msg("compile: %s", e.detail);
    assert_true(*size > 0 && *size % 8 == 0 && *size <= PLAN_SECCOMP_BPF_MAX);
}

/* i386 system calls through int 0x80: what a 32-bit program makes */
static long syscall_i386(long nr, long a, long b, long c) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            dprintf(2, "child check failed, line %d: %s (errno %d)\n", __LINE__, #cond, errno);   \
            _exit(__LINE__ % 250 + 1);                                                             \
        }                                                                                          \
    } while (0)
#define DENIED(call, err) (errno = 0, (call) == -1 && errno == (err))

/* Forks, loads the program in the child (with no_new_privs: unprivileged-safe), runs fn. */
static void in_filtered_child(const uint8_t *bpf, size_t size, void (*fn)(void)) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (seccomp_apply_program(bpf, size, true) < 0)
            _exit(255);
        fn();
        /* not _exit(): a sanitizer's exit hook makes calls a strict filter refuses */
        syscall(SYS_exit_group, 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("filtered child: status %#x", status);
}

static void default_filter_checks(void) {
    /* the escapes: namespaces, the keyring, kernel interfaces */
    CHECK(DENIED(unshare(CLONE_NEWUSER), EPERM));
    CHECK(DENIED(unshare(CLONE_NEWNS | CLONE_NEWCGROUP), EPERM));
    CHECK(DENIED(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM));
    CHECK(DENIED(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0), EPERM));
    CHECK(DENIED(syscall(SYS_add_key, "user", "x", "y", 1, KEY_SPEC_SESSION_KEYRING), EPERM));
    CHECK(DENIED(syscall(SYS_bpf, 0, NULL, 0), EPERM));
    CHECK(DENIED(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM));
    CHECK(DENIED(syscall(SYS_userfaultfd, 0), EPERM));
    CHECK(DENIED(syscall(SYS_io_uring_setup, 1, NULL), EPERM));
    CHECK(DENIED(personality(ADDR_NO_RANDOMIZE), EPERM));
    CHECK(DENIED(socket(AF_ALG, SOCK_SEQPACKET, 0), EPERM));
    CHECK(DENIED(socket(AF_VSOCK, SOCK_STREAM, 0), EPERM));
    /* clone3 cannot be checked by flags: ENOSYS sends libc to clone */
    CHECK(DENIED(syscall(SYS_clone3, NULL, 0), ENOSYS));
    /* newer than libseccomp knows: ENOSYS, so libc falls back, as with runc */
    CHECK(DENIED(syscall(1000), ENOSYS));
    /* 32-bit calls meet the same rules: i386 keyctl is 288, unshare 310 */
    CHECK(syscall_i386(288, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0) == -EPERM);
    CHECK(syscall_i386(310, CLONE_NEWUSER, 0, 0) == -EPERM);
    CHECK(syscall_i386(20, 0, 0, 0) == getpid()); /* i386 getpid */
    /* x32 has no rules in the default filter: every call is ENOSYS, as without x32 support */
    CHECK(DENIED(syscall(0x40000000 | 250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0),
                 ENOSYS));
    CHECK(DENIED(syscall(0x40000000 | 39), ENOSYS)); /* x32 getpid */
    /* what ordinary programs do still works */
    CHECK(getpid() > 0);
    CHECK(personality(0xffffffff) >= 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    close(fd);
    pid_t p = fork(); /* glibc's fork is clone without namespace flags */
    CHECK(p >= 0);
    if (p == 0)
        _exit(0);
    CHECK(waitpid(p, NULL, 0) == p);
}

static void admin_filter_checks(void) {
    /* with CAP_SYS_ADMIN in the bounding set, Docker's rules allow namespaces (the kernel may
     * still refuse, but not with the filter's EPERM for unshare of a user namespace) */
    CHECK(unshare(CLONE_NEWUSER) == 0);
    CHECK(DENIED(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0), EPERM));
}

static void test_default_filter(void **state) {
    _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
    assert_int_equal(seccomp_profile_new_default(&p), 0);
    assert_true(seccomp_profile_caps_mask(p) & CAP_BIT(CAP_SYS_ADMIN_));
    assert_true(seccomp_profile_caps_mask(p) & CAP_BIT(CAP_SYS_PTRACE_));
    _cleanup_free_ uint8_t *bpf = NULL, *admin = NULL;
    size_t size, admin_size;
    compile_ok(p, DEFAULT_CAPS, &bpf, &size);
    in_filtered_child(bpf, size, default_filter_checks);
    compile_ok(p, DEFAULT_CAPS | CAP_BIT(CAP_SYS_ADMIN_), &admin, &admin_size);
    assert_true(admin_size != size || memcmp(admin, bpf, size) != 0);
    in_filtered_child(admin, admin_size, admin_filter_checks);
}

static void json_filter_checks(void) {
    CHECK(DENIED(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0), EACCES));
    /* one argument checked twice: either check makes the rule match (runc's reading) */
    CHECK(DENIED(personality(ADDR_NO_RANDOMIZE), EPERM));
    CHECK(DENIED(personality(PER_LINUX32), EPERM));
    CHECK(personality(0xffffffff) >= 0);
    CHECK(getpid() > 0);
    CHECK(unshare(CLONE_NEWUSER) == 0); /* allowed by default */
}

static void x32_filter_checks(void) {
    /* a profile that lists x32 filters x32 calls by its rules (the kernel may then refuse
     * them itself: x32 is often off) */
    CHECK(DENIED(syscall(0x40000000 | 250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0),
                 EACCES));
    CHECK(syscall_i386(288, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0) == -EACCES);
    CHECK(getpid() > 0);
}

static void test_json_filter(void **state) {
    _cleanup_(seccomp_profile_freep) SeccompProfile *p = parse_ok(
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
        " {\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
        " {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\","
        "  \"args\": [{\"index\": 0, \"value\": 262144, \"op\": \"SCMP_CMP_EQ\"},"
        "             {\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}]},"
        " {\"names\": [\"no_such_call\"], \"action\": \"SCMP_ACT_KILL\"}]}");
    _cleanup_free_ uint8_t *bpf = NULL;
    size_t size;
    compile_ok(p, 0, &bpf, &size);
    in_filtered_child(bpf, size, json_filter_checks);

    _cleanup_(seccomp_profile_freep) SeccompProfile *x32 = parse_ok(
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\","
        " \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"], \"syscalls\": ["
        " {\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
        " {\"names\": [\"getpid\", \"exit_group\", \"exit\"], \"action\": \"SCMP_ACT_ALLOW\"}]}");
    _cleanup_free_ uint8_t *xb = NULL;
    size_t xsize;
    compile_ok(x32, 0, &xb, &xsize);
    in_filtered_child(xb, xsize, x32_filter_checks);

    /* an architecture libseccomp does not know is the compiler's error */
    _cleanup_(seccomp_profile_freep) SeccompProfile *q = parse_ok(
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_PDP11\"]}");
    uint8_t *b = NULL;
    SeccompError e = {};
    assert_int_equal(seccomp_compile(q, 0, &b, &size, &e), -EINVAL);
    assert_non_null(strstr(e.detail, "pdp11"));
}

static SandboxPlan *plan_roundtrip(const SandboxPlan *p) {
    int fd = plan_to_memfd(p);
    assert_true(fd >= 0);
    SandboxPlan *q = NULL;
    assert_int_equal(plan_from_fd(fd, &q), 0);
    close(fd);
    return q;
}

static void test_plan_bpf(void **state) {
    char *argv[] = {"/bin/true", NULL}, *lowers[] = {"/l", NULL};
    uint8_t prog[24];
    for (size_t i = 0; i < sizeof prog; i++)
        prog[i] = (uint8_t) (i * 37); /* NULs and high bytes included */
    prog[3] = 0;
    SandboxPlan p = {.root_mount = "/r", .lowers = lowers, .argv = argv, .no_new_privs = true,
                     .seccomp_bpf = prog, .seccomp_bpf_size = sizeof prog};
    SandboxPlan *q = plan_roundtrip(&p);
    assert_true(q->no_new_privs);
    assert_int_equal(q->seccomp_bpf_size, sizeof prog);
    assert_memory_equal(q->seccomp_bpf, prog, sizeof prog);
    plan_free(q);
    /* none: stays none */
    p.seccomp_bpf = NULL;
    p.seccomp_bpf_size = 0;
    p.no_new_privs = false;
    q = plan_roundtrip(&p);
    assert_null(q->seccomp_bpf);
    assert_false(q->no_new_privs);
    plan_free(q);
    /* the writer refuses what the reader would */
    p.seccomp_bpf = prog;
    p.seccomp_bpf_size = 12;
    assert_int_equal(plan_to_memfd(&p), -EINVAL);
}

static int plan_from_bytes(const void *data, size_t len) {
    int fd = memfd_create("hostile-plan", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t) len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    SandboxPlan *q = NULL;
    int r = plan_from_fd(fd, &q);
    close(fd);
    if (r >= 0)
        plan_free(q);
    else
        assert_null(q);
    return r;
}

/* A plan with "seccomp_bpf" = v (and its NUL), on top of a valid minimal plan. */
static int plan_with_bpf(const char *v, size_t vlen) {
    static const char head[] = "root_mount\0/r\0lower\0/l\0arg\0/bin/true\0seccomp_bpf";
    size_t n = sizeof head + vlen + 1;
    char *buf = malloc(n);
    memcpy(buf, head, sizeof head);
    memcpy(buf + sizeof head, v, vlen);
    buf[n - 1] = 0;
    int r = plan_from_bytes(buf, n);
    free(buf);
    return r;
}

static void test_plan_hostile(void **state) {
    assert_int_equal(plan_with_bpf("0011223344556677", 16), 0);
    static const char *const bad[] = {
        "",                                  /* empty */
        "0",                                 /* odd length */
        "00112233445566",                    /* not whole instructions */
        "001122334455667",                   /* odd */
        "0011223344556677001122334455667",   /* odd */
        "00112233445566gg",                  /* not hex */
        "0011223344556677 ",                 /* a space */
        "00112233445566AA",                  /* upper case is not what the writer makes */
        "-011223344556677",
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        if (plan_with_bpf(bad[i], strlen(bad[i])) != -EBADMSG)
            fail_msg("accepted seccomp_bpf=\"%s\"", bad[i]);
    /* one instruction over the kernel's limit, and a second filter */
    size_t n = 2 * (PLAN_SECCOMP_BPF_MAX + 8);
    char *big = malloc(n);
    memset(big, '0', n);
    assert_int_equal(plan_with_bpf(big, n), -EBADMSG);
    assert_int_equal(plan_with_bpf(big, n - 16), 0);
    free(big);
    static const char twice[] = "root_mount\0/r\0lower\0/l\0arg\0/bin/true\0"
                                "seccomp_bpf\0000011223344556677\0seccomp_bpf\0000011223344556677";
    assert_int_equal(plan_from_bytes(twice, sizeof twice), -EBADMSG);
    /* a key without its value, cut in the middle of the hex */
    static const char cut[] = "root_mount\0/r\0lower\0/l\0arg\0/bin/true\0seccomp_bpf\0000112";
    assert_int_equal(plan_from_bytes(cut, sizeof cut - 1), -EBADMSG);

    /* random damage to a valid plan: refused or read, never a crash (the sanitizer build
     * turns an overread into a failure) */
    char *argv[] = {"/bin/true", NULL}, *lowers[] = {"/l", NULL};
    uint8_t prog[64] = {1, 2, 3};
    SandboxPlan p = {.root_mount = "/r", .lowers = lowers, .argv = argv,
                     .seccomp_bpf = prog, .seccomp_bpf_size = sizeof prog};
    int fd = plan_to_memfd(&p);
    assert_true(fd >= 0);
    char good[4096];
    ssize_t len = read(fd, good, sizeof good);
    close(fd);
    assert_true(len > 0);
    srand(7);
    for (int i = 0; i < 3000; i++) {
        char buf[4096];
        size_t l = (size_t) len - (size_t) (rand() % 8 == 0 ? rand() % len : 0);
        memcpy(buf, good, l);
        for (int k = rand() % 4; k >= 0; k--)
            buf[rand() % (int) l] = (char) (rand() % 4 == 0 ? 0 : rand());
        (void) plan_from_bytes(buf, l);
    }
}

/* $TMPDIR: the cgroup v2 leg's guest has a read-only /tmp */
static void tmp_path(char *buf, size_t size, const char *name) {
    const char *t = getenv("TMPDIR");
    snprintf(buf, size, "%s/%s", t && *t ? t : "/tmp", name);
}

static void test_read_file(void **state) {
    char dir[256];
    tmp_path(dir, sizeof dir, "test-seccomp.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[512];
    char *text = NULL;
    size_t len;
    SeccompError e = {};

    /* a FIFO nobody writes to: refused at once, not waited on */
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(seccomp_profile_read_file(path, &text, &len, &e), -EBADFD);
    assert_string_equal(e.detail, "not a regular file");
    unlink(path);
    assert_int_equal(seccomp_profile_read_file(dir, &text, &len, &e), -EBADFD);

    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(seccomp_profile_read_file(path, &text, &len, &e), -ENOENT);

    snprintf(path, sizeof path, "%s/big.json", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(ftruncate(fd, SECCOMP_PROFILE_MAX_SIZE + 1), 0);
    close(fd);
    assert_int_equal(seccomp_profile_read_file(path, &text, &len, &e), -EFBIG);
    assert_non_null(strstr(e.detail, "larger than"));
    unlink(path);

    snprintf(path, sizeof path, "%s/ok.json", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(write(fd, "{}", 2), 2);
    close(fd);
    assert_int_equal(seccomp_profile_read_file(path, &text, &len, &e), 0);
    assert_string_equal(text, "{}");
    assert_int_equal(len, 2);
    free(text);
    unlink(path);
    rmdir(dir);
}

static void test_cache(void **state) {
    SeccompCache *c = NULL;
    SeccompFilter *a = NULL, *b = NULL, *d = NULL, *u = (SeccompFilter *) 1;
    SeccompError e = {};
    assert_int_equal(seccomp_cache_get(&c, "unconfined", DEFAULT_CAPS, &u, &e), 0);
    assert_null(u);
    assert_int_equal(seccomp_cache_get(&c, NULL, DEFAULT_CAPS, &a, &e), 0);
    /* a capability no rule looks at does not make a new filter */
    assert_int_equal(seccomp_cache_get(&c, NULL, DEFAULT_CAPS | CAP_BIT(40), &b, &e), 0);
    assert_ptr_equal(a, b);
    assert_int_equal(seccomp_cache_size(c), 1);
    assert_int_equal(seccomp_cache_get(&c, NULL, DEFAULT_CAPS | CAP_BIT(CAP_SYS_ADMIN_), &d, &e),
                     0);
    assert_ptr_not_equal(a, d);
    assert_int_equal(seccomp_cache_size(c), 2);

    char path[256];
    tmp_path(path, sizeof path, "test-seccomp-XXXXXX.json");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    const char *j1 = "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}",
               *j2 = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                     "[\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\"}]}";
    assert_int_equal(write(fd, j1, strlen(j1)), (ssize_t) strlen(j1));
    SeccompFilter *f1 = NULL, *f2 = NULL, *f3 = NULL;
    assert_int_equal(seccomp_cache_get(&c, path, 0, &f1, &e), 0);
    assert_int_equal(seccomp_cache_get(&c, path, 0, &f2, &e), 0);
    assert_ptr_equal(f1, f2);
    /* an edited file is read again and compiled anew */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, j2, strlen(j2), 0), (ssize_t) strlen(j2));
    assert_int_equal(seccomp_cache_get(&c, path, 0, &f3, &e), 0);
    assert_ptr_not_equal(f1, f3);
    /* a broken file is an error with a reason, and the cache is unchanged */
    size_t n = seccomp_cache_size(c);
    assert_int_equal(pwrite(fd, "{", 1, 0), 1);
    assert_int_equal(ftruncate(fd, 1), 0);
    SeccompFilter *none = NULL;
    assert_int_equal(seccomp_cache_get(&c, path, 0, &none, &e), -EINVAL);
    assert_null(none);
    assert_non_null(strstr(e.detail, "ends early"));
    assert_int_equal(seccomp_cache_size(c), n);
    close(fd);
    unlink(path);

    /* the filters outlive the cache as long as someone holds them */
    seccomp_cache_free(c);
    assert_true(a->size > 0);
    seccomp_filter_unref(a);
    seccomp_filter_unref(b);
    seccomp_filter_unref(d);
    seccomp_filter_unref(f1);
    seccomp_filter_unref(f2);
    seccomp_filter_unref(f3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_length_bounded), cmocka_unit_test(test_json_good),     cmocka_unit_test(test_json_bad),
        cmocka_unit_test(test_rule_conditions), cmocka_unit_test(test_default_filter),
        cmocka_unit_test(test_json_filter),   cmocka_unit_test(test_plan_bpf),
        cmocka_unit_test(test_plan_hostile),  cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
