/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Enabled units: ENABLED_DIR/NAME.unit, a symlink to the unit file (one of the unit path, or
 * any other path, as `systemctl link` does), made only for a file that loads without errors.
 * At start-up, once what still runs is adopted and the socket listens, every enabled unit that
 * is not running is started; STATUS= tells the progress. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "path-util.h"
#include "strv.h"

#define LINK_TARGET_MAX 4096

static int link_path(Manager *m, const char *name, char **ret) {
    _cleanup_free_ char *full = manager_complete_name(name);
    if (!full)
        return -ENOMEM;
    if (!unit_name_is_valid(full))
        return -EINVAL;
    *ret = path_join(m->config.enabled_dir, full);
    return *ret ? 0 : -ENOMEM;
}

/* The target of link (a symlink), or NULL if there is none. */
static char *read_link(const char *link) {
    char buf[LINK_TARGET_MAX + 1];
    ssize_t n = readlink(link, buf, sizeof buf);
    if (n <= 0 || n > LINK_TARGET_MAX)
        return NULL;
    buf[n] = 0;
    return strdup(buf);
}

int manager_enable_unit(Manager *m, const char *arg, char **ret_link, char **ret_target,
                        char ***ret_errors) {
    _cleanup_(unit_config_freep) UnitConfig *c = NULL;
    _cleanup_free_ char *link = NULL, *old = NULL, *tmp = NULL;
    *ret_link = *ret_target = NULL;
    int r = manager_load_config(m, arg, &c, ret_errors);
    if (r < 0)
        return r;
    if ((r = link_path(m, c->name, &link)) < 0)
        return r;
    struct stat st;
    if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode))
        return -EBADF; /* someone's file, not our link: not ours to replace */
    if ((old = read_link(link)) && streq(old, c->path))
        return 0; /* enabled already */
    if ((r = mkdir_p(m->config.enabled_dir, 0755)) < 0)
        return r;
    /* made beside it and renamed over it: a link to another file is replaced whole */
    if (asprintf(&tmp, "%s.%d.new", link, (int) getpid()) < 0)
        return -ENOMEM;
    (void) unlink(tmp); /* a crash's leftover */
    if (symlink(c->path, tmp) < 0)
        return -errno;
    if (rename(tmp, link) < 0) {
        r = -errno;
        (void) unlink(tmp);
        return r;
    }
    *ret_target = strdup(c->path);
    *ret_link = TAKE_PTR(link);
    return *ret_target ? 0 : -ENOMEM;
}

int manager_disable_unit(Manager *m, const char *name, char **ret_link) {
    _cleanup_free_ char *link = NULL;
    struct stat st;
    *ret_link = NULL;
    int r = link_path(m, name, &link);
    if (r < 0)
        return r;
    if (lstat(link, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISLNK(st.st_mode))
        return -EBADF; /* not ours to remove */
    if (unlink(link) < 0)
        return -errno;
    *ret_link = TAKE_PTR(link);
    return 0;
}

bool manager_unit_is_enabled(Manager *m, const char *name) {
    _cleanup_free_ char *link = NULL;
    struct stat st;
    return link_path(m, name, &link) >= 0 && lstat(link, &st) == 0 && S_ISLNK(st.st_mode);
}

static void notify_progress(Manager *m) {
    if (m->boot_done < m->boot_total)
        (void) sd_notifyf(0, "STATUS=Starting enabled units: %u/%u started%s", m->boot_done,
                          m->boot_total, m->boot_failed ? " (some failed)" : "");
    else if (m->boot_total)
        (void) sd_notifyf(0, "STATUS=Started %u of %u enabled units; processing requests...",
                          m->boot_total - m->boot_failed, m->boot_total);
    else
        (void) sd_notify(0, "STATUS=Processing requests...");
}

static void boot_started(Sandbox *s, void *userdata, int r, const char *message) {
    Manager *m = userdata;
    m->boot_done++;
    if (r < 0) {
        m->boot_failed++;
        log_error("enabled unit %s: the start failed: %s", s->name,
                  message ?: strerror(-r));
    }
    notify_progress(m);
    if (m->boot_done == m->boot_total)
        log_info("Started %u of %u enabled units.", m->boot_total - m->boot_failed,
                 m->boot_total);
}

/* One link of the enabled directory: the unit it names, loaded from its target; NULL (logged)
 * when it cannot be. */
static Sandbox *load_enabled(Manager *m, const char *name) {
    _cleanup_free_ char *link = path_join(m->config.enabled_dir, name), *target = NULL;
    _cleanup_strv_free_ char **errors = NULL;
    Sandbox *s = NULL;
    if (!link)
        return NULL;
    if (!(target = read_link(link))) {
        log_warning("%s: not a link to a unit file; ignored", link);
        return NULL;
    }
    /* the unit's name is its file's: a link that names another unit would start that one
     * under a name it does not have */
    const char *base = strrchr(target, '/');
    if (target[0] != '/' || !streq(base + 1, name)) {
        log_error("%s: links to %s, not to an absolute path of a file named %s; ignored", link,
                  target, name);
        return NULL;
    }
    int r = manager_load_unit(m, target, &s, &errors);
    if (r < 0) {
        STRV_FOREACH(e, errors)
            log_error("enabled unit %s: %s", name, *e);
        if (!errors)
            log_error_errno(r, "enabled unit %s: loading %s: %m", name, target);
        return NULL;
    }
    return s;
}

void manager_start_enabled(Manager *m) {
    _cleanup_closedir_ DIR *d = opendir(m->config.enabled_dir);
    _cleanup_strv_free_ char **names = NULL;
    struct dirent *de;
    if (!d) {
        if (errno != ENOENT)
            log_error_errno(errno, "reading %s: %m", m->config.enabled_dir);
        notify_progress(m);
        return;
    }
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && unit_name_is_valid(de->d_name) &&
            strv_extend(&names, de->d_name) < 0) {
            log_error("reading %s: out of memory", m->config.enabled_dir);
            return;
        }
    /* all loaded first, so the total is known before any start answers */
    Sandbox **todo = calloc(strv_length(names) + 1, sizeof *todo);
    size_t n = 0;
    if (!todo) {
        log_error("reading %s: out of memory", m->config.enabled_dir);
        return;
    }
    STRV_FOREACH(name, names) {
        Sandbox *s = load_enabled(m, *name);
        if (s && !sandbox_is_running(s) && s->state != SANDBOX_AUTO_RESTART)
            todo[n++] = s;
        else if (s)
            log_info("enabled unit %s runs already (adopted)", s->name);
    }
    m->boot_total = (unsigned) n;
    if (n)
        log_info("Starting %zu enabled unit%s.", n, n == 1 ? "" : "s");
    notify_progress(m);
    /* each a request of its own, so one that cannot be made spoils no other; their jobs
     * still wait for each other as After= says */
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *why = NULL;
        int r = manager_start_unit(m, todo[i], boot_started, m, &why);
        if (r < 0) /* no job was made: counted here */
            boot_started(todo[i], m, r, why);
    }
    free(todo);
}

#define UNIT_FILES_MAX 65536

typedef struct UnitFile {
    char *name, *path;
    size_t order; /* earlier in the unit path wins */
} UnitFile;

typedef struct UnitFiles {
    UnitFile *f;
    size_t n;
} UnitFiles;

static void unit_files_done(UnitFiles *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->f[i].name);
        free(l->f[i].path);
    }
    free(l->f);
}

static int unit_files_add(UnitFiles *l, const char *name, char *path /* takes */) {
    if (l->n >= UNIT_FILES_MAX) {
        free(path);
        return -E2BIG;
    }
    UnitFile *n = realloc(l->f, (l->n + 1) * sizeof *n);
    if (!n) {
        free(path);
        return -ENOMEM;
    }
    l->f = n;
    l->f[l->n] = (UnitFile){strdup(name), path, l->n};
    if (!l->f[l->n].name) {
        free(path);
        return -ENOMEM;
    }
    l->n++;
    return 0;
}

static int unit_file_cmp(const void *a, const void *b) {
    const UnitFile *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

int manager_list_unit_files(Manager *m, UnitFileFunc f, void *userdata) {
    _cleanup_(unit_files_done) UnitFiles l = {0};
    int r;
    STRV_FOREACH(dir, m->config.unit_path) {
        _cleanup_closedir_ DIR *d = opendir(*dir);
        struct dirent *de;
        if (!d)
            continue; /* a directory of the path that does not exist has no units */
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || !unit_name_is_valid(de->d_name) ||
                strlen(de->d_name) <= 5 || !streq(strchr(de->d_name, '\0') - 5, ".unit"))
                continue; /* a README or an editor's backup */
            char *p = path_join(*dir, de->d_name);
            struct stat st;
            if (!p)
                return -ENOMEM;
            if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
                free(p); /* a dangling link is no unit file */
                continue;
            }
            if ((r = unit_files_add(&l, de->d_name, p)) < 0)
                return r;
        }
    }
    /* units enabled by a link to a file outside the unit path come after the path's own */
    _cleanup_closedir_ DIR *d = opendir(m->config.enabled_dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        _cleanup_free_ char *link = NULL;
        char *target;
        if (de->d_name[0] == '.' || !unit_name_is_valid(de->d_name) ||
            !(link = path_join(m->config.enabled_dir, de->d_name)) || !(target = read_link(link)))
            continue;
        if ((r = unit_files_add(&l, de->d_name, target)) < 0)
            return r;
    }
    if (l.n)
        qsort(l.f, l.n, sizeof *l.f, unit_file_cmp);
    for (size_t i = 0; i < l.n; i++) {
        if (i > 0 && streq(l.f[i].name, l.f[i - 1].name))
            continue;
        if ((r = f(l.f[i].name, l.f[i].path, userdata)) < 0)
            return r;
    }
    return 0;
}
