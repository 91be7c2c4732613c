/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Image references NAME[:TAG], shared by the unit parser (Image=), the store and the CLI. */

#include <stdbool.h>

/* Lowercase letters and digits, with '.', '_', '__', '-'... between them, components joined
 * by '/' (Docker's repository grammar), at most 255 bytes: never a path that leaves a
 * directory. */
bool image_name_is_valid(const char *name);
/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
bool image_tag_is_valid(const char *tag);
/* Splits NAME[:TAG] (tag "latest" when absent; a ':' before the last '/' is a registry's
 * port, not a tag). -EINVAL with *ret_why naming the part when either is invalid; -ENOMEM. */
int image_ref_split(const char *ref, char **ret_name, char **ret_tag, const char **ret_why);
/* The store's file name of NAME:TAG's record: "NAME:TAG" with each '/' as '+' (free() it);
 * NULL when either is invalid or on OOM. */
char *image_record_file_name(const char *name, const char *tag);
