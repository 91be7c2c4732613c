/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "plan.h"

/* In the sandbox's network namespace (the init's): brings lo up and, when n->eth0, gives the
 * link the daemon made ("eth0") its MTU, addresses (IPv6 without duplicate address detection,
 * so it is usable at once) and default routes via the gateways, and brings it up; it takes
 * no router advertisements nor ICMP redirects (written in /proc/sys/net, so called while that
 * is writable: before the root, whose /proc/sys is read-only, is set up). Plain
 * rtnetlink without libraries: the init is linked statically and Debian ships libmnl shared
 * only. On failure *step names what failed ("eth0 address"). */
int netdev_configure(const PlanNetwork *n, const char **step);
