/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <signal.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <sys/types.h>

#include "cgroup.h"
#include "image.h"
#include "log-record.h"
#include "network.h"
#include "ratelimit.h"
#include "unit.h"

typedef struct Manager Manager;
typedef struct Sandbox Sandbox;
typedef struct SeccompFilter SeccompFilter;
typedef struct HealthProbe HealthProbe;
typedef struct Job Job;

typedef enum HealthState {
    HEALTH_NONE,      /* no [Health] probe, or the sandbox does not run */
    HEALTH_STARTING,  /* no probe has passed yet */
    HEALTH_HEALTHY,
    HEALTH_UNHEALTHY, /* Retries= probes in a row failed */
    _HEALTH_STATE_MAX,
} HealthState;

const char *health_state_to_string(HealthState h);

typedef enum SandboxState {
    SANDBOX_INACTIVE,     /* inactive (dead) */
    SANDBOX_STARTING,     /* activating (start): setting up, payload not exec'd yet */
    SANDBOX_ACTIVE,       /* active (running) */
    SANDBOX_STOPPING,     /* deactivating (stop-sigterm / stop-sigkill) */
    SANDBOX_AUTO_RESTART, /* activating (auto-restart): waiting RestartSec= */
    SANDBOX_FAILED,       /* failed (failed) */
    _SANDBOX_STATE_MAX,
} SandboxState;

typedef enum SandboxResult {
    RESULT_SUCCESS,
    RESULT_RESOURCES, /* setting the sandbox up failed */
    RESULT_EXIT_CODE,
    RESULT_SIGNAL,
    RESULT_CORE_DUMP,
    RESULT_OOM_KILL,
    RESULT_TIMEOUT,
    RESULT_START_LIMIT_HIT,
    RESULT_DEPENDENCY, /* a unit it needs (Requires=, BindsTo=, ordered before it) failed */
    RESULT_WATCHDOG,   /* WatchdogSec= passed without a keep-alive */
    _RESULT_MAX,
} SandboxResult;

const char *sandbox_active_state_to_string(SandboxState s);
const char *sandbox_sub_state(const struct Sandbox *s);
const char *sandbox_result_to_string(SandboxResult r);

/* Pure: the first host id of the unit's 65536-id range for Namespaces=user. */
uint32_t sandbox_userns_base(const char *name);

/* Pure policy: does this result call for a restart under this Restart=? */
bool sandbox_should_restart(RestartPolicy policy, SandboxResult result, int exit_code,
                            int exit_status);

/* Someone waiting for a start or a stop to finish, told once through done(): r is 0, or
 * -EAGAIN (start limit hit), -EBUSY (it is stopping), -ESHUTDOWN (sandboxd is going away) or
 * another negative errno with message saying why the start failed. The bus layer turns this
 * into its reply; the state machine knows nothing of bus messages. */
typedef void (*SandboxJobDone)(Sandbox *s, void *userdata, int r, const char *message);
typedef struct SandboxJob SandboxJob;

struct Sandbox {
    Manager *manager;
    char *name;
    UnitConfig *config;

    SandboxState state;
    bool sigkill_sent;
    bool stop_requested;
    SandboxResult result;
    uint64_t state_change_usec; /* CLOCK_REALTIME */
    unsigned n_restarts;
    RateLimit start_limit;

    /* the running sandbox */
    pid_t init_pid, main_pid;
    int init_pidfd, sync_fd;
    sd_event_source *sync_source;
    sd_event_source *timer_source;   /* the current state's timer: disarmed on leaving it */
    sd_event_source *cleanup_source; /* retries removing a cgroup whose processes still exit */
    sd_event_source *pidfd_source; /* exit watch of an adopted init (not our child) */
    bool adopted;
    uint32_t userns_base; /* host id of the sandbox's root with Namespaces=user, else 0 */
    Cgroup *cgroup;
    char *runtime_dir; /* /run/sandboxd/sandboxes/NAME */
    bool got_ready, got_exit;
    uint64_t released_usec;     /* CLOCK_MONOTONIC: the init got "go" (for --debug) */
    int exit_code, exit_status; /* of the payload: CLD_*, status */
    char *start_error;          /* why the last start failed, for callers and status */
    SeccompFilter *seccomp;     /* the last start's filter (a cache reference); NULL: none */
    ResolvedImage *image;       /* Image=: the last start's layers and config defaults */
    unsigned cleanup_tries;
    bool finish_after_cleanup; /* the cleanup ends an exit (else a failed start) */
    bool start_timed_out;      /* TimeoutStartSec= expired */

    SandboxJob *jobs; /* callers waiting for a start or stop */
    void *commit; /* a commit reading the rw layer (image-commit.c): no start or clean; a
                   * stop cancels it */
    SandboxNet net;   /* Network=bridge: addresses, veth, published ports */

    /* Type=notify, WatchdogSec= (sandbox-notify.c) */
    int notify_fd;                   /* RUNTIME/sandboxes/NAME/notify/notify; -EBADF: none */
    sd_event_source *notify_source;
    sd_event_source *watchdog_source;
    bool notified_ready;  /* READY=1 came (maybe before the init said the payload runs) */
    bool watchdog_fired;  /* ended for a missed keep-alive: Result=watchdog */
    char *status_text;    /* the last STATUS= */
    int status_errno;     /* the last ERRNO=, 0 if none */
    bool stopping_notified; /* STOPPING=1 came (logged once) */
    bool gone_sender_logged; /* a READY=1 from an exited sender was dropped (logged once) */
    RateLimit mainpid_limit; /* MAINPID= messages acted on */

    /* [Health] (health.c) */
    HealthState health;
    unsigned health_failures;        /* consecutive failed probes that count */
    char *health_result;             /* the last probe's outcome: "exit status 0", "timeout" */
    char *health_output;             /* its first line of output (Exec=) or status line */
    uint64_t health_since_usec;      /* CLOCK_MONOTONIC: the payload ran (StartPeriodSec=) */
    sd_event_source *health_timer;   /* the next probe */
    HealthProbe *probe;              /* the probe under way, at most one */

    /* daemon-reload of a running unit: its file as the reload read it (the unit keeps the
     * configuration it started with until its next start) */
    bool reloaded;
    UnitFileSig reloaded_sig;

    bool procview; /* the init bound the proc view (ProcView=): bound anew when lxcfs restarts */
    unsigned procview_generation; /* which lxcfs mount it bound (procview_generation()) */

    /* the unit's log (sandbox-log.c) */
    int log_fd;                   /* read end of the init's log pipe; -EBADF: none */
    sd_event_source *log_source;
    LogRecordParser log_parser;
    int log_file_fd;              /* LOG_DIR/NAME.log while it runs; -EBADF: closed */
    uint64_t log_file_size;
    bool log_file_error_logged;

    Job *first_job; /* job.c's, during one pass over the jobs: the unit's first unfinished */
};

Sandbox *sandbox_new(Manager *m, const char *name);
Sandbox *sandbox_free(Sandbox *s);
/* Replaces the configuration (takes ownership); used on every start. */
void sandbox_set_config(Sandbox *s, UnitConfig *c);

/* Start; done (may be NULL) is called once the payload runs or the start failed, maybe before
 * this returns. */
int sandbox_start(Sandbox *s, SandboxJobDone done, void *userdata);
/* Stop; done is called once the sandbox is down. */
int sandbox_stop(Sandbox *s, SandboxJobDone done, void *userdata);
int sandbox_reset_failed(Sandbox *s);
/* kill: sig to the main process (main: pinned by a pidfd and checked to be in the sandbox's
 * cgroup, so a reused PID is never hit) or to every process of the cgroup. -ESRCH when it
 * does not run. */
int sandbox_kill(Sandbox *s, bool all, int sig);
/* A start that cannot happen: a unit it needs failed. The unit becomes failed with
 * Result=dependency and why as its start error. */
void sandbox_fail_dependency(Sandbox *s, const char *why);
/* Answers every caller waiting for s with -ESHUTDOWN (sandboxd exits). */
void sandbox_abandon_jobs(Sandbox *s);
/* Removes the rw layer and runtime state; -EBUSY while it runs. */
int sandbox_clean(Sandbox *s);
bool sandbox_is_running(const Sandbox *s);
/* The init exited and has been reaped (by the manager's SIGCHLD handler). */
void sandbox_on_init_exit(Sandbox *s, const siginfo_t *si);

/* What a running sandbox leaves in RUNTIME/sandboxes/NAME/state for the next sandboxd. */
typedef struct SandboxSavedState {
    char *unit_path;
    pid_t init_pid, main_pid;
    uint64_t init_start_time;
    unsigned n_restarts;
    uint64_t state_change_usec;
    bool ready; /* the payload had been exec'd; else the start was still under way */
    bool notified; /* it had sent READY=1 (Type=notify) */
    bool healthy;  /* its [Health] probe had passed */
} SandboxSavedState;

int sandbox_save(Sandbox *s);
/* Pure: parses a state file's text. */
int sandbox_read_state(const char *text, SandboxSavedState *ret);
/* Takes over a sandbox a previous sandboxd started; if its init is gone, handles that exit. */
int sandbox_adopt(Sandbox *s, const SandboxSavedState *st);
/* Removes what a sandboxd that died mid-start left of a sandbox it never recorded. */
int sandbox_remove_orphan(Manager *m, const char *name);

/* sandbox-notify.c: the notify socket of a Type=notify or WatchdogSec= unit, bound under the
 * runtime directory and bind-mounted (the directory, read-only) at /run/host/notify, so that
 * a new sandboxd can bind it again for a sandbox it adopts. Only processes of the sandbox's
 * cgroup are heard. */
#define NOTIFY_DIR_INSIDE "/run/host/notify"
#define NOTIFY_SOCKET_INSIDE NOTIFY_DIR_INSIDE "/notify"
bool sandbox_wants_notify(const Sandbox *s);
int sandbox_notify_open(Sandbox *s);
void sandbox_notify_close(Sandbox *s);
/* The payload is ready (Type=notify: READY=1 and exec'd, else exec'd): becomes active. */
void sandbox_ready(Sandbox *s);
/* (Re)arms the watchdog timer from now; no-op without WatchdogSec=. */
void sandbox_watchdog_arm(Sandbox *s);

/* health.c: the [Health] probe of a running sandbox. start: the payload runs (the first probe
 * goes at once); stop: it ends (a probe under way is killed). */
void sandbox_health_start(Sandbox *s);
void sandbox_health_stop(Sandbox *s);
/* An exited child of ours that was a probe's runner: handled, true. */
bool manager_health_on_exit(Manager *m, const siginfo_t *si);

/* Writes a line into the unit's log file, as the journal would carry the manager's messages. */
/* sandbox-log.c: the unit's log, a file or the journal (see there). */
void sandbox_log_event(Sandbox *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sandbox_log_path(const Sandbox *s);
/* A pipe for a new init: *ret_write for INIT_FD_LOG, *ret_read_for_init for INIT_FD_LOG_READ;
 * our own read end is watched from now on. */
int sandbox_log_pipe(Sandbox *s, int *ret_write, int *ret_read_for_init);
/* Takes fd (a log pipe's read end) and reads it from now on. */
int sandbox_log_attach(Sandbox *s, int fd);
/* An adopted sandbox: the pipe's read end taken back from its init. */
int sandbox_log_adopt(Sandbox *s);
/* Reads everything the pipe holds now. */
void sandbox_log_drain(Sandbox *s);
void sandbox_log_detach(Sandbox *s);
/* At rest: drained, the pipe and the file closed. */
void sandbox_log_at_rest(Sandbox *s);
void sandbox_log_free(Sandbox *s);

/* The files the init layer generates, relative to the root: never in a commit or a diff. */
extern const char *const sandbox_init_layer_files[];
/* Commit (ref: the new image, "NAME:TAG") or diff (out_fd: where the worker writes the
 * "A|C|D PATH" lines) of the sandbox's rw layer against the image it was started on, through
 * the worker; done(userdata, r, text) is called once it has finished (also when it could not
 * run). A running sandbox is frozen for a commit. Returns a negative errno and *ret_why (free())
 * when the job cannot begin: no Image= (-EINVAL), no rw layer (-ENOENT), starting or stopping
 * (-EBUSY), cannot be frozen. */
int sandbox_layer_job_start(Sandbox *s, bool commit, const char *ref, int out_fd,
                            ImageImportDone done, void *userdata, char **ret_why);
/* Cancels the running commit of s (its worker is killed; its caller told, the sandbox thawed
 * once it is reaped). */
void sandbox_cancel_commit(Sandbox *s);
