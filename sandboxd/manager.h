/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <time.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "daemon-config.h"
#include "procview.h"
#include "sandbox.h"

typedef struct ManagerConfig {
    char *socket_path;
    char *state_dir;   /* /var/lib/sandboxd: rw layers */
    char *runtime_dir; /* /run/sandboxd: mount points, init layers */
    char *log_dir;     /* /var/log/sandboxd: payload output */
    char **unit_path;  /* search path for unit names */
    char *slice;       /* sandbox.slice */
    char *cgroup_root; /* NULL: our delegated v2 group, else the hierarchy's root */
    char *init_path;   /* sandboxd-init */
    char *image_store; /* the image store (default STATE_DIR/images) */
    char *image_worker; /* sandboxd-image, which imports into it */
    char *enabled_dir;  /* /etc/sandboxd/enabled: links to the unit files started at start-up */
    char *lxcfs_path;   /* the proc view's lxcfs; NULL or "none": no view */
    bool keep_running; /* on SIGTERM leave sandboxes running for the next sandboxd */
    DaemonConfig daemon; /* sandboxd.conf, with the command line's overrides */
} ManagerConfig;

typedef struct Connection Connection;
typedef struct SeccompCache SeccompCache;
typedef struct RestartJob RestartJob;
typedef struct ImageImport ImageImport;
typedef struct Job Job;

typedef struct Manager {
    ManagerConfig config;
    sd_event *event;
    int listen_fd;
    sd_event_source *listen_source;
    Connection *connections;
    Sandbox **sandboxes;
    size_t n_sandboxes;
    CgLayout cg_layout;
    bool shutting_down;
    SeccompCache *seccomp_cache; /* compiled filters, per profile and capabilities */
    RestartJob *restart_jobs;         /* restarts waiting for their sandbox to stop */
    sd_event_source *restart_source;  /* runs them once a sandbox came to rest */
    Network *network;                 /* NULL: Network=bridge units cannot start (logged) */
    ImageImport *imports;             /* running import workers (sandboxd/image-import.c) */
    bool image_gc_running, image_gc_again; /* StoreMaxSize= (sandboxd/image-gc.c) */
    char **image_gc_added;            /* images added while a gc ran: the next one keeps them */
    unsigned boot_total, boot_done, boot_failed; /* the start of the enabled units */
    Job *jobs;                        /* start and stop jobs, oldest first (job.c) */
    ProcView *procview;               /* lxcfs for ProcView= (procview.c) */
    bool log_journal;                 /* unit logs go to the journal, not files */
    int journal_fd;                   /* our own non-blocking socket to journald */
    uint64_t journal_dropped;         /* lines journald did not take */
    char *log_in, *log_out;           /* sandbox-log.c's buffers, shared by every sandbox */
    char log_stamp[32];               /* "DATE TIME " of log_stamp_time */
    time_t log_stamp_time;
    sd_event_source *job_source;      /* runs the jobs that may run */
} Manager;

int manager_new(const ManagerConfig *c, Manager **ret);
Manager *manager_free(Manager *m);
int manager_startup(Manager *m);
int manager_run(Manager *m);

Sandbox *manager_find(Manager *m, const char *name);

/* "web" -> "web.unit" (a name with a '.' stays as it is); NULL on OOM. */
char *manager_complete_name(const char *arg);
/* The file of a unit name (a loaded unit's own, else the first in the unit path) or of an
 * absolute path; -ENOENT, -EINVAL for a name that is not one. */
int manager_find_unit_file(Manager *m, const char *arg, char **ret);
/* Reads and checks the unit file arg names (a name of the unit path or an absolute path),
 * without loading it into the manager. */
int manager_load_config(Manager *m, const char *arg, UnitConfig **ret, char ***ret_errors);
int manager_unit_file_sig(const char *path, UnitFileSig *ret);
/* Is c's file no longer what it was when c was read from it? */
bool manager_unit_file_changed(const UnitConfig *c);
/* daemon-reload: every loaded unit's file read again. A unit that runs keeps the configuration
 * it started with until it restarts (the file's newer text is kept for show and its next
 * start); a file that no longer loads leaves the unit as it was, and its errors are added to
 * *ret_errors. Returns the number of units reloaded. */
int manager_reload_units(Manager *m, char ***ret_errors);
/* Has s's file changed since it was loaded or reloaded (systemd's NeedDaemonReload)? */
bool manager_unit_needs_reload(const Sandbox *s);

/* Enabled units (sandboxd/enable.c): a link ENABLED_DIR/NAME.unit to the unit file, made for
 * a unit that loads without errors (*ret_errors as manager_load_unit()); *ret_link and
 * *ret_target (free()) say what was linked, NULL when it was already. */
int manager_enable_unit(Manager *m, const char *arg, char **ret_link, char **ret_target,
                        char ***ret_errors);
/* Removes the link of name ("web" or "web.unit"); *ret_link the removed link, NULL if there
 * was none. */
int manager_disable_unit(Manager *m, const char *name, char **ret_link);
bool manager_unit_is_enabled(Manager *m, const char *name);
/* Calls f for the unit files of the unit path (the first of each name) and those linked into
 * the enabled directory from elsewhere, by name; stops at f's first error. -E2BIG past 65536. */
typedef int (*UnitFileFunc)(const char *name, const char *path, void *userdata);
int manager_list_unit_files(Manager *m, UnitFileFunc f, void *userdata);
/* At start-up, after re-adoption: starts every enabled unit that is not running, all at once,
 * with STATUS= telling the progress. */
void manager_start_enabled(Manager *m);
/* Resolves a name or a path to a unit file and (re)loads it, creating the Sandbox the first
 * time. On a bad file returns -EINVAL with *ret_errors set. */
int manager_load_unit(Manager *m, const char *arg, Sandbox **ret, char ***ret_errors);
/* Restarts a unit as systemd does: its file is loaded and validated first, so a broken or
 * deleted file refuses the restart (errors as manager_load_unit()) and the running instance
 * stays; then the sandbox is stopped and started with what was loaded. reply is answered as
 * by sandbox_start(). A unit that does not run is simply started. */
int manager_restart_unit(Manager *m, const char *arg, sd_bus_message *reply, char ***ret_errors);
/* Called by a sandbox when it reached a resting state, so queued restarts run and shutdown
 * can finish. */
void manager_check_shutdown(Manager *m);

/* sandbox-log.c */
#define LOG_IN_SIZE (64 * 1024)
#define LOG_OUT_SIZE (128 * 1024)
bool manager_logs_to_journal(const Manager *m);

/* bus-api.c */
int manager_bus_accept(Manager *m, int fd);
/* Starts s with its dependencies and answers reply (may be NULL) once all is done; on an
 * error return nothing was answered, and *ret_why (free()) may say why. */
int manager_bus_start(Sandbox *s, sd_bus_message *reply, char **ret_why);
void manager_bus_free_all(Manager *m);
/* UnitStateChanged to every subscriber: s went from old to its state now. */
void manager_bus_emit_state(Sandbox *s, SandboxState old);
