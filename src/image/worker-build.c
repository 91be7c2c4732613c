/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The worker's verbs that make layers rather than read them: commit (a sandbox's rw layer on
 * top of its image's), diff (what that rw layer changed), export (an image as an OCI layout
 * tar). The rw layer is the payload's: it is walked from its fd without following anything
 * (pack.h), and a running sandbox's is frozen by the daemon while commit reads it. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "escape-util.h"
#include "macro.h"
#include "oci.h"
#include "pack.h"
#include "rm-rf.h"
#include "strv.h"
#include "worker.h"

#define USERNS_IDS 65536U

#define MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

static void fdsp(int **fds) {
    if (!*fds)
        return;
    for (int *f = *fds; *f >= 0; f++)
        close(*f);
    free(*fds);
}

/* The record's layers (lowest first), each one the store has whole; base (when not NULL)
 * instead of the record's: those a sandbox was started on. */
static int record_layers(ImageStore *store, const char *ref, json_object *rec, char **base,
                         char ***ret) {
    _cleanup_strv_free_ char **ids = NULL;
    json_object *layers;
    if (base) {
        if (strv_length(base) > OCI_LAYERS_MAX)
            return -E2BIG;
        STRV_FOREACH(id, base)
            if (!digest_is_valid(*id) || !image_store_has_layer(store, *id)) {
                fprintf(stderr, "sandboxd-image: layer %s, which the sandbox was started on, "
                                "is not in the store any more\n", *id);
                return -ENOENT;
            }
        if (strv_extend_strv(&ids, base) < 0)
            return -ENOMEM;
        *ret = TAKE_PTR(ids);
        return 0;
    }
    if (!json_object_object_get_ex(rec, "layers", &layers) ||
        !json_object_is_type(layers, json_type_array) ||
        json_object_array_length(layers) > OCI_LAYERS_MAX) {
        fprintf(stderr, "sandboxd-image: %s: a damaged record\n", ref);
        return -EBADMSG;
    }
    for (size_t i = 0; i < json_object_array_length(layers); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(layers, i));
        if (!id || !digest_is_valid(id) || !image_store_has_layer(store, id)) {
            fprintf(stderr, "sandboxd-image: %s: layer %s is not in the store\n", ref,
                    id ?: "?");
            return -ENOENT;
        }
        if (strv_extend(&ids, id) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(ids);
    return 0;
}

/* Directory fds of the layers ids, topmost first, -1 terminated. */
static int open_lowers(ImageStore *store, char **ids, int **ret) {
    size_t n = strv_length(ids);
    int *fds = malloc((n + 1) * sizeof *fds);
    if (!fds)
        return -ENOMEM;
    for (size_t i = 0; i <= n; i++)
        fds[i] = -1;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = image_store_layer_path(store, ids[n - 1 - i]);
        if (!path || (fds[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
            int r = path ? -errno : -ENOMEM;
            fprintf(stderr, "sandboxd-image: layer %s: %s\n", ids[n - 1 - i], strerror(-r));
            fdsp(&fds);
            return r;
        }
    }
    *ret = fds;
    return 0;
}

/* The rw layer; po (when not NULL) gets the host ids a user-namespaced sandbox wrote with
 * (id_base: the daemon's --id-base, never read from the tree, whose owners are the
 * payload's to change). */
static int open_upper(const char *upper, uint32_t id_base, LayerPackOptions *po) {
    int fd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int r = -errno;
        fprintf(stderr, "sandboxd-image: the rw layer %s: %s\n", upper, strerror(-r));
        if (fd >= 0)
            close(fd);
        return r;
    }
    if (po && id_base) {
        po->id_base = id_base;
        po->id_size = USERNS_IDS;
    }
    return fd;
}

/* NAME:TAG: the base's record (rec) with the new layer on top, in its config's rootfs and
 * history too. */
static int commit_record(ImageStore *store, const char *name, const char *tag, json_object *rec,
                         char **ids, const char *diff_id, const char *created_by) {
    json_object *config, *history = NULL, *entry = json_object_new_object(),
                                   *diffs = json_object_new_array(),
                                   *rootfs = json_object_new_object();
    _cleanup_free_ char *now = now_iso8601();
    if (!json_object_object_get_ex(rec, "config", &config) ||
        !json_object_is_type(config, json_type_object))
        json_object_object_add(rec, "config", config = json_object_new_object());
    if (config && (!json_object_object_get_ex(config, "history", &history) ||
                   !json_object_is_type(history, json_type_array)))
        json_object_object_add(config, "history", history = json_object_new_array());
    if (!entry || !diffs || !rootfs || !now || !config || !history) {
        json_object_put(entry);
        json_object_put(diffs);
        json_object_put(rootfs);
        return -ENOMEM;
    }
    STRV_FOREACH(id, ids)
        json_object_array_add(diffs, json_object_new_string(*id));
    json_object_object_add(rootfs, "type", json_object_new_string("layers"));
    json_object_object_add(rootfs, "diff_ids", diffs);
    json_object_object_add(config, "rootfs", rootfs);
    json_object_object_add(entry, "created", json_object_new_string(now));
    json_object_object_add(entry, "created_by",
                           json_object_new_string(created_by ?: "sandboxctl commit"));
    json_object_array_add(history, entry);
    json_object_object_add(config, "created", json_object_new_string(now));
    return write_record(store, name, tag, ids, strv_length(ids), config, "commit", diff_id);
}

/* The tree below dir_fd (what: its name in messages) packed into a tar under tmp/ (its
 * diff_id is its name), then added as any layer on below (topmost first). */
static int add_dir_as_layer(ImageStore *store, int dir_fd, const LayerPackOptions *po,
                            const char *what, char **below, size_t n, bool allow_devices,
                            char diff_id[static DIGEST_STRING_MAX]) {
    /* po->max_bytes bounds the tar, and so what is unpacked from it */
    _cleanup_free_ char *tmp = NULL, *why = NULL;
    _cleanup_close_ int tmp_fd = -1, lock = -1, tar_fd = -1;
    _cleanup_(layer_sink_freep) LayerSink *sink = NULL;
    char blob[DIGEST_STRING_MAX];
    LayerPackResult pres;
    int r;

    if ((r = image_store_tmp_dir(store, "pack", &tmp, &tmp_fd, &lock)) < 0) {
        fprintf(stderr, "sandboxd-image: making a work directory: %s\n", strerror(-r));
        return r;
    }
    tar_fd = openat(tmp_fd, "layer.tar", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (tar_fd < 0)
        r = -errno;
    else if ((r = layer_sink_new(tar_fd, false, &sink)) >= 0 &&
             (r = layer_pack(dir_fd, po, sink, &pres, &why)) >= 0)
        r = layer_sink_finish(sink, diff_id, blob, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: reading %s: %s\n", what, why ?: strerror(-r));
        goto out;
    }
    if (pres.n_devices_skipped)
        fprintf(stderr, "sandboxd-image: %llu device nodes of %s left out\n",
                (unsigned long long) pres.n_devices_skipped, what);
    LayerUnpackOptions uo = {
        .max_bytes = po->max_bytes, .keep_owner = geteuid() == 0, .allow_devices = allow_devices};
    LayerUnpackResult res;
    bool present;
    if (lseek(tar_fd, 0, SEEK_SET) < 0)
        r = -errno;
    else
        r = image_store_add_layer(store, tar_fd, NULL, diff_id, below, n, &uo, &res, &present,
                                  &why);
    if (r < 0) {
        fprintf(stderr, "sandboxd-image: adding the layer of %s: %s\n", what, why ?: strerror(-r));
        goto out;
    }
    printf("layer %s %s %llu (1/1)\n", diff_id, present ? "present" : "new",
           (unsigned long long) res.tar_size);
    fflush(stdout);
    layer_unpack_result_done(&res);
out:
    (void) rm_rf(tmp);
    return r;
}

int do_commit(ImageStore *store, const WorkerOptions *o, const char *upper, const char *base,
              const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL, *what = NULL;
    _cleanup_strv_free_ char **ids = NULL;
    _cleanup_close_ int upper_fd = -1;
    json_object *rec = NULL;
    LayerPackOptions po = {.exclude = o->exclude,
                           .skip_devices = true,
                           .refuse_wh_names = true,
                           .max_bytes = o->max_bytes};
    char diff_id[DIGEST_STRING_MAX];
    char *below[OCI_LAYERS_MAX];
    int r;

    if ((r = split_ref(ref, &name, &tag)) < 0 || (r = ref_record(store, base, NULL, NULL, &rec)) < 0)
        return r;
    if ((r = record_layers(store, base, rec, o->base_layers, &ids)) < 0 ||
        (r = upper_fd = open_upper(upper, o->id_base, &po)) < 0)
        goto out;
    size_t n = strv_length(ids);
    if (n + 1 > OCI_LAYERS_MAX) {
        fprintf(stderr, "sandboxd-image: %s has %zu layers already, the most an image may have\n",
                base, n);
        r = -E2BIG;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        below[i] = ids[n - 1 - i];
    if (asprintf(&what, "the rw layer %s", upper) < 0) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = add_dir_as_layer(store, upper_fd, &po, what, below, n, false, diff_id)) < 0 ||
        (r = strv_extend(&ids, diff_id)) < 0 ||
        (r = commit_record(store, name, tag, rec, ids, diff_id, o->created_by)) < 0)
        goto out;
    printf("image %s:%s\n", name, tag);
out:
    json_object_put(rec);
    return r;
}

int do_import_dir(ImageStore *store, const WorkerOptions *o, const char *dir, const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL;
    _cleanup_close_ int fd = -1;
    char diff_id[DIGEST_STRING_MAX];
    LayerPackOptions po = {
        .skip_devices = geteuid() != 0, .refuse_wh_names = true, .max_bytes = o->max_bytes};
    int r = split_ref(ref, &name, &tag);
    if (r < 0)
        return r;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        r = -errno;
        fprintf(stderr, "sandboxd-image: %s: %s\n", dir, strerror(-r));
        return r;
    }
    char *ids[] = {diff_id};
    if ((r = add_dir_as_layer(store, fd, &po, dir, NULL, 0, geteuid() == 0, diff_id)) < 0 ||
        (r = write_record(store, name, tag, ids, 1, NULL, "rootfs-dir", diff_id)) < 0)
        return r;
    printf("image %s:%s\n", name, tag);
    return 0;
}

typedef struct DiffOut {
    FILE *f;
} DiffOut;

static int print_change(char kind, const char *path, void *userdata) {
    DiffOut *d = userdata;
    /* one line per path, whatever its bytes: "\n" and "\\" are escapes, never the name's */
    _cleanup_free_ char *shown = escape_terminal(path, strlen(path), ESCAPE_BACKSLASH);
    if (!shown)
        return -ENOMEM;
    if (fprintf(d->f, "%c %s\n", kind, shown) < 0)
        return -errno;
    return 0;
}

static FILE *output(const WorkerOptions *o) {
    int fd = fcntl(o->output_fd, F_DUPFD_CLOEXEC, 3);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f && fd >= 0)
        close(fd);
    return f;
}

int do_diff(ImageStore *store, const WorkerOptions *o, const char *upper, const char *base) {
    _cleanup_strv_free_ char **ids = NULL;
    _cleanup_(fdsp) int *lowers = NULL;
    _cleanup_close_ int upper_fd = -1;
    json_object *rec = NULL;
    int r = ref_record(store, base, NULL, NULL, &rec);
    if (r < 0)
        return r;
    if ((r = record_layers(store, base, rec, o->base_layers, &ids)) >= 0 &&
        (r = open_lowers(store, ids, &lowers)) >= 0 && (r = upper_fd = open_upper(upper, 0, NULL)) >= 0) {
        DiffOut d = {output(o)};
        r = d.f ? layer_changes(upper_fd, lowers, strv_length(ids), o->exclude, print_change, &d)
                : -errno;
        if (d.f && fclose(d.f) != 0 && r >= 0)
            r = -errno;
        if (r < 0)
            fprintf(stderr, "sandboxd-image: reading the rw layer %s: %s\n", upper, strerror(-r));
    }
    json_object_put(rec);
    return r;
}

/* ---- export ---- */

typedef struct Blob {
    char digest[DIGEST_STRING_MAX];
    char diff_id[DIGEST_STRING_MAX];
    uint64_t size;
    int fd;     /* an unnamed file in the store's tmp/ (O_TMPFILE); -1: data */
    char *data;
} Blob;

static int put_entry(struct archive *a, const char *path, mode_t type, uint64_t size, int fd,
                     const char *data) {
    struct archive_entry *e = archive_entry_new();
    int r = 0;
    if (!e)
        return -ENOMEM;
    archive_entry_copy_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, (la_int64_t) size);
    archive_entry_set_mtime(e, time(NULL), 0);
    if (archive_write_header(a, e) < ARCHIVE_WARN)
        r = -EIO;
    archive_entry_free(e);
    if (r < 0 || type == AE_IFDIR)
        return r;
    if (data)
        return archive_write_data(a, data, size) == (la_ssize_t) size ? 0 : -EIO;
    static char buf[128 * 1024];
    for (uint64_t done = 0; done < size;) {
        ssize_t n = read(fd, buf, sizeof buf < size - done ? sizeof buf : size - done);
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        if (archive_write_data(a, buf, (size_t) n) != n)
            return -EIO;
        done += (uint64_t) n;
    }
    return 0;
}

static int json_blob(json_object *obj, Blob *b) {
    size_t len;
    const char *text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE,
                                                         &len);
    _cleanup_(sha256_freep) Sha256 *h = NULL;
    int r;
    if (!text || !(b->data = strdup(text)))
        return -ENOMEM;
    if ((r = sha256_new(&h)) < 0)
        return r;
    sha256_update(h, text, len);
    sha256_final(h, b->digest);
    b->size = len;
    return 0;
}

static json_object *descriptor(const char *media, const Blob *b) {
    json_object *d = json_object_new_object();
    if (!d)
        return NULL;
    json_object_object_add(d, "mediaType", json_object_new_string(media));
    json_object_object_add(d, "digest", json_object_new_string(b->digest));
    json_object_object_add(d, "size", json_object_new_int64((int64_t) b->size));
    return d;
}

/* The outer tar: oci-layout, index.json and the blobs, each once. */
static int write_layout(int out_fd, Blob *blobs, size_t n_blobs, const char *index_text) {
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    struct archive *a = archive_write_new();
    int r = 0;
    if (!a)
        return -ENOMEM;
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_open_fd(a, out_fd) != ARCHIVE_OK)
        r = -EIO;
    if (r >= 0)
        r = put_entry(a, "oci-layout", AE_IFREG, strlen(layout), -1, layout);
    if (r >= 0)
        r = put_entry(a, "index.json", AE_IFREG, strlen(index_text), -1, index_text);
    if (r >= 0)
        r = put_entry(a, "blobs", AE_IFDIR, 0, -1, NULL);
    if (r >= 0)
        r = put_entry(a, "blobs/sha256", AE_IFDIR, 0, -1, NULL);
    for (size_t i = 0; r >= 0 && i < n_blobs; i++) {
        _cleanup_free_ char *path = NULL;
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup = dup || streq(blobs[k].digest, blobs[i].digest);
        if (dup)
            continue;
        if (asprintf(&path, "blobs/sha256/%s", blobs[i].digest + 7) < 0)
            r = -ENOMEM;
        else if (!blobs[i].data && lseek(blobs[i].fd, 0, SEEK_SET) < 0)
            r = -errno;
        else
            r = put_entry(a, path, AE_IFREG, blobs[i].size, blobs[i].fd, blobs[i].data);
    }
    if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
        r = -EIO;
    if (r == -EIO && archive_errno(a) > 0)
        r = -archive_errno(a);
    archive_write_free(a);
    return r;
}

/* An export takes no lock on the store (a reader that never finishes, a pipe nobody reads,
 * must not hold up prunes): its blobs are unnamed files, gone with it however it ends, and a
 * layer pruned under it fails it. */
int do_export(ImageStore *store, const WorkerOptions *o, const char *ref) {
    _cleanup_free_ char *name = NULL, *tag = NULL, *tmp = NULL, *why = NULL;
    _cleanup_strv_free_ char **ids = NULL;
    json_object *rec = NULL, *config, *manifest = NULL, *index = NULL;
    Blob blobs[OCI_LAYERS_MAX + 2];
    size_t n = 0;
    int r;

    for (size_t i = 0; i < ELEMENTSOF(blobs); i++)
        blobs[i] = (Blob){.fd = -1};
    if ((r = ref_record(store, ref, &name, &tag, &rec)) < 0)
        return r;
    if ((r = record_layers(store, ref, rec, NULL, &ids)) < 0)
        goto out;
    if (asprintf(&tmp, "%s/tmp", image_store_path(store)) < 0) {
        r = -ENOMEM;
        goto out;
    }
    /* each layer packed anew (so its diff_id is that of the tar we write) and gzip'd */
    n = strv_length(ids);
    json_object *diffs = json_object_new_array();
    if (!diffs) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = image_store_layer_path(store, ids[i]);
        _cleanup_close_ int layer_fd = -1;
        _cleanup_(layer_sink_freep) LayerSink *sink = NULL;
        LayerPackOptions po = {};
        LayerPackResult pres;
        Blob *b = &blobs[2 + i];
        if (!path)
            r = -ENOMEM;
        else if ((layer_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
                 (b->fd = open(tmp, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600)) < 0)
            r = -errno;
        else if ((r = layer_sink_new(b->fd, true, &sink)) >= 0 &&
                 (r = layer_pack(layer_fd, &po, sink, &pres, &why)) >= 0)
            r = layer_sink_finish(sink, b->diff_id, b->digest, NULL, &b->size);
        if (r < 0) {
            fprintf(stderr, "sandboxd-image: layer %s: %s\n", ids[i], why ?: strerror(-r));
            json_object_put(diffs);
            goto out;
        }
        json_object_array_add(diffs, json_object_new_string(b->diff_id));
        printf("layer %s packed %llu (%zu/%zu)\n", ids[i], (unsigned long long) b->size, i + 1, n);
        fflush(stdout);
    }

    /* the config: the record's, with the exported tars' diff_ids and what OCI requires */
    if (!json_object_object_get_ex(rec, "config", &config) ||
        !json_object_is_type(config, json_type_object))
        json_object_object_add(rec, "config", config = json_object_new_object());
    json_object *rootfs = json_object_new_object(), *v;
    if (!config || !rootfs) {
        json_object_put(diffs);
        json_object_put(rootfs);
        r = -ENOMEM;
        goto out;
    }
    json_object_object_add(rootfs, "type", json_object_new_string("layers"));
    json_object_object_add(rootfs, "diff_ids", diffs);
    json_object_object_add(config, "rootfs", rootfs);
    if (!json_object_object_get_ex(config, "architecture", &v))
        json_object_object_add(config, "architecture", json_object_new_string(oci_arch()));
    if (!json_object_object_get_ex(config, "os", &v))
        json_object_object_add(config, "os", json_object_new_string("linux"));
    if ((r = json_blob(config, &blobs[0])) < 0)
        goto out;

    manifest = json_object_new_object();
    json_object *layers = json_object_new_array();
    if (!manifest || !layers) {
        json_object_put(layers);
        r = -ENOMEM;
        goto out;
    }
    json_object_object_add(manifest, "schemaVersion", json_object_new_int(2));
    json_object_object_add(manifest, "mediaType", json_object_new_string(MEDIA_MANIFEST));
    json_object_object_add(manifest, "config", descriptor(MEDIA_CONFIG, &blobs[0]));
    for (size_t i = 0; i < n; i++)
        json_object_array_add(layers, descriptor(MEDIA_LAYER_GZIP, &blobs[2 + i]));
    json_object_object_add(manifest, "layers", layers);
    if ((r = json_blob(manifest, &blobs[1])) < 0)
        goto out;

    index = json_object_new_object();
    json_object *manifests = json_object_new_array(), *desc = descriptor(MEDIA_MANIFEST, &blobs[1]),
                *annotations = json_object_new_object();
    if (!index || !manifests || !desc || !annotations) {
        json_object_put(manifests);
        json_object_put(desc);
        json_object_put(annotations);
        r = -ENOMEM;
        goto out;
    }
    json_object_object_add(annotations, "org.opencontainers.image.ref.name",
                           json_object_new_string(tag));
    json_object_object_add(desc, "annotations", annotations);
    json_object_array_add(manifests, desc);
    json_object_object_add(index, "schemaVersion", json_object_new_int(2));
    json_object_object_add(index, "mediaType", json_object_new_string(MEDIA_INDEX));
    json_object_object_add(index, "manifests", manifests);
    const char *index_text = json_object_to_json_string_ext(
        index, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!index_text) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = write_layout(o->output_fd, blobs, n + 2, index_text)) < 0) {
        fprintf(stderr, "sandboxd-image: writing the archive: %s\n", strerror(-r));
        goto out;
    }
    printf("exported %s:%s %s\n", name, tag, blobs[1].digest);
out:
    for (size_t i = 0; i < ELEMENTSOF(blobs); i++) {
        safe_close(blobs[i].fd);
        free(blobs[i].data);
    }
    json_object_put(rec);
    json_object_put(manifest);
    json_object_put(index);
    return r;
}
