/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The org.sandboxd1.Manager interface, served peer-to-peer on a private socket (no dbus-daemon
 * is needed). Each handler reads and checks its arguments, asks the manager, and turns negative
 * errnos into named errors a person can act on. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "escape-util.h"
#include "image-ref.h"
#include "image.h"
#include "job.h"
#include "log.h"
#include "plan.h"
#include "manager.h"
#include "path-util.h"
#include "peer-util.h"
#include "process-util.h"
#include "sandbox-bus.h"
#include "strv.h"
#include "time-util.h"
#include "utf8.h"

#define LOG_TAIL_MAX_BYTES (1024 * 1024)

/* A subscriber that lets this many messages queue up unread is dropped: a client that does
 * not read must not grow the daemon without bound. */
#define SUBSCRIBER_QUEUE_MAX 256
/* and the kernel holds this much of what it has not read: a small buffer for an event stream */
#define SUBSCRIBER_SNDBUF (64 * 1024)

struct Connection {
    Manager *manager;
    sd_bus *bus;
    sd_event_source *auth_source; /* see on_authenticated() */
    bool subscribed;              /* Subscribe(): gets UnitStateChanged */
    Connection *next;
};

static void connection_free(Connection *c) {
    Manager *m = c->manager;
    for (Connection **p = &m->connections; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    sd_event_source_disable_unref(c->auth_source);
    sd_bus_flush_close_unref(c->bus);
    free(c);
}

void manager_bus_free_all(Manager *m) {
    while (m->connections)
        connection_free(m->connections);
}

/* Defence in depth: the socket is 0600 already. */
static int check_root(sd_bus_message *msg, sd_bus_error *error) {
    _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
    uid_t euid;
    int r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
    if (r >= 0)
        r = sd_bus_creds_get_euid(creds, &euid);
    if (r < 0 || euid != 0)
        return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "only root may do this");
    return 0;
}

/* D-Bus strings must be valid UTF-8, and sd-bus refuses the whole message for one bad string: a
 * single unit's text once made `list` and `status` fail for every unit. Every string that is
 * not a constant or the caller's own argument goes out through here. */
_printf_(3, 4) static int error_set_text(sd_bus_error *error, const char *name, const char *fmt,
                                         ...) {
    _cleanup_free_ char *text = NULL, *escaped = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (r < 0 || !(escaped = utf8_escape_invalid(text)))
        return -ENOMEM;
    return sd_bus_error_set(error, name, escaped);
}

/* A reply to msg that opens an array of contents: the list methods' start. */
static int array_reply(sd_bus_message *msg, const char *contents, sd_bus_message **reply) {
    int r = sd_bus_message_new_method_return(msg, reply);
    return r < 0 ? r : sd_bus_message_open_container(*reply, 'a', contents);
}

static int load_error(sd_bus_error *error, const char *arg, int r, char **errors) {
    if (errors) {
        _cleanup_free_ char *text = strv_join(errors, "\n");
        strv_free(errors);
        if (!text)
            return -ENOMEM;
        return error_set_text(error, SANDBOXD_ERROR_BAD_UNIT, "%s", text);
    }
    switch (r) {
    case -ENOENT:
        return sd_bus_error_setf(error, SANDBOXD_ERROR_NO_SUCH_UNIT,
                                 "unit %s not found (searched the unit path, or no such file)",
                                 arg);
    case -EEXIST:
        return sd_bus_error_setf(error, SANDBOXD_ERROR_UNIT_BUSY,
                                 "a unit named after %s, from another file, is running", arg);
    case -EINVAL:
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "'%s' is neither a valid unit name nor an absolute path", arg);
    default:
        return sd_bus_error_set_errnof(error, -r, "loading %s: %s", arg, strerror(-r));
    }
}

static Sandbox *lookup(Manager *m, const char *name) {
    Sandbox *s = manager_find(m, name);
    if (!s && !strchr(name, '.')) {
        _cleanup_free_ char *full = NULL;
        if (asprintf(&full, "%s.unit", name) >= 0)
            s = manager_find(m, full);
    }
    return s;
}

/* A loaded unit, else the unit loaded now from the unit path (or an absolute path): every verb
 * knows a unit by name on its first mention, as systemctl does. Returns > 0 with *ret set, or
 * what the method must return. */
static int find_or_load(Manager *m, const char *arg, Sandbox **ret, sd_bus_error *error) {
    char **errors = NULL;
    if ((*ret = lookup(m, arg)))
        return 1;
    int r = manager_load_unit(m, arg, ret, &errors);
    return r < 0 ? load_error(error, arg, r, errors) : 1;
}

/* The common head of the methods that take a unit's name: authorise, read, find or load.
 * Returns > 0 with *ret set, or what the method must return. */
static int read_unit(sd_bus_message *msg, Manager *m, sd_bus_error *error, Sandbox **ret) {
    const char *name;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    r = sd_bus_message_read(msg, "s", &name);
    if (r < 0)
        return r;
    return find_or_load(m, name, ret, error);
}

/* The answer to a StartUnit or StopUnit call, once the sandbox's job is done; userdata is the
 * call, referenced while it waits. */
static void job_done(Sandbox *s, void *userdata, int r, const char *message) {
    sd_bus_message *msg = userdata;
    bool start = !streq(sd_bus_message_get_member(msg), "StopUnit"); /* or RestartUnit */
    /* a start error may quote a host path that is not UTF-8, which D-Bus cannot carry */
    _cleanup_free_ char *text = utf8_escape_invalid(message ? message : strerror(-r));
    if (r == 0)
        (void) (start ? sd_bus_reply_method_return(msg, "s", s->name)
                      : sd_bus_reply_method_return(msg, NULL));
    else
        (void) sd_bus_reply_method_errorf(msg,
                                          r == -EAGAIN      ? SANDBOXD_ERROR_START_LIMIT_HIT
                                          : r == -EBUSY     ? SANDBOXD_ERROR_UNIT_BUSY
                                          : r == -ESHUTDOWN ? SANDBOXD_ERROR_SHUTTING_DOWN
                                                            : SANDBOXD_ERROR_START_FAILED,
                                          "%s", text ? text : "out of memory");
    sd_bus_message_unref(msg);
}

int manager_bus_start(Sandbox *s, sd_bus_message *reply, char **ret_why) {
    int r = manager_start_unit(s->manager, s, reply ? job_done : NULL,
                               sd_bus_message_ref(reply), ret_why);
    if (r < 0)
        sd_bus_message_unref(reply); /* no job was made: the caller answers */
    return r;
}

/* A start or stop request that could not be made: why names the unit file, line and key. */
static int request_error(sd_bus_error *error, int r, const char *what, const Sandbox *s,
                         const char *why) {
    if (why)
        return error_set_text(error, r == -ENOENT ? SANDBOXD_ERROR_NO_SUCH_UNIT
                                     : r == -ELOOP || r == -EDEADLK
                                         ? SANDBOXD_ERROR_START_FAILED
                                         : SANDBOXD_ERROR_BAD_UNIT,
                              "%s %s: %s", what, s->name, why);
    return sd_bus_error_set_errnof(error, -r, "%s %s: %s", what, s->name, strerror(-r));
}

/* The common head of StartUnit and RestartUnit: authorise, read the name or path, refuse
 * while shutting down. Returns > 0 with *ret set, or what the method must return. */
static int read_start_arg(sd_bus_message *msg, Manager *m, sd_bus_error *error,
                          const char **ret) {
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    r = sd_bus_message_read(msg, "s", ret);
    if (r < 0)
        return r;
    if (m->shutting_down)
        return sd_bus_error_set(error, SANDBOXD_ERROR_SHUTTING_DOWN, "sandboxd is shutting down");
    return 1;
}

static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *arg;
    char **errors = NULL;
    Sandbox *s;
    int r = read_start_arg(msg, m, error, &arg);
    if (r <= 0)
        return r;
    r = manager_load_unit(m, arg, &s, &errors);
    if (r < 0)
        return load_error(error, arg, r, errors);
    _cleanup_free_ char *why = NULL;
    r = manager_bus_start(s, msg, &why);
    if (r < 0)
        return request_error(error, r, "starting", s, why);
    return 1; /* answered once the start and what it pulled in are done */
}

static int method_restart(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *arg;
    char **errors = NULL;
    int r = read_start_arg(msg, m, error, &arg);
    if (r <= 0)
        return r;
    r = manager_restart_unit(m, arg, msg, &errors);
    if (r < 0 && (errors || r == -ENOENT || r == -EEXIST || r == -EINVAL))
        return load_error(error, arg, r, errors);
    if (r < 0)
        return sd_bus_error_set_errnof(error, -r, "restarting %s: %s", arg, strerror(-r));
    return 1; /* answered once the new instance runs, or its start failed */
}

static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Sandbox *s;
    int r = read_unit(msg, userdata, error, &s);
    if (r <= 0)
        return r;
    _cleanup_free_ char *why = NULL;
    r = manager_stop_unit(s->manager, s, job_done, sd_bus_message_ref(msg), &why);
    if (r < 0) {
        sd_bus_message_unref(msg);
        return request_error(error, r, "stopping", s, why);
    }
    return 1;
}

static int method_kill(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Sandbox *s;
    const char *whom;
    int32_t sig;
    int r = read_unit(msg, userdata, error, &s);
    if (r <= 0)
        return r;
    if ((r = sd_bus_message_read(msg, "si", &whom, &sig)) < 0)
        return r;
    if (!streq(whom, "main") && !streq(whom, "all"))
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "kill whom '%s': expected main or all", whom);
    if (sig <= 0 || sig >= _NSIG)
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "signal %d: out of range",
                                 (int) sig);
    r = sandbox_kill(s, streq(whom, "all"), sig);
    if (r == -ESRCH)
        return sd_bus_error_setf(error, SANDBOXD_ERROR_UNIT_BUSY, "%s does not run%s", s->name,
                                 streq(whom, "main") && sandbox_is_running(s)
                                     ? " a main process of its own any more" : "");
    if (r < 0)
        return sd_bus_error_set_errnof(error, -r, "killing %s: %s", s->name, strerror(-r));
    sandbox_log_event(s, "Sent %s to %s.", signal_to_string(sig),
                      streq(whom, "all") ? "every process" : "the main process");
    return sd_bus_reply_method_return(msg, NULL);
}

static int method_reset_failed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Sandbox *s;
    int r = read_unit(msg, userdata, error, &s);
    if (r <= 0)
        return r;
    sandbox_reset_failed(s);
    return sd_bus_reply_method_return(msg, NULL);
}

static int method_clean(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Sandbox *s;
    int r = read_unit(msg, userdata, error, &s);
    if (r <= 0)
        return r;
    r = sandbox_clean(s);
    if (r == -EBUSY)
        return sd_bus_error_setf(error, SANDBOXD_ERROR_UNIT_BUSY,
                                 "%s is running; stop it before cleaning its state", s->name);
    if (r < 0)
        return sd_bus_error_set_errnof(error, -r, "cleaning %s: %s", s->name, strerror(-r));
    sandbox_log_event(s, "Cleaned: rw layer and runtime state removed.");
    return sd_bus_reply_method_return(msg, NULL);
}

/* The worker's output, for a bus string: valid UTF-8, no terminal controls. */
static void on_import_done(void *userdata, int r, const char *text) {
    sd_bus_message *msg = userdata;
    size_t n = strlen(text);
    while (r < 0 && n > 0 && text[n - 1] == '\n') /* the caller ends the message its way */
        n--;
    _cleanup_free_ char *shown = escape_terminal(text, n, ESCAPE_KEEP_NEWLINE);
    if (r < 0)
        (void) sd_bus_reply_method_errorf(msg, SANDBOXD_ERROR_IMPORT_FAILED, "%s",
                                          shown ?: "the import failed");
    else
        (void) sd_bus_reply_method_return(msg, "s", shown ?: "");
    sd_bus_message_unref(msg);
}

/* Runs the worker with args; msg is answered with its output when it exits. */
static int run_worker(Manager *m, sd_bus_message *msg, const char *const *args,
                      sd_bus_error *error) {
    int r = image_worker_start(m, args, -EBADF, on_import_done, sd_bus_message_ref(msg));
    if (r < 0) {
        sd_bus_message_unref(msg);
        return error_set_text(error, SD_BUS_ERROR_FAILED, "running %s: %s",
                              m->config.image_worker, strerror(-r));
    }
    return 1;
}

/* ImportImage(source, ref), ImportImageWithProgress(source, ref, fd): answered when the worker
 * has finished (sandboxd/image-import.c); the second hands fd to the worker for its progress
 * lines. */
static int method_import(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *source, *ref, *why = NULL;
    _cleanup_free_ char *name = NULL, *tag = NULL;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    int progress_fd = -EBADF;
    if ((r = sd_bus_message_read(msg, "ss", &source, &ref)) < 0)
        return r;
    if (streq(sd_bus_message_get_member(msg), "ImportImageWithProgress") &&
        (r = sd_bus_message_read(msg, "h", &progress_fd)) < 0)
        return r;
    if (source[0] != '/')
        return error_set_text(error, SD_BUS_ERROR_INVALID_ARGS, "%s: not an absolute path",
                              source);
    if ((r = image_ref_split(ref, &name, &tag, &why)) < 0)
        return r == -EINVAL ? error_set_text(error, SD_BUS_ERROR_INVALID_ARGS, "%s: %s", ref, why)
                            : r;
    r = image_import_start(m, source, ref, progress_fd, on_import_done, sd_bus_message_ref(msg));
    if (r < 0) {
        sd_bus_message_unref(msg);
        if (r == -EINVAL)
            return error_set_text(error, SANDBOXD_ERROR_IMPORT_FAILED,
                                  "%s: a plain directory (no oci-layout file) is a root file "
                                  "system: it has no ':REF' to pick", source);
        return error_set_text(error, SANDBOXD_ERROR_IMPORT_FAILED, "%s: %s", source,
                              strerror(-r));
    }
    return 1;
}

/* "NAME:TAG" of ref, or a bus error. */
static int normalized_ref(const char *ref, char **ret, sd_bus_error *error) {
    _cleanup_free_ char *name = NULL, *tag = NULL;
    const char *why = NULL;
    int r = image_ref_split(ref, &name, &tag, &why);
    if (r == -EINVAL)
        return error_set_text(error, SD_BUS_ERROR_INVALID_ARGS, "%s: %s", ref, why);
    if (r < 0 || asprintf(ret, "%s:%s", name, tag) < 0)
        return -ENOMEM;
    return 0;
}

typedef struct FilesUsing {
    const char *ref;
    char *list; /* paths, joined with ", " */
} FilesUsing;

static void add_if_using(const char *path, const char *image, void *userdata) {
    FilesUsing *u = userdata;
    char *next;
    if (streq(image, u->ref) &&
        asprintf(&next, "%s%s%s", u->list ?: "", u->list ? ", " : "", path) >= 0) {
        free(u->list);
        u->list = next;
    }
}

/* The unit files of the unit path whose Image= is ref, joined with ", " (NULL: none). */
static char *unit_files_using(Manager *m, const char *ref) {
    FilesUsing u = {.ref = ref};
    (void) image_foreach_unit_file(m, add_if_using, &u);
    return u.list;
}

/* RemoveImage(ref, force): refused while a running sandbox uses the image, and while a unit
 * file of the unit path names it unless force; the record goes, its layers at the next
 * prune. */
static int method_remove_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *ref;
    int force;
    _cleanup_free_ char *norm = NULL, *files = NULL;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "sb", &ref, &force)) < 0 ||
        (r = normalized_ref(ref, &norm, error)) < 0)
        return r;
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        Sandbox *s = m->sandboxes[i];
        if (sandbox_is_running(s) && s->config->image && streq(s->config->image, norm))
            return error_set_text(error, SANDBOXD_ERROR_UNIT_BUSY,
                                  "%s is used by %s, which is running; stop it first", norm,
                                  s->name);
    }
    if (!force && (files = unit_files_using(m, norm)))
        return error_set_text(error, SANDBOXD_ERROR_UNIT_BUSY,
                              "%s is named by Image= in %s (--force removes it anyway)", norm,
                              files);
    const char *args[] = {"remove", norm, NULL};
    return run_worker(m, msg, args, error);
}

static int method_tag_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    const char *src, *dst;
    _cleanup_free_ char *nsrc = NULL, *ndst = NULL;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "ss", &src, &dst)) < 0 ||
        (r = normalized_ref(src, &nsrc, error)) < 0 || (r = normalized_ref(dst, &ndst, error)) < 0)
        return r;
    const char *args[] = {"tag", nsrc, ndst, NULL};
    return run_worker(userdata, msg, args, error);
}

static int method_inspect_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    const char *ref;
    _cleanup_free_ char *norm = NULL;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "s", &ref)) < 0 ||
        (r = normalized_ref(ref, &norm, error)) < 0)
        return r;
    const char *args[] = {"inspect", norm, NULL};
    return run_worker(userdata, msg, args, error);
}

/* PruneImages(): the layers of running sandboxes stay even if no record lists them now. */
static int method_prune_images(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_strv_free_ char **args = NULL;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        Sandbox *s = m->sandboxes[i];
        if (!sandbox_is_running(s) || !s->config->image)
            continue;
        /* re-adopted after a daemon restart: which layers it stands on is not known here
         * (the record may have been replaced since its start), so nothing is pruned */
        if (!s->image)
            return error_set_text(error, SANDBOXD_ERROR_UNIT_BUSY,
                                  "%s runs on an image whose layers this sandboxd did not "
                                  "set up (re-adopted); restart or stop it before a prune",
                                  s->name);
        STRV_FOREACH(id, s->image->diff_ids)
            if (strv_extend(&args, "--keep") < 0 || strv_extend(&args, *id) < 0)
                return -ENOMEM;
    }
    if (strv_extend(&args, "prune") < 0)
        return -ENOMEM;
    return run_worker(m, msg, (const char *const *) args, error);
}

static int layer_job_error(sd_bus_error *error, int r, const char *why) {
    return error_set_text(error,
                          r == -EBUSY    ? SANDBOXD_ERROR_UNIT_BUSY
                          : r == -EINVAL ? SD_BUS_ERROR_INVALID_ARGS
                                         : SD_BUS_ERROR_FAILED,
                          "%s", why ?: strerror(-r));
}

/* CommitUnit(unit, ref): the unit's rw layer as a new image on top of its own; a running
 * sandbox is frozen meanwhile. Answered when the worker is done. */
static int method_commit(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *unit, *ref;
    _cleanup_free_ char *norm = NULL, *why = NULL;
    Sandbox *s;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "ss", &unit, &ref)) < 0 ||
        (r = normalized_ref(ref, &norm, error)) < 0 || (r = find_or_load(m, unit, &s, error)) <= 0)
        return r;
    r = sandbox_layer_job_start(s, true, norm, -EBADF, on_import_done, sd_bus_message_ref(msg),
                                &why);
    if (r < 0) {
        sd_bus_message_unref(msg);
        return layer_job_error(error, r, why);
    }
    return 1;
}

/* DiffUnit(unit, fd): "A|C|D PATH" lines written to fd by the worker. */
static int method_diff(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *unit;
    _cleanup_free_ char *why = NULL;
    Sandbox *s;
    int fd;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "sh", &unit, &fd)) < 0 ||
        (r = find_or_load(m, unit, &s, error)) <= 0)
        return r;
    r = sandbox_layer_job_start(s, false, NULL, fd, on_import_done, sd_bus_message_ref(msg), &why);
    if (r < 0) {
        sd_bus_message_unref(msg);
        return layer_job_error(error, r, why);
    }
    return 1;
}

/* ExportImage(ref, fd): an OCI layout tar written to fd by the worker. */
static int method_export_image(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *ref;
    _cleanup_free_ char *norm = NULL;
    int fd;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "sh", &ref, &fd)) < 0 ||
        (r = normalized_ref(ref, &norm, error)) < 0)
        return r;
    const char *args[] = {"--output-fd", "3", "export", norm, NULL};
    r = image_worker_start(m, args, fd, on_import_done, sd_bus_message_ref(msg));
    if (r < 0) {
        sd_bus_message_unref(msg);
        return error_set_text(error, SD_BUS_ERROR_FAILED, "running %s: %s",
                              m->config.image_worker, strerror(-r));
    }
    return 1;
}

/* EnableUnits(units): links each (name or absolute path) into the enabled directory once its
 * file loads without errors; all or nothing is checked first. Answers the links made. */
static int method_enable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_strv_free_ char **units = NULL;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read_strv(msg, &units)) < 0)
        return r;
    /* every file checked before any link is made */
    STRV_FOREACH(u, units) {
        _cleanup_(unit_config_freep) UnitConfig *c = NULL;
        char **errors = NULL;
        if ((r = manager_load_config(m, *u, &c, &errors)) < 0)
            return load_error(error, *u, r, errors);
    }
    r = array_reply(msg, "(ss)", &reply);
    STRV_FOREACH(u, units) {
        _cleanup_free_ char *link = NULL, *target = NULL;
        char **errors = NULL;
        if (r < 0)
            break;
        r = manager_enable_unit(m, *u, &link, &target, &errors);
        if (r < 0 && (errors || r == -ENOENT || r == -EINVAL))
            return load_error(error, *u, r, errors);
        if (r < 0)
            return sd_bus_error_set_errnof(error, -r, "enabling %s: %s", *u,
                                           r == -EBADF ? "its entry in the enabled directory "
                                                         "is not a link; remove it by hand"
                                                       : strerror(-r));
        /* known from now on: list and show it (a running one keeps its configuration) */
        Sandbox *s;
        char **load_errors = NULL;
        if (manager_load_unit(m, target ?: *u, &s, &load_errors) < 0)
            strv_free(load_errors);
        if (link) {
            _cleanup_free_ char *shown = utf8_escape_invalid(target);
            log_info("Enabled %s: %s -> %s.", *u, link, target);
            r = shown ? sd_bus_message_append(reply, "(ss)", link, shown) : -ENOMEM;
        }
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* DisableUnits(names): removes their links; answers the links removed. */
static int method_disable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_strv_free_ char **units = NULL, **removed = NULL;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read_strv(msg, &units)) < 0)
        return r;
    STRV_FOREACH(u, units) {
        _cleanup_free_ char *link = NULL;
        r = manager_disable_unit(m, *u, &link);
        if (r == -EINVAL)
            return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                     "'%s' is not a valid unit name", *u);
        if (r < 0)
            return sd_bus_error_set_errnof(error, -r, "disabling %s: %s", *u,
                                           r == -EBADF ? "its entry in the enabled directory "
                                                         "is not a link; remove it by hand"
                                                       : strerror(-r));
        if (link) {
            log_info("Disabled %s: removed %s.", *u, link);
            if ((r = strv_consume(&removed, TAKE_PTR(link))) < 0)
                return r;
        }
    }
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    r = sd_bus_message_new_method_return(msg, &reply);
    if (r >= 0)
        r = sd_bus_message_append_strv(reply, removed);
    return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_is_enabled(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    const char *name;
    _cleanup_free_ char *full = NULL;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "s", &name)) < 0)
        return r;
    if (!(full = manager_complete_name(name)))
        return -ENOMEM;
    if (!unit_name_is_valid(full))
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "'%s' is not a valid unit name", name);
    return sd_bus_reply_method_return(msg, "s", manager_unit_is_enabled(userdata, full)
                                                    ? "enabled"
                                                    : "disabled");
}

/* CatUnit: the file a unit name stands for, as its bytes (a name, never a path: the daemon
 * reads as root, and is no reader of arbitrary files for its callers). */
static int method_cat(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_free_ char *path = NULL, *text = NULL;
    const char *name;
    size_t len;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "s", &name)) < 0)
        return r;
    if (strchr(name, '/'))
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "'%s': cat takes unit names, not paths", name);
    r = manager_find_unit_file(m, name, &path);
    if (r < 0)
        return load_error(error, name, r, NULL);
    r = read_file(path, 1024 * 1024, &text, &len);
    if (r < 0)
        return error_set_text(error, SD_BUS_ERROR_FAILED, "reading %s: %s", path,
                              r == -EBADFD ? "not a regular file" : strerror(-r));
    _cleanup_free_ char *shown_path = utf8_escape_invalid(path);
    if (!shown_path)
        return -ENOMEM;
    r = sd_bus_message_new_method_return(msg, &reply);
    if (r >= 0)
        r = sd_bus_message_append(reply, "s", shown_path);
    if (r >= 0)
        r = sd_bus_message_append_array(reply, 'y', text, len);
    return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static void append_dependency(void *userdata, unsigned depth, const char *name,
                              UnitDependency how, const Sandbox *loaded, int load_error) {
    sd_bus_message *reply = userdata;
    const char *state = load_error == -ENOENT ? "not-found"
                        : load_error < 0      ? "bad-setting"
                        : loaded              ? sandbox_active_state_to_string(loaded->state)
                                              : "inactive";
    (void) sd_bus_message_append(reply, "(usss)", depth, name,
                                 unit_dependency_to_string(how) ?: "", state);
}

static int method_list_dependencies(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    const char *arg;
    char **errors = NULL;
    int r = check_root(msg, error);
    if (r < 0 || (r = sd_bus_message_read(msg, "s", &arg)) < 0)
        return r;
    r = array_reply(msg, "(usss)", &reply);
    if (r < 0)
        return r;
    r = manager_walk_dependencies(m, arg, append_dependency, reply, &errors);
    if (r == -E2BIG)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "the dependency tree of %s has more than 4096 entries", arg);
    if (r < 0)
        return load_error(error, arg, r, errors);
    r = sd_bus_message_close_container(reply);
    return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* Reload: every loaded unit file read again (manager_reload_units()); the files that fail to
 * load are named with their errors, and those units stay as they were. */
static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_strv_free_ char **errors = NULL;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    r = manager_reload_units(m, &errors);
    if (r < 0)
        return r;
    log_info("Reloaded %d unit file%s%s.", r, r == 1 ? "" : "s",
             errors ? "; some failed to load and were left as they were" : "");
    for (size_t i = 0; errors && errors[i]; i++) {
        char *escaped = utf8_escape_invalid(errors[i]);
        if (!escaped)
            return -ENOMEM;
        free(errors[i]);
        errors[i] = escaped;
    }
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    uint32_t n = (uint32_t) r;
    r = sd_bus_message_new_method_return(msg, &reply);
    if (r >= 0)
        r = sd_bus_message_append(reply, "u", n);
    if (r >= 0)
        r = sd_bus_message_append_strv(reply, errors);
    return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* Subscribe: this connection gets a UnitStateChanged signal for every state change from now
 * on, until it closes. */
static int method_subscribe(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    for (Connection *c = m->connections; c; c = c->next)
        if (c->bus == sd_bus_message_get_bus(msg) && !c->subscribed) {
            c->subscribed = true;
            int fd = sd_bus_get_fd(c->bus);
            if (fd >= 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){SUBSCRIBER_SNDBUF},
                                  sizeof(int));
        }
    return sd_bus_reply_method_return(msg, NULL);
}

void manager_bus_emit_state(Sandbox *s, SandboxState old) {
    Manager *m = s->manager;
    for (Connection *c = m->connections; c; c = c->next) {
        if (!c->subscribed)
            continue;
        uint64_t queued = 0;
        (void) sd_bus_get_n_queued_write(c->bus, &queued);
        if (queued >= SUBSCRIBER_QUEUE_MAX) {
            log_warning("A subscriber left %" PRIu64 " messages unread; dropping it.", queued);
            c->subscribed = false;
            /* sd-bus sees the end of the stream and our on_disconnect() frees c then, outside
             * of whatever handler is running now */
            int fd = sd_bus_get_fd(c->bus);
            if (fd >= 0)
                (void) shutdown(fd, SHUT_RDWR);
            continue;
        }
        int r = sd_bus_emit_signal(c->bus, SANDBOXD_OBJECT_PATH, SANDBOXD_MANAGER_IFACE,
                                   "UnitStateChanged", "sssssut", s->name,
                                   sandbox_active_state_to_string(old),
                                   sandbox_active_state_to_string(s->state),
                                   sandbox_sub_state(s), sandbox_result_to_string(s->result),
                                   (uint32_t) s->main_pid, s->state_change_usec);
        if (r < 0)
            log_debug_errno(r, "Sending UnitStateChanged: %m");
    }
}

/* GetUnitStats: for each running sandbox, what `sandboxctl top` shows, read from its cgroup now
 * (UINT64_MAX: unknown): name, CPU time (ns), memory, memory limit, tasks, IO read and written
 * (bytes), and the monotonic time of the reading. */
static int method_unit_stats(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    r = array_reply(msg, "(sttttttt)", &reply);
    for (size_t i = 0; r >= 0 && i < m->n_sandboxes; i++) {
        Sandbox *s = m->sandboxes[i];
        CgStats st = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
        if (!s->cgroup || !sandbox_is_running(s))
            continue;
        (void) cg_read_stats(s->cgroup, &st);
        r = sd_bus_message_append(reply, "(sttttttt)", s->name, st.cpu_usage_nsec,
                                  st.memory_current, s->config->memory_max, st.tasks_current,
                                  st.io_read_bytes, st.io_write_bytes,
                                  now_usec(CLOCK_MONOTONIC));
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

typedef struct UnitFileReply {
    Manager *manager;
    sd_bus_message *reply;
} UnitFileReply;

static int append_unit_file(const char *name, const char *path, void *userdata) {
    UnitFileReply *u = userdata;
    _cleanup_free_ char *shown = utf8_escape_invalid(path);
    if (!shown)
        return -ENOMEM;
    return sd_bus_message_append(u->reply, "(sss)", name, shown,
                                 manager_unit_is_enabled(u->manager, name) ? "enabled"
                                                                          : "disabled");
}

/* ListUnitFiles: every unit file of the unit path (and those linked in from elsewhere), its path
 * and whether it is enabled. */
static int method_list_unit_files(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    r = array_reply(msg, "(sss)", &reply);
    if (r >= 0)
        r = manager_list_unit_files(m, append_unit_file, &(UnitFileReply){m, reply});
    if (r == -E2BIG)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "the unit path holds more than 65536 unit files");
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

static int method_list_images(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    ImageInfo *l = NULL;
    size_t n = 0;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    if ((r = image_list(m->config.image_store, &l, &n)) < 0)
        return error_set_text(error, SD_BUS_ERROR_FAILED, "reading %s: %s", m->config.image_store,
                              strerror(-r));
    r = array_reply(msg, "(ssssutt)", &reply);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        /* names and tags are checked on the way in; a created stamp is the image's text */
        _cleanup_free_ char *created = escape_terminal(l[i].created, strlen(l[i].created), 0);
        r = created ? sd_bus_message_append(reply, "(ssssutt)", l[i].name, l[i].tag, l[i].id,
                                            created, l[i].n_layers, l[i].size, l[i].shared)
                    : -ENOMEM;
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    image_info_free_many(l, n);
    if (r < 0)
        return r;
    return sd_bus_send(NULL, reply, NULL);
}

static int method_list(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    r = array_reply(msg, "(ssssuss)", &reply);
    for (size_t i = 0; r >= 0 && i < m->n_sandboxes; i++) {
        Sandbox *s = m->sandboxes[i];
        char a4[INET6_ADDRSTRLEN];
        _cleanup_free_ char *desc = utf8_escape_invalid(
            s->config && s->config->description ? s->config->description : "");
        if (!desc)
            return -ENOMEM;
        r = sd_bus_message_append(reply, "(ssssuss)", s->name,
                                  sandbox_active_state_to_string(s->state), sandbox_sub_state(s),
                                  desc, (uint32_t) s->main_pid,
                                  s->net.has4 ? in_addr_to_string(AF_INET, &s->net.addr4, a4)
                                              : "",
                                  manager_unit_is_enabled(m, s->name) ? "enabled" : "disabled");
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r < 0)
        return r;
    return sd_bus_send(NULL, reply, NULL);
}

static int append_kv(sd_bus_message *reply, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int append_kv(sd_bus_message *reply, const char *k, const char *fmt, ...) {
    _cleanup_free_ char *v = NULL, *escaped = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&v, fmt, ap);
    va_end(ap);
    if (r < 0 || !(escaped = utf8_escape_invalid(v)))
        return -ENOMEM;
    r = sd_bus_message_append(reply, "(ss)", k, escaped);
    return r < 0 ? r : 0; /* callers chain with ?: */
}

static const char *u64_or_infinity(char buf[static 32], uint64_t v) {
    if (v == UINT64_MAX)
        return "infinity";
    snprintf(buf, 32, "%" PRIu64, v);
    return buf;
}

/* A list as systemctl show prints Environment=: space-separated, an entry with blanks, quotes
 * or backslashes (or an empty one) double-quoted with C escapes, so it reads back whole. */
static char *strv_join_quoted(char *const *l) {
    size_t n = 1;
    STRV_FOREACH(e, l)
        n += 2 * strlen(*e) + 3;
    char *out = malloc(n), *p = out;
    if (!out)
        return NULL;
    STRV_FOREACH(e, l) {
        bool quote = !**e || strpbrk(*e, " \t\n\"\\'") != NULL;
        if (p != out)
            *p++ = ' ';
        if (quote)
            *p++ = '"';
        for (const char *c = *e; *c; c++) {
            if (quote && (*c == '"' || *c == '\\'))
                *p++ = '\\';
            *p++ = *c;
        }
        if (quote)
            *p++ = '"';
    }
    *p = 0;
    return out;
}

static const char *yes_no(bool b) {
    return b ? "yes" : "no";
}

/* "Mon 2026-11-30 18:38:28 UTC", systemctl show's timestamps; "" for none. */
static const char *format_timestamp(char buf[static 64], uint64_t usec) {
    time_t t = (time_t) (usec / USEC_PER_SEC);
    struct tm tm;
    if (usec == 0 || !localtime_r(&t, &tm) ||
        strftime(buf, 64, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
        buf[0] = 0;
    return buf;
}

/* Volume= as the unit says it: "SRC:DST[:ro]", space-separated (quoted as Environment=). */
static char *volumes_to_string(const UnitConfig *c) {
    _cleanup_strv_free_ char **l = NULL;
    for (size_t i = 0; i < c->n_volumes; i++) {
        char *v;
        if (asprintf(&v, "%s:%s%s", c->volumes[i].source, c->volumes[i].target,
                     c->volumes[i].read_only ? ":ro" : "") < 0 ||
            strv_consume(&l, v) < 0)
            return NULL;
    }
    return strv_join_quoted(l);
}

/* AddHost= entries: "NAME:IP", space-separated. */
static char *extra_hosts_to_string(const UnitConfig *c) {
    _cleanup_strv_free_ char **l = NULL;
    for (size_t i = 0; i < c->n_extra_hosts; i++) {
        char a[INET6_ADDRSTRLEN], *v;
        if (asprintf(&v, "%s:%s", c->extra_hosts[i].name,
                     in_addr_to_string(c->extra_hosts[i].family, &c->extra_hosts[i].addr, a)) <
                0 ||
            strv_consume(&l, v) < 0)
            return NULL;
    }
    return strv_join(l, " ") ?: strdup("");
}

/* Port= as the unit says it, space-separated. */
static char *ports_to_string(const UnitConfig *c) {
    char *out = calloc(1, c->n_ports * 80 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < c->n_ports; i++) {
        char buf[80];
        if (i)
            strcat(out, " ");
        strcat(out, port_mapping_to_string(&c->ports[i], buf));
    }
    return out;
}

/* The address a running sandbox has, else the one its unit asks for, else "". */
static const char *sandbox_address(const Sandbox *s, int family, char buf[static INET6_ADDRSTRLEN]) {
    const SandboxNet *sn = &s->net;
    const UnitConfig *c = s->config;
    if (family == AF_INET && sn->has4)
        return in_addr_to_string(AF_INET, &sn->addr4, buf);
    if (family == AF_INET6 && sn->has6)
        return in_addr_to_string(AF_INET6, &sn->addr6, buf);
    if (family == AF_INET && c->ip_address_family)
        return in_addr_to_string(AF_INET, &(union in_addr_union){.in = c->ip_address}, buf);
    if (family == AF_INET6 && c->ipv6_address_family)
        return in_addr_to_string(AF_INET6, &(union in_addr_union){.in6 = c->ipv6_address}, buf);
    return "";
}

static int append_properties(sd_bus_message *reply, Sandbox *s) {
    const UnitConfig *c = s->config;
    CgStats st = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
    char b1[32], b2[32], b3[32], nsbuf[64];
    _cleanup_free_ char *cpus = NULL, *exec = NULL, *layers = NULL, *log = sandbox_log_path(s),
                        *caps = capability_set_to_string(c->capability_bounding_set),
                        *ports = ports_to_string(c);
    char a4[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
    if (s->cgroup)
        (void) cg_read_stats(s->cgroup, &st);
    cpus = c->allowed_cpus_set ? cpu_set_to_string(&c->allowed_cpus) : strdup("");
    exec = strv_join_quoted(c->exec_start);
    layers = strv_join(c->layers, " ");
    _cleanup_free_ char *env = strv_join_quoted(c->environment), *volumes = volumes_to_string(c),
                        *dns = strv_join(c->dns, " ") ?: strdup(""),
                        *hosts = extra_hosts_to_string(c),
                        *docs = strv_join_quoted(c->documentation),
                        *health_exec = strv_join_quoted(c->health.exec);
    char tsbuf[64], tbuf[64];
    if (!cpus || !exec || !layers || !log || !caps || !ports || !env || !volumes || !dns ||
        !hosts || !docs || !health_exec)
        return -ENOMEM;
    uint64_t quota_per_sec = c->cpu_quota_permyriad == UINT32_MAX
                                 ? UINT64_MAX
                                 : (uint64_t) c->cpu_quota_permyriad * 100;
    int code = s->exit_code;
    int r = 0;
    r = r ?: append_kv(reply, "Id", "%s", s->name);
    r = r ?: append_kv(reply, "Description", "%s", c->description ? c->description : "");
    r = r ?: append_kv(reply, "FragmentPath", "%s", c->path);
    r = r ?: append_kv(reply, "NeedDaemonReload", "%s",
                       manager_unit_needs_reload(s) ? "yes" : "no");
    /* a running unit whose file was reloaded since it started: the restart applies it */
    r = r ?: append_kv(reply, "ReloadedConfigPending", "%s",
                       s->reloaded && manager_unit_file_changed(c) ? "yes" : "no");
    r = r ?: append_kv(reply, "ActiveState", "%s", sandbox_active_state_to_string(s->state));
    r = r ?: append_kv(reply, "UnitFileState", "%s",
                       manager_unit_is_enabled(s->manager, s->name) ? "enabled" : "disabled");
    r = r ?: append_kv(reply, "SubState", "%s", sandbox_sub_state(s));
    r = r ?: append_kv(reply, "Result", "%s", sandbox_result_to_string(s->result));
    r = r ?: append_kv(reply, "StateChangeTimestamp", "%s",
                       format_timestamp(tsbuf, s->state_change_usec));
    /* ours: the same to the microsecond, for status's "2ms ago" and for scripts */
    r = r ?: append_kv(reply, "StateChangeTimestampUSec", "%" PRIu64, s->state_change_usec);
    r = r ?: append_kv(reply, "MainPID", "%d", (int) s->main_pid);
    r = r ?: append_kv(reply, "NRestarts", "%u", s->n_restarts);
    r = r ?: append_kv(reply, "ExecMainCode", "%d", code);
    r = r ?: append_kv(reply, "ExecMainStatus", "%d", s->exit_status);
    r = r ?: append_kv(reply, "ControlGroup", "%s", s->cgroup ? cg_display_path(s->cgroup) : "");
    r = r ?: append_kv(reply, "MemoryCurrent", "%s", u64_or_infinity(b1, st.memory_current));
    r = r ?: append_kv(reply, "CPUUsageNSec", "%s", u64_or_infinity(b2, st.cpu_usage_nsec));
    r = r ?: append_kv(reply, "TasksCurrent", "%s", u64_or_infinity(b3, st.tasks_current));
    r = r ?: append_kv(reply, "MemoryMax", "%s", u64_or_infinity(b1, c->memory_max));
    r = r ?: append_kv(reply, "MemoryHigh", "%s", u64_or_infinity(b2, c->memory_high));
    r = r ?: append_kv(reply, "MemorySwapMax", "%s", u64_or_infinity(b3, c->memory_swap_max));
    r = r ?: append_kv(reply, "TasksMax", "%s", u64_or_infinity(b2, c->tasks_max));
    r = r ?: append_kv(reply, "CPUQuotaPerSecUSec", "%s",
                       format_timespan_exact(tbuf, quota_per_sec == UINT64_MAX ? USEC_INFINITY
                                                                           : quota_per_sec));
    /* empty when unset (systemd prints "[not set]") */
    r = r ?: append_kv(reply, "CPUWeight", "%s",
                       c->cpu_weight == UINT64_MAX ? "" : u64_or_infinity(b1, c->cpu_weight));
    /* one property per device and key, as systemctl show prints them */
    for (size_t i = 0; i < c->n_io_limits; i++)
        for (int t = 0; t < _IO_LIMIT_MAX; t++)
            if (c->io_limits[i].max[t] != UINT64_MAX)
                r = r ?: append_kv(reply, io_limit_key((IoLimitType) t), "%s %" PRIu64,
                                   c->io_limits[i].path, c->io_limits[i].max[t]);
    r = r ?: append_kv(reply, "AllowedCPUs", "%s", cpus);
    r = r ?: append_kv(reply, "Image", "%s", c->image ? c->image : "");
    r = r ?: append_kv(reply, "Layers", "%s", layers);
    r = r ?: append_kv(reply, "RootDirectory", "%s",
                       c->root_directory ? c->root_directory : "");
    r = r ?: append_kv(reply, "Namespaces", "%s", namespaces_to_string(nsbuf, c->namespaces));
    r = r ?: append_kv(reply, "Network", "%s", network_mode_to_string(c->network));
    r = r ?: append_kv(reply, "IPAddress", "%s", sandbox_address(s, AF_INET, a4));
    r = r ?: append_kv(reply, "IPv6Address", "%s", sandbox_address(s, AF_INET6, a6));
    r = r ?: append_kv(reply, "Ports", "%s", ports);
    r = r ?: append_kv(reply, "CapabilityBoundingSet", "%s", caps);
    r = r ?: append_kv(reply, "Seccomp", "%s", c->seccomp_profile ?: "default");
    r = r ?: append_kv(reply, "NoNewPrivileges", "%s", c->no_new_privileges ? "yes" : "no");
    r = r ?: append_kv(reply, "ProcView", "%s", yes_no(c->proc_view));
    if (s->userns_base)
        r = r ?: append_kv(reply, "UserNamespace", "0 %u %u", s->userns_base, USERNS_SIZE);
    else
        r = r ?: append_kv(reply, "UserNamespace", "%s", "");
    r = r ?: append_kv(reply, "ExecStart", "%s", exec);
    r = r ?: append_kv(reply, "Restart", "%s", restart_policy_to_string(c->restart));
    r = r ?: append_kv(reply, "Type", "%s", service_type_to_string(c->type));
    r = r ?: append_kv(reply, "WatchdogUSec", "%s", format_timespan_exact(tbuf, c->watchdog_usec));
    r = r ?: append_kv(reply, "RestartUSec", "%s", format_timespan_exact(tbuf, c->restart_usec));
    r = r ?: append_kv(reply, "TimeoutStartUSec", "%s",
                       format_timespan_exact(tbuf, c->timeout_start_usec));
    r = r ?: append_kv(reply, "TimeoutStopUSec", "%s",
                       format_timespan_exact(tbuf, c->timeout_stop_usec));
    r = r ?: append_kv(reply, "KillSignal", "%d", c->kill_signal);
    r = r ?: append_kv(reply, "StartLimitIntervalUSec", "%s",
                       format_timespan_exact(tbuf, c->start_limit_interval_usec));
    r = r ?: append_kv(reply, "StartLimitBurst", "%u", c->start_limit_burst);
    r = r ?: append_kv(reply, "Environment", "%s", env);
    r = r ?: append_kv(reply, "WorkingDirectory", "%s", c->working_directory ?: "");
    r = r ?: append_kv(reply, "User", "%s", c->user ?: "");
    r = r ?: append_kv(reply, "Group", "%s", c->group ?: "");
    r = r ?: append_kv(reply, "Hostname", "%s", c->hostname ?: "");
    r = r ?: append_kv(reply, "ReadOnly", "%s", yes_no(c->read_only));
    r = r ?: append_kv(reply, "Volumes", "%s", volumes);
    r = r ?: append_kv(reply, "DNS", "%s", dns);
    r = r ?: append_kv(reply, "AddHost", "%s", hosts);
    r = r ?: append_kv(reply, "Documentation", "%s", docs);
    const HealthCheck *h = &c->health;
    if (health_check_is_set(h)) {
        r = r ?: append_kv(reply, "HealthExec", "%s", health_exec);
        if (h->tcp_port)
            r = r ?: append_kv(reply, "HealthTCP", "%u", h->tcp_port);
        else
            r = r ?: append_kv(reply, "HealthTCP", "%s", "");
        if (h->http_port)
            r = r ?: append_kv(reply, "HealthHTTP", "%u%s", h->http_port, h->http_path ?: "/");
        else
            r = r ?: append_kv(reply, "HealthHTTP", "%s", "");
        r = r ?: append_kv(reply, "HealthIntervalUSec", "%s",
                           format_timespan_exact(tbuf, h->interval_usec));
        r = r ?: append_kv(reply, "HealthTimeoutUSec", "%s",
                           format_timespan_exact(tbuf, h->timeout_usec));
        r = r ?: append_kv(reply, "HealthStartPeriodUSec", "%s",
                           format_timespan_exact(tbuf, h->start_period_usec));
        r = r ?: append_kv(reply, "HealthRetries", "%u", h->retries);
        r = r ?: append_kv(reply, "HealthOnFailure", "%s", health_action_to_string(h->on_failure));
        r = r ?: append_kv(reply, "HealthStartup", "%s", yes_no(h->startup));
    }
    r = r ?: append_kv(reply, "StatusText", "%s", s->status_text ?: "");
    r = r ?: append_kv(reply, "StatusErrno", "%d", s->status_errno);
    r = r ?: append_kv(reply, "Health", "%s", health_state_to_string(s->health));
    r = r ?: append_kv(reply, "HealthFailures", "%u", s->health_failures);
    r = r ?: append_kv(reply, "HealthResult", "%s", s->health_result ?: "");
    r = r ?: append_kv(reply, "HealthOutput", "%s", s->health_output ?: "");
    for (int d = 0; d < _UNIT_DEPENDENCY_MAX; d++) {
        _cleanup_free_ char *names = strv_join(c->deps[d].names, " ");
        r = r ?: names ? append_kv(reply, unit_dependency_to_string(d), "%s", names) : -ENOMEM;
    }
    r = r ?: append_kv(reply, "LogTarget", "%s",
                       manager_logs_to_journal(s->manager) ? "journal" : "file");
    r = r ?: append_kv(reply, "LogPath", "%s", manager_logs_to_journal(s->manager) ? "" : log);
    if (!manager_logs_to_journal(s->manager)) /* how many rotated files `logs` reads back */
        r = r ?: append_kv(reply, "LogMaxFiles", "%u", s->manager->config.daemon.log_max_files);
    r = r ?: append_kv(reply, "StatusErrorMessage", "%s", s->start_error ? s->start_error : "");
    return r;
}

static int method_properties(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    Sandbox *s;
    int r = read_unit(msg, userdata, error, &s);
    if (r <= 0)
        return r;
    r = array_reply(msg, "(ss)", &reply);
    if (r >= 0)
        r = append_properties(reply, s);
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r < 0)
        return r;
    return sd_bus_send(NULL, reply, NULL);
}

/* The start of the last n lines (all for n == 0) of buf. */
static size_t tail_offset(const char *buf, size_t n, uint32_t lines) {
    if (lines == 0)
        return 0;
    size_t i = n > 0 && buf[n - 1] == '\n' ? n - 1 : n; /* a final newline ends the last line */
    for (uint32_t k = 0; i > 0;) {
        i--;
        if (buf[i] == '\n' && ++k == lines)
            return i + 1;
    }
    return 0;
}

/* The last n lines of the unit's log, as bytes: the payload writes what it likes there, and a
 * string reply would fail on its first non-UTF-8 byte (hiding the whole log). Reads at most
 * the file's last MiB. */
static int method_log(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    Manager *m = userdata;
    const char *name;
    uint32_t lines;
    int r = check_root(msg, error);
    if (r < 0)
        return r;
    r = sd_bus_message_read(msg, "su", &name, &lines);
    if (r < 0)
        return r;
    Sandbox *s;
    if ((r = find_or_load(m, name, &s, error)) <= 0)
        return r;
    if (manager_logs_to_journal(m))
        return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                 "the log of %s is in the journal: journalctl SANDBOXD_UNIT=%s",
                                 s->name, s->name);
    _cleanup_free_ char *path = sandbox_log_path(s), *buf = NULL;
    if (!path)
        return -ENOMEM;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT)
        return sd_bus_reply_method_return(msg, "ay", 0); /* nothing logged yet */
    if (fd < 0 || (r = fd_verify_regular(fd)) < 0)
        return error_set_text(error, SD_BUS_ERROR_FAILED, "opening %s: %s", path,
                              strerror(fd < 0 ? errno : -r));
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0)
        return error_set_text(error, SD_BUS_ERROR_FAILED, "reading %s: %s", path,
                              strerror(errno));
    off_t from = size > LOG_TAIL_MAX_BYTES ? size - LOG_TAIL_MAX_BYTES : 0;
    buf = malloc((size_t) (size - from) + 1);
    if (!buf)
        return -ENOMEM;
    ssize_t n = pread(fd, buf, (size_t) (size - from), from);
    if (n < 0)
        return error_set_text(error, SD_BUS_ERROR_FAILED, "reading %s: %s", path,
                              strerror(errno));
    size_t off = tail_offset(buf, (size_t) n, lines);
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    r = sd_bus_message_new_method_return(msg, &reply);
    if (r >= 0)
        r = sd_bus_message_append_array(reply, 'y', buf + off, (size_t) n - off);
    if (r < 0)
        return r;
    return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("StartUnit", SD_BUS_ARGS("s", unit), SD_BUS_RESULT("s", id),
                            method_start, 0),
    SD_BUS_METHOD_WITH_ARGS("StopUnit", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_stop, 0),
    SD_BUS_METHOD_WITH_ARGS("RestartUnit", SD_BUS_ARGS("s", unit), SD_BUS_RESULT("s", id),
                            method_restart, 0),
    SD_BUS_METHOD_WITH_ARGS("ResetFailedUnit", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT,
                            method_reset_failed, 0),
    SD_BUS_METHOD_WITH_ARGS("CleanUnit", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_clean, 0),
    SD_BUS_METHOD_WITH_ARGS("ListUnits", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssssuss)", units),
                            method_list, 0),
    SD_BUS_METHOD_WITH_ARGS("GetUnitProperties", SD_BUS_ARGS("s", id),
                            SD_BUS_RESULT("a(ss)", properties), method_properties, 0),
    SD_BUS_METHOD_WITH_ARGS("GetUnitLog", SD_BUS_ARGS("s", id, "u", lines),
                            SD_BUS_RESULT("ay", text), method_log, 0),
    SD_BUS_METHOD_WITH_ARGS("EnableUnits", SD_BUS_ARGS("as", units),
                            SD_BUS_RESULT("a(ss)", changes), method_enable, 0),
    SD_BUS_METHOD_WITH_ARGS("DisableUnits", SD_BUS_ARGS("as", units),
                            SD_BUS_RESULT("as", removed), method_disable, 0),
    SD_BUS_METHOD_WITH_ARGS("KillUnit", SD_BUS_ARGS("s", id, "s", whom, "i", signal),
                            SD_BUS_NO_RESULT, method_kill, 0),
    SD_BUS_METHOD_WITH_ARGS("CatUnit", SD_BUS_ARGS("s", unit),
                            SD_BUS_RESULT("s", path, "ay", text), method_cat, 0),
    SD_BUS_METHOD_WITH_ARGS("ListDependencies", SD_BUS_ARGS("s", unit),
                            SD_BUS_RESULT("a(usss)", dependencies), method_list_dependencies,
                            0),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", reloaded, "as", errors),
                            method_reload, 0),
    SD_BUS_METHOD_WITH_ARGS("GetUnitStats", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("a(sttttttt)", stats), method_unit_stats, 0),
    SD_BUS_METHOD_WITH_ARGS("Subscribe", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_subscribe, 0),
    SD_BUS_SIGNAL_WITH_ARGS("UnitStateChanged",
                            SD_BUS_ARGS("s", unit, "s", old_state, "s", new_state, "s", sub_state,
                                        "s", result, "u", main_pid, "t", timestamp), 0),
    SD_BUS_METHOD_WITH_ARGS("ListUnitFiles", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sss)", files),
                            method_list_unit_files, 0),
    SD_BUS_METHOD_WITH_ARGS("GetUnitFileState", SD_BUS_ARGS("s", unit),
                            SD_BUS_RESULT("s", state), method_is_enabled, 0),
    SD_BUS_METHOD_WITH_ARGS("ImportImage", SD_BUS_ARGS("s", source, "s", ref),
                            SD_BUS_RESULT("s", output), method_import, 0),
    SD_BUS_METHOD_WITH_ARGS("ImportImageWithProgress",
                            SD_BUS_ARGS("s", source, "s", ref, "h", progress),
                            SD_BUS_RESULT("s", output), method_import, 0),
    SD_BUS_METHOD_WITH_ARGS("ListImages", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssssutt)", images),
                            method_list_images, 0),
    SD_BUS_METHOD_WITH_ARGS("RemoveImage", SD_BUS_ARGS("s", ref, "b", force),
                            SD_BUS_RESULT("s", output), method_remove_image, 0),
    SD_BUS_METHOD_WITH_ARGS("TagImage", SD_BUS_ARGS("s", source, "s", target),
                            SD_BUS_RESULT("s", output), method_tag_image, 0),
    SD_BUS_METHOD_WITH_ARGS("InspectImage", SD_BUS_ARGS("s", ref), SD_BUS_RESULT("s", json),
                            method_inspect_image, 0),
    SD_BUS_METHOD_WITH_ARGS("CommitUnit", SD_BUS_ARGS("s", unit, "s", ref),
                            SD_BUS_RESULT("s", output), method_commit, 0),
    SD_BUS_METHOD_WITH_ARGS("DiffUnit", SD_BUS_ARGS("s", unit, "h", fd),
                            SD_BUS_RESULT("s", output), method_diff, 0),
    SD_BUS_METHOD_WITH_ARGS("ExportImage", SD_BUS_ARGS("s", ref, "h", fd),
                            SD_BUS_RESULT("s", output), method_export_image, 0),
    SD_BUS_METHOD_WITH_ARGS("PruneImages", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", output),
                            method_prune_images, 0),
    SD_BUS_VTABLE_END,
};

static int on_disconnect(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
    connection_free(userdata);
    return 0;
}

/* Refuses a client that lives inside a sandbox: a payload that can reach the socket (say on
 * RootDirectory=/) could otherwise start a unit with any root, mounts and capabilities, and so
 * leave its sandbox. Inside means another pid namespace than ours, or a cgroup under our slice
 * in any hierarchy. The pid is pinned by a pidfd, and checked to still be the peer after its
 * /proc files were read. Returns 0 to accept, -EPERM after logging why not. */
static int check_peer(Manager *m, int fd) {
    uint64_t accepted = boot_time_ticks();
    _cleanup_close_ int pidfd = -EBADF;
    _cleanup_free_ char *path = NULL, *text = NULL, *slice = NULL;
    pid_t pid;

    int exact = peer_pidfd(fd, &pid, &pidfd);
    if (exact < 0) {
        log_warning_errno(exact, "Refusing a bus connection: cannot identify its process: %m");
        return -EPERM;
    }
    int same_ns = pid_shares_namespace(pid, "pid");
    if (asprintf(&path, "/proc/%d/cgroup", (int) pid) < 0 ||
        asprintf(&slice, "/%s%s%s", cg_root(), *cg_root() ? "/" : "", m->config.slice) < 0)
        return -ENOMEM;
    int r = read_file(path, 64 * 1024, &text, NULL);
    uint64_t started = 0;
    if (r >= 0 && exact == 0)
        r = pid_get_start_time(pid, &started);
    /* the pid named the peer throughout the reads only if the peer is still alive now, and
     * (without SO_PEERPIDFD) only if that process existed before we accepted */
    if (r >= 0 && same_ns >= 0)
        r = pidfd_check_alive(pidfd);
    if (r < 0 || same_ns < 0 || (exact == 0 && started > accepted)) {
        log_warning_errno(r < 0 ? r : same_ns < 0 ? same_ns : -ESRCH,
                          "Refusing a bus connection from PID %d: cannot inspect it: %m",
                          (int) pid);
        return -EPERM;
    }
    if (!same_ns) {
        log_warning("Refusing a bus connection from PID %d: it runs in another PID namespace "
                    "than sandboxd (inside a sandbox?).", (int) pid);
        return -EPERM;
    }
    size_t len;
    const char *cg = cg_text_find_path_under(text, slice, &len);
    if (cg) {
        log_warning("Refusing a bus connection from PID %d: it runs inside a sandbox "
                    "(cgroup %.*s).", (int) pid, (int) len, cg);
        return -EPERM;
    }
    return 0;
}

/* sd-bus 252 (Debian 12), as a server, reads the client's "BEGIN" line and whatever follows it
 * in the same read into its buffer, switches to running, and then waits for the socket to
 * become readable again: a method call that arrived together with BEGIN (libdbus clients such
 * as `dbus-send --peer` send it right behind) sat unprocessed until the client gave up and
 * hung up, and was answered into a closed socket (NoReply). Once the bus runs we process what
 * is buffered; after that sd-bus reads exact message sizes and the socket's readiness is
 * enough, so this post source runs once per connection. */
static int on_authenticated(sd_event_source *src, void *userdata) {
    Connection *c = userdata;
    if (sd_bus_is_ready(c->bus) <= 0)
        return 0; /* still authenticating */
    (void) sd_event_source_set_enabled(src, SD_EVENT_OFF);
    /* a handler may end the connection and free c: hold the bus, never touch c again */
    _cleanup_(sd_bus_unrefp) sd_bus *bus = sd_bus_ref(c->bus);
    while (sd_bus_process(bus, NULL) > 0)
        ;
    return 0;
}

int manager_bus_accept(Manager *m, int fd) {
    if (check_peer(m, fd) < 0) {
        safe_close(fd); /* no method of it runs; logged */
        return 0;
    }
    Connection *c = calloc(1, sizeof(Connection));
    sd_id128_t id;
    int r;
    if (!c) {
        safe_close(fd);
        return -ENOMEM;
    }
    c->manager = m;
    r = sd_bus_new(&c->bus);
    if (r < 0) {
        safe_close(fd);
        free(c);
        return r;
    }
    c->next = m->connections;
    m->connections = c;
    r = sd_bus_set_fd(c->bus, fd, fd);
    if (r < 0) {
        safe_close(fd);
        goto fail;
    }
    r = sd_id128_randomize(&id);
    if (r >= 0)
        r = sd_bus_set_server(c->bus, 1, id);
    if (r >= 0)
        r = sd_bus_set_anonymous(c->bus, 0); /* AUTH EXTERNAL: the kernel's peer uid */
    if (r >= 0)
        r = sd_bus_negotiate_creds(c->bus, 1, SD_BUS_CREDS_PID | SD_BUS_CREDS_EUID);
    if (r >= 0)
        r = sd_bus_add_object_vtable(c->bus, NULL, SANDBOXD_OBJECT_PATH, SANDBOXD_MANAGER_IFACE,
                                     manager_vtable, m);
    if (r >= 0)
        r = sd_bus_match_signal(c->bus, NULL, NULL, "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnect, c);
    if (r >= 0)
        r = sd_bus_attach_event(c->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
    if (r >= 0)
        r = sd_event_add_post(m->event, &c->auth_source, on_authenticated, c);
    if (r >= 0)
        r = sd_bus_start(c->bus);
    if (r < 0)
        goto fail;
    return 0;
fail:
    connection_free(c);
    return r;
}
