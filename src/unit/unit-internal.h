/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by the unit module's own files only. */

#include "path-util.h"
#include "unit.h"

/* Each parser returns 0 or a negative errno; on error *why says what is wrong, in words. */
int unit_parse_namespaces(const char *s, unsigned *ret, const char **why);
int unit_parse_environment(const char *s, char ***list, const char **why);
int unit_parse_volume(const char *s, Volume *ret, const char **why);
bool unit_hostname_is_valid(const char *s);
bool unit_user_name_is_valid(const char *s);
/* Capability names as systemd takes them: "CAP_A CAP_B", or "~CAP_A" for all but these. */
int unit_parse_capabilities(const char *s, uint64_t *ret, bool *ret_invert, const char **why);

#include "conf-parser.h"

/* unit-network.c: the [Sandbox] keys of networking, as ConfValueParsers */
int unit_parse_network(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why);
int unit_parse_port(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why);
/* d: AF_INET for IPAddress=, AF_INET6 for IPv6Address= */
int unit_parse_address(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why);
int unit_parse_dns(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why);
int unit_parse_extra_host(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why);
/* After the whole file: Network= against Namespaces=, and what only Network=bridge can have. */
void unit_settle_network(ConfParser *p);

/* unit-deps.c */
int unit_parse_type(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why);
/* Requires= and the other dependency keys: field is the UnitDepList */
int unit_parse_dependency(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why);
void unit_dep_list_done(UnitDepList *l);
