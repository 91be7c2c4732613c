/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "escape-util.h"
#include "macro.h"

#define BUF_SIZE (128 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"

typedef struct DirTimes {
    char *path;
    struct timespec ts[2];
} DirTimes;

typedef struct Unpack {
    const LayerUnpackOptions *o;
    int src_fd, rootfd;
    struct archive *raw, *tar; /* raw: the decompressed stream; tar: its entries */
    Sha256 *blob_hash, *tar_hash;
    LayerUnpackResult *res;
    char *why; /* the first failure, for *ret_why */
    int error;
    DirTimes *dirs;
    size_t n_dirs, n_dirs_alloc;
    uint8_t src_buf[BUF_SIZE], tar_buf[BUF_SIZE];
} Unpack;

static int fail(Unpack *u, int error, const char *path, const char *fmt, ...) _printf_(4, 5);
static int fail(Unpack *u, int error, const char *path, const char *fmt, ...) {
    if (!u->why) {
        _cleanup_free_ char *msg = NULL, *shown = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
        if (path)
            shown = escape_terminal(path, strlen(path), 0);
        if (asprintf(&u->why, "%s%s%s%s", path ? "entry '" : "", path ? (shown ?: "?") : "",
                     path ? "': " : "", msg ?: "out of memory") < 0)
            u->why = NULL;
        u->error = error;
    }
    return error;
}

/* libarchive's callbacks: the source fd, hashed as read (the blob digest) ... */
static la_ssize_t read_src(struct archive *a, void *userdata, const void **buf) {
    Unpack *u = userdata;
    ssize_t n;
    do
        n = read(u->src_fd, u->src_buf, sizeof u->src_buf);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        archive_set_error(a, errno, "reading the layer: %s", strerror(errno));
        return -1;
    }
    sha256_update(u->blob_hash, u->src_buf, (size_t) n);
    u->res->blob_size += (uint64_t) n;
    if (u->o->progress)
        u->o->progress(u->res->blob_size, u->o->progress_userdata);
    *buf = u->src_buf;
    return n;
}

/* ... and the decompressed stream, hashed as the tar reader takes it (the diff_id) and bounded:
 * a gzip bomb stops at max_bytes, however well it compresses. */
static la_ssize_t read_tar(struct archive *a, void *userdata, const void **buf) {
    Unpack *u = userdata;
    la_ssize_t n = archive_read_data(u->raw, u->tar_buf, sizeof u->tar_buf);
    if (n < 0) {
        archive_set_error(a, EIO, "decompressing the layer: %s", archive_error_string(u->raw));
        return -1;
    }
    sha256_update(u->tar_hash, u->tar_buf, (size_t) n);
    u->res->tar_size += (uint64_t) n;
    if (u->o->max_bytes && u->res->tar_size > u->o->max_bytes) {
        /* libarchive's own printf knows no %llu: the text is made here */
        char msg[96];
        snprintf(msg, sizeof msg, "the uncompressed layer is larger than the limit of %llu bytes",
                 (unsigned long long) u->o->max_bytes);
        archive_set_error(a, EFBIG, "%s", msg);
        return -1;
    }
    *buf = u->tar_buf;
    return n;
}

static int openat2_in_root(int rootfd, const char *path, uint64_t flags) {
    struct open_how how = {
        .flags = flags | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    int fd;
    do
        fd = (int) syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof how);
    while (fd < 0 && errno == EAGAIN); /* a rename elsewhere on the system raced the walk */
    return fd < 0 ? -errno : fd;
}

/* The entry's path relative to the layer's root: "./", "/" and "" components dropped. NULL
 * (refused) when a component is "..": no real layer has one. "" is the root itself. */
static char *clean_path(const char *in) {
    size_t n = strlen(in);
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t len = (size_t) (end - p);
        if (len == 0 || (len == 1 && p[0] == '.')) {
            p = end;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            free(out);
            errno = EPERM;
            return NULL;
        }
        if (o != out)
            *o++ = '/';
        memcpy(o, p, len);
        o += len;
        p = end;
    }
    *o = 0;
    return out;
}

static int remember_dir_times_ts(Unpack *u, const char *path, const struct timespec ts[2]);

/* A directory made for an entry whose directory the layer does not list: like the topmost
 * lower layer's directory of that path (a whiteout there, or no directory, ends the search:
 * then 0755, root's, now). */
static int like_lower_dir(Unpack *u, int parent, const char *name, const char *path) {
    for (size_t i = 0; i < u->o->n_lowers; i++) {
        _cleanup_close_ int fd = openat2_in_root(u->o->lower_fds[i], path, O_PATH | O_NOFOLLOW);
        struct stat st;
        if (fd == -ENOENT)
            continue;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
            return 0;
        _cleanup_close_ int d = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                         O_CLOEXEC);
        if (d < 0)
            return -errno;
        if ((u->o->keep_owner && fchown(d, st.st_uid, st.st_gid) < 0) ||
            fchmod(d, st.st_mode & 07777) < 0)
            return -errno;
        return remember_dir_times_ts(u, path, (struct timespec[2]){st.st_atim, st.st_mtim});
    }
    return 0;
}

/* Opens the directory `dir` (clean, relative, "" = root) inside the layer, making missing
 * components as tar does for entries whose directory came later or never (like_lower_dir()).
 * Symlinks on the way resolve inside the layer's root. */
static int open_dir(Unpack *u, const char *dir) {
    int fd = openat2_in_root(u->rootfd, dir, O_PATH | O_DIRECTORY);
    if (fd != -ENOENT)
        return fd;
    _cleanup_free_ char *prefix = strdup(dir);
    if (!prefix)
        return -ENOMEM;
    for (char *slash = prefix;; slash++) {
        slash = strchrnul(slash, '/');
        char saved = *slash;
        *slash = 0;
        fd = openat2_in_root(u->rootfd, prefix, O_PATH | O_DIRECTORY);
        if (fd == -ENOENT) {
            char *base = strrchr(prefix, '/');
            _cleanup_close_ int parent = -1;
            if (base) {
                *base = 0;
                parent = openat2_in_root(u->rootfd, prefix, O_PATH | O_DIRECTORY);
                *base = '/';
                base++;
            } else {
                parent = openat2_in_root(u->rootfd, "", O_PATH | O_DIRECTORY);
                base = prefix;
            }
            if (parent < 0)
                return parent;
            if (mkdirat(parent, base, 0755) < 0) {
                if (errno != EEXIST)
                    return -errno;
            } else {
                int r = like_lower_dir(u, parent, base, prefix);
                if (r < 0)
                    return r;
            }
            fd = openat2_in_root(u->rootfd, prefix, O_PATH | O_DIRECTORY);
        }
        *slash = saved;
        if (fd < 0 || !saved)
            return fd;
        close(fd);
    }
}

/* Makes room for a new entry `name` in parent: an existing non-directory goes, an empty
 * directory too; a non-empty one stays and the entry is refused (-ENOTEMPTY). */
static int make_room(int parent, const char *name) {
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (unlinkat(parent, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
        return errno == EEXIST ? -ENOTEMPTY : -errno;
    return 0;
}

bool layer_xattr_dropped(const char *name) {
    return strncmp(name, "trusted.", 8) == 0 || strncmp(name, "user.overlay.", 13) == 0;
}

/* Owner, mode, xattrs and (for non-directories) times, through an fd of the new file. */
static int apply_meta_fd(Unpack *u, struct archive_entry *e, int fd, bool times) {
    const char *name;
    const void *value;
    size_t size;
    if (u->o->keep_owner &&
        fchown(fd, (uid_t) archive_entry_uid(e), (gid_t) archive_entry_gid(e)) < 0)
        return -errno;
    /* after the chown, which clears setuid and setgid */
    if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
        return -errno;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
        if (!layer_xattr_dropped(name) && fsetxattr(fd, name, value, size, 0) < 0)
            return -errno;
    if (times) {
        struct timespec ts[2] = {
            {archive_entry_atime_is_set(e) ? archive_entry_atime(e) : archive_entry_mtime(e),
             archive_entry_atime_is_set(e) ? archive_entry_atime_nsec(e)
                                           : archive_entry_mtime_nsec(e)},
            {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
        };
        if (futimens(fd, ts) < 0)
            return -errno;
    }
    return 0;
}

/* For what has no fd to write through (symlinks, FIFOs, devices): by name in parent, never
 * following the entry itself. */
static int apply_meta_at(Unpack *u, struct archive_entry *e, int parent, const char *name,
                         bool is_link) {
    if (u->o->keep_owner && fchownat(parent, name, (uid_t) archive_entry_uid(e),
                                     (gid_t) archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!is_link && fchmodat(parent, name, archive_entry_perm(e) & 07777, 0) < 0)
        return -errno;
    struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                             {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
    if (utimensat(parent, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    return 0;
}

static int write_data(Unpack *u, int fd, struct archive_entry *e) {
    const void *buf;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(u->tar, &buf, &size, &offset)) == ARCHIVE_OK) {
        const uint8_t *p = buf;
        while (size > 0) {
            ssize_t n = pwrite(fd, p, size, offset);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            p += n;
            size -= (size_t) n;
            offset += n;
        }
    }
    if (r != ARCHIVE_EOF)
        return -EIO;
    /* a sparse file's hole at the end */
    if (ftruncate(fd, archive_entry_size(e)) < 0)
        return -errno;
    return 0;
}

static int remember_dir_times_ts(Unpack *u, const char *path, const struct timespec ts[2]) {
    if (u->n_dirs == u->n_dirs_alloc) {
        size_t n = u->n_dirs_alloc ? u->n_dirs_alloc * 2 : 64;
        DirTimes *d = reallocarray(u->dirs, n, sizeof *d);
        if (!d)
            return -ENOMEM;
        u->dirs = d;
        u->n_dirs_alloc = n;
    }
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    u->dirs[u->n_dirs++] = (DirTimes){.path = p, .ts = {ts[0], ts[1]}};
    return 0;
}

static int remember_dir_times(Unpack *u, const char *path, struct archive_entry *e) {
    struct timespec ts = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    return remember_dir_times_ts(u, path, (struct timespec[2]){ts, ts});
}

static int unpack_whiteout(Unpack *u, const char *path, int parent, const char *base) {
    if (streq(base, OPAQUE_NAME)) {
        /* the directory itself: parent is an O_PATH fd, so go through a real one */
        _cleanup_close_ int d = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0 || fsetxattr(d, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return fail(u, -errno, path, "making the directory opaque: %s", strerror(errno));
        return 0;
    }
    if (strncmp(base, WHITEOUT_PREFIX WHITEOUT_PREFIX, 8) == 0)
        return 0; /* aufs metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to do with overlayfs */
    const char *name = base + strlen(WHITEOUT_PREFIX);
    if (!*name || streq(name, ".") || streq(name, ".."))
        return fail(u, -EPERM, path, "a whiteout must name an entry of its directory");
    /* An entry of this layer of that name stays: whiteouts only hide lower layers. */
    if (mknodat(parent, name, S_IFCHR | 0000, makedev(0, 0)) < 0 && errno != EEXIST)
        return fail(u, -errno, path, "making the whiteout: %s", strerror(errno));
    return 0;
}

static int unpack_entry(Unpack *u, struct archive_entry *e) {
    const char *raw_path = archive_entry_pathname(e);
    if (!raw_path)
        return fail(u, -EINVAL, NULL, "an entry without a name");
    _cleanup_free_ char *path = clean_path(raw_path);
    if (!path)
        return fail(u, errno == EPERM ? -EPERM : -ENOMEM, raw_path,
                    "a '..' component: the path leaves its directory");
    mode_t type = archive_entry_filetype(e);
    la_int64_t size = archive_entry_size(e);
    if (size < 0 || (u->o->max_bytes && (uint64_t) size > u->o->max_bytes))
        return fail(u, -EFBIG, path, "claims %lld bytes, more than the limit of %llu",
                    (long long) size, (unsigned long long) u->o->max_bytes);

    if (!*path) { /* the root: it stays a directory (CVE-2021-29136) */
        if (type != AE_IFDIR || archive_entry_hardlink(e))
            return fail(u, -EPERM, raw_path, "the layer's root must stay a directory");
        _cleanup_close_ int d = openat(u->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = d < 0 ? -errno : apply_meta_fd(u, e, d, false);
        if (r >= 0)
            r = remember_dir_times(u, "", e);
        return r < 0 ? fail(u, r, raw_path, "%s", strerror(-r)) : 0;
    }

    char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    _cleanup_free_ char *dir = strndup(path, slash ? (size_t) (slash - path) : 0);
    if (!dir)
        return -ENOMEM;
    _cleanup_close_ int parent = open_dir(u, dir);
    if (parent < 0)
        return fail(u, parent, path, "opening its directory: %s", strerror(-parent));

    if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
        return unpack_whiteout(u, path, parent, base);

    const char *link_target = archive_entry_hardlink(e);
    int r;
    if (link_target) {
        _cleanup_free_ char *target = clean_path(link_target);
        if (!target)
            return fail(u, -EPERM, path, "hardlink to '%s': a '..' component", link_target);
        /* O_PATH|O_NOFOLLOW: a link to a symlink links the symlink, never what it points at */
        _cleanup_close_ int t = openat2_in_root(u->rootfd, target, O_PATH | O_NOFOLLOW);
        if (t < 0)
            return fail(u, t, path, "hardlink to '%s': %s", target, strerror(-t));
        r = make_room(parent, base);
        if (r < 0)
            return fail(u, r, path, "%s", strerror(-r));
        if (linkat(t, "", parent, base, AT_EMPTY_PATH) < 0)
            return fail(u, -errno, path, "hardlink to '%s': %s", target,
                        errno == EPERM ? "not a file of this layer" : strerror(errno));
        return 0;
    }

    switch (type) {
    case AE_IFDIR: {
        if (mkdirat(parent, base, 0700) < 0) {
            struct stat st;
            if (errno != EEXIST || fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return fail(u, -errno, path, "%s", strerror(errno));
            if (!S_ISDIR(st.st_mode)) {
                if ((r = make_room(parent, base)) < 0 || mkdirat(parent, base, 0700) < 0)
                    return fail(u, r < 0 ? r : -errno, path, "%s",
                                strerror(r < 0 ? -r : errno));
            }
        }
        _cleanup_close_ int d =
            openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
            return fail(u, -errno, path, "%s", strerror(errno));
        r = apply_meta_fd(u, e, d, false);
        if (r >= 0)
            r = remember_dir_times(u, path, e);
        break;
    }
    case AE_IFREG: {
        if ((r = make_room(parent, base)) < 0)
            return fail(u, r, path, "%s", r == -ENOTEMPTY ? "would replace a non-empty directory"
                                                          : strerror(-r));
        _cleanup_close_ int f =
            openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
            return fail(u, -errno, path, "%s", strerror(errno));
        r = write_data(u, f, e);
        if (r == -EIO)
            return fail(u, -EIO, path, "%s", archive_error_string(u->tar) ?: "short data");
        if (r >= 0)
            r = apply_meta_fd(u, e, f, true);
        break;
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target)
            return fail(u, -EINVAL, path, "a symlink without a target");
        if ((r = make_room(parent, base)) < 0)
            return fail(u, r, path, "%s", strerror(-r));
        if (symlinkat(target, parent, base) < 0)
            return fail(u, -errno, path, "%s", strerror(errno));
        r = apply_meta_at(u, e, parent, base, true);
        break;
    }
    case AE_IFIFO:
    case AE_IFCHR:
    case AE_IFBLK: {
        bool whiteout = type == AE_IFCHR && archive_entry_rdev(e) == 0;
        if (type != AE_IFIFO && !whiteout && !u->o->allow_devices) {
            if (!u->res->first_device_skipped && !(u->res->first_device_skipped = strdup(path)))
                return -ENOMEM;
            u->res->n_devices_skipped++;
            return 0;
        }
        if ((r = make_room(parent, base)) < 0)
            return fail(u, r, path, "%s", strerror(-r));
        mode_t kind = type == AE_IFIFO ? S_IFIFO : type == AE_IFCHR ? S_IFCHR : S_IFBLK;
        /* A whiteout is made bare, as from a .wh. entry: overlayfs reads none of its metadata
         * and a pack writes none (.wh.NAME), so the layer packs back to the same tree. */
        if (mknodat(parent, base, kind | (whiteout ? 0000 : 0600),
                    (dev_t) archive_entry_rdev(e)) < 0)
            return fail(u, -errno, path, "%s", strerror(errno));
        r = whiteout ? 0 : apply_meta_at(u, e, parent, base, false);
        break;
    }
    default:
        return fail(u, -EINVAL, path, "an entry of unknown type 0%o", (unsigned) type);
    }
    if (r < 0)
        return fail(u, r, path, "%s", strerror(-r));
    return 0;
}

/* Directory times last: making entries inside a directory changes its mtime. */
static int apply_dir_times(Unpack *u) {
    for (size_t i = u->n_dirs; i > 0; i--) {
        DirTimes *d = &u->dirs[i - 1];
        _cleanup_close_ int fd = openat2_in_root(u->rootfd, d->path, O_RDONLY | O_DIRECTORY);
        if (fd == -ENOENT || fd == -ENOTDIR)
            continue; /* replaced by a later entry */
        if (fd < 0 || futimens(fd, d->ts) < 0)
            return fail(u, fd < 0 ? fd : -errno, d->path, "setting its times: %s",
                        strerror(fd < 0 ? -fd : errno));
    }
    return 0;
}

static void unpack_done(Unpack *u) {
    if (u->tar)
        archive_read_free(u->tar);
    if (u->raw)
        archive_read_free(u->raw);
    sha256_free(u->blob_hash);
    sha256_free(u->tar_hash);
    for (size_t i = 0; i < u->n_dirs; i++)
        free(u->dirs[i].path);
    free(u->dirs);
    free(u->why);
    free(u);
}

int layer_unpack(int src_fd, int dest_dirfd, const LayerUnpackOptions *o, LayerUnpackResult *ret,
                 char **ret_why) {
    Unpack *u = calloc(1, sizeof *u);
    struct archive_entry *e;
    int r;

    if (!u)
        return -ENOMEM;
    *ret = (LayerUnpackResult){};
    u->o = o;
    u->src_fd = src_fd;
    u->rootfd = dest_dirfd;
    u->res = ret;
    if ((r = sha256_new(&u->blob_hash)) < 0 || (r = sha256_new(&u->tar_hash)) < 0)
        goto out;

    /* Two readers: raw undoes the compression (told by content; only filters libarchive has
     * built in, never an external program), tar reads the entries from raw's output. */
    u->raw = archive_read_new();
    u->tar = archive_read_new();
    if (!u->raw || !u->tar) {
        r = -ENOMEM;
        goto out;
    }
    archive_read_support_filter_gzip(u->raw);
    archive_read_support_filter_zstd(u->raw);
    archive_read_support_filter_xz(u->raw);
    archive_read_support_filter_bzip2(u->raw);
    archive_read_support_format_raw(u->raw);
    archive_read_support_format_tar(u->tar);
    if (archive_read_open(u->raw, u, NULL, read_src, NULL) != ARCHIVE_OK ||
        archive_read_next_header(u->raw, &e) != ARCHIVE_OK) {
        r = fail(u, -EINVAL, NULL, "not a layer: %s",
                 archive_error_string(u->raw) ?: "empty or unknown compression");
        goto out;
    }
    if (archive_read_open(u->tar, u, NULL, read_tar, NULL) != ARCHIVE_OK) {
        r = fail(u, -EINVAL, NULL, "not a tar: %s", archive_error_string(u->tar) ?: "?");
        goto out;
    }
    for (;;) {
        r = archive_read_next_header(u->tar, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            int err = archive_errno(u->tar);
            r = fail(u, err == EFBIG ? -EFBIG : -EINVAL, NULL, "reading the tar: %s",
                     archive_error_string(u->tar) ?: "?");
            goto out;
        }
        if (o->max_entries && ++ret->n_entries > o->max_entries) {
            r = fail(u, -EFBIG, NULL, "more than %llu entries",
                     (unsigned long long) o->max_entries);
            goto out;
        }
        if (!o->max_entries)
            ret->n_entries++;
        if ((r = unpack_entry(u, e)) < 0)
            goto out;
    }
    if ((r = apply_dir_times(u)) < 0)
        goto out;

    /* The digests cover the whole streams: the tar's padding after its end, and whatever
     * follows the compressed stream in the blob. */
    for (;;) {
        const void *b;
        la_ssize_t n = read_tar(u->tar, u, &b);
        if (n < 0) {
            r = fail(u, -EINVAL, NULL, "%s", archive_error_string(u->tar) ?: "reading the layer");
            goto out;
        }
        if (n == 0)
            break;
    }
    for (;;) {
        const void *b;
        la_ssize_t n = read_src(u->raw, u, &b);
        if (n < 0) {
            r = fail(u, -EIO, NULL, "reading the layer: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
    }
    sha256_final(u->blob_hash, ret->blob_digest);
    sha256_final(u->tar_hash, ret->diff_id);
    r = 0;
out:
    if (r < 0 && ret_why) {
        *ret_why = u->why ? TAKE_PTR(u->why) : strdup(strerror(-r));
    }
    if (r < 0)
        layer_unpack_result_done(ret);
    unpack_done(u);
    return r;
}

void layer_unpack_result_done(LayerUnpackResult *r) {
    r->first_device_skipped = mfree(r->first_device_skipped);
}
