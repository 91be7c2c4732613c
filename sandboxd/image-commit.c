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
#include "time-util.h"
#include "macro.h"
#include "manager.h"
#include "path-util.h"
#include "sandbox.h"
#include "strv.h"

const char *const sandbox_init_layer_files[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf",
                                                NULL};

/* How long a freeze may take (a task in an uninterruptible sleep holds it up), polled from the
 * event loop so that nothing else waits meanwhile. */
#define FREEZE_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define FREEZE_POLL_USEC (2 * USEC_PER_MSEC)

typedef struct LayerJob {
    Manager *manager;
    char *unit;
    bool frozen, commit, cancelled;
    char **args;                /* the worker's, once the sandbox is frozen */
    char *ref;
    sd_event_source *freezing;  /* polls until frozen; the worker has not started yet */
    uint64_t freeze_deadline;
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
    sd_event_source_disable_unref(j->freezing);
    strv_free(j->args);
    free(j->ref);
    free(j->unit);
    free(j);
}

static void run_worker(LayerJob *j, int out_fd) {
    int r = image_worker_start(j->manager, (const char *const *) j->args, out_fd, layer_job_done,
                               j);
    if (r < 0) {
        _cleanup_free_ char *why = NULL;
        if (asprintf(&why, "running %s: %s", j->manager->config.image_worker, strerror(-r)) < 0)
            why = NULL;
        layer_job_done(j, r, why ?: ""); /* thaws; the caller's done is told */
    }
}

static int on_freeze_tick(sd_event_source *src, uint64_t usec, void *userdata) {
    LayerJob *j = userdata;
    Sandbox *s = manager_find(j->manager, j->unit);
    int r = s && s->cgroup ? cg_is_frozen(s->cgroup) : -ENOENT;
    if (r > 0) {
        j->freezing = sd_event_source_disable_unref(j->freezing);
        sandbox_log_event(s, "Frozen while its rw layer is committed as %s.", j->ref);
        run_worker(j, -EBADF);
        return 0;
    }
    uint64_t now = now_usec(CLOCK_MONOTONIC);
    if (r == 0 && now < j->freeze_deadline) {
        r = sd_event_source_set_time(src, now + FREEZE_POLL_USEC);
        if (r >= 0)
            r = sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        if (r >= 0)
            return 0;
    }
    _cleanup_free_ char *why = NULL;
    if (asprintf(&why, "freezing %s for the commit: %s", j->unit,
                 r < 0 ? strerror(-r) : "its tasks did not all stop within 2 s (one may be in "
                                        "an uninterruptible sleep); stop it first") < 0)
        why = NULL;
    layer_job_done(j, r < 0 ? r : -ETIMEDOUT, why ?: "");
    return 0;
}

void sandbox_cancel_commit(Sandbox *s) {
    LayerJob *j = s->commit;
    if (!j)
        return;
    j->cancelled = true;
    if (j->freezing) /* no worker yet: done now */
        layer_job_done(j, -ECANCELED, "");
    else
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
    if (!j || !(j->unit = strdup(s->name)) || (ref && !(j->ref = strdup(ref)))) {
        if (j)
            free(j->unit);
        free(j);
        return -ENOMEM;
    }
    j->manager = m;
    j->done = done;
    j->userdata = userdata;
    j->args = TAKE_PTR(args);
    if (commit) {
        j->commit = true;
        s->commit = j;
    }
    if (!commit || s->state != SANDBOX_ACTIVE) {
        run_worker(j, commit ? -EBADF : out_fd);
        return 0;
    }
    /* running: frozen first, the worker started once every task has stopped */
    r = s->cgroup ? cg_freeze(s->cgroup, true) : -ENOENT;
    if (r >= 0) {
        j->frozen = true;
        j->freeze_deadline = now_usec(CLOCK_MONOTONIC) + FREEZE_TIMEOUT_USEC;
        r = sd_event_add_time_relative(m->event, &j->freezing, CLOCK_MONOTONIC, 0, 0,
                                       on_freeze_tick, j);
    }
    if (r < 0) {
        _cleanup_free_ char *why = NULL;
        if (asprintf(&why, "freezing %s for the commit: %s%s", s->name, strerror(-r),
                     r == -EOPNOTSUPP ? " (no cgroup2 hierarchy here): stop it first" : "") < 0)
            why = NULL;
        layer_job_done(j, r, why ?: "");
    }
    return 0;
}
