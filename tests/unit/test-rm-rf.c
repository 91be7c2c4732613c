/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rm_rf() on the trees a hostile payload can leave in its rw layer: deep enough to exhaust a
 * recursive walk's fds and stack, with symlinks out, special files, and mount points. The
 * cases that change limits or mount run in a forked child, whose exit code says what broke. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "macro.h"
#include "rm-rf.h"

#define DEEP_LEVELS 20000
#define LOW_FD_LIMIT 32
#define SMALL_STACK (256U * 1024U)

static char *make_temp_dir(const char *name) {
    const char *tmp = getenv("TMPDIR");
    char *d = NULL;
    assert_true(asprintf(&d, "%s/test-rm-rf-%s.XXXXXX", tmp ? tmp : "/tmp", name) > 0);
    assert_non_null(mkdtemp(d));
    return d;
}

static char *join(const char *a, const char *b) {
    char *p = NULL;
    if (asprintf(&p, "%s/%s", a, b) < 0)
        abort();
    return p;
}

static bool exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The helpers return a negative errno rather than assert: forked children use them too. */
static int write_text(const char *path, const char *text) {
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    return n == (ssize_t) strlen(text) ? 0 : -EIO;
}

static bool has_text(const char *path, const char *text) {
    char buf[64] = {0};
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A chain top/d/d/.../d of levels directories, with a file "f" every file_every levels and a
 * FIFO at the bottom. */
static int make_chain(const char *top, int levels, int file_every) {
    _cleanup_close_ int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (int i = 0; i < levels; i++) {
        if (i % file_every == 0) {
            int f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (f < 0)
                return -errno;
            safe_close(f);
        }
        if (mkdirat(fd, "d", 0700) < 0)
            return -errno;
        int c = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c < 0)
            return -errno;
        safe_close(fd);
        fd = c;
    }
    return RET_NERRNO(mkfifoat(fd, "fifo", 0600));
}

static void *rm_rf_thread(void *path) {
    return (void *) (intptr_t) rm_rf(path);
}

/* rm_rf() run on a thread whose stack is small: a walk that recursed would overflow it. */
static int rm_rf_on_small_stack(const char *path) {
    pthread_attr_t attr;
    pthread_t t;
    void *ret = NULL;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, SMALL_STACK) != 0 ||
        pthread_create(&t, &attr, rm_rf_thread, (void *) path) != 0 || pthread_join(t, &ret) != 0)
        return -EAGAIN;
    pthread_attr_destroy(&attr);
    return (int) (intptr_t) ret;
}

/* Runs f(arg) in a forked child; returns its exit code (128 + signal if it was killed). */
static int run_in_child(int (*f)(const char *), const char *arg) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(f(arg));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int deep_chain_child(const char *top) {
    if (make_chain(top, DEEP_LEVELS, 1000) < 0)
        return 10;
    int fds = count_fds();
    struct rlimit rl = {LOW_FD_LIMIT, LOW_FD_LIMIT};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 11;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = rm_rf_on_small_stack(top);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "# %d levels removed in %.2fs (rm_rf: %d)\n", DEEP_LEVELS,
            (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9, r);
    if (r != 0)
        return 12;
    if (exists(top))
        return 13;
    if (count_fds() != fds)
        return 14; /* an fd left open */
    return 0;
}

static void test_deep_chain(void **state) {
    _cleanup_free_ char *top = make_temp_dir("deep");
    int code = run_in_child(deep_chain_child, top);
    if (code != 0)
        (void) rm_rf(top); /* with our own limits, to leave nothing behind */
    assert_int_equal(code, 0);
}

static void test_files_symlinks_fifo_socket(void **state) {
    _cleanup_free_ char *top = make_temp_dir("kinds");
    _cleanup_free_ char *outside = make_temp_dir("outside");
    _cleanup_free_ char *outside_file = join(outside, "keep");
    assert_int_equal(write_text(outside_file, "kept"), 0);

    _cleanup_free_ char *a = join(top, "a"), *ab = join(top, "a/b"), *abc = join(top, "a/b/c");
    _cleanup_free_ char *empty = join(top, "a/empty"), *file = join(top, "a/b/file");
    _cleanup_free_ char *dirlink = join(top, "a/dirlink"), *filelink = join(top, "a/b/filelink");
    _cleanup_free_ char *dangling = join(top, "dangling"), *fifo = join(top, "a/b/c/fifo");
    _cleanup_free_ char *sock = join(top, "a/sock"), *hard = join(top, "hard");
    assert_int_equal(mkdir(a, 0700), 0);
    assert_int_equal(mkdir(ab, 0700), 0);
    assert_int_equal(mkdir(abc, geteuid() == 0 ? 0000 : 0700), 0); /* root needs no permission */
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_int_equal(write_text(file, "x"), 0);
    assert_int_equal(symlink(outside, dirlink), 0);
    assert_int_equal(symlink(outside_file, filelink), 0);
    assert_int_equal(symlink("/nonexistent/x", dangling), 0);
    assert_int_equal(link(outside_file, hard), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(sock) < sizeof sa.sun_path);
    strcpy(sa.sun_path, sock);
    assert_int_equal(bind(s, (struct sockaddr *) &sa, sizeof sa), 0);
    safe_close(s);

    int fds = count_fds();
    assert_int_equal(rm_rf(top), 0);
    assert_false(exists(top));
    assert_int_equal(count_fds(), fds);
    /* the links were removed, not followed */
    assert_true(has_text(outside_file, "kept"));
    struct stat st;
    assert_int_equal(stat(outside_file, &st), 0);
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(rm_rf(outside), 0);
    assert_false(exists(outside));
}

static void test_top_not_a_directory(void **state) {
    _cleanup_free_ char *dir = make_temp_dir("top");
    _cleanup_free_ char *target = join(dir, "target"), *inside = join(dir, "target/file");
    _cleanup_free_ char *link = join(dir, "link"), *file = join(dir, "file");
    _cleanup_free_ char *missing = join(dir, "missing");
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(write_text(inside, "kept"), 0);
    assert_int_equal(symlink("target", link), 0);
    assert_int_equal(write_text(file, "x"), 0);

    assert_int_equal(rm_rf(missing), 0);
    assert_int_equal(rm_rf(link), 0); /* the link goes, never what it points to */
    assert_false(exists(link));
    assert_true(has_text(inside, "kept"));
    assert_int_equal(rm_rf(file), 0);
    assert_false(exists(file));
    assert_int_equal(rm_rf(dir), 0);
    assert_false(exists(dir));
}

/* Wide directories: many non-empty subdirectories between files, and a few levels of them. */
static int make_wide(const char *top, int width, int depth) {
    for (int i = 0; i < width; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d", i);
        _cleanup_free_ char *file = join(top, name);
        snprintf(name, sizeof name, "d%d", i);
        _cleanup_free_ char *sub = join(top, name), *inner = join(sub, "file");
        int r = write_text(file, "x");
        if (r < 0)
            return r;
        if (mkdir(sub, 0700) < 0)
            return -errno;
        if ((r = write_text(inner, "x")) < 0)
            return r;
        if (depth > 1 && i % 16 == 0 && (r = make_wide(sub, width / 8, depth - 1)) < 0)
            return r;
    }
    return 0;
}

static void test_wide_tree(void **state) {
    _cleanup_free_ char *top = make_temp_dir("wide");
    assert_int_equal(make_wide(top, 300, 2), 0);
    int fds = count_fds();
    assert_int_equal(rm_rf(top), 0);
    assert_false(exists(top));
    assert_int_equal(count_fds(), fds);
}

/* The mount cases: as root, in a private mount namespace of a child, so that nothing mounted
 * here can outlive the test or show outside. Exit codes: 0 passed, 77 cannot run here. */
static int enter_private_mount_ns(void) {
    if (unshare(CLONE_NEWNS) < 0)
        return -errno;
    return RET_NERRNO(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
}

static int mount_points_child(const char *top) {
    if (enter_private_mount_ns() < 0)
        return 77;
    _cleanup_free_ char *outside = NULL, *kept = NULL;
    if (asprintf(&outside, "%s.outside", top) < 0 || asprintf(&kept, "%s/kept", outside) < 0)
        return 10;
    if (mkdir(outside, 0700) < 0 || write_text(kept, "kept") < 0)
        return 11;

    /* a tmpfs (another st_dev) and a bind mount of the same file system (the same st_dev),
     * each among removable entries and below one, and one at the bottom of a chain */
    const char *dirs[] = {"a", "a/tmpfs", "a/x", "b", "b/bind", "b/y", "c"};
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
        _cleanup_free_ char *p = join(top, dirs[i]);
        if (mkdir(p, 0700) < 0)
            return 12;
    }
    _cleanup_free_ char *c = join(top, "c"), *tmpfs = join(top, "a/tmpfs");
    _cleanup_free_ char *bind = join(top, "b/bind"), *x = join(top, "a/x/file");
    if (make_chain(c, 1000, 10) < 0)
        return 13;
    _cleanup_free_ char *in_tmpfs = join(tmpfs, "data");
    if (write_text(x, "x") < 0 || mount("tmpfs", tmpfs, "tmpfs", 0, "size=1m") < 0 ||
        mount(outside, bind, NULL, MS_BIND, NULL) < 0 || write_text(in_tmpfs, "mounted") < 0)
        return 14;
    char bottom[2 + 2 * 1000 + 3];
    strcpy(bottom, "c");
    for (int i = 0; i < 1000; i++)
        strcat(bottom, "/d");
    strcat(bottom, "/m");
    _cleanup_free_ char *deep = join(top, bottom), *deep_file = NULL;
    if (mkdir(deep, 0700) < 0 || mount("tmpfs", deep, "tmpfs", 0, "size=1m") < 0)
        return 15;
    if (asprintf(&deep_file, "%s/data", deep) < 0 || write_text(deep_file, "mounted") < 0)
        return 10;

    int r = rm_rf(top);
    if (r != -EXDEV)
        return 20;
    /* nothing under a mount point touched, everything else gone */
    if (!has_text(in_tmpfs, "mounted") || !has_text(kept, "kept") ||
        !has_text(deep_file, "mounted"))
        return 21;
    _cleanup_free_ char *b_y = join(top, "b/y"), *a_x = join(top, "a/x");
    _cleanup_free_ char *chain_file = join(top, "c/f");
    if (exists(a_x) || exists(b_y) || exists(chain_file))
        return 22;
    if (!exists(deep))
        return 23;

    /* once unmounted, all of it goes */
    if (umount(tmpfs) < 0 || umount(bind) < 0 || umount(deep) < 0)
        return 24;
    if (rm_rf(top) != 0 || exists(top))
        return 25;
    if (!has_text(kept, "kept") || rm_rf(outside) != 0)
        return 26;
    return 0;
}

static void test_mount_points_not_crossed(void **state) {
    if (geteuid() != 0)
        skip(); /* mounting needs root; tests/run counts a skip as a failure */
    _cleanup_free_ char *top = make_temp_dir("mounts");
    int code = run_in_child(mount_points_child, top);
    if (code != 0)
        (void) rm_rf(top); /* the mounts died with the child's namespace */
    if (code == 77)
        skip();
    assert_int_equal(code, 0);
    assert_false(exists(top));
}

/* More failures than rm_rf() goes on past: it stops with the first error, quickly, and still
 * touches nothing under the mount points. */
static int many_failures_child(const char *top) {
    if (enter_private_mount_ns() < 0)
        return 77;
    _cleanup_free_ char *tmpfs = join(top, "tmpfs");
    _cleanup_free_ char *data = join(tmpfs, "data");
    if (mkdir(tmpfs, 0700) < 0 || mount("tmpfs", tmpfs, "tmpfs", 0, "size=1m") < 0 ||
        write_text(data, "mounted") < 0)
        return 10;
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%03d", i);
        _cleanup_free_ char *p = join(top, name);
        if (mkdir(p, 0700) < 0 || mount(tmpfs, p, NULL, MS_BIND, NULL) < 0)
            return 11;
    }
    if (rm_rf(top) != -EXDEV)
        return 20;
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%03d/data", i);
        _cleanup_free_ char *p = join(top, name);
        if (!has_text(p, "mounted"))
            return 21;
    }
    return 0; /* the mounts die with the namespace; the directories are removed outside */
}

static void test_many_failures(void **state) {
    if (geteuid() != 0)
        skip();
    _cleanup_free_ char *top = make_temp_dir("failures");
    int code = run_in_child(many_failures_child, top);
    assert_int_equal(rm_rf(top), 0);
    if (code == 77)
        skip();
    assert_int_equal(code, 0);
    assert_false(exists(top));
}

/* ramfs lists a directory by position, not by a stable cookie: going back up to an offset
 * after removals skips entries there, which the walk must still find. */
static int ramfs_child(const char *top) {
    if (enter_private_mount_ns() < 0 || mount("ramfs", top, "ramfs", 0, NULL) < 0)
        return 77;
    _cleanup_free_ char *tree = join(top, "tree");
    if (mkdir(tree, 0700) < 0 || make_wide(tree, 300, 3) < 0 || make_chain(tree, 200, 1) < 0)
        return 10;
    if (rm_rf(tree) != 0)
        return 11;
    return exists(tree) ? 12 : 0;
}

static void test_position_listing(void **state) {
    if (geteuid() != 0)
        skip();
    _cleanup_free_ char *top = make_temp_dir("ramfs");
    int code = run_in_child(ramfs_child, top);
    assert_int_equal(rm_rf(top), 0);
    if (code == 77)
        skip();
    assert_int_equal(code, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_chain),
        cmocka_unit_test(test_files_symlinks_fifo_socket),
        cmocka_unit_test(test_top_not_a_directory),
        cmocka_unit_test(test_wide_tree),
        cmocka_unit_test(test_mount_points_not_crossed),
        cmocka_unit_test(test_many_failures),
        cmocka_unit_test(test_position_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
