/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* OCI image layouts (image-spec layout.md): index.json -> (an index for linux/<our arch>) ->
 * manifest -> config + layers. Every blob read here is checked against its descriptor's
 * digest and size; JSON blobs are bounded; blobs are opened below the layout's directory
 * without following any symlink. Knows nothing of the store. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

/* More layers than this is refused: overlayfs stacks ~500 at most, and a manifest of 10,000
 * is an attack on whoever mounts it. */
#define OCI_LAYERS_MAX 128
/* index, manifest and config JSON, each */
#define OCI_JSON_MAX (4U * 1024U * 1024U)

typedef struct OciLayer {
    char digest[DIGEST_STRING_MAX];  /* of the blob as stored (compressed); "" if unknown */
    char path[256];                  /* docker-archive: the layer's file; "" in a layout */
    char diff_id[DIGEST_STRING_MAX]; /* of its uncompressed tar, from the config */
    int64_t size;
} OciLayer;

typedef struct OciImage {
    char manifest_digest[DIGEST_STRING_MAX];
    json_object *config; /* the whole config blob */
    OciLayer layers[OCI_LAYERS_MAX];
    size_t n_layers;
} OciImage;

/* Reads the image ref (the manifest whose org.opencontainers.image.ref.name is ref; NULL: the
 * only one there is) of the layout at layout_fd. On failure *ret_why (free()) says what:
 * "no manifest named X (refs: a, b)", "blob sha256:...: digest mismatch", ... */
int oci_layout_read_image(int layout_fd, const char *ref, OciImage **ret, char **ret_why);
OciImage *oci_image_free(OciImage *img);
static inline void oci_image_freep(OciImage **img) {
    if (*img)
        oci_image_free(*img);
}

/* Opens blobs/sha256/<hex> of the layout for reading (no symlink followed, nothing outside). */
int oci_layout_open_blob(int layout_fd, const char *digest);

/* Reads JSON (at most OCI_JSON_MAX) from file below dir_fd (no symlink followed), or, with
 * file NULL, from the blob of digest; checks the content's digest (when digest is not NULL)
 * and size (when size >= 0). *ret is a JSON object. */
int oci_read_json(int dir_fd, const char *file, const char *digest, int64_t size,
                  json_object **ret, char **ret_why);
/* The same for a file holding a JSON array (docker-archive's manifest.json). */
int oci_read_json_array(int dir_fd, const char *file, json_object **ret, char **ret_why);

/* This machine's architecture as OCI names it ("amd64", "arm64"). */
const char *oci_arch(void);
