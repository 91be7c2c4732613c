/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan's network part: what the daemon writes reads back the same, and every value the
 * init could not configure is refused by plan_from_fd() with -EINVAL. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "plan.h"

static char *argv_true[] = {"/bin/true", NULL};

static SandboxPlan base_plan(void) {
    return (SandboxPlan){
        .root_mount = "/run/r", .root_directory = "/", .argv = argv_true, .net_ns = true};
}

static PlanNetwork dual_stack(void) {
    PlanNetwork n = {
        .eth0 = true, .mtu = 1500, .has_v4 = true, .has_v6 = true, .prefix4 = 16, .prefix6 = 64};
    assert_int_equal(inet_pton(AF_INET, "10.88.0.7", &n.addr4), 1);
    assert_int_equal(inet_pton(AF_INET, "10.88.0.1", &n.gateway4), 1);
    assert_int_equal(inet_pton(AF_INET6, "fd5b:1::7", &n.addr6), 1);
    assert_int_equal(inet_pton(AF_INET6, "fd5b:1::1", &n.gateway6), 1);
    return n;
}

static int roundtrip(const SandboxPlan *in, SandboxPlan **out) {
    _cleanup_close_ int fd = plan_to_memfd(in);
    if (fd < 0)
        return fd;
    return plan_from_fd(fd, out);
}

/* The daemon's plan text, with extra pairs appended ("k\0v\0..."), read by the init. */
static int parse_with(const char *extra, size_t extra_len) {
    SandboxPlan in = base_plan();
    _cleanup_close_ int fd = plan_to_memfd(&in);
    assert_true(fd >= 0);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n + extra_len <= sizeof buf);
    memcpy(buf + n, extra, extra_len);
    _cleanup_close_ int mfd = memfd_create("plan", MFD_CLOEXEC);
    assert_true(mfd >= 0);
    assert_int_equal(write(mfd, buf, (size_t)n + extra_len), n + (ssize_t)extra_len);
    assert_int_equal(lseek(mfd, 0, SEEK_SET), 0);
    SandboxPlan *p = NULL;
    int r = plan_from_fd(mfd, &p);
    plan_free(p);
    return r;
}
/* sizeof: the literal's own NUL ends its last value */
#define PARSE(lit) parse_with(lit, sizeof(lit))
#define NET4 "net_eth0\0001\0net_mtu\0001500\0net_gateway4\00010.88.0.1\0"

static void test_roundtrip(void **state) {
    SandboxPlan in = base_plan(), *out = NULL;
    in.net = dual_stack();
    assert_int_equal(roundtrip(&in, &out), 0);
    assert_memory_equal(&out->net, &in.net, sizeof in.net);
    plan_free(out);

    /* one family only */
    in.net.has_v6 = false;
    memset(&in.net.addr6, 0, sizeof in.net.addr6);
    memset(&in.net.gateway6, 0, sizeof in.net.gateway6);
    in.net.prefix6 = 0;
    in.net.mtu = 576; /* fine without IPv6 */
    assert_int_equal(roundtrip(&in, &out), 0);
    assert_memory_equal(&out->net, &in.net, sizeof in.net);
    plan_free(out);

    /* no eth0: nothing written, nothing read */
    SandboxPlan lo = base_plan();
    assert_int_equal(roundtrip(&lo, &out), 0);
    assert_false(out->net.eth0);
    assert_false(out->net.has_v4 || out->net.has_v6);
    plan_free(out);
}

static void test_invalid_networks_refused(void **state) {
    SandboxPlan in = base_plan(), *out = NULL;
    in.net = dual_stack();
    in.net.mtu = 1279; /* IPv6 needs 1280 */
    assert_int_equal(roundtrip(&in, &out), -EINVAL);
    in.net = dual_stack();
    in.net_ns = false; /* eth0 outside a network namespace of its own */
    assert_int_equal(roundtrip(&in, &out), -EINVAL);
    in = base_plan();
    in.net = dual_stack();
    in.net.gateway4 = in.net.addr4; /* its own gateway */
    assert_int_equal(roundtrip(&in, &out), -EINVAL);
    in.net = dual_stack();
    inet_pton(AF_INET6, "fd5c::1", &in.net.gateway6); /* off-link */
    assert_int_equal(roundtrip(&in, &out), -EINVAL);
    in.net = dual_stack();
    in.net.has_v4 = in.net.has_v6 = false; /* eth0 without an address */
    assert_int_equal(roundtrip(&in, &out), -EINVAL);
}

static void test_good_text(void **state) {
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/16"), 0);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.0/31"), 0);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\0001280\0net_addr6\0fd00::2/64\0"
                           "net_gateway6\0fd00::1"),
                     0);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\00065535\0net_addr6\0fd00::2/127\0"
                           "net_gateway6\0fd00::3"),
                     0);
}

static void test_bad_values(void **state) {
    /* prefix lengths */
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/0"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/33"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/+8"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/ 8"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/16x"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2"), -EINVAL);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\0001500\0net_addr6\0fd00::2/129\0"
                           "net_gateway6\0fd00::1"),
                     -EINVAL);
    /* addresses: wrong family, not an address, a prefix on a gateway */
    assert_int_equal(PARSE(NET4 "net_addr4\0fd00::2/64"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.256/16"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.2/16"), -EINVAL);
    assert_int_equal(PARSE(NET4 "net_addr4\0/16"), -EINVAL);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\0001500\0net_gateway4\00010.88.0.1/16\0"
                           "net_addr4\00010.88.0.2/16"),
                     -EINVAL);
    /* the gateway: off-link, missing, the null address, twice */
    assert_int_equal(PARSE(NET4 "net_addr4\00010.89.0.2/16"), -EINVAL);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\0001500\0net_addr4\00010.88.0.2/16"), -EINVAL);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\0001500\0net_gateway4\0000.0.0.0\0"
                           "net_addr4\0000.0.0.2/8"),
                     -EINVAL);
    assert_int_equal(PARSE(NET4 "net_gateway4\00010.88.0.1\0net_addr4\00010.88.0.2/16"), -EINVAL);
    /* the MTU: out of range, not a number, missing */
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\00067\0net_gateway4\00010.88.0.1\0"
                           "net_addr4\00010.88.0.2/16"),
                     -EINVAL);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\00065536\0net_gateway4\00010.88.0.1\0"
                           "net_addr4\00010.88.0.2/16"),
                     -EINVAL);
    assert_int_equal(PARSE("net_eth0\0001\0net_mtu\0-1\0net_gateway4\00010.88.0.1\0"
                           "net_addr4\00010.88.0.2/16"),
                     -EINVAL);
    assert_int_equal(PARSE("net_eth0\0001\0net_gateway4\00010.88.0.1\0"
                           "net_addr4\00010.88.0.2/16"),
                     -EINVAL);
    /* eth0 flag: only "1", once; and no network key without it */
    assert_int_equal(PARSE(NET4 "net_addr4\00010.88.0.2/16\0net_eth0\0001"), -EINVAL);
    assert_int_equal(PARSE("net_eth0\0yes\0net_mtu\0001500\0net_gateway4\00010.88.0.1\0"
                           "net_addr4\00010.88.0.2/16"),
                     -EINVAL);
    assert_int_equal(PARSE("net_mtu\0001500"), -EINVAL);
    assert_int_equal(PARSE("net_addr4\00010.88.0.2/16\0net_gateway4\00010.88.0.1"), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_invalid_networks_refused),
        cmocka_unit_test(test_good_text),
        cmocka_unit_test(test_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
