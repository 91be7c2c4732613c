/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The image store on disk, crash-safe and shared by concurrent importers:
 *
 *   ROOT/layers/<hex>/diff    a layer in overlayfs form (the lowerdir), <hex> its diff_id's
 *   ROOT/layers/<hex>/size    its unpacked size in bytes (decimal)
 *   ROOT/images/<NAME>:<TAG>  an image record (JSON, written by the caller), '/' in NAME as '+';
 *                             its mtime: the last import or start (the daemon touches it)
 *   ROOT/locks/<hex>          flock()ed while a layer of that diff_id is being added
 *   ROOT/tmp/                 work in progress: each entry flock()ed by its writer
 *
 * A layer or record exists only by a rename of a complete, fsync'ed temporary into place, so
 * an importer killed at any point leaves at most an unlocked entry in tmp/, which the next
 * image_store_open() removes. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "image-ref.h"
#include "layer.h"

typedef struct ImageStore ImageStore;

/* Opens (making it if missing, mode 0700) the store at path and removes what crashed
 * importers left in tmp/ (entries nobody holds a lock on). */
int image_store_open(const char *path, ImageStore **ret);
ImageStore *image_store_close(ImageStore *s);
static inline void image_store_closep(ImageStore **s) {
    if (*s)
        image_store_close(*s);
}
const char *image_store_path(const ImageStore *s);

/* Whether the layer diff_id is complete in the store. */
bool image_store_has_layer(ImageStore *s, const char *diff_id);
/* ROOT/layers/<hex>/diff, for a lowerdir (free() it). */
char *image_store_layer_path(ImageStore *s, const char *diff_id);

/* Adds the layer read from blob_fd: unpacked under tmp/ (on the layers lower_diff_ids,
 * topmost first, which must be in the store: see LayerUnpackOptions.lower_fds), checked
 * against expect_blob and
 * expect_diff_id (each may be NULL), synced, renamed into place. When expect_diff_id is
 * given, importers of the same layer take turns on its lock and the later ones find it
 * present and read nothing (*ret_present true; ret->diff_id set, the rest 0). Without it the
 * diff_id is known once unpacked; a layer already present then is kept and the new copy
 * dropped. On a digest mismatch, -EBADMSG and *ret_why says which. Nothing is left behind on
 * failure. */
int image_store_add_layer(ImageStore *s, int blob_fd, const char *expect_blob,
                          const char *expect_diff_id, char *const *lower_diff_ids,
                          size_t n_lowers, const LayerUnpackOptions *o,
                          LayerUnpackResult *ret, bool *ret_present, char **ret_why);

/* A fresh work directory tmp/PREFIX-<random> (*ret_path, *ret_fd) and *ret_lock, which keeps
 * image_store_open() from removing it until closed; the caller removes the directory. */
int image_store_tmp_dir(ImageStore *s, const char *prefix, char **ret_path, int *ret_fd,
                        int *ret_lock);

/* Writes the record of NAME:TAG (data: its JSON) crash-safely, replacing an earlier one. */
int image_store_write_record(ImageStore *s, const char *name, const char *tag, const char *data,
                             size_t size);
/* Reads it (-ENOENT if there is none; free() *ret). */
int image_store_read_record(ImageStore *s, const char *name, const char *tag, char **ret);

/* Removes the record of NAME:TAG (-ENOENT if there is none); its layers stay until a prune. */
int image_store_remove_record(ImageStore *s, const char *name, const char *tag);

/* Calls f for each record file's content and stat (its mtime: the image's last use, import
 * or start, which the daemon touches); stops at the first negative return. */
int image_store_foreach_record(ImageStore *s,
                               int (*f)(const char *text, const struct stat *st, void *userdata),
                               void *userdata);

/* Holds tmp.lock for the rest of the process's job (until image_store_close()): shared by a
 * job that adds layers and then writes the record listing them, so no prune can run between
 * the two; exclusive (-EBUSY while such a job runs) by a prune or gc, so it reads the records
 * and removes layers with no job adding one in between. */
int image_store_hold(ImageStore *s, bool exclusive);

/* Removes every layer whose diff_id is not in keep (n_keep entries): the caller lists what the
 * records and running sandboxes use. Refused with -EBUSY while an import runs (it may hold a
 * layer whose record is not written yet). For each removed layer calls removed(diff_id, size).
 * A layer goes by a rename into tmp/ first, so it vanishes at once, whole. */
int image_store_prune(ImageStore *s, char *const *keep, size_t n_keep,
                      void (*removed)(const char *diff_id, uint64_t size, void *userdata),
                      void *userdata);
