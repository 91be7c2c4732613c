/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The image's /etc/passwd and /etc/group: lookups, ids out of range, and reading them bounded. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "passwd.h"
#include "path-util.h"
#include "rm-rf.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "broken line\n"
                             "www:x:33:34:web:/var/www:/bin/false\n"
                             "garbage:x:abc:1::/:/bin/sh\n"
                             "minus:x:-1:1::/:/bin/sh\n"
                             "app:x:4294967295:4294967295:app:/app:/bin/sh\n"
                             "big:x:2147483648:100::/:/bin/sh\n"
                             "biggid:x:1000:2147483648::/:/bin/sh\n"
                             "huge:x:99999999999999999999:1::/:/bin/sh\n"
                             "last:x:2147483647:2147483647::/home/last:/bin/sh";
static const char group[] = "root:x:0:\n"
                            "staff:x:50:www,bob\n"
                            "web:x:34:\n"
                            "neg:x:4294967295:\n"
                            "evil:x:4294967295:mallory\n"
                            "ok:x:60:mallory";

static void test_lookups(void **state) {
    UserRecord u;
    assert_int_equal(passwd_find_user(passwd, "www", &u), 0);
    assert_int_equal(u.uid, 33);
    assert_int_equal(u.gid, 34);
    assert_string_equal(u.home, "/var/www");
    free(u.home);
    assert_int_equal(passwd_find_user(passwd, "0", &u), 0);
    assert_string_equal(u.home, "/root");
    free(u.home);
    assert_int_equal(passwd_find_user(passwd, "1234", &u), 0); /* numeric without entry */
    assert_int_equal(u.uid, 1234);
    assert_int_equal(u.gid, 1234);
    assert_null(u.home);
    /* a last line without a newline is still read */
    assert_int_equal(passwd_find_user(passwd, "last", &u), 0);
    assert_int_equal(u.uid, 2147483647U);
    assert_string_equal(u.home, "/home/last");
    free(u.home);
    assert_int_equal(passwd_find_user(passwd, "nobody", &u), -ESRCH);
    assert_int_equal(passwd_find_user(passwd, "garbage", &u), -ESRCH);
    assert_int_equal(passwd_find_user(passwd, "minus", &u), -ESRCH);
    assert_int_equal(passwd_find_user(NULL, "www", &u), -ESRCH);
    assert_int_equal(passwd_find_user(NULL, "33", &u), 0);

    gid_t g;
    assert_int_equal(passwd_find_group(group, "web", &g), 0);
    assert_int_equal(g, 34);
    assert_int_equal(passwd_find_group(group, "77", &g), 0);
    assert_int_equal(g, 77);
    assert_int_equal(passwd_find_group(group, "nope", &g), -ESRCH);
    assert_int_equal(passwd_find_group(NULL, "nope", &g), -ESRCH);
    gid_t *groups = NULL;
    size_t n;
    assert_int_equal(passwd_member_groups(group, "www", &groups, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(groups[0], 50);
    free(groups);
    assert_int_equal(passwd_member_groups(NULL, "www", &groups, &n), 0);
    assert_int_equal(n, 0);
    assert_null(groups);
}

/* (uid_t) -1 makes setresuid() a no-op: the payload would stay root with root's caps */
static void test_ids_out_of_range(void **state) {
    UserRecord u = {.uid = 7, .gid = 7};
    assert_int_equal(passwd_find_user(passwd, "app", &u), -ERANGE);
    assert_int_equal(passwd_find_user(passwd, "big", &u), -ERANGE);
    assert_int_equal(passwd_find_user(passwd, "biggid", &u), -ERANGE);
    assert_int_equal(passwd_find_user(passwd, "huge", &u), -ERANGE);
    assert_int_equal(passwd_find_user(passwd, "4294967295", &u), -ERANGE);
    assert_int_equal(passwd_find_user(NULL, "2147483648", &u), -ERANGE);
    assert_int_equal(u.uid, 7); /* never written on failure */
    assert_int_equal(u.gid, 7);

    gid_t g = 7;
    assert_int_equal(passwd_find_group(group, "neg", &g), -ERANGE);
    assert_int_equal(passwd_find_group(group, "4294967295", &g), -ERANGE);
    assert_int_equal(g, 7);
    gid_t *groups = NULL;
    size_t n = 7;
    assert_int_equal(passwd_member_groups(group, "mallory", &groups, &n), -ERANGE);
    assert_null(groups);
    assert_int_equal(n, 7);
}

static char *root;

static void write_at(const char *name, const char *text) {
    _cleanup_free_ char *p = path_join(root, name);
    FILE *f = fopen(p, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_read_file(void **state) {
    /* $TMPDIR: the cgroup v2 leg's guest has a read-only /tmp */
    const char *tmp = getenv("TMPDIR");
    assert_true(asprintf(&root, "%s/test-passwd.XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
    assert_non_null(mkdtemp(root));
    _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(rootfd >= 0);
    _cleanup_free_ char *etc = path_join(root, "etc");
    assert_int_equal(mkdir(etc, 0755), 0);
    char *text = (char *) "unset";

    assert_int_equal(passwd_read_file(rootfd, "/etc/passwd", &text), 0);
    assert_null(text); /* no file: no users, not an error */

    write_at("etc/passwd", "www:x:33:33::/:/bin/sh\n");
    assert_int_equal(passwd_read_file(rootfd, "/etc/passwd", &text), 0);
    assert_string_equal(text, "www:x:33:33::/:/bin/sh\n");
    free(text);

    /* an absolute symlink resolves inside the root, never to the host's file */
    write_at("hostile", "in the root\n");
    assert_int_equal(symlinkat("/../../../../hostile", rootfd, "etc/group"), 0);
    assert_int_equal(passwd_read_file(rootfd, "/etc/group", &text), 0);
    assert_string_equal(text, "in the root\n");
    free(text);

    /* a FIFO with no writer: a blocking open would hang here, the alarm fails the test */
    assert_int_equal(mkfifoat(rootfd, "etc/fifo", 0644), 0);
    alarm(10);
    text = (char *) "unset";
    assert_int_equal(passwd_read_file(rootfd, "/etc/fifo", &text), -EBADFD);
    alarm(0);
    assert_string_equal(text, "unset");

    assert_int_equal(passwd_read_file(rootfd, "/etc", &text), -EISDIR);

    /* larger than the cap, as a sparse file: refused before reading */
    _cleanup_free_ char *bigp = path_join(root, "etc/big");
    _cleanup_close_ int big = open(bigp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(big >= 0);
    assert_int_equal(ftruncate(big, PASSWD_FILE_MAX + 1), 0);
    assert_int_equal(passwd_read_file(rootfd, "/etc/big", &text), -EFBIG);
    assert_int_equal(ftruncate(big, PASSWD_FILE_MAX), 0); /* exactly the cap is fine */
    assert_int_equal(passwd_read_file(rootfd, "/etc/big", &text), 0);
    free(text);

    /* a character device (when the test runs as root; /dev/zero reached by a symlink is the
     * integration test's case) */
    if (geteuid() == 0) {
        assert_int_equal(mknodat(rootfd, "etc/zero", S_IFCHR | 0666, makedev(1, 5)), 0);
        assert_int_equal(passwd_read_file(rootfd, "/etc/zero", &text), -EBADFD);
    }
    assert_int_equal(rm_rf(root), 0);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_ids_out_of_range),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
