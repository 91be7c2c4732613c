/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "escape-util.h"
#include "layer.h"
#include "macro.h"
#include "path-util.h"
#include "strv.h"
#include "why.h"

#define BUF_SIZE (128 * 1024)
#define WALK_DEPTH_MAX 1024U
#define OVERFLOW_ID 65534U
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static void archive_entry_freep(struct archive_entry **e) {
    if (*e)
        archive_entry_free(*e);
}

/* ---- the walk ---- */

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names in dir_fd, sorted (*ret: a strv). */
static int read_names(int dir_fd, char ***ret) {
    _cleanup_closedir_ DIR *d = NULL;
    int r = opendir_fd(dir_fd, &d);
    if (r < 0)
        return r;
    _cleanup_strv_free_ char **names = NULL;
    size_t n = 0, alloc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        if (n + 2 > alloc) {
            size_t a = alloc ? alloc * 2 : 16;
            char **l = realloc(names, a * sizeof *l);
            if (!l)
                return -ENOMEM;
            names = l;
            alloc = a;
        }
        if (!(names[n] = strdup(de->d_name)))
            return -ENOMEM;
        names[++n] = NULL;
        errno = 0;
    }
    if (errno)
        return -errno;
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    *ret = names ? TAKE_PTR(names) : calloc(1, sizeof(char *));
    return *ret ? 0 : -ENOMEM;
}

static int walk(int dir_fd, const char *prefix, unsigned depth, LayerVisit visit, void *ud) {
    _cleanup_strv_free_ char **names = NULL;
    int r;
    if (depth > WALK_DEPTH_MAX)
        return -ELOOP;
    if ((r = read_names(dir_fd, &names)) < 0)
        return r;
    STRV_FOREACH(name, names) {
        _cleanup_free_ char *path = NULL;
        struct stat st;
        if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", *name) < 0)
            return -ENOMEM;
        if (fstatat(dir_fd, *name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) /* gone meanwhile (a tree nobody froze) */
                continue;
            return -errno;
        }
        r = visit(path, dir_fd, *name, &st, ud);
        if (r < 0)
            return r;
        if (r > 0 || !S_ISDIR(st.st_mode))
            continue;
        _cleanup_close_ int sub =
            openat(dir_fd, *name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return -errno;
        if ((r = walk(sub, path, depth + 1, visit, ud)) < 0)
            return r;
    }
    return 0;
}

int layer_walk(int dir_fd, LayerVisit visit, void *userdata) {
    return walk(dir_fd, "", 0, visit, userdata);
}

bool layer_dir_is_opaque(int dir_fd) {
    char v[2];
    ssize_t n = fgetxattr(dir_fd, "trusted.overlay.opaque", v, sizeof v);
    return n == 1 && v[0] == 'y';
}

static bool excluded(char *const *exclude, const char *path) {
    STRV_FOREACH(e, exclude)
        if (streq(*e, path))
            return true;
    return false;
}

/* ---- the sink ---- */

struct LayerSink {
    int fd;
    uint64_t max_bytes; /* of the tar; 0: none */
    bool gzip, z_ready;
    z_stream z;
    Sha256 *tar_hash, *blob_hash;
    uint64_t tar_size, blob_size;
    uint8_t out[BUF_SIZE];
};

static int sink_out(LayerSink *k, const void *buf, size_t n) {
    sha256_update(k->blob_hash, buf, n);
    k->blob_size += n;
    return write_all(k->fd, buf, n);
}

int layer_sink_new(int fd, bool gzip, LayerSink **ret) {
    LayerSink *k = calloc(1, sizeof *k);
    int r;
    if (!k)
        return -ENOMEM;
    k->fd = fd;
    k->gzip = gzip;
    if ((r = sha256_new(&k->tar_hash)) < 0 || (r = sha256_new(&k->blob_hash)) < 0) {
        layer_sink_free(k);
        return r;
    }
    /* windowBits 15 + 16: a gzip wrapper (no name, mtime 0: the same bytes each time) */
    if (gzip) {
        if (deflateInit2(&k->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            layer_sink_free(k);
            return -ENOMEM;
        }
        k->z_ready = true;
    }
    *ret = k;
    return 0;
}

static int sink_deflate(LayerSink *k, const void *buf, size_t n, int flush) {
    k->z.next_in = (Bytef *) buf;
    k->z.avail_in = (uInt) n;
    for (;;) {
        k->z.next_out = k->out;
        k->z.avail_out = sizeof k->out;
        int z = deflate(&k->z, flush);
        if (z == Z_STREAM_ERROR)
            return -EIO;
        size_t have = sizeof k->out - k->z.avail_out;
        int r = have ? sink_out(k, k->out, have) : 0;
        if (r < 0)
            return r;
        if (flush == Z_FINISH ? z == Z_STREAM_END : k->z.avail_out != 0)
            return 0;
    }
}

static int sink_write(LayerSink *k, const void *buf, size_t n) {
    if (k->max_bytes && k->tar_size + n > k->max_bytes)
        return -EFBIG;
    sha256_update(k->tar_hash, buf, n);
    k->tar_size += n;
    if (!k->gzip)
        return sink_out(k, buf, n);
    /* zlib counts in uInt: feed big writes in slices */
    const uint8_t *p = buf;
    while (n > 0) {
        size_t slice = MIN(n, (size_t) 1 << 30);
        int r = sink_deflate(k, p, slice, Z_NO_FLUSH);
        if (r < 0)
            return r;
        p += slice;
        n -= slice;
    }
    return 0;
}

int layer_sink_finish(LayerSink *k, char diff_id[static DIGEST_STRING_MAX],
                      char blob_digest[static DIGEST_STRING_MAX], uint64_t *ret_tar_size,
                      uint64_t *ret_blob_size) {
    int r;
    if (k->gzip && (r = sink_deflate(k, NULL, 0, Z_FINISH)) < 0)
        return r;
    sha256_final(k->tar_hash, diff_id);
    sha256_final(k->blob_hash, blob_digest);
    if (ret_tar_size)
        *ret_tar_size = k->tar_size;
    if (ret_blob_size)
        *ret_blob_size = k->blob_size;
    return 0;
}

LayerSink *layer_sink_free(LayerSink *k) {
    if (!k)
        return NULL;
    if (k->z_ready)
        deflateEnd(&k->z);
    sha256_free(k->tar_hash);
    sha256_free(k->blob_hash);
    free(k);
    return NULL;
}

/* ---- the tar ---- */

typedef struct HardLink {
    dev_t dev;
    ino_t ino;
    char *path;
} HardLink;

typedef struct Pack {
    const LayerPackOptions *o;
    LayerSink *sink;
    struct archive *a;
    int sink_error;
    LayerPackResult *res;
    HardLink *links;
    size_t n_links, n_links_alloc;
    char *why;
    uint8_t buf[BUF_SIZE];
} Pack;

static ssize_t on_archive_write(struct archive *a, void *userdata, const void *buf, size_t n) {
    Pack *p = userdata;
    int r = sink_write(p->sink, buf, n);
    if (r < 0) {
        p->sink_error = r;
        archive_set_error(a, -r, "writing the layer: %s", strerror(-r));
        return -1;
    }
    return (ssize_t) n;
}

static int pack_fail(Pack *p, int error, const char *path, const char *what) {
    _cleanup_free_ char *shown = escape_terminal(path, strlen(path), 0);
    return image_why(&p->why, error, "'%s': %s: %s", shown ?: "?", what,
                     error == -EIO && p->a && archive_error_string(p->a)
                         ? archive_error_string(p->a)
                         : strerror(-error));
}

static int64_t shift_id(const Pack *p, int64_t id) {
    if (p->o->id_size == 0)
        return id;
    if (id >= (int64_t) p->o->id_base && id < (int64_t) p->o->id_base + p->o->id_size)
        return id - p->o->id_base;
    return OVERFLOW_ID;
}

static int add_xattrs(struct archive_entry *e, int fd) {
    char names[64 * 1024];
    ssize_t n = flistxattr(fd, names, sizeof names);
    if (n < 0)
        return errno == ENOTSUP ? 0 : -errno;
    for (const char *name = names; name < names + n; name += strlen(name) + 1) {
        if (layer_xattr_dropped(name))
            continue;
        uint8_t value[64 * 1024];
        ssize_t v = fgetxattr(fd, name, value, sizeof value);
        if (v < 0) {
            if (errno == ENODATA)
                continue;
            return -errno;
        }
        archive_entry_xattr_add_entry(e, name, value, (size_t) v);
    }
    return 0;
}

static struct archive_entry *new_entry(Pack *p, const char *path, const struct stat *st) {
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return NULL;
    archive_entry_copy_pathname(e, path);
    archive_entry_set_uid(e, shift_id(p, st->st_uid));
    archive_entry_set_gid(e, shift_id(p, st->st_gid));
    archive_entry_set_perm(e, st->st_mode & 07777);
    archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    return e;
}

static int put_header(Pack *p, struct archive_entry *e, const char *path) {
    int a = archive_write_header(p->a, e);
    if (a < ARCHIVE_WARN)
        return pack_fail(p, p->sink_error ?: -EIO, path, "writing its header");
    p->res->n_entries++;
    return 0;
}

/* An empty regular file entry: a whiteout or an opaque marker. */
static int put_marker(Pack *p, const char *path, const struct stat *st) {
    struct archive_entry *e = new_entry(p, path, st);
    if (!e)
        return -ENOMEM;
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 0);
    int r = put_header(p, e, path);
    archive_entry_free(e);
    return r;
}

static int put_file_data(Pack *p, int fd, const char *path, uint64_t size) {
    uint64_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, p->buf, MIN(sizeof p->buf, size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return pack_fail(p, -errno, path, "reading it");
        if (n == 0)
            return pack_fail(p, -EBUSY, path, "it shrank while it was read");
        if (archive_write_data(p->a, p->buf, (size_t) n) != n)
            return pack_fail(p, p->sink_error ?: -EIO, path, "writing its data");
        done += (uint64_t) n;
    }
    return 0;
}

static int pack_visit(const char *path, int parent_fd, const char *name, const struct stat *st,
                      void *userdata) {
    Pack *p = userdata;
    _cleanup_close_ int fd = -EBADF;
    int r;

    if (excluded(p->o->exclude, path))
        return 1;
    if (p->o->refuse_wh_names && strncmp(name, ".wh.", 4) == 0) {
        _cleanup_free_ char *shown = escape_terminal(path, strlen(path), 0);
        return image_why(&p->why, -EINVAL,
                         "'%s': a name OCI keeps for whiteouts (it would delete what the layers "
                         "below have there); rename or remove it first", shown ?: "?");
    }
    if (S_ISREG(st->st_mode) && p->o->max_bytes &&
        p->sink->tar_size + (uint64_t) st->st_size > p->o->max_bytes) {
        _cleanup_free_ char *shown = escape_terminal(path, strlen(path), 0);
        return image_why(&p->why, -EFBIG, "'%s': %llu bytes would take the layer past the "
                         "limit of %llu bytes", shown ?: "?", (unsigned long long) st->st_size,
                         (unsigned long long) p->o->max_bytes);
    }
    if (layer_is_whiteout(st)) {
        _cleanup_free_ char *wh = NULL;
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int) (slash - path + 1) : 0;
        if (asprintf(&wh, "%.*s.wh.%s", dir_len, path, name) < 0)
            return -ENOMEM;
        return put_marker(p, wh, st) ?: 1;
    }
    if (S_ISSOCK(st->st_mode))
        return 0; /* a tar cannot hold one; nor does an image need one */
    if ((S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) && p->o->skip_devices) {
        p->res->n_devices_skipped++;
        return 0;
    }

    _cleanup_(archive_entry_freep) struct archive_entry *e = new_entry(p, path, st);
    if (!e)
        return -ENOMEM;
    if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
        for (size_t i = 0; i < p->n_links; i++)
            if (p->links[i].dev == st->st_dev && p->links[i].ino == st->st_ino) {
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_copy_hardlink(e, p->links[i].path);
                archive_entry_set_size(e, 0);
                return put_header(p, e, path);
            }
        if (p->n_links == p->n_links_alloc) {
            size_t a = p->n_links_alloc ? p->n_links_alloc * 2 : 16;
            HardLink *l = realloc(p->links, a * sizeof *l);
            if (!l)
                return -ENOMEM;
            p->links = l;
            p->n_links_alloc = a;
        }
        if (!(p->links[p->n_links].path = strdup(path)))
            return -ENOMEM;
        p->links[p->n_links].dev = st->st_dev;
        p->links[p->n_links++].ino = st->st_ino;
    }

    if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) {
        fd = openat(parent_fd, name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                        (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0));
        struct stat now;
        if (fd < 0 || fstat(fd, &now) < 0)
            return pack_fail(p, -errno, path, "opening it");
        if (now.st_ino != st->st_ino || ((now.st_mode ^ st->st_mode) & S_IFMT))
            return pack_fail(p, -EBUSY, path, "it changed while it was read");
        if ((r = add_xattrs(e, fd)) < 0)
            return pack_fail(p, r, path, "reading its xattrs");
    }
    switch (st->st_mode & S_IFMT) {
    case S_IFREG:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, st->st_size);
        if ((r = put_header(p, e, path)) < 0)
            return r;
        return put_file_data(p, fd, path, (uint64_t) st->st_size);
    case S_IFDIR:
        archive_entry_set_filetype(e, AE_IFDIR);
        if ((r = put_header(p, e, path)) < 0)
            return r;
        if (layer_dir_is_opaque(fd)) {
            _cleanup_free_ char *opq = NULL;
            if (asprintf(&opq, "%s/.wh..wh..opq", path) < 0)
                return -ENOMEM;
            return put_marker(p, opq, st);
        }
        return 0;
    case S_IFLNK: {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(parent_fd, name, target, sizeof target);
        if (n < 0 || n > PATH_MAX)
            return pack_fail(p, n < 0 ? -errno : -ENAMETOOLONG, path, "reading the link");
        target[n] = 0;
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_copy_symlink(e, target);
        return put_header(p, e, path);
    }
    case S_IFIFO:
        archive_entry_set_filetype(e, AE_IFIFO);
        return put_header(p, e, path);
    default: /* devices */
        archive_entry_set_filetype(e, S_ISCHR(st->st_mode) ? AE_IFCHR : AE_IFBLK);
        archive_entry_set_rdev(e, st->st_rdev);
        return put_header(p, e, path);
    }
}

int layer_pack(int dir_fd, const LayerPackOptions *o, LayerSink *k, LayerPackResult *ret,
               char **ret_why) {
    Pack p = {.o = o, .sink = k, .res = ret};
    int r;
    k->max_bytes = o->max_bytes;
    *ret = (LayerPackResult) {};
    if (!(p.a = archive_write_new()))
        return -ENOMEM;
    /* pax for long names, big ids and xattrs (a name that is not UTF-8 goes as its bytes,
     * hdrcharset=BINARY, with a warning we accept); no padding beyond the last blocks */
    if (archive_write_set_format_pax_restricted(p.a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(p.a, 1) != ARCHIVE_OK ||
        archive_write_open(p.a, &p, NULL, on_archive_write, NULL) != ARCHIVE_OK)
        r = image_why(ret_why, -EIO, "preparing the tar writer: %s",
                      archive_error_string(p.a) ?: "unknown error");
    else {
        r = layer_walk(dir_fd, pack_visit, &p);
        if (r >= 0 && archive_write_close(p.a) != ARCHIVE_OK)
            r = image_why(&p.why, p.sink_error ?: -EIO, "finishing the tar: %s",
                          archive_error_string(p.a) ?: "unknown error");
        if (r < 0 && !p.why)
            r = image_why(&p.why, r, "walking the tree: %s", strerror(-r));
        if (r < 0 && ret_why && !*ret_why)
            *ret_why = TAKE_PTR(p.why);
    }
    archive_write_free(p.a);
    for (size_t i = 0; i < p.n_links; i++)
        free(p.links[i].path);
    free(p.links);
    free(p.why);
    return r < 0 ? r : 0;
}

/* ---- changes ---- */

/* Opens prefix of a layer without following any symlink (RESOLVE_NO_SYMLINKS): the store's
 * layers hold the image's absolute symlinks, which point at the host from here. */
static int open_in_layer(int layer_fd, const char *path, int flags) {
    struct open_how how = {
        .flags = (uint64_t) (flags | O_NOFOLLOW | O_CLOEXEC),
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_XDEV,
    };
    int fd = (int) syscall(SYS_openat2, layer_fd, path, &how, sizeof how);
    return fd < 0 ? -errno : fd;
}

/* Whether path (relative) exists in the view the layers give (lowers: topmost first), with
 * overlayfs' rules: a whiteout hides what is below, an opaque directory hides what is below
 * it, a non-directory ends the lookup. */
static int lowers_have(const int *lower_fds, size_t n, const char *path) {
    _cleanup_free_ char *buf = strdup(path);
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool opaque_above = false;
        for (char *end = buf;; end++) {
            end = strchrnul(end, '/');
            char saved = *end;
            *end = 0;
            _cleanup_close_ int fd = open_in_layer(lower_fds[i], buf, O_PATH);
            struct stat st;
            bool last = saved == 0;
            if (fd < 0 || fstat(fd, &st) < 0) {
                *end = saved;
                if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP || fd == -EXDEV)
                    break; /* not in this layer */
                return fd < 0 ? fd : -errno;
            }
            *end = saved;
            if (layer_is_whiteout(&st))
                return 0;
            if (last)
                return 1;
            if (!S_ISDIR(st.st_mode))
                return 0;
            *end = 0;
            _cleanup_close_ int dir = open_in_layer(lower_fds[i], buf, O_RDONLY | O_DIRECTORY);
            *end = saved;
            if (dir >= 0 && layer_dir_is_opaque(dir))
                opaque_above = true;
        }
        if (opaque_above)
            return 0;
    }
    return 0;
}

typedef struct Changes {
    const int *lower_fds;
    size_t n_lowers;
    char *const *exclude;
    int (*change)(char kind, const char *path, void *userdata);
    void *userdata;
} Changes;

static int report(Changes *c, char kind, const char *path) {
    _cleanup_free_ char *abs = NULL;
    if (asprintf(&abs, "/%s", path) < 0)
        return -ENOMEM;
    return c->change(kind, abs, c->userdata);
}

/* An opaque directory of the rw layer hides everything the lowers had in it. */
static int report_hidden(Changes *c, const char *path, int upper_dir) {
    _cleanup_strv_free_ char **seen = NULL;
    int r;
    for (size_t i = 0; i < c->n_lowers; i++) {
        _cleanup_close_ int dir = open_in_layer(c->lower_fds[i], path, O_RDONLY | O_DIRECTORY);
        _cleanup_strv_free_ char **names = NULL;
        if (dir < 0 || read_names(dir, &names) < 0)
            continue;
        STRV_FOREACH(name, names) {
            _cleanup_free_ char *sub = NULL;
            struct stat st;
            if (strv_contains(seen, *name) ||
                fstatat(upper_dir, *name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                continue;
            if ((r = strv_extend(&seen, *name)) < 0)
                return r;
            if (asprintf(&sub, "%s/%s", path, *name) < 0)
                return -ENOMEM;
            if ((r = lowers_have(c->lower_fds, c->n_lowers, sub)) < 0)
                return r;
            if (r > 0 && (r = report(c, 'D', sub)) < 0)
                return r;
        }
    }
    return 0;
}

static int changes_visit(const char *path, int parent_fd, const char *name,
                         const struct stat *st, void *userdata) {
    Changes *c = userdata;
    int r;
    if (excluded(c->exclude, path))
        return 1;
    int existed = lowers_have(c->lower_fds, c->n_lowers, path);
    if (existed < 0)
        return existed;
    if (layer_is_whiteout(st))
        return (existed && (r = report(c, 'D', path)) < 0) ? r : 1;
    if ((r = report(c, existed ? 'C' : 'A', path)) < 0)
        return r;
    if (S_ISDIR(st->st_mode) && existed) {
        _cleanup_close_ int dir =
            openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
            return -errno;
        if (layer_dir_is_opaque(dir) && (r = report_hidden(c, path, dir)) < 0)
            return r;
    }
    return 0;
}

int layer_changes(int upper_fd, const int *lower_fds, size_t n_lowers, char *const *exclude,
                  int (*change)(char kind, const char *path, void *userdata), void *userdata) {
    Changes c = {lower_fds, n_lowers, exclude, change, userdata};
    return layer_walk(upper_fd, changes_visit, &c);
}
