/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Commit and diff of a sandbox's rw layer. The worker (sandboxd-image commit|diff) reads the
 * layer; the daemon picks what it is compared with (the layers the sandbox was started on),
 * keeps the init layer's generated files out, freezes a running sandbox for a commit (so what
 * is read is one moment's tree and the payload cannot swap files under the walk) and thaws it
 * when the worker is done. While a commit reads the layer, the unit neither starts, stops nor
 * is cleaned (sandbox.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "macro.h"
#include "manager.h"
#include "path-util.h"
#include "sandbox.h"
#include "strv.h"

const char *const sandbox_init_layer_files[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf",
                                                NULL};

typedef struct LayerJob {
    Manager *manager;
    char *unit;
    bool frozen, commit, cancelled;
    ImageImportDone done;
    void *userdata;
} LayerJob;

static void layer_job_done(void *userdata, int r, const char *text) {
    LayerJob *j = userdata;
    Sandbox *s = manager_find(j->manager, j->unit);
    _cleanup_free_ char *why = NULL;
    if (s && j->frozen && s->cgroup) {
        int k = cg_freeze(s->cgroup, false);
        if (k < 0)
            log_error("%s: thawing %s after the commit: %s", s->name,
                      cg_display_path(s->cgroup), strerror(-k));
    }
    if (s && j->commit && s->commit == j)
        s->commit = NULL;
    if (j->cancelled && r < 0 && asprintf(&why, "the commit was cancelled: %s was stopped",
                                          j->unit) < 0)
        why = NULL;
    j->done(j->userdata, r, why ?: text);
    free(j->unit);
    free(j);
}

void sandbox_cancel_commit(Sandbox *s) {
    LayerJob *j = s->commit;
    if (!j)
        return;
    j->cancelled = true;
    (void) image_worker_kill(s->manager, j);
}

int sandbox_layer_job_start(Sandbox *s, bool commit, const char *ref, int out_fd,
                            ImageImportDone done, void *userdata, char **ret_why) {
    Manager *m = s->manager;
    _cleanup_strv_free_ char **args = NULL;
    _cleanup_free_ char *upper = NULL;
    struct stat st;
    int r;

    if (!s->config || !s->config->image)
        return asprintf(ret_why, "%s has no Image=: %s compares a rw layer with an image",
                        s->name, commit ? "commit" : "diff") < 0
                   ? -ENOMEM
                   : -EINVAL;
    if (s->state == SANDBOX_STARTING || s->state == SANDBOX_STOPPING ||
        s->state == SANDBOX_AUTO_RESTART || (commit && s->commit))
        return asprintf(ret_why, "%s is %s; try again once it runs or is stopped", s->name,
                        s->commit ? "being committed" : sandbox_sub_state(s)) < 0
                   ? -ENOMEM
                   : -EBUSY;
    if (asprintf(&upper, "%s/sandboxes/%s/upper", m->config.state_dir, s->name) < 0)
        return -ENOMEM;
    if (lstat(upper, &st) < 0 || !S_ISDIR(st.st_mode))
        return asprintf(ret_why, "%s has no rw layer (never started, ReadOnly=yes, or cleaned)",
                        s->name) < 0
                   ? -ENOMEM
                   : -ENOENT;

    STRV_FOREACH(f, (char **) sandbox_init_layer_files)
        if ((r = strv_extend(&args, "--exclude")) < 0 || (r = strv_extend(&args, *f)) < 0)
            return r;
    /* the layers it was started on, which a later import under the same name may not list */
    if (s->image)
        STRV_FOREACH(id, s->image->diff_ids)
            if ((r = strv_extend(&args, "--base-layer")) < 0 || (r = strv_extend(&args, *id)) < 0)
                return r;
    if (commit) {
        _cleanup_free_ char *by = NULL;
        char num[32];
        /* the host id of a user-namespaced sandbox's root: its files' owners are shifted back */
        uint32_t base = s->userns_base ?: (s->config->namespaces & NS_USER)
                                              ? sandbox_userns_base(s->name)
                                              : 0;
        snprintf(num, sizeof num, "%u", base);
        if (base && (strv_extend(&args, "--id-base") < 0 || strv_extend(&args, num) < 0))
            return -ENOMEM;
        snprintf(num, sizeof num, "%llu", (unsigned long long) m->config.daemon.import_max_size);
        if (m->config.daemon.import_max_size &&
            (strv_extend(&args, "--max-bytes") < 0 || strv_extend(&args, num) < 0))
            return -ENOMEM;
        if (asprintf(&by, "sandboxctl commit %s", s->name) < 0 ||
            strv_extend(&args, "--created-by") < 0 || strv_extend(&args, by) < 0 ||
            strv_extend(&args, "commit") < 0)
            return -ENOMEM;
    } else if (strv_extend(&args, "--output-fd") < 0 || strv_extend(&args, "3") < 0 ||
               strv_extend(&args, "diff") < 0)
        return -ENOMEM;
    if (strv_extend(&args, upper) < 0 || strv_extend(&args, s->config->image) < 0 ||
        (commit && strv_extend(&args, ref) < 0))
        return -ENOMEM;

    LayerJob *j = calloc(1, sizeof *j);
    if (!j || !(j->unit = strdup(s->name))) {
        free(j);
        return -ENOMEM;
    }
    j->manager = m;
    j->done = done;
    j->userdata = userdata;
    if (commit && s->state == SANDBOX_ACTIVE) {
        if (!s->cgroup)
            r = -ENOENT;
        else
            r = cg_freeze(s->cgroup, true);
        if (r < 0) {
            free(j->unit);
            free(j);
            return asprintf(ret_why, "freezing %s for the commit: %s%s", s->name, strerror(-r),
                            r == -EOPNOTSUPP ? " (no cgroup2 hierarchy here): stop it first"
                                             : "") < 0
                       ? -ENOMEM
                       : r;
        }
        j->frozen = true;
    }
    if (commit) {
        j->commit = true;
        s->commit = j;
    }
    r = image_worker_start(m, (const char *const *) args, commit ? -EBADF : out_fd,
                           layer_job_done, j);
    if (r < 0) {
        layer_job_done(j, r, ""); /* thaws; the caller's done is told */
        return 0;
    }
    if (j->frozen)
        sandbox_log_event(s, "Frozen while its rw layer is committed as %s.", ref);
    return 0;
}
