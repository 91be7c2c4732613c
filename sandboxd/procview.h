/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Manager Manager;
typedef struct ProcView ProcView;
typedef struct Sandbox Sandbox;

/* The proc view's supervisor (procview.c); lxcfs at m->config.lxcfs_path (NULL or "none":
 * none). */
int procview_new(Manager *m, ProcView **ret);
/* Adopts the lxcfs a previous sandboxd left, or starts one and waits (3 s at most) until its
 * files answer; logs what went wrong. */
void procview_start(ProcView *pv);
/* Binds the view anew into every running sandbox that has ProcView= (after adoption, when the
 * lxcfs that served them is gone). */
void procview_rebind(ProcView *pv);
/* s has just reported READY: binds the view again if the one its init bound has died since. */
void procview_sandbox_ready(ProcView *pv, Sandbox *s);
/* Which lxcfs mount serves now (a counter); a sandbox records the one it bound. */
unsigned procview_generation(const ProcView *pv);
/* Whether procview_start() started a new lxcfs (rather than adopting one). */
bool procview_started_new(const ProcView *pv);
/* Its mount point while lxcfs serves, else NULL. */
const char *procview_dir(const ProcView *pv);
/* The manager's SIGCHLD handler: lxcfs (restarted) or the rebinding child. */
bool procview_on_exit(Manager *m, const siginfo_t *si);
/* The watch's verdict on a read of the view not answered in time (pure): true when lxcfs is
 * busy rather than hung, i.e. not stopped, it used WATCH_BUSY_TICKS of CPU (clock ticks;
 * UINT64_MAX: unknown) since the read started, and it has not been given WATCH_BUSY_WAITS
 * extensions yet. */
bool procview_watch_busy(bool stopped, uint64_t cpu_before, uint64_t cpu_now, unsigned waits);
/* keep_running: lxcfs stays for the sandboxes and the next sandboxd. */
void procview_free(ProcView *pv, bool keep_running);
