/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Conntrack flushes off the event loop. A flush walks the kernel's whole conntrack hash
 * (~9 ms with 262144 buckets), which on the loop delayed every answer behind it (a start's
 * READY among them: +10 ms a start). One thread, SCHED_IDLE, takes batches in order; it
 * touches nothing of the daemon but its queue. */

#include <stdbool.h>
#include <stddef.h>

#include "conntrack.h"

typedef struct CtWorker CtWorker;

int ct_worker_new(CtWorker **ret);
/* Runs what is queued, then ends the thread. */
CtWorker *ct_worker_free(CtWorker *w);
/* Takes ownership of m (n matches, malloc'd); returns at once. */
void ct_worker_submit(CtWorker *w, ConntrackMatch *m, size_t n);
/* Drops the queued matches of address a; returns whether a batch being flushed right now
 * still has one (the caller then waits). */
bool ct_worker_cancel_address(CtWorker *w, int family, const union in_addr_union *a);
/* Waits until every batch submitted so far is done. */
void ct_worker_wait(CtWorker *w);
