/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* sandboxd's nftables tables `inet sandboxd` and `bridge sandboxd` through libnftnl + libmnl,
 * one atomic batch per change (a batch spans both tables). Knows nothing of units: the rules
 * are static, and per-sandbox data is elements of sets and maps (the masqueraded sources, the
 * published ports, each port's bound sources), as systemd's nspawn NAT does.
 *
 * The API change for the bridge table is one field: NftAddr.port. An address given with its
 * sandbox's bridge port goes into both tables, in the same batch, by the same calls.
 *
 * Layout (nft syntax; B is the bridge, S4/S6 the subnets):
 *   set masq4 { type ipv4_addr }   set masq6 { type ipv6_addr }
 *   map ports4_any  { type inet_proto . inet_service : ipv4_addr . inet_service }
 *   map ports4_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
 *   map ports6_any / ports6_addr likewise with ipv6_addr
 *   chain raw_prerouting  (filter, prerouting, priority raw): iifname != "lo" ip daddr
 *                          127.0.0.0/8 drop (a published loopback port is not reachable from
 *                          another host: moby#45610); iifname B ip saddr != S4 drop;
 *                          iifname B ip6 saddr != S6 ip6 saddr != fe80::/64 ip6 saddr != ::
 *                          drop; iifname B ip6 saddr GW6 drop (no spoofed source from a
 *                          sandbox leaves the bridge); iifname != B iifname != "lo" ip saddr
 *                          S4 drop, and for S6 (nor a sandbox's source comes by another link)
 *   chain prerouting  (nat, prerouting, dstnat): fib daddr type local: dnat by ports*_addr
 *                      (daddr . l4proto . dport), then by ports*_any (l4proto . dport); v6
 *                      never for ip6 daddr ::1 (no route_localnet in IPv6: a port published
 *                      on ::1 is unreachable, [::1] of one on every address is refused)
 *   chain output      (nat, output, dstnat): the same for connections from the host itself
 *   chain postrouting (nat, postrouting, srcnat): ip saddr @masq4 oifname != B masquerade;
 *                      ip saddr 127.0.0.0/8 oifname B masquerade; oifname B ct status dnat
 *                      ip saddr S4 ip saddr != GW4 masquerade (hairpin, with or without
 *                      br_netfilter; the host's own connections from the gateway need none);
 *                      v6 alike
 *   chain forward     (filter, forward, filter): ct state established,related accept;
 *                      oifname B ct status dnat accept; iifname B accept; oifname B drop
 *
 * and, binding each sandbox's bridge port to its addresses (libvirt's clean-traffic), so that
 * no sandbox sends with another's (or the gateway's) address, on the bridge itself too:
 *   table bridge sandboxd
 *   set src4 { type ifname . ipv4_addr }   set src6 { type ifname . ipv6_addr }
 *   chain prerouting (filter, bridge prerouting, priority -300), frames entering the bridge
 *                      by a sandbox's port (iifname "sbx*"; not those the host sends):
 *                      ether type != ip, arp, ip6 drop (nor VLAN-tagged ones);
 *                      ether type ip iifname . ip saddr != @src4 drop;
 *                      ether type arp iifname . arp saddr ip != @src4 drop;
 *                      ether type ip6 ip6 saddr != fe80::/64 ip6 saddr != ::
 *                      iifname . ip6 saddr != @src6 drop;
 *                      a neighbour advertisement whose target is not link-local and not
 *                      iifname . target in @src6: drop
 *   (without IPv6, every IPv6 source but link-local and :: is dropped, src6 not made);
 *   and in prerouting (from a sandbox) and in chain output (filter, bridge output, priority
 *   -200: before br_netfilter; frames the host sends out by a sandbox's port, oifname
 *   "sbx*"): router solicitations and advertisements, ICMPv6 and ICMP redirects, multicast
 *   listener reports and dones: drop.
 */

#include <stdbool.h>
#include <stdint.h>

#include "in-addr-util.h"

#define NFT_TABLE_NAME "sandboxd"
/* Every port of the bridge whose name starts so is a sandbox's, and is filtered by
 * `bridge sandboxd` (the running kernel may lack `meta ibrname`, nft_meta_bridge): a port so
 * named without elements sends nothing. The caller names its veths so. */
#define NFT_PORT_PREFIX "sbx"

typedef struct NftNetwork {
    const char *bridge;
    InAddrPrefix v4;
    InAddrPrefix v6; /* family 0: no IPv6 rules, sets or maps */
    /* the bridge's own addresses, the sandboxes' gateways (GW4, GW6): inside v4 and v6 */
    union in_addr_union gateway4, gateway6;
} NftNetwork;

/* One published port: a DNAT entry. */
typedef struct NftPort {
    int family;          /* AF_INET or AF_INET6: of both addresses */
    bool any_host_addr;  /* every local address; else host_addr only */
    union in_addr_union host_addr;
    uint8_t protocol;    /* IPPROTO_TCP / IPPROTO_UDP */
    uint16_t host_port;
    union in_addr_union addr; /* the sandbox's */
    uint16_t port;
} NftPort;

/* A sandbox's address: masqueraded (masq4/masq6), and, when port is given, the one source
 * the bridge admits from that port (src4/src6: port . addr); NULL: masquerade only. port is a
 * bridge port's name starting with NFT_PORT_PREFIX, the host end of the sandbox's veth. */
typedef struct NftAddr {
    int family;
    union in_addr_union addr;
    const char *port;
} NftAddr;

typedef struct Nft Nft;

int nft_open(Nft **ret);
Nft *nft_close(Nft *n);
static inline void nft_closep(Nft **n) {
    if (*n)
        nft_close(*n);
}

/* "The table" below is both tables: each call changes both, in one batch. */

/* Replaces the whole table with the skeleton for net and these elements, in one batch:
 * (create table; delete table; create table, sets, maps, chains, rules, elements). Either all
 * of it is in place afterwards or the previous table stays. */
int nft_table_replace(Nft *n, const NftNetwork *net, const NftAddr *addrs, size_t n_addrs,
                      const NftPort *ports, size_t n_ports);
/* Adds (or deletes) elements in one batch. Adding an element that exists, or deleting one that
 * does not, fails the whole batch (-EEXIST / -ENOENT); -ENOENT also when the table is gone. */
int nft_elements_add(Nft *n, const NftAddr *addrs, size_t n_addrs, const NftPort *ports,
                     size_t n_ports);
int nft_elements_delete(Nft *n, const NftAddr *addrs, size_t n_addrs, const NftPort *ports,
                        size_t n_ports);
/* Deletes the table; 0 also if there was none. */
int nft_table_delete(Nft *n);
/* Whether the table exists with all its chains, sets and maps (1/0). */
int nft_table_is_intact(Nft *n, const NftNetwork *net);

/* A socket subscribed to nftables ruleset events (NFNLGRP_NFTABLES), non-blocking, for the
 * event loop. */
int nft_monitor_open(int *ret_fd);
/* Drains the socket; *ret_touched is set when some event deleted our table or a chain, set,
 * map, rule or element of it, unless n's own socket made that change (n may be NULL: then
 * every deletion counts, our own replace's DELTABLE included). Element deletions leave the
 * table "intact", so on touched the caller replaces the table from its own state (atomic,
 * and not reported back to it). *ret_overrun is set when events were lost (-ENOBUFS from the
 * kernel, a truncated message): whatever they said is unknown, the caller must look. Our own
 * large batches overrun it too: every element added is an event. */
int nft_monitor_read(Nft *n, int fd, bool *ret_touched, bool *ret_overrun);
