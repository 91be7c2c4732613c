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

#include "path-util.h"
#include "plan.h"
#include "procview.h"
#include "rm-rf.h"
#include "rootfs.h"
#include "sandbox-internal.h"
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

static UnitConfig *unit(const char *sandbox_keys) {
    _cleanup_free_ char *text = NULL;
    UnitConfig *u = NULL;
    assert_true(asprintf(&text, "[Sandbox]\nLayers=/l\n%s[Service]\nExecStart=/x\n",
                         sandbox_keys) > 0);
    assert_int_equal(unit_load_string("t.unit", text, &u, NULL), 0);
    return u;
}

static void test_hosts_text(void **state) {
    static const char localhost[] = "127.0.0.1\tlocalhost\n"
                                    "::1\tlocalhost ip6-localhost ip6-loopback\n";
    _cleanup_(unit_config_freep) UnitConfig *u = unit("");
    _cleanup_free_ char *t = sandbox_hosts_text(u, "web", NULL);
    assert_string_equal(t, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                           "127.0.1.1\tweb\n");
    PlanNetwork net = {.eth0 = false};
    free(t);
    t = sandbox_hosts_text(u, "web", &net); /* loopback only: no address of its own */
    assert_string_equal(t + strlen(localhost), "127.0.1.1\tweb\n");

    net = (PlanNetwork){.eth0 = true, .has_v4 = true, .has_v6 = true, .prefix4 = 16,
                        .prefix6 = 64};
    inet_pton(AF_INET, "10.88.0.7", &net.addr4);
    inet_pton(AF_INET6, "fd00::7", &net.addr6);
    unit_config_free(u);
    u = unit("AddHost=db.internal:10.88.0.5\nAddHost=v6:fd00:0::5\n");
    free(t);
    t = sandbox_hosts_text(u, "web", &net);
    assert_string_equal(t, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                           "10.88.0.7\tweb\nfd00::7\tweb\n"
                           "10.88.0.5\tdb.internal\nfd00::5\tv6\n");
    net.has_v4 = false;
    free(t);
    t = sandbox_hosts_text(u, "web", &net);
    assert_string_equal(t + strlen(localhost), "fd00::7\tweb\n10.88.0.5\tdb.internal\n"
                                               "fd00::5\tv6\n");
}

static char *resolv(const UnitConfig *u, const char *host, const char *resolved,
                    bool expect_none) {
    char *t = NULL;
    bool none = !expect_none;
    assert_int_equal(sandbox_resolv_conf_text(u, host, resolved, &t, &none), 0);
    assert_int_equal(none, expect_none);
    return t;
}

static void test_resolv_conf_text(void **state) {
    static const char host[] = "# written by someone\n"
                               "search example.org\n"
                               "nameserver 127.0.0.53\n"
                               "nameserver ::1\n"
                               "nameserver 192.0.2.1\n"
                               "options edns0 trust-ad\n"
                               "nameserver\t2001:db8::53";   /* no final newline */
    static const char stub_only[] = "nameserver 127.0.0.53\noptions edns0\nsearch lan\n";
    static const char resolved[] = "# upstream\nnameserver 192.0.2.10\nnameserver 127.0.0.1\n"
                                   "nameserver 2001:db8::10\nsearch lan\n";
    _cleanup_(unit_config_freep) UnitConfig *u = unit("");
    _cleanup_free_ char *t = NULL;

    /* the host's file without the loopback servers */
    t = resolv(u, host, resolved, false);
    assert_string_equal(t, "# written by someone\nsearch example.org\nnameserver 192.0.2.1\n"
                           "options edns0 trust-ad\nnameserver\t2001:db8::53\n");
    /* only systemd-resolved's stub: its upstream servers instead */
    free(t);
    t = resolv(u, stub_only, resolved, false);
    assert_string_equal(t, "options edns0\nsearch lan\nnameserver 192.0.2.10\n"
                           "nameserver 2001:db8::10\n");
    /* nothing reachable anywhere: said so */
    free(t);
    t = resolv(u, stub_only, NULL, true);
    assert_string_equal(t, "options edns0\nsearch lan\n");
    free(t);
    t = resolv(u, NULL, NULL, true);
    assert_string_equal(t, "");
    free(t);
    t = resolv(u, "nameserver 127.0.0.1\n", "nameserver 127.0.0.53\n", true);
    assert_string_equal(t, "");
    /* a word that only starts like a keyword is no server; an address that does not parse is
     * kept as it is */
    free(t);
    t = resolv(u, "nameservers 192.0.2.1\nnameserver fe80::1%eth0\n", NULL, false);
    assert_string_equal(t, "nameservers 192.0.2.1\nnameserver fe80::1%eth0\n");

    /* DNS=: exactly those servers, with the host's search and options lines */
    unit_config_free(u);
    u = unit("DNS=192.0.2.99 2001:db8::99\n");
    free(t);
    t = resolv(u, host, resolved, false);
    assert_string_equal(t, "search example.org\noptions edns0 trust-ad\n"
                           "nameserver 192.0.2.99\nnameserver 2001:db8::99\n");
    /* an empty DNS=: none at all, not the host's */
    unit_config_free(u);
    u = unit("DNS=192.0.2.99\nDNS=\n");
    free(t);
    t = resolv(u, host, resolved, true);
    assert_string_equal(t, "search example.org\noptions edns0 trust-ad\n");

    /* in the host's network namespace, the host's loopback resolvers are reachable */
    unit_config_free(u);
    u = unit("Network=host\n");
    free(t);
    t = resolv(u, stub_only, resolved, false);
    assert_string_equal(t, stub_only);
}

static void test_write_init_layer(void **state) {
    /* $TMPDIR: the cgroup v2 leg's guest has a read-only /tmp */
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/test-init-layer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    _cleanup_(unit_config_freep) UnitConfig *u = unit("AddHost=db:10.0.0.5\nDNS=\n");
    Sandbox s = {.config = u};
    bool none = false;
    assert_int_equal(sandbox_write_init_layer(&s, dir, "box", NULL, &none), 0);
    assert_true(none);
    _cleanup_free_ char *p = path_join(dir, "etc/hosts"), *text = NULL;
    assert_int_equal(read_file(p, 4096, &text, NULL), 0);
    assert_string_equal(text, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                              "ip6-loopback\n127.0.1.1\tbox\n10.0.0.5\tdb\n");
    free(p);
    free(text);
    p = path_join(dir, "etc/hostname");
    assert_int_equal(read_file(p, 4096, &text, NULL), 0);
    assert_string_equal(text, "box\n");
    assert_int_equal(sandbox_write_init_layer(&s, dir, "box", NULL, NULL), 0);
    assert_int_equal(rm_rf(dir), 0);
}

/* A read of the view not answered in 2 s: lxcfs hangs, unless it was working meanwhile. */
static void test_procview_watch_busy(void **state) {
    assert_true(procview_watch_busy(false, 100, 400, 0));      /* flooded: it works */
    assert_false(procview_watch_busy(true, 100, 400, 0));      /* stopped */
    assert_false(procview_watch_busy(false, 100, 101, 0));     /* its loadavg thread only */
    assert_false(procview_watch_busy(false, 100, 400, 15));    /* busy for 30 s: counts as hung */
    assert_true(procview_watch_busy(false, 100, 400, 14));
    assert_false(procview_watch_busy(false, UINT64_MAX, 400, 0)); /* unknown: as before */
    assert_false(procview_watch_busy(false, 100, UINT64_MAX, 0));
    assert_false(procview_watch_busy(false, 400, 100, 0));     /* another process's numbers */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_should_restart), cmocka_unit_test(test_string_tables),
        cmocka_unit_test(test_userns_base), cmocka_unit_test(test_procview_watch_busy),
        cmocka_unit_test(test_plan_roundtrip), cmocka_unit_test(test_overlay_options),
        cmocka_unit_test(test_read_state), cmocka_unit_test(test_plan_hide_paths),
        cmocka_unit_test(test_hosts_text), cmocka_unit_test(test_resolv_conf_text),
        cmocka_unit_test(test_write_init_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
