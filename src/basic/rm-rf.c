/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rm -rf for trees a payload wrote: the root daemon removes a sandbox's rw layer, so the shape
 * of the tree is the attacker's. A recursive walk holds a DIR and a stack frame per level, and
 * a 50,000-deep chain of directories takes all of the daemon's fds, then overflows its stack.
 * This walk holds one directory fd and no stack frame per level: it goes down by name and back
 * up by "..", checked against the (st_dev, st_ino) recorded on the way down, so a directory
 * moved meanwhile stops the walk instead of leading it elsewhere. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "macro.h"
#include "rm-rf.h"

/* What cannot be removed stays and is listed again at each pass over its directory, so the
 * walk goes on past at most this many such entries at a time (along the current path); one
 * more and it gives up with the first error. Keeps the cost linear. */
#define RM_RF_MAX_FAILED 64
#define RM_RF_BUFFER_SIZE (16U * 1024U)
#define RM_RF_INITIAL_LEVELS 64U

#define RM_RF_OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

typedef struct FileId {
    dev_t dev;
    ino_t ino;
} FileId;

typedef struct Level {
    FileId id;
    size_t failed_start; /* this directory's entries in RmRf.failed start here */
    off_t resume;        /* where its listing goes on when we are back from below */
    bool resume_whole;   /* and it is still whole then (see RmRf.whole) */
} Level;

typedef struct RmRf {
    dev_t dev;
    Level *levels; /* levels[0] is the top directory, levels[depth] the one being listed */
    size_t depth, n_levels;
    FileId failed[RM_RF_MAX_FAILED];
    size_t n_failed;
    int error; /* the first one */

    int fd;                         /* levels[depth] */
    char *buf;                      /* its getdents64() batch */
    size_t buf_pos, buf_len, entry; /* entry: where the last entry read starts in buf */
    off_t pos;                      /* the listing's offset of the next entry to read */
    bool whole;                     /* the listing saw every entry before pos */
    bool removed;                   /* it removed some of them */

    /* The rest of the batch of the directory last gone down from, from the subdirectory on:
     * back up, its listing goes on there without reading the directory again, which saves a
     * block read and sort per subdirectory on ext4 (a directory of many small subdirectories
     * took three times as long as rm -rf without it). */
    char *stash;
    size_t stash_pos, stash_len, stash_depth; /* stash_depth: SIZE_MAX when empty */
    off_t stash_end;                          /* the offset right after its batch */
} RmRf;

static bool file_id_equal(FileId a, FileId b) {
    return a.dev == b.dev && a.ino == b.ino;
}

/* -ESTALE if fd is not (or no longer) the directory we saw as id. */
static int fd_verify_file_id(int fd, FileId id) {
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    return file_id_equal((FileId){st.st_dev, st.st_ino}, id) ? 0 : -ESTALE;
}

/* Already failed in the directory being listed: leave it be. */
static bool rm_rf_has_failed(const RmRf *w, FileId id) {
    for (size_t i = w->levels[w->depth].failed_start; i < w->n_failed; i++)
        if (file_id_equal(w->failed[i], id))
            return true;
    return false;
}

/* Records that an entry of the directory being listed stays: 0 to go on, or the first error
 * when too many stay. */
static int rm_rf_fail(RmRf *w, FileId id, int error) {
    if (w->error == 0)
        w->error = error;
    if (w->n_failed == RM_RF_MAX_FAILED)
        return w->error;
    w->failed[w->n_failed++] = id;
    return 0;
}

/* Lists w->fd from offset pos on, so that going back up costs no new listing of what was
 * done before going down. The offsets are the file system's cookies: stable on most (ext4,
 * xfs, btrfs, tmpfs since Linux 6.6), but a mere count of entries on some (tmpfs before), on
 * which seeking after a removal skips as many entries; rm_rf_walk() lists such a directory
 * once more at the end. */
static int rm_rf_seek(RmRf *w, off_t pos, bool whole) {
    if (lseek(w->fd, pos, SEEK_SET) < 0)
        return -errno;
    w->buf_pos = w->buf_len = 0;
    w->pos = pos;
    w->whole = whole;
    w->removed = false;
    return 0;
}

/* 1 and the next entry, 0 at the end of the listing. */
static int rm_rf_read(RmRf *w, struct dirent64 **ret) {
    if (w->buf_pos >= w->buf_len) {
        ssize_t n = getdents64(w->fd, w->buf, RM_RF_BUFFER_SIZE);
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        w->buf_pos = 0;
        w->buf_len = (size_t) n;
    }
    struct dirent64 *de = (struct dirent64 *) (w->buf + w->buf_pos);
    w->entry = w->buf_pos;
    w->buf_pos += de->d_reclen;
    *ret = de;
    return 1;
}

static void swap_buffers(char **a, char **b) {
    char *t = *a;
    *a = *b;
    *b = t;
}

/* Keeps the rest of the batch, the entry last read on, to be listed again back up. */
static void rm_rf_stash(RmRf *w) {
    off_t end = w->pos;
    for (size_t i = w->buf_pos; i < w->buf_len; i += ((struct dirent64 *) (w->buf + i))->d_reclen)
        end = ((struct dirent64 *) (w->buf + i))->d_off;
    swap_buffers(&w->buf, &w->stash);
    w->stash_pos = w->entry;
    w->stash_len = w->buf_len;
    w->stash_end = end;
    w->stash_depth = w->depth;
}

/* Back up at the level of the stash: its listing goes on from the stash. */
static int rm_rf_unstash(RmRf *w, off_t pos, bool whole) {
    if (lseek(w->fd, w->stash_end, SEEK_SET) < 0)
        return -errno;
    swap_buffers(&w->buf, &w->stash);
    w->buf_pos = w->stash_pos;
    w->buf_len = w->stash_len;
    w->stash_depth = SIZE_MAX;
    w->pos = pos;
    w->whole = whole;
    w->removed = false;
    return 0;
}

/* A non-directory entry, or one whose type the listing did not give: 1 if it turned out to be
 * a directory, 0 if removed or given up on, negative errno to stop the walk. */
static int rm_rf_unlink(RmRf *w, const char *name) {
    if (unlinkat(w->fd, name, 0) >= 0) {
        w->removed = true;
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    if (errno == EISDIR)
        return 1;
    int r = -errno;
    struct stat st;
    if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    FileId id = {st.st_dev, st.st_ino};
    if (rm_rf_has_failed(w, id))
        return 0;
    return rm_rf_fail(w, id, r);
}

/* Makes the subdirectory fd (taken over), listed at offset here in its parent, the one being
 * listed. */
static int rm_rf_down(RmRf *w, int fd, FileId id, off_t here) {
    if (w->depth + 1 == w->n_levels) {
        size_t n = w->n_levels * 2;
        Level *l = reallocarray(w->levels, n, sizeof *l);
        if (!l) {
            safe_close(fd);
            return -ENOMEM;
        }
        w->levels = l;
        w->n_levels = n;
    }
    /* back up, the listing goes on at the subdirectory itself, which is removed then */
    w->levels[w->depth].resume = here;
    w->levels[w->depth].resume_whole = w->whole && !w->removed;
    rm_rf_stash(w);
    w->levels[++w->depth] = (Level){.id = id, .failed_start = w->n_failed};
    safe_close(w->fd);
    w->fd = fd;
    w->buf_pos = w->buf_len = 0;
    w->pos = 0;
    w->whole = true;
    w->removed = false;
    return 0;
}

/* A directory entry: removed if empty, else opened and gone down into (1); 0 if removed, gone
 * or given up on; negative errno to stop the walk. */
static int rm_rf_dir_entry(RmRf *w, const char *name, off_t here) {
    struct statx sx;
    if (statx(w->fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_INO, &sx) < 0)
        return errno == ENOENT ? 0 : -errno;
    FileId id = {makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino};
    if (!S_ISDIR(sx.stx_mode)) { /* replaced since it was listed */
        if (unlinkat(w->fd, name, 0) >= 0) {
            w->removed = true;
            return 0;
        }
        return errno == ENOENT ? 0 : rm_rf_fail(w, id, -errno);
    }
    if (rm_rf_has_failed(w, id))
        return 0;
    /* Never into another file system, nor into a bind mount of this one, which st_dev does
     * not tell. Not even rmdir(): on a mount point of another namespace it detaches it. */
    if (id.dev != w->dev || (sx.stx_attributes_mask & sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        return rm_rf_fail(w, id, -EXDEV);
    if (unlinkat(w->fd, name, AT_REMOVEDIR) >= 0) {
        w->removed = true;
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    if (errno != ENOTEMPTY && errno != EEXIST)
        return rm_rf_fail(w, id, -errno);

    _cleanup_close_ int fd = openat(w->fd, name, RM_RF_OPEN_DIR);
    if (fd < 0)
        return errno == ENOENT ? 0 : rm_rf_fail(w, id, -errno);
    int r = fd_verify_file_id(fd, id); /* not swapped since statx() */
    if (r < 0)
        return r;
    r = rm_rf_down(w, TAKE_FD(fd), id, here);
    return r < 0 ? r : 1;
}

/* Removes what it can of the directory being listed, from where its listing is: 1 when it
 * went down into a non-empty subdirectory, 0 at the end of the listing, negative errno to
 * stop the walk. */
static int rm_rf_list(RmRf *w) {
    for (;;) {
        struct dirent64 *de = NULL;
        int r = rm_rf_read(w, &de);
        if (r <= 0)
            return r;
        off_t here = w->pos;
        w->pos = de->d_off;
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        if (de->d_type != DT_DIR) {
            r = rm_rf_unlink(w, de->d_name);
            if (r <= 0) {
                if (r < 0)
                    return r;
                continue;
            }
        }
        r = rm_rf_dir_entry(w, de->d_name, here);
        if (r != 0)
            return r;
    }
}

/* From the directory being listed, done with, back up to its parent. */
static int rm_rf_up(RmRf *w) {
    _cleanup_close_ int parent = openat(w->fd, "..", RM_RF_OPEN_DIR);
    if (parent < 0)
        return -errno;
    int r = fd_verify_file_id(parent, w->levels[w->depth - 1].id); /* not moved meanwhile */
    if (r < 0)
        return r;
    Level done = w->levels[w->depth--];
    bool emptied = w->n_failed == done.failed_start;
    w->n_failed = done.failed_start;
    /* emptied, the parent's listing removes it; else it stays, and so does the parent */
    if (!emptied && (r = rm_rf_fail(w, done.id, w->error)) < 0)
        return r;
    safe_close(w->fd);
    w->fd = TAKE_FD(parent);
    const Level *l = &w->levels[w->depth];
    if (w->stash_depth == w->depth)
        return rm_rf_unstash(w, l->resume, l->resume_whole);
    return rm_rf_seek(w, l->resume, l->resume_whole);
}

static int rm_rf_walk(RmRf *w) {
    for (;;) {
        int r = rm_rf_list(w);
        if (r < 0)
            return r;
        if (r > 0)
            continue; /* went down */
        if (!w->whole) {
            /* entries an unstable offset skipped are found by listing it all once more,
             * which on other file systems meets only what failed */
            r = rm_rf_seek(w, 0, true);
            if (r < 0)
                return r;
            continue;
        }
        if (w->depth == 0)
            return w->n_failed > 0 ? w->error : 0;
        r = rm_rf_up(w);
        if (r < 0)
            return r;
    }
}

static void rm_rf_done(RmRf *w) {
    safe_close(w->fd);
    free(w->buf);
    free(w->stash);
    free(w->levels);
}

int rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return RET_NERRNO(unlink(path));

    _cleanup_(rm_rf_done) RmRf w = {
        .dev = st.st_dev,
        .n_levels = RM_RF_INITIAL_LEVELS,
        .levels = calloc(RM_RF_INITIAL_LEVELS, sizeof(Level)),
        .buf = malloc(RM_RF_BUFFER_SIZE),
        .stash = malloc(RM_RF_BUFFER_SIZE),
        .stash_depth = SIZE_MAX,
        .fd = -EBADF,
        .whole = true,
    };
    if (!w.levels || !w.buf || !w.stash)
        return -ENOMEM;
    w.fd = open(path, RM_RF_OPEN_DIR);
    if (w.fd < 0)
        return -errno;
    w.levels[0].id = (FileId){st.st_dev, st.st_ino};
    int r = fd_verify_file_id(w.fd, w.levels[0].id); /* not replaced since lstat() */
    if (r < 0)
        return r;
    r = rm_rf_walk(&w);
    if (r < 0)
        return r;
    w.fd = safe_close(w.fd);
    return RET_NERRNO(rmdir(path));
}
