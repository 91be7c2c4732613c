/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sysinfo(2) from the proc view's texts, and in the 32-bit layout an i386 caller gets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sysinfo-view.h"

static const char MEMINFO[] = "MemTotal:          65536 kB\n"
                              "MemFree:           60000 kB\n"
                              "MemAvailable:      61000 kB\n"
                              "Buffers:               0 kB\n"
                              "Shmem:               128 kB\n"
                              "SwapTotal:             0 kB\n"
                              "SwapFree:              0 kB\n";

static void test_from_the_view(void **state) {
    struct sysinfo si;
    assert_int_equal(sysinfo_from_proc(MEMINFO, "12.34 20.00\n", "0.50 0.25 1.00 2/17 99\n", &si), 0);
    assert_int_equal(si.mem_unit, 1);
    assert_int_equal(si.totalram, 65536UL * 1024);
    assert_int_equal(si.freeram, 60000UL * 1024);
    assert_int_equal(si.sharedram, 128UL * 1024);
    assert_int_equal(si.uptime, 12);
    assert_int_equal(si.loads[0], 32768); /* 0.5 << 16 */
    assert_int_equal(si.loads[1], 16384);
    assert_int_equal(si.loads[2], 65536);
    assert_int_equal(si.procs, 17);
}

static void test_what_it_refuses(void **state) {
    struct sysinfo si;
    const char *la = "0.00 0.00 0.00 1/1 1\n";
    /* a value it needs is missing, negative or absurd */
    assert_int_equal(sysinfo_from_proc("MemFree: 1 kB\n", "1.0 1.0\n", la, &si), -EINVAL);
    assert_int_equal(sysinfo_from_proc("MemTotal: 1 kB\n", "1.0 1.0\n", la, &si), -EINVAL);
    assert_int_equal(sysinfo_from_proc(MEMINFO, "-1.0 1.0\n", la, &si), -EINVAL);
    assert_int_equal(sysinfo_from_proc(MEMINFO, "", la, &si), -EINVAL);
    assert_int_equal(sysinfo_from_proc(MEMINFO, "1.0 1.0\n", "0.1 0.1\n", &si), -EINVAL);
    assert_int_equal(sysinfo_from_proc(MEMINFO, "1.0 1.0\n", "1e9 0 0 1/1 1\n", &si), -EINVAL);
    /* a kB count that would overflow in bytes is not a value */
    assert_int_equal(sysinfo_from_proc("MemTotal: 99999999999999999999 kB\nMemFree: 1 kB\n",
                                       "1.0 1.0\n", la, &si), -EINVAL);
    /* a key that only starts like one */
    assert_int_equal(sysinfo_from_proc("MemTotalX: 5 kB\nMemFree: 1 kB\n", "1 1\n", la, &si),
                     -EINVAL);
}

static void test_compat32_small_values_stay_in_bytes(void **state) {
    struct sysinfo si = {.uptime = 5, .loads = {1, 2, 3}, .totalram = 64UL << 20,
                         .freeram = 32UL << 20, .procs = 9, .mem_unit = 1};
    SysinfoCompat32 c;
    sysinfo_to_compat32(&si, &c);
    assert_int_equal(c.mem_unit, 1);
    assert_int_equal(c.totalram, 64UL << 20);
    assert_int_equal(c.freeram, 32UL << 20);
    assert_int_equal(c.uptime, 5);
    assert_int_equal(c.loads[2], 3);
    assert_int_equal(c.procs, 9);
}

static void test_compat32_large_values_count_pages(void **state) {
    /* as do_compat_sysinfo(): past 4 GiB every size is shifted until mem_unit is a page */
    struct sysinfo si = {.totalram = 24UL << 30, .freeram = 1UL << 30, .totalswap = 4096,
                         .mem_unit = 1, .uptime = (long) INT32_MAX + 10};
    SysinfoCompat32 c;
    sysinfo_to_compat32(&si, &c);
    assert_int_equal(c.mem_unit, 4096);
    assert_int_equal(c.totalram, (24UL << 30) / 4096);
    assert_int_equal(c.freeram, (1UL << 30) / 4096);
    assert_int_equal(c.totalswap, 1);
    assert_int_equal(c.uptime, INT32_MAX);
    /* swap alone past 4 GiB scales as well */
    si = (struct sysinfo){.totalram = 4096, .totalswap = 8UL << 30, .mem_unit = 1};
    sysinfo_to_compat32(&si, &c);
    assert_int_equal(c.mem_unit, 4096);
    assert_int_equal(c.totalram, 1);
    assert_int_equal(c.totalswap, (8UL << 30) / 4096);
}

/* Runs maps lines through maps_writable_step() for [addr, addr + size). */
static int covered(const char *const *lines, uint64_t addr, uint64_t size) {
    uint64_t cur = addr;
    for (size_t i = 0; lines[i]; i++) {
        int k = maps_writable_step(lines[i], &cur, addr + size);
        if (k != 0)
            return k;
    }
    return -EFAULT; /* past the last mapping */
}

static void test_writable_ranges(void **state) {
    const char *const maps[] = {
        "00400000-00401000 r-xp 00000000 fd:01 1234 /bin/probe\n",
        "00600000-00601000 r--p 00000000 fd:01 1234 /bin/probe\n",
        "00601000-00602000 rw-p 00001000 fd:01 1234 /bin/probe\n",
        "00602000-00603000 rw-p 00000000 00:00 0 [heap]\n",
        "7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]\n",
        NULL};
    assert_int_equal(covered(maps, 0x601010, 112), 1);
    assert_int_equal(covered(maps, 0x601fc0, 112), 1);        /* across two writable ones */
    assert_int_equal(covered(maps, 0x600010, 112), -EFAULT);  /* read-only */
    assert_int_equal(covered(maps, 0x5fffc0, 112), -EFAULT);  /* a hole before it */
    assert_int_equal(covered(maps, 0x602fc0, 112), -EFAULT);  /* runs into a hole */
    assert_int_equal(covered(maps, 0, 112), -EFAULT);         /* null */
    assert_int_equal(covered(maps, 0x7ffd0f90, 112), 1);
    assert_int_equal(covered(maps, 0x7ffd0fa0, 112), -EFAULT); /* past the last one */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_the_view),
        cmocka_unit_test(test_what_it_refuses),
        cmocka_unit_test(test_compat32_small_values_stay_in_bytes),
        cmocka_unit_test(test_compat32_large_values_count_pages),
        cmocka_unit_test(test_writable_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
