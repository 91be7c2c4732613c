/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* The daemon's reading of the image store (src/image/store.h has the layout): what an
 * Image= unit runs on and the defaults its OCI config supplies. Reads only; imports run in
 * the worker (sandboxd-image). */

typedef struct ResolvedImage {
    char **lowers;           /* the layers' directories, lowest first */
    char **argv;             /* Entrypoint + Cmd; NULL: the config names neither */
    char **env;              /* Env, "NAME=value" */
    char *working_directory; /* WorkingDir; NULL: none */
    char *user, *group;      /* User ("user[:group]"); NULL: none */
} ResolvedImage;

ResolvedImage *resolved_image_free(ResolvedImage *img);
static inline void resolved_image_freep(ResolvedImage **img) {
    if (*img)
        resolved_image_free(*img);
}

/* Reads the record of ref ("NAME:TAG") from the store at store_path and checks that each of
 * its layers is complete there. -ENOENT when the store has no such image or a layer is
 * missing, -EBADMSG for a record that is not what the worker writes; *ret_why (free()) says
 * which. */
int image_resolve(const char *store_path, const char *ref, ResolvedImage **ret, char **ret_why);

/* *ret: env with each of overrides' NAME=value replacing the same NAME's (the unit's
 * Environment= wins over the image's Env), new names appended (NULL when both are empty). */
int env_merge(char *const *env, char *const *overrides, char ***ret);
