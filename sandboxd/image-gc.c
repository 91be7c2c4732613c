/* SPDX-License-Identifier: GPL-2.0-or-later */
/* StoreMaxSize=: what the store may take, kept by the worker's gc after each import, commit
 * and stop. The daemon says what is in use (the images unit files name, the layers running
 * sandboxes stand on); the worker removes the rest, least recently used first. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "path-util.h"
#include "sandbox.h"
#include "strv.h"
#include "unit.h"

int image_foreach_unit_file(Manager *m, void (*f)(const char *path, const char *image, void *ud),
                            void *userdata) {
    STRV_FOREACH(dir, m->config.unit_path) {
        _cleanup_closedir_ DIR *d = opendir(*dir);
        struct dirent *de;
        if (!d)
            continue;
        while ((de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n < 6 || !streq(de->d_name + n - 5, ".unit"))
                continue;
            _cleanup_free_ char *path = path_join(*dir, de->d_name);
            _cleanup_(unit_config_freep) UnitConfig *c = NULL;
            if (!path)
                return -ENOMEM;
            if (unit_load(path, &c, NULL) >= 0 && c->image)
                f(path, c->image, userdata);
        }
    }
    return 0;
}

static void keep_image(const char *path, const char *image, void *userdata) {
    char ***args = userdata;
    if (!strv_contains(*args, image))
        (void) (strv_extend(args, "--keep-image") >= 0 && strv_extend(args, image) >= 0);
}

static void gc_done(void *userdata, int r, const char *text) {
    Manager *m = userdata;
    m->image_gc_running = false;
    if (r < 0)
        log_warning("StoreMaxSize=: collecting the image store failed: %s", text);
    else if (strstr(text, "removed ") || strstr(text, "still "))
        for (const char *line = text; *line;) {
            const char *end = strchrnul(line, '\n');
            log_info("StoreMaxSize=: %.*s", (int) (end - line), line);
            line = *end ? end + 1 : end;
        }
    if (m->image_gc_again && !m->shutting_down) {
        m->image_gc_again = false;
        image_gc(m, NULL);
    }
}

void image_gc(Manager *m, const char *added) {
    _cleanup_strv_free_ char **args = NULL;
    char max[32];
    if (!m->config.daemon.store_max_size || m->shutting_down)
        return;
    if (m->image_gc_running) {
        m->image_gc_again = true;
        if (added && !strv_contains(m->image_gc_added, added))
            (void) strv_extend(&m->image_gc_added, added);
        return;
    }
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        Sandbox *s = m->sandboxes[i];
        if (!s->config || !s->config->image || s->state == SANDBOX_INACTIVE ||
            s->state == SANDBOX_FAILED)
            continue;
        if (!s->image) {
            log_info("StoreMaxSize=: not collecting while %s runs on layers this sandboxd did "
                     "not set up (re-adopted)", s->name);
            return;
        }
        keep_image(NULL, s->config->image, &args);
        STRV_FOREACH(id, s->image->diff_ids)
            if (strv_extend(&args, "--keep") < 0 || strv_extend(&args, *id) < 0)
                return;
    }
    if (image_foreach_unit_file(m, keep_image, &args) < 0)
        return;
    if (added)
        keep_image(NULL, added, &args);
    STRV_FOREACH(a, m->image_gc_added)
        keep_image(NULL, *a, &args);
    m->image_gc_added = strv_free(m->image_gc_added);
    snprintf(max, sizeof max, "%llu", (unsigned long long) m->config.daemon.store_max_size);
    if (strv_extend(&args, "gc") < 0 || strv_extend(&args, max) < 0)
        return;
    int r = image_worker_start(m, (const char *const *) args, -EBADF, gc_done, m);
    if (r < 0)
        log_warning("StoreMaxSize=: running %s: %s", m->config.image_worker, strerror(-r));
    else
        m->image_gc_running = true;
}
