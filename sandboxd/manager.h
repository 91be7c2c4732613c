/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "daemon-config.h"
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
    bool keep_running; /* on SIGTERM leave sandboxes running for the next sandboxd */
    DaemonConfig daemon; /* sandboxd.conf, with the command line's overrides */
} ManagerConfig;

typedef struct Connection Connection;
typedef struct SeccompCache SeccompCache;
typedef struct RestartJob RestartJob;
typedef struct ImageImport ImageImport;

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
} Manager;

int manager_new(const ManagerConfig *c, Manager **ret);
Manager *manager_free(Manager *m);
int manager_startup(Manager *m);
int manager_run(Manager *m);

Sandbox *manager_find(Manager *m, const char *name);
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

/* bus-api.c */
int manager_bus_accept(Manager *m, int fd);
/* Starts s and answers reply (may be NULL) once the start is done; on an error return nothing
 * was answered. */
int manager_bus_start(Sandbox *s, sd_bus_message *reply);
void manager_bus_free_all(Manager *m);
