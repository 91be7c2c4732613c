/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* The daemon's reading of the image store (src/image/store.h has the layout): what an
 * Image= unit runs on and the defaults its OCI config supplies. Reads only; imports run in
 * the worker (sandboxd-image). */

typedef struct ResolvedImage {
    char **lowers;           /* the layers' directories, lowest first */
    char **diff_ids;         /* theirs, in the same order */
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

/* Imports, run by the worker (ManagerConfig.image_worker) as a child of the daemon: its output
 * (stdout and stderr, at most 64 KiB kept) is collected from a pipe, and done(userdata, r,
 * text) is called once it has exited: r = 0 with its output, or a negative errno with its
 * error lines ("sandboxd-image: " stripped). source: an absolute path of a rootfs tarball, an
 * OCI layout directory, or DIR:REF. progress_fd (>= 0) gets the worker's progress lines. */
typedef struct Manager Manager;
typedef void (*ImageImportDone)(void *userdata, int r, const char *text);
int image_import_start(Manager *m, const char *source, const char *ref, int progress_fd,
                       ImageImportDone done, void *userdata);
/* Runs sandboxd-image --store STORE ARGS... the same way (args: NULL-terminated); pass_fd
 * (when >= 0) becomes the worker's fd 3 (--output-fd 3). */
int image_worker_start(Manager *m, const char *const *args, int pass_fd, ImageImportDone done,
                       void *userdata);
/* SIGKILLs the worker started with userdata; its done() follows when it is reaped. */
bool image_worker_kill(Manager *m, void *userdata);
/* From the daemon's reaper: true if pid was an import worker (then it is finished). */
bool image_import_on_exit(Manager *m, const siginfo_t *si);
/* At exit: answers every waiting caller with -ECANCELED (the workers run on). */
void image_import_cancel_all(Manager *m);

/* StoreMaxSize=: after an import, a commit or a stop, the worker's gc removes what nobody uses
 * (no unit file of the unit path names it, no sandbox runs on it), least recently used first,
 * until the store is under the limit, and the daemon logs what went. One at a time; a request
 * meanwhile runs once the current one is done. added: an image just imported or committed,
 * kept whatever its age (NULL: none). */
void image_gc(Manager *m, const char *added);
/* Calls f(path, image) for each unit file of the unit path with an Image= ("NAME:TAG"). */
int image_foreach_unit_file(Manager *m, void (*f)(const char *path, const char *image, void *ud),
                            void *userdata);

/* One line per image of the store at store_path: name, tag, layers, bytes (the layers'
 * unpacked sizes), of which shared with other images, created; *ret is an array of n
 * entries. */
typedef struct ImageInfo {
    char *name, *tag, *created, *id;
    unsigned n_layers;
    uint64_t size;
    uint64_t shared; /* bytes of layers another image (another name or tag) has too */
    char **layers;
} ImageInfo;
int image_list(const char *store_path, ImageInfo **ret, size_t *ret_n);
void image_info_free_many(ImageInfo *l, size_t n);
