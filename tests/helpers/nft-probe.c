/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nft-probe: drives src/sys/nft.c and conntrack.c for tests/integration/test_nft.py. Run it
 * only in a private network namespace (the test harness's): it replaces the `inet sandboxd`
 * table of the namespace it runs in.
 *
 *   nft-probe replace BRIDGE V4PREFIX V6PREFIX|- [ELEMENT...]
 *   nft-probe add ELEMENT...          nft-probe delete ELEMENT...
 *   nft-probe intact BRIDGE V4PREFIX V6PREFIX|-      prints 1 or 0
 *   nft-probe table-delete
 *   nft-probe monitor TIMEOUT_MS [BRIDGE V4PREFIX V6PREFIX|-]
 *                                     prints "ready", then "touched" or "quiet" (after
 *                                     TIMEOUT_MS without a deletion in our table); with a
 *                                     network, changes the table itself first (see below)
 *   nft-probe flush-ct addr ADDRESS   nft-probe flush-ct port tcp|udp PORT
 *                                     prints the number of entries deleted
 *   nft-probe digest FAMILY TABLE SET...
 *                                     prints "SET COUNT HASH" per set: its element count and
 *                                     an order-free hash of their keys and data (the nft tool
 *                                     needs minutes for 2 x 65535 elements in the emulated v2
 *                                     guest; one dump per set takes well under a second)
 *
 * ELEMENT: addr,ADDRESS[,PORT] (a masqueraded source; with PORT, the bridge port bound to it) or
 *          port,tcp|udp,HOSTADDR,HOSTPORT,ADDRESS,PORT (a published port; HOSTADDR `*4` or
 *          `*6`: every host address of that family)
 * On failure: "nft-probe: STEP: ERRNONAME" on stderr, exit 1; bad usage exits 2. */

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "conntrack.h"
#include "in-addr-util.h"
#include "macro.h"
#include "nft.h"

static _noreturn_ void usage(const char *why) {
    fprintf(stderr, "nft-probe: %s\n", why);
    exit(2);
}

static _noreturn_ void fail(const char *step, int r) {
    const char *name = strerrorname_np(-r);
    fprintf(stderr, "nft-probe: %s: %s (%s)\n", step, name ? name : "?", strerror(-r));
    exit(1);
}

static int parse_u16(const char *s, uint16_t *ret) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT16_MAX)
        return -EINVAL;
    *ret = (uint16_t)v;
    return 0;
}

static void parse_network(char **argv, NftNetwork *net) {
    *net = (NftNetwork){.bridge = argv[0]};
    if (in_addr_prefix_parse(argv[1], &net->v4) < 0 || net->v4.family != AF_INET)
        usage("bad IPv4 prefix");
    if (!streq(argv[2], "-") &&
        (in_addr_prefix_parse(argv[2], &net->v6) < 0 || net->v6.family != AF_INET6))
        usage("bad IPv6 prefix");
    /* the daemon's choice: each subnet's first address */
    (void) in_addr_prefix_nth(&net->v4, 1, &net->gateway4);
    if (net->v6.family)
        (void) in_addr_prefix_nth(&net->v6, 1, &net->gateway6);
}

typedef struct Elements {
    NftAddr addrs[4096];
    NftPort ports[4096];
    size_t n_addrs, n_ports;
} Elements;

static void parse_element(const char *arg, Elements *el) {
    _cleanup_free_ char *copy = strdup(arg);
    char *f[7];
    size_t n = 0;
    if (!copy)
        usage("out of memory");
    for (char *s = copy, *tok; n < ELEMENTSOF(f) && (tok = strsep(&s, ","));)
        f[n++] = tok;

    if ((n == 2 || n == 3) && streq(f[0], "addr")) {
        NftAddr *a = &el->addrs[el->n_addrs];
        if (el->n_addrs == ELEMENTSOF(el->addrs) || in_addr_parse(f[1], &a->family, &a->addr) < 0)
            usage("bad addr element");
        /* addr,ADDR,PORT: bound to that bridge port too */
        a->port = n == 3 ? strdup(f[2]) : NULL;
        if (n == 3 && !a->port)
            usage("out of memory");
        el->n_addrs++;
        return;
    }
    if (n != 6 || !streq(f[0], "port") || el->n_ports == ELEMENTSOF(el->ports))
        usage("bad element");
    NftPort *p = &el->ports[el->n_ports];
    *p = (NftPort){};
    if (streq(f[1], "tcp"))
        p->protocol = IPPROTO_TCP;
    else if (streq(f[1], "udp"))
        p->protocol = IPPROTO_UDP;
    else
        usage("bad protocol");
    int family;
    if (in_addr_parse(f[4], &p->family, &p->addr) < 0)
        usage("bad sandbox address");
    if (streq(f[2], "*4") || streq(f[2], "*6")) {
        p->any_host_addr = true;
        family = f[2][1] == '4' ? AF_INET : AF_INET6;
    } else if (in_addr_parse(f[2], &family, &p->host_addr) < 0)
        usage("bad host address");
    /* a mismatch is kept as given: nft.c must refuse it */
    if (family != p->family)
        p->family = 0;
    if (parse_u16(f[3], &p->host_port) < 0 || parse_u16(f[5], &p->port) < 0)
        usage("bad port");
    el->n_ports++;
}

/* With a network: replaces the table, adds and deletes an element through its own Nft before
 * "ready", and then ignores the events of those (nft_monitor_read given that Nft). */
static int cmd_monitor(int argc, char **argv) {
    _cleanup_(nft_closep) Nft *n = NULL;
    _cleanup_close_ int fd = -EBADF;
    int r, timeout;

    if (argc != 1 && argc != 4)
        usage("monitor TIMEOUT_MS [BRIDGE V4PREFIX V6PREFIX|-]");
    timeout = atoi(argv[0]);
    r = nft_monitor_open(&fd);
    if (r < 0)
        fail("monitor open", r);
    if (argc == 4) {
        NftNetwork net;
        NftPort p = {.family = AF_INET,
                     .any_host_addr = true,
                     .protocol = IPPROTO_TCP,
                     .host_port = 9999,
                     .addr.bytes = {10, 0, 0, 9},
                     .port = 9};
        parse_network(argv + 1, &net);
        r = nft_open(&n);
        if (r < 0)
            fail("open", r);
        r = nft_table_replace(n, &net, NULL, 0, NULL, 0) ?: nft_elements_add(n, NULL, 0, &p, 1) ?:
            nft_elements_delete(n, NULL, 0, &p, 1);
        if (r < 0)
            fail("own changes", r);
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        bool touched = false, overrun = false;
        r = poll(&pfd, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("poll", -errno);
        if (r == 0) {
            printf("quiet\n");
            return 0;
        }
        r = nft_monitor_read(n, fd, &touched, &overrun);
        if (r < 0)
            fail("monitor read", r);
        if (touched || overrun) {
            printf("touched\n");
            return 0;
        }
    }
}

static int cmd_flush_ct(int argc, char **argv) {
    int r;
    if (argc == 2 && streq(argv[0], "addr")) {
        union in_addr_union a;
        int family;
        if (in_addr_parse(argv[1], &family, &a) < 0)
            usage("bad address");
        r = conntrack_flush_address(family, &a);
    } else if (argc == 3 && streq(argv[0], "port")) {
        uint16_t port;
        uint8_t proto = streq(argv[1], "tcp")   ? IPPROTO_TCP
                        : streq(argv[1], "udp") ? IPPROTO_UDP
                                                : 0;
        if (proto == 0 || parse_u16(argv[2], &port) < 0)
            usage("bad protocol or port");
        r = conntrack_flush_port(proto, port);
    } else
        usage("flush-ct addr ADDRESS | flush-ct port tcp|udp PORT");
    if (r < 0)
        fail("flush-ct", r);
    printf("%d\n", r);
    return 0;
}

typedef struct Digest {
    uint64_t count, hash;
} Digest;

static uint64_t fnv1a(uint64_t h, const void *p, uint32_t len) {
    for (const uint8_t *b = p; len > 0; len--, b++)
        h = (h ^ *b) * 0x100000001b3ULL;
    return h;
}

static int on_elems(const struct nlmsghdr *nlh, void *userdata) {
    Digest *d = userdata;
    struct nftnl_set *s = nftnl_set_alloc();
    struct nftnl_set_elems_iter *it;
    struct nftnl_set_elem *e;

    if (!s)
        return MNL_CB_ERROR;
    if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0 || !(it = nftnl_set_elems_iter_create(s))) {
        nftnl_set_free(s);
        return MNL_CB_ERROR;
    }
    while ((e = nftnl_set_elems_iter_next(it))) {
        uint32_t klen = 0, dlen = 0;
        const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
        const void *v = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen);
        uint64_t h = fnv1a(0xcbf29ce484222325ULL, &klen, sizeof klen);
        h = fnv1a(h, k, k ? klen : 0);
        h = fnv1a(h, &dlen, sizeof dlen);
        h = fnv1a(h, v, v ? dlen : 0);
        /* a sum does not depend on the order the kernel dumps them in */
        d->hash += h;
        d->count++;
    }
    nftnl_set_elems_iter_destroy(it);
    nftnl_set_free(s);
    return MNL_CB_OK;
}

static int set_digest(struct mnl_socket *nl, uint16_t family, const char *table, const char *set,
                      Digest *d) {
    static char buf[1 << 20];
    struct nftnl_set *s = nftnl_set_alloc();
    uint32_t seq = 1, portid = mnl_socket_get_portid(nl);
    struct nlmsghdr *nlh;
    ssize_t n;
    int r = 0;

    if (!s)
        return -ENOMEM;
    nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
    nftnl_set_set_str(s, NFTNL_SET_NAME, set);
    nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_DUMP | NLM_F_ACK, seq);
    nftnl_set_elems_nlmsg_build_payload(nlh, s);
    nftnl_set_free(s);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    *d = (Digest){};
    while ((n = mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0) {
        r = mnl_cb_run(buf, n, seq, portid, on_elems, d);
        if (r <= MNL_CB_STOP)
            break;
    }
    if (n < 0)
        return -errno;
    return r < 0 ? -errno : 0;
}

static int cmd_digest(int argc, char **argv) {
    struct mnl_socket *nl;
    uint16_t family;
    int r = 0;

    if (argc < 3)
        usage("digest FAMILY TABLE SET...");
    if (streq(argv[0], "inet"))
        family = NFPROTO_INET;
    else if (streq(argv[0], "bridge"))
        family = NFPROTO_BRIDGE;
    else
        usage("family: inet or bridge");
    nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
        fail("netlink socket", -errno);
    for (int i = 2; i < argc && r >= 0; i++) {
        Digest d;
        r = set_digest(nl, family, argv[1], argv[i], &d);
        if (r >= 0)
            printf("%s %" PRIu64 " %016" PRIx64 "\n", argv[i], d.count, d.hash);
    }
    mnl_socket_close(nl);
    if (r < 0)
        fail("digest", r);
    return 0;
}

int main(int argc, char **argv) {
    _cleanup_(nft_closep) Nft *n = NULL;
    static Elements el;
    NftNetwork net;
    int r;

    if (argc < 2)
        usage("no command");
    const char *cmd = argv[1];
    argc -= 2;
    argv += 2;

    if (streq(cmd, "monitor"))
        return cmd_monitor(argc, argv);
    if (streq(cmd, "flush-ct"))
        return cmd_flush_ct(argc, argv);
    if (streq(cmd, "digest"))
        return cmd_digest(argc, argv);

    r = nft_open(&n);
    if (r < 0)
        fail("open", r);

    if (streq(cmd, "replace")) {
        if (argc < 3)
            usage("replace BRIDGE V4PREFIX V6PREFIX|- [ELEMENT...]");
        parse_network(argv, &net);
        for (int i = 3; i < argc; i++)
            parse_element(argv[i], &el);
        r = nft_table_replace(n, &net, el.addrs, el.n_addrs, el.ports, el.n_ports);
    } else if (streq(cmd, "add") || streq(cmd, "delete")) {
        for (int i = 0; i < argc; i++)
            parse_element(argv[i], &el);
        r = streq(cmd, "add") ? nft_elements_add(n, el.addrs, el.n_addrs, el.ports, el.n_ports)
                              : nft_elements_delete(n, el.addrs, el.n_addrs, el.ports, el.n_ports);
    } else if (streq(cmd, "intact")) {
        if (argc != 3)
            usage("intact BRIDGE V4PREFIX V6PREFIX|-");
        parse_network(argv, &net);
        r = nft_table_is_intact(n, &net);
        if (r >= 0)
            printf("%d\n", r);
    } else if (streq(cmd, "table-delete")) {
        r = nft_table_delete(n);
    } else
        usage("unknown command");
    if (r < 0)
        fail(cmd, r);
    return 0;
}
