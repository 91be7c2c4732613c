/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "in-addr-util.h"

size_t in_addr_family_size(int family) {
    return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

int in_addr_parse(const char *s, int *ret_family, union in_addr_union *ret) {
    union in_addr_union a = {};
    if (!s || !*s)
        return -EINVAL;
    if (inet_pton(AF_INET, s, &a.in) == 1) {
        *ret_family = AF_INET;
        *ret = a;
        return 0;
    }
    if (inet_pton(AF_INET6, s, &a.in6) == 1) {
        *ret_family = AF_INET6;
        *ret = a;
        return 0;
    }
    return -EINVAL;
}

static bool prefix_bits_match(const uint8_t *a, const uint8_t *b, unsigned bits) {
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t) (0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int in_addr_prefix_parse(const char *s, InAddrPrefix *ret) {
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || slash == s || slash - s >= INET6_ADDRSTRLEN)
        return -EINVAL;
    char addr[INET6_ADDRSTRLEN];
    memcpy(addr, s, (size_t) (slash - s));
    addr[slash - s] = 0;
    InAddrPrefix p = {};
    if (in_addr_parse(addr, &p.family, &p.addr) < 0)
        return -EINVAL;
    const char *len = slash + 1;
    if (*len < '0' || *len > '9' || strlen(len) > 3)
        return -EINVAL;
    char *end;
    unsigned long n = strtoul(len, &end, 10);
    if (*end || n == 0 || n > in_addr_family_size(p.family) * 8)
        return -EINVAL;
    p.prefixlen = (uint8_t) n;
    /* host bits must be clear */
    union in_addr_union base = {};
    size_t size = in_addr_family_size(p.family);
    for (size_t i = 0; i < size; i++) {
        unsigned bit = (unsigned) i * 8;
        uint8_t mask = bit + 8 <= n ? 0xff : bit >= n ? 0 : (uint8_t) (0xff << (8 - (n - bit)));
        base.bytes[i] = p.addr.bytes[i] & mask;
    }
    if (memcmp(base.bytes, p.addr.bytes, size) != 0)
        return -EINVAL;
    *ret = p;
    return 0;
}

bool in_addr_equal(int family, const union in_addr_union *a, const union in_addr_union *b) {
    return memcmp(a->bytes, b->bytes, in_addr_family_size(family)) == 0;
}

bool in_addr_is_null(int family, const union in_addr_union *a) {
    static const union in_addr_union zero = {};
    return in_addr_equal(family, a, &zero);
}

bool in_addr_is_loopback(int family, const union in_addr_union *a) {
    if (family == AF_INET)
        return a->bytes[0] == 127;
    return family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->in6);
}

bool in_addr_is_multicast(int family, const union in_addr_union *a) {
    if (family == AF_INET)
        return (a->bytes[0] & 0xf0) == 0xe0;
    return family == AF_INET6 && a->bytes[0] == 0xff;
}

bool in_addr_prefix_contains(const InAddrPrefix *p, int family, const union in_addr_union *a) {
    return p->family == family && prefix_bits_match(p->addr.bytes, a->bytes, p->prefixlen);
}

bool in_addr_prefix_overlaps(const InAddrPrefix *a, const InAddrPrefix *b) {
    if (a->family != b->family)
        return false;
    unsigned bits = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;
    return prefix_bits_match(a->addr.bytes, b->addr.bytes, bits);
}

uint64_t in_addr_prefix_size(const InAddrPrefix *p) {
    unsigned host = (unsigned) in_addr_family_size(p->family) * 8 - p->prefixlen;
    return host >= 32 ? UINT64_C(1) << 32 : UINT64_C(1) << host;
}

int in_addr_prefix_nth(const InAddrPrefix *p, uint64_t n, union in_addr_union *ret) {
    if (n >= in_addr_prefix_size(p))
        return -ERANGE;
    size_t size = in_addr_family_size(p->family);
    union in_addr_union a = p->addr;
    /* add n to the last four bytes (the host part is at most 32 bits wide here) */
    uint64_t carry = n;
    for (size_t i = size; i > 0 && carry; i--) {
        uint64_t v = a.bytes[i - 1] + (carry & 0xff);
        a.bytes[i - 1] = (uint8_t) v;
        carry = (carry >> 8) + (v >> 8);
    }
    *ret = a;
    return 0;
}

int in_addr_prefix_offset(const InAddrPrefix *p, const union in_addr_union *a, uint64_t *ret) {
    if (!in_addr_prefix_contains(p, p->family, a))
        return -ERANGE;
    size_t size = in_addr_family_size(p->family);
    /* bytes above the last four must equal the base's, or the offset is beyond 2^32 */
    for (size_t i = 0; i + 4 < size; i++)
        if (a->bytes[i] != p->addr.bytes[i])
            return -ERANGE;
    uint64_t off = 0;
    for (size_t i = size - 4; i < size; i++)
        off = (off << 8) | (uint8_t) (a->bytes[i] - p->addr.bytes[i]);
    /* the subtraction per byte is exact: the base's host bits are zero */
    *ret = off;
    return 0;
}

const char *in_addr_to_string(int family, const union in_addr_union *a,
                              char buf[static INET6_ADDRSTRLEN]) {
    if (!inet_ntop(family, a, buf, INET6_ADDRSTRLEN))
        strcpy(buf, "?");
    return buf;
}

const char *in_addr_prefix_to_string(const InAddrPrefix *p,
                                     char buf[static IN_ADDR_PREFIX_STRLEN]) {
    char a[INET6_ADDRSTRLEN];
    snprintf(buf, IN_ADDR_PREFIX_STRLEN, "%s/%u", in_addr_to_string(p->family, &p->addr, a),
             p->prefixlen);
    return buf;
}
