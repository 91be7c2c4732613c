/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The [Sandbox] keys of networking: Network=, Port=, IPAddress=, IPv6Address=, DNS= and
 * AddHost=, Network= settled against Namespaces= once the whole file is read, and the check of
 * static addresses against the bridge's subnets. */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "unit-internal.h"

static const char *const network_mode_table[_NETWORK_MODE_MAX] = {
    [NETWORK_BRIDGE] = "bridge",
    [NETWORK_NONE] = "none",
    [NETWORK_HOST] = "host",
};

const char *network_mode_to_string(NetworkMode m) {
    return m >= 0 && m < _NETWORK_MODE_MAX ? network_mode_table[m] : NULL;
}

NetworkMode network_mode_from_string(const char *s) {
    for (int i = 0; i < _NETWORK_MODE_MAX; i++)
        if (s && streq(s, network_mode_table[i]))
            return (NetworkMode) i;
    return _NETWORK_MODE_INVALID;
}

int unit_parse_network(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p, (void) d;
    /* empty: unset again, and unit_settle_network() decides by Namespaces= */
    NetworkMode m = _NETWORK_MODE_INVALID;
    if (*v && (m = network_mode_from_string(v)) < 0) {
        *why = "expected bridge, none or host";
        return -EINVAL;
    }
    *(NetworkMode *) field = m;
    return 0;
}

static const char port_syntax[] = "expected [HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|/udp], "
                                  "like 8080:80 or 127.0.0.1:5353:53/udp";

/* "N" or "N-M" of the n bytes at s; *ret_count ports from *ret_first. */
static int parse_port_range(const char *s, size_t n, uint16_t *ret_first, uint16_t *ret_count,
                            const char **why) {
    char buf[16];
    uint32_t first, last;
    if (n == 0 || n >= sizeof buf) {
        *why = port_syntax;
        return -EINVAL;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    char *dash = strchr(buf, '-');
    if (dash)
        *dash++ = 0;
    int r = safe_atou32(buf, &first);
    if (r >= 0)
        r = dash ? safe_atou32(dash, &last) : (last = first, 0);
    if (r == -EINVAL) {
        *why = port_syntax;
        return r;
    }
    if (r < 0 || first == 0 || first > 65535 || last == 0 || last > 65535) {
        *why = "ports are 1 to 65535";
        return -ERANGE;
    }
    if (last < first) {
        *why = "a port range cannot end below its start";
        return -EINVAL;
    }
    *ret_first = (uint16_t) first;
    *ret_count = (uint16_t) (last - first + 1);
    return 0;
}

/* Whether two host sides can take the same connection: no address means every address of
 * both families, a null one every address of its family. */
static bool port_hosts_overlap(const PortMapping *a, const PortMapping *b) {
    if (a->protocol != b->protocol)
        return false;
    if (a->host_port > b->host_port + (b->count - 1) ||
        b->host_port > a->host_port + (a->count - 1))
        return false;
    if (a->host_family == AF_UNSPEC || b->host_family == AF_UNSPEC)
        return true;
    return a->host_family == b->host_family &&
           (in_addr_is_null(a->host_family, &a->host_addr) ||
            in_addr_is_null(b->host_family, &b->host_addr) ||
            in_addr_equal(a->host_family, &a->host_addr, &b->host_addr));
}

static int parse_port_mapping(const char *v, PortMapping *ret, const char **why) {
    _cleanup_free_ char *copy = strdup(v);
    PortMapping m = {.host_family = AF_UNSPEC, .protocol = IPPROTO_TCP};
    if (!copy)
        return -ENOMEM;

    char *proto = strrchr(copy, '/');
    if (proto) {
        *proto++ = 0;
        if (streq(proto, "udp"))
            m.protocol = IPPROTO_UDP;
        else if (!streq(proto, "tcp")) {
            *why = "the protocol must be tcp or udp";
            return -EINVAL;
        }
    }

    char *ports = copy, *ip = NULL;
    if (*copy == '[') {
        char *close = strchr(copy, ']');
        if (!close || close[1] != ':') {
            *why = port_syntax;
            return -EINVAL;
        }
        *close = 0;
        ip = copy + 1;
        ports = close + 2;
    } else {
        size_t colons = 0;
        for (const char *c = copy; *c; c++)
            colons += *c == ':';
        if (colons > 2) {
            *why = "an IPv6 host address goes in brackets, like [fd00::1]:8080:80";
            return -EINVAL;
        }
        if (colons == 2) {
            ip = copy;
            ports = strchr(copy, ':');
            *ports++ = 0;
        }
    }
    if (ip) {
        int family;
        if (in_addr_parse(ip, &family, &m.host_addr) < 0 ||
            family != (*copy == '[' ? AF_INET6 : AF_INET)) {
            *why = "HOSTIP must be an IPv4 address, or an IPv6 address in brackets";
            return -EINVAL;
        }
        if (family == AF_INET6 && in_addr_is_loopback(family, &m.host_addr)) {
            *why = "[::1] cannot be published: the kernel does not route connections to IPv6 "
                   "loopback that were DNATed elsewhere (IPv6 has no route_localnet); use "
                   "127.0.0.1 for a port on loopback only";
            return -EINVAL;
        }
        if (in_addr_is_multicast(family, &m.host_addr)) {
            *why = "HOSTIP must be an address of this host, not a multicast address";
            return -EINVAL;
        }
        m.host_family = family; /* a null address: every address of the family */
    }

    char *colon = strchr(ports, ':');
    if (!colon || strchr(colon + 1, ':')) {
        *why = port_syntax;
        return -EINVAL;
    }
    if (colon == ports) {
        *why = "a host port is required (sandboxd does not pick one)";
        return -EINVAL;
    }
    uint16_t host_count, count;
    int r = parse_port_range(ports, (size_t) (colon - ports), &m.host_port, &host_count, why);
    if (r < 0)
        return r;
    r = parse_port_range(colon + 1, strlen(colon + 1), &m.port, &count, why);
    if (r < 0)
        return r;
    if (host_count != count) {
        *why = "unequal ranges: the host range and the sandbox's must have as many ports";
        return -EINVAL;
    }
    m.count = count;
    *ret = m;
    return 0;
}

int unit_parse_port(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) field, (void) d;
    UnitConfig *u = p->target;
    if (!*v) {
        u->ports = mfree(u->ports);
        u->n_ports = 0;
        return 0;
    }
    PortMapping m;
    int r = parse_port_mapping(v, &m, why);
    if (r < 0)
        return r;
    /* each mapping is checked against the earlier ones: bound them */
    if (u->n_ports >= UNIT_PORTS_MAX) {
        *why = "more than " STRINGIFY(UNIT_PORTS_MAX) " Port= mappings; use port ranges";
        return -E2BIG;
    }
    size_t published = m.count;
    for (size_t i = 0; i < u->n_ports; i++)
        published += u->ports[i].count;
    if (published > UNIT_PUBLISHED_PORTS_MAX) {
        *why = "more than " STRINGIFY(UNIT_PUBLISHED_PORTS_MAX) " host ports in all Port= "
               "mappings of the unit; Network=host gives a sandbox every port of the host";
        return -E2BIG;
    }
    for (size_t i = 0; i < u->n_ports; i++)
        if (port_hosts_overlap(&u->ports[i], &m)) {
            const PortMapping *o = &u->ports[i];
            unsigned port = o->host_port > m.host_port ? o->host_port : m.host_port;
            snprintf(p->why_buf, sizeof p->why_buf,
                     "host port %u/%s is already published on line %u", port,
                     m.protocol == IPPROTO_UDP ? "udp" : "tcp", o->line);
            *why = p->why_buf;
            return -EADDRINUSE;
        }
    PortMapping *n = reallocarray(u->ports, u->n_ports + 1, sizeof(PortMapping));
    if (!n)
        return -ENOMEM;
    m.line = p->logical_line;
    n[u->n_ports++] = m;
    u->ports = n;
    return 0;
}

char *port_mapping_to_string(const PortMapping *p, char buf[static 80]) {
    char a[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN + 3] = "", hp[24], sp[24];
    if (p->host_family == AF_INET)
        snprintf(host, sizeof host, "%s:", in_addr_to_string(AF_INET, &p->host_addr, a));
    else if (p->host_family == AF_INET6)
        snprintf(host, sizeof host, "[%s]:", in_addr_to_string(AF_INET6, &p->host_addr, a));
    unsigned c = p->count ? p->count : 1;
    if (c > 1) {
        snprintf(hp, sizeof hp, "%u-%u", p->host_port, p->host_port + c - 1);
        snprintf(sp, sizeof sp, "%u-%u", p->port, p->port + c - 1);
    } else {
        snprintf(hp, sizeof hp, "%u", p->host_port);
        snprintf(sp, sizeof sp, "%u", p->port);
    }
    snprintf(buf, 80, "%s%s:%s/%s", host, hp, sp, p->protocol == IPPROTO_UDP ? "udp" : "tcp");
    return buf;
}

int unit_parse_address(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) field;
    UnitConfig *u = p->target;
    int want = (int) d, family = 0;
    union in_addr_union a = {};
    if (*v && (in_addr_parse(v, &family, &a) < 0 || family != want)) {
        if (family)
            *why = want == AF_INET ? "an IPv6 address goes in IPv6Address="
                                   : "an IPv4 address goes in IPAddress=";
        else
            *why = want == AF_INET ? "expected one IPv4 address like 10.88.0.10, without a "
                                     "prefix length (the bridge's subnet gives it)"
                                   : "expected one IPv6 address like fd00::10, without a prefix "
                                     "length (the bridge's subnet gives it)";
        return -EINVAL;
    }
    if (*v && (in_addr_is_null(family, &a) || in_addr_is_loopback(family, &a) ||
               in_addr_is_multicast(family, &a))) {
        *why = "an unspecified, loopback or multicast address cannot be a sandbox's own";
        return -EINVAL;
    }
    /* empty: family 0, unset */
    if (want == AF_INET) {
        u->ip_address_family = family;
        u->ip_address = a.in;
        u->ip_address_line = family ? p->logical_line : 0;
    } else {
        u->ipv6_address_family = family;
        u->ipv6_address = a.in6;
        u->ipv6_address_line = family ? p->logical_line : 0;
    }
    return 0;
}

int unit_parse_dns(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) field, (void) d;
    UnitConfig *u = p->target;
    _cleanup_strv_free_ char **words = NULL, **canonical = NULL;
    if (unit_split_command(v, &words) < 0) {
        *why = "expected IPv4 or IPv6 addresses";
        return -EINVAL;
    }
    STRV_FOREACH(w, words) {
        int family;
        union in_addr_union a;
        char buf[INET6_ADDRSTRLEN];
        if (in_addr_parse(*w, &family, &a) < 0) {
            *why = "expected IPv4 or IPv6 addresses of name servers (no port, no %zone)";
            return -EINVAL;
        }
        if (in_addr_is_null(family, &a) || in_addr_is_multicast(family, &a)) {
            *why = "an unspecified or multicast address is no name server's";
            return -EINVAL;
        }
        int r = strv_extend(&canonical, in_addr_to_string(family, &a, buf));
        if (r < 0)
            return r;
    }
    if (!*v)
        u->dns = strv_free(u->dns); /* with dns_assigned: no name servers at all */
    else if (strv_length(u->dns) + strv_length(canonical) > UNIT_DNS_MAX) {
        *why = "more than " STRINGIFY(UNIT_DNS_MAX) " name servers; the C library's resolver "
               "reads no more (MAXNS)";
        return -E2BIG;
    } else {
        int r = strv_extend_strv(&u->dns, canonical);
        if (r < 0)
            return r;
    }
    u->dns_assigned = true;
    return 0;
}

/* A name /etc/hosts can hold: dot-separated labels of letters, digits, '-' and '_' (some
 * service names have one), at most 63 bytes a label and 253 in all. */
static bool hosts_name_is_valid(const char *s) {
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
        return false;
    for (const char *c = s; *c; c++) {
        if (*c == '.') {
            if (label == 0 || c[1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char) *c) && *c != '-' && *c != '_')
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

static void extra_hosts_free(UnitConfig *u) {
    for (size_t i = 0; i < u->n_extra_hosts; i++)
        free(u->extra_hosts[i].name);
    u->extra_hosts = mfree(u->extra_hosts);
    u->n_extra_hosts = 0;
}

int unit_parse_extra_host(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why) {
    (void) field, (void) d;
    UnitConfig *u = p->target;
    if (!*v) {
        extra_hosts_free(u);
        return 0;
    }
    const char *colon = strchr(v, ':');
    if (!colon) {
        *why = "expected NAME:IP, like db.internal:10.88.0.5";
        return -EINVAL;
    }
    _cleanup_free_ char *name = strndup(v, (size_t) (colon - v)), *ip = strdup(colon + 1);
    if (!name || !ip)
        return -ENOMEM;
    if (!hosts_name_is_valid(name)) {
        *why = "NAME must be a host name: labels of letters, digits, '-' and '_', separated by "
               "dots";
        return -EINVAL;
    }
    size_t n = strlen(ip);
    char *addr = ip;
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
        ip[n - 1] = 0; /* Docker's [v6] form */
        addr++;
    }
    ExtraHost h = {};
    if (in_addr_parse(addr, &h.family, &h.addr) < 0) {
        *why = "expected NAME:IP with an IPv4 or IPv6 address";
        return -EINVAL;
    }
    ExtraHost *e = reallocarray(u->extra_hosts, u->n_extra_hosts + 1, sizeof(ExtraHost));
    if (!e)
        return -ENOMEM;
    u->extra_hosts = e;
    h.name = TAKE_PTR(name);
    e[u->n_extra_hosts++] = h;
    return 0;
}

void unit_settle_network(ConfParser *p) {
    UnitConfig *u = p->target;
    char buf[80], a[INET6_ADDRSTRLEN];

    if (u->network < 0)
        u->network = (u->namespaces & NS_NET) ? NETWORK_BRIDGE : NETWORK_HOST;
    else if (u->network == NETWORK_HOST)
        u->namespaces &= ~(unsigned) NS_NET; /* as if Namespaces= had no net */
    else if (!(u->namespaces & NS_NET)) {
        conf_add_error(p, conf_line_of(p, "Network"),
                       "Network=%s: needs a network namespace, but Namespaces= on line %u has "
                       "no net",
                       network_mode_to_string(u->network), conf_line_of(p, "Namespaces"));
        return; /* the keys below would only repeat it */
    }
    if (u->network == NETWORK_BRIDGE)
        return;

    const char *why = u->network == NETWORK_NONE
                          ? "Network=none gives the sandbox loopback only"
                          : "the sandbox has the host's network (Network=host, or no net in "
                            "Namespaces=)";
    for (size_t i = 0; i < u->n_ports; i++)
        conf_add_error(p, u->ports[i].line, "Port=%s: nothing to publish: %s",
                       port_mapping_to_string(&u->ports[i], buf), why);
    if (u->ip_address_family)
        conf_add_error(p, u->ip_address_line,
                       "IPAddress=%s: only a sandbox on sandboxd's bridge has an address of "
                       "its own: %s",
                       inet_ntop(AF_INET, &u->ip_address, a, sizeof a), why);
    if (u->ipv6_address_family)
        conf_add_error(p, u->ipv6_address_line,
                       "IPv6Address=%s: only a sandbox on sandboxd's bridge has an address of "
                       "its own: %s",
                       inet_ntop(AF_INET6, &u->ipv6_address, a, sizeof a), why);
}

/* Why a cannot be a sandbox's address in the bridge's subnet s; NULL if it can. */
static const char *subnet_address_problem(const InAddrPrefix *s, const union in_addr_union *a) {
    union in_addr_union x;
    if (!in_addr_prefix_contains(s, s->family, a))
        return "not inside the bridge's subnet";
    if (in_addr_equal(s->family, a, &s->addr))
        return s->family == AF_INET ? "the network address of the bridge's subnet"
                                    : "the subnet-router anycast address of the bridge's subnet";
    if (in_addr_prefix_nth(s, 1, &x) >= 0 && in_addr_equal(s->family, a, &x))
        return "the bridge's own address (the sandboxes' gateway) in its subnet";
    if (s->family == AF_INET && in_addr_prefix_nth(s, in_addr_prefix_size(s) - 1, &x) >= 0 &&
        in_addr_equal(s->family, a, &x))
        return "the broadcast address of the bridge's subnet";
    return NULL;
}

int unit_check_network(const UnitConfig *u, const UnitNetworkContext *net, char ***errors) {
    char a[INET6_ADDRSTRLEN], s[IN_ADDR_PREFIX_STRLEN];
    const char *why;
    bool bad = false;
    int r;

    if (u->ip_address_family == AF_INET && net->v4.family == AF_INET) {
        union in_addr_union x = {.in = u->ip_address};
        if ((why = subnet_address_problem(&net->v4, &x))) {
            r = conf_append_error(errors, u->path, u->ip_address_line, "IPAddress=%s: %s %s",
                                  in_addr_to_string(AF_INET, &x, a), why,
                                  in_addr_prefix_to_string(&net->v4, s));
            if (r < 0)
                return r;
            bad = true;
        }
    }
    if (u->ipv6_address_family == AF_INET6) {
        static const InAddrPrefix ula = {.family = AF_INET6, .addr.bytes = {0xfd}, .prefixlen = 8};
        union in_addr_union x = {.in6 = u->ipv6_address};
        InAddrPrefix own64 = {.family = AF_INET6, .addr = x, .prefixlen = 64};
        memset(own64.addr.bytes + 8, 0, 8);
        const InAddrPrefix *subnet = NULL;
        if (net->v6.family == AF_INET6)
            why = subnet_address_problem(subnet = &net->v6, &x);
        else if (!net->v6_unknown)
            why = "IPv6 is off in sandboxd.conf (IPv6Subnet=none)";
        else if (!in_addr_prefix_contains(&ula, AF_INET6, &x))
            why = "not a unique local address (fd00::/8), the only kind sandboxd picks for its "
                  "bridge when IPv6Subnet= is not set";
        else /* the subnet is a /64 to come: its first two addresses are never a sandbox's */
            why = subnet_address_problem(subnet = &own64, &x);
        if (why) {
            r = conf_append_error(errors, u->path, u->ipv6_address_line,
                                  "IPv6Address=%s: %s%s%s", in_addr_to_string(AF_INET6, &x, a),
                                  why, subnet ? " " : "",
                                  subnet ? in_addr_prefix_to_string(subnet, s) : "");
            if (r < 0)
                return r;
            bad = true;
        }
    }
    return bad ? -EINVAL : 0;
}
