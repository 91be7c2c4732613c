/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The worker's verbs (sandboxd-image.c: imports and records; worker-build.c: commit, diff,
 * export) and what they share. Each prints its errors to stderr as one line starting with
 * "sandboxd-image: " and returns a negative errno. */

#include <json-c/json.h>
#include <stdint.h>

#include "store.h"

typedef struct WorkerOptions {
    char **exclude;       /* --exclude: relative paths commit and diff leave out */
    const char *created_by; /* --created-by: the history line of a commit */
    int output_fd;        /* --output-fd: where export and diff write (default stdout) */
    char **base_layers;   /* --base-layer: commit's and diff's base (default: the record's) */
    uint64_t max_bytes;   /* --max-bytes: what one new layer may take */
    uint32_t id_base;     /* --id-base: a user-namespaced sandbox's host id of its root; 0: none */
} WorkerOptions;

char *now_iso8601(void);
int split_ref(const char *ref, char **ret_name, char **ret_tag);
/* Reads the record of ref (NAME[:TAG]) as a JSON object (json_object_put() it). */
int ref_record(ImageStore *store, const char *ref, char **ret_name, char **ret_tag,
               json_object **ret);
/* Writes the record of NAME:TAG: its layers (diff_ids, lowest first), config, provenance. */
int write_record(ImageStore *store, const char *name, const char *tag, char **diff_ids, size_t n,
                 json_object *config, const char *source, const char *source_digest);

/* commit UPPER BASE NEW: the rw layer UPPER as a new layer on BASE's, image NEW. */
int do_commit(ImageStore *store, const WorkerOptions *o, const char *upper, const char *base,
              const char *ref);
/* import-dir DIR NAME: the tree below DIR as a single-layer image with an empty config. */
int do_import_dir(ImageStore *store, const WorkerOptions *o, const char *dir, const char *ref);
/* diff UPPER BASE: "A|C|D PATH" lines, what UPPER changed against BASE's layers. */
int do_diff(ImageStore *store, const WorkerOptions *o, const char *upper, const char *base);
/* export REF: an OCI image layout as a tar (layers gzip'd, ref name = the tag). */
int do_export(ImageStore *store, const WorkerOptions *o, const char *ref);
