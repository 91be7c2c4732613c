/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Connection tracking entries via ctnetlink (libmnl): NAT is decided when an entry is made,
 * so a sandbox's old entries would keep steering traffic to an address that is gone (or to
 * nothing) until they time out. */

#include <stddef.h>
#include <stdint.h>

#include "in-addr-util.h"

/* What to delete: entries of an address (family set), or of a port (protocol set). */
typedef struct ConntrackMatch {
    int family; /* AF_INET/AF_INET6: by address; 0: by port */
    union in_addr_union addr;
    uint8_t protocol;
    uint16_t port;
} ConntrackMatch;

/* Deletes every entry any of m matches, after a single dump of the table (of both families):
 * the kernel walks its whole conntrack hash for each dump (~9 ms with 262144 buckets), so
 * the daemon batches what a start or stop needs. Returns the number deleted. */
int conntrack_flush(const ConntrackMatch *m, size_t n);

/* Deletes every entry whose original source or destination, or reply source or destination,
 * is addr. Returns the number deleted. */
int conntrack_flush_address(int family, const union in_addr_union *addr);
/* Deletes every entry of protocol whose original destination is port on an address of this
 * host (a UDP port being published or unpublished: a client that keeps sending keeps its
 * entry forever); entries to other hosts' ports of that number are left alone. */
int conntrack_flush_port(uint8_t protocol, uint16_t port);
/* The same for every port of ports at once (a dump or two, however many ports). */
int conntrack_flush_ports(uint8_t protocol, const uint16_t *ports, size_t n_ports);
