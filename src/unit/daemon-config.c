/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxd.conf, read with the unit files' reader (conf-parser.c). */

#include <stdlib.h>
#include <string.h>

#include "conf-parser.h"
#include "daemon-config.h"
#include "parse-util.h"

#define DAEMON_CONFIG_SIZE_MAX (64 * 1024)

bool ifname_is_valid(const char *s) {
    size_t n = strlen(s);
    /* the kernel's dev_valid_name(); control characters too, since names land in messages */
    if (n == 0 || n >= 16 || streq(s, ".") || streq(s, ".."))
        return false;
    for (const char *c = s; *c; c++)
        if (*c == '/' || *c == ':' || (unsigned char) *c <= ' ' || *c == 0x7f)
            return false;
    return true;
}

static int parse_bridge(ConfParser *p, const char *v, void *field, uintptr_t d,
                        const char **why) {
    (void) p, (void) d;
    if (!*v)
        v = NETWORK_BRIDGE_DEFAULT;
    if (!ifname_is_valid(v)) {
        *why = "expected an interface name: 1 to 15 bytes, without '/', ':' or whitespace";
        return -EINVAL;
    }
    char *c = strdup(v);
    if (!c)
        return -ENOMEM;
    free(*(char **) field);
    *(char **) field = c;
    return 0;
}

/* Ranges a bridge's subnet must stay out of: the host would never route them to a bridge. */
static bool prefix_is_reserved(const InAddrPrefix *p) {
    static const InAddrPrefix reserved[] = {
        {AF_INET, {.bytes = {0}}, 8},         /* "this network" */
        {AF_INET, {.bytes = {127}}, 8},       /* loopback */
        {AF_INET, {.bytes = {224}}, 3},       /* multicast and the former class E */
        {AF_INET6, {.bytes = {0}}, 8},        /* ::, ::1, IPv4-mapped */
        {AF_INET6, {.bytes = {0xfe, 0x80}}, 10}, /* link-local: the kernel's own on every link */
        {AF_INET6, {.bytes = {0xff}}, 8},     /* multicast */
    };
    for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
        if (in_addr_prefix_overlaps(p, &reserved[i]))
            return true;
    return false;
}

/* Subnet= (d: AF_INET) and IPv6Subnet= (d: AF_INET6). IPv4: /8 to /30, since a /31 or /32
 * leaves no address beside the bridge's. IPv6: /64 to /120: the bridge is one link, so a
 * shorter prefix buys nothing, and a /120 still holds 253 sandboxes. */
static int parse_subnet(ConfParser *p, const char *v, void *field, uintptr_t d,
                        const char **why) {
    DaemonConfig *c = p->target;
    int family = (int) d;
    InAddrPrefix s = {};
    if (family == AF_INET6 && streq(v, "none")) {
        c->ipv6_disabled = true;
        c->ipv6_subnet = (InAddrPrefix){};
        return 0;
    }
    if (*v && (in_addr_prefix_parse(v, &s) < 0 || s.family != family)) {
        *why = family == AF_INET
                   ? "expected an IPv4 prefix with its host bits zero, like 10.88.0.0/16"
                   : "expected none, or an IPv6 prefix with its host bits zero, like "
                     "fd42:1:2:3::/64";
        return -EINVAL;
    }
    if (*v && family == AF_INET && (s.prefixlen < 8 || s.prefixlen > 30)) {
        *why = "the prefix length must be 8 to 30";
        return -ERANGE;
    }
    if (*v && family == AF_INET6 && (s.prefixlen < 64 || s.prefixlen > 120)) {
        *why = "the prefix length must be 64 to 120";
        return -ERANGE;
    }
    if (*v && prefix_is_reserved(&s)) {
        *why = "overlaps addresses no bridge can have (loopback, link-local, multicast or "
               "reserved)";
        return -EINVAL;
    }
    if (family == AF_INET6)
        c->ipv6_disabled = false; /* empty: unset, the daemon's own choice */
    *(InAddrPrefix *) field = s;
    return 0;
}

/* StoreMaxSize=, ImportMaxSize=: a size as systemd writes one (1.5G, 512M, bytes); empty or
 * "infinity": none (0). */
static int parse_bytes(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p, (void) d;
    uint64_t n = 0;
    if (*v && parse_size_or_infinity(v, &n) < 0) {
        *why = "expected a size like 20G, 512M or 1.5T, or infinity";
        return -EINVAL;
    }
    if (*v && n == 0) {
        *why = "a size of 0 would hold nothing; leave it empty (or infinity) for no limit";
        return -ERANGE;
    }
    *(uint64_t *) field = n == UINT64_MAX ? 0 : n;
    return 0;
}

/* [Logs] Target=auto|file|journal */
static int parse_log_target(ConfParser *p, const char *v, void *field, uintptr_t d,
                            const char **why) {
    (void) p, (void) d;
    UnitLogTarget t = !*v || streq(v, "auto") ? UNIT_LOG_AUTO
                  : streq(v, "file")      ? UNIT_LOG_FILE
                  : streq(v, "journal")   ? UNIT_LOG_JOURNAL
                                          : _UNIT_LOG_INVALID;
    if (t < 0) {
        *why = "expected auto (the journal when journald runs, else files), file or journal";
        return -EINVAL;
    }
    *(UnitLogTarget *) field = t;
    return 0;
}

/* [Logs] MaxFileSize=: a size of at least 4K (a line and its prefix must fit) */
static int parse_log_size(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why) {
    (void) p, (void) d;
    uint64_t n = LOG_MAX_FILE_SIZE_DEFAULT;
    if (*v && parse_size_or_infinity(v, &n) < 0) {
        *why = "expected a size like 16M or 1G, or infinity (no rotation)";
        return -EINVAL;
    }
    if (n < 4096) {
        *why = "must be at least 4K: a log line is up to 4 KiB";
        return -ERANGE;
    }
    *(uint64_t *) field = n;
    return 0;
}

/* [Logs] MaxFiles=: the current file and the rotated ones kept, 1 to 100 */
static int parse_log_files(ConfParser *p, const char *v, void *field, uintptr_t d,
                           const char **why) {
    (void) p, (void) d;
    uint32_t n = LOG_MAX_FILES_DEFAULT;
    if (*v && (safe_atou32(v, &n) < 0 || n < 1 || n > 100)) {
        *why = "expected a number of files from 1 to 100 (the current one included)";
        return -EINVAL;
    }
    *(unsigned *) field = n;
    return 0;
}

#define OFF(f) offsetof(DaemonConfig, f)
static const ConfKey daemon_keys[] = {
    {"Network", "Bridge", parse_bridge, OFF(bridge), 0},
    {"Network", "Subnet", parse_subnet, OFF(subnet), AF_INET},
    {"Network", "IPv6Subnet", parse_subnet, OFF(ipv6_subnet), AF_INET6},
    {"Images", "StoreMaxSize", parse_bytes, OFF(store_max_size), 0},
    {"Images", "ImportMaxSize", parse_bytes, OFF(import_max_size), 0},
    {"Logs", "Target", parse_log_target, OFF(log_target), 0},
    {"Logs", "MaxFileSize", parse_log_size, OFF(log_max_file_size), 0},
    {"Logs", "MaxFiles", parse_log_files, OFF(log_max_files), 0},
};

static const char *const daemon_sections[] = {"Images", "Logs", "Network"};

static const ConfSyntax daemon_syntax = {
    .sections = daemon_sections,
    .n_sections = ELEMENTSOF(daemon_sections),
    .sections_hint = "[Network], [Images] or [Logs]",
    .keys = daemon_keys,
    .n_keys = ELEMENTSOF(daemon_keys),
    .kind = "configuration file",
};

const ConfSyntax *daemon_config_syntax(void) {
    return &daemon_syntax;
}

void daemon_config_done(DaemonConfig *c) {
    c->bridge = mfree(c->bridge);
}

int daemon_config_init(DaemonConfig *c) {
    char *b = strdup(NETWORK_BRIDGE_DEFAULT);
    if (!b)
        return -ENOMEM;
    *c = (DaemonConfig){.bridge = b,
                        .log_max_file_size = LOG_MAX_FILE_SIZE_DEFAULT,
                        .log_max_files = LOG_MAX_FILES_DEFAULT};
    return 0;
}

int daemon_config_load_string(DaemonConfig *c, const char *path, const char *text,
                              char ***ret_errors) {
    /* parsed into a copy: c stays as it was unless every line is good */
    DaemonConfig n = *c;
    ConfParser p;
    if (!(n.bridge = strdup(c->bridge ? c->bridge : NETWORK_BRIDGE_DEFAULT)))
        return -ENOMEM;
    conf_parser_init(&p, path, &daemon_syntax, &n);
    (void) conf_parse(&p, text);
    int r = conf_parser_finish(&p, ret_errors);
    if (r < 0) {
        daemon_config_done(&n);
        return r;
    }
    daemon_config_done(c);
    *c = n;
    return 0;
}

int daemon_config_load(DaemonConfig *c, const char *path, bool missing_ok, char ***ret_errors) {
    _cleanup_free_ char *text = NULL;
    int r = conf_read_file(path, DAEMON_CONFIG_SIZE_MAX, daemon_syntax.kind, &text, ret_errors);
    if (r == -ENOENT && missing_ok) {
        if (ret_errors)
            *ret_errors = NULL;
        return 0;
    }
    if (r < 0)
        return r;
    return daemon_config_load_string(c, path, text, ret_errors);
}
