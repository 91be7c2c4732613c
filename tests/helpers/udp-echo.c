/* SPDX-License-Identifier: GPL-2.0-or-later */
/* udp-echo PORT: a UDP server for a busybox sandbox (busybox nc has no -u). Listens on
 * [::]:PORT, IPv4 and IPv6; for each datagram prints "got DATA from PEER" on stdout (the unit's
 * log) and answers "echo DATA from PEER", so the client sees both directions and what source
 * address the server saw. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: udp-echo PORT\n");
        return 2;
    }
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[1]))};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("bind");
        return 1;
    }
    printf("listening on udp port %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        char buf[1024], peer[INET6_ADDRSTRLEN], out[1200];
        struct sockaddr_in6 from;
        socklen_t len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &len);
        if (n < 0) {
            perror("recvfrom");
            return 1;
        }
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        inet_ntop(AF_INET6, &from.sin6_addr, peer, sizeof(peer));
        /* an IPv4 peer arrives as ::ffff:a.b.c.d: print it as a.b.c.d */
        const char *p = strncmp(peer, "::ffff:", 7) == 0 && strchr(peer, '.') ? peer + 7 : peer;
        printf("got %s from %s\n", buf, p);
        fflush(stdout);
        int m = snprintf(out, sizeof(out), "echo %s from %s", buf, p);
        sendto(fd, out, m, 0, (struct sockaddr *)&from, len);
    }
}
