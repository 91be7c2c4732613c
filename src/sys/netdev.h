/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "plan.h"

/* In the sandbox's network namespace (the init's): brings lo up; lets every user of the
 * namespace bind ports below 1024 (net.ipv4.ip_unprivileged_port_start=0, per namespace), as
 * Docker does: the namespace is the sandbox's alone, and a root payload in its own user
 * namespace lacks CAP_NET_BIND_SERVICE over a namespace the host's user namespace owns; and,
 * when n->eth0, gives the link the daemon made ("eth0") its MTU, addresses (IPv6 without
 * duplicate address detection, so it is usable at once) and default routes via the gateways,
 * and brings it up. The sysctl is written through /proc/sys/net, so this is called while that
 * is writable: before the root, whose /proc/sys is read-only, is set up. (No router
 * advertisement or redirect reaches eth0: the bridge drops them.) Plain rtnetlink without
 * libraries: the init is linked statically and Debian ships libmnl shared only. On failure
 * *step names what failed ("eth0 address"). */
int netdev_configure(const PlanNetwork *n, const char **step);
