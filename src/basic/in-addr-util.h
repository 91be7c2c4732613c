/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* IPv4/IPv6 addresses and prefixes, as the unit parser, the daemon's address book and the
 * netlink modules share them. Pure: nothing here touches the system. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

union in_addr_union {
    struct in_addr in;
    struct in6_addr in6;
    uint8_t bytes[16];
};

typedef struct InAddrPrefix {
    int family; /* AF_INET or AF_INET6; 0: unset */
    union in_addr_union addr;
    uint8_t prefixlen;
} InAddrPrefix;

/* 4 or 16; 0 for another family. */
size_t in_addr_family_size(int family);
/* "10.0.0.1" or "fd00::1" (no brackets); -EINVAL otherwise. */
int in_addr_parse(const char *s, int *ret_family, union in_addr_union *ret);
/* "10.88.0.0/16": host bits must be zero (-EINVAL otherwise, so a typo is not silently
 * widened); a prefix length of 0 is refused. */
int in_addr_prefix_parse(const char *s, InAddrPrefix *ret);
bool in_addr_equal(int family, const union in_addr_union *a, const union in_addr_union *b);
bool in_addr_is_null(int family, const union in_addr_union *a);
bool in_addr_is_loopback(int family, const union in_addr_union *a);
/* 224.0.0.0/4, ff00::/8 */
bool in_addr_is_multicast(int family, const union in_addr_union *a);
bool in_addr_prefix_contains(const InAddrPrefix *p, int family, const union in_addr_union *a);
bool in_addr_prefix_overlaps(const InAddrPrefix *a, const InAddrPrefix *b);
/* The address n above the prefix's base (n = 1: the first host). -ERANGE when n is beyond the
 * prefix or beyond 2^32 addresses. */
int in_addr_prefix_nth(const InAddrPrefix *p, uint64_t n, union in_addr_union *ret);
/* The offset of a inside p (the inverse of in_addr_prefix_nth); -ERANGE if not inside or
 * beyond 2^32. */
int in_addr_prefix_offset(const InAddrPrefix *p, const union in_addr_union *a, uint64_t *ret);
/* The number of addresses of the prefix, capped at 2^32. */
uint64_t in_addr_prefix_size(const InAddrPrefix *p);
/* Formats into buf; returns buf. */
#define IN_ADDR_PREFIX_STRLEN (INET6_ADDRSTRLEN + 4)
const char *in_addr_to_string(int family, const union in_addr_union *a,
                              char buf[static INET6_ADDRSTRLEN]);
const char *in_addr_prefix_to_string(const InAddrPrefix *p, char buf[static IN_ADDR_PREFIX_STRLEN]);
