/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <dirent.h>

#include <stdbool.h>
#include <sys/types.h>

/* Absolute, no "." or ".." components, no empty components except a trailing slash. */
bool path_is_normalized_absolute(const char *p);
/* A single file name: not empty, no '/', not "." or "..". */
bool filename_is_valid(const char *p);
/* mkdir -p with mode for the created directories. */
int mkdir_p(const char *path, mode_t mode);
/* Writes all of data to path atomically (temp file + rename). */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode);
/* Writes all n bytes of buf to fd, going on after short writes and EINTR. */
int write_all(int fd, const void *buf, size_t n);
/* Reads an fd to its end (at most max bytes) into a NUL-terminated buffer. */
int read_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* Reads a whole small regular file (at most max bytes, else -EFBIG) as a NUL-terminated
 * string, without ever blocking on the open: -EISDIR for a directory, -EBADFD for a FIFO,
 * socket or device. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* A DIR stream of dir_fd's directory through a descriptor of its own, so it reads from the
 * start whatever read dir_fd before (a dup would share its offset). */
int opendir_fd(int dir_fd, DIR **ret);
/* 0 for a regular file, -EISDIR for a directory, -EBADFD for anything else. */
int fd_verify_regular(int fd);
/* Joins two path parts with one '/'. NULL on OOM. */
char *path_join(const char *a, const char *b);
