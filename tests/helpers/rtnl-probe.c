/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Drives src/sys/rtnl.c (the daemon's side) and netdev_configure() (the init's side) against
 * the kernel and reads back with RTM_GET* dumps what they made. Refuses to run in the host's
 * network namespace: tests/integration/test_rtnl.py runs it in the suite's private one, a
 * person under `unshare -n`.
 *
 *   rtnl-probe e2e [--pin FILE]   bridge, veth into a second namespace, configure inside, and
 *                                 the error paths; prints PASS/FAIL lines. --pin bind-mounts
 *                                 the second namespace on FILE and leaves everything in place
 *                                 for the caller to inspect (and to delete).
 *   rtnl-probe routed PREFIX [EXCEPT_IFNAME]   prints "routed" or "not routed"
 *   rtnl-probe bench N            median cost of bridge-exists + veth + in-namespace configure
 */

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "in-addr-util.h"
#include "macro.h"
#include "netdev.h"
#include "rtnl.h"

#define BRIDGE "sbxprobe0"
#define VETH "vhprobe0"
#define VETH_DEL "vhprobe1"
#define BRIDGE_MTU "sbxprobe1"
#define VETH_BAD "vhprobe2"
#define V4_GW "10.231.0.1"
#define V4_ADDR "10.231.0.2"
#define V6_GW "fd5b:e7::1"
#define V6_ADDR "fd5b:e7::2"

/* init_net's inode number (include/linux/proc_ns.h), the same on every boot since 3.8 */
#define PROC_NET_INIT_INO 0xEFFFFFF9U

static int failures;

_printf_(2, 3) static void check(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(ok ? "PASS " : "FAIL ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
    if (!ok)
        failures++;
}

/* ---- reading the kernel's state back, independently of the code under test ---- */

typedef struct Link {
    char name[IFNAMSIZ];
    char kind[16];
    uint32_t ifindex, mtu, master, flags;
} Link;

typedef struct Addr {
    uint32_t ifindex, flags;
    InAddrPrefix p;
} Addr;

typedef struct Route {
    int family;
    uint8_t dst_len, type, protocol;
    uint32_t table, oif;
    bool has_gw;
    union in_addr_union dst, gw;
} Route;

typedef struct NetState {
    Link links[32];
    size_t n_links;
    Addr addrs[64];
    size_t n_addrs;
    Route routes[128];
    size_t n_routes;
} NetState;

static int attr_cb(const struct nlattr *a, void *data) {
    const struct nlattr **tb = data;
    if (mnl_attr_get_type(a) <= 64) /* above every *_MAX used here */
        tb[mnl_attr_get_type(a)] = a;
    return MNL_CB_OK;
}

static int state_cb(const struct nlmsghdr *h, void *data) {
    NetState *st = data;
    const struct nlattr *tb[65] = {};
    if (h->nlmsg_type == RTM_NEWLINK && st->n_links < ELEMENTSOF(st->links)) {
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(h);
        mnl_attr_parse(h, sizeof *ifm, attr_cb, tb);
        Link *l = &st->links[st->n_links++];
        *l = (Link){.ifindex = (uint32_t)ifm->ifi_index, .flags = ifm->ifi_flags};
        if (tb[IFLA_IFNAME])
            snprintf(l->name, sizeof l->name, "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
        if (tb[IFLA_MTU])
            l->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
        if (tb[IFLA_MASTER])
            l->master = mnl_attr_get_u32(tb[IFLA_MASTER]);
        if (tb[IFLA_LINKINFO]) {
            const struct nlattr *info[65] = {};
            mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_cb, info);
            if (info[IFLA_INFO_KIND])
                snprintf(l->kind, sizeof l->kind, "%s", mnl_attr_get_str(info[IFLA_INFO_KIND]));
        }
    } else if (h->nlmsg_type == RTM_NEWADDR && st->n_addrs < ELEMENTSOF(st->addrs)) {
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
        mnl_attr_parse(h, sizeof *ifa, attr_cb, tb);
        Addr *a = &st->addrs[st->n_addrs++];
        *a = (Addr){.ifindex = ifa->ifa_index,
                    .flags = ifa->ifa_flags,
                    .p = {.family = ifa->ifa_family, .prefixlen = ifa->ifa_prefixlen}};
        if (tb[IFA_FLAGS])
            a->flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
        const struct nlattr *addr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
        if (addr && mnl_attr_get_payload_len(addr) == in_addr_family_size(ifa->ifa_family))
            memcpy(a->p.addr.bytes, mnl_attr_get_payload(addr), mnl_attr_get_payload_len(addr));
    } else if (h->nlmsg_type == RTM_NEWROUTE && st->n_routes < ELEMENTSOF(st->routes)) {
        const struct rtmsg *rtm = mnl_nlmsg_get_payload(h);
        mnl_attr_parse(h, sizeof *rtm, attr_cb, tb);
        Route *r = &st->routes[st->n_routes++];
        size_t size = in_addr_family_size(rtm->rtm_family);
        *r = (Route){.family = rtm->rtm_family,
                     .dst_len = rtm->rtm_dst_len,
                     .type = rtm->rtm_type,
                     .protocol = rtm->rtm_protocol,
                     .table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table};
        if (tb[RTA_OIF])
            r->oif = mnl_attr_get_u32(tb[RTA_OIF]);
        if (tb[RTA_DST] && mnl_attr_get_payload_len(tb[RTA_DST]) == size)
            memcpy(r->dst.bytes, mnl_attr_get_payload(tb[RTA_DST]), size);
        if (tb[RTA_GATEWAY] && mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == size) {
            memcpy(r->gw.bytes, mnl_attr_get_payload(tb[RTA_GATEWAY]), size);
            r->has_gw = true;
        }
    }
    return MNL_CB_OK;
}

static int dump(struct mnl_socket *s, uint16_t type, size_t hdr_size, NetState *st) {
    static uint32_t seq;
    uint8_t buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    h->nlmsg_seq = ++seq;
    mnl_nlmsg_put_extra_header(h, hdr_size); /* family 0: every family */
    if (mnl_socket_sendto(s, h, h->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(s, buf, sizeof buf);
        if (n < 0)
            return -errno;
        int r = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(s), state_cb, st);
        if (r < 0)
            return -errno;
        if (r == MNL_CB_STOP)
            return 0;
    }
}

/* The state of the namespace netns_fd (-1: ours), read through a socket opened there. */
static int state_read(int netns_fd, NetState *st) {
    _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -errno;
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
        return -errno;
    struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    int r = s ? 0 : -errno;
    if (netns_fd >= 0 && setns(self, CLONE_NEWNET) < 0)
        abort(); /* never go on in the wrong namespace */
    if (r < 0)
        return r;
    if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0)
        r = -errno;
    memset(st, 0, sizeof *st);
    r = r ?: dump(s, RTM_GETLINK, sizeof(struct ifinfomsg), st);
    r = r ?: dump(s, RTM_GETADDR, sizeof(struct ifaddrmsg), st);
    r = r ?: dump(s, RTM_GETROUTE, sizeof(struct rtmsg), st);
    mnl_socket_close(s);
    return r;
}

static const Link *find_link(const NetState *st, const char *name) {
    for (size_t i = 0; i < st->n_links; i++)
        if (streq(st->links[i].name, name))
            return &st->links[i];
    return NULL;
}

static const Addr *find_addr(const NetState *st, uint32_t ifindex, const char *text) {
    InAddrPrefix want = {};
    union in_addr_union a;
    const char *slash = strchr(text, '/');
    char host[INET6_ADDRSTRLEN] = {};
    memcpy(host, text, (size_t)(slash - text));
    if (in_addr_parse(host, &want.family, &a) < 0)
        return NULL;
    for (size_t i = 0; i < st->n_addrs; i++) {
        const Addr *x = &st->addrs[i];
        if (x->ifindex == ifindex && x->p.family == want.family &&
            x->p.prefixlen == atoi(slash + 1) && in_addr_equal(want.family, &x->p.addr, &a))
            return x;
    }
    return NULL;
}

static const Route *find_default_route(const NetState *st, int family) {
    for (size_t i = 0; i < st->n_routes; i++) {
        const Route *r = &st->routes[i];
        if (r->family == family && r->dst_len == 0 && r->table == RT_TABLE_MAIN &&
            r->type == RTN_UNICAST)
            return r;
    }
    return NULL;
}

static bool gw_is(const Route *r, const char *text) {
    int family;
    union in_addr_union a;
    return r && r->has_gw && in_addr_parse(text, &family, &a) == 0 && family == r->family &&
           in_addr_equal(family, &r->gw, &a);
}

/* ---- namespaces ---- */

static int self_netns = -EBADF;

/* A new network namespace, held by the returned fd only; we stay in ours. */
static int netns_new(void) {
    if (unshare(CLONE_NEWNET) < 0)
        return -errno;
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int r = fd < 0 ? -errno : fd;
    if (setns(self_netns, CLONE_NEWNET) < 0)
        abort();
    return r;
}

/* netdev_configure() as sandboxd-init runs it: in a process inside the namespace. */
static int configure_in(int netns_fd, const PlanNetwork *n, char step[static 64]) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        struct {
            int r;
            char step[64];
        } res = {};
        const char *s = NULL;
        if (setns(netns_fd, CLONE_NEWNET) < 0) {
            res.r = -errno;
            s = "setns";
        } else
            res.r = netdev_configure(n, &s);
        snprintf(res.step, sizeof res.step, "%s", s ?: "");
        (void)!write(p[1], &res, sizeof res);
        _exit(0);
    }
    safe_close(p[1]);
    struct {
        int r;
        char step[64];
    } res = {.r = -EPIPE};
    ssize_t k = read(p[0], &res, sizeof res);
    safe_close(p[0]);
    (void)waitpid(pid, NULL, 0);
    if (k != (ssize_t)sizeof res)
        return -EPIPE;
    snprintf(step, 64, "%s", res.step);
    return res.r;
}

static PlanNetwork probe_plan(uint32_t mtu) {
    PlanNetwork n = {
        .eth0 = true, .mtu = mtu, .has_v4 = true, .has_v6 = true, .prefix4 = 16, .prefix6 = 64};
    inet_pton(AF_INET, V4_ADDR, &n.addr4);
    inet_pton(AF_INET, V4_GW, &n.gateway4);
    inet_pton(AF_INET6, V6_ADDR, &n.addr6);
    inet_pton(AF_INET6, V6_GW, &n.gateway6);
    return n;
}

static void bridge_addrs(InAddrPrefix a[2]) {
    a[0] = (InAddrPrefix){.family = AF_INET, .prefixlen = 16};
    a[1] = (InAddrPrefix){.family = AF_INET6, .prefixlen = 64};
    inet_pton(AF_INET, V4_GW, &a[0].addr);
    inet_pton(AF_INET6, V6_GW, &a[1].addr);
}

static int read_file(const char *path, char *buf, size_t size) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    return 0;
}

/* ---- e2e ---- */

/* As an administrator's `ip link set down` would. */
static int link_down(const char *name) {
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return -errno;
    ifr.ifr_flags &= ~IFF_UP;
    return RET_NERRNO(ioctl(fd, SIOCSIFFLAGS, &ifr));
}

static void e2e_sysctl(void) {
    char v[16];
    int r = sysctl_set_route_localnet(BRIDGE);
    check(r == 0 &&
              read_file("/proc/sys/net/ipv4/conf/" BRIDGE "/route_localnet", v, sizeof v) == 0 &&
              streq(v, "1\n"),
          "route_localnet set on the bridge (r=%d)", r);
    int all = sysctl_set_route_localnet("all"), def = sysctl_set_route_localnet("default"),
        dots = sysctl_set_route_localnet("../all");
    check(all == -EINVAL && def == -EINVAL && dots == -EINVAL,
          "route_localnet refuses all, default, ../all (%d %d %d)", all, def, dots);
    check(read_file("/proc/sys/net/ipv4/conf/all/route_localnet", v, sizeof v) == 0 &&
              streq(v, "0\n"),
          "route_localnet of all untouched");

    const struct {
        int family;
        const char *path;
    } fw[] = {{AF_INET, "/proc/sys/net/ipv4/ip_forward"},
              {AF_INET6, "/proc/sys/net/ipv6/conf/all/forwarding"}};
    for (size_t i = 0; i < ELEMENTSOF(fw); i++) {
        char before[16] = "";
        (void)read_file(fw[i].path, before, sizeof before);
        int first = sysctl_enable_forwarding(fw[i].family);
        int second = sysctl_enable_forwarding(fw[i].family);
        check(read_file(fw[i].path, v, sizeof v) == 0 && streq(v, "1\n") &&
                  first == (streq(before, "1\n") ? 0 : 1) && second == 0,
              "forwarding on for %s (first %d, then %d)", fw[i].path, first, second);
    }
    check(sysctl_enable_forwarding(AF_UNSPEC) == -EAFNOSUPPORT, "forwarding refuses AF_UNSPEC");
}

static void e2e_routed(Rtnl *nl) {
    static const struct {
        const char *prefix, *except;
        bool want;
    } cases[] = {
        {"10.231.0.0/16", NULL, true},         {"10.231.0.0/16", BRIDGE, false},
        {"10.231.7.0/24", NULL, true},         {"10.0.0.0/8", NULL, true},
        {"10.232.0.0/16", NULL, false},        {"fd5b:e7::/64", NULL, true},
        {"fd5b:e7::/64", BRIDGE, false},       {"fd5b:e8::/64", NULL, false},
        {"127.0.0.0/16", NULL, false}, /* only the local table has it */
        {"10.231.0.0/16", "nosuchlink", true},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        InAddrPrefix p;
        bool routed = !cases[i].want;
        int r = in_addr_prefix_parse(cases[i].prefix, &p);
        if (r == 0)
            r = rtnl_prefix_is_routed(nl, &p, cases[i].except, &routed);
        check(r == 0 && routed == cases[i].want, "prefix_is_routed %s except %s: %s (r=%d)",
              cases[i].prefix, cases[i].except ?: "-", routed ? "routed" : "not routed", r);
    }
}

static int cmd_e2e(const char *pin) {
    _cleanup_(rtnl_closep) Rtnl *nl = NULL;
    int r = rtnl_open(&nl);
    check(r == 0, "rtnl_open (r=%d)", r);
    if (r < 0)
        return 1;

    InAddrPrefix addrs[2];
    bridge_addrs(addrs);
    uint32_t ifindex = 0, mtu = 0, ifindex2 = 0, mtu2 = 0;
    r = rtnl_bridge_ensure(nl, BRIDGE, addrs, 2, &ifindex, &mtu);
    check(r == 0 && ifindex > 0 && mtu == 1500, "bridge created (r=%d ifindex=%u mtu=%u)", r,
          ifindex, mtu);
    r = rtnl_bridge_ensure(nl, BRIDGE, addrs, 2, &ifindex2, &mtu2);
    check(r == 0 && ifindex2 == ifindex && mtu2 == mtu, "bridge ensured again (r=%d)", r);

    NetState *host = calloc(1, sizeof *host), *ns = calloc(1, sizeof *ns);
    if (!host || !ns)
        return 1;
    r = state_read(-1, host);
    const Link *br = find_link(host, BRIDGE);
    check(r == 0 && br && streq(br->kind, "bridge") && (br->flags & IFF_UP),
          "bridge is a bridge and up");
    const Addr *a4 = br ? find_addr(host, br->ifindex, V4_GW "/16") : NULL;
    const Addr *a6 = br ? find_addr(host, br->ifindex, V6_GW "/64") : NULL;
    check(a4 && a6 && (a6->flags & IFA_F_NODAD) && !(a6->flags & IFA_F_TENTATIVE),
          "bridge has " V4_GW "/16 and " V6_GW "/64 (nodad, not tentative)");
    size_t n_br_addrs = 0;
    for (size_t i = 0; br && i < host->n_addrs; i++)
        n_br_addrs += host->addrs[i].ifindex == br->ifindex && host->addrs[i].p.family == AF_INET;
    check(n_br_addrs == 1, "ensuring twice added no second IPv4 address (%zu)", n_br_addrs);

    /* an administrator took it down: ensure brings it back */
    int q;
    r = link_down(BRIDGE);
    if (r == 0)
        r = rtnl_bridge_ensure(nl, BRIDGE, addrs, 2, NULL, NULL);
    q = state_read(-1, host);
    br = q == 0 ? find_link(host, BRIDGE) : NULL;
    check(r == 0 && br && (br->flags & IFF_UP), "bridge taken down is brought up (r=%d)", r);
    /* going down dropped its IPv6 address (keep_addr_on_down=0): ensure gave it back */
    check(br && find_addr(host, br->ifindex, V6_GW "/64") &&
              find_addr(host, br->ifindex, V4_GW "/16"),
          "bridge taken down has its addresses again");

    _cleanup_close_ int netns = netns_new();
    check(netns >= 0, "second network namespace (r=%d)", netns);
    if (netns < 0)
        return 1;
    r = rtnl_veth_create(nl, VETH, "eth0", netns, ifindex, mtu);
    check(r == 0, "veth created (r=%d)", r);
    r = rtnl_veth_create(nl, VETH, "eth1", netns, ifindex, mtu);
    check(r == -EEXIST, "veth with an existing host name: -EEXIST (r=%d)", r);
    /* the pair and its enslaving are one message, one transaction: when enslaving fails, no
     * half of the pair remains */
    r = rtnl_veth_create(nl, VETH_BAD, "eth1", netns, 1 /* lo: no master */, mtu);
    q = state_read(-1, host);
    int q2 = state_read(netns, ns);
    check(r < 0 && q == 0 && q2 == 0 && !find_link(host, VETH_BAD) && !find_link(ns, "eth1"),
          "veth onto a non-bridge master fails and leaves no link (r=%d)", r);
    r = rtnl_bridge_ensure(nl, VETH, NULL, 0, NULL, NULL);
    check(r == -EEXIST, "bridge_ensure on a veth: -EEXIST (r=%d)", r);
    r = rtnl_bridge_ensure(nl, "bad/name", NULL, 0, NULL, NULL);
    check(r == -EINVAL, "bridge_ensure on a bad name: -EINVAL (r=%d)", r);

    r = state_read(-1, host);
    const Link *vh = find_link(host, VETH);
    check(r == 0 && vh && streq(vh->kind, "veth") && vh->master == ifindex &&
              (vh->flags & IFF_UP) && vh->mtu == mtu,
          "host end: veth, master " BRIDGE ", up, mtu %u", mtu);
    check(!find_link(host, "eth0") && !find_link(host, "eth1"), "no peer in our namespace");
    r = state_read(netns, ns);
    const Link *eth0 = find_link(ns, "eth0");
    check(r == 0 && eth0 && streq(eth0->kind, "veth") && eth0->mtu == mtu &&
              !(eth0->flags & IFF_UP),
          "peer eth0 in the second namespace, mtu %u, down", mtu);

    PlanNetwork plan = probe_plan(mtu);
    char step[64] = "";
    r = configure_in(netns, &plan, step);
    check(r == 0, "netdev_configure inside (r=%d step=%s)", r, step);
    r = state_read(netns, ns);
    const Link *lo = find_link(ns, "lo");
    eth0 = find_link(ns, "eth0");
    check(r == 0 && lo && (lo->flags & IFF_UP), "inside: lo up");
    check(eth0 && (eth0->flags & IFF_UP) && (eth0->flags & IFF_LOWER_UP) && eth0->mtu == mtu,
          "inside: eth0 up with carrier, mtu %u", mtu);
    a4 = eth0 ? find_addr(ns, eth0->ifindex, V4_ADDR "/16") : NULL;
    a6 = eth0 ? find_addr(ns, eth0->ifindex, V6_ADDR "/64") : NULL;
    check(a4 && a6 && (a6->flags & IFA_F_NODAD) && !(a6->flags & IFA_F_TENTATIVE),
          "inside: eth0 has " V4_ADDR "/16 and " V6_ADDR "/64 (nodad, not tentative)");
    const Route *d4 = find_default_route(ns, AF_INET), *d6 = find_default_route(ns, AF_INET6);
    check(gw_is(d4, V4_GW) && eth0 && d4->oif == eth0->ifindex && d4->protocol == RTPROT_STATIC,
          "inside: default via " V4_GW " dev eth0 proto static");
    check(gw_is(d6, V6_GW) && eth0 && d6->oif == eth0->ifindex && d6->protocol == RTPROT_STATIC,
          "inside: default via " V6_GW " dev eth0 proto static");

    /* what the daemon hears when a step fails */
    r = configure_in(netns, &plan, step);
    check(r == -EEXIST && streq(step, "eth0 address"),
          "configure twice: -EEXIST at step \"eth0 address\" (r=%d step=%s)", r, step);
    {
        _cleanup_close_ int bare = netns_new();
        r = bare >= 0 ? configure_in(bare, &plan, step) : bare;
        check(r == -ENODEV && streq(step, "eth0"),
              "no eth0: -ENODEV at step \"eth0\" (r=%d step=%s)", r, step);
        PlanNetwork lo_only = {};
        r = bare >= 0 ? configure_in(bare, &lo_only, step) : bare;
        NetState *b = calloc(1, sizeof *b);
        q = b ? state_read(bare, b) : -ENOMEM;
        const Link *blo = q == 0 ? find_link(b, "lo") : NULL;
        check(r == 0 && blo && (blo->flags & IFF_UP), "loopback only: lo up (r=%d)", r);
        free(b);
        PlanNetwork v6_mtu = probe_plan(1500);
        v6_mtu.has_v4 = false;
        /* another bridge: a port of MTU 1000 would lower BRIDGE's MTU below IPv6's minimum
         * and the kernel would drop its IPv6 addresses for good */
        _cleanup_close_ int ns3 = netns_new();
        uint32_t other;
        r = rtnl_bridge_ensure(nl, BRIDGE_MTU, NULL, 0, &other, NULL);
        if (r == 0)
            r = rtnl_veth_create(nl, VETH_DEL, "eth0", ns3, other, 1000);
        check(r == 0, "veth with mtu 1000 (r=%d)", r);
        v6_mtu.mtu = 1000; /* below IPv6's minimum: the kernel refuses the address */
        r = configure_in(ns3, &v6_mtu, step);
        check(r < 0 && streq(step, "eth0 IPv6 address"),
              "IPv6 on mtu 1000 fails at step \"eth0 IPv6 address\" (r=%d step=%s)", r, step);

        /* a failed start's veth: deleted by name, synchronously */
        r = rtnl_link_delete(nl, VETH_DEL);
        check(r == 0, "link delete (r=%d)", r);
        r = rtnl_link_delete(nl, VETH_DEL);
        check(r == -ENODEV, "link delete again: -ENODEV (r=%d)", r);
        q = state_read(-1, host);
        check(q == 0 && !find_link(host, VETH_DEL), "deleted host end is gone");
        NetState *s3 = calloc(1, sizeof *s3);
        q = s3 ? state_read(ns3, s3) : -ENOMEM;
        check(q == 0 && !find_link(s3, "eth0"), "its peer went with it");
        free(s3);
        r = rtnl_link_delete(nl, BRIDGE_MTU);
        check(r == 0, "second bridge deleted (r=%d)", r);
    }

    e2e_routed(nl);
    e2e_sysctl();

    if (pin) {
        /* keep it for the caller, as `ip netns` does: a bind mount holds the namespace */
        char src[64];
        snprintf(src, sizeof src, "/proc/self/fd/%d", netns);
        r = RET_NERRNO(mount(src, pin, NULL, MS_BIND, NULL));
        check(r == 0, "namespace pinned on %s (r=%d)", pin, r);
    } else {
        r = rtnl_link_delete(nl, BRIDGE);
        check(r == 0, "bridge deleted (r=%d)", r);
    }
    free(host);
    free(ns);
    printf("%s: %d failed\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}

static int cmd_routed(const char *prefix, const char *except) {
    _cleanup_(rtnl_closep) Rtnl *nl = NULL;
    InAddrPrefix p;
    bool routed;
    int r = in_addr_prefix_parse(prefix, &p);
    if (r == 0)
        r = rtnl_open(&nl);
    if (r == 0)
        r = rtnl_prefix_is_routed(nl, &p, except, &routed);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", prefix, strerror(-r));
        return 1;
    }
    puts(routed ? "routed" : "not routed");
    return 0;
}

/* ---- bench ---- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    printf("%-40s median %7.1f us  p10 %7.1f  p90 %7.1f  min %7.1f  max %8.1f\n", what,
           v[n / 2] / 1000.0, v[n / 10] / 1000.0, v[n * 9 / 10] / 1000.0, v[0] / 1000.0,
           v[n - 1] / 1000.0);
}

static int cmd_bench(unsigned n) {
    _cleanup_(rtnl_closep) Rtnl *nl = NULL;
    if (n < 10 || rtnl_open(&nl) < 0)
        return 2;
    InAddrPrefix addrs[2];
    bridge_addrs(addrs);
    uint32_t ifindex, mtu;
    if (rtnl_bridge_ensure(nl, BRIDGE, addrs, 2, &ifindex, &mtu) < 0)
        return 1;
    uint64_t *t_br = calloc(n, 8), *t_veth = calloc(n, 8), *t_cfg = calloc(n, 8),
             *t_sum = calloc(n, 8);
    if (!t_br || !t_veth || !t_cfg || !t_sum)
        return 1;
    PlanNetwork plan = probe_plan(mtu);
    for (unsigned i = 0; i < n; i++) {
        _cleanup_close_ int netns = netns_new(); /* the spawn path's cost, not measured here */
        if (netns < 0)
            return 1;
        /* unique names: a closed namespace's veth goes away asynchronously */
        char vh[IFNAMSIZ];
        snprintf(vh, sizeof vh, "vhb%u", i);
        const char *step = NULL;
        uint64_t t0 = now_ns();
        int r = rtnl_bridge_ensure(nl, BRIDGE, addrs, 2, &ifindex, &mtu);
        uint64_t t1 = now_ns();
        if (r == 0)
            r = rtnl_veth_create(nl, vh, "eth0", netns, ifindex, mtu);
        uint64_t t2 = now_ns();
        /* the init is already inside; entering is the probe's cost, kept out */
        if (r == 0 && setns(netns, CLONE_NEWNET) < 0)
            r = -errno;
        uint64_t t3 = now_ns();
        if (r == 0)
            r = netdev_configure(&plan, &step);
        uint64_t t4 = now_ns();
        if (setns(self_netns, CLONE_NEWNET) < 0)
            abort();
        if (r < 0) {
            fprintf(stderr, "iteration %u: %s (step %s)\n", i, strerror(-r), step ?: "-");
            return 1;
        }
        t_br[i] = t1 - t0;
        t_veth[i] = t2 - t1;
        t_cfg[i] = t4 - t3;
        t_sum[i] = t_br[i] + t_veth[i] + t_cfg[i];
    }
    struct utsname u;
    uname(&u);
    printf("%u iterations, kernel %s\n", n, u.release);
    report("rtnl_bridge_ensure (exists)", t_br, n);
    report("rtnl_veth_create (one RTM_NEWLINK)", t_veth, n);
    report("netdev_configure (inside)", t_cfg, n);
    report("total", t_sum, n);
    (void)rtnl_link_delete(nl, BRIDGE);
    free(t_br);
    free(t_veth);
    free(t_cfg);
    free(t_sum);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    self_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    struct stat self, host;
    if (self_netns < 0 || fstat(self_netns, &self) < 0) {
        fprintf(stderr, "cannot tell which network namespace this is: %m\n");
        return 2;
    }
    /* every link, address and sysctl below is ours to make only in a namespace of our own:
     * not the kernel's first one (its inode number is fixed), not PID 1's where we may look,
     * not the one tests/run-integration was started in */
    char self_link[64];
    snprintf(self_link, sizeof self_link, "net:[%lu]", (unsigned long)self.st_ino);
    const char *outer = getenv("SANDBOXD_TEST_OUTER_NETNS");
    if (self.st_ino == PROC_NET_INIT_INO ||
        (stat("/proc/1/ns/net", &host) == 0 && host.st_ino == self.st_ino &&
         host.st_dev == self.st_dev) ||
        (outer && streq(outer, self_link))) {
        fprintf(stderr, "refusing to run in the host's network namespace: use unshare -n\n");
        return 2;
    }
    if (argc >= 2 && streq(argv[1], "e2e") && (argc == 2 || (argc == 4 && streq(argv[2], "--pin"))))
        return cmd_e2e(argc == 4 ? argv[3] : NULL);
    if (argc >= 3 && argc <= 4 && streq(argv[1], "routed"))
        return cmd_routed(argv[2], argc == 4 ? argv[3] : NULL);
    if (argc == 3 && streq(argv[1], "bench"))
        return cmd_bench((unsigned)atoi(argv[2]));
    fprintf(stderr, "usage: %s e2e [--pin FILE] | routed PREFIX [EXCEPT] | bench N\n", argv[0]);
    return 2;
}
