/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "sandbox.h"

/* Start and stop requests with dependencies (sandboxd/job.c), as systemd's transactions: a
 * start pulls in what the unit Requires=, Wants= and BindsTo=, and stops what it Conflicts=
 * with; a stop takes along the running units that Require=, BindsTo= or are PartOf= it. Each
 * unit gets a job; a job runs once the jobs it is ordered after (After=, Before=; stops in the
 * reverse order, a stop before a start) are done. A start job of a unit that Requires= or
 * BindsTo= one it is ordered after fails with Result=dependency when that one is not active.
 * done is called once every job of the request is done, with the named unit's outcome. */

typedef enum JobType {
    JOB_START,
    JOB_STOP,
} JobType;

typedef struct Job Job;

/* Returns 0 once the jobs are queued (done is called later, maybe before this returns), or a
 * negative errno with *ret_why (free()) when the request cannot be made: a unit it needs is
 * not found or does not load, an ordering cycle, two units that conflict; nothing was
 * changed then. */
int manager_start_unit(Manager *m, Sandbox *s, SandboxJobDone done, void *userdata,
                       char **ret_why);
int manager_stop_unit(Manager *m, Sandbox *s, SandboxJobDone done, void *userdata,
                      char **ret_why);
/* A unit came down (exited, failed, auto-restart) while no stop job of ours asked for it:
 * the units bound to it (BindsTo=) are stopped; a failed unit starts its OnFailure= units. */
void manager_unit_went_down(Sandbox *s, bool failed);
/* Answers every waiting job with -ESHUTDOWN (sandboxd stops). */
void manager_cancel_jobs(Manager *m);
bool manager_has_job(Manager *m, const Sandbox *s);
/* Units s pulls in on a start (Requires=, Wants=, BindsTo=), as a tree for list-dependencies:
 * calls f for each with its depth (1 for s's own) and whether the name could be loaded. */
typedef void (*DependencyVisit)(void *userdata, unsigned depth, const char *name,
                                UnitDependency how, const Sandbox *loaded, int load_error);
int manager_walk_dependencies(Manager *m, const char *arg, DependencyVisit f, void *userdata,
                              char ***ret_errors);
/* At exit: answers every job and forgets them (after sandbox_abandon_jobs() of each). */
void manager_free_jobs(Manager *m);
