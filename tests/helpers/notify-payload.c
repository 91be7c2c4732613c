/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Type=notify payload for the tests, speaking the sd_notify(3) protocol by hand (one
 * datagram to $NOTIFY_SOCKET), so the tests do not trust sandboxd's own code for it.
 *   notify-payload [--ready-after-ms N] [--no-ready] [--status TEXT] [--pings N]
 *                  [--mainpid N] [--big] [--ready-when PATH]
 * --ready-when PATH: READY=1 once PATH exists (polled), for a test that chooses the moment.
 * --pings N: N keep-alives WATCHDOG=1, every $WATCHDOG_USEC/4, then silence (-1: forever).
 * Prints what it sent on stdout, then sleeps until killed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int notify(const char *msg) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "notify-payload: no usable NOTIFY_SOCKET\n");
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, msg, strlen(msg), 0, (struct sockaddr *) &sa, sizeof sa) < 0) {
        fprintf(stderr, "notify-payload: sending %s: %s\n", msg, strerror(errno));
        return -1;
    }
    close(fd);
    printf("sent %s\n", msg);
    fflush(stdout);
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
    sleep_ms(ready_after);
    while (ready_when && access(ready_when, F_OK) < 0)
        sleep_ms(50);
    if (ready)
        notify("READY=1");
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
