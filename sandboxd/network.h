/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The daemon's side of Network=bridge: the bridge and its subnets, the address book (leases
 * persisted under STATE/network/leases, one file per unit), the published ports of running
 * sandboxes, and the nftables table that is rebuilt from them. The kernel interfaces are in
 * src/sys (rtnl, nft, conntrack); the policy is here. */

#include <stdbool.h>
#include <stdint.h>

#include "daemon-config.h"
#include "in-addr-util.h"
#include "nft.h"
#include "plan.h"
#include "unit.h"

typedef struct Manager Manager;
typedef struct Sandbox Sandbox;
typedef struct Network Network;

/* What a networked sandbox holds while it runs (Sandbox.net). */
typedef struct SandboxNet {
    bool attached;            /* leased and accounted: detach undoes it */
    bool lease_new;           /* this start made the lease: a failed start removes it */
    bool published;           /* its elements are in the table */
    bool has4, has6;
    union in_addr_union addr4, addr6;
    char veth[16];            /* host end, "" if none was made */
    NftPort *ports;           /* expanded Port= entries, one per family and port */
    size_t n_ports;
} SandboxNet;

/* Settles the subnets (Subnet= or the first /16 of 10.88-10.99 the host does not route; the
 * IPv6 ULA from the machine id), makes the bridge with the gateways, turns forwarding on and
 * loads the leases. The table is written by network_rebuild(), once re-adoption is done. */
int network_new(Manager *m, const DaemonConfig *dc, Network **ret);
/* Leaves the bridge; removes the table if no sandbox runs (keep_sandboxes false). */
Network *network_free(Network *n, bool sandboxes_remain);

/* Writes the whole table from the running sandboxes in one batch, and watches the ruleset so
 * another tool's `nft flush ruleset` is undone. */
int network_rebuild(Network *n);

/* The subnets, for unit_check_network(). */
const UnitNetworkContext *network_context(const Network *n);

/* Start, before the plan: the sandbox's addresses (its lease, made if needed) and its ports
 * (a conflict with another running unit fails, naming it). Fills plan_net. On failure,
 * start_error is set and nothing is held. */
int network_sandbox_prepare(Network *n, Sandbox *s, PlanNetwork *plan_net);
/* Start, once the init exists and before it goes on: the veth into its namespace, the table's
 * elements, stale conntrack entries of its UDP ports. start_error names the failure. */
int network_sandbox_attach(Network *n, Sandbox *s, int netns_fd);
/* The sandbox is gone (or its start failed): its elements leave the table, conntrack entries
 * of its addresses are flushed, its ports are free; the lease stays unless this start made it
 * and failed. */
void network_sandbox_detach(Network *n, Sandbox *s, bool failed_start);
/* Re-adoption: what a previous sandboxd recorded in RUNTIME/sandboxes/NAME/network. */
int network_sandbox_adopt(Network *n, Sandbox *s);
/* `clean`: forgets the unit's lease. */
int network_release_lease(Network *n, const char *name);

void sandbox_net_done(SandboxNet *sn);
