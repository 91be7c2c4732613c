/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxd-image: the image store's worker. Imports run in this process, never in the daemon's
 * event loop (a hostile or huge archive costs this process, and a crash or SIGKILL of it
 * leaves the store consistent: see store.h).
 *
 *   sandboxd-image --store DIR import-tar FILE|- NAME[:TAG]
 *       a plain rootfs tarball (gzip, zstd, xz, bzip2 or none): a single-layer image with an
 *       empty config; device nodes are kept (root's store only)
 *
 * Prints "layer DIFF_ID new|present BYTES" per layer and "image NAME:TAG" at the end; errors
 * go to stderr as one line naming what failed, exit status 1. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "store.h"

/* The uncompressed bytes one layer may hold (a gzip bomb stops there). */
#define LAYER_MAX_BYTES (64ULL << 30)

static int split_ref(const char *ref, char **ret_name, char **ret_tag) {
    const char *colon = strrchr(ref, ':');
    /* a ':' before the last '/' belongs to a registry's port, not a tag */
    if (colon && strchr(colon, '/'))
        colon = NULL;
    _cleanup_free_ char *name = colon ? strndup(ref, (size_t) (colon - ref)) : strdup(ref);
    _cleanup_free_ char *tag = strdup(colon ? colon + 1 : "latest");
    if (!name || !tag)
        return -ENOMEM;
    if (!image_name_is_valid(name)) {
        fprintf(stderr, "sandboxd-image: '%s': not a valid image name (lowercase letters, "
                        "digits, and '.', '_', '-', '/' between them)\n", name);
        return -EINVAL;
    }
    if (!image_tag_is_valid(tag)) {
        fprintf(stderr, "sandboxd-image: '%s': not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]*, "
                        "at most 128)\n", tag);
        return -EINVAL;
    }
    *ret_name = TAKE_PTR(name);
    *ret_tag = TAKE_PTR(tag);
    return 0;
}

static char *now_iso8601(void) {
    char buf[64];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

static int import_tar(ImageStore *store, const char *file, const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL, *why = NULL, *created = NULL;
    _cleanup_close_ int fd = -1;
    int r;

    if ((r = split_ref(ref, &name, &tag)) < 0)
        return r;
    fd = streq(file, "-") ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        fprintf(stderr, "sandboxd-image: %s: %s\n", file, strerror(-r));
        return r;
    }
    LayerUnpackOptions o = {
        .max_bytes = LAYER_MAX_BYTES, .keep_owner = geteuid() == 0, .allow_devices = geteuid() == 0};
    LayerUnpackResult res;
    bool present;
    r = image_store_add_layer(store, fd, NULL, NULL, &o, &res, &present, &why);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: %s: %s\n", file, why ?: strerror(-r));
        return r;
    }
    printf("layer %s %s %llu\n", res.diff_id, present ? "present" : "new",
           (unsigned long long) res.tar_size);
    fflush(stdout);

    created = now_iso8601();
    json_object *rec = json_object_new_object(), *layers = json_object_new_array();
    if (!rec || !layers || !created) {
        layer_unpack_result_done(&res);
        return -ENOMEM;
    }
    json_object_array_add(layers, json_object_new_string(res.diff_id));
    json_object_object_add(rec, "name", json_object_new_string(name));
    json_object_object_add(rec, "tag", json_object_new_string(tag));
    json_object_object_add(rec, "layers", layers);
    json_object_object_add(rec, "config", json_object_new_object());
    json_object_object_add(rec, "created", json_object_new_string(created));
    json_object_object_add(rec, "source", json_object_new_string("rootfs-tar"));
    json_object_object_add(rec, "source_digest", json_object_new_string(res.blob_digest));
    size_t len;
    const char *text = json_object_to_json_string_length(rec, JSON_C_TO_STRING_PRETTY, &len);
    r = image_store_write_record(store, name, tag, text, len);
    json_object_put(rec);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: writing the record of %s:%s: %s\n", name, tag,
                strerror(-r));
        layer_unpack_result_done(&res);
        return r;
    }
    if (res.n_devices_skipped)
        fprintf(stderr, "sandboxd-image: %llu device nodes not made (first: %s)\n",
                (unsigned long long) res.n_devices_skipped, res.first_device_skipped);
    printf("image %s:%s\n", name, tag);
    layer_unpack_result_done(&res);
    return 0;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"store", required_argument, NULL, 's'}, {}};
    const char *store_path = "/var/lib/sandboxd/images";
    int c;
    /* "+": options end at the verb, so a NAME like "-a" is refused as a name, not an option */
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0) {
        if (c != 's')
            return 2;
        store_path = optarg;
    }
    if (argc - optind != 3 || !streq(argv[optind], "import-tar")) {
        fprintf(stderr, "usage: sandboxd-image [--store DIR] import-tar FILE|- NAME[:TAG]\n");
        return 2;
    }
    _cleanup_(image_store_closep) ImageStore *store = NULL;
    int r = image_store_open(store_path, &store);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: opening the store %s: %s\n", store_path, strerror(-r));
        return 1;
    }
    return import_tar(store, argv[optind + 1], argv[optind + 2]) < 0 ? 1 : 0;
}
