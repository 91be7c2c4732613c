/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ctnetlink on libmnl: dump, match here, delete each match by its original tuple.
 *
 * The kernel has no filtered delete by address or port: IPCTNL_MSG_CT_DELETE without a tuple
 * flushes, filtered by mark, status or zone only, and refuses CTA_FILTER (EINVAL on
 * 6.18). Worse, a DELETE without a tuple that the kernel did accept would flush
 * the whole table, so every DELETE here names one entry. The port case asks the kernel to
 * filter the dump (CTA_FILTER, Linux 5.8+) and falls back to a full dump. */

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "conntrack.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct mnl_socket *, mnl_socket_close)

/* The bits of CTA_FILTER_ORIG_FLAGS (the kernel's net/netfilter/nf_internals.h; not in the
 * uapi headers, but fixed since they are what userspace sends). */
#define CT_FILTER_F_PROTO_NUM (1u << 3)
#define CT_FILTER_F_PROTO_DST_PORT (1u << 5)

#define CT_REPLY_TIMEOUT_SEC 10
#define CT_RECV_BUFFER_SIZE (64 * 1024)

typedef struct CtMatch {
    bool by_port;
    int family; /* by address */
    union in_addr_union addr;
    uint8_t protocol; /* by port */
    uint16_t port;    /* the kernel's filter, when there is one port */
    const uint8_t *ports; /* a bitmap of 65536 ports */
    struct ifaddrs *local; /* by port: the host's addresses, one of which the entry is to */
} CtMatch;

static bool address_is_local(struct ifaddrs *local, int family, const union in_addr_union *a) {
    if (in_addr_is_loopback(family, a))
        return true; /* all of 127.0.0.0/8, not only lo's 127.0.0.1 */
    for (struct ifaddrs *i = local; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != family)
            continue;
        const void *x = family == AF_INET
                                ? (const void *) &((struct sockaddr_in *) i->ifa_addr)->sin_addr
                                : (const void *) &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
        if (memcmp(x, a->bytes, family == AF_INET ? 4 : 16) == 0)
            return true;
    }
    return false;
}

/* Several matches, any of which selects an entry. */
typedef struct CtMatches {
    const CtMatch *m;
    size_t n;
} CtMatches;

static bool port_in(const uint8_t *bitmap, uint16_t port) {
    return bitmap[port / 8] & (1u << (port % 8));
}

/* An entry to delete: what identifies it to IPCTNL_MSG_CT_DELETE. */
typedef struct CtEntry {
    uint8_t family;
    uint16_t tuple_len;
    uint8_t tuple[256]; /* the CTA_TUPLE_ORIG payload as the dump gave it */
    bool has_id, has_zone;
    uint32_t id;   /* network order */
    uint16_t zone; /* network order */
} CtEntry;

typedef struct CtDump {
    const CtMatch *match; /* one match (the kernel may filter the dump by its port) */
    CtMatches any;        /* or several: any of them selects */
    CtEntry *entries;
    size_t n_entries, allocated;
} CtDump;

typedef struct CtTuple {
    bool has_src, has_dst, has_proto, has_dport;
    union in_addr_union src, dst;
    uint8_t proto;
    uint16_t dport; /* host order */
} CtTuple;

static void parse_ip(const struct nlattr *nest, int family, CtTuple *t) {
    const struct nlattr *a;
    mnl_attr_for_each_nested(a, nest) {
        uint16_t type = mnl_attr_get_type(a);
        size_t want = family == AF_INET ? 4 : 16;
        if (mnl_attr_get_payload_len(a) != want)
            continue;
        if ((family == AF_INET && type == CTA_IP_V4_SRC) ||
            (family == AF_INET6 && type == CTA_IP_V6_SRC)) {
            memcpy(t->src.bytes, mnl_attr_get_payload(a), want);
            t->has_src = true;
        } else if ((family == AF_INET && type == CTA_IP_V4_DST) ||
                   (family == AF_INET6 && type == CTA_IP_V6_DST)) {
            memcpy(t->dst.bytes, mnl_attr_get_payload(a), want);
            t->has_dst = true;
        }
    }
}

static void parse_tuple(const struct nlattr *nest, int family, CtTuple *t) {
    const struct nlattr *a, *p;
    mnl_attr_for_each_nested(a, nest) {
        switch (mnl_attr_get_type(a)) {
        case CTA_TUPLE_IP:
            parse_ip(a, family, t);
            break;
        case CTA_TUPLE_PROTO:
            mnl_attr_for_each_nested(p, a) {
                if (mnl_attr_get_type(p) == CTA_PROTO_NUM &&
                    mnl_attr_validate(p, MNL_TYPE_U8) >= 0) {
                    t->proto = mnl_attr_get_u8(p);
                    t->has_proto = true;
                } else if (mnl_attr_get_type(p) == CTA_PROTO_DST_PORT &&
                           mnl_attr_validate(p, MNL_TYPE_U16) >= 0) {
                    t->dport = ntohs(mnl_attr_get_u16(p));
                    t->has_dport = true;
                }
            }
            break;
        }
    }
}

static bool entry_matches(const CtMatch *m, int family, const CtTuple *orig, const CtTuple *reply) {
    if (m->by_port)
        return orig->has_proto && orig->proto == m->protocol && orig->has_dport &&
               port_in(m->ports, orig->dport) && orig->has_dst &&
               address_is_local(m->local, family, &orig->dst);
    if (family != m->family)
        return false;
    const CtTuple *ts[] = {orig, reply};
    for (size_t i = 0; i < ELEMENTSOF(ts); i++)
        if ((ts[i]->has_src && in_addr_equal(family, &ts[i]->src, &m->addr)) ||
            (ts[i]->has_dst && in_addr_equal(family, &ts[i]->dst, &m->addr)))
            return true;
    return false;
}

static int on_entry(const struct nlmsghdr *nlh, CtDump *d) {
    const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *a, *orig_attr = NULL;
    CtTuple orig = {}, reply = {};
    CtEntry e = {.family = g->nfgen_family};

    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *g))
        return -EBADMSG;
    if (e.family != AF_INET && e.family != AF_INET6)
        return 0;
    mnl_attr_for_each(a, nlh, sizeof *g) {
        switch (mnl_attr_get_type(a)) {
        case CTA_TUPLE_ORIG:
            orig_attr = a;
            parse_tuple(a, e.family, &orig);
            break;
        case CTA_TUPLE_REPLY:
            parse_tuple(a, e.family, &reply);
            break;
        case CTA_ID:
            if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
                e.id = mnl_attr_get_u32(a);
                e.has_id = true;
            }
            break;
        case CTA_ZONE:
            if (mnl_attr_validate(a, MNL_TYPE_U16) >= 0) {
                e.zone = mnl_attr_get_u16(a);
                e.has_zone = true;
            }
            break;
        }
    }
    bool hit = false;
    if (orig_attr && d->match)
        hit = entry_matches(d->match, e.family, &orig, &reply);
    for (size_t i = 0; orig_attr && !hit && i < d->any.n; i++)
        hit = entry_matches(&d->any.m[i], e.family, &orig, &reply);
    if (!hit)
        return 0;
    if (mnl_attr_get_payload_len(orig_attr) > sizeof e.tuple)
        return -EBADMSG;
    e.tuple_len = mnl_attr_get_payload_len(orig_attr);
    memcpy(e.tuple, mnl_attr_get_payload(orig_attr), e.tuple_len);

    if (d->n_entries == d->allocated) {
        size_t n = d->allocated ? d->allocated * 2 : 16;
        CtEntry *p = reallocarray(d->entries, n, sizeof *p);
        if (!p)
            return -ENOMEM;
        d->entries = p;
        d->allocated = n;
    }
    d->entries[d->n_entries++] = e;
    return 0;
}

static int ct_open(struct mnl_socket **ret) {
    _cleanup_(mnl_socket_closep) struct mnl_socket *nl =
        mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    struct timeval tv = {.tv_sec = CT_REPLY_TIMEOUT_SEC};
    int one = 1;

    if (!nl)
        return -errno;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
        return -errno;
    (void)setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        return -errno;
    *ret = TAKE_PTR(nl);
    return 0;
}

static struct nlmsghdr *ct_msg(char *buf, uint16_t type, uint16_t flags, uint8_t family,
                               uint32_t seq) {
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
    g->nfgen_family = family;
    g->version = NFNETLINK_V0;
    g->res_id = 0;
    return nlh;
}

static ssize_t ct_recv(struct mnl_socket *nl, void *buf, size_t size) {
    for (;;) {
        ssize_t k = mnl_socket_recvfrom(nl, buf, size);
        if (k >= 0)
            return k;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
    }
}

/* Sends nlh and reads up to its DONE or ACK, handing each answer to on_entry when d is set. */
static int ct_talk(struct mnl_socket *nl, const struct nlmsghdr *nlh, CtDump *d) {
    _cleanup_free_ char *buf = malloc(CT_RECV_BUFFER_SIZE);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0)
            break;
        if (errno != EINTR)
            return -errno;
    }
    int r = 0;
    for (;;) {
        ssize_t k = ct_recv(nl, buf, CT_RECV_BUFFER_SIZE);
        if (k < 0)
            return (int)k;
        int len = (int)k;
        for (const struct nlmsghdr *m = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(m, len);
             m = mnl_nlmsg_next(m, &len)) {
            if (m->nlmsg_seq != nlh->nlmsg_seq)
                continue;
            if (m->nlmsg_type == NLMSG_DONE)
                return r;
            if (m->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
                if (m->nlmsg_len < mnl_nlmsg_size(sizeof *e))
                    return -EBADMSG;
                return r < 0 ? r : e->error;
            }
            /* an error in our parsing: read on to DONE, so the socket is clean */
            if (d && r == 0)
                r = on_entry(m, d);
        }
    }
}

/* A dump of one family (AF_UNSPEC: both) with, for the port case, the kernel's filter. */
static int ct_dump(struct mnl_socket *nl, uint32_t seq, uint8_t family, bool kernel_filter,
                   CtDump *d) {
    char buf[1024];
    struct nlmsghdr *nlh = ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP | NLM_F_ACK, family, seq);
    if (kernel_filter) {
        struct nlattr *tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
        struct nlattr *proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
        mnl_attr_put_u8(nlh, CTA_PROTO_NUM, d->match->protocol);
        mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(d->match->port));
        mnl_attr_nest_end(nlh, proto);
        mnl_attr_nest_end(nlh, tuple);
        struct nlattr *filter = mnl_attr_nest_start(nlh, CTA_FILTER);
        mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS,
                         CT_FILTER_F_PROTO_NUM | CT_FILTER_F_PROTO_DST_PORT);
        mnl_attr_put_u32(nlh, CTA_FILTER_REPLY_FLAGS, 0);
        mnl_attr_nest_end(nlh, filter);
    }
    return ct_talk(nl, nlh, d);
}

/* Deletes each entry by its original tuple (and id, so an entry that was replaced in the
 * meantime by another with the same tuple stays). One already gone is not counted. */
static int ct_delete_entries(struct mnl_socket *nl, uint32_t *seq, const CtDump *d) {
    int deleted = 0;
    for (size_t i = 0; i < d->n_entries; i++) {
        const CtEntry *e = &d->entries[i];
        char buf[1024];
        struct nlmsghdr *nlh = ct_msg(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, e->family, (*seq)++);
        mnl_attr_put(nlh, CTA_TUPLE_ORIG | NLA_F_NESTED, e->tuple_len, e->tuple);
        if (e->has_id)
            mnl_attr_put_u32(nlh, CTA_ID, e->id);
        if (e->has_zone)
            mnl_attr_put_u16(nlh, CTA_ZONE, e->zone);
        int r = ct_talk(nl, nlh, NULL);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return r;
        if (deleted < INT32_MAX)
            deleted++;
    }
    return deleted;
}

static int ct_flush(const CtMatch *m) {
    _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
    CtDump d = {.match = m};
    uint32_t seq = 1;
    int r;

    r = ct_open(&nl);
    if (r < 0)
        return r;
    if (m->by_port) {
        static const uint8_t families[] = {AF_INET, AF_INET6};
        for (size_t i = 0; i < ELEMENTSOF(families) && r >= 0; i++) {
            size_t before = d.n_entries;
            /* the kernel filters by one port; for more, one dump matched here */
            r = ct_dump(nl, seq++, families[i], m->port != 0, &d);
            /* a kernel without dump filters (before 5.8) */
            if (m->port != 0 && (r == -EOPNOTSUPP || r == -EINVAL)) {
                d.n_entries = before;
                r = ct_dump(nl, seq++, families[i], false, &d);
            }
        }
    } else
        r = ct_dump(nl, seq++, (uint8_t)m->family, false, &d);
    if (r >= 0)
        r = ct_delete_entries(nl, &seq, &d);
    free(d.entries);
    return r;
}

int conntrack_flush_address(int family, const union in_addr_union *addr) {
    if ((family != AF_INET && family != AF_INET6) || !addr)
        return -EINVAL;
    CtMatch m = {.family = family, .addr = *addr};
    return ct_flush(&m);
}

int conntrack_flush_ports(uint8_t protocol, const uint16_t *ports, size_t n_ports) {
    uint8_t bitmap[65536 / 8] = {};
    if (n_ports > 0 && !ports)
        return -EINVAL;
    for (size_t i = 0; i < n_ports; i++) {
        if (ports[i] == 0)
            return -EINVAL;
        bitmap[ports[i] / 8] |= (uint8_t) (1u << (ports[i] % 8));
    }
    if (n_ports == 0)
        return 0;
    /* Each dump walks the kernel's whole conntrack hash (every namespace's buckets, ~10 ms
     * for 262144 of them here), filter or not: a dump per port made Port=1-65535/udp block
     * the daemon for half an hour. Many ports: one dump per family, matched here. */
    /* Only entries to this host: the stale ones of clients that sent to the port before it
     * was published. Every entry with that destination port also took the sandboxes' and the
     * host's own flows to remote servers on it (a unit publishing 443/udp cut every QUIC
     * connection of every other sandbox, and 1-65535/udp all their UDP, at each start). */
    struct ifaddrs *local = NULL;
    if (getifaddrs(&local) < 0)
        return -errno;
    CtMatch m = {.by_port = true, .protocol = protocol, .port = n_ports == 1 ? ports[0] : 0,
                 .ports = bitmap, .local = local};
    int r = ct_flush(&m);
    freeifaddrs(local);
    return r;
}

/* The entries of our network namespace, or -1 if unknown: with none there is nothing to find,
 * and a dump would walk the whole hash (every namespace's buckets, bottom halves off) for
 * nothing. */
static long ct_count(void) {
    char buf[32];
    _cleanup_close_ int fd = open("/proc/sys/net/netfilter/nf_conntrack_count",
                                  O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t k = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (k <= 0)
        return -1;
    buf[k] = 0;
    char *end;
    long v = strtol(buf, &end, 10);
    return end != buf ? v : -1;
}

int conntrack_flush(const ConntrackMatch *m, size_t n) {
    _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
    /* addresses one by one; ports as one bitmap per protocol */
    _cleanup_free_ CtMatch *cm = calloc(n + 2, sizeof(CtMatch));
    _cleanup_free_ uint8_t *bitmaps = calloc(2, 65536 / 8);
    static const uint8_t protocols[2] = {IPPROTO_TCP, IPPROTO_UDP};
    bool any_port[2] = {};
    size_t k = 0;
    if (!cm || !bitmaps)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (m[i].family) {
            if (m[i].family != AF_INET && m[i].family != AF_INET6)
                return -EINVAL;
            cm[k++] = (CtMatch){.family = m[i].family, .addr = m[i].addr};
            continue;
        }
        int p = m[i].protocol == IPPROTO_TCP ? 0 : m[i].protocol == IPPROTO_UDP ? 1 : -1;
        if (p < 0 || m[i].port == 0)
            return -EINVAL;
        bitmaps[p * 8192 + m[i].port / 8] |= (uint8_t) (1u << (m[i].port % 8));
        any_port[p] = true;
    }
    struct ifaddrs *local = NULL;
    if ((any_port[0] || any_port[1]) && getifaddrs(&local) < 0)
        return -errno;
    for (int p = 0; p < 2; p++)
        if (any_port[p])
            cm[k++] = (CtMatch){.by_port = true, .protocol = protocols[p],
                                .ports = bitmaps + p * 8192, .local = local};
    if (ct_count() == 0)
        k = 0;
    CtDump d = {.any = {cm, k}};
    uint32_t seq = 1;
    int r = k == 0 ? 0 : ct_open(&nl);
    /* one walk of the kernel's hash, both families, for everything a start or stop queued */
    if (k > 0 && r >= 0)
        r = ct_dump(nl, seq++, AF_UNSPEC, false, &d);
    if (k > 0 && r >= 0)
        r = ct_delete_entries(nl, &seq, &d);
    free(d.entries);
    if (local)
        freeifaddrs(local);
    return r;
}

int conntrack_flush_port(uint8_t protocol, uint16_t port) {
    return conntrack_flush_ports(protocol, &port, 1);
}
