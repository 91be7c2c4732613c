/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/* Limits what the payload can ever hold: drops every capability outside keep (bit n =
 * capability n) from the bounding set, and clears the inheritable and ambient sets, so that the
 * exec gives root at most keep and anyone else nothing beyond file capabilities within keep.
 * Needs CAP_SETPCAP, so it runs before the switch to the payload's user. */
int caps_limit_bounding_set(uint64_t keep);
