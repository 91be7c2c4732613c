/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Brings the loopback device of the calling process's network namespace up: a new network
 * namespace starts with lo down, and services expect 127.0.0.1 to work. */
int netdev_loopback_up(void);
