/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The reverse of layer.h: a directory in overlayfs form (a store layer, or a sandbox's rw
 * layer) written as an OCI layer tar. Character devices 0/0 become `.wh.NAME`, an opaque
 * directory gets a `.wh..wh..opq` entry, trusted.* and user.overlay.* xattrs stay behind.
 *
 * The tree is walked with openat(O_NOFOLLOW) from the directory's fd and every file read
 * through its own fd, never by a joined path: a symlink in the tree is an entry, never a way
 * out. A tree someone else may change while it is read (a running sandbox's rw layer) must be
 * frozen by the caller; the walk stays inside the tree either way. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "digest.h"

/* Calls visit for each entry below dir_fd, parents before children, names sorted (the
 * output is the same for the same tree): path is relative ("etc/hosts"), parent_fd the
 * directory holding it. visit returns < 0 to stop the walk with that error, 1 not to descend
 * into a directory, 0 to go on. Directories are opened O_NOFOLLOW|O_DIRECTORY relative to
 * their parent: a directory swapped for a symlink meanwhile fails the walk (-ELOOP/-ENOTDIR). */
typedef int (*LayerVisit)(const char *path, int parent_fd, const char *name,
                          const struct stat *st, void *userdata);
int layer_walk(int dir_fd, LayerVisit visit, void *userdata);

/* Whether a directory entry is an overlayfs whiteout, and whether a directory is opaque
 * (trusted.overlay.opaque: sandboxd mounts every overlay as host root, never with userxattr, so
 * a user.overlay.* xattr a payload sets means nothing to the kernel and nothing here). */
static inline bool layer_is_whiteout(const struct stat *st) {
    return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}
bool layer_dir_is_opaque(int dir_fd);

typedef struct LayerPackOptions {
    char *const *exclude; /* relative paths left out with all below them (NULL-terminated) */
    /* A user-namespaced sandbox's rw layer: host ids id_base..id_base+id_size-1 are written as
     * 0..id_size-1, others as 65534 (nobody). id_size 0: ids as they are. */
    uid_t id_base;
    uint32_t id_size;
    bool skip_devices; /* leave device nodes out (and count them) instead of writing them */
    bool refuse_wh_names; /* a name starting ".wh." (OCI's whiteouts) is an error, not a file */
    uint64_t max_bytes;   /* of the tar: a larger tree fails (-EFBIG) before it is written;
                           * 0: none */
} LayerPackOptions;

/* Where the tar goes: the uncompressed stream's digest and size (the diff_id), then optionally
 * gzip, then the written bytes' digest and size (the blob's), into fd. */
typedef struct LayerSink LayerSink;
int layer_sink_new(int fd, bool gzip, LayerSink **ret);
/* Flushes the compressor; fills the digests. The fd stays open. */
int layer_sink_finish(LayerSink *k, char diff_id[static DIGEST_STRING_MAX],
                      char blob_digest[static DIGEST_STRING_MAX], uint64_t *ret_tar_size,
                      uint64_t *ret_blob_size);
LayerSink *layer_sink_free(LayerSink *k);
static inline void layer_sink_freep(LayerSink **k) {
    if (*k)
        layer_sink_free(*k);
}

typedef struct LayerPackResult {
    uint64_t n_entries;
    uint64_t n_devices_skipped;
} LayerPackResult;

/* Writes the tree below dir_fd to k as an OCI layer tar (pax). Returns 0, or a negative errno
 * with *ret_why (free()) naming the entry. */
int layer_pack(int dir_fd, const LayerPackOptions *o, LayerSink *k, LayerPackResult *ret,
               char **ret_why);

/* What a rw layer (upper_fd) changed against the layers below it (lower_fds, topmost first),
 * as `docker diff` prints it: change(kind, path) with kind 'A' (added), 'C' (changed) or 'D'
 * (deleted) and path absolute, in walk order; exclude as above. */
int layer_changes(int upper_fd, const int *lower_fds, size_t n_lowers, char *const *exclude,
                  int (*change)(char kind, const char *path, void *userdata), void *userdata);
