/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "image-ref.h"
#include "macro.h"
#include "path-util.h"
#include "strv.h"

#define RECORD_MAX (16U * 1024U * 1024U)

ResolvedImage *resolved_image_free(ResolvedImage *img) {
    if (img) {
        strv_free(img->lowers);
        strv_free(img->diff_ids);
        strv_free(img->argv);
        strv_free(img->env);
        free(img->working_directory);
        free(img->user);
        free(img->group);
        free(img);
    }
    return NULL;
}

/* "WHAT: WHY" into *ret_why; returns r */
static int why(char **ret_why, int r, const char *what, const char *reason) {
    if (asprintf(ret_why, "%s: %s", what, reason) < 0)
        *ret_why = NULL;
    return r;
}

/* Appends the strings of a JSON array (a non-string element is a bad record). */
static int append_strings(char ***l, json_object *a) {
    if (!a || json_object_is_type(a, json_type_null))
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return -EBADMSG;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *v = json_object_array_get_idx(a, i);
        if (!json_object_is_type(v, json_type_string))
            return -EBADMSG;
        int r = strv_extend(l, json_object_get_string(v));
        if (r < 0)
            return r;
    }
    return 0;
}

static json_object *member(json_object *o, const char *key) {
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

int image_resolve(const char *store_path, const char *ref, ResolvedImage **ret, char **ret_why) {
    _cleanup_(resolved_image_freep) ResolvedImage *img = calloc(1, sizeof *img);
    _cleanup_free_ char *name = NULL, *tag = NULL, *file = NULL, *path = NULL, *text = NULL;
    const char *bad = NULL;
    int r;

    if (!img)
        return -ENOMEM;
    if ((r = image_ref_split(ref, &name, &tag, &bad)) < 0)
        return r == -EINVAL ? why(ret_why, r, ref, bad) : r;
    if (!(file = image_record_file_name(name, tag)) ||
        asprintf(&path, "%s/images/%s", store_path, file) < 0)
        return -ENOMEM;
    r = read_file(path, RECORD_MAX, &text, NULL);
    if (r == -ENOENT) {
        if (asprintf(ret_why, "%s: not in the image store %s (sandboxctl image import)", ref,
                     store_path) < 0)
            *ret_why = NULL;
        return r;
    }
    if (r < 0)
        return why(ret_why, r, path, strerror(-r));

    json_object *rec = json_tokener_parse(text);
    if (!rec || !json_object_is_type(rec, json_type_object)) {
        json_object_put(rec);
        return why(ret_why, -EBADMSG, path, "not an image record");
    }
    json_object *layers = member(rec, "layers");
    json_object *cfg = member(member(rec, "config"), "config");
    r = 0;
    if (!layers || !json_object_is_type(layers, json_type_array) ||
        json_object_array_length(layers) == 0)
        r = why(ret_why, -EBADMSG, path, "lists no layers");
    for (size_t i = 0; r == 0 && i < json_object_array_length(layers); i++) {
        const char *id = json_object_get_string(json_object_array_get_idx(layers, i));
        _cleanup_free_ char *dir = NULL;
        struct stat st;
        /* the worker writes sha256:<64 hex>; anything else must not become a path */
        if (!id || strncmp(id, "sha256:", 7) != 0 || strlen(id) != 71 ||
            strspn(id + 7, "0123456789abcdef") != 64) {
            r = why(ret_why, -EBADMSG, path, "a layer that is no sha256 digest");
            break;
        }
        if (asprintf(&dir, "%s/layers/%s/diff", store_path, id + 7) < 0) {
            r = -ENOMEM;
            break;
        }
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            if (asprintf(ret_why, "%s: layer %s is missing from the store", ref, id) < 0)
                *ret_why = NULL;
            r = -ENOENT;
            break;
        }
        r = strv_extend(&img->lowers, dir);
        if (r >= 0)
            r = strv_extend(&img->diff_ids, id);
    }
    if (r == 0 && cfg) {
        if ((r = append_strings(&img->argv, member(cfg, "Entrypoint"))) >= 0 &&
            (r = append_strings(&img->argv, member(cfg, "Cmd"))) >= 0)
            r = append_strings(&img->env, member(cfg, "Env"));
        if (r == -EBADMSG)
            why(ret_why, r, path, "a config whose Entrypoint, Cmd or Env is no list of strings");
        json_object *wd = member(cfg, "WorkingDir"), *user = member(cfg, "User");
        const char *wds = wd && json_object_is_type(wd, json_type_string)
                              ? json_object_get_string(wd)
                              : NULL;
        if (r >= 0 && wds && *wds && !path_is_normalized_absolute(wds))
            r = why(ret_why, -EBADMSG, path, "the config's WorkingDir is no absolute path "
                                             "without . or ..");
        if (r >= 0 && wds && *wds && !(img->working_directory = strdup(wds)))
            r = -ENOMEM;
        if (r >= 0 && user && json_object_is_type(user, json_type_string) &&
            *json_object_get_string(user)) {
            const char *u = json_object_get_string(user), *colon = strchr(u, ':');
            img->user = colon ? strndup(u, (size_t) (colon - u)) : strdup(u);
            img->group = colon && colon[1] ? strdup(colon + 1) : NULL;
            if (!img->user || (colon && colon[1] && !img->group))
                r = -ENOMEM;
        }
    }
    json_object_put(rec);
    if (r < 0)
        return r;
    /* the record's mtime is the image's last use, for StoreMaxSize='s least recently used */
    (void) utimensat(AT_FDCWD, path, NULL, 0);
    *ret = TAKE_PTR(img);
    return 0;
}

int env_merge(char *const *env, char *const *overrides, char ***ret) {
    _cleanup_strv_free_ char **out = NULL;
    int r = strv_extend_strv(&out, env);
    if (r < 0)
        return r;
    STRV_FOREACH(o, overrides) {
        size_t n = strcspn(*o, "=");
        bool replaced = false;
        for (size_t i = 0; out && out[i]; i++)
            if (strncmp(out[i], *o, n) == 0 && out[i][n] == '=') {
                char *c = strdup(*o);
                if (!c)
                    return -ENOMEM;
                free(out[i]);
                out[i] = c;
                replaced = true;
                break;
            }
        if (!replaced && (r = strv_extend(&out, *o)) < 0)
            return r;
    }
    *ret = TAKE_PTR(out);
    return 0;
}

void image_info_free_many(ImageInfo *l, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(l[i].name);
        free(l[i].tag);
        free(l[i].created);
        free(l[i].id);
        strv_free(l[i].layers);
    }
    free(l);
}

static const char *string_member(json_object *o, const char *key) {
    json_object *v = member(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static uint64_t layer_size(const char *store_path, const char *diff_id) {
    _cleanup_free_ char *path = NULL, *text = NULL;
    if (!diff_id || strlen(diff_id) != 71 || strspn(diff_id + 7, "0123456789abcdef") != 64 ||
        asprintf(&path, "%s/layers/%s/size", store_path, diff_id + 7) < 0 ||
        read_file(path, 64, &text, NULL) < 0)
        return 0;
    return strtoull(text, NULL, 10);
}

int image_list(const char *store_path, ImageInfo **ret, size_t *ret_n) {
    _cleanup_free_ char *dir = NULL;
    ImageInfo *l = NULL;
    size_t n = 0;
    if (asprintf(&dir, "%s/images", store_path) < 0)
        return -ENOMEM;
    DIR *d = opendir(dir);
    if (!d) {
        *ret = NULL;
        *ret_n = 0;
        return errno == ENOENT ? 0 : -errno;
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        if (de->d_name[0] == '.' || !strchr(de->d_name, ':'))
            continue;
        if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
            r = -ENOMEM;
            break;
        }
        if (read_file(path, RECORD_MAX, &text, NULL) < 0)
            continue; /* removed meanwhile, or not a file: not an image */
        json_object *rec = json_tokener_parse(text);
        const char *name = string_member(rec, "name"), *tag = string_member(rec, "tag");
        json_object *layers = member(rec, "layers");
        if (!name || !tag || !layers || !json_object_is_type(layers, json_type_array)) {
            json_object_put(rec);
            continue;
        }
        ImageInfo *nl = reallocarray(l, n + 1, sizeof *l);
        if (!nl) {
            json_object_put(rec);
            r = -ENOMEM;
            break;
        }
        l = nl;
        const char *created = string_member(rec, "created") ?: "";
        const char *digest = string_member(rec, "source_digest") ?: "";
        l[n] = (ImageInfo){
            .name = strdup(name),
            .tag = strdup(tag),
            .created = strdup(created),
            .id = strndup(strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest, 12),
            .n_layers = (unsigned) json_object_array_length(layers),
        };
        for (size_t i = 0; i < l[n].n_layers; i++) {
            const char *id = json_object_get_string(json_object_array_get_idx(layers, i));
            l[n].size += layer_size(store_path, id);
            if (id && strv_extend(&l[n].layers, id) < 0)
                r = -ENOMEM;
        }
        json_object_put(rec);
        if (r < 0 || !l[n].name || !l[n].tag || !l[n].created || !l[n].id) {
            n++;
            r = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (r < 0) {
        image_info_free_many(l, n);
        return r;
    }
    /* what each has in common with the others: stored once, counted in both */
    for (size_t i = 0; i < n; i++)
        STRV_FOREACH(id, l[i].layers) {
            bool other = false;
            for (size_t j = 0; j < n && !other; j++)
                other = j != i && strv_contains(l[j].layers, *id);
            if (other)
                l[i].shared += layer_size(store_path, *id);
        }
    *ret = l;
    *ret_n = n;
    return 0;
}
