/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Type=notify payload for the tests, speaking the sd_notify(3) protocol by hand (one
 * datagram to $NOTIFY_SOCKET), so the tests do not trust sandboxd's own code for it.
 *   notify-payload [--ready-after-ms N] [--no-ready] [--status TEXT] [--pings N]
 *                  [--mainpid N] [--big] [--ready-when PATH] [--flood N] [--pass-fds N]
 * --flood N: N messages as fast as the socket takes them (STATUS=flood K), before READY=1.
 * --flood-line LINE: each flooding message is LINE repeated up to 4000 bytes instead.
 * --pass-fds N: N datagrams each carrying 16 descriptors (SCM_RIGHTS), before READY=1.
 * --ready-when PATH: READY=1 once PATH exists (polled), for a test that chooses the moment.
 * --pings N: N keep-alives WATCHDOG=1, every $WATCHDOG_USEC/4, then silence (-1: forever).
 * Prints what it sent on stdout, then sleeps until killed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* $NOTIFY_SOCKET's address and a datagram socket to send to it; exits if there is none */
static int notify_socket(struct sockaddr_un *sa) {
    const char *path = getenv("NOTIFY_SOCKET");
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof sa->sun_path) {
        fprintf(stderr, "notify-payload: no usable NOTIFY_SOCKET\n");
        exit(1);
    }
    strcpy(sa->sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "notify-payload: socket: %s\n", strerror(errno));
        exit(1);
    }
    return fd;
}

static int notify(const char *msg) {
    struct sockaddr_un sa;
    int fd = notify_socket(&sa);
    if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *) &sa, sizeof sa) < 0) {
        fprintf(stderr, "notify-payload: sending %s: %s\n", msg, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    printf("sent %s\n", msg);
    fflush(stdout);
    return 0;
}

static int flood(long n, const char *line) {
    struct sockaddr_un sa;
    int fd = notify_socket(&sa);
    long sent = 0;
    for (long i = 0; i < n; i++) {
        char msg[4096];
        int len = 0;
        if (!line)
            len = snprintf(msg, sizeof msg, "STATUS=flood %ld", i);
        else
            while (len + strlen(line) + 1 < 4000)
                len += snprintf(msg + len, sizeof msg - (size_t) len, "%s\n", line);
        if (sendto(fd, msg, (size_t) len, 0, (struct sockaddr *) &sa, sizeof sa) >= 0)
            sent++;
    }
    printf("flood: %ld of %ld sent\n", sent, n);
    close(fd);
    return 0;
}

static int pass_fds(long n) {
    struct sockaddr_un sa;
    int fd = notify_socket(&sa);
    int fds[16];
    for (int i = 0; i < 16; i++)
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } control;
    long sent = 0;
    for (long i = 0; i < n; i++) {
        char msg[] = "STATUS=with fds";
        struct iovec iov = {msg, sizeof msg - 1};
        struct msghdr mh = {.msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &iov,
                            .msg_iovlen = 1, .msg_control = control.buf,
                            .msg_controllen = sizeof control.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof fds);
        memcpy(CMSG_DATA(c), fds, sizeof fds);
        if (sendmsg(fd, &mh, 0) >= 0)
            sent++;
    }
    printf("pass-fds: %ld of %ld sent\n", sent, n);
    close(fd);
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int main(int argc, char **argv) {
    long ready_after = 0, pings = 0;
    int ready = 1, big = 0;
    const char *status = NULL, *mainpid = NULL, *ready_when = NULL;
    long flood_n = 0, pass_n = 0;
    const char *flood_line = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ready-after-ms") && i + 1 < argc)
            ready_after = atol(argv[++i]);
        else if (!strcmp(argv[i], "--no-ready"))
            ready = 0;
        else if (!strcmp(argv[i], "--status") && i + 1 < argc)
            status = argv[++i];
        else if (!strcmp(argv[i], "--pings") && i + 1 < argc)
            pings = atol(argv[++i]);
        else if (!strcmp(argv[i], "--mainpid") && i + 1 < argc)
            mainpid = argv[++i];
        else if (!strcmp(argv[i], "--ready-when") && i + 1 < argc)
            ready_when = argv[++i];
        else if (!strcmp(argv[i], "--flood") && i + 1 < argc)
            flood_n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--flood-line") && i + 1 < argc)
            flood_line = argv[++i];
        else if (!strcmp(argv[i], "--pass-fds") && i + 1 < argc)
            pass_n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--big"))
            big = 1;
        else {
            fprintf(stderr, "notify-payload: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (big) {
        /* more than the 4 KiB sandboxd reads: dropped whole, READY=1 and all */
        static char msg[8192];
        memset(msg, 'x', sizeof msg - 1);
        memcpy(msg, "READY=1\nSTATUS=", 15);
        notify(msg);
    }
    if (status) {
        char msg[512];
        snprintf(msg, sizeof msg, "STATUS=%s", status);
        notify(msg);
    }
    if (mainpid) {
        char msg[64];
        snprintf(msg, sizeof msg, "MAINPID=%s", mainpid);
        notify(msg);
    }
    if (flood_n)
        flood(flood_n, flood_line);
    if (pass_n)
        pass_fds(pass_n);
    sleep_ms(ready_after);
    while (ready_when && access(ready_when, F_OK) < 0)
        sleep_ms(50);
    if (ready) {
        struct timespec ts;
        notify("READY=1");
        /* the kernel's clock of process start times (/proc/PID/stat), for ordering checks */
        clock_gettime(CLOCK_BOOTTIME, &ts);
        printf("READY=1 sent at boottime %ld.%09ld\n", (long) ts.tv_sec, ts.tv_nsec);
        fflush(stdout);
    }
    const char *w = getenv("WATCHDOG_USEC");
    long interval = w ? atol(w) / 4000 : 0;
    for (long n = 0; interval > 0 && (pings < 0 || n < pings); n++) {
        notify("WATCHDOG=1");
        sleep_ms(interval);
    }
    if (w)
        printf("keep-alives stop\n");
    fflush(stdout);
    for (;;)
        pause();
}
