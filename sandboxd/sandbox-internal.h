/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "cgroup.h"

/* Shared by sandbox.c, sandbox-prepare.c and sandbox-adopt.c only. */

#include "plan.h"
#include "sandbox.h"

/* Records why the current start failed (for the caller and status); returns 0. */
int sandbox_set_start_error(Sandbox *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Accuracy of the unit's timers: sd-event's default (0) lets a timer fire up to 250 ms late,
 * which would stretch RestartSec=100ms and the start and stop timeouts. */
#define TIMER_ACCURACY_USEC USEC_PER_MSEC

/* The only writer of s->state (see sandbox.c). */
void sandbox_set_state(Sandbox *s, SandboxState state);
/* sandbox-start.c: sets everything up and spawns the init; on failure undoes it all and fills
 * start_error. */
int sandbox_start_process(Sandbox *s);
/* sandbox.c, for the start steps */
int sandbox_on_sync(sd_event_source *src, int fd, uint32_t revents, void *userdata);
int sandbox_on_start_timeout(sd_event_source *src, uint64_t usec, void *userdata);
/* Kills and removes the cgroup; -EBUSY while processes still exit. */
int sandbox_release_cgroup(Sandbox *s);
/* Closes what a running sandbox held; removes its cgroup (or schedules that) and runtime
 * directory. */
void sandbox_release_runtime(Sandbox *s);

int sandbox_preflight(Sandbox *s);
/* IO*Max= devices as whole disks; start_error names the key on failure. */
int sandbox_resolve_io_limits(Sandbox *s, CgIoLimit **ret, size_t *ret_n);
int sandbox_pick_userns_base(Sandbox *s);
/* CPUs=n: n of the CPUs sandboxd may use, as an AllowedCPUs= list in *ret; NULL (and 0) when
 * there are fewer. */
int sandbox_pick_cpus(Sandbox *s, unsigned n, char **ret);
const char *sandbox_effective_hostname(const Sandbox *s, char buf[static 65]);
/* The init layer: etc/hostname, etc/hosts and etc/resolv.conf. net (NULL: none) gives the
 * sandbox's own addresses for its host name. *ret_no_resolvers: resolv.conf names no server
 * (DNS= empty, or none on the host that the sandbox can reach), for the unit log. */
int sandbox_write_init_layer(const Sandbox *s, const char *init_dir, const char *hostname,
                             const PlanNetwork *net, bool *ret_no_resolvers);
/* /etc/hosts: localhost, the host name on the sandbox's addresses (127.0.1.1 without), then
 * AddHost=. NULL on OOM. */
char *sandbox_hosts_text(const UnitConfig *c, const char *hostname, const PlanNetwork *net);
/* /etc/resolv.conf from the host's (host, NULL if unreadable) and systemd-resolved's upstream
 * list (resolved, NULL if absent): DNS= replaces the host's servers, keeping its search and
 * options lines; else the host's file without the loopback servers a sandbox with its own
 * network namespace cannot reach, and if none remain, resolved's upstream servers. */
int sandbox_resolv_conf_text(const UnitConfig *c, const char *host, const char *resolved,
                             char **ret, bool *ret_no_resolvers);
unsigned long sandbox_clone_flags(unsigned ns);
int sandbox_build_probe_plan(Sandbox *s, SandboxPlan **ret);
int sandbox_build_plan(Sandbox *s, const char *root, const char *init_dir, const char *upper,
                       const char *work, const char *hostname, SandboxPlan **ret);
