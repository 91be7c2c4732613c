/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* rtnetlink on libmnl, for the daemon: the bridge, the veths, what the host routes. Knows
 * nothing of units. One request at a time, each acknowledged; errors are negative errnos from
 * the kernel's ACK. The socket lives in the namespace it was opened in (the daemon's). */

#include <stdbool.h>
#include <stdint.h>

#include "in-addr-util.h"

typedef struct Rtnl Rtnl;

int rtnl_open(Rtnl **ret);
Rtnl *rtnl_close(Rtnl *nl);
static inline void rtnl_closep(Rtnl **nl) {
    if (*nl)
        rtnl_close(*nl);
}

/* The bridge `name`: created if missing (kind "bridge"), given each address of addrs that it
 * lacks (the gateways, e.g. 10.88.0.1/16 and fdxx::1/64; IPv6 without DAD), brought up.
 * Returns its ifindex in *ret_ifindex and MTU in *ret_mtu (either may be NULL). An existing
 * link of another kind with that name is -EEXIST. Cheap when all is in place (~27 us, 4
 * requests), so call it before every veth: the kernel drops a bridge's IPv6 addresses when it
 * goes down or its MTU falls below 1280 (a port with a smaller MTU lowers it), and this puts
 * them back. */
int rtnl_bridge_ensure(Rtnl *nl, const char *name, const InAddrPrefix *addrs, size_t n_addrs,
                       uint32_t *ret_ifindex, uint32_t *ret_mtu);

/* A veth pair: host end `host_name` enslaved to master_ifindex as it is made, with mtu (0: the
 * kernel's default), in hairpin mode, without IPv6 addresses, then up (three RTM_NEWLINK); its
 * peer `peer_name` made directly in the network namespace peer_netns_fd (never in ours), with
 * the same MTU and down (its namespace's owner configures it). -EEXIST if host_name exists
 * (or peer_name in that namespace). All or nothing: when a part fails (e.g. master is no
 * bridge: -EOPNOTSUPP) no link is left. */
int rtnl_veth_create(Rtnl *nl, const char *host_name, const char *peer_name, int peer_netns_fd,
                     uint32_t master_ifindex, uint32_t mtu);

/* Deletes a link by name (for failed starts only: a stopped sandbox's veth goes with its
 * namespace). -ENODEV if there is none. */
int rtnl_link_delete(Rtnl *nl, const char *name);

/* Whether some route of the main table other than through `except_ifname` (may be NULL; a
 * missing link excepts nothing) covers or lies inside prefix p: a subnet the host already
 * uses. Default routes do not count, nor the local/broadcast/multicast/anycast entries;
 * blackhole and unreachable routes do. */
int rtnl_prefix_is_routed(Rtnl *nl, const InAddrPrefix *p, const char *except_ifname, bool *ret);

/* Writes "1" to /proc/sys/net/ipv4/ip_forward (or ipv6/conf/all/forwarding for AF_INET6);
 * returns 1 if it changed the value, 0 if it was already on. */
int sysctl_enable_forwarding(int family);
/* Writes "1" to /proc/sys/net/ipv4/conf/IFNAME/route_localnet: DNAT of 127.0.0.1 onto that
 * link only, never `all` (CVE-2020-8558): "all", "default" and names that are no link name
 * are -EINVAL. Returns 0. */
int sysctl_set_route_localnet(const char *ifname);
