/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "image.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image-ref.h"
#include "macro.h"
#include "path-util.h"
#include "strv.h"

#define RECORD_MAX (16U * 1024U * 1024U)

ResolvedImage *resolved_image_free(ResolvedImage *img) {
    if (img) {
        strv_free(img->lowers);
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
    }
    if (r == 0 && cfg) {
        if ((r = append_strings(&img->argv, member(cfg, "Entrypoint"))) >= 0 &&
            (r = append_strings(&img->argv, member(cfg, "Cmd"))) >= 0)
            r = append_strings(&img->env, member(cfg, "Env"));
        if (r == -EBADMSG)
            why(ret_why, r, path, "a config whose Entrypoint, Cmd or Env is no list of strings");
        json_object *wd = member(cfg, "WorkingDir"), *user = member(cfg, "User");
        if (r >= 0 && wd && json_object_is_type(wd, json_type_string) &&
            *json_object_get_string(wd) && !(img->working_directory =
                                                  strdup(json_object_get_string(wd))))
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
