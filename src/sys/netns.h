/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A socket in the network namespace netns_fd names (made there by the calling thread, which
 * returns to its own at once). Returns the fd (close-on-exec) or a negative errno. */
int netns_socket(int netns_fd, int family, int type, int protocol);
