/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "path-util.h"

bool path_is_normalized_absolute(const char *p) {
    if (!p || p[0] != '/')
        return false;
    for (const char *c = p + 1; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0)
            return false; /* "//" */
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += n;
        if (*c == '/')
            c++;
    }
    return true;
}

bool filename_is_valid(const char *p) {
    return !isempty(p) && !strchr(p, '/') && !streq(p, ".") && !streq(p, "..") &&
           strlen(p) <= 255;
}

int mkdir_p(const char *path, mode_t mode) {
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char saved = *p;
        *p = 0;
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = saved;
        if (!saved)
            break;
    }
    return 0;
}

int write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t) k;
    }
    return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode) {
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
        return -ENOMEM;
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = write_all(fd, data, len);
    if (r == 0 && fchmod(fd, mode) < 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        (void) unlink(tmp);
    return r;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer, and a daemon that reads
     * a path a client named must never wait on it */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    int r = fd_verify_regular(fd);
    if (r < 0)
        return r;
    return read_fd(fd, max, ret, ret_len);
}

int fd_verify_regular(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -EBADFD;
    return 0;
}

int opendir_fd(int dir_fd, DIR **ret) {
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int r = -errno;
        close(fd);
        return r;
    }
    *ret = d;
    return 0;
}

int read_fd(int fd, size_t max, char **ret, size_t *ret_len) {
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap >= max)
                return -EFBIG;
            cap = cap * 2 > max ? max : cap * 2;
            char *n = realloc(buf, cap + 1);
            if (!n)
                return -ENOMEM;
            buf = n;
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        len += (size_t) k;
    }
    buf[len] = 0;
    if (ret_len)
        *ret_len = len;
    *ret = TAKE_PTR(buf);
    return 0;
}

char *path_join(const char *a, const char *b) {
    char *r;
    size_t n = strlen(a);
    while (*b == '/')
        b++;
    if (asprintf(&r, "%s%s%s", a, n > 0 && a[n - 1] == '/' ? "" : "/", b) < 0)
        return NULL;
    return r;
}
