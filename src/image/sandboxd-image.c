/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxd-image: the image store's worker. Imports run in this process, never in the daemon's
 * event loop (a hostile or huge archive costs this process, and a crash or SIGKILL of it
 * leaves the store consistent: see store.h).
 *
 *   sandboxd-image --store DIR import-tar FILE|- NAME[:TAG]
 *       a plain rootfs tarball (gzip, zstd, xz, bzip2 or none): a single-layer image with an
 *       empty config; device nodes are kept (root's store only)
 *   sandboxd-image --store DIR import-file FILE[:REF] NAME[:TAG]
 *       a file, told by its top-level names: an OCI archive (a layout as a tar; REF as
 *       below), a docker-archive (`docker save`, skopeo; REF: one of its RepoTags), else a
 *       rootfs tarball as import-tar
 *   sandboxd-image --store DIR import-dir DIR NAME[:TAG]
 *       a directory (a root file system): a single-layer image with an empty config; its
 *       tree is read without following any symlink in it
 *   sandboxd-image --store DIR import-oci DIR[:REF] NAME[:TAG]
 *       an OCI image layout (REF: the manifest's org.opencontainers.image.ref.name; without
 *       it the only one), an index resolved to linux/<our arch>; every blob checked against
 *       its digest, every layer against its diff_id; device nodes are not made
 *
 *   sandboxd-image --store DIR commit|diff|export ...: see worker.h
 *
 * --max-bytes N bounds what an import unpacks (default: twice the store's free space; for a
 * commit or a directory, which are packed into a tar first, a quarter of it);
 * --progress-fd N gets "progress LAYER N BYTES" lines while an import reads.
 *
 * Prints "layer DIFF_ID new|present BYTES" per layer and "image NAME:TAG" at the end; errors
 * go to stderr as one line naming what failed, exit status 1. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "image-archive.h"
#include "macro.h"
#include "oci.h"
#include "path-util.h"
#include "rm-rf.h"
#include "strv.h"
#include "store.h"
#include "worker.h"

/* The uncompressed bytes an import may unpack (a gzip bomb stops there): --max-bytes, by
 * default twice the store's free space when the worker starts, which no import that could
 * succeed reaches (the files take at least their bytes) and a bomb reaches soon. */
static uint64_t arg_max_bytes = 0;
#define LAYER_MAX_BYTES arg_max_bytes

/* --progress-fd: "progress LAYER N BYTES" lines (the layer being read, of N; source bytes read
 * in all layers so far), at most every 100 ms, for sandboxctl to draw on a terminal. */
static int arg_progress_fd = -1;
static struct {
    size_t layer, n;
    uint64_t base; /* bytes of the layers before this one */
    uint64_t last_usec;
} progress;

static uint64_t now_usec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void report_progress(uint64_t bytes_read, void *userdata) {
    (void) userdata;
    uint64_t now = now_usec();
    if (arg_progress_fd < 0 || now - progress.last_usec < 100000)
        return;
    progress.last_usec = now;
    char line[96];
    int n = snprintf(line, sizeof line, "progress %zu %zu %llu\n", progress.layer, progress.n,
                     (unsigned long long) (progress.base + bytes_read));
    /* the client may be gone: a failed write only ends the reports (SIGPIPE is ignored) */
    if (write(arg_progress_fd, line, (size_t) n) < 0)
        arg_progress_fd = -1;
}

static void progress_layer(size_t layer, size_t n, uint64_t base) {
    progress.layer = layer;
    progress.n = n;
    progress.base = base;
    progress.last_usec = 0; /* each layer's start is shown */
    report_progress(0, NULL);
}

int split_ref(const char *ref, char **ret_name, char **ret_tag) {
    const char *why = NULL;
    int r = image_ref_split(ref, ret_name, ret_tag, &why);
    if (r == -EINVAL)
        fprintf(stderr, "sandboxd-image: '%s': %s\n", ref, why);
    return r;
}

char *now_iso8601(void) {
    char buf[64];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

/* The image's record: its layers (diff_ids, lowest first), its OCI config, where it came from. */
int write_record(ImageStore *store, const char *name, const char *tag, char **diff_ids,
                        size_t n, json_object *config, const char *source,
                        const char *source_digest) {
    _cleanup_free_ char *now = now_iso8601();
    json_object *rec = json_object_new_object(), *layers = json_object_new_array(), *v;
    if (!rec || !layers || !now) {
        json_object_put(rec);
        json_object_put(layers);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        json_object_array_add(layers, json_object_new_string(diff_ids[i]));
    const char *created = config && json_object_object_get_ex(config, "created", &v) &&
                                  json_object_is_type(v, json_type_string)
                              ? json_object_get_string(v)
                              : now;
    json_object_object_add(rec, "name", json_object_new_string(name));
    json_object_object_add(rec, "tag", json_object_new_string(tag));
    json_object_object_add(rec, "layers", layers);
    json_object_object_add(rec, "config", config ? json_object_get(config) : json_object_new_object());
    json_object_object_add(rec, "created", json_object_new_string(created));
    json_object_object_add(rec, "imported", json_object_new_string(now));
    json_object_object_add(rec, "source", json_object_new_string(source));
    json_object_object_add(rec, "source_digest", json_object_new_string(source_digest));
    size_t len;
    const char *text = json_object_to_json_string_length(rec, JSON_C_TO_STRING_PRETTY, &len);
    int r = text ? image_store_write_record(store, name, tag, text, len) : -ENOMEM;
    json_object_put(rec);
    if (r < 0)
        fprintf(stderr, "sandboxd-image: writing the record of %s:%s: %s\n", name, tag,
                strerror(-r));
    return r;
}

/* fd: the open file (taken), or -1 to open file ("-": standard input). */
static int import_tar(ImageStore *store, const char *file, int fd_arg, const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL, *why = NULL;
    _cleanup_close_ int fd = fd_arg;
    int r;

    if ((r = split_ref(ref, &name, &tag)) < 0)
        return r;
    if (fd < 0)
        fd = streq(file, "-") ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        fprintf(stderr, "sandboxd-image: %s: %s\n", file, strerror(-r));
        return r;
    }
    LayerUnpackOptions o = {.max_bytes = LAYER_MAX_BYTES,
                            .keep_owner = geteuid() == 0,
                            .allow_devices = geteuid() == 0,
                            .progress = report_progress};
    progress_layer(1, 1, 0);
    LayerUnpackResult res;
    bool present;
    r = image_store_add_layer(store, fd, NULL, NULL, NULL, 0, &o, &res, &present, &why);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: %s: %s\n", file, why ?: strerror(-r));
        return r;
    }
    printf("layer %s %s %llu\n", res.diff_id, present ? "present" : "new",
           (unsigned long long) res.tar_size);
    fflush(stdout);

    char *ids[] = {res.diff_id};
    r = write_record(store, name, tag, ids, 1, NULL, "rootfs-tar", res.blob_digest);
    if (r < 0) {
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

/* Opens a docker-archive layer by its path in the unpacked archive: symlinks (the legacy
 * format shares layers through them) are followed, but only beneath it. */
static int open_beneath(int dir_fd, const char *path) {
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    return fd < 0 ? -errno : fd;
}

/* Adds img's layers (each checked against its blob digest, when known, and its diff_id) and
 * writes the record of NAME:TAG. what names the source in messages. */
static int import_layers(ImageStore *store, const char *what, int dir_fd, OciImage *img,
                         const char *name, const char *tag, const char *source_kind,
                         const char *source_digest) {
    _cleanup_free_ char *why = NULL;
    char *ids[OCI_LAYERS_MAX];
    LayerUnpackOptions o = {
        .max_bytes = LAYER_MAX_BYTES, .keep_owner = geteuid() == 0, .progress = report_progress};
    uint64_t done = 0;
    int r;
    for (size_t i = 0; i < img->n_layers; i++) {
        progress_layer(i + 1, img->n_layers, done);
        OciLayer *l = &img->layers[i];
        const char *blob = *l->digest ? l->digest : l->path;
        LayerUnpackResult res;
        bool present;
        _cleanup_close_ int fd = *l->digest ? oci_layout_open_blob(dir_fd, l->digest)
                                            : open_beneath(dir_fd, l->path);
        if (fd < 0) {
            fprintf(stderr, "sandboxd-image: %s: blob %s: %s\n", what, blob, strerror(-fd));
            return fd;
        }
        why = mfree(why);
        /* the layers below, topmost first */
        char *lowers[OCI_LAYERS_MAX];
        for (size_t k = 0; k < i; k++)
            lowers[k] = img->layers[i - 1 - k].diff_id;
        r = image_store_add_layer(store, fd, *l->digest ? l->digest : NULL, l->diff_id, lowers,
                                  i, &o, &res, &present, &why);
        if (r < 0) {
            fprintf(stderr, "sandboxd-image: %s: layer %zu/%zu (blob %s): %s\n", what, i + 1,
                    img->n_layers, blob, why ?: strerror(-r));
            return r;
        }
        done += res.blob_size;
        printf("layer %s %s %llu (%zu/%zu)\n", l->diff_id, present ? "present" : "new",
               (unsigned long long) res.tar_size, i + 1, img->n_layers);
        fflush(stdout);
        if (res.n_devices_skipped)
            fprintf(stderr, "sandboxd-image: layer %s: %llu device nodes not made (first: %s)\n",
                    l->diff_id, (unsigned long long) res.n_devices_skipped,
                    res.first_device_skipped);
        layer_unpack_result_done(&res);
        ids[i] = l->diff_id;
    }
    r = write_record(store, name, tag, ids, img->n_layers, img->config, source_kind,
                     source_digest);
    if (r < 0)
        return r;
    printf("image %s:%s\n", name, tag);
    return 0;
}

/* PATH or PATH:REF: the whole when it exists, else the shortest prefix before a ':' that does
 * (a REF may hold ':' itself, as docker's "app:2" does). */
static int split_source(const char *source, char **ret_path, const char **ret_ref) {
    struct stat st;
    char *path = strdup(source);
    if (!path)
        return -ENOMEM;
    *ret_ref = NULL;
    if (stat(path, &st) < 0)
        for (char *colon = strchr(path, ':'); colon; colon = strchr(colon + 1, ':')) {
            *colon = 0;
            if (stat(path, &st) == 0) {
                *ret_ref = colon + 1;
                break;
            }
            *colon = ':';
        }
    *ret_path = path;
    return 0;
}

static int import_oci(ImageStore *store, const char *source, const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL, *why = NULL, *dir = NULL;
    _cleanup_(oci_image_freep) OciImage *img = NULL;
    _cleanup_close_ int layout_fd = -1;
    const char *manifest_ref;
    int r;

    if ((r = split_ref(ref, &name, &tag)) < 0 || (r = split_source(source, &dir, &manifest_ref)) < 0)
        return r;
    layout_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (layout_fd < 0) {
        r = -errno;
        fprintf(stderr, "sandboxd-image: %s: %s\n", dir, strerror(-r));
        return r;
    }
    if ((r = oci_layout_read_image(layout_fd, manifest_ref, &img, &why)) < 0) {
        fprintf(stderr, "sandboxd-image: %s: %s\n", dir, why ?: strerror(-r));
        return r;
    }
    return import_layers(store, dir, layout_fd, img, name, tag, "oci-layout",
                         img->manifest_digest);
}

/* A file: a rootfs tarball, an OCI archive or a docker-archive, told by its names. */
static int import_file(ImageStore *store, const char *source, const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL, *why = NULL, *file = NULL, *tmp = NULL;
    _cleanup_(oci_image_freep) OciImage *img = NULL;
    _cleanup_close_ int fd = -1, dir_fd = -1, lock = -1;
    const char *image_ref;
    ArchiveKind kind;
    int r;

    if ((r = split_ref(ref, &name, &tag)) < 0 || (r = split_source(source, &file, &image_ref)) < 0)
        return r;
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a pipe cannot be read twice: only a rootfs tarball streams */
        return import_tar(store, file, TAKE_FD(fd), ref);
    }
    if (fd < 0 || (r = archive_detect(fd, &kind)) < 0) {
        r = fd < 0 ? -errno : r;
        fprintf(stderr, "sandboxd-image: %s: %s\n", file, strerror(-r));
        return r;
    }
    if (kind == ARCHIVE_ROOTFS) {
        if (image_ref) {
            fprintf(stderr, "sandboxd-image: %s: a root file system tarball, not an image "
                            "archive: it has no '%s' to pick\n", file, image_ref);
            return -EINVAL;
        }
        return import_tar(store, file, TAKE_FD(fd), ref);
    }
    /* unpacked whole under tmp/ (the blobs are read in the manifest's order, not the tar's),
     * then removed */
    if ((r = image_store_tmp_dir(store, "archive", &tmp, &dir_fd, &lock)) < 0) {
        fprintf(stderr, "sandboxd-image: making a work directory: %s\n", strerror(-r));
        return r;
    }
    char digest[DIGEST_STRING_MAX];
    if ((r = archive_unpack_image(fd, dir_fd, LAYER_MAX_BYTES, digest, &why)) < 0)
        fprintf(stderr, "sandboxd-image: %s: %s\n", file, why ?: strerror(-r));
    else if ((r = kind == ARCHIVE_OCI ? oci_layout_read_image(dir_fd, image_ref, &img, &why)
                                      : docker_archive_read_image(dir_fd, image_ref, &img, &why)) <
             0)
        fprintf(stderr, "sandboxd-image: %s: %s\n", file, why ?: strerror(-r));
    else
        r = import_layers(store, file, dir_fd, img, name, tag,
                          kind == ARCHIVE_OCI ? "oci-archive" : "docker-archive", digest);
    (void) rm_rf(tmp);
    return r;
}

int ref_record(ImageStore *store, const char *ref, char **ret_name, char **ret_tag,
                      json_object **ret) {
    _cleanup_free_ char *name = NULL, *tag = NULL, *text = NULL;
    int r;
    if ((r = split_ref(ref, &name, &tag)) < 0)
        return r;
    r = image_store_read_record(store, name, tag, &text);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: %s:%s: %s\n", name, tag,
                r == -ENOENT ? "no such image" : strerror(-r));
        return r;
    }
    json_object *rec = json_tokener_parse(text);
    if (!rec || !json_object_is_type(rec, json_type_object)) {
        json_object_put(rec);
        fprintf(stderr, "sandboxd-image: %s:%s: a damaged record\n", name, tag);
        return -EBADMSG;
    }
    *ret = rec;
    if (ret_name)
        *ret_name = TAKE_PTR(name);
    if (ret_tag)
        *ret_tag = TAKE_PTR(tag);
    return 0;
}

static int do_remove(ImageStore *store, const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL;
    json_object *rec = NULL;
    int r = ref_record(store, ref, &name, &tag, &rec);
    json_object_put(rec);
    if (r < 0)
        return r;
    if ((r = image_store_remove_record(store, name, tag)) < 0) {
        fprintf(stderr, "sandboxd-image: removing %s:%s: %s\n", name, tag, strerror(-r));
        return r;
    }
    printf("removed %s:%s\n", name, tag);
    return 0;
}

/* DST gets SRC's record (layers, config, provenance) under its own name. */
static int do_tag(ImageStore *store, const char *src, const char *dst) {
    _cleanup_free_ char *name = NULL, *tag = NULL;
    json_object *rec = NULL;
    int r = ref_record(store, src, NULL, NULL, &rec);
    if (r < 0 || (r = split_ref(dst, &name, &tag)) < 0) {
        json_object_put(rec);
        return r;
    }
    json_object_object_add(rec, "name", json_object_new_string(name));
    json_object_object_add(rec, "tag", json_object_new_string(tag));
    size_t len;
    const char *text = json_object_to_json_string_length(rec, JSON_C_TO_STRING_PRETTY, &len);
    r = text ? image_store_write_record(store, name, tag, text, len) : -ENOMEM;
    json_object_put(rec);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: writing %s:%s: %s\n", name, tag, strerror(-r));
        return r;
    }
    printf("tagged %s:%s\n", name, tag);
    return 0;
}

static int do_inspect(ImageStore *store, const char *ref) {
    json_object *rec = NULL, *layers;
    int r = ref_record(store, ref, NULL, NULL, &rec);
    if (r < 0)
        return r;
    /* the layers with their sizes, for people */
    if (json_object_object_get_ex(rec, "layers", &layers) &&
        json_object_is_type(layers, json_type_array)) {
        json_object *detail = json_object_new_array();
        for (size_t i = 0; detail && i < json_object_array_length(layers); i++) {
            const char *id = json_object_get_string(json_object_array_get_idx(layers, i));
            json_object *l = json_object_new_object();
            _cleanup_free_ char *path = NULL, *size = NULL;
            json_object_object_add(l, "diff_id", json_object_new_string(id ?: ""));
            if (id && digest_is_valid(id) &&
                asprintf(&path, "%s/layers/%s/size", image_store_path(store), id + 7) >= 0 &&
                read_file(path, 64, &size, NULL) >= 0)
                json_object_object_add(l, "size",
                                       json_object_new_int64((int64_t) strtoull(size, NULL, 10)));
            json_object_object_add(l, "present", json_object_new_boolean(
                                                     id && image_store_has_layer(store, id)));
            json_object_array_add(detail, l);
        }
        json_object_object_add(rec, "layer_details", detail);
    }
    puts(json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PRETTY |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(rec);
    return 0;
}

typedef struct Keep {
    char **ids;
} Keep;

static int collect_layers(const char *text, const struct stat *st, void *userdata) {
    Keep *k = userdata;
    json_object *rec = json_tokener_parse(text), *layers;
    if (rec && json_object_object_get_ex(rec, "layers", &layers) &&
        json_object_is_type(layers, json_type_array))
        for (size_t i = 0; i < json_object_array_length(layers); i++) {
            const char *id = json_object_get_string(json_object_array_get_idx(layers, i));
            if (id && strv_extend(&k->ids, id) < 0) {
                json_object_put(rec);
                return -ENOMEM;
            }
        }
    json_object_put(rec);
    return 0;
}

static void print_removed(const char *diff_id, uint64_t size, void *userdata) {
    uint64_t *total = userdata;
    *total += size;
    printf("removed layer %s %llu\n", diff_id, (unsigned long long) size);
}

/* Layers no record lists and no running sandbox uses (keep: the daemon's list) go. */
static int do_prune(ImageStore *store, char **keep) {
    Keep k = {};
    uint64_t total = 0;
    int r = strv_extend_strv(&k.ids, keep);
    if (r >= 0)
        r = image_store_foreach_record(store, collect_layers, &k);
    if (r >= 0)
        r = image_store_prune(store, k.ids, strv_length(k.ids), print_removed, &total);
    strv_free(k.ids);
    if (r == -EBUSY)
        fprintf(stderr, "sandboxd-image: an import is running; prune again once it is done\n");
    else if (r < 0)
        fprintf(stderr, "sandboxd-image: pruning: %s\n", strerror(-r));
    else
        printf("freed %llu\n", (unsigned long long) total);
    return r;
}

/* ---- gc: StoreMaxSize= ---- */

typedef struct GcImage {
    char *name, *tag;
    char **layers;
    struct timespec used; /* the record's mtime: import or last start */
    bool kept, removed;
} GcImage;

typedef struct Gc {
    GcImage *images;
    size_t n;
    char **keep_images; /* NAME:TAG */
} Gc;

static int gc_collect(const char *text, const struct stat *st, void *userdata) {
    Gc *g = userdata;
    json_object *rec = json_tokener_parse(text), *v, *layers;
    GcImage img = {.used = st->st_mtim};
    _cleanup_free_ char *ref = NULL;
    int r = 0;
    if (!rec || !json_object_object_get_ex(rec, "name", &v) ||
        !(img.name = strdup(json_object_get_string(v) ?: "")) ||
        !json_object_object_get_ex(rec, "tag", &v) ||
        !(img.tag = strdup(json_object_get_string(v) ?: "")) ||
        !json_object_object_get_ex(rec, "layers", &layers) ||
        !json_object_is_type(layers, json_type_array))
        goto skip; /* not a record we wrote: left alone, and its layers unknown */
    for (size_t i = 0; i < json_object_array_length(layers); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(layers, i));
        if (id && (r = strv_extend(&img.layers, id)) < 0)
            goto skip;
    }
    if (asprintf(&ref, "%s:%s", img.name, img.tag) < 0) {
        r = -ENOMEM;
        goto skip;
    }
    img.kept = strv_contains(g->keep_images, ref);
    GcImage *l = realloc(g->images, (g->n + 1) * sizeof *l);
    if (!l) {
        r = -ENOMEM;
        goto skip;
    }
    g->images = l;
    g->images[g->n++] = img;
    json_object_put(rec);
    return 0;
skip:
    free(img.name);
    free(img.tag);
    strv_free(img.layers);
    json_object_put(rec);
    return r;
}

static uint64_t store_layers_size(ImageStore *store) {
    _cleanup_free_ char *path = NULL;
    _cleanup_closedir_ DIR *d = NULL;
    uint64_t total = 0;
    if (asprintf(&path, "%s/layers", image_store_path(store)) < 0 || !(d = opendir(path)))
        return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        _cleanup_free_ char *f = NULL, *text = NULL;
        if (de->d_name[0] != '.' && asprintf(&f, "%s/%s/size", path, de->d_name) >= 0 &&
            read_file(f, 64, &text, NULL) >= 0)
            total += strtoull(text, NULL, 10);
    }
    return total;
}

static int cmp_used(const void *a, const void *b) {
    const GcImage *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

/* The store above max bytes of layers: layers no record lists go first, then the images
 * nobody keeps (no unit file names them, no running sandbox uses them: the daemon's
 * --keep-image and --keep), least recently used first, each with the layers only it held,
 * until the store is under max. */
static int do_gc(ImageStore *store, char **keep, char **keep_images, uint64_t max) {
    Gc g = {.keep_images = keep_images};
    uint64_t total = store_layers_size(store), freed = 0;
    int r = 0;
    if (total <= max) {
        printf("store %llu bytes, under %llu\n", (unsigned long long) total,
               (unsigned long long) max);
        return 0;
    }
    if ((r = image_store_foreach_record(store, gc_collect, &g)) < 0)
        goto out;
    if (g.n)
        qsort(g.images, g.n, sizeof *g.images, cmp_used);
    for (size_t next = 0;;) {
        /* what still counts: the daemon's keep and every record not removed */
        _cleanup_strv_free_ char **live = NULL;
        uint64_t before = freed;
        if ((r = strv_extend_strv(&live, keep)) < 0)
            goto out;
        for (size_t i = 0; i < g.n; i++)
            if (!g.images[i].removed && (r = strv_extend_strv(&live, g.images[i].layers)) < 0)
                goto out;
        r = image_store_prune(store, live, strv_length(live), print_removed, &freed);
        if (r < 0)
            goto out;
        total -= freed - before < total ? freed - before : total;
        if (total <= max)
            break;
        while (next < g.n && g.images[next].kept)
            next++;
        if (next == g.n) {
            printf("still %llu bytes over %llu: the rest is in use\n",
                   (unsigned long long) total, (unsigned long long) max);
            break;
        }
        GcImage *img = &g.images[next++];
        if ((r = image_store_remove_record(store, img->name, img->tag)) < 0 && r != -ENOENT)
            goto out;
        img->removed = true;
        printf("removed image %s:%s\n", img->name, img->tag);
    }
    printf("freed %llu\n", (unsigned long long) freed);
    r = 0;
out:
    for (size_t i = 0; i < g.n; i++) {
        free(g.images[i].name);
        free(g.images[i].tag);
        strv_free(g.images[i].layers);
    }
    free(g.images);
    if (r == -EBUSY)
        fprintf(stderr, "sandboxd-image: an import is running; the next one collects\n");
    else if (r < 0)
        fprintf(stderr, "sandboxd-image: collecting the store: %s\n", strerror(-r));
    return r;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"store", required_argument, NULL, 's'},
                                         {"keep", required_argument, NULL, 'k'},
                                         {"max-bytes", required_argument, NULL, 'm'},
                                         {"exclude", required_argument, NULL, 'x'},
                                         {"created-by", required_argument, NULL, 'c'},
                                         {"output-fd", required_argument, NULL, 'o'},
                                         {"base-layer", required_argument, NULL, 'b'},
                                         {"keep-image", required_argument, NULL, 'K'},
                                         {"progress-fd", required_argument, NULL, 'P'},
                                         {"id-base", required_argument, NULL, 'I'},
                                         {}};
    _cleanup_strv_free_ char **exclude = NULL, **base = NULL, **keep_images = NULL;
    WorkerOptions wo = {.output_fd = STDOUT_FILENO};
    const char *store_path = "/var/lib/sandboxd/images";
    _cleanup_strv_free_ char **keep = NULL;
    int c;
    /* "+": options end at the verb, so a NAME like "-a" is refused as a name, not an option */
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0) {
        if (c == 's')
            store_path = optarg;
        else if (c == 'm' && (arg_max_bytes = strtoull(optarg, NULL, 10)) > 0)
            continue;
        else if (c == 'k' && digest_is_valid(optarg) && strv_extend(&keep, optarg) >= 0)
            continue;
        else if (c == 'x' && strv_extend(&exclude, optarg) >= 0)
            continue;
        else if (c == 'b' && digest_is_valid(optarg) && strv_extend(&base, optarg) >= 0)
            continue;
        else if (c == 'K' && strv_extend(&keep_images, optarg) >= 0)
            continue;
        else if (c == 'I' && (wo.id_base = (uint32_t) strtoul(optarg, NULL, 10)) > 0)
            continue;
        else if (c == 'P' && (arg_progress_fd = atoi(optarg)) >= 0 &&
                 fcntl(arg_progress_fd, F_GETFD) >= 0)
            continue;
        else if (c == 'c')
            wo.created_by = optarg;
        else if (c == 'o' && (wo.output_fd = atoi(optarg)) >= 0 && fcntl(wo.output_fd, F_GETFD) >= 0)
            continue;
        else
            return 2;
    }
    static const struct {
        const char *verb;
        int args;
    } verbs[] = {{"import-tar", 2}, {"import-oci", 2}, {"import-file", 2}, {"remove", 1},
                 {"tag", 2},        {"inspect", 1},    {"import-dir", 2},    {"prune", 0},      {"commit", 3},
                 {"diff", 2},       {"export", 1},     {"gc", 1}};
    const char *verb = optind < argc ? argv[optind] : "";
    size_t i;
    for (i = 0; i < ELEMENTSOF(verbs); i++)
        if (streq(verb, verbs[i].verb) && argc - optind - 1 == verbs[i].args)
            break;
    if (i == ELEMENTSOF(verbs)) {
        fprintf(stderr, "usage: sandboxd-image [--store DIR] import-tar FILE|- NAME[:TAG]\n"
                        "       sandboxd-image [--store DIR] import-oci DIR[:REF] NAME[:TAG]\n"
                        "       sandboxd-image [--store DIR] import-file FILE[:REF] NAME[:TAG]\n"
                        "       sandboxd-image [--store DIR] import-dir DIR NAME[:TAG]\n"
                        "       sandboxd-image [--store DIR] remove|inspect NAME[:TAG]\n"
                        "       sandboxd-image [--store DIR] tag SRC[:TAG] DST[:TAG]\n"
                        "       sandboxd-image [--store DIR] [--keep DIFF_ID]... prune\n"
                        "       sandboxd-image [--store DIR] [--keep DIFF_ID]... [--keep-image NAME:TAG]...\n"
                        "                      gc MAX_BYTES\n"
                        "       sandboxd-image [--store DIR] [--exclude PATH]... [--base-layer DIFF_ID]...\n"
                        "                      [--created-by TEXT]\n"
                        "                      commit UPPER BASE[:TAG] NAME[:TAG]\n"
                        "       sandboxd-image [--store DIR] [--exclude PATH]... [--base-layer DIFF_ID]...\n"
                        "                      [--output-fd N]\n"
                        "                      diff UPPER BASE[:TAG]\n"
                        "       sandboxd-image [--store DIR] [--output-fd N] export NAME[:TAG]\n");
        return 2;
    }
    /* The daemon that reads our output may be gone (killed, restarted): a write then fails
     * instead of killing us halfway between a layer and its image's record. */
    signal(SIGPIPE, SIG_IGN);
    _cleanup_(image_store_closep) ImageStore *store = NULL;
    int r = image_store_open(store_path, &store);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: opening the store %s: %s\n", store_path, strerror(-r));
        return 1;
    }
    if (!arg_max_bytes) {
        struct statvfs sv;
        if (statvfs(store_path, &sv) < 0) {
            fprintf(stderr, "sandboxd-image: %s: %s\n", store_path, strerror(errno));
            return 1;
        }
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        /* a compressed layer costs its unpacked size once; a tree packed here (a commit, a
         * directory) costs it twice at once (the tar and its unpacking), and a sparse file in a
         * rw layer claims any size for free: a quarter of the free space keeps half free */
        bool packs = streq(verb, "commit") || streq(verb, "import-dir");
        arg_max_bytes = packs ? avail / 4 : 2 * avail;
        if (!arg_max_bytes)
            arg_max_bytes = 1; /* a full disk: nothing fits */
    }
    /* a job that adds layers holds the store until its record is written; a prune or gc
     * holds it alone from reading the records to the last removal */
    bool adds = strncmp(verb, "import", 6) == 0 || streq(verb, "commit");
    if (adds || streq(verb, "prune") || streq(verb, "gc")) {
        r = image_store_hold(store, !adds);
        if (r == -EBUSY) {
            fprintf(stderr, "sandboxd-image: an import is running; %s again once it is done\n",
                    verb);
            return 1;
        }
        if (r < 0) {
            fprintf(stderr, "sandboxd-image: locking the store %s: %s\n", store_path,
                    strerror(-r));
            return 1;
        }
    }
    wo.exclude = exclude;
    wo.base_layers = base;
    wo.max_bytes = arg_max_bytes;
    char **a = argv + optind + 1;
    if (streq(verb, "import-oci"))
        r = import_oci(store, a[0], a[1]);
    else if (streq(verb, "import-file"))
        r = import_file(store, a[0], a[1]);
    else if (streq(verb, "import-tar"))
        r = import_tar(store, a[0], -1, a[1]);
    else if (streq(verb, "remove"))
        r = do_remove(store, a[0]);
    else if (streq(verb, "tag"))
        r = do_tag(store, a[0], a[1]);
    else if (streq(verb, "inspect"))
        r = do_inspect(store, a[0]);
    else if (streq(verb, "gc")) {
        uint64_t max = strtoull(a[0], NULL, 10);
        r = max ? do_gc(store, keep, keep_images, max) : -EINVAL;
    } else if (streq(verb, "import-dir"))
        r = do_import_dir(store, &wo, a[0], a[1]);
    else if (streq(verb, "commit"))
        r = do_commit(store, &wo, a[0], a[1], a[2]);
    else if (streq(verb, "diff"))
        r = do_diff(store, &wo, a[0], a[1]);
    else if (streq(verb, "export"))
        r = do_export(store, &wo, a[0]);
    else
        r = do_prune(store, keep);
    return r < 0 ? 1 : 0;
}
