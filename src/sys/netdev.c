/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "macro.h"
#include "netdev.h"

int netdev_loopback_up(void) {
    struct ifreq ifr = {};
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return -errno;
    if (ifr.ifr_flags & IFF_UP)
        return 0;
    ifr.ifr_flags |= IFF_UP;
    return RET_NERRNO(ioctl(fd, SIOCSIFFLAGS, &ifr));
}
