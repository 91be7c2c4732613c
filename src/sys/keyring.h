/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Keys are not namespaced: a sandbox's processes would share the session keyring of whoever
 * started sandboxd. This gives the caller a new, empty, anonymous session keyring (the user
 * keyring of its uid stays reachable; the seccomp filter keeps the payload off keyctl). */
int keyring_join_new_session(void);
