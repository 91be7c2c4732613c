/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "strv.h"
#include "unit.h"

#define MINIMAL "[Sandbox]\nLayers=/l1\n[Service]\nExecStart=/bin/true\n"

static UnitConfig *load_ok(const char *text) {
    UnitConfig *u = NULL;
    _cleanup_strv_free_ char **errors = NULL;
    int r = unit_load_string("/etc/sandboxd/units/t.unit", text, &u, &errors);
    STRV_FOREACH(e, errors)
        print_error("unexpected: %s\n", *e);
    assert_int_equal(r, 0);
    assert_null(errors);
    return u;
}

/* Loads text expecting failure; returns the errors joined by '\n'. */
static char *load_bad(const char *text) {
    UnitConfig *u = NULL;
    _cleanup_strv_free_ char **errors = NULL;
    assert_int_equal(unit_load_string("t.unit", text, &u, &errors), -EINVAL);
    assert_null(u);
    assert_non_null(errors);
    return strv_join(errors, "\n");
}

static void test_full_unit(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u = load_ok(
        "# a comment\n"
        "; another\n"
        "[Unit]\n"
        "Description=Web server\n"
        "Documentation=https://example.org/a man:x(1)\n"
        "StartLimitIntervalSec=1min\n"
        "StartLimitBurst=3\n"
        "\n"
        "[Sandbox]\n"
        "Layers=/var/lib/l1 /var/lib/l2\n"
        "Layers=/var/lib/l3\n"
        "Hostname=web-1\n"
        "Namespaces=pid mount uts net\n"
        "Volume=/srv/data:/data\n"
        "Volume=/etc/ssl:/etc/ssl:ro\n"
        "ReadOnly=yes\n"
        "Environment=A=1 \"B=two words\"\n"
        "Environment=C=3\n"
        "WorkingDirectory=/data\n"
        "User=www\n"
        "Group=33\n"
        "[Resources]\n"
        "CPUQuota=150%\n"
        "AllowedCPUs=0-1\n"
        "MemoryMax=1.5G\n"
        "TasksMax=64\n"
        "[Service]\n"
        "ExecStart=/bin/httpd -f -p 80\n"
        "Restart=on-failure\n"
        "RestartSec=2s\n"
        "TimeoutStopSec=1min 30s\n"
        "KillSignal=SIGINT\n"
        "X-Custom=ignored\n");
    assert_string_equal(u->name, "t.unit");
    assert_string_equal(u->description, "Web server");
    assert_int_equal(strv_length(u->documentation), 2);
    assert_int_equal(u->start_limit_interval_usec, 60 * USEC_PER_SEC);
    assert_int_equal(u->start_limit_burst, 3);
    assert_int_equal(strv_length(u->layers), 3);
    assert_string_equal(u->layers[2], "/var/lib/l3");
    assert_string_equal(u->hostname, "web-1");
    assert_int_equal(u->namespaces, NS_PID | NS_MOUNT | NS_UTS | NS_NET);
    assert_int_equal(u->n_volumes, 2);
    assert_false(u->volumes[0].read_only);
    assert_true(u->volumes[1].read_only);
    assert_string_equal(u->volumes[1].target, "/etc/ssl");
    assert_true(u->read_only);
    assert_int_equal(strv_length(u->environment), 3);
    assert_string_equal(u->environment[1], "B=two words");
    assert_string_equal(u->working_directory, "/data");
    assert_string_equal(u->user, "www");
    assert_string_equal(u->group, "33");
    assert_int_equal(u->cpu_quota_permyriad, 15000);
    assert_true(u->allowed_cpus_set);
    assert_int_equal(u->memory_max, 3ULL << 29);
    assert_int_equal(u->tasks_max, 64);
    assert_int_equal(strv_length(u->exec_start), 4);
    assert_string_equal(u->exec_start[3], "80");
    assert_int_equal(u->restart, RESTART_ON_FAILURE);
    assert_int_equal(u->restart_usec, 2 * USEC_PER_SEC);
    assert_int_equal(u->timeout_stop_usec, 90 * USEC_PER_SEC);
    assert_int_equal(u->kill_signal, SIGINT);
}

static void test_v2_resource_keys(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u = load_ok(
        "[Sandbox]\nLayers=/l1\n"
        "[Resources]\n"
        "CPUWeight=250\n"
        "MemoryHigh=1G\n"
        "MemorySwapMax=0\n"
        "IOReadBandwidthMax=/dev/vda 5M\n"
        "IOWriteIOPSMax=/dev/vda 200\n"
        "IOReadBandwidthMax=/dev/vda 1K\n" /* the same device again: replaces */
        "IOWriteBandwidthMax=/dev/sdb infinity\n"
        "IOReadIOPSMax=/dev/sdc 10\n"
        "IOReadIOPSMax=\n" /* empty: drops every IOReadIOPSMax= so far */
        "[Service]\nExecStart=/x\n");
    assert_int_equal(u->cpu_weight, 250);
    assert_int_equal(u->memory_high, 1ULL << 30);
    assert_int_equal(u->memory_swap_max, 0);
    assert_int_equal(u->n_io_limits, 3);
    assert_string_equal(u->io_limits[0].path, "/dev/vda");
    assert_int_equal(u->io_limits[0].max[IO_READ_BPS], 1000);
    assert_int_equal(u->io_limits[0].max[IO_WRITE_IOPS], 200);
    assert_int_equal(u->io_limits[0].max[IO_WRITE_BPS], UINT64_MAX);
    assert_int_equal(u->io_limits[1].max[IO_WRITE_BPS], UINT64_MAX);
    assert_int_equal(u->io_limits[2].max[IO_READ_IOPS], UINT64_MAX);

    _cleanup_free_ char *e = load_bad("[Sandbox]\nLayers=/l1\n[Resources]\n"
                                      "CPUWeight=0\n"
                                      "IOReadBandwidthMax=vda 5M\n"
                                      "IOWriteIOPSMax=/dev/vda\n"
                                      "IOReadIOPSMax=/dev/vda 0\n"
                                      "MemoryHigh=0\n"
                                      "MemorySwapMax=lots\n"
                                      "[Service]\nExecStart=/x\n");
    assert_string_equal(
        e, "t.unit:4: CPUWeight=0: expected a weight from 1 to 10000 (the default is 100)\n"
           "t.unit:5: IOReadBandwidthMax=vda 5M: expected a device path and a limit, like "
           "/dev/vda 5M\n"
           "t.unit:6: IOWriteIOPSMax=/dev/vda: expected a device path and a limit, like "
           "/dev/vda 5M\n"
           "t.unit:7: IOReadIOPSMax=/dev/vda 0: expected a limit above 0 like 5M (base "
           "1000), or infinity\n"
           "t.unit:8: MemoryHigh=0: expected a size above 0 like 64M, 1.5G, or infinity\n"
           "t.unit:9: MemorySwapMax=lots: expected a size like 64M, 1.5G, 0, or infinity");
}

static void test_defaults(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u = load_ok(MINIMAL);
    assert_int_equal(u->namespaces, NS_DEFAULT);
    assert_int_equal(u->restart, RESTART_NO);
    assert_int_equal(u->restart_usec, DEFAULT_RESTART_USEC);
    assert_int_equal(u->timeout_stop_usec, 10 * USEC_PER_SEC);
    assert_int_equal(u->start_limit_burst, 5);
    assert_int_equal(u->start_limit_interval_usec, 10 * USEC_PER_SEC);
    assert_int_equal(u->kill_signal, SIGTERM);
    assert_int_equal(u->memory_max, UINT64_MAX);
    assert_int_equal(u->tasks_max, UINT64_MAX);
    assert_int_equal(u->cpu_quota_permyriad, UINT32_MAX);
    assert_int_equal(u->cpu_weight, UINT64_MAX);
    assert_int_equal(u->memory_high, UINT64_MAX);
    assert_int_equal(u->memory_swap_max, UINT64_MAX);
    assert_int_equal(u->n_io_limits, 0);
}

/* inih r55 cuts values at " ;" unless told not to */
static void test_semicolon_kept(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u =
        load_ok("[Sandbox]\nLayers=/l1\n[Service]\nExecStart=/bin/sh -c 'a ; b'\n");
    assert_int_equal(strv_length(u->exec_start), 3);
    assert_string_equal(u->exec_start[2], "a ; b");
}

/* inih r55 splits lines over 199 bytes into two; a 4000-byte command must stay whole, and text
 * after byte 200 must never become a key of its own */
static void test_long_exec_start(void **state) {
    char arg[3990];
    memset(arg, 'A', sizeof arg - 1);
    arg[sizeof arg - 1] = 0;
    arg[300] = ' ';
    memcpy(arg + 301, "Injected=evil", 13);
    _cleanup_free_ char *text = NULL;
    assert_true(asprintf(&text, "[Sandbox]\nLayers=/l1\n[Service]\nExecStart=/bin/echo %s\n",
                         arg) > 4000);
    _cleanup_(unit_config_freep) UnitConfig *u = load_ok(text);
    _cleanup_free_ char *joined = strv_join(u->exec_start, " ");
    assert_int_equal(strlen(joined), strlen("/bin/echo ") + strlen(arg));
    assert_int_equal(strv_length(u->exec_start), 3);
}

static void test_continuation(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u =
        load_ok("[Sandbox]\nLayers=/l1\n[Service]\n"
                "ExecStart=/bin/sh \\\n"
                "  -c \\\n"
                "# a comment inside is skipped\n"
                "  'echo hi'\n"
                "Restart=always\n");
    assert_int_equal(strv_length(u->exec_start), 3);
    assert_string_equal(u->exec_start[1], "-c");
    assert_string_equal(u->exec_start[2], "echo hi");
    assert_int_equal(u->restart, RESTART_ALWAYS);
}

/* A line over the limit is an error even when it is the last one and ends in a backslash (it
 * used to be dropped without a word: the file loaded as if the line were not there), and a
 * comment line after it is skipped as in any continuation (it used to move the error there). */
static void test_too_long_continuation_at_end(void **state) {
    static const size_t n = 70000;
    _cleanup_free_ char *text = malloc(n + 128);
    assert_non_null(text);
    int k = sprintf(text, MINIMAL "Hostname=");
    memset(text + k, 'a', n);
    strcpy(text + k + n, "\\");
    _cleanup_free_ char *errors = load_bad(text);
    assert_non_null(strstr(errors, "t.unit:5: line longer than"));
    strcpy(text + k + n, "\\\n# a comment\n");
    free(errors);
    errors = load_bad(text);
    assert_non_null(strstr(errors, "t.unit:5: line longer than"));
}

static void test_list_reset(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u =
        load_ok("[Sandbox]\nLayers=/a\nLayers=\nLayers=/b\n"
                "Environment=A=1\nEnvironment=\nEnvironment=B=2\nEnvironment=B=3\n"
                "Volume=/x:/y\nVolume=\n"
                "[Service]\nExecStart=/bin/a\nExecStart=\nExecStart=/bin/b\n");
    assert_int_equal(strv_length(u->layers), 1);
    assert_string_equal(u->layers[0], "/b");
    assert_int_equal(strv_length(u->environment), 1);
    assert_string_equal(u->environment[0], "B=3");
    assert_int_equal(u->n_volumes, 0);
    assert_string_equal(u->exec_start[0], "/bin/b");
}

static void test_crlf_and_quotes(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u =
        load_ok("[Sandbox]\r\nLayers=/l1\r\n[Service]\r\n"
                "ExecStart=/bin/echo \"a b\" 'c\"d' e\\tf \\x41\r\n");
    assert_int_equal(strv_length(u->exec_start), 5);
    assert_string_equal(u->exec_start[1], "a b");
    assert_string_equal(u->exec_start[2], "c\"d");
    assert_string_equal(u->exec_start[3], "e\tf");
    assert_string_equal(u->exec_start[4], "A");
}

#define assert_has(haystack, needle)                                                               \
    do {                                                                                           \
        if (!strstr(haystack, needle))                                                             \
            fail_msg("'%s' not found in:\n%s", needle, haystack);                                \
    } while (0)

static void test_errors_name_line_and_key(void **state) {
    _cleanup_free_ char *e = NULL;
    e = load_bad(MINIMAL "Colour=blue\n");
    assert_string_equal(e, "t.unit:5: Colour=blue: unknown key in section [Service]");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l1\n[Resources]\nMemoryMax=64Q\n[Service]\nExecStart=/x\n");
    assert_string_equal(
        e, "t.unit:4: MemoryMax=64Q: expected a size above 0 like 64M, 1.5G, or infinity");
    free(e);
    e = load_bad(MINIMAL "RestartSec=5 parsecs\n");
    assert_string_equal(
        e, "t.unit:5: RestartSec=5 parsecs: expected a time span like 100ms, 5s or 1min 30s");
    free(e);
    e = load_bad("[Unit]\nDescription=x\n[Sandbox]\nLayers=/l1\n[Service]\nRestart=always\n");
    assert_string_equal(e, "t.unit:5: ExecStart=: missing; [Service] must say what to run");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l1\nNamespaces=pid mount bogus\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: Namespaces=pid mount bogus: unknown namespace");
    free(e);
    e = load_bad(MINIMAL "[Bogus]\nKey=1\n");
    assert_has(e, "t.unit:5: [Bogus]: unknown section");
    assert_null(strstr(e, "Key=1")); /* one message for the section, not one per key */
    free(e);
    e = load_bad(MINIMAL "Restart: always\n");
    assert_has(e, "t.unit:5: 'Restart: always': expected Key=value");
    free(e);
    e = load_bad(MINIMAL "[Service\n");
    assert_has(e, "t.unit:5: [Service: expected a section header");
    free(e);
    e = load_bad(MINIMAL "ExecStart=/bin/false\n");
    assert_has(e, "t.unit:5: ExecStart=/bin/false: only one command is allowed");
    free(e);
    e = load_bad(MINIMAL "Restart=sometimes\n");
    assert_has(e, "t.unit:5: Restart=sometimes: expected no, on-success");
    free(e);
    e = load_bad("Description=early\n" MINIMAL);
    assert_has(e, "t.unit:1: Description=: assignment outside of any section");
}

/* D-Bus strings are UTF-8: bad text is refused at load, naming line and key; comments may hold
 * anything, and truncated values in messages never end inside a character. */
static void test_invalid_utf8(void **state) {
    _cleanup_free_ char *e = NULL;
    UnitConfig *u = load_ok("[Unit]\nDescription=caf\xc3\xa9\n# \xff in a comment\n" MINIMAL);
    assert_string_equal(u->description, "caf\xc3\xa9");
    unit_config_free(u);
    e = load_bad("[Unit]\nDescription=caf\xe9\n" MINIMAL);
    assert_string_equal(e, "t.unit:2: Description=: not valid UTF-8; unit files are UTF-8 text");
    free(e);
    e = load_bad(MINIMAL "Environment=A=\xed\xa0\x80\n"); /* a UTF-16 surrogate */
    assert_string_equal(e, "t.unit:5: Environment=: not valid UTF-8; unit files are UTF-8 text");
    free(e);
    e = load_bad(MINIMAL "\xff=1\n");
    assert_string_equal(e, "t.unit:5: not valid UTF-8; unit files are UTF-8 text");
    free(e);
    /* 59 ASCII bytes, then a 2-byte character across the 60-byte cut */
    e = load_bad(MINIMAL "Colour=" "0123456789012345678901234567890123456789012345678901234567"
                 "8\xc3\xa9\n");
    assert_string_equal(e, "t.unit:5: Colour=01234567890123456789012345678901234567890123456789"
                           "012345678...: unknown key in section [Service]");
}

static void test_all_errors_reported(void **state) {
    _cleanup_free_ char *e =
        load_bad("[Sandbox]\nLayers=relative\nVolume=/a\nHostname=-bad-\n[Resources]\n"
                 "CPUQuota=0%\nTasksMax=0\nAllowedCPUs=2-1\n[Service]\nKillSignal=SIGNOPE\n");
    const char *expected[] = {"t.unit:2: Layers=relative", "t.unit:3: Volume=/a",
                              "t.unit:4: Hostname=-bad-",  "t.unit:6: CPUQuota=0%",
                              "t.unit:7: TasksMax=0",      "t.unit:8: AllowedCPUs=2-1",
                              "t.unit:10: KillSignal=SIGNOPE", "ExecStart=: missing"};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        assert_has(e, expected[i]);
}

/* Every error is kept, in order, in time linear in their number: each error used to walk the
 * whole list, so a 1 MiB file of bad lines held the daemon's event loop for a minute. */
static void test_many_errors(void **state) {
    static const size_t n = 300000;
    _cleanup_free_ char *text = malloc(2 * n + 1);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        memcpy(text + 2 * i, "x\n", 2);
    text[2 * n] = 0;
    UnitConfig *u = NULL;
    _cleanup_strv_free_ char **errors = NULL;
    /* (collecting them was quadratic once: 13 s of CPU; the fuzz run's per-input timeout is
     * what watches for that, not a timed assertion here) */
    assert_int_equal(unit_load_string("t.unit", text, &u, &errors), -EINVAL);
    assert_int_equal(strv_length(errors), n + 2); /* and no ExecStart=, no Layers= */
    assert_string_equal(errors[n - 1], "t.unit:300000: 'x': expected Key=value");
}

static void test_environment_is_bounded(void **state) {
    static char text[64 + (UNIT_ENVIRONMENT_MAX + 1) * 24];
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t) sprintf(text, "[Sandbox]\nLayers=/l\n");
        for (int i = 0; i < UNIT_ENVIRONMENT_MAX + extra; i++)
            n += (size_t) sprintf(text + n, "Environment=V%d=x\n", i);
        sprintf(text + n, "[Service]\nExecStart=/x\n");
        UnitConfig *u = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r = unit_load_string("t.unit", text, &u, &errors);
        if (!extra) {
            assert_int_equal(r, 0);
            assert_int_equal(strv_length(u->environment), UNIT_ENVIRONMENT_MAX);
            unit_config_free(u);
        } else {
            assert_int_equal(r, -EINVAL);
            assert_int_equal(strv_length(errors), 1);
            assert_non_null(strstr(errors[0], "t.unit:4099: Environment=V4096=x: more than "
                                              "4096 variables"));
        }
    }
}

static void test_cross_key_rules(void **state) {
    _cleanup_free_ char *e = NULL;
    e = load_bad("[Sandbox]\nRootDirectory=/r\nLayers=/l\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:2: RootDirectory=: cannot be combined with Layers=");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l\nNamespaces=pid\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: Namespaces=: must include mount");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l\nNamespaces=mount\nHostname=h\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:4: Hostname=h: needs the uts namespace");
    free(e);
    e = load_bad("[Sandbox]\nHostname=h\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:1: Layers=: missing");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l\n[Service]\nExecStart=-/bin/x\n");
    assert_has(e, "command prefixes");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l\n[Service]\nExecStart=bin/x\n");
    assert_has(e, "absolute path or a plain name");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l\n[Service]\nExecStart=/bin/sh -c 'unterminated\n");
    assert_has(e, "unbalanced quotes");
}

static void test_bad_unit_name(void **state) {
    UnitConfig *u = NULL;
    _cleanup_strv_free_ char **errors = NULL;
    assert_int_equal(unit_load_string("/x/we b.unit", MINIMAL, &u, &errors), -EINVAL);
    assert_non_null(errors);
    assert_non_null(strstr(errors[0], "not a valid unit name"));
    assert_true(unit_name_is_valid("web@1.unit"));
    assert_false(unit_name_is_valid(".."));
    assert_false(unit_name_is_valid("a/b"));
}

/* (uid_t) -1 leaves setresuid() a no-op and the payload root: ids above 2^31-1 are refused */
static void test_user_group_id_range(void **state) {
    _cleanup_free_ char *e = NULL;
    e = load_bad("[Sandbox]\nLayers=/l1\nUser=4294967295\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: User=4294967295: numeric ids above 2147483647 are refused");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l1\nGroup=2147483648\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: Group=2147483648: numeric ids above 2147483647 are refused");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l1\nUser=99999999999999999999\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: User=99999999999999999999: numeric ids above");
    _cleanup_(unit_config_freep) UnitConfig *u =
        load_ok("[Sandbox]\nLayers=/l1\nUser=2147483647\nGroup=0\n[Service]\nExecStart=/x\n");
    assert_string_equal(u->user, "2147483647");
    assert_string_equal(u->group, "0");
}

static void test_capability_bounding_set(void **state) {
    UnitConfig *u = load_ok(MINIMAL);
    assert_int_equal(u->capability_bounding_set, DEFAULT_CAPABILITY_BOUNDING_SET);
    _cleanup_free_ char *names = capability_set_to_string(u->capability_bounding_set);
    assert_string_equal(names, "cap_chown cap_dac_override cap_fowner cap_fsetid cap_kill "
                               "cap_setgid cap_setuid cap_setpcap cap_net_bind_service "
                               "cap_sys_chroot cap_setfcap");
    unit_config_free(u);
    /* the first assignment replaces the default, later ones merge */
    u = load_ok("[Sandbox]\nLayers=/l\nCapabilityBoundingSet=CAP_NET_RAW\n"
                "CapabilityBoundingSet=cap_kill\n[Service]\nExecStart=/x\n");
    assert_int_equal(u->capability_bounding_set, (1ULL << 13) | (1ULL << 5));
    unit_config_free(u);
    u = load_ok("[Sandbox]\nLayers=/l\nCapabilityBoundingSet=~CAP_SYS_ADMIN CAP_SYS_MODULE\n"
                "[Service]\nExecStart=/x\n");
    assert_int_equal(u->capability_bounding_set, ~((1ULL << 21) | (1ULL << 16)));
    unit_config_free(u);
    u = load_ok("[Sandbox]\nLayers=/l\nCapabilityBoundingSet=\n[Service]\nExecStart=/x\n");
    assert_int_equal(u->capability_bounding_set, 0);
    unit_config_free(u);
    _cleanup_free_ char *e =
        load_bad("[Sandbox]\nLayers=/l\nCapabilityBoundingSet=CAP_FLY\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: CapabilityBoundingSet=CAP_FLY: unknown capability");
}

static void test_seccomp_keys(void **state) {
    UnitConfig *u = load_ok(MINIMAL);
    assert_null(u->seccomp_profile); /* the built-in default */
    assert_false(u->no_new_privileges);
    unit_config_free(u);
    u = load_ok("[Sandbox]\nLayers=/l\nSeccompProfile=/etc/p.json\nNoNewPrivileges=yes\n"
                "[Service]\nExecStart=/x\n");
    assert_string_equal(u->seccomp_profile, "/etc/p.json");
    assert_true(u->no_new_privileges);
    unit_config_free(u);
    /* the last assignment wins; "default" and an empty value both mean the built-in one */
    u = load_ok("[Sandbox]\nLayers=/l\nSeccompProfile=unconfined\nSeccompProfile=default\n"
                "[Service]\nExecStart=/x\n");
    assert_null(u->seccomp_profile);
    unit_config_free(u);
    u = load_ok("[Sandbox]\nLayers=/l\nSeccompProfile=/p.json\nSeccompProfile=\n"
                "SeccompProfile=unconfined\n[Service]\nExecStart=/x\n");
    assert_string_equal(u->seccomp_profile, "unconfined");
    unit_config_free(u);
    _cleanup_free_ char *e = load_bad("[Sandbox]\nLayers=/l\nSeccompProfile=p.json\n"
                                      "SeccompProfile=/etc/../p.json\nSeccompProfile=Default\n"
                                      "NoNewPrivileges=sure\n[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: SeccompProfile=p.json: expected default, unconfined, or the "
                  "absolute path");
    assert_has(e, "t.unit:4: SeccompProfile=/etc/../p.json: expected");
    assert_has(e, "t.unit:5: SeccompProfile=Default: expected");
    assert_has(e, "t.unit:6: NoNewPrivileges=sure: expected a boolean");
}

/* Garbage in, an error or a unit out, never a crash: random bytes biased towards the grammar's
 * own characters, from a fixed seed so a failure is reproducible. */
static void test_random_input(void **state) {
    static const char alphabet[] = "[]=:;#\\\n\r\t \"'~%$/ExecStartLayersMemoryMaxSandbox"
                                   "ServiceUnitResources0123456789KMGinfinity\x01\xff";
    unsigned seed = 42;
    for (int i = 0; i < 3000; i++) {
        char buf[512];
        size_t n = (size_t) (rand_r(&seed) % (sizeof buf - 1));
        for (size_t k = 0; k < n; k++)
            buf[k] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        buf[n] = 0;
        UnitConfig *u = NULL;
        char **errors = NULL;
        int r = unit_load_string("fuzz.unit", buf, &u, &errors);
        assert_true(r == 0 || r == -EINVAL);
        assert_true((r == 0) == (u != NULL));
        assert_true((r == 0) == (errors == NULL));
        unit_config_free(u);
        strv_free(errors);
    }
}

static void test_split_command(void **state) {
    _cleanup_strv_free_ char **a = NULL;
    assert_int_equal(unit_split_command("  a   'b c'  \"d\"e  ", &a), 0);
    assert_int_equal(strv_length(a), 3);
    assert_string_equal(a[1], "b c");
    assert_string_equal(a[2], "de");
    char **b = NULL;
    assert_int_equal(unit_split_command("a 'b", &b), -EINVAL);
    assert_int_equal(unit_split_command("a \\q", &b), -EINVAL);
    assert_int_equal(unit_split_command("a \\x00", &b), -EINVAL);
    assert_null(b);
}

static void test_network_mode(void **state) {
    UnitConfig *u = load_ok(MINIMAL);
    assert_int_equal(u->network, NETWORK_BRIDGE);
    assert_true(u->namespaces & NS_NET);
    assert_int_equal(u->n_ports, 0);
    assert_int_equal(u->ip_address_family, 0);
    assert_int_equal(u->ipv6_address_family, 0);
    assert_null(u->dns);
    assert_false(u->dns_assigned);
    assert_int_equal(u->n_extra_hosts, 0);
    unit_config_free(u);
    /* without net in Namespaces=, the host's network */
    u = load_ok("[Sandbox]\nLayers=/l\nNamespaces=pid mount uts\n[Service]\nExecStart=/x\n");
    assert_int_equal(u->network, NETWORK_HOST);
    unit_config_free(u);
    /* Network=host takes net out of the namespaces, before or after Namespaces= */
    u = load_ok("[Sandbox]\nLayers=/l\nNetwork=host\nNamespaces=pid mount net\n"
                "[Service]\nExecStart=/x\n");
    assert_int_equal(u->network, NETWORK_HOST);
    assert_int_equal(u->namespaces, NS_PID | NS_MOUNT);
    unit_config_free(u);
    u = load_ok("[Sandbox]\nLayers=/l\nNamespaces=pid mount net\nNetwork=host\n"
                "[Service]\nExecStart=/x\n");
    assert_int_equal(u->namespaces, NS_PID | NS_MOUNT);
    unit_config_free(u);
    u = load_ok("[Sandbox]\nLayers=/l\nNetwork=none\n[Service]\nExecStart=/x\n");
    assert_int_equal(u->network, NETWORK_NONE);
    assert_true(u->namespaces & NS_NET);
    unit_config_free(u);
    /* an empty Network= is unset again: Namespaces= decides */
    u = load_ok("[Sandbox]\nLayers=/l\nNetwork=none\nNetwork=\nNamespaces=mount\n"
                "[Service]\nExecStart=/x\n");
    assert_int_equal(u->network, NETWORK_HOST);
    unit_config_free(u);

    _cleanup_free_ char *e = NULL;
    e = load_bad("[Sandbox]\nLayers=/l\nNamespaces=pid mount\nNetwork=bridge\n"
                 "[Service]\nExecStart=/x\n");
    assert_string_equal(e, "t.unit:4: Network=bridge: needs a network namespace, but "
                           "Namespaces= on line 3 has no net");
    free(e);
    e = load_bad("[Sandbox]\nNetwork=none\nLayers=/l\n\nNamespaces=pid mount\n"
                 "[Service]\nExecStart=/x\n");
    assert_string_equal(e, "t.unit:2: Network=none: needs a network namespace, but "
                           "Namespaces= on line 5 has no net");
    free(e);
    e = load_bad(MINIMAL "[Sandbox]\nNetwork=nat\n");
    assert_string_equal(e, "t.unit:6: Network=nat: expected bridge, none or host");

    assert_string_equal(network_mode_to_string(NETWORK_NONE), "none");
    assert_null(network_mode_to_string(_NETWORK_MODE_MAX));
    assert_int_equal(network_mode_from_string("host"), NETWORK_HOST);
    assert_int_equal(network_mode_from_string("Host"), _NETWORK_MODE_INVALID);
    assert_int_equal(network_mode_from_string(NULL), _NETWORK_MODE_INVALID);
}

static void test_ports(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u =
        load_ok("[Sandbox]\nLayers=/l\n"
                "Port=1:1\n"
                "Port=\n" /* resets */
                "Port=8080:80\n"
                "Port=127.0.0.1:5353:53/udp\n"
                "Port=0.0.0.0:8443:443/tcp\n"
                "Port=[::]:8444:443\n"
                "Port=[fd00::1]:9000-9009:10000-10009/udp\n"
                "Port=65535:65535/udp\n"
                "Port=127.0.0.1:8080:80/udp\n"  /* another protocol */
                "[Service]\nExecStart=/x\n");
    char buf[80];
    assert_int_equal(u->n_ports, 7);
    PortMapping *p = u->ports;
    assert_int_equal(p[0].host_family, AF_UNSPEC);
    assert_int_equal(p[0].host_port, 8080);
    assert_int_equal(p[0].port, 80);
    assert_int_equal(p[0].count, 1);
    assert_int_equal(p[0].protocol, IPPROTO_TCP);
    assert_int_equal(p[0].line, 5);
    assert_string_equal(port_mapping_to_string(&p[0], buf), "8080:80/tcp");
    assert_int_equal(p[1].host_family, AF_INET);
    assert_int_equal(p[1].protocol, IPPROTO_UDP);
    assert_string_equal(port_mapping_to_string(&p[1], buf), "127.0.0.1:5353:53/udp");
    assert_int_equal(p[2].host_family, AF_INET); /* every IPv4 address */
    assert_true(in_addr_is_null(AF_INET, &p[2].host_addr));
    assert_string_equal(port_mapping_to_string(&p[2], buf), "0.0.0.0:8443:443/tcp");
    assert_int_equal(p[3].host_family, AF_INET6); /* every IPv6 address */
    assert_true(in_addr_is_null(AF_INET6, &p[3].host_addr));
    assert_string_equal(port_mapping_to_string(&p[3], buf), "[::]:8444:443/tcp");
    assert_int_equal(p[4].count, 10);
    assert_int_equal(p[4].host_port, 9000);
    assert_int_equal(p[4].port, 10000);
    assert_int_equal(p[4].line, 9);
    assert_string_equal(port_mapping_to_string(&p[4], buf),
                        "[fd00::1]:9000-9009:10000-10009/udp");
    assert_string_equal(port_mapping_to_string(&p[5], buf), "65535:65535/udp");
    PortMapping widest = {.host_family = AF_INET6, .host_port = 1, .port = 1, .count = 65535,
                          .protocol = IPPROTO_UDP};
    assert_int_equal(inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                               &widest.host_addr), 1);
    assert_string_equal(port_mapping_to_string(&widest, buf),
                        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:1-65535:1-65535/udp");

    _cleanup_free_ char *e = load_bad("[Sandbox]\nLayers=/l\n"
                                      "Port=0:80\n"
                                      "Port=65536:80\n"
                                      "Port=80\n"
                                      "Port=8080:80/sctp\n"
                                      "Port=9000-8999:80-81\n"
                                      "Port=9000-9001:80\n"
                                      "Port=[::1]:80:80\n"
                                      "Port=fd00::1:80:80\n"
                                      "Port=1.2.3:80:80\n"
                                      "Port=127.0.0.1::80\n"
                                      "Port=[fd00::1:80:80\n"
                                      "Port=224.0.0.1:80:80\n"
                                      "Port=[10.0.0.1]:80:80\n"
                                      "Port=a:b\n"
                                      "[Service]\nExecStart=/x\n");
    assert_string_equal(
        e,
        "t.unit:3: Port=0:80: ports are 1 to 65535\n"
        "t.unit:4: Port=65536:80: ports are 1 to 65535\n"
        "t.unit:5: Port=80: expected [HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|/udp], like "
        "8080:80 or 127.0.0.1:5353:53/udp\n"
        "t.unit:6: Port=8080:80/sctp: the protocol must be tcp or udp\n"
        "t.unit:7: Port=9000-8999:80-81: a port range cannot end below its start\n"
        "t.unit:8: Port=9000-9001:80: unequal ranges: the host range and the sandbox's must "
        "have as many ports\n"
        "t.unit:9: Port=[::1]:80:80: [::1] cannot be published: the kernel does not route "
        "connections to IPv6 loopback that were DNATed elsewhere (IPv6 has no "
        "route_localnet); use 127.0.0.1 for a port on loopback only\n"
        "t.unit:10: Port=fd00::1:80:80: an IPv6 host address goes in brackets, like "
        "[fd00::1]:8080:80\n"
        "t.unit:11: Port=1.2.3:80:80: HOSTIP must be an IPv4 address, or an IPv6 address in "
        "brackets\n"
        "t.unit:12: Port=127.0.0.1::80: a host port is required (sandboxd does not pick one)\n"
        "t.unit:13: Port=[fd00::1:80:80: expected [HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|/udp], "
        "like 8080:80 or 127.0.0.1:5353:53/udp\n"
        "t.unit:14: Port=224.0.0.1:80:80: HOSTIP must be an address of this host, not a "
        "multicast address\n"
        "t.unit:15: Port=[10.0.0.1]:80:80: HOSTIP must be an IPv4 address, or an IPv6 address "
        "in brackets\n"
        "t.unit:16: Port=a:b: expected [HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|/udp], like "
        "8080:80 or 127.0.0.1:5353:53/udp");
}

/* Two mappings that could take the same connection: the later one is refused, naming the
 * earlier one's line. No host address covers both families, 0.0.0.0 and [::] one each. */
static void test_port_duplicates(void **state) {
    static const struct {
        const char *first, *second;
        const char *error; /* NULL: both load */
    } cases[] = {
        {"8080:80", "8080:81", "host port 8080/tcp is already published on line 3"},
        {"8080:80", "127.0.0.1:8080:80", "host port 8080/tcp"},
        {"8080:80", "[fd00::1]:8080:80", "host port 8080/tcp"},
        {"0.0.0.0:8080:80", "10.0.0.1:8080:80", "host port 8080/tcp"},
        {"[::]:8080:80", "[fd00::2]:8080:80", "host port 8080/tcp"},
        {"10.0.0.1:8080:80", "10.0.0.1:8080:81", "host port 8080/tcp"},
        {"9000-9005:9000-9005", "9005-9006:1-2", "host port 9005/tcp"},
        {"9005-9006:1-2", "9000-9005:9000-9005", "host port 9005/tcp"},
        {"53:53/udp", "53:53/udp", "host port 53/udp"},
        {"8080:80", "8080:80/udp", NULL},
        {"10.0.0.1:8080:80", "10.0.0.2:8080:80", NULL},
        {"0.0.0.0:8080:80", "[::]:8080:80", NULL},
        {"10.0.0.1:8080:80", "[::]:8080:80", NULL},
        {"9000-9005:9000-9005", "9006:9006", NULL},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_free_ char *text = NULL;
        assert_true(asprintf(&text, "[Sandbox]\nLayers=/l\nPort=%s\nPort=%s\n"
                                    "[Service]\nExecStart=/x\n",
                             cases[i].first, cases[i].second) > 0);
        if (!cases[i].error) {
            UnitConfig *u = load_ok(text);
            assert_int_equal(u->n_ports, 2);
            unit_config_free(u);
            continue;
        }
        _cleanup_free_ char *e = load_bad(text), *want = NULL;
        assert_true(asprintf(&want, "t.unit:4: Port=%s: %s", cases[i].second,
                             cases[i].error) > 0);
        if (strncmp(e, want, strlen(want)) != 0)
            fail_msg("case %zu: '%s' is not '%s...'", i, e, want);
    }
    /* after an empty Port=, the earlier mappings are gone */
    UnitConfig *u = load_ok("[Sandbox]\nLayers=/l\nPort=80:80\nPort=\nPort=80:80\n"
                            "[Service]\nExecStart=/x\n");
    assert_int_equal(u->n_ports, 1);
    unit_config_free(u);
}

/* Each mapping is checked against the earlier ones, so their number is bounded. */
static void test_ports_are_bounded(void **state) {
    static char text[64 + (UNIT_PORTS_MAX + 1) * 24];
    size_t n = (size_t) sprintf(text, "[Sandbox]\nLayers=/l\n");
    for (int i = 1; i <= UNIT_PORTS_MAX + 1; i++)
        n += (size_t) sprintf(text + n, "Port=%d:80\n", i);
    sprintf(text + n, "[Service]\nExecStart=/x\n");
    _cleanup_free_ char *e = load_bad(text);
    assert_string_equal(e, "t.unit:1027: Port=1025:80: more than 1024 Port= mappings; use port "
                           "ranges");
}

static void test_network_keys_need_bridge(void **state) {
    _cleanup_free_ char *e = NULL;
    e = load_bad("[Sandbox]\nLayers=/l\nPort=8080:80\nNetwork=none\nIPAddress=10.88.0.5\n"
                 "IPv6Address=fd00::5\n[Service]\nExecStart=/x\n");
    assert_string_equal(
        e, "t.unit:3: Port=8080:80/tcp: nothing to publish: Network=none gives the sandbox "
           "loopback only\n"
           "t.unit:5: IPAddress=10.88.0.5: only a sandbox on sandboxd's bridge has an address "
           "of its own: Network=none gives the sandbox loopback only\n"
           "t.unit:6: IPv6Address=fd00::5: only a sandbox on sandboxd's bridge has an address "
           "of its own: Network=none gives the sandbox loopback only");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l\nPort=8080:80\nNamespaces=mount\n[Service]\nExecStart=/x\n");
    assert_string_equal(e, "t.unit:3: Port=8080:80/tcp: nothing to publish: the sandbox has "
                           "the host's network (Network=host, or no net in Namespaces=)");
    free(e);
    e = load_bad("[Sandbox]\nLayers=/l\nIPAddress=10.88.0.5\nNetwork=host\n"
                 "[Service]\nExecStart=/x\n");
    assert_has(e, "t.unit:3: IPAddress=10.88.0.5: only a sandbox on sandboxd's bridge");
    /* DNS= and AddHost= are files in the init layer: every mode has them */
    UnitConfig *u = load_ok("[Sandbox]\nLayers=/l\nNetwork=host\nDNS=192.0.2.1\n"
                            "AddHost=a:192.0.2.2\n[Service]\nExecStart=/x\n");
    assert_int_equal(u->n_extra_hosts, 1);
    unit_config_free(u);
}

static void test_static_addresses(void **state) {
    UnitConfig *u = load_ok("[Sandbox]\nLayers=/l\nIPAddress=10.88.0.1\nIPAddress=10.88.0.10\n"
                            "IPv6Address=fd00:0:0:0::10\n[Service]\nExecStart=/x\n");
    char a[INET6_ADDRSTRLEN];
    assert_int_equal(u->ip_address_family, AF_INET);
    assert_string_equal(inet_ntop(AF_INET, &u->ip_address, a, sizeof a), "10.88.0.10");
    assert_int_equal(u->ip_address_line, 4);
    assert_int_equal(u->ipv6_address_family, AF_INET6);
    assert_string_equal(inet_ntop(AF_INET6, &u->ipv6_address, a, sizeof a), "fd00::10");
    assert_int_equal(u->ipv6_address_line, 5);
    unit_config_free(u);
    u = load_ok("[Sandbox]\nLayers=/l\nIPAddress=10.88.0.10\nIPAddress=\nIPv6Address=fd00::1\n"
                "IPv6Address=\n[Service]\nExecStart=/x\n");
    assert_int_equal(u->ip_address_family, 0);
    assert_int_equal(u->ip_address_line, 0);
    assert_int_equal(u->ipv6_address_family, 0);
    unit_config_free(u);

    _cleanup_free_ char *e = load_bad("[Sandbox]\nLayers=/l\n"
                                      "IPAddress=fd00::1\n"
                                      "IPAddress=10.88.0.10/16\n"
                                      "IPAddress=127.0.0.2\n"
                                      "IPAddress=0.0.0.0\n"
                                      "IPAddress=239.1.1.1\n"
                                      "IPv6Address=::1\n"
                                      "IPv6Address=10.88.0.10\n"
                                      "IPv6Address=ff02::1\n"
                                      "IPv6Address=fd00::1 fd00::2\n"
                                      "[Service]\nExecStart=/x\n");
    assert_string_equal(
        e, "t.unit:3: IPAddress=fd00::1: an IPv6 address goes in IPv6Address=\n"
           "t.unit:4: IPAddress=10.88.0.10/16: expected one IPv4 address like 10.88.0.10, "
           "without a prefix length (the bridge's subnet gives it)\n"
           "t.unit:5: IPAddress=127.0.0.2: an unspecified, loopback or multicast address "
           "cannot be a sandbox's own\n"
           "t.unit:6: IPAddress=0.0.0.0: an unspecified, loopback or multicast address cannot "
           "be a sandbox's own\n"
           "t.unit:7: IPAddress=239.1.1.1: an unspecified, loopback or multicast address "
           "cannot be a sandbox's own\n"
           "t.unit:8: IPv6Address=::1: an unspecified, loopback or multicast address cannot "
           "be a sandbox's own\n"
           "t.unit:9: IPv6Address=10.88.0.10: an IPv4 address goes in IPAddress=\n"
           "t.unit:10: IPv6Address=ff02::1: an unspecified, loopback or multicast address "
           "cannot be a sandbox's own\n"
           "t.unit:11: IPv6Address=fd00::1 fd00::2: expected one IPv6 address like fd00::10, "
           "without a prefix length (the bridge's subnet gives it)");
}

static void test_dns(void **state) {
    UnitConfig *u = load_ok("[Sandbox]\nLayers=/l\nDNS=192.0.2.53\nDNS=\n"
                            "DNS=1.1.1.1 2606:4700:4700:0:0:0:0:1111\nDNS=127.0.0.1\n"
                            "[Service]\nExecStart=/x\n");
    assert_true(u->dns_assigned);
    assert_int_equal(strv_length(u->dns), 3);
    assert_string_equal(u->dns[0], "1.1.1.1");
    assert_string_equal(u->dns[1], "2606:4700:4700::1111"); /* canonical */
    assert_string_equal(u->dns[2], "127.0.0.1"); /* the sandbox may run its own */
    unit_config_free(u);
    /* DNS= alone: no name servers at all, which is not the same as no DNS= */
    u = load_ok("[Sandbox]\nLayers=/l\nDNS=192.0.2.53\nDNS=\n[Service]\nExecStart=/x\n");
    assert_true(u->dns_assigned);
    assert_null(u->dns);
    unit_config_free(u);

    _cleanup_free_ char *e = load_bad("[Sandbox]\nLayers=/l\n"
                                      "DNS=resolver.example\n"
                                      "DNS=0.0.0.0\n"
                                      "DNS=ff02::fb\n"
                                      "DNS=192.0.2.1:53\n"
                                      "DNS=192.0.2.1 192.0.2.2\n"
                                      "DNS=192.0.2.3 192.0.2.4\n"
                                      "DNS='a\n"
                                      "[Service]\nExecStart=/x\n");
    assert_string_equal(
        e, "t.unit:3: DNS=resolver.example: expected IPv4 or IPv6 addresses of name servers "
           "(no port, no %zone)\n"
           "t.unit:4: DNS=0.0.0.0: an unspecified or multicast address is no name server's\n"
           "t.unit:5: DNS=ff02::fb: an unspecified or multicast address is no name server's\n"
           "t.unit:6: DNS=192.0.2.1:53: expected IPv4 or IPv6 addresses of name servers (no "
           "port, no %zone)\n"
           "t.unit:8: DNS=192.0.2.3 192.0.2.4: more than 3 name servers; the C library's "
           "resolver reads no more (MAXNS)\n"
           "t.unit:9: DNS='a: expected IPv4 or IPv6 addresses");
}

static void test_add_host(void **state) {
    UnitConfig *u = load_ok("[Sandbox]\nLayers=/l\nAddHost=gone:192.0.2.9\nAddHost=\n"
                            "AddHost=db.internal:10.88.0.5\nAddHost=v6:fd00::5\n"
                            "AddHost=bracketed:[fd00::6]\nAddHost=_srv.x-1:0.0.0.0\n"
                            "[Service]\nExecStart=/x\n");
    assert_int_equal(u->n_extra_hosts, 4);
    assert_string_equal(u->extra_hosts[0].name, "db.internal");
    assert_int_equal(u->extra_hosts[0].family, AF_INET);
    assert_int_equal(u->extra_hosts[0].addr.bytes[3], 5);
    assert_string_equal(u->extra_hosts[1].name, "v6");
    assert_int_equal(u->extra_hosts[1].family, AF_INET6);
    assert_int_equal(u->extra_hosts[2].family, AF_INET6);
    assert_int_equal(u->extra_hosts[2].addr.bytes[15], 6);
    assert_string_equal(u->extra_hosts[3].name, "_srv.x-1");
    unit_config_free(u);

    char long_label[80];
    memset(long_label, 'a', 64);
    strcpy(long_label + 64, ":10.0.0.1");
    _cleanup_free_ char *text = NULL;
    assert_true(asprintf(&text, "[Sandbox]\nLayers=/l\n"
                                "AddHost=db\n"
                                "AddHost=-db:10.0.0.1\n"
                                "AddHost=a b:10.0.0.1\n"
                                "AddHost=db:host-gateway\n"
                                "AddHost=a..b:10.0.0.1\n"
                                "AddHost=:10.0.0.1\n"
                                "AddHost=%s\n"
                                "[Service]\nExecStart=/x\n",
                         long_label) > 0);
    _cleanup_free_ char *e = load_bad(text);
    assert_has(e, "t.unit:3: AddHost=db: expected NAME:IP, like db.internal:10.88.0.5\n");
    assert_has(e, "t.unit:4: AddHost=-db:10.0.0.1: NAME must be a host name");
    assert_has(e, "t.unit:5: AddHost=a b:10.0.0.1: NAME must be a host name");
    assert_has(e, "t.unit:6: AddHost=db:host-gateway: expected NAME:IP with an IPv4 or IPv6 "
                  "address\n");
    assert_has(e, "t.unit:7: AddHost=a..b:10.0.0.1: NAME must be a host name");
    assert_has(e, "t.unit:8: AddHost=:10.0.0.1: NAME must be a host name");
    assert_has(e, "t.unit:9: AddHost=aaaa");
}

static UnitConfig *load_addresses(const char *v4, const char *v6) {
    _cleanup_free_ char *text = NULL;
    assert_true(asprintf(&text, "[Sandbox]\nLayers=/l\nIPAddress=%s\nIPv6Address=%s\n"
                                "[Service]\nExecStart=/x\n",
                         v4, v6) > 0);
    return load_ok(text);
}

/* Checks the unit's addresses; returns the messages joined, or NULL when there are none. */
static char *check_network(const UnitConfig *u, const char *v4, const char *v6, bool v6_unknown) {
    UnitNetworkContext net = {.v6_unknown = v6_unknown};
    _cleanup_strv_free_ char **errors = NULL;
    if (v4)
        assert_int_equal(in_addr_prefix_parse(v4, &net.v4), 0);
    if (v6)
        assert_int_equal(in_addr_prefix_parse(v6, &net.v6), 0);
    int r = unit_check_network(u, &net, &errors);
    assert_int_equal(r, errors ? -EINVAL : 0);
    return errors ? strv_join(errors, "\n") : NULL;
}

static void test_check_network(void **state) {
    static const struct {
        const char *v4, *v6;  /* the unit's addresses */
        const char *subnet4, *subnet6;
        bool v6_unknown;
        const char *error; /* NULL: fine */
    } cases[] = {
        {"10.88.0.2", "fd00::2", "10.88.0.0/16", "fd00::/64", false, NULL},
        {"10.88.255.254", "fd00::ffff:ffff:ffff:ffff", "10.88.0.0/16", "fd00::/64", false, NULL},
        {"10.88.0.0", "", "10.88.0.0/16", NULL, false,
         "t.unit:3: IPAddress=10.88.0.0: the network address of the bridge's subnet "
         "10.88.0.0/16"},
        {"10.88.0.1", "", "10.88.0.0/16", NULL, false,
         "t.unit:3: IPAddress=10.88.0.1: the bridge's own address (the sandboxes' gateway) in "
         "its subnet 10.88.0.0/16"},
        {"10.88.255.255", "", "10.88.0.0/16", NULL, false,
         "t.unit:3: IPAddress=10.88.255.255: the broadcast address of the bridge's subnet "
         "10.88.0.0/16"},
        {"10.89.0.2", "", "10.88.0.0/16", NULL, false,
         "t.unit:3: IPAddress=10.89.0.2: not inside the bridge's subnet 10.88.0.0/16"},
        {"192.168.7.3", "", "192.168.7.0/30", NULL, false,
         "t.unit:3: IPAddress=192.168.7.3: the broadcast address"},
        {"192.168.7.2", "", "192.168.7.0/30", NULL, false, NULL},
        {"", "fd00::", NULL, "fd00::/64", false,
         "t.unit:4: IPv6Address=fd00::: the subnet-router anycast address of the bridge's "
         "subnet fd00::/64"},
        {"", "fd00::1", NULL, "fd00::/64", false,
         "t.unit:4: IPv6Address=fd00::1: the bridge's own address (the sandboxes' gateway) in "
         "its subnet fd00::/64"},
        {"", "fd00:0:0:1::2", NULL, "fd00::/64", false,
         "t.unit:4: IPv6Address=fd00:0:0:1::2: not inside the bridge's subnet fd00::/64"},
        {"", "fd00::ff", NULL, "fd00::/120", false, NULL}, /* no broadcast in IPv6 */
        {"", "fd00::2", NULL, NULL, false,
         "t.unit:4: IPv6Address=fd00::2: IPv6 is off in sandboxd.conf (IPv6Subnet=none)"},
        /* IPv6Subnet= not set: any ULA but the first two of its /64 */
        {"", "fd12:3456:789a:1::2", NULL, NULL, true, NULL},
        {"", "fd12:3456:789a:1::1", NULL, NULL, true,
         "t.unit:4: IPv6Address=fd12:3456:789a:1::1: the bridge's own address (the sandboxes' "
         "gateway) in its subnet fd12:3456:789a:1::/64"},
        {"", "2001:db8::2", NULL, NULL, true,
         "t.unit:4: IPv6Address=2001:db8::2: not a unique local address (fd00::/8), the only "
         "kind sandboxd picks for its bridge when IPv6Subnet= is not set"},
        /* an unknown IPv4 subnet is not checked */
        {"192.0.2.1", "", NULL, NULL, false, NULL},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_(unit_config_freep) UnitConfig *u = load_addresses(cases[i].v4, cases[i].v6);
        free(u->path);
        u->path = strdup("t.unit");
        _cleanup_free_ char *e = check_network(u, cases[i].subnet4, cases[i].subnet6,
                                               cases[i].v6_unknown);
        if (!cases[i].error != !e ||
            (e && strncmp(e, cases[i].error, strlen(cases[i].error)) != 0))
            fail_msg("case %zu: got '%s', want '%s'", i, e ? e : "(none)",
                     cases[i].error ? cases[i].error : "(none)");
    }
    /* both at once: each its message */
    _cleanup_(unit_config_freep) UnitConfig *u = load_addresses("10.0.0.1", "fd00::1");
    _cleanup_free_ char *e = check_network(u, "10.88.0.0/16", NULL, false);
    assert_string_equal(e, "/etc/sandboxd/units/t.unit:3: IPAddress=10.0.0.1: not inside the "
                           "bridge's subnet 10.88.0.0/16\n"
                           "/etc/sandboxd/units/t.unit:4: IPv6Address=fd00::1: IPv6 is off "
                           "in sandboxd.conf (IPv6Subnet=none)");
}

static UnitConfig *load_named(const char *path, const char *unit_lines) {
    _cleanup_free_ char *text = NULL;
    UnitConfig *u = NULL;
    assert_true(asprintf(&text, "[Unit]\n%s\n" MINIMAL, unit_lines) > 0);
    assert_int_equal(unit_load_string(path, text, &u, NULL), 0);
    return u;
}

static void test_dependencies(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u = load_named(
        "/u/web.unit", "Requires=db app.unit\nWants=cache\nAfter=db\nAfter=app db\n"
                       "BindsTo=db\nPartOf=x\nConflicts=old\nBefore=late\nOnFailure=alarm");
    assert_int_equal(u->deps[UNIT_REQUIRES].n, 2);
    assert_string_equal(u->deps[UNIT_REQUIRES].names[0], "db.unit");
    assert_string_equal(u->deps[UNIT_REQUIRES].names[1], "app.unit");
    assert_int_equal(u->deps[UNIT_REQUIRES].lines[1], 2);
    /* a name listed again is kept once, at its first line */
    assert_int_equal(u->deps[UNIT_AFTER].n, 2);
    assert_int_equal(u->deps[UNIT_AFTER].lines[0], 4);
    assert_string_equal(u->deps[UNIT_AFTER].names[1], "app.unit");
    assert_int_equal(u->deps[UNIT_AFTER].lines[1], 5);
    assert_true(unit_dep_list_contains(&u->deps[UNIT_ON_FAILURE], "alarm.unit"));
    assert_int_equal(u->type, SERVICE_EXEC);
    /* an empty assignment resets the list */
    _cleanup_(unit_config_freep) UnitConfig *v = load_named("/u/v.unit", "Wants=a b\nWants=\nWants=c");
    assert_int_equal(v->deps[UNIT_WANTS].n, 1);
    assert_string_equal(v->deps[UNIT_WANTS].names[0], "c.unit");

    _cleanup_free_ char *e = load_bad("[Unit]\nRequires=t.unit\nAfter=a/b\nWants=x y\n"
                                      "Conflicts=x\nBefore=q\nAfter=q\n" MINIMAL);
    assert_has(e, "t.unit:2: Requires=t.unit: a unit cannot depend on itself");
    assert_has(e, "t.unit:3: After=a/b: 'a/b' is not a unit name");
    assert_has(e, "t.unit:4: Wants=x.unit: the unit also conflicts with it");
    assert_has(e, "t.unit:7: After=q.unit: the unit is also ordered Before= it");
}

static void test_type_and_watchdog(void **state) {
    _cleanup_(unit_config_freep) UnitConfig *u = load_ok(
        "[Sandbox]\nLayers=/l1\n[Service]\nExecStart=/bin/true\nType=notify\n"
        "WatchdogSec=1min 30s\nRestart=on-watchdog\n");
    assert_int_equal(u->type, SERVICE_NOTIFY);
    assert_int_equal(u->watchdog_usec, 90 * USEC_PER_SEC);
    assert_int_equal(u->restart, RESTART_ON_WATCHDOG);
    _cleanup_(unit_config_freep) UnitConfig *v = load_ok(
        "[Sandbox]\nLayers=/l1\n[Service]\nExecStart=/bin/true\nType=simple\nWatchdogSec=infinity\n");
    assert_int_equal(v->type, SERVICE_EXEC);
    assert_int_equal(v->watchdog_usec, 0);
    _cleanup_free_ char *e = load_bad("[Sandbox]\nLayers=/l1\n[Service]\nExecStart=/x\n"
                                      "Type=forking\nWatchdogSec=soon\n");
    assert_has(e, "t.unit:5: Type=forking: expected exec");
    assert_has(e, "t.unit:6: WatchdogSec=soon: expected a time span");
}

static void test_ordering_cycles(void **state) {
    UnitConfig *u[4];
    u[0] = load_named("/u/a.unit", "After=b");
    u[1] = load_named("/u/b.unit", "After=c");
    u[2] = load_named("/u/c.unit", "Before=a"); /* c before a: a after c, no cycle yet */
    u[3] = load_named("/u/d.unit", "After=a b c");
    _cleanup_strv_free_ char **errors = NULL;
    assert_int_equal(unit_find_ordering_cycles(u, 4, &errors), 0);
    assert_null(errors);
    unit_config_free(u[2]);
    u[2] = load_named("/u/c.unit", "After=a");
    assert_int_equal(unit_find_ordering_cycles(u, 4, &errors), 1);
    /* told from its least name whatever unit the search started from */
    assert_string_equal(errors[0], "/u/a.unit:2: After=b.unit: ordering cycle: a.unit -> b.unit "
                                   "-> c.unit -> a.unit (/u/a.unit:2 After=b.unit, /u/b.unit:2 "
                                   "After=c.unit, /u/c.unit:2 After=a.unit)");
    _cleanup_strv_free_ char **again = NULL;
    UnitConfig *rev[4] = {u[3], u[2], u[1], u[0]};
    assert_int_equal(unit_find_ordering_cycles(rev, 4, &again), 1);
    assert_string_equal(again[0], errors[0]);
    /* a Before= edge is named in the file that says it */
    unit_config_free(u[2]);
    u[2] = load_named("/u/c.unit", "");
    unit_config_free(u[0]);
    u[0] = load_named("/u/a.unit", "After=b\nBefore=c");
    _cleanup_strv_free_ char **before = NULL;
    assert_int_equal(unit_find_ordering_cycles(u, 3, &before), 1);
    assert_has(before[0], "/u/a.unit:3 Before=c.unit");
    for (int i = 0; i < 4; i++)
        unit_config_free(u[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dependencies),
        cmocka_unit_test(test_type_and_watchdog),
        cmocka_unit_test(test_ordering_cycles),
        cmocka_unit_test(test_full_unit),
        cmocka_unit_test(test_v2_resource_keys),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_semicolon_kept),
        cmocka_unit_test(test_long_exec_start),
        cmocka_unit_test(test_too_long_continuation_at_end),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_list_reset),
        cmocka_unit_test(test_crlf_and_quotes),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_environment_is_bounded),
        cmocka_unit_test(test_cross_key_rules),
        cmocka_unit_test(test_bad_unit_name),
        cmocka_unit_test(test_capability_bounding_set),
        cmocka_unit_test(test_user_group_id_range),
        cmocka_unit_test(test_seccomp_keys),
        cmocka_unit_test(test_split_command),
        cmocka_unit_test(test_network_mode),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_port_duplicates),
        cmocka_unit_test(test_ports_are_bounded),
        cmocka_unit_test(test_network_keys_need_bridge),
        cmocka_unit_test(test_static_addresses),
        cmocka_unit_test(test_dns),
        cmocka_unit_test(test_add_host),
        cmocka_unit_test(test_check_network),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
