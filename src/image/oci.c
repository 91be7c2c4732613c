/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "escape-util.h"
#include "macro.h"
#include "why.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REF_NAME "org.opencontainers.image.ref.name"


int oci_layout_open_blob(int layout_fd, const char *digest) {
    char path[128];
    if (!digest_is_valid(digest))
        return -EINVAL;
    snprintf(path, sizeof path, "blobs/sha256/%s", digest + strlen("sha256:"));
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int) syscall(SYS_openat2, layout_fd, path, &how, sizeof how);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EBADFD;
    if (r < 0) {
        close(fd);
        return r;
    }
    /* reads block again: O_NONBLOCK only kept a FIFO from hanging the open */
    (void) fcntl(fd, F_SETFL, 0);
    return fd;
}

static int read_json_typed(int dirfd, const char *file, const char *digest, int64_t size,
                           json_type type, json_object **ret, char **ret_why) {
    _cleanup_close_ int fd = -1;
    if (!file)
        fd = oci_layout_open_blob(dirfd, digest);
    else {
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
        fd = (int) syscall(SYS_openat2, dirfd, file, &how, sizeof how);
        if (fd < 0)
            fd = -errno;
    }
    const char *what = file ?: digest;
    if (fd < 0)
        return image_why(ret_why, fd, "%s: %s", what, strerror(-fd));
    _cleanup_free_ char *buf = malloc(OCI_JSON_MAX + 1);
    if (!buf)
        return -ENOMEM;
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, OCI_JSON_MAX + 1 - n);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return image_why(ret_why, -errno, "%s: %s", what, strerror(errno));
        }
        if (k == 0)
            break;
        n += (size_t) k;
        if (n > OCI_JSON_MAX)
            return image_why(ret_why, -EFBIG, "%s: larger than %u bytes", what, OCI_JSON_MAX);
    }
    if (digest) {
        _cleanup_(sha256_freep) Sha256 *h = NULL;
        char got[DIGEST_STRING_MAX];
        int r = sha256_new(&h);
        if (r < 0)
            return r;
        sha256_update(h, buf, n);
        sha256_final(h, got);
        if (!streq(got, digest))
            return image_why(ret_why, -EBADMSG, "blob %s: its content has digest %s", digest, got);
        if (size >= 0 && (uint64_t) size != n)
            return image_why(ret_why, -EBADMSG, "blob %s: %zu bytes, its descriptor says %lld", digest,
                       n, (long long) size);
    }
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    json_object *o = json_tokener_parse_ex(tok, buf, (int) n);
    enum json_tokener_error err = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!o || err != json_tokener_success) {
        json_object_put(o);
        return image_why(ret_why, -EBADMSG, "%s: not JSON: %s", what, json_tokener_error_desc(err));
    }
    if (!json_object_is_type(o, type)) {
        json_object_put(o);
        return image_why(ret_why, -EBADMSG, "%s: not a JSON %s", what,
                   type == json_type_array ? "array" : "object");
    }
    *ret = o;
    return 0;
}

int oci_read_json(int dirfd, const char *file, const char *digest, int64_t size,
                  json_object **ret, char **ret_why) {
    return read_json_typed(dirfd, file, digest, size, json_type_object, ret, ret_why);
}

int oci_read_json_array(int dirfd, const char *file, json_object **ret, char **ret_why) {
    return read_json_typed(dirfd, file, NULL, -1, json_type_array, ret, ret_why);
}

static const char *get_string(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static json_object *get_array(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ? v
                                                                                            : NULL;
}

/* A descriptor: its digest (valid) and size (-1 if absent). */
static int descriptor(json_object *d, const char **ret_digest, int64_t *ret_size,
                      char **ret_why) {
    json_object *v;
    const char *digest = json_object_is_type(d, json_type_object) ? get_string(d, "digest")
                                                                  : NULL;
    if (!digest || !digest_is_valid(digest))
        return image_why(ret_why, -EBADMSG, "a descriptor without a sha256 digest (%s)",
                   digest ?: "none");
    *ret_digest = digest;
    *ret_size = json_object_object_get_ex(d, "size", &v) && json_object_is_type(v, json_type_int)
                    ? json_object_get_int64(v)
                    : -1;
    if (*ret_size < -1)
        return image_why(ret_why, -EBADMSG, "%s: a negative size", digest);
    return 0;
}

const char *oci_arch(void) {
    struct utsname u;
    if (uname(&u) < 0)
        return "amd64";
    if (streq(u.machine, "x86_64"))
        return "amd64";
    if (streq(u.machine, "aarch64"))
        return "arm64";
    return "amd64";
}

/* From an index (nested in index.json), the manifest for linux/<our arch>. */
static int pick_platform(json_object *index, json_object **ret_desc, char **ret_why) {
    json_object *ms = get_array(index, "manifests");
    size_t n = ms ? json_object_array_length(ms) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(ms, i), *p;
        if (!json_object_object_get_ex(d, "platform", &p))
            continue;
        const char *os = get_string(p, "os"), *arch = get_string(p, "architecture");
        if (os && arch && streq(os, "linux") && streq(arch, oci_arch())) {
            *ret_desc = d;
            return 0;
        }
    }
    return image_why(ret_why, -ENOENT, "the image index has no manifest for linux/%s", oci_arch());
}

static int pick_ref(json_object *index, const char *ref, json_object **ret_desc, char **ret_why) {
    json_object *ms = get_array(index, "manifests");
    size_t n = ms ? json_object_array_length(ms) : 0, found = 0;
    json_object *pick = NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(ms, i), *ann;
        const char *name = json_object_object_get_ex(d, "annotations", &ann)
                               ? get_string(ann, REF_NAME)
                               : NULL;
        if (!ref || (name && streq(name, ref))) {
            pick = d;
            found++;
        }
    }
    if (found == 1) {
        *ret_desc = pick;
        return 0;
    }
    /* say which refs there are */
    _cleanup_free_ char *refs = strdup("");
    for (size_t i = 0; refs && i < n; i++) {
        json_object *ann;
        const char *name = json_object_object_get_ex(json_object_array_get_idx(ms, i),
                                                     "annotations", &ann)
                               ? get_string(ann, REF_NAME)
                               : NULL;
        _cleanup_free_ char *shown = name ? escape_terminal(name, strlen(name), 0) : NULL;
        char *next;
        if (asprintf(&next, "%s%s%s", refs, *refs ? ", " : "", shown ?: "(unnamed)") < 0)
            return -ENOMEM;
        free(refs);
        refs = next;
    }
    if (!refs)
        return -ENOMEM;
    if (n == 0)
        return image_why(ret_why, -ENOENT, "index.json lists no manifest");
    if (!ref)
        return image_why(ret_why, -ENOENT, "the layout holds %zu manifests: name one as DIR:REF "
                                     "(refs: %s)", n, refs);
    _cleanup_free_ char *shown = escape_terminal(ref, strlen(ref), 0);
    if (found > 1)
        return image_why(ret_why, -ENOTUNIQ, "%zu manifests are named %s", found, shown ?: "?");
    return image_why(ret_why, -ENOENT, "no manifest named %s (refs: %s)", shown ?: "?", refs);
}

static bool layer_type_ok(const char *mt) {
    static const char *const ok[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
    };
    if (!mt)
        return true; /* docker-archive style manifests carry none: the content tells */
    for (size_t i = 0; i < ELEMENTSOF(ok); i++)
        if (streq(mt, ok[i]))
            return true;
    return false;
}

int oci_layout_read_image(int layout_fd, const char *ref, OciImage **ret, char **ret_why) {
    _cleanup_(oci_image_freep) OciImage *img = calloc(1, sizeof *img);
    json_object *index = NULL, *nested = NULL, *manifest = NULL, *desc = NULL;
    const char *digest = NULL;
    int64_t size = -1;
    int r;

    if (!img)
        return -ENOMEM;
    json_object *layout = NULL;
    r = oci_read_json(layout_fd, "oci-layout", NULL, -1, &layout, ret_why);
    if (r < 0)
        return r;
    const char *version = get_string(layout, "imageLayoutVersion");
    if (!version || strncmp(version, "1.", 2) != 0) {
        json_object_put(layout);
        return image_why(ret_why, -EPROTONOSUPPORT, "oci-layout: imageLayoutVersion %s, not 1.x",
                   version ?: "missing");
    }
    json_object_put(layout);

    if ((r = oci_read_json(layout_fd, "index.json", NULL, -1, &index, ret_why)) < 0)
        goto out;
    if ((r = pick_ref(index, ref, &desc, ret_why)) < 0 ||
        (r = descriptor(desc, &digest, &size, ret_why)) < 0)
        goto out;
    const char *mt = get_string(desc, "mediaType");
    if (mt && (streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST))) {
        if ((r = oci_read_json(layout_fd, NULL, digest, size, &nested, ret_why)) < 0 ||
            (r = pick_platform(nested, &desc, ret_why)) < 0 ||
            (r = descriptor(desc, &digest, &size, ret_why)) < 0)
            goto out;
        mt = get_string(desc, "mediaType");
    }
    if (mt && !streq(mt, MT_OCI_MANIFEST) && !streq(mt, MT_DOCKER_MANIFEST)) {
        r = image_why(ret_why, -EPROTONOSUPPORT, "%s: a manifest of media type %s", digest, mt);
        goto out;
    }
    snprintf(img->manifest_digest, sizeof img->manifest_digest, "%s", digest);
    if ((r = oci_read_json(layout_fd, NULL, digest, size, &manifest, ret_why)) < 0)
        goto out;

    json_object *cfg_desc, *layers = get_array(manifest, "layers");
    if (!json_object_object_get_ex(manifest, "config", &cfg_desc) || !layers) {
        r = image_why(ret_why, -EBADMSG, "manifest %s: no config or no layers", digest);
        goto out;
    }
    size_t n = json_object_array_length(layers);
    if (n > OCI_LAYERS_MAX) {
        r = image_why(ret_why, -E2BIG, "manifest %s: %zu layers, more than %d", digest, n,
                OCI_LAYERS_MAX);
        goto out;
    }
    if ((r = descriptor(cfg_desc, &digest, &size, ret_why)) < 0 ||
        (r = oci_read_json(layout_fd, NULL, digest, size, &img->config, ret_why)) < 0)
        goto out;
    json_object *rootfs, *diff_ids = NULL;
    if (json_object_object_get_ex(img->config, "rootfs", &rootfs))
        diff_ids = get_array(rootfs, "diff_ids");
    if (!diff_ids || json_object_array_length(diff_ids) != n) {
        r = image_why(ret_why, -EBADMSG, "config %s: rootfs.diff_ids does not list one per layer (%zu)",
                digest, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(layers, i);
        const char *ldigest, *diff_id = json_object_get_string(json_object_array_get_idx(diff_ids,
                                                                                          i));
        int64_t lsize;
        if ((r = descriptor(l, &ldigest, &lsize, ret_why)) < 0)
            goto out;
        const char *lmt = get_string(l, "mediaType");
        if (!layer_type_ok(lmt)) {
            r = image_why(ret_why, -EPROTONOSUPPORT, "layer %s: media type %s is not one we unpack",
                    ldigest, lmt);
            goto out;
        }
        if (!diff_id || !digest_is_valid(diff_id)) {
            r = image_why(ret_why, -EBADMSG, "config %s: diff_id %zu is not a sha256 digest", digest, i);
            goto out;
        }
        snprintf(img->layers[i].digest, DIGEST_STRING_MAX, "%s", ldigest);
        snprintf(img->layers[i].diff_id, DIGEST_STRING_MAX, "%s", diff_id);
        img->layers[i].size = lsize;
    }
    img->n_layers = n;
    *ret = TAKE_PTR(img);
    r = 0;
out:
    json_object_put(index);
    json_object_put(nested);
    json_object_put(manifest);
    return r;
}

OciImage *oci_image_free(OciImage *img) {
    if (img) {
        json_object_put(img->config);
        free(img);
    }
    return NULL;
}
