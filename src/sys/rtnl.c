/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rtnetlink on libmnl: the daemon's side of Network=bridge. The only user of libmnl for links;
 * libmnl's -1/errno becomes a negative errno here. */

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "macro.h"
#include "rtnl.h"

/* A dump's datagrams grow to 32 KiB once the kernel sees a receive buffer that large; a smaller
 * one truncates them (ENOSPC from libmnl) on a host with many routes. */
#define RTNL_RECV_SIZE 32768
/* Our requests are a few fixed attributes with names shorter than IFNAMSIZ. */
#define RTNL_REQ_SIZE 512

struct Rtnl {
    struct mnl_socket *sock;
    uint32_t portid;
    uint32_t seq;
    uint8_t buf[RTNL_RECV_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
};

int rtnl_open(Rtnl **ret) {
    Rtnl *nl = calloc(1, sizeof(Rtnl));
    if (!nl)
        return -ENOMEM;
    nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl->sock) {
        int r = negative_errno();
        free(nl);
        return r;
    }
    /* ACKs without a copy of the request: errors need no more than the errno */
    (void)mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &(int){1}, sizeof(int));
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int r = negative_errno();
        rtnl_close(nl);
        return r;
    }
    nl->portid = mnl_socket_get_portid(nl->sock);
    /* distinct from the sequence numbers of a previous socket with the same port id */
    nl->seq = (uint32_t)time(NULL);
    *ret = nl;
    return 0;
}

Rtnl *rtnl_close(Rtnl *nl) {
    if (!nl)
        return NULL;
    if (nl->sock)
        mnl_socket_close(nl->sock);
    free(nl);
    return NULL;
}

/* Sends h and reads until its ACK (or NLMSG_DONE for a dump), passing every reply to cb.
 * Returns the kernel's error as a negative errno. */
static int rtnl_send_recv(Rtnl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data) {
    h->nlmsg_seq = ++nl->seq;
    h->nlmsg_flags |= NLM_F_REQUEST;
    if (mnl_socket_sendto(nl->sock, h, h->nlmsg_len) < 0)
        return negative_errno();
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof nl->buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return negative_errno();
        }
        /* the rest of an answer to an earlier request whose reading failed: not ours (a
         * datagram never mixes two requests' answers) */
        const struct nlmsghdr *first = (const struct nlmsghdr *)nl->buf;
        if ((size_t)n >= sizeof *first && first->nlmsg_seq != nl->seq)
            continue;
        int r = mnl_cb_run(nl->buf, (size_t)n, nl->seq, nl->portid, cb, data);
        if (r < 0)
            return negative_errno();
        if (r == MNL_CB_STOP)
            return 0;
    }
}

/* A request answered by an ACK (after the reply of a GET). */
static int rtnl_call(Rtnl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data) {
    h->nlmsg_flags |= NLM_F_ACK;
    return rtnl_send_recv(nl, h, cb, data);
}

/* A dump, ended by NLMSG_DONE. (Not told apart by its flags: NLM_F_DUMP shares a bit with
 * NLM_F_EXCL, which means something else on a NEW request.) */
static int rtnl_dump(Rtnl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data) {
    h->nlmsg_flags |= NLM_F_DUMP;
    return rtnl_send_recv(nl, h, cb, data);
}

static struct nlmsghdr *put_header(void *buf, uint16_t type, uint16_t flags) {
    memset(buf, 0, RTNL_REQ_SIZE);
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    return h;
}

/* What dev_valid_name() accepts, limited to printable ASCII: checked here so that a bad name
 * is -EINVAL before any request, and never a path component of /proc/sys. */
static bool ifname_valid(const char *name) {
    if (!name || !*name || strlen(name) >= IFNAMSIZ || streq(name, ".") || streq(name, ".."))
        return false;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c == '/' || *c == ':' || *c <= ' ' || *c >= 0x7f)
            return false;
    return true;
}

typedef struct LinkInfo {
    uint32_t ifindex;
    uint32_t mtu;
    uint32_t flags;
    char kind[32]; /* IFLA_INFO_KIND; empty for a link without one (e.g. a physical NIC) */
} LinkInfo;

static int link_attr_cb(const struct nlattr *a, void *data) {
    const struct nlattr **tb = data;
    uint16_t type = mnl_attr_get_type(a);
    if (type == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) < 0)
        return MNL_CB_ERROR;
    if (type <= IFLA_MAX)
        tb[type] = a;
    return MNL_CB_OK;
}

static int linkinfo_attr_cb(const struct nlattr *a, void *data) {
    const struct nlattr **tb = data;
    uint16_t type = mnl_attr_get_type(a);
    if (type == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) < 0)
        return MNL_CB_ERROR;
    if (type <= IFLA_INFO_MAX)
        tb[type] = a;
    return MNL_CB_OK;
}

static int link_get_cb(const struct nlmsghdr *h, void *data) {
    LinkInfo *li = data;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(h);
    const struct nlattr *tb[IFLA_MAX + 1] = {};
    if (h->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    if (mnl_attr_parse(h, sizeof *ifm, link_attr_cb, tb) < 0)
        return MNL_CB_ERROR;
    *li = (LinkInfo){.ifindex = (uint32_t)ifm->ifi_index, .flags = ifm->ifi_flags};
    if (tb[IFLA_MTU])
        li->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
    if (tb[IFLA_LINKINFO]) {
        const struct nlattr *info[IFLA_INFO_MAX + 1] = {};
        if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, info) < 0)
            return MNL_CB_ERROR;
        if (info[IFLA_INFO_KIND])
            snprintf(li->kind, sizeof li->kind, "%s", mnl_attr_get_str(info[IFLA_INFO_KIND]));
    }
    return MNL_CB_OK;
}

/* -ENODEV if there is no link of that name. */
static int link_get(Rtnl *nl, const char *name, LinkInfo *ret) {
    uint8_t buf[RTNL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = put_header(buf, RTM_GETLINK, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(h, IFLA_IFNAME, name);
    /* the counters are most of the answer and nobody here reads them */
    mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    LinkInfo li = {};
    int r = rtnl_call(nl, h, link_get_cb, &li);
    if (r < 0)
        return r;
    if (li.ifindex == 0)
        return -ENODEV;
    *ret = li;
    return 0;
}

static int link_set_up(Rtnl *nl, uint32_t ifindex) {
    uint8_t buf[RTNL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = put_header(buf, RTM_NEWLINK, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = (int)ifindex;
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    return rtnl_call(nl, h, NULL, NULL);
}

/* Adds a to the link; one it already has is fine. */
static int addr_add(Rtnl *nl, uint32_t ifindex, const InAddrPrefix *a) {
    size_t size = in_addr_family_size(a->family);
    if (size == 0 || a->prefixlen == 0 || a->prefixlen > size * 8)
        return -EINVAL;
    uint8_t buf[RTNL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = put_header(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof *ifa);
    ifa->ifa_family = (uint8_t)a->family;
    ifa->ifa_prefixlen = a->prefixlen;
    /* duplicate address detection would leave the gateway unusable for a second or more
     * after every bridge creation; we own the subnet, there is nobody to collide with */
    ifa->ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    mnl_attr_put(h, IFA_LOCAL, size, a->addr.bytes);
    mnl_attr_put(h, IFA_ADDRESS, size, a->addr.bytes);
    int r = rtnl_call(nl, h, NULL, NULL);
    return r == -EEXIST ? 0 : r;
}

int rtnl_bridge_ensure(Rtnl *nl, const char *name, const InAddrPrefix *addrs, size_t n_addrs,
                       uint32_t *ret_ifindex, uint32_t *ret_mtu) {
    if (!ifname_valid(name))
        return -EINVAL;
    uint8_t buf[RTNL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(h, IFLA_IFNAME, name);
    struct nlattr *info = mnl_attr_nest_start(h, IFLA_LINKINFO);
    mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(h, info);
    /* EXCL: a link of that name that is not a bridge must not be taken over silently */
    int r = rtnl_call(nl, h, NULL, NULL);
    if (r < 0 && r != -EEXIST)
        return r;
    LinkInfo li;
    int q = link_get(nl, name, &li);
    if (q < 0)
        return q;
    if (r == -EEXIST) {
        if (!streq(li.kind, "bridge"))
            return -EEXIST;
        /* an administrator's `ip link set down` stops every sandbox's traffic: undo it */
        if (!(li.flags & IFF_UP) && (r = link_set_up(nl, li.ifindex)) < 0)
            return r;
    }
    for (size_t i = 0; i < n_addrs; i++)
        if ((r = addr_add(nl, li.ifindex, &addrs[i])) < 0)
            return r;
    if (ret_ifindex)
        *ret_ifindex = li.ifindex;
    if (ret_mtu)
        *ret_mtu = li.mtu;
    return 0;
}

int rtnl_veth_create(Rtnl *nl, const char *host_name, const char *peer_name, int peer_netns_fd,
                     uint32_t master_ifindex, uint32_t mtu) {
    if (!ifname_valid(host_name) || !ifname_valid(peer_name) || peer_netns_fd < 0 ||
        master_ifindex == 0)
        return -EINVAL;
    uint8_t buf[RTNL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(h, IFLA_IFNAME, host_name);
    if (mtu > 0)
        mnl_attr_put_u32(h, IFLA_MTU, mtu);
    /* enslaved as it is made, and down until its port is configured: it is never up outside
     * the bridge, nor before it has its port settings */
    mnl_attr_put_u32(h, IFLA_MASTER, master_ifindex);
    struct nlattr *info = mnl_attr_nest_start(h, IFLA_LINKINFO);
    mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
    struct nlattr *peer = mnl_attr_nest_start(h, VETH_INFO_PEER);
    /* the peer's own ifinfomsg: flags 0, so it stays down until the sandbox's init has
     * addressed it */
    struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(h, sizeof *pifm);
    pifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(h, IFLA_IFNAME, peer_name);
    /* made in the sandbox's namespace directly: a peer created here and moved would exist
     * for a moment in ours, where its name can collide with the host's own eth0 */
    mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
    if (mtu > 0)
        mnl_attr_put_u32(h, IFLA_MTU, mtu);
    mnl_attr_nest_end(h, peer);
    mnl_attr_nest_end(h, data);
    mnl_attr_nest_end(h, info);
    int r = rtnl_call(nl, h, NULL, NULL);
    if (r < 0)
        return r;
    /* The port's settings, which apply to an existing port only (and the kernel refuses
     * IFLA_AF_SPEC on a new link):
     * - hairpin mode: a sandbox reaching its own published port is DNAT'd back out of the
     *   port it came in by, which a bridge refuses otherwise (br_netfilter hosts);
     * - no IPv6 address generation: a bridge port needs no link-local address, and each
     *   would add routes every device event walks, and DAD and MLD traffic, per sandbox.
     * A kernel without IPv6 answers EAFNOSUPPORT to the second: then without it. */
    for (int with_af_spec = 1; with_af_spec >= 0; with_af_spec--) {
        h = put_header(buf, RTM_NEWLINK, 0);
        ifm = mnl_nlmsg_put_extra_header(h, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(h, IFLA_IFNAME, host_name);
        info = mnl_attr_nest_start(h, IFLA_LINKINFO);
        mnl_attr_put_strz(h, IFLA_INFO_SLAVE_KIND, "bridge");
        data = mnl_attr_nest_start(h, IFLA_INFO_SLAVE_DATA);
        mnl_attr_put_u8(h, IFLA_BRPORT_MODE, 1);
        mnl_attr_nest_end(h, data);
        mnl_attr_nest_end(h, info);
        if (with_af_spec) {
            struct nlattr *af = mnl_attr_nest_start(h, IFLA_AF_SPEC);
            struct nlattr *in6 = mnl_attr_nest_start(h, AF_INET6);
            mnl_attr_put_u8(h, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
            mnl_attr_nest_end(h, in6);
            mnl_attr_nest_end(h, af);
        }
        r = rtnl_call(nl, h, NULL, NULL);
        if (r != -EAFNOSUPPORT)
            break;
    }
    if (r >= 0) {
        /* up once configured (the kernel raises a link before it applies IFLA_AF_SPEC) */
        h = put_header(buf, RTM_NEWLINK, 0);
        ifm = mnl_nlmsg_put_extra_header(h, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_flags = IFF_UP;
        ifm->ifi_change = IFF_UP;
        mnl_attr_put_strz(h, IFLA_IFNAME, host_name);
        r = rtnl_call(nl, h, NULL, NULL);
    }
    if (r < 0)
        (void) rtnl_link_delete(nl, host_name); /* all or nothing, as the header says */
    return r;
}

int rtnl_link_delete(Rtnl *nl, const char *name) {
    if (!ifname_valid(name))
        return -EINVAL;
    uint8_t buf[RTNL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = put_header(buf, RTM_DELLINK, 0);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(h, IFLA_IFNAME, name);
    return rtnl_call(nl, h, NULL, NULL);
}

typedef struct RouteQuery {
    const InAddrPrefix *prefix;
    uint32_t except_ifindex; /* 0: none */
    bool found;
} RouteQuery;

static int route_attr_cb(const struct nlattr *a, void *data) {
    const struct nlattr **tb = data;
    uint16_t type = mnl_attr_get_type(a);
    if ((type == RTA_TABLE || type == RTA_OIF) && mnl_attr_validate(a, MNL_TYPE_U32) < 0)
        return MNL_CB_ERROR;
    if (type <= RTA_MAX)
        tb[type] = a;
    return MNL_CB_OK;
}

static int route_dump_cb(const struct nlmsghdr *h, void *data) {
    RouteQuery *q = data;
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(h);
    const struct nlattr *tb[RTA_MAX + 1] = {};
    if (h->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != q->prefix->family)
        return MNL_CB_OK;
    if (mnl_attr_parse(h, sizeof *rtm, route_attr_cb, tb) < 0)
        return MNL_CB_ERROR;
    uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
    /* the local table and the kernel's own local, broadcast and multicast entries say
     * nothing about which subnets lie beyond the host's links; a default route covers all */
    if (table != RT_TABLE_MAIN || rtm->rtm_dst_len == 0 || (rtm->rtm_flags & RTM_F_CLONED))
        return MNL_CB_OK;
    if (rtm->rtm_type == RTN_LOCAL || rtm->rtm_type == RTN_BROADCAST ||
        rtm->rtm_type == RTN_MULTICAST || rtm->rtm_type == RTN_ANYCAST)
        return MNL_CB_OK;
    if (q->except_ifindex && tb[RTA_OIF] && mnl_attr_get_u32(tb[RTA_OIF]) == q->except_ifindex)
        return MNL_CB_OK;
    size_t size = in_addr_family_size(rtm->rtm_family);
    if (!tb[RTA_DST] || mnl_attr_get_payload_len(tb[RTA_DST]) != size ||
        rtm->rtm_dst_len > size * 8)
        return MNL_CB_OK;
    InAddrPrefix dst = {.family = rtm->rtm_family, .prefixlen = rtm->rtm_dst_len};
    memcpy(dst.addr.bytes, mnl_attr_get_payload(tb[RTA_DST]), size);
    if (in_addr_prefix_overlaps(q->prefix, &dst))
        q->found = true;
    return MNL_CB_OK;
}

int rtnl_prefix_is_routed(Rtnl *nl, const InAddrPrefix *p, const char *except_ifname, bool *ret) {
    size_t size = in_addr_family_size(p->family);
    if (size == 0 || p->prefixlen > size * 8)
        return -EINVAL;
    RouteQuery q = {.prefix = p};
    if (except_ifname) {
        LinkInfo li;
        int r = link_get(nl, except_ifname, &li);
        if (r < 0 && r != -ENODEV)
            return r;
        if (r == 0)
            q.except_ifindex = li.ifindex;
    }
    uint8_t buf[RTNL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = put_header(buf, RTM_GETROUTE, 0);
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof *rtm);
    rtm->rtm_family = (uint8_t)p->family;
    int r = rtnl_dump(nl, h, route_dump_cb, &q);
    if (r < 0)
        return r;
    *ret = q.found;
    return 0;
}

/* Writes "1" unless the file already says 1; returns 1 if it wrote. */
static int sysctl_write_one(const char *path) {
    _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    char old[16];
    ssize_t n = pread(fd, old, sizeof old - 1, 0);
    if (n < 0)
        return -errno;
    old[n] = 0;
    if (streq(old, "1\n"))
        return 0;
    n = pwrite(fd, "1\n", 2, 0);
    if (n < 0)
        return -errno;
    return n == 2 ? 1 : -EIO;
}

int sysctl_enable_forwarding(int family) {
    if (family == AF_INET)
        return sysctl_write_one("/proc/sys/net/ipv4/ip_forward");
    if (family == AF_INET6)
        return sysctl_write_one("/proc/sys/net/ipv6/conf/all/forwarding");
    return -EAFNOSUPPORT;
}

int sysctl_set_route_localnet(const char *ifname) {
    /* "all" and "default" are directories there too, and must never be written */
    if (!ifname_valid(ifname) || streq(ifname, "all") || streq(ifname, "default"))
        return -EINVAL;
    char path[sizeof "/proc/sys/net/ipv4/conf//route_localnet" + IFNAMSIZ];
    snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", ifname);
    int r = sysctl_write_one(path);
    return r < 0 ? r : 0;
}
