/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "peer-util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int peer_pidfd(int sockfd, pid_t *ret_pid, int *ret_pidfd) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(sockfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    if (cred.pid <= 0)
        return -ESRCH; /* a peer in a pid namespace we cannot see into */

    int pidfd = -EBADF, exact = 1;
    len = sizeof pidfd;
    if (getsockopt(sockfd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
        if (errno != ENOPROTOOPT && errno != EINVAL)
            return -errno; /* ESRCH: the peer has exited */
        pidfd = (int) syscall(SYS_pidfd_open, cred.pid, 0);
        if (pidfd < 0)
            return -errno;
        exact = 0;
    }
    *ret_pid = cred.pid;
    *ret_pidfd = pidfd;
    return exact;
}

int pidfd_check_alive(int pidfd) {
    return RET_NERRNO((int) syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0));
}

uint64_t boot_time_ticks(void) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    uint64_t hz = (uint64_t) sysconf(_SC_CLK_TCK);
    return (uint64_t) ts.tv_sec * hz + (uint64_t) ts.tv_nsec * hz / 1000000000ULL;
}

int pid_shares_namespace(pid_t pid, const char *ns) {
    char path[64], self[64];
    struct stat a, b;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) pid, ns);
    snprintf(self, sizeof self, "/proc/self/ns/%s", ns);
    if (stat(path, &a) < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    if (stat(self, &b) < 0)
        return -errno;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}
