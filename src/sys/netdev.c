/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The init's side of the network: a few rtnetlink requests built by hand (no libmnl, see
 * netdev.h), each sent alone and acknowledged. */

#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "netdev.h"

/* Every request here is one header and a few attributes of at most 16 bytes. */
#define NETDEV_REQ_SIZE 256

typedef struct NetlinkRequest {
    union {
        struct nlmsghdr h;
        uint8_t buf[NETDEV_REQ_SIZE];
    };
} NetlinkRequest;

typedef struct Netlink {
    int fd;
    uint32_t seq;
} Netlink;

static void *req_init(NetlinkRequest *req, uint16_t type, uint16_t flags, size_t hdr_size) {
    memset(req, 0, sizeof *req);
    req->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdr_size);
    req->h.nlmsg_type = type;
    req->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    return NLMSG_DATA(&req->h);
}

static void req_attr(NetlinkRequest *req, uint16_t type, const void *data, size_t len) {
    size_t off = NLMSG_ALIGN(req->h.nlmsg_len);
    /* the requests are fixed: overflowing is a bug in this file, not a runtime condition */
    if (off + RTA_SPACE(len) > sizeof req->buf)
        abort();
    struct rtattr *rta = (struct rtattr *)(req->buf + off);
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    req->h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
}

static void req_attr_u32(NetlinkRequest *req, uint16_t type, uint32_t v) {
    req_attr(req, type, &v, sizeof v);
}

/* Sends the request and waits for its ACK; returns the kernel's error (negative errno). */
static int nl_call(Netlink *nl, NetlinkRequest *req) {
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    req->h.nlmsg_seq = ++nl->seq;
    if (sendto(nl->fd, req->buf, req->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) <
        0)
        return -errno;
    for (;;) {
        union {
            struct nlmsghdr h;
            uint8_t buf[4096];
        } ans;
        struct sockaddr_nl from;
        socklen_t from_len = sizeof from;
        ssize_t n =
            recvfrom(nl->fd, ans.buf, sizeof ans.buf, 0, (struct sockaddr *)&from, &from_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        /* only the kernel answers: another process of the namespace could address us */
        if (from_len != sizeof from || from.nl_pid != 0)
            continue;
        for (struct nlmsghdr *h = &ans.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != nl->seq || h->nlmsg_type != NLMSG_ERROR)
                continue;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                return -EBADMSG;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return e->error <= 0 ? e->error : -EBADMSG;
        }
    }
}

/* Sets flags and MTU (0: unchanged) of a link given by index, or by name when index is 0. */
static int link_set(Netlink *nl, uint32_t ifindex, const char *name, uint32_t mtu, bool up) {
    NetlinkRequest req;
    struct ifinfomsg *ifm = req_init(&req, RTM_NEWLINK, 0, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = (int)ifindex;
    if (up) {
        ifm->ifi_flags = IFF_UP;
        ifm->ifi_change = IFF_UP;
    }
    if (name)
        req_attr(&req, IFLA_IFNAME, name, strlen(name) + 1);
    if (mtu > 0)
        req_attr_u32(&req, IFLA_MTU, mtu);
    return nl_call(nl, &req);
}

static int addr_add(Netlink *nl, uint32_t ifindex, int family, const void *addr,
                    uint8_t prefixlen) {
    size_t size = family == AF_INET ? 4 : 16;
    NetlinkRequest req;
    struct ifaddrmsg *ifa = req_init(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
    ifa->ifa_family = (uint8_t)family;
    ifa->ifa_prefixlen = prefixlen;
    /* usable as soon as the payload runs: DAD would hold the address "tentative" (unusable
     * as a source) for a second; the daemon hands out each address once */
    ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    req_attr(&req, IFA_LOCAL, addr, size);
    req_attr(&req, IFA_ADDRESS, addr, size);
    return nl_call(nl, &req);
}

static int default_route_add(Netlink *nl, uint32_t ifindex, int family, const void *gateway) {
    NetlinkRequest req;
    struct rtmsg *rtm = req_init(&req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rtm);
    rtm->rtm_family = (uint8_t)family;
    rtm->rtm_dst_len = 0;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    req_attr(&req, RTA_GATEWAY, gateway, family == AF_INET ? 4 : 16);
    req_attr_u32(&req, RTA_OIF, ifindex);
    return nl_call(nl, &req);
}

/* Lets every user of the calling process's network namespace bind ports below 1024
 * (net.ipv4.ip_unprivileged_port_start=0), as Docker does. One path: each /proc/sys/net lookup
 * compares against every network namespace on the host (all are cached under the same names),
 * ~70 us a component with 300 sandboxes running. Router advertisements and redirects, which
 * sysctls here used to refuse, never reach a sandbox's port: table bridge sandboxd drops
 * them (nft.h). */
static int allow_low_ports(void) {
    _cleanup_close_ int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start",
                                  O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (write(fd, "0\n", 2) != 2)
        return -errno;
    return 0;
}

int netdev_configure(const PlanNetwork *n, const char **step) {
    _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        *step = "netlink";
        return -errno;
    }
    Netlink nl = {.fd = fd};
    int r = link_set(&nl, 0, "lo", 0, true);
    if (r < 0) {
        *step = "lo up";
        return r;
    }
    /* /proc/sys shows the opener's namespace: this one */
    if ((r = allow_low_ports()) < 0) {
        *step = "network sysctl";
        return r;
    }
    if (!n->eth0)
        return 0;

    /* the daemon made it in this namespace: our name for it is the only one */
    unsigned ifindex = if_nametoindex("eth0");
    if (ifindex == 0) {
        *step = "eth0";
        return -errno;
    }
    if ((r = link_set(&nl, ifindex, NULL, n->mtu, false)) < 0) {
        *step = "eth0 mtu";
        return r;
    }
    if (n->has_v4 && (r = addr_add(&nl, ifindex, AF_INET, &n->addr4, n->prefix4)) < 0) {
        *step = "eth0 address";
        return r;
    }
    if (n->has_v6 && (r = addr_add(&nl, ifindex, AF_INET6, &n->addr6, n->prefix6)) < 0) {
        *step = "eth0 IPv6 address";
        return r;
    }
    /* before the routes: the kernel refuses a gateway on a link that is down */
    if ((r = link_set(&nl, ifindex, NULL, 0, true)) < 0) {
        *step = "eth0 up";
        return r;
    }
    if (n->has_v4 && (r = default_route_add(&nl, ifindex, AF_INET, &n->gateway4)) < 0) {
        *step = "default route";
        return r;
    }
    if (n->has_v6 && (r = default_route_add(&nl, ifindex, AF_INET6, &n->gateway6)) < 0) {
        *step = "default IPv6 route";
        return r;
    }
    return 0;
}
