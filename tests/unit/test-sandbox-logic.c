/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pure pieces of the daemon and sys code: restart policy, the plan hand-over, passwd lookups,
 * overlay option strings. */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "plan.h"
#include "rootfs.h"
#include "sandbox.h"
#include "strv.h"

static void test_should_restart(void **state) {
    struct {
        RestartPolicy p;
        SandboxResult r;
        int code, status;
        bool expect;
    } cases[] = {
        {RESTART_NO, RESULT_EXIT_CODE, CLD_EXITED, 3, false},
        {RESTART_ALWAYS, RESULT_SUCCESS, CLD_EXITED, 0, true},
        {RESTART_ON_SUCCESS, RESULT_SUCCESS, CLD_EXITED, 0, true},
        {RESTART_ON_SUCCESS, RESULT_EXIT_CODE, CLD_EXITED, 1, false},
        {RESTART_ON_FAILURE, RESULT_EXIT_CODE, CLD_EXITED, 3, true},
        {RESTART_ON_FAILURE, RESULT_SUCCESS, CLD_KILLED, SIGTERM, false},
        {RESTART_ON_FAILURE, RESULT_OOM_KILL, CLD_KILLED, SIGKILL, true},
        {RESTART_ON_FAILURE, RESULT_RESOURCES, 0, 0, true},
        {RESTART_ON_ABNORMAL, RESULT_EXIT_CODE, CLD_EXITED, 3, false},
        {RESTART_ON_ABNORMAL, RESULT_SIGNAL, CLD_KILLED, SIGSEGV, true},
        {RESTART_ON_ABNORMAL, RESULT_TIMEOUT, CLD_KILLED, SIGKILL, true},
        {RESTART_ON_ABORT, RESULT_SIGNAL, CLD_KILLED, SIGABRT, true},
        {RESTART_ON_ABORT, RESULT_TIMEOUT, CLD_KILLED, SIGKILL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (sandbox_should_restart(cases[i].p, cases[i].r, cases[i].code, cases[i].status) !=
            cases[i].expect)
            fail_msg("case %zu: %s/%s", i, restart_policy_to_string(cases[i].p),
                     sandbox_result_to_string(cases[i].r));
}

static void test_userns_base(void **state) {
    uint32_t a = sandbox_userns_base("web.unit"), b = sandbox_userns_base("db.unit");
    assert_int_equal(a, sandbox_userns_base("web.unit")); /* stable: the rw layer depends on it */
    assert_int_not_equal(a, b);
    const char *names[] = {"web.unit", "db.unit", "a", "x@1.unit", "very-long-name.unit"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        uint32_t v = sandbox_userns_base(names[i]);
        assert_true(v >= 0x80000 && (uint64_t) v + 65536 <= 0x6FFF0000ULL);
        assert_int_equal(v % 65536, 0);
    }
}

static void test_string_tables(void **state) {
    for (int i = 0; i < _RESTART_MAX; i++)
        assert_int_equal(restart_policy_from_string(restart_policy_to_string(i)), i);
    assert_int_equal(restart_policy_from_string("sometimes"), _RESTART_INVALID);
    for (int i = 0; i < _RESULT_MAX; i++)
        assert_non_null(sandbox_result_to_string(i));
    for (int i = 0; i < _SANDBOX_STATE_MAX; i++)
        assert_non_null(sandbox_active_state_to_string(i));
}

static void test_plan_roundtrip(void **state) {
    char *lowers[] = {"/l1", "/l2", NULL}, *argv[] = {"/bin/sh", "-c", "a ; b", NULL},
         *env[] = {"A=1", NULL};
    PlanVolume vols[] = {{"/src", "/dst", true}};
    SandboxPlan p = {.root_mount = "/run/x/root", .lowers = lowers, .init_layer = "/run/x/init",
                     .upper = "/u", .work = "/w", .hostname = "h", .volumes = vols,
                     .n_volumes = 1, .argv = argv, .env = env, .user = "www", .pid_ns = true};
    int fd = plan_to_memfd(&p);
    assert_true(fd >= 0);
    /* sealed: nobody can change what the init will read */
    assert_int_equal(write(fd, "x", 1), -1);
    SandboxPlan *q = NULL;
    assert_int_equal(plan_from_fd(fd, &q), 0);
    close(fd);
    assert_string_equal(q->root_mount, "/run/x/root");
    assert_int_equal(strv_length(q->lowers), 2);
    assert_string_equal(q->argv[2], "a ; b");
    assert_int_equal(q->n_volumes, 1);
    assert_true(q->volumes[0].read_only);
    assert_string_equal(q->volumes[0].target, "/dst");
    assert_string_equal(q->user, "www");
    assert_null(q->group);
    assert_true(q->pid_ns);
    plan_free(q);
}

static void test_overlay_options(void **state) {
    char *lowers[] = {"/img/base", "/img/app", NULL};
    char *o = NULL;
    assert_int_equal(rootfs_overlay_options(lowers, "/run/init", "/st/upper", "/st/work", &o), 0);
    /* overlayfs lists the top layer first: init above the image, app above base */
    assert_string_equal(o, "lowerdir=/run/init:/img/app:/img/base,upperdir=/st/upper,"
                           "workdir=/st/work");
    free(o);
    assert_int_equal(rootfs_overlay_options(lowers, "/run/init", NULL, NULL, &o), 0);
    assert_string_equal(o, "lowerdir=/run/init:/img/app:/img/base");
    free(o);
    char *bad[] = {"/img/a,b", NULL};
    assert_int_equal(rootfs_overlay_options(bad, "/run/init", NULL, NULL, &o), -EINVAL);
}

static void test_plan_hide_paths(void **state) {
    char *argv[] = {"/bin/true", NULL}, *hide[] = {"/run/sandboxd", "/var/log/sandboxd", NULL};
    SandboxPlan p = {.root_mount = "/r", .root_directory = "/", .argv = argv, .hide_paths = hide};
    int fd = plan_to_memfd(&p);
    assert_true(fd >= 0);
    SandboxPlan *q = NULL;
    assert_int_equal(plan_from_fd(fd, &q), 0);
    close(fd);
    assert_int_equal(strv_length(q->hide_paths), 2);
    assert_string_equal(q->hide_paths[1], "/var/log/sandboxd");
    plan_free(q);
}

static void test_read_state(void **state) {
    SandboxSavedState st;
    assert_int_equal(sandbox_read_state("unit_path=/etc/sandboxd/units/web.unit\ninit_pid=42\n"
                                        "init_start_time=7\nmain_pid=43\nready=0\n",
                                        &st),
                     0);
    assert_string_equal(st.unit_path, "/etc/sandboxd/units/web.unit");
    assert_int_equal(st.init_pid, 42);
    assert_int_equal(st.main_pid, 43);
    assert_false(st.ready);
    free(st.unit_path);
    /* files written before "ready" existed were written once the payload ran */
    assert_int_equal(sandbox_read_state("unit_path=/u/a.unit\ninit_pid=1\ninit_start_time=1\n",
                                        &st),
                     0);
    assert_true(st.ready);
    free(st.unit_path);
    /* a path that is not normalised is a bad file, not "out of memory" */
    assert_int_equal(sandbox_read_state("unit_path=/u/../a.unit\ninit_pid=1\ninit_start_time=1\n",
                                        &st),
                     -EBADMSG);
    assert_int_equal(sandbox_read_state("unit_path=relative.unit\ninit_pid=1\n", &st), -EBADMSG);
    assert_int_equal(sandbox_read_state("unit_path=/u/a.unit\ninit_pid=0\ninit_start_time=1\n",
                                        &st),
                     -EBADMSG);
    assert_int_equal(sandbox_read_state("", &st), -EBADMSG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_should_restart), cmocka_unit_test(test_string_tables),
        cmocka_unit_test(test_userns_base),
        cmocka_unit_test(test_plan_roundtrip), cmocka_unit_test(test_overlay_options),
        cmocka_unit_test(test_read_state), cmocka_unit_test(test_plan_hide_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
