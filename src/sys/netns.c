/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "netns.h"

int netns_socket(int netns_fd, int family, int type, int protocol) {
    _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -errno;
    if (setns(netns_fd, CLONE_NEWNET) < 0)
        return -errno;
    int fd = socket(family, type | SOCK_CLOEXEC, protocol);
    int r = fd < 0 ? -errno : fd;
    /* a socket keeps the namespace it was made in: the thread goes straight back. Staying in a
     * sandbox's namespace would put every later socket of ours there; nothing can be trusted
     * after that, so a failure to return ends the process */
    if (setns(self, CLONE_NEWNET) < 0)
        abort();
    return r;
}
