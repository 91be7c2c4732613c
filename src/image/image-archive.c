/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "image-archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape-util.h"
#include "macro.h"
#include "why.h"

#define BUF_SIZE (128 * 1024)
#define MAX_DEPTH 4


typedef struct Reader {
    int fd;
    Sha256 *hash; /* NULL: not hashed */
    uint8_t buf[BUF_SIZE];
} Reader;

static la_ssize_t reader_read(struct archive *a, void *userdata, const void **buf) {
    Reader *rd = userdata;
    ssize_t n;
    do
        n = read(rd->fd, rd->buf, sizeof rd->buf);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        archive_set_error(a, errno, "%s", strerror(errno));
        return -1;
    }
    if (rd->hash)
        sha256_update(rd->hash, rd->buf, (size_t) n);
    *buf = rd->buf;
    return n;
}

static struct archive *open_reader(Reader *rd) {
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_format_tar(a);
    if (archive_read_open(a, rd, NULL, reader_read, NULL) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* The entry's name without "./" and leading or doubled '/'; "" for the top itself. */
static void clean_name(const char *in, char *out, size_t size) {
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < size;) {
        while (*p == '/')
            p++;
        if (p[0] == '.' && (p[1] == '/' || !p[1])) {
            p++;
            continue;
        }
        const char *end = strchrnul(p, '/');
        if (o && o + 1 < size)
            out[o++] = '/';
        while (p < end && o + 1 < size)
            out[o++] = *p++;
    }
    out[o] = 0;
}

static bool is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A top-level name that image archives have: their manifests, blobs/, and docker's per-layer
 * directories and config files named by 64 hex digits. */
static bool image_archive_top(const char *name, size_t n) {
    static const char *const names[] = {"oci-layout", "index.json", "manifest.json",
                                        "repositories", "blobs", "index.json.lock"};
    for (size_t i = 0; i < ELEMENTSOF(names); i++)
        if (strlen(names[i]) == n && strncmp(name, names[i], n) == 0)
            return true;
    /* <hex>/ (legacy layer directories), <hex>.json (configs), <hex>.tar (skopeo's layers) */
    return (n == 64 && is_hex(name, 64)) ||
           (n == 69 && is_hex(name, 64) && strncmp(name + 64, ".json", 5) == 0) ||
           (n == 68 && is_hex(name, 64) && strncmp(name + 64, ".tar", 4) == 0);
}

int archive_detect(int fd, ArchiveKind *ret) {
    Reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return -ENOMEM;
    rd->fd = fd;
    struct archive *a = open_reader(rd);
    ArchiveKind kind = ARCHIVE_ROOTFS;
    bool oci = false, docker = false;
    if (a) {
        struct archive_entry *e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
            char name[512];
            clean_name(archive_entry_pathname(e) ?: "", name, sizeof name);
            if (!*name)
                continue;
            size_t top = strcspn(name, "/");
            if (!image_archive_top(name, top))
                break; /* a root file system's name */
            oci |= streq(name, "oci-layout");
            docker |= streq(name, "manifest.json");
            (void) archive_read_data_skip(a);
        }
        archive_read_free(a);
        /* docker save (newer) writes an OCI layout too: its manifest.json is the richer map
         * of tags, but the layout has digests for everything, so it wins */
        kind = oci ? ARCHIVE_OCI : docker ? ARCHIVE_DOCKER : ARCHIVE_ROOTFS;
    }
    free(rd);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    *ret = kind;
    return 0;
}

static bool safe_component(const char *p, size_t n) {
    if (n == 0 || n > 255 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Opens (making it) each directory of name's parent below dir_fd, never through a symlink. */
static int open_parent(int dir_fd, char *name, const char **ret_base) {
    int fd = dup(dir_fd);
    if (fd < 0)
        return -errno;
    char *p = name;
    for (char *slash; (slash = strchr(p, '/')); p = slash + 1) {
        *slash = 0;
        if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
            int r = -errno;
            close(fd);
            return r;
        }
        int nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        *slash = '/';
        close(fd);
        if (nfd < 0)
            return -errno;
        fd = nfd;
    }
    *ret_base = p;
    return fd;
}

int archive_unpack_image(int fd, int dest_dirfd, uint64_t max_bytes,
                         char ret_digest[static DIGEST_STRING_MAX], char **ret_why) {
    Reader *rd = calloc(1, sizeof *rd);
    struct archive *a = NULL;
    uint64_t total = 0;
    int r;
    if (!rd)
        return -ENOMEM;
    rd->fd = fd;
    if ((r = sha256_new(&rd->hash)) < 0)
        goto out;
    if (!(a = open_reader(rd))) {
        r = image_why(ret_why, -EINVAL, "not a tar");
        goto out;
    }
    struct archive_entry *e;
    for (;;) {
        r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            r = image_why(ret_why, -EINVAL, "reading the archive: %s", archive_error_string(a) ?: "?");
            goto out;
        }
        char name[1024];
        clean_name(archive_entry_pathname(e) ?: "", name, sizeof name);
        mode_t type = archive_entry_filetype(e);
        bool ok = *name && (type == AE_IFREG || type == AE_IFLNK) &&
                  !archive_entry_hardlink(e);
        unsigned depth = 0;
        for (const char *p = name; ok && *p; depth++) {
            size_t n = strcspn(p, "/");
            ok = safe_component(p, n) && depth < MAX_DEPTH;
            p += n + (p[n] == '/');
        }
        if (!ok)
            continue; /* nothing an image archive needs */
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t) size > max_bytes - total) {
            _cleanup_free_ char *shown = escape_terminal(name, strlen(name), 0);
            r = image_why(ret_why, -EFBIG, "entry '%s': the archive holds more than %llu bytes",
                    shown ?: "?", (unsigned long long) max_bytes);
            goto out;
        }
        const char *base = NULL;
        _cleanup_close_ int parent = open_parent(dest_dirfd, name, &base);
        if (parent < 0) {
            r = image_why(ret_why, parent, "entry '%s': %s", name, strerror(-parent));
            goto out;
        }
        (void) unlinkat(parent, base, 0);
        if (type == AE_IFLNK) {
            /* kept as it is: whoever opens through it resolves beneath the directory */
            const char *target = archive_entry_symlink(e);
            if (!target || symlinkat(target, parent, base) < 0) {
                r = image_why(ret_why, target ? -errno : -EINVAL, "entry '%s': %s", name,
                        target ? strerror(errno) : "a symlink without a target");
                goto out;
            }
            continue;
        }
        _cleanup_close_ int f =
            openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0) {
            r = image_why(ret_why, -errno, "entry '%s': %s", name, strerror(errno));
            goto out;
        }
        const void *buf;
        size_t n;
        la_int64_t off;
        while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
            if (pwrite(f, buf, n, off) != (ssize_t) n) {
                r = image_why(ret_why, errno ? -errno : -EIO, "entry '%s': %s", name,
                        strerror(errno ?: EIO));
                goto out;
            }
        }
        if (r != ARCHIVE_EOF || ftruncate(f, size) < 0) {
            r = image_why(ret_why, -EIO, "entry '%s': %s", name, archive_error_string(a) ?: "short");
            goto out;
        }
        total += (uint64_t) size;
    }
    /* the digest covers the whole file, past the tar's end too */
    const void *b;
    la_ssize_t k;
    while ((k = reader_read(a, rd, &b)) > 0)
        ;
    if (k < 0) {
        r = image_why(ret_why, -EIO, "reading the archive: %s", strerror(errno));
        goto out;
    }
    sha256_final(rd->hash, ret_digest);
    r = 0;
out:
    if (a)
        archive_read_free(a);
    sha256_free(rd->hash);
    free(rd);
    return r;
}

/* "docker.io/library/app:2", "docker.io/app:2" and "app:2" are one name; "app" is
 * "app:latest". */
static bool same_repo_tag(const char *a, const char *b) {
    char x[2][512];
    const char *in[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        const char *p = in[i];
        if (strncmp(p, "docker.io/library/", 18) == 0)
            p += 18;
        else if (strncmp(p, "docker.io/", 10) == 0)
            p += 10;
        const char *last = strrchr(p, '/') ?: p;
        snprintf(x[i], sizeof x[i], "%s%s", p, strchr(last, ':') ? "" : ":latest");
    }
    return streq(x[0], x[1]);
}

static json_object *member(json_object *o, const char *key) {
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

int docker_archive_read_image(int dir_fd, const char *ref, OciImage **ret, char **ret_why) {
    json_object *manifest = NULL;
    _cleanup_(oci_image_freep) OciImage *img = calloc(1, sizeof *img);
    int r;
    if (!img)
        return -ENOMEM;
    if ((r = oci_read_json_array(dir_fd, "manifest.json", &manifest, ret_why)) < 0)
        return r;
    size_t n = json_object_array_length(manifest), found = 0;
    json_object *pick = NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(manifest, i), *tags = member(m, "RepoTags");
        bool match = !ref;
        for (size_t k = 0; ref && tags && json_object_is_type(tags, json_type_array) &&
                           k < json_object_array_length(tags);
             k++)
            match |= same_repo_tag(json_object_get_string(json_object_array_get_idx(tags, k)) ?: "",
                                   ref);
        if (match) {
            pick = m;
            found++;
        }
    }
    if (found != 1) {
        r = image_why(ret_why, -ENOENT, ref ? "manifest.json has %zu images tagged %s"
                                      : "manifest.json has %zu images: name one as FILE:TAG%s",
                found, ref ?: "");
        goto out;
    }
    json_object *cfg = member(pick, "Config"), *layers = member(pick, "Layers");
    const char *cfg_path = cfg && json_object_is_type(cfg, json_type_string)
                               ? json_object_get_string(cfg)
                               : NULL;
    if (!cfg_path || !layers || !json_object_is_type(layers, json_type_array)) {
        r = image_why(ret_why, -EBADMSG, "manifest.json: an image without Config or Layers");
        goto out;
    }
    size_t nl = json_object_array_length(layers);
    if (nl > OCI_LAYERS_MAX) {
        r = image_why(ret_why, -E2BIG, "manifest.json: %zu layers, more than %d", nl, OCI_LAYERS_MAX);
        goto out;
    }
    /* a config named by its digest (<hex>.json, blobs/sha256/<hex>) is checked against it */
    char digest[DIGEST_STRING_MAX] = "";
    const char *base = strrchr(cfg_path, '/') ? strrchr(cfg_path, '/') + 1 : cfg_path;
    if (strlen(base) >= 64 && is_hex(base, 64) && (!base[64] || streq(base + 64, ".json")))
        snprintf(digest, sizeof digest, "sha256:%.64s", base);
    if ((r = oci_read_json(dir_fd, cfg_path, *digest ? digest : NULL, -1, &img->config,
                           ret_why)) < 0)
        goto out;
    json_object *diff_ids = member(member(img->config, "rootfs"), "diff_ids");
    if (!diff_ids || !json_object_is_type(diff_ids, json_type_array) ||
        json_object_array_length(diff_ids) != nl) {
        r = image_why(ret_why, -EBADMSG, "%s: rootfs.diff_ids does not list one per layer (%zu)",
                cfg_path, nl);
        goto out;
    }
    for (size_t i = 0; i < nl; i++) {
        const char *path = json_object_get_string(json_object_array_get_idx(layers, i));
        const char *diff_id = json_object_get_string(json_object_array_get_idx(diff_ids, i));
        if (!path || strlen(path) >= sizeof img->layers[i].path || !diff_id ||
            !digest_is_valid(diff_id)) {
            r = image_why(ret_why, -EBADMSG, "manifest.json: layer %zu has no usable path or diff_id",
                    i + 1);
            goto out;
        }
        snprintf(img->layers[i].path, sizeof img->layers[i].path, "%s", path);
        snprintf(img->layers[i].diff_id, sizeof img->layers[i].diff_id, "%s", diff_id);
        img->layers[i].size = -1;
    }
    img->n_layers = nl;
    *ret = TAKE_PTR(img);
    r = 0;
out:
    json_object_put(manifest);
    return r;
}
