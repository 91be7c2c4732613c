/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "image-ref.h"
#include "path-util.h"
#include "rm-rf.h"

#define RECORD_MAX (16U * 1024U * 1024U)

struct ImageStore {
    char *path;
    int dirfd, layers_fd, images_fd, locks_fd, tmp_fd;
    int held_lock; /* image_store_hold()'s tmp.lock, for the process's whole job; -1: none */
    bool held_exclusive;
};

const char *image_store_path(const ImageStore *s) {
    return s->path;
}

ImageStore *image_store_close(ImageStore *s) {
    if (s) {
        safe_close(s->dirfd);
        safe_close(s->layers_fd);
        safe_close(s->images_fd);
        safe_close(s->locks_fd);
        safe_close(s->tmp_fd);
        safe_close(s->held_lock);
        free(s->path);
        free(s);
    }
    return NULL;
}

static int open_subdir(int dirfd, const char *name) {
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return -errno;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Importers hold tmp.lock shared while they have work in tmp/; the cleanup takes it exclusive
 * without waiting, so it only ever removes what nobody is writing. */
static int lock_tmp(ImageStore *s, int how) {
    /* held already: the same lock (a second open file would wait for our own) */
    if (s->held_lock >= 0) {
        int fd = fcntl(s->held_lock, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? -errno : fd;
    }
    int fd = openat(s->dirfd, "tmp.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, how) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* Calls f(name, userdata) for each entry of dir_fd but "." and "..", read through a descriptor
 * of its own (so from the start, whatever read dir_fd before); stops at the first negative
 * return of f, and returns it. */
static int foreach_entry(int dir_fd, int (*f)(const char *name, void *userdata), void *userdata) {
    _cleanup_closedir_ DIR *d = NULL;
    int r = opendir_fd(dir_fd, &d);
    if (r < 0)
        return r;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
            (r = f(de->d_name, userdata)) < 0)
            return r;
    return 0;
}

/* The walks below go on past an entry they could not remove and report the first error. */
typedef struct Sweep {
    ImageStore *s;
    int error;
    char *const *keep;
    size_t n_keep;
    void (*removed)(const char *diff_id, uint64_t size, void *userdata);
    void *userdata;
} Sweep;

static int clean_one(const char *name, void *userdata) {
    Sweep *w = userdata;
    _cleanup_free_ char *p = NULL;
    if (asprintf(&p, "%s/tmp/%s", w->s->path, name) < 0)
        return -ENOMEM;
    int k = rm_rf(p);
    if (k < 0 && w->error == 0)
        w->error = k;
    return 0;
}

static int clean_tmp(ImageStore *s) {
    _cleanup_close_ int lock = lock_tmp(s, LOCK_EX | LOCK_NB);
    if (lock == -EWOULDBLOCK)
        return 0; /* an import runs: its leftovers are its own to remove */
    if (lock < 0)
        return lock;
    Sweep w = {.s = s};
    int r = foreach_entry(s->tmp_fd, clean_one, &w);
    return r < 0 ? r : w.error;
}

int image_store_open(const char *path, ImageStore **ret) {
    _cleanup_(image_store_closep) ImageStore *s = calloc(1, sizeof *s);
    int r;
    if (!s)
        return -ENOMEM;
    s->dirfd = s->layers_fd = s->images_fd = s->locks_fd = s->tmp_fd = s->held_lock = -1;
    if (!(s->path = strdup(path)))
        return -ENOMEM;
    if ((r = mkdir_p(path, 0700)) < 0)
        return r;
    s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0)
        return -errno;
    if ((s->layers_fd = open_subdir(s->dirfd, "layers")) < 0)
        return s->layers_fd;
    if ((s->images_fd = open_subdir(s->dirfd, "images")) < 0)
        return s->images_fd;
    if ((s->locks_fd = open_subdir(s->dirfd, "locks")) < 0)
        return s->locks_fd;
    if ((s->tmp_fd = open_subdir(s->dirfd, "tmp")) < 0)
        return s->tmp_fd;
    if ((r = clean_tmp(s)) < 0)
        return r;
    *ret = TAKE_PTR(s);
    return 0;
}

static const char *digest_hex(const char *digest) {
    return digest + strlen("sha256:");
}

bool image_store_has_layer(ImageStore *s, const char *diff_id) {
    if (!digest_is_valid(diff_id))
        return false;
    struct stat st;
    return fstatat(s->layers_fd, digest_hex(diff_id), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISDIR(st.st_mode);
}

char *image_store_layer_path(ImageStore *s, const char *diff_id) {
    char *p;
    if (!digest_is_valid(diff_id) ||
        asprintf(&p, "%s/layers/%s/diff", s->path, digest_hex(diff_id)) < 0)
        return NULL;
    return p;
}

static int lock_layer(ImageStore *s, const char *diff_id) {
    int fd = openat(s->locks_fd, digest_hex(diff_id), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                    0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* A fresh name in tmp/: PREFIX-<16 hex digits>. */
static int tmp_name(const char *prefix, char buf[static 64]) {
    uint64_t x;
    if (getrandom(&x, sizeof x, 0) != sizeof x)
        return -errno;
    snprintf(buf, 64, "%s-%016llx", prefix, (unsigned long long) x);
    return 0;
}

static int remove_tmp(ImageStore *s, const char *name) {
    _cleanup_free_ char *p = NULL;
    if (asprintf(&p, "%s/tmp/%s", s->path, name) < 0)
        return -ENOMEM;
    return rm_rf(p);
}

static void close_all(int *fds, size_t n) {
    for (size_t i = 0; i < n; i++)
        safe_close(fds[i]);
    free(fds);
}

int image_store_add_layer(ImageStore *s, int blob_fd, const char *expect_blob,
                          const char *expect_diff_id, char *const *lower_diff_ids,
                          size_t n_lowers, const LayerUnpackOptions *o,
                          LayerUnpackResult *ret, bool *ret_present, char **ret_why) {
    _cleanup_close_ int tmp_lock = -1, layer_lock = -1, work_fd = -1, diff_fd = -1, size_fd = -1;
    char name[64];
    int r;

    *ret = (LayerUnpackResult){};
    *ret_present = false;
    if ((expect_blob && !digest_is_valid(expect_blob)) ||
        (expect_diff_id && !digest_is_valid(expect_diff_id)))
        return -EINVAL;
    if ((tmp_lock = lock_tmp(s, LOCK_SH)) < 0)
        return tmp_lock;
    if (expect_diff_id) {
        if ((layer_lock = lock_layer(s, expect_diff_id)) < 0)
            return layer_lock;
        if (image_store_has_layer(s, expect_diff_id)) {
            snprintf(ret->diff_id, sizeof ret->diff_id, "%s", expect_diff_id);
            *ret_present = true;
            return 0;
        }
    }

    if ((r = tmp_name("layer", name)) < 0)
        return r;
    if (mkdirat(s->tmp_fd, name, 0700) < 0)
        return -errno;
    work_fd = openat(s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (work_fd < 0 || mkdirat(work_fd, "diff", 0755) < 0 ||
        (diff_fd = openat(work_fd, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
            0) {
        r = -errno;
        goto fail;
    }
    int *lowers = calloc(n_lowers ?: 1, sizeof *lowers);
    if (!lowers) {
        r = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n_lowers; i++)
        lowers[i] = -1;
    for (size_t i = 0; i < n_lowers; i++) {
        _cleanup_free_ char *p = image_store_layer_path(s, lower_diff_ids[i]);
        if (!p || (lowers[i] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
            r = p ? -errno : -EINVAL;
            close_all(lowers, n_lowers);
            goto fail;
        }
    }
    LayerUnpackOptions on_lowers = *o;
    on_lowers.lower_fds = lowers;
    on_lowers.n_lowers = n_lowers;
    r = layer_unpack(blob_fd, diff_fd, &on_lowers, ret, ret_why);
    close_all(lowers, n_lowers);
    if (r < 0)
        goto fail;
    if (expect_blob && !streq(expect_blob, ret->blob_digest)) {
        if (ret_why && asprintf(ret_why, "blob %s: its content has digest %s", expect_blob,
                                ret->blob_digest) < 0)
            *ret_why = NULL;
        r = -EBADMSG;
        goto fail;
    }
    if (expect_diff_id && !streq(expect_diff_id, ret->diff_id)) {
        if (ret_why && asprintf(ret_why, "layer %s: its uncompressed content has digest %s",
                                expect_diff_id, ret->diff_id) < 0)
            *ret_why = NULL;
        r = -EBADMSG;
        goto fail;
    }
    if (!expect_diff_id) {
        if ((layer_lock = lock_layer(s, ret->diff_id)) < 0) {
            r = layer_lock;
            goto fail;
        }
        if (image_store_has_layer(s, ret->diff_id)) {
            *ret_present = true;
            (void) remove_tmp(s, name);
            return 0;
        }
    }
    char size[32];
    int n = snprintf(size, sizeof size, "%llu\n", (unsigned long long) ret->tar_size);
    size_fd = openat(work_fd, "size", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (size_fd < 0 || (r = write_all(size_fd, size, (size_t) n)) < 0) {
        r = size_fd < 0 ? -errno : r;
        goto fail;
    }
    /* Everything the layer wrote reaches the disk before its name does. */
    if (syncfs(work_fd) < 0 || renameat(s->tmp_fd, name, s->layers_fd,
                                        digest_hex(ret->diff_id)) < 0 ||
        fsync(s->layers_fd) < 0) {
        r = -errno;
        goto fail;
    }
    return 0;
fail:
    (void) remove_tmp(s, name);
    layer_unpack_result_done(ret);
    return r;
}

int image_store_tmp_dir(ImageStore *s, const char *prefix, char **ret_path, int *ret_fd,
                        int *ret_lock) {
    _cleanup_close_ int lock = lock_tmp(s, LOCK_SH);
    char name[64];
    int r;
    if (lock < 0)
        return lock;
    if ((r = tmp_name(prefix, name)) < 0)
        return r;
    if (mkdirat(s->tmp_fd, name, 0700) < 0)
        return -errno;
    int fd = openat(s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || asprintf(ret_path, "%s/tmp/%s", s->path, name) < 0) {
        r = fd < 0 ? -errno : -ENOMEM;
        safe_close(fd);
        (void) unlinkat(s->tmp_fd, name, AT_REMOVEDIR);
        return r;
    }
    *ret_fd = fd;
    *ret_lock = TAKE_FD(lock);
    return 0;
}

int image_store_write_record(ImageStore *s, const char *name, const char *tag, const char *data,
                             size_t size) {
    _cleanup_free_ char *file = image_record_file_name(name, tag);
    _cleanup_close_ int tmp_lock = -1, fd = -1;
    char tmp[64];
    int r;
    if (!file)
        return -EINVAL;
    if ((tmp_lock = lock_tmp(s, LOCK_SH)) < 0)
        return tmp_lock;
    if ((r = tmp_name("record", tmp)) < 0)
        return r;
    fd = openat(s->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    r = write_all(fd, data, size);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    /* the record's name appears only once its content is on disk */
    if (r == 0 && renameat(s->tmp_fd, tmp, s->images_fd, file) < 0)
        r = -errno;
    if (r < 0) {
        (void) unlinkat(s->tmp_fd, tmp, 0);
        return r;
    }
    return fsync(s->images_fd) < 0 ? -errno : 0;
}

int image_store_read_record(ImageStore *s, const char *name, const char *tag, char **ret) {
    _cleanup_free_ char *file = image_record_file_name(name, tag);
    if (!file)
        return -EINVAL;
    _cleanup_close_ int fd = openat(s->images_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    int r = fd_verify_regular(fd);
    if (r < 0)
        return r;
    return read_fd(fd, RECORD_MAX, ret, NULL);
}

int image_store_remove_record(ImageStore *s, const char *name, const char *tag) {
    _cleanup_free_ char *file = image_record_file_name(name, tag);
    if (!file)
        return -EINVAL;
    if (unlinkat(s->images_fd, file, 0) < 0)
        return -errno;
    return fsync(s->images_fd) < 0 ? -errno : 0;
}

typedef struct RecordWalk {
    ImageStore *s;
    int (*f)(const char *text, const struct stat *st, void *userdata);
    void *userdata;
} RecordWalk;

static int record_one(const char *name, void *userdata) {
    RecordWalk *w = userdata;
    if (name[0] == '.')
        return 0;
    _cleanup_close_ int rfd =
        openat(w->s->images_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    _cleanup_free_ char *text = NULL;
    struct stat st;
    if (rfd < 0 || fd_verify_regular(rfd) < 0 || fstat(rfd, &st) < 0 ||
        read_fd(rfd, RECORD_MAX, &text, NULL) < 0)
        return 0; /* gone meanwhile, or not a record */
    return w->f(text, &st, w->userdata);
}

int image_store_foreach_record(ImageStore *s,
                               int (*f)(const char *text, const struct stat *st, void *userdata),
                               void *userdata) {
    RecordWalk w = {s, f, userdata};
    return foreach_entry(s->images_fd, record_one, &w);
}

static uint64_t layer_size_at(int layers_fd, const char *hex) {
    char path[128], buf[32] = {0};
    snprintf(path, sizeof path, "%.64s/size", hex);
    _cleanup_close_ int fd = openat(layers_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

static int prune_one(const char *name, void *userdata) {
    Sweep *w = userdata;
    ImageStore *s = w->s;
    char id[DIGEST_STRING_MAX], tmp[96];
    if (name[0] == '.' || strlen(name) != 64)
        return 0; /* not ours: left alone */
    snprintf(id, sizeof id, "sha256:%.64s", name);
    bool kept = !digest_is_valid(id);
    for (size_t i = 0; !kept && i < w->n_keep; i++)
        kept = streq(w->keep[i], id);
    if (kept)
        return 0;
    uint64_t size = layer_size_at(s->layers_fd, name);
    snprintf(tmp, sizeof tmp, "gc-%.64s", name);
    if (renameat(s->layers_fd, name, s->tmp_fd, tmp) < 0) {
        if (w->error == 0)
            w->error = -errno;
        return 0;
    }
    int k = remove_tmp(s, tmp);
    if (k < 0 && w->error == 0)
        w->error = k;
    (void) unlinkat(s->locks_fd, name, 0);
    if (w->removed)
        w->removed(id, size, w->userdata);
    return 0;
}

int image_store_hold(ImageStore *s, bool exclusive) {
    if (s->held_lock >= 0)
        return exclusive == s->held_exclusive ? 0 : -EBUSY;
    int fd = lock_tmp(s, exclusive ? LOCK_EX | LOCK_NB : LOCK_SH);
    if (fd == -EWOULDBLOCK)
        return -EBUSY;
    if (fd < 0)
        return fd;
    s->held_lock = fd;
    s->held_exclusive = exclusive;
    return 0;
}

int image_store_prune(ImageStore *s, char *const *keep, size_t n_keep,
                      void (*removed)(const char *diff_id, uint64_t size, void *userdata),
                      void *userdata) {
    if (s->held_lock >= 0 && !s->held_exclusive)
        return -EBUSY;
    _cleanup_close_ int lock = lock_tmp(s, LOCK_EX | LOCK_NB);
    if (lock == -EWOULDBLOCK)
        return -EBUSY;
    if (lock < 0)
        return lock;
    Sweep w = {.s = s, .keep = keep, .n_keep = n_keep, .removed = removed, .userdata = userdata};
    int r = foreach_entry(s->layers_fd, prune_one, &w);
    (void) fsync(s->layers_fd);
    return r < 0 ? r : w.error;
}
