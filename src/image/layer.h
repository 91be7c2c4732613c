/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One image layer: a tar stream (OCI layer, docker-archive layer or rootfs tarball) unpacked into
 * a directory in overlayfs form, so that it can be a lowerdir as it is. Knows nothing of the
 * store or of images. libarchive only reads (decompression and tar headers); every file is
 * made here, each path resolved from the layer's root fd with openat2(RESOLVE_IN_ROOT), never
 * by joining strings, so no entry reaches outside the layer whatever symlinks earlier entries
 * made. */

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"

typedef struct LayerUnpackOptions {
    uint64_t max_bytes; /* uncompressed tar bytes, and every entry's size, at most; 0: none */
    uint64_t max_entries; /* 0: none */
    bool keep_owner;    /* chown to the entries' ids (root only) */
    bool allow_devices; /* make device nodes (a plain rootfs tar into a root-owned store) */
    /* The layers below, topmost first (directory fds of their roots; may be none): a
     * directory this layer writes into without listing it (umoci and others list only what
     * changed) takes its owner, mode and times from the topmost of them that has it, so the
     * merged view keeps them; else 0755, root's. */
    const int *lower_fds;
    size_t n_lowers;
    /* Called after each read of the source with the bytes read so far (may be NULL). */
    void (*progress)(uint64_t bytes_read, void *userdata);
    void *progress_userdata;
} LayerUnpackOptions;

typedef struct LayerUnpackResult {
    char blob_digest[DIGEST_STRING_MAX]; /* of the bytes read from the source, as given */
    char diff_id[DIGEST_STRING_MAX];     /* of the uncompressed tar: the OCI diff_id */
    uint64_t blob_size, tar_size, n_entries;
    uint64_t n_devices_skipped; /* device nodes not made (allow_devices off) */
    char *first_device_skipped; /* its path, for the caller's log; free() it */
} LayerUnpackResult;

/* Reads a layer (tar; gzip, zstd, xz, bzip2 or none, told by content) from src_fd to its end
 * and writes its entries below dest_dirfd, an empty directory:
 * - OCI whiteouts become overlayfs ones: `.wh.NAME` a character device 0/0 named NAME,
 *   `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory; other `.wh..wh.*`
 *   (aufs metadata) are skipped; a whiteout of "", "." or ".." is refused;
 * - owners (keep_owner), modes with setuid/setgid/sticky, mtimes, xattrs (security.capability
 *   included; trusted.overlay.* and user.overlay.* are dropped: an image must not forge
 *   overlayfs metadata), hardlinks within the layer, symlinks verbatim (absolute ones too),
 *   FIFOs; device nodes only with allow_devices (else skipped and counted);
 * - a leading "/" is dropped (the path is the layer's); a ".." component, a hardlink to a
 *   directory or to a missing target, an entry that would replace a non-empty directory or the
 *   root by a non-directory are refused.
 * Returns 0 and fills *ret, or a negative errno with *ret_why (free()) saying which entry and
 * why; then dest_dirfd holds a partial tree the caller removes. */
int layer_unpack(int src_fd, int dest_dirfd, const LayerUnpackOptions *o, LayerUnpackResult *ret,
                 char **ret_why);

void layer_unpack_result_done(LayerUnpackResult *r);

/* Whether an xattr is one an image must not carry: trusted.* (root's own; overlayfs keeps
 * opaque, redirect and metacopy there) and user.overlay.* (the same for userxattr mounts). */
bool layer_xattr_dropped(const char *name);
