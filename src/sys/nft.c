/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The `inet sandboxd` and `bridge sandboxd` tables through libnftnl + libmnl. The only user of
 * libnftnl. Every change is one nfnetlink batch (spanning both tables), so the kernel applies
 * all of it or none of it. */

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include "macro.h"
#include "nft.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_table *, nftnl_table_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_chain *, nftnl_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule *, nftnl_rule_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_set *, nftnl_set_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_set_elem *, nftnl_set_elem_free)

/* nft's datatype ids (nftables include/datatype.h): the kernel stores them untouched and
 * `nft list` uses them to print keys; a concatenation is its types shifted in 6 bits apiece. */
#define NFT_TYPE_IPV4_ADDR 7
#define NFT_TYPE_IPV6_ADDR 8
#define NFT_TYPE_INET_PROTO 12
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_IFNAME 41
#define NFT_TYPE_BITS 6
#define NFT_CONCAT2(a, b) ((a) << NFT_TYPE_BITS | (b))
#define NFT_CONCAT3(a, b, c) NFT_CONCAT2(NFT_CONCAT2(a, b), c)

/* NF_BR_PRE_ROUTING: <linux/netfilter_bridge.h> pulls in <linux/if.h>, which clashes with
 * <net/if.h> */
#define NFT_BR_PRE_ROUTING 0
#define NFT_BR_LOCAL_OUT 3
/* nft's "filter" priority in the bridge family */
#define NFT_BR_PRIO_FILTER (-200)

/* nft's named chain priorities. */
#define NFT_PRIO_RAW (-300)
#define NFT_PRIO_DSTNAT (-100)
#define NFT_PRIO_FILTER 0
#define NFT_PRIO_SRCNAT 100

/* A reply to a batch or a request is there at once (nfnetlink answers inside sendmsg); this
 * only keeps a kernel that never answers from hanging the daemon. */
#define NFT_REPLY_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* Elements per NEWSETELEM/DELSETELEM message: an element attribute nest must stay below the
 * 64 KiB of a netlink attribute length. */
#define NFT_ELEMS_PER_MSG 64
/* Receive buffer for replies: a dump message is at most 32 KiB (NLMSG_GOODSIZE x 4). */
#define NFT_RECV_BUFFER_SIZE (64 * 1024)

struct Nft {
    struct mnl_socket *nl;
    uint32_t portid; /* the kernel names it in the events our changes cause */
    uint32_t seq;
    int sndbuf, rcvbuf; /* what the socket has, to grow it only when a batch needs more */
    char buf[NFT_RECV_BUFFER_SIZE];
};

/* The two tables, by their nftables family. */
static const uint16_t table_families[] = {NFPROTO_INET, NFPROTO_BRIDGE};

/* The sets and maps; the IPv6 ones exist only when the network has an IPv6 prefix. */
enum {
    SET_MASQ4,
    SET_MASQ6,
    SET_PORTS4_ANY,
    SET_PORTS4_ADDR,
    SET_PORTS6_ANY,
    SET_PORTS6_ADDR,
    SET_SRC4,
    SET_SRC6,
    _SET_MAX,
};

typedef struct SetDef {
    const char *name;
    int family;
    uint32_t key_type, key_len, data_type, data_len; /* data_type 0: a set, not a map */
    uint16_t table;                                  /* 0: inet, else NFPROTO_BRIDGE */
} SetDef;

/* Concatenated keys and data: each component takes a multiple of 4 bytes (one 32-bit
 * register each), as nft lays them out. */
static const SetDef set_defs[_SET_MAX] = {
    [SET_MASQ4] = {"masq4", AF_INET, NFT_TYPE_IPV4_ADDR, 4, 0, 0},
    [SET_MASQ6] = {"masq6", AF_INET6, NFT_TYPE_IPV6_ADDR, 16, 0, 0},
    [SET_PORTS4_ANY] = {"ports4_any", AF_INET,
                        NFT_CONCAT2(NFT_TYPE_INET_PROTO, NFT_TYPE_INET_SERVICE), 8,
                        NFT_CONCAT2(NFT_TYPE_IPV4_ADDR, NFT_TYPE_INET_SERVICE), 8},
    [SET_PORTS4_ADDR] = {"ports4_addr", AF_INET,
                         NFT_CONCAT3(NFT_TYPE_IPV4_ADDR, NFT_TYPE_INET_PROTO,
                                     NFT_TYPE_INET_SERVICE),
                         12, NFT_CONCAT2(NFT_TYPE_IPV4_ADDR, NFT_TYPE_INET_SERVICE), 8},
    [SET_PORTS6_ANY] = {"ports6_any", AF_INET6,
                        NFT_CONCAT2(NFT_TYPE_INET_PROTO, NFT_TYPE_INET_SERVICE), 8,
                        NFT_CONCAT2(NFT_TYPE_IPV6_ADDR, NFT_TYPE_INET_SERVICE), 20},
    [SET_PORTS6_ADDR] = {"ports6_addr", AF_INET6,
                         NFT_CONCAT3(NFT_TYPE_IPV6_ADDR, NFT_TYPE_INET_PROTO,
                                     NFT_TYPE_INET_SERVICE),
                         24, NFT_CONCAT2(NFT_TYPE_IPV6_ADDR, NFT_TYPE_INET_SERVICE), 20},
    [SET_SRC4] = {"src4", AF_INET, NFT_CONCAT2(NFT_TYPE_IFNAME, NFT_TYPE_IPV4_ADDR), IFNAMSIZ + 4,
                  0, 0, NFPROTO_BRIDGE},
    [SET_SRC6] = {"src6", AF_INET6, NFT_CONCAT2(NFT_TYPE_IFNAME, NFT_TYPE_IPV6_ADDR),
                  IFNAMSIZ + 16, 0, 0, NFPROTO_BRIDGE},
};

static uint16_t set_table(int set) {
    return set_defs[set].table ?: NFPROTO_INET;
}

enum {
    CHAIN_RAW_PREROUTING,
    CHAIN_PREROUTING,
    CHAIN_OUTPUT,
    CHAIN_POSTROUTING,
    CHAIN_FORWARD,
    CHAIN_BR_PREROUTING,
    CHAIN_BR_OUTPUT,
    _CHAIN_MAX,
};

typedef struct ChainDef {
    const char *name;
    const char *type;
    uint32_t hook;
    int32_t prio;
    uint16_t table; /* 0: inet, else NFPROTO_BRIDGE */
} ChainDef;

static const ChainDef chain_defs[_CHAIN_MAX] = {
    [CHAIN_RAW_PREROUTING] = {"raw_prerouting", "filter", NF_INET_PRE_ROUTING, NFT_PRIO_RAW},
    [CHAIN_PREROUTING] = {"prerouting", "nat", NF_INET_PRE_ROUTING, NFT_PRIO_DSTNAT},
    [CHAIN_OUTPUT] = {"output", "nat", NF_INET_LOCAL_OUT, NFT_PRIO_DSTNAT},
    [CHAIN_POSTROUTING] = {"postrouting", "nat", NF_INET_POST_ROUTING, NFT_PRIO_SRCNAT},
    [CHAIN_FORWARD] = {"forward", "filter", NF_INET_FORWARD, NFT_PRIO_FILTER},
    /* before any other bridge chain: a forged frame is dropped before anyone acts on it */
    [CHAIN_BR_PREROUTING] = {"prerouting", "filter", NFT_BR_PRE_ROUTING, NFT_PRIO_RAW,
                             NFPROTO_BRIDGE},
    /* before br_netfilter's hooks (priority 0), which would pass the frame through the inet
     * chains once per port */
    [CHAIN_BR_OUTPUT] = {"output", "filter", NFT_BR_LOCAL_OUT, NFT_BR_PRIO_FILTER,
                         NFPROTO_BRIDGE},
};

static uint16_t chain_table(int chain) {
    return chain_defs[chain].table ?: NFPROTO_INET;
}

static bool set_wanted(const NftNetwork *net, int set) {
    return set_defs[set].family == AF_INET || net->v6.family == AF_INET6;
}

/* ---- validation ---- */

static int network_validate(const NftNetwork *net) {
    if (!net || isempty(net->bridge) || strlen(net->bridge) >= IFNAMSIZ)
        return -EINVAL;
    /* a /0 would masquerade and admit every address */
    if (net->v4.family != AF_INET || net->v4.prefixlen == 0 || net->v4.prefixlen > 32)
        return -EINVAL;
    if (net->v6.family != 0 &&
        (net->v6.family != AF_INET6 || net->v6.prefixlen == 0 || net->v6.prefixlen > 128))
        return -EINVAL;
    if (!in_addr_prefix_contains(&net->v4, AF_INET, &net->gateway4) ||
        (net->v6.family && !in_addr_prefix_contains(&net->v6, AF_INET6, &net->gateway6)))
        return -EINVAL;
    return 0;
}

static int port_set(const NftPort *p) {
    if (p->family == AF_INET)
        return p->any_host_addr ? SET_PORTS4_ANY : SET_PORTS4_ADDR;
    if (p->family == AF_INET6)
        return p->any_host_addr ? SET_PORTS6_ANY : SET_PORTS6_ADDR;
    return -EINVAL;
}

static int addr_set(const NftAddr *a) {
    if (a->family == AF_INET)
        return SET_MASQ4;
    if (a->family == AF_INET6)
        return SET_MASQ6;
    return -EINVAL;
}

static int addr_src_set(const NftAddr *a) {
    if (!a->port)
        return -ENOENT;
    return a->family == AF_INET ? SET_SRC4 : SET_SRC6;
}

static bool port_name_valid(const char *port) {
    size_t l = strlen(port);
    return l > strlen(NFT_PORT_PREFIX) && l < IFNAMSIZ &&
           strncmp(port, NFT_PORT_PREFIX, strlen(NFT_PORT_PREFIX)) == 0;
}

static int elements_validate(const NftAddr *addrs, size_t n_addrs, const NftPort *ports,
                             size_t n_ports) {
    if ((n_addrs > 0 && !addrs) || (n_ports > 0 && !ports))
        return -EINVAL;
    for (size_t i = 0; i < n_addrs; i++) {
        if (addr_set(&addrs[i]) < 0)
            return -EINVAL;
        /* a port named otherwise is not filtered: its binding would be a false promise */
        if (addrs[i].port && !port_name_valid(addrs[i].port))
            return -EINVAL;
    }
    for (size_t i = 0; i < n_ports; i++) {
        const NftPort *p = &ports[i];
        if (port_set(p) < 0)
            return -EINVAL;
        if (p->protocol != IPPROTO_TCP && p->protocol != IPPROTO_UDP)
            return -EINVAL;
        if (p->host_port == 0 || p->port == 0)
            return -EINVAL;
    }
    return 0;
}

/* ---- batches ---- */

typedef struct Batch {
    char *buf;
    size_t allocated, used;
    size_t reserved; /* room promised to the message being built */
    size_t n_acks;   /* messages that will be answered */
    uint32_t seq_first, seq_last_ack;
} Batch;

static void batch_done(Batch *b) {
    free(b->buf);
}

/* libnftnl writes a message without bounds checks, so each message gets its worst-case room
 * before it is built and the size is checked after. */
static void *batch_reserve(Batch *b, size_t need) {
    need = NLMSG_ALIGN(need);
    if (b->used + need > b->allocated) {
        size_t a = b->allocated ? b->allocated * 2 : 16 * 1024;
        while (a < b->used + need)
            a *= 2;
        char *p = realloc(b->buf, a);
        if (!p)
            return NULL;
        b->buf = p;
        b->allocated = a;
    }
    b->reserved = need;
    memset(b->buf + b->used, 0, need);
    return b->buf + b->used;
}

static void batch_commit(Batch *b, const struct nlmsghdr *nlh) {
    /* a message that outgrew its reservation has already written past it: a bug here */
    if (NLMSG_ALIGN(nlh->nlmsg_len) > b->reserved)
        abort();
    b->used += NLMSG_ALIGN(nlh->nlmsg_len);
    b->reserved = 0;
}

static int batch_begin(Nft *n, Batch *b) {
    void *p = batch_reserve(b, 128);
    if (!p)
        return -ENOMEM;
    b->seq_first = n->seq;
    batch_commit(b, nftnl_batch_begin(p, n->seq++));
    return 0;
}

static int batch_end(Nft *n, Batch *b) {
    void *p = batch_reserve(b, 128);
    if (!p)
        return -ENOMEM;
    batch_commit(b, nftnl_batch_end(p, n->seq++));
    return 0;
}

/* A message header of the batch, acknowledged (each one, so an error names its message). */
static struct nlmsghdr *batch_msg(Nft *n, Batch *b, uint16_t family, uint16_t type,
                                  uint16_t flags, size_t room) {
    void *p = batch_reserve(b, room);
    if (!p)
        return NULL;
    b->n_acks++;
    b->seq_last_ack = n->seq;
    return nftnl_nlmsg_build_hdr(p, type, family, flags | NLM_F_ACK, n->seq++);
}

static int socket_grow_buffer(int fd, int opt_force, int opt, int *have, size_t want) {
    if (want > INT_MAX / 2)
        return -EMSGSIZE;
    if ((int)want <= *have)
        return 0;
    int v = (int)want;
    /* FORCE passes rmem_max/wmem_max (we are privileged); plain is the fallback */
    if (setsockopt(fd, SOL_SOCKET, opt_force, &v, sizeof v) < 0 &&
        setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v) < 0)
        return -errno;
    *have = v;
    return 0;
}

static ssize_t recv_reply(Nft *n, int flags) {
    for (;;) {
        ssize_t k = recv(mnl_socket_get_fd(n->nl), n->buf, sizeof n->buf, flags);
        if (k >= 0)
            return k;
        if (errno == EINTR)
            continue;
        /* SO_RCVTIMEO expired */
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && !(flags & MSG_DONTWAIT))
            return -ETIMEDOUT;
        return -errno;
    }
}

/* Whatever is left of an answered batch (the ACKs after an error) is read now, so it does
 * not sit in the receive buffer; sequence numbers would skip it anyway. */
static void drain(Nft *n) {
    while (recv_reply(n, MSG_DONTWAIT) > 0)
        ;
}

static int batch_send(Nft *n, Batch *b) {
    int fd = mnl_socket_get_fd(n->nl), r;

    r = batch_end(n, b);
    if (r < 0)
        return r;
    /* the whole batch is one datagram: it must fit the send buffer, and every ACK the
     * receive buffer (an ACK costs about 1 KiB of buffer accounting) */
    r = socket_grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, &n->sndbuf, b->used + 4096);
    if (r < 0)
        return r;
    r = socket_grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, &n->rcvbuf,
                           b->n_acks * 1024 + NFT_RECV_BUFFER_SIZE);
    if (r < 0)
        return r;

    for (;;) {
        if (mnl_socket_sendto(n->nl, b->buf, b->used) >= 0)
            break;
        if (errno != EINTR)
            return -errno;
    }
    if (b->n_acks == 0)
        return 0;

    r = 0;
    for (bool done = false; !done;) {
        ssize_t k = recv_reply(n, 0);
        if (k < 0) {
            /* -ENOBUFS: ACKs were lost, whether the batch applied is unknown */
            drain(n);
            return (int)k;
        }
        int len = (int)k;
        for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)n->buf; mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            /* an ACK of an earlier batch that ended in an error */
            if (nlh->nlmsg_seq < b->seq_first || nlh->nlmsg_seq > b->seq_last_ack)
                continue;
            if (nlh->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
            if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *e)) {
                r = -EBADMSG;
                done = true;
                break;
            }
            /* the kernel reports a batch-wide failure (ENOMEM, a failed commit) on the
             * batch's first message; the batch is not applied whatever else was ACKed */
            if (e->error < 0) {
                r = e->error;
                done = true;
                break;
            }
            if (nlh->nlmsg_seq == b->seq_last_ack)
                done = true;
        }
    }
    if (r < 0)
        drain(n);
    return r;
}

/* ---- objects ---- */

static int put_table(Nft *n, Batch *b, uint16_t family, uint16_t type, uint16_t flags) {
    _cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
    if (!t)
        return -ENOMEM;
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
    if (nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME) < 0)
        return -ENOMEM;
    struct nlmsghdr *nlh = batch_msg(n, b, family, type, flags, 512);
    if (!nlh)
        return -ENOMEM;
    nftnl_table_nlmsg_build_payload(nlh, t);
    batch_commit(b, nlh);
    return 0;
}

static int put_set(Nft *n, Batch *b, int set) {
    const SetDef *d = &set_defs[set];
    _cleanup_(nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc();
    if (!s)
        return -ENOMEM;
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, set_table(set));
    if (nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME) < 0 ||
        nftnl_set_set_str(s, NFTNL_SET_NAME, d->name) < 0)
        return -ENOMEM;
    nftnl_set_set_u32(s, NFTNL_SET_ID, (uint32_t)set + 1);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->key_type);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->key_len);
    if (d->data_type != 0) {
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, d->data_type);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, d->data_len);
    }
    struct nlmsghdr *nlh = batch_msg(n, b, set_table(set), NFT_MSG_NEWSET, NLM_F_CREATE, 1024);
    if (!nlh)
        return -ENOMEM;
    nftnl_set_nlmsg_build_payload(nlh, s);
    batch_commit(b, nlh);
    return 0;
}

static int put_chain(Nft *n, Batch *b, int chain) {
    const ChainDef *d = &chain_defs[chain];
    _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
    if (!c)
        return -ENOMEM;
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, chain_table(chain));
    if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME) < 0 ||
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, d->name) < 0 ||
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, d->type) < 0)
        return -ENOMEM;
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, d->hook);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, d->prio);
    /* accept: our chains add NAT and a few drops, the host's own policy stays in charge */
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    struct nlmsghdr *nlh =
        batch_msg(n, b, chain_table(chain), NFT_MSG_NEWCHAIN, NLM_F_CREATE, 1024);
    if (!nlh)
        return -ENOMEM;
    nftnl_chain_nlmsg_build_payload(nlh, c);
    batch_commit(b, nlh);
    return 0;
}

/* ---- expressions; each returns 0 or -ENOMEM, so a rule is a chain of `?:` ---- */

static struct nftnl_expr *expr_new(struct nftnl_rule *r, const char *name) {
    struct nftnl_expr *e = nftnl_expr_alloc(name);
    if (e)
        nftnl_rule_add_expr(r, e); /* the rule owns it from here */
    return e;
}

static int e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg) {
    struct nftnl_expr *e = expr_new(r, "meta");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
    return 0;
}

static int e_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
                     uint32_t dreg) {
    struct nftnl_expr *e = expr_new(r, "payload");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    return 0;
}

static int e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len) {
    struct nftnl_expr *e = expr_new(r, "cmp");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    return nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0 ? -ENOMEM : 0;
}

static int e_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len) {
    static const uint8_t zero[16] = {};
    struct nftnl_expr *e = expr_new(r, "bitwise");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    if (nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len) < 0 ||
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len) < 0)
        return -ENOMEM;
    return 0;
}

static int e_lookup_flags(struct nftnl_rule *r, int set, uint32_t sreg, bool map, bool inv) {
    struct nftnl_expr *e = expr_new(r, "lookup");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    if (map)
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, sreg);
    if (inv)
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    /* by name: it finds the set made earlier in the same batch */
    return nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set_defs[set].name) < 0 ? -ENOMEM : 0;
}

static int e_lookup(struct nftnl_rule *r, int set, uint32_t sreg, bool map) {
    return e_lookup_flags(r, set, sreg, map, false);
}

static int e_verdict(struct nftnl_rule *r, uint32_t verdict) {
    struct nftnl_expr *e = expr_new(r, "immediate");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
    return 0;
}

static int e_masq(struct nftnl_rule *r) {
    return expr_new(r, "masq") ? 0 : -ENOMEM;
}

/* meta nfproto ipv4|ipv6 */
static int m_nfproto(struct nftnl_rule *r, int family) {
    uint8_t v = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
    return e_meta(r, NFT_META_NFPROTO, NFT_REG_1) ?: e_cmp(r, NFT_CMP_EQ, &v, sizeof v);
}

/* iifname/oifname ==/!= name: nft compares the whole zero-padded IFNAMSIZ buffer */
static int m_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name) {
    char buf[IFNAMSIZ] = {};
    memcpy(buf, name, strnlen(name, sizeof buf - 1));
    return e_meta(r, key, NFT_REG_1) ?: e_cmp(r, op, buf, sizeof buf);
}

/* ip saddr|daddr ==/!= PREFIX: whole bytes compared directly, a partial byte masked (as nft
 * does) */
static int m_prefix_op(struct nftnl_rule *r, bool source, const InAddrPrefix *p, uint32_t op) {
    uint32_t offset = p->family == AF_INET ? (source ? 12 : 16) : (source ? 8 : 24);
    uint32_t len = (p->prefixlen + 7) / 8; /* >= 1: network_validate refuses /0 */
    int k;
    k = e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len, NFT_REG_1);
    if (k < 0)
        return k;
    if (p->prefixlen % 8 != 0) {
        uint8_t mask[16] = {};
        memset(mask, 0xff, len - 1);
        mask[len - 1] = (uint8_t)(0xff << (8 - p->prefixlen % 8));
        k = e_bitwise(r, mask, len);
        if (k < 0)
            return k;
    }
    return e_cmp(r, op, p->addr.bytes, len);
}

static int m_prefix(struct nftnl_rule *r, bool source, const InAddrPrefix *p) {
    return m_prefix_op(r, source, p, NFT_CMP_EQ);
}

/* ip saddr @set */
static int m_saddr_in(struct nftnl_rule *r, int set) {
    bool v4 = set_defs[set].family == AF_INET;
    return e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 12 : 8, v4 ? 4 : 16, NFT_REG_1)
               ?: e_lookup(r, set, NFT_REG_1, false);
}

/* iifname "sbx*": a prefix compares only its bytes */
static int m_sandbox_port(struct nftnl_rule *r) {
    return e_meta(r, NFT_META_IIFNAME, NFT_REG_1) ?:
           e_cmp(r, NFT_CMP_EQ, NFT_PORT_PREFIX, strlen(NFT_PORT_PREFIX));
}

/* ether type ==/!= type */
static int m_ether_type(struct nftnl_rule *r, uint32_t op, uint16_t type) {
    uint16_t be = htons(type);
    return e_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1) ?: e_cmp(r, op, &be, sizeof be);
}

/* iifname . <len bytes at base+offset> != @set: the name fills NFT_REG_1 (four 32-bit
 * registers), the address follows in NFT_REG_2 */
static int m_port_addr_not_in(struct nftnl_rule *r, uint32_t base, uint32_t offset,
                              uint32_t len, int set) {
    return e_meta(r, NFT_META_IIFNAME, NFT_REG_1) ?:
           e_payload(r, base, offset, len, NFT_REG_2) ?:
           e_lookup_flags(r, set, NFT_REG_1, false, true);
}

/* icmpv6 type nd-neighbor-advert */
/* meta l4proto icmp|ipv6-icmp icmp[v6] type == type */
static int m_icmp_type(struct nftnl_rule *r, uint8_t l4proto, uint8_t type) {
    return e_meta(r, NFT_META_L4PROTO, NFT_REG_1) ?: e_cmp(r, NFT_CMP_EQ, &l4proto, 1) ?:
           e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1) ?:
           e_cmp(r, NFT_CMP_EQ, &type, 1);
}

static int m_neighbour_advert(struct nftnl_rule *r) {
    return m_icmp_type(r, IPPROTO_ICMPV6, 136);
}

/* oifname "sbx*": a frame leaving the bridge by a sandbox's port */
static int m_to_sandbox_port(struct nftnl_rule *r) {
    return e_meta(r, NFT_META_OIFNAME, NFT_REG_1) ?:
           e_cmp(r, NFT_CMP_EQ, NFT_PORT_PREFIX, strlen(NFT_PORT_PREFIX));
}

/* ct state|status & bits != 0 */
static int m_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t bits) {
    uint32_t zero = 0;
    struct nftnl_expr *e = expr_new(r, "ct");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
    return e_bitwise(r, &bits, sizeof bits) ?: e_cmp(r, NFT_CMP_NEQ, &zero, sizeof zero);
}

/* fib daddr type local */
static int m_fib_daddr_local(struct nftnl_rule *r) {
    uint32_t local = RTN_LOCAL;
    struct nftnl_expr *e = expr_new(r, "fib");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
    return e_cmp(r, NFT_CMP_EQ, &local, sizeof local);
}

/* ip6 daddr != ::1. IPv6 has no route_localnet: a connection to [::1] DNATed onto the bridge
 * is dropped for its loopback source, with masquerade its answer for its loopback
 * destination (tried on 6.18). Left alone it is refused at once instead of hanging. */
static int m_not_loopback6(struct nftnl_rule *r) {
    return e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_1)
               ?: e_cmp(r, NFT_CMP_NEQ, &in6addr_loopback, sizeof in6addr_loopback);
}

/* dnat ip to [ip daddr .] meta l4proto . th dport map @set: the key is loaded into
 * consecutive 32-bit registers, the map's value (address . port) replaces it */
static int s_dnat_map(struct nftnl_rule *r, int set) {
    bool v4 = set_defs[set].family == AF_INET;
    bool with_addr = set == SET_PORTS4_ADDR || set == SET_PORTS6_ADDR;
    uint32_t alen = v4 ? 4 : 16, reg = NFT_REG32_00;
    int k;

    if (with_addr) {
        k = e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, alen, reg);
        if (k < 0)
            return k;
        reg += alen / 4;
    }
    k = e_meta(r, NFT_META_L4PROTO, reg) ?:
        e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg + 1) ?:
        e_lookup(r, set, NFT_REG32_00, true);
    if (k < 0)
        return k;

    struct nftnl_expr *e = expr_new(r, "nat");
    if (!e)
        return -ENOMEM;
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG32_00);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_00 + alen / 4);
    return 0;
}

/* ---- the static rules ---- */

typedef int (*rule_emit_t)(void *userdata, int chain, struct nftnl_rule *r);

static struct nftnl_rule *rule_new(int chain) {
    struct nftnl_rule *r = nftnl_rule_alloc();
    if (!r)
        return NULL;
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, chain_table(chain));
    if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE_NAME) < 0 ||
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain_defs[chain].name) < 0) {
        nftnl_rule_free(r);
        return NULL;
    }
    return r;
}

/* Builds each rule of the table in order and hands it to emit: the batch writer, or the
 * counter of nft_table_is_intact, so both see the same list. */
static int table_rules(const NftNetwork *net, rule_emit_t emit, void *userdata) {
    static const InAddrPrefix loopback4 = {.family = AF_INET, .addr.bytes = {127}, .prefixlen = 8};
    const char *br = net->bridge;
    int k;

#define RULE(chain, body)                                                                          \
    do {                                                                                           \
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = rule_new(chain);                        \
        if (!r)                                                                                    \
            return -ENOMEM;                                                                        \
        k = (body);                                                                                \
        if (k < 0)                                                                                 \
            return k;                                                                              \
        k = emit(userdata, chain, r);                                                              \
        if (k < 0)                                                                                 \
            return k;                                                                              \
    } while (0)

    /* A published loopback port must not be reachable from another host that sends to
     * 127.0.0.1 over the wire (moby#45610); route_localnet on the bridge would let a sandbox
     * reach the host's loopback services the same way. */
    RULE(CHAIN_RAW_PREROUTING, m_nfproto(r, AF_INET) ?:
                                   m_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo") ?:
                                   m_prefix(r, false, &loopback4) ?: e_verdict(r, NF_DROP));

    /* A sandbox sends with its own address only. Without CAP_NET_RAW a payload still picks
     * any IPv6 source: IPV6_FREEBIND needs no capability, and the kernel routes what such a
     * socket sends (IPv4 refuses a foreign source without IP_TRANSPARENT); with CAP_NET_RAW
     * any source of either family. What comes from the bridge with a source outside its
     * subnet (or the gateway's IPv6 address, which the kernel forwards where it drops an
     * IPv4 packet from a local address) would otherwise go out unmasqueraded: spoofed
     * packets onto the LAN and the internet, or to the host's services as a LAN peer. IPv6
     * link-local sources (fe80::/64, all Linux makes) and :: (neighbour discovery, MLD, DAD)
     * stay: they are never forwarded.
     * At the raw priority, before conntrack: a dropped packet makes no entry. */
    static const InAddrPrefix ll6 = {
            .family = AF_INET6, .addr.bytes = {0xfe, 0x80}, .prefixlen = 64};
    static const InAddrPrefix any6 = {.family = AF_INET6, .prefixlen = 128};
    RULE(CHAIN_RAW_PREROUTING, m_nfproto(r, AF_INET) ?:
                                   m_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, br) ?:
                                   m_prefix_op(r, true, &net->v4, NFT_CMP_NEQ) ?:
                                   e_verdict(r, NF_DROP));
    RULE(CHAIN_RAW_PREROUTING, m_nfproto(r, AF_INET6) ?:
                                   m_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, br) ?:
                                   (net->v6.family == AF_INET6
                                            ? m_prefix_op(r, true, &net->v6, NFT_CMP_NEQ)
                                            : 0) ?:
                                   m_prefix_op(r, true, &ll6, NFT_CMP_NEQ) ?:
                                   m_prefix_op(r, true, &any6, NFT_CMP_NEQ) ?:
                                   e_verdict(r, NF_DROP));
    if (net->v6.family == AF_INET6) {
        InAddrPrefix gw6 = {.family = AF_INET6, .addr = net->gateway6, .prefixlen = 128};
        RULE(CHAIN_RAW_PREROUTING, m_nfproto(r, AF_INET6) ?:
                                       m_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, br) ?:
                                       m_prefix(r, true, &gw6) ?: e_verdict(r, NF_DROP));
    }

    /* The other way round: a sandbox's source address arriving by another link is forged
     * (only the host itself, over lo, uses the gateway's). A LAN peer sending from a sandbox's
     * address to another sandbox's published port had that one's answers delivered to the
     * first sandbox's port (through the masquerade of DNATed traffic from the subnet): a way
     * into ports nobody published; and host services that trust the subnet took its packets
     * for the sandboxes'. */
    RULE(CHAIN_RAW_PREROUTING, m_nfproto(r, AF_INET) ?:
                                   m_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, br) ?:
                                   m_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo") ?:
                                   m_prefix(r, true, &net->v4) ?: e_verdict(r, NF_DROP));
    if (net->v6.family == AF_INET6)
        RULE(CHAIN_RAW_PREROUTING, m_nfproto(r, AF_INET6) ?:
                                       m_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, br) ?:
                                       m_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, "lo") ?:
                                       m_prefix(r, true, &net->v6) ?: e_verdict(r, NF_DROP));

    /* DNAT for traffic from outside (prerouting) and from the host itself (output); a port
     * published on one address wins over the same port published on every address. */
    static const int dnat_chains[] = {CHAIN_PREROUTING, CHAIN_OUTPUT};
    for (size_t i = 0; i < ELEMENTSOF(dnat_chains); i++) {
        static const int maps[] = {SET_PORTS4_ADDR, SET_PORTS4_ANY, SET_PORTS6_ADDR,
                                   SET_PORTS6_ANY};
        for (size_t j = 0; j < ELEMENTSOF(maps); j++) {
            if (!set_wanted(net, maps[j]))
                continue;
            bool v6 = set_defs[maps[j]].family == AF_INET6;
            RULE(dnat_chains[i], m_nfproto(r, set_defs[maps[j]].family) ?:
                                     m_fib_daddr_local(r) ?: (v6 ? m_not_loopback6(r) : 0) ?:
                                     s_dnat_map(r, maps[j]));
        }
    }

    /* Sandboxes reaching out; connections from 127.0.0.1 DNATed onto the bridge (they need
     * route_localnet there, and a source the sandbox can answer); hairpin: a sandbox
     * reaching a published port of its own bridge, with or without br_netfilter. The host's
     * own connections from the gateway's address need no masquerade: the sandbox answers
     * the gateway already (and the kernel drops a forwarded packet with a local source). */
    InAddrPrefix gw4 = {.family = AF_INET, .addr = net->gateway4, .prefixlen = 32};
    RULE(CHAIN_POSTROUTING, m_nfproto(r, AF_INET) ?: m_saddr_in(r, SET_MASQ4) ?:
                                m_ifname(r, NFT_META_OIFNAME, NFT_CMP_NEQ, br) ?: e_masq(r));
    RULE(CHAIN_POSTROUTING, m_nfproto(r, AF_INET) ?: m_prefix(r, true, &loopback4) ?:
                                m_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, br) ?: e_masq(r));
    RULE(CHAIN_POSTROUTING, m_nfproto(r, AF_INET) ?: m_prefix(r, true, &net->v4) ?:
                                m_prefix_op(r, true, &gw4, NFT_CMP_NEQ) ?:
                                m_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, br) ?:
                                m_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT) ?: e_masq(r));
    if (net->v6.family == AF_INET6) {
        InAddrPrefix gw6 = {.family = AF_INET6, .addr = net->gateway6, .prefixlen = 128};
        RULE(CHAIN_POSTROUTING, m_nfproto(r, AF_INET6) ?: m_saddr_in(r, SET_MASQ6) ?:
                                    m_ifname(r, NFT_META_OIFNAME, NFT_CMP_NEQ, br) ?:
                                    e_masq(r));
        RULE(CHAIN_POSTROUTING, m_nfproto(r, AF_INET6) ?: m_prefix(r, true, &net->v6) ?:
                                    m_prefix_op(r, true, &gw6, NFT_CMP_NEQ) ?:
                                    m_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, br) ?:
                                    m_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT) ?: e_masq(r));
    }

    /* Into the bridge only what answers the sandboxes or was published. */
    RULE(CHAIN_FORWARD,
         m_ct_bits(r, NFT_CT_STATE,
                   NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED))
             ?: e_verdict(r, NF_ACCEPT));
    RULE(CHAIN_FORWARD, m_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, br) ?:
                            m_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT) ?: e_verdict(r, NF_ACCEPT));
    RULE(CHAIN_FORWARD, m_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, br) ?: e_verdict(r, NF_ACCEPT));
    RULE(CHAIN_FORWARD, m_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, br) ?: e_verdict(r, NF_DROP));

    /* On the bridge itself a sandbox sends with its own addresses only: the inet table
     * sees only what the host routes, not what one sandbox sends another, so a payload
     * could take a sibling's address (a forged datagram between two UDP echo servers
     * bounces forever) and, with CAP_NET_RAW, answer ARP or neighbour discovery for a
     * sibling or the gateway and take over its traffic. Frames the host sends out do not
     * pass bridge prerouting. Other ethertypes (VLAN tags included, which would hide what
     * follows) are nothing a sandbox needs. */
    RULE(CHAIN_BR_PREROUTING, m_sandbox_port(r) ?:
                                  e_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1) ?:
                                  e_cmp(r, NFT_CMP_NEQ, &(uint16_t){htons(ETH_P_IP)}, 2) ?:
                                  e_cmp(r, NFT_CMP_NEQ, &(uint16_t){htons(ETH_P_ARP)}, 2) ?:
                                  e_cmp(r, NFT_CMP_NEQ, &(uint16_t){htons(ETH_P_IPV6)}, 2) ?:
                                  e_verdict(r, NF_DROP));
    RULE(CHAIN_BR_PREROUTING,
         m_sandbox_port(r) ?: m_ether_type(r, NFT_CMP_EQ, ETH_P_IP) ?:
             m_port_addr_not_in(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, SET_SRC4) ?:
             e_verdict(r, NF_DROP));
    /* the sender's IPv4 address of an Ethernet ARP packet (receivers refuse other sizes) */
    RULE(CHAIN_BR_PREROUTING,
         m_sandbox_port(r) ?: m_ether_type(r, NFT_CMP_EQ, ETH_P_ARP) ?:
             m_port_addr_not_in(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, SET_SRC4) ?:
             e_verdict(r, NF_DROP));
    /* link-local and :: as in raw_prerouting: never forwarded, and neighbour discovery
     * needs them */
    bool v6 = net->v6.family == AF_INET6;
    RULE(CHAIN_BR_PREROUTING,
         m_sandbox_port(r) ?: m_ether_type(r, NFT_CMP_EQ, ETH_P_IPV6) ?:
             m_prefix_op(r, true, &ll6, NFT_CMP_NEQ) ?: m_prefix_op(r, true, &any6, NFT_CMP_NEQ) ?:
             (v6 ? m_port_addr_not_in(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, SET_SRC6) : 0) ?:
             e_verdict(r, NF_DROP));
    /* An advertisement's target is the address claimed, whatever its source: a sandbox
     * answers for its own (link-local ones aside) */
    RULE(CHAIN_BR_PREROUTING,
         m_sandbox_port(r) ?: m_ether_type(r, NFT_CMP_EQ, ETH_P_IPV6) ?: m_neighbour_advert(r) ?:
             e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 8, NFT_REG_1) ?:
             e_cmp(r, NFT_CMP_NEQ, ll6.addr.bytes, 8) ?:
             (v6 ? m_port_addr_not_in(r, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 16, SET_SRC6) : 0) ?:
             e_verdict(r, NF_DROP));

    /* Neither from a sandbox (prerouting, before the bridge floods it to every port) nor
     * from the host into one (output):
     * - router advertisements and ICMPv6 and ICMP redirects: a sibling with CAP_NET_RAW
     *   (which a unit may grant; Docker's default set has it) could otherwise give a
     *   sandbox a default route and addresses of its choosing (CVE-2020-13401) or redirect
     *   its traffic; the sandboxes' routes are the daemon's, static, and the host sends
     *   redirects when it hairpins a published port. Here once for all rather than by
     *   sysctls in each sandbox (each /proc/sys/net lookup compares against every network
     *   namespace on the host: ~1 ms of a start with 300 sandboxes running).
     * - router solicitations (each sandbox's kernel sends them, backing off to one an hour)
     *   and multicast listener reports and dones: they are for routers and snooping
     *   switches, and the bridge, which has no querier, flooded each to every port, where
     *   every sandbox's kernel parsed it: a start's six cost ~5 ms of CPU with 300 sandboxes
     *   running.
     * Type first, port last: the chain sees every frame, and the name compare costs most. */
    static const struct {
        uint16_t ether_type;
        uint8_t l4proto, type;
    } unwanted[] = {
        {ETH_P_IPV6, IPPROTO_ICMPV6, 133 /* router solicitation */},
        {ETH_P_IPV6, IPPROTO_ICMPV6, 134 /* router advertisement */},
        {ETH_P_IPV6, IPPROTO_ICMPV6, 137 /* redirect */},
        {ETH_P_IP, IPPROTO_ICMP, 5 /* redirect */},
        {ETH_P_IPV6, IPPROTO_ICMPV6, 131 /* listener report (v1) */},
        {ETH_P_IPV6, IPPROTO_ICMPV6, 132 /* listener done */},
        {ETH_P_IPV6, IPPROTO_ICMPV6, 143 /* listener report (v2) */},
    };
    for (int out = 0; out <= 1; out++)
        for (size_t j = 0; j < ELEMENTSOF(unwanted); j++)
            RULE(out ? CHAIN_BR_OUTPUT : CHAIN_BR_PREROUTING,
                 m_ether_type(r, NFT_CMP_EQ, unwanted[j].ether_type) ?:
                     m_icmp_type(r, unwanted[j].l4proto, unwanted[j].type) ?:
                     (out ? m_to_sandbox_port(r) : m_sandbox_port(r)) ?: e_verdict(r, NF_DROP));
#undef RULE
    return 0;
}

typedef struct BatchEmit {
    Nft *n;
    Batch *b;
} BatchEmit;

static int emit_to_batch(void *userdata, int chain, struct nftnl_rule *r) {
    BatchEmit *be = userdata;
    struct nlmsghdr *nlh = batch_msg(be->n, be->b, chain_table(chain), NFT_MSG_NEWRULE,
                                     NLM_F_CREATE | NLM_F_APPEND, 8192);
    if (!nlh)
        return -ENOMEM;
    nftnl_rule_nlmsg_build_payload(nlh, r);
    batch_commit(be->b, nlh);
    return 0;
}

/* ---- elements ---- */

/* Keys and data as nft lays out concatenations: every component padded to 4 bytes, the
 * protocol a byte, ports in network order. */
static uint32_t port_key(const NftPort *p, uint8_t key[static 24]) {
    uint32_t off = 0, alen = (uint32_t)in_addr_family_size(p->family);
    uint16_t be = htons(p->host_port);
    memset(key, 0, 24);
    if (!p->any_host_addr) {
        memcpy(key, p->host_addr.bytes, alen);
        off += alen;
    }
    key[off] = p->protocol;
    off += 4;
    memcpy(key + off, &be, sizeof be);
    return off + 4;
}

static uint32_t port_data(const NftPort *p, uint8_t data[static 20]) {
    uint32_t alen = (uint32_t)in_addr_family_size(p->family);
    uint16_t be = htons(p->port);
    memset(data, 0, 20);
    memcpy(data, p->addr.bytes, alen);
    memcpy(data + alen, &be, sizeof be);
    return alen + 4;
}

static int flush_elems(Nft *n, Batch *b, int set, uint16_t type, uint16_t flags,
                       struct nftnl_set **s, size_t *count) {
    if (*count == 0)
        return 0;
    struct nlmsghdr *nlh =
        batch_msg(n, b, set_table(set), type, flags, 1024 + NFT_ELEMS_PER_MSG * 256);
    if (!nlh)
        return -ENOMEM;
    nftnl_set_elems_nlmsg_build_payload(nlh, *s);
    batch_commit(b, nlh);
    nftnl_set_free(*s);
    *s = NULL;
    *count = 0;
    return 0;
}

static struct nftnl_set *elem_set_new(int set) {
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s)
        return NULL;
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, set_table(set));
    if (nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME) < 0 ||
        nftnl_set_set_str(s, NFTNL_SET_NAME, set_defs[set].name) < 0) {
        nftnl_set_free(s);
        return NULL;
    }
    return s;
}

static int elem_add(struct nftnl_set *s, const void *key, uint32_t key_len, const void *data,
                    uint32_t data_len) {
    _cleanup_(nftnl_set_elem_freep) struct nftnl_set_elem *e = nftnl_set_elem_alloc();
    if (!e)
        return -ENOMEM;
    if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, key_len) < 0)
        return -EINVAL;
    if (data && nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data, data_len) < 0)
        return -EINVAL;
    nftnl_set_elem_add(s, TAKE_PTR(e));
    return 0;
}

/* One or more NEWSETELEM/DELSETELEM messages per set; a deletion names the key only. */
static int put_elements(Nft *n, Batch *b, uint16_t type, uint16_t flags, const NftAddr *addrs,
                        size_t n_addrs, const NftPort *ports, size_t n_ports) {
    bool with_data = type == NFT_MSG_NEWSETELEM;

    for (int set = 0; set < _SET_MAX; set++) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = NULL;
        size_t count = 0;
        int k;

        for (size_t i = 0; i < n_addrs + n_ports; i++) {
            uint8_t key[IFNAMSIZ + 16], data[20];
            uint32_t key_len, data_len = 0;

            if (i < n_addrs) {
                const NftAddr *a = &addrs[i];
                uint32_t alen = (uint32_t)in_addr_family_size(a->family);
                if (addr_set(a) == set) {
                    key_len = alen;
                    memcpy(key, a->addr.bytes, alen);
                } else if (addr_src_set(a) == set) {
                    /* ifname . address: the name zero-padded to IFNAMSIZ, as meta iifname
                     * loads it */
                    memset(key, 0, IFNAMSIZ);
                    memcpy(key, a->port, strlen(a->port));
                    memcpy(key + IFNAMSIZ, a->addr.bytes, alen);
                    key_len = IFNAMSIZ + alen;
                } else
                    continue;
            } else {
                const NftPort *p = &ports[i - n_addrs];
                if (port_set(p) != set)
                    continue;
                key_len = port_key(p, key);
                data_len = port_data(p, data);
            }
            if (!s) {
                s = elem_set_new(set);
                if (!s)
                    return -ENOMEM;
            }
            k = elem_add(s, key, key_len, with_data && data_len ? data : NULL, data_len);
            if (k < 0)
                return k;
            if (++count == NFT_ELEMS_PER_MSG) {
                k = flush_elems(n, b, set, type, flags, &s, &count);
                if (k < 0)
                    return k;
            }
        }
        k = flush_elems(n, b, set, type, flags, &s, &count);
        if (k < 0)
            return k;
    }
    return 0;
}

/* ---- the API ---- */

int nft_open(Nft **ret) {
    _cleanup_(nft_closep) Nft *n = calloc(1, sizeof *n);
    struct timeval tv = {
        .tv_sec = NFT_REPLY_TIMEOUT_USEC / USEC_PER_SEC,
    };
    int one = 1;
    socklen_t sl;

    if (!n)
        return -ENOMEM;
    n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (!n->nl)
        return -errno;
    if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0)
        return -errno;
    int fd = mnl_socket_get_fd(n->nl);
    /* an error ACK without a copy of the (possibly large) request */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        return -errno;
    sl = sizeof n->sndbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n->sndbuf, &sl) < 0)
        return -errno;
    sl = sizeof n->rcvbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n->rcvbuf, &sl) < 0)
        return -errno;
    n->portid = mnl_socket_get_portid(n->nl);
    n->seq = 1;
    *ret = TAKE_PTR(n);
    return 0;
}

Nft *nft_close(Nft *n) {
    if (!n)
        return NULL;
    if (n->nl)
        mnl_socket_close(n->nl);
    free(n);
    return NULL;
}

int nft_table_replace(Nft *n, const NftNetwork *net, const NftAddr *addrs, size_t n_addrs,
                      const NftPort *ports, size_t n_ports) {
    _cleanup_(batch_done) Batch b = {};
    BatchEmit be = {n, &b};
    int r;

    r = network_validate(net);
    if (r < 0)
        return r;
    r = elements_validate(addrs, n_addrs, ports, n_ports);
    if (r < 0)
        return r;
    if (net->v6.family != AF_INET6) {
        for (size_t i = 0; i < n_addrs; i++)
            if (addrs[i].family == AF_INET6)
                return -EINVAL;
        for (size_t i = 0; i < n_ports; i++)
            if (ports[i].family == AF_INET6)
                return -EINVAL;
    }

    /* create-if-missing then delete: the delete cannot fail with ENOENT, and the whole
     * table, whatever anyone added to it, is replaced in one transaction */
    r = batch_begin(n, &b);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ELEMENTSOF(table_families); i++) {
        uint16_t f = table_families[i];
        r = put_table(n, &b, f, NFT_MSG_NEWTABLE, NLM_F_CREATE) ?:
            put_table(n, &b, f, NFT_MSG_DELTABLE, 0) ?:
            put_table(n, &b, f, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0)
            return r;
    }
    for (int set = 0; set < _SET_MAX; set++) {
        if (!set_wanted(net, set))
            continue;
        r = put_set(n, &b, set);
        if (r < 0)
            return r;
    }
    for (int chain = 0; chain < _CHAIN_MAX; chain++) {
        r = put_chain(n, &b, chain);
        if (r < 0)
            return r;
    }
    r = table_rules(net, emit_to_batch, &be)
            ?: put_elements(n, &b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, addrs, n_addrs,
                            ports, n_ports);
    if (r < 0)
        return r;
    return batch_send(n, &b);
}

static int elements_change(Nft *n, uint16_t type, uint16_t flags, const NftAddr *addrs,
                           size_t n_addrs, const NftPort *ports, size_t n_ports) {
    _cleanup_(batch_done) Batch b = {};
    int r;

    r = elements_validate(addrs, n_addrs, ports, n_ports);
    if (r < 0)
        return r;
    if (n_addrs + n_ports == 0)
        return 0;
    r = batch_begin(n, &b) ?: put_elements(n, &b, type, flags, addrs, n_addrs, ports, n_ports);
    if (r < 0)
        return r;
    return batch_send(n, &b);
}

int nft_elements_add(Nft *n, const NftAddr *addrs, size_t n_addrs, const NftPort *ports,
                     size_t n_ports) {
    /* EXCL: an element that is there already (the same key twice, or a port another
     * sandbox holds) fails the batch instead of being a silent no-op */
    return elements_change(n, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, addrs, n_addrs, ports,
                           n_ports);
}

int nft_elements_delete(Nft *n, const NftAddr *addrs, size_t n_addrs, const NftPort *ports,
                        size_t n_ports) {
    return elements_change(n, NFT_MSG_DELSETELEM, 0, addrs, n_addrs, ports, n_ports);
}

int nft_table_delete(Nft *n) {
    _cleanup_(batch_done) Batch b = {};
    int r;

    /* create-if-missing then delete: either table may be gone already */
    r = batch_begin(n, &b);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ELEMENTSOF(table_families); i++) {
        r = put_table(n, &b, table_families[i], NFT_MSG_NEWTABLE, NLM_F_CREATE) ?:
            put_table(n, &b, table_families[i], NFT_MSG_DELTABLE, 0);
        if (r < 0)
            return r;
    }
    return batch_send(n, &b);
}

/* ---- reading the table back ---- */

typedef int (*reply_cb_t)(const struct nlmsghdr *nlh, void *userdata);

/* One request (a GET or a dump), its answers handed to cb. */
static int request(Nft *n, uint16_t family, uint16_t type, uint16_t flags,
                   void (*build)(struct nlmsghdr *, void *), void *build_data, reply_cb_t cb,
                   void *userdata) {
    char req[1024] = {};
    uint32_t seq = n->seq++;
    struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(req, type, family, flags | NLM_F_ACK, seq);
    if (build)
        build(nlh, build_data);

    for (;;) {
        if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) >= 0)
            break;
        if (errno != EINTR)
            return -errno;
    }
    for (;;) {
        ssize_t k = recv_reply(n, 0);
        if (k < 0) {
            drain(n);
            return (int)k;
        }
        int len = (int)k;
        for (const struct nlmsghdr *m = (const struct nlmsghdr *)n->buf; mnl_nlmsg_ok(m, len);
             m = mnl_nlmsg_next(m, &len)) {
            if (m->nlmsg_seq != seq)
                continue;
            if (m->nlmsg_type == NLMSG_DONE)
                return 0;
            if (m->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
                if (m->nlmsg_len < mnl_nlmsg_size(sizeof *e))
                    return -EBADMSG;
                /* a GET without NLM_F_DUMP ends with its ACK */
                return e->error;
            }
            int r = cb(m, userdata);
            if (r < 0) {
                drain(n);
                return r;
            }
        }
    }
}

static void build_table_name(struct nlmsghdr *nlh, void *userdata) {
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, NFT_TABLE_NAME);
}

/* NFTA_RULE_TABLE, NFTA_SET_TABLE: both attribute 1, a dump filter on our table */
static void build_table_filter(struct nlmsghdr *nlh, void *userdata) {
    mnl_attr_put_strz(nlh, (uint16_t)(uintptr_t)userdata, NFT_TABLE_NAME);
}

static int ignore_reply(const struct nlmsghdr *nlh, void *userdata) {
    return 0;
}

typedef struct IntactState {
    const NftNetwork *net;
    unsigned expected_rules[_CHAIN_MAX], rules[_CHAIN_MAX];
    bool chain_seen[_CHAIN_MAX], set_seen[_SET_MAX];
    bool foreign; /* a chain or set that is not ours, or not as we make it */
} IntactState;

static int count_expected(void *userdata, int chain, struct nftnl_rule *r) {
    IntactState *st = userdata;
    st->expected_rules[chain]++;
    return 0;
}

static int chain_index(uint16_t family, const char *name) {
    for (int i = 0; name && i < _CHAIN_MAX; i++)
        if (chain_table(i) == family && streq(chain_defs[i].name, name))
            return i;
    return -1;
}

static int on_chain(const struct nlmsghdr *nlh, void *userdata) {
    IntactState *st = userdata;
    _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
    if (!c)
        return -ENOMEM;
    if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
        return -EBADMSG;
    const char *table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
    if (!table || !streq(table, NFT_TABLE_NAME))
        return 0; /* the chain dump is per family only: another table's */
    int i = chain_index(nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY),
                        nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
    if (i < 0 || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) ||
        nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) != chain_defs[i].hook ||
        nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) != chain_defs[i].prio)
        st->foreign = true;
    else
        st->chain_seen[i] = true;
    return 0;
}

static int on_rule(const struct nlmsghdr *nlh, void *userdata) {
    IntactState *st = userdata;
    _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
    if (!r)
        return -ENOMEM;
    if (nftnl_rule_nlmsg_parse(nlh, r) < 0)
        return -EBADMSG;
    int i = chain_index(nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
                        nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
    if (i < 0)
        st->foreign = true;
    else
        st->rules[i]++;
    return 0;
}

static int on_set(const struct nlmsghdr *nlh, void *userdata) {
    IntactState *st = userdata;
    _cleanup_(nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc();
    if (!s)
        return -ENOMEM;
    if (nftnl_set_nlmsg_parse(nlh, s) < 0)
        return -EBADMSG;
    const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);
    uint32_t family = nftnl_set_get_u32(s, NFTNL_SET_FAMILY);
    for (int i = 0; name && i < _SET_MAX; i++) {
        const SetDef *d = &set_defs[i];
        if (set_table(i) != family || !streq(d->name, name))
            continue;
        if (set_wanted(st->net, i) && nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE) == d->key_type &&
            nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) == d->key_len &&
            (d->data_type == 0 || nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE) == d->data_type)) {
            st->set_seen[i] = true;
            return 0;
        }
        break;
    }
    st->foreign = true;
    return 0;
}

int nft_table_is_intact(Nft *n, const NftNetwork *net) {
    IntactState st = {.net = net};
    int r;

    r = network_validate(net);
    if (r < 0)
        return r;
    r = table_rules(net, count_expected, &st);
    if (r < 0)
        return r;

    for (size_t i = 0; i < ELEMENTSOF(table_families); i++) {
        uint16_t f = table_families[i];
        r = request(n, f, NFT_MSG_GETTABLE, 0, build_table_name, NULL, ignore_reply, NULL);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        r = request(n, f, NFT_MSG_GETCHAIN, NLM_F_DUMP, NULL, NULL, on_chain, &st) ?:
            request(n, f, NFT_MSG_GETSET, NLM_F_DUMP, build_table_filter,
                    (void *) (uintptr_t) NFTA_SET_TABLE, on_set, &st) ?:
            request(n, f, NFT_MSG_GETRULE, NLM_F_DUMP, build_table_filter,
                    (void *) (uintptr_t) NFTA_RULE_TABLE, on_rule, &st);
        if (r == -ENOENT) /* gone between the requests */
            return 0;
        if (r < 0)
            return r;
    }

    if (st.foreign)
        return 0;
    for (int i = 0; i < _CHAIN_MAX; i++)
        if (!st.chain_seen[i] || st.rules[i] != st.expected_rules[i])
            return 0;
    for (int i = 0; i < _SET_MAX; i++)
        if (set_wanted(net, i) && !st.set_seen[i])
            return 0;
    return 1;
}

/* ---- monitor ---- */

/* Events are small, but a transaction's worth of them can arrive at once: a large buffer
 * makes an overrun (which we then treat as "touched") unlikely. */
#define NFT_MONITOR_RCVBUF (4 * 1024 * 1024)

int nft_monitor_open(int *ret_fd) {
    struct sockaddr_nl sa = {
        .nl_family = AF_NETLINK,
        .nl_groups = 1u << (NFNLGRP_NFTABLES - 1),
    };
    int v = NFT_MONITOR_RCVBUF;
    _cleanup_close_ int fd =
        socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -errno;
    *ret_fd = TAKE_FD(fd);
    return 0;
}

/* The table an event is about; every object type has it as attribute 1 (NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE). */
static const char *event_table(const struct nlmsghdr *nlh) {
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
        if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
            return mnl_attr_get_str(a);
    }
    return NULL;
}

static bool event_touches(const struct nlmsghdr *nlh, uint32_t own_portid) {
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
        return false;
    /* an event carries the port id of the socket whose batch caused it (0: the kernel's) */
    if (own_portid != 0 && nlh->nlmsg_pid == own_portid)
        return false;
    switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case NFT_MSG_DELTABLE:
    case NFT_MSG_DELCHAIN:
    case NFT_MSG_DELRULE:
    case NFT_MSG_DELSET:
    case NFT_MSG_DELSETELEM:
        break;
    default:
        return false;
    }
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
        return false;
    const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
    if (g->nfgen_family != NFPROTO_INET && g->nfgen_family != NFPROTO_BRIDGE)
        return false;
    const char *table = event_table(nlh);
    return table && streq(table, NFT_TABLE_NAME);
}

int nft_monitor_read(Nft *n, int fd, bool *ret_touched, bool *ret_overrun) {
    uint32_t own_portid = n ? n->portid : 0;
    _cleanup_free_ char *buf = malloc(NFT_RECV_BUFFER_SIZE);
    bool touched = false, overrun = false;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        struct iovec iov = {buf, NFT_RECV_BUFFER_SIZE};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t k = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* events were lost: whatever they said, the caller must look */
            if (errno == ENOBUFS) {
                overrun = true;
                continue;
            }
            return -errno;
        }
        if (mh.msg_flags & MSG_TRUNC) {
            overrun = true;
            continue;
        }
        int len = (int)k;
        for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len))
            if (event_touches(nlh, own_portid))
                touched = true;
    }
    *ret_touched = touched;
    *ret_overrun = overrun;
    return 0;
}
