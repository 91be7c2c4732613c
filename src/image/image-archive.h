/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Image archives: an OCI layout as a tar (oci-archive) and `docker save` / skopeo's
 * docker-archive (manifest.json, configs, layer tars; legacy and OCI-in-docker forms), told
 * apart from a plain rootfs tarball by their top-level names. Knows nothing of the store. */

#include <stdint.h>

#include "digest.h"
#include "oci.h"

typedef enum ArchiveKind {
    ARCHIVE_ROOTFS,        /* anything else: a root file system */
    ARCHIVE_OCI,           /* oci-layout + index.json + blobs/ */
    ARCHIVE_DOCKER,        /* manifest.json (+ repositories) */
} ArchiveKind;

/* Reads entry names from the start of the (seekable) file fd until they settle the kind: the
 * first name that no image archive has at its top (bin/, ./etc...) means a rootfs, so a
 * rootfs tarball costs one header. Leaves fd at offset 0. */
int archive_detect(int fd, ArchiveKind *ret);

/* Unpacks the image archive from fd into the empty directory dest_dirfd: regular files and
 * symlinks whose paths are plain names ([A-Za-z0-9._-], no "." or "..", at most 4 deep; other
 * entries are skipped), at most max_bytes in all. *ret_digest: sha256 of the archive's bytes.
 * On failure *ret_why (free()) says what. */
int archive_unpack_image(int fd, int dest_dirfd, uint64_t max_bytes,
                         char ret_digest[static DIGEST_STRING_MAX], char **ret_why);

/* From an unpacked docker-archive at dir_fd: the image tagged ref (a RepoTags entry, e.g.
 * "busybox:latest"; NULL: the only one), as an OciImage whose layers carry blob *paths* in
 * place of digests (OciLayer.digest empty, .path set) and the config's diff_ids. */
int docker_archive_read_image(int dir_fd, const char *ref, OciImage **ret, char **ret_why);
