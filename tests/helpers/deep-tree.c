/* SPDX-License-Identifier: GPL-2.0-or-later */
/* deep-tree: what a hostile payload leaves in its rw layer to take down whatever removes it
 * with a recursive walk: a chain of directories LEVELS deep, with a file every 1,000 levels.
 *
 *   deep-tree DIR LEVELS
 *
 * Prints "built LEVELS levels" once done. Goes down with openat(), one fd at a time, so no
 * path ever grows past PATH_MAX. Built static: it runs in a busybox layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, long level) {
    fprintf(stderr, "deep-tree: %s at level %ld: %s\n", what, level, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: deep-tree DIR LEVELS\n");
        return 2;
    }
    long levels = strtol(argv[2], NULL, 10);
    if (mkdir(argv[1], 0755) < 0 && errno != EEXIST)
        return fail("mkdir", 0);
    int fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail("open", 0);
    for (long i = 0; i < levels; i++) {
        if (i % 1000 == 0) {
            int f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (f < 0)
                return fail("creating a file", i);
            close(f);
        }
        if (mkdirat(fd, "d", 0755) < 0)
            return fail("mkdirat", i);
        int c = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c < 0)
            return fail("openat", i);
        close(fd);
        fd = c;
    }
    close(fd);
    printf("built %ld levels\n", levels);
    return 0;
}
