/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "userns.h"

static int write_map(pid_t pid, const char *file, const char *map) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (write(fd, map, strlen(map)) != (ssize_t) strlen(map))
        return negative_errno();
    return 0;
}

int userns_create(uid_t base, uint32_t size, int *ret_fd) {
    _cleanup_close_pair_ int ready[2] = {-EBADF, -EBADF}, done[2] = {-EBADF, -EBADF};
    char map[64], path[64], c = 0;
    int r = 0;

    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* the helper: make the namespace, then wait until its maps are written and it is held
         * by an fd, so it never runs anything in it. Drop our copies of the parent's ends, or
         * the parent closing its own would never reach us. */
        safe_close(ready[0]);
        safe_close(done[1]);
        /* tells the parent unshare's errno (0: done); EPERM e.g. inside a chroot */
        int e = unshare(CLONE_NEWUSER) < 0 ? errno : 0;
        if (write(ready[1], &e, sizeof e) != sizeof e || e != 0)
            _exit(EXIT_FAILURE);
        /* the parent's byte, or its close, ends the wait: the result says nothing more */
        ssize_t n = read(done[0], &c, 1);
        (void) n;
        _exit(EXIT_SUCCESS);
    }
    ready[1] = safe_close(ready[1]);
    done[0] = safe_close(done[0]);
    int e = 0;
    if (read(ready[0], &e, sizeof e) != sizeof e)
        r = -ECHILD; /* the helper died before it could tell */
    else if (e != 0)
        r = -e;
    snprintf(map, sizeof map, "0 %u %u\n", (unsigned) base, size);
    /* written by us, privileged in the parent namespace: setgroups stays allowed inside */
    if (r >= 0)
        r = write_map(pid, "uid_map", map);
    if (r >= 0)
        r = write_map(pid, "gid_map", map);
    int fd = -EBADF;
    if (r >= 0) {
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            r = -errno;
    }
    done[1] = safe_close(done[1]); /* releases the helper */
    (void) waitpid(pid, NULL, 0);
    if (r < 0) {
        safe_close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}
