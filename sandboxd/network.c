/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network=bridge, the daemon's side: subnets, leases, published ports and the table that is
 * rebuilt from them. Every kernel call goes through src/sys (rtnl, nft, conntrack). */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conntrack-worker.h"
#include "conntrack.h"
#include "log.h"
#include "manager.h"
#include "network.h"
#include "nft.h"
#include "path-util.h"
#include "rtnl.h"
#include "sandbox-internal.h"
#include "sandbox.h"
#include "strv.h"
#include "unit.h"

#define SUBNET_FIRST 88 /* 10.88.0.0/16 .. 10.99.0.0/16, as Podman's default range starts */
#define SUBNET_LAST 99
#define NFT_RESTORE_BURST 10
#define CT_FLUSH_DELAY (50 * USEC_PER_MSEC)
#define CT_FLUSH_MAX_DELAY (500 * USEC_PER_MSEC) /* restores per minute before we give up fighting another tool */

typedef struct Lease {
    char *name;
    bool has4, has6;
    union in_addr_union addr4, addr6;
} Lease;

struct Network {
    Manager *manager;
    char *bridge;
    uint32_t bridge_ifindex, mtu;
    UnitNetworkContext ctx; /* v4, v6 (v6.family 0: IPv6 off) */
    union in_addr_union gateway4, gateway6;
    char *lease_dir;
    Lease *leases;
    size_t n_leases;
    Rtnl *rtnl;
    Nft *nft;
    int monitor_fd;
    sd_event_source *monitor_source;
    bool table_written;
    RateLimit restore_limit;
    /* conntrack entries to delete, batched: each flush walks the kernel's whole conntrack
     * hash (~9 ms here), so it runs once the start's or stop's answer is out */
    ConntrackMatch *ct_pending; /* addresses */
    size_t n_ct_pending;
    uint8_t ct_udp_ports[65536 / 8]; /* published UDP ports, a bitmap (up to 65536 a unit) */
    bool ct_any_ports;
    sd_event_source *ct_source;
    CtWorker *ct_worker; /* runs them off the loop; NULL: inline */
    uint64_t ct_first_usec; /* when the oldest pending one was queued; 0: none */
};

static NftNetwork nft_network(const Network *n) {
    return (NftNetwork){.bridge = n->bridge,
                        .v4 = n->ctx.v4,
                        .v6 = n->ctx.v6,
                        .gateway4 = n->gateway4,
                        .gateway6 = n->gateway6};
}

const UnitNetworkContext *network_context(const Network *n) {
    return &n->ctx;
}

void sandbox_net_done(SandboxNet *sn) {
    free(sn->ports);
    *sn = (SandboxNet){};
}

/* --- leases --- */

static void lease_done(Lease *l) {
    free(l->name);
}

static Lease *lease_find(Network *n, const char *name) {
    for (size_t i = 0; i < n->n_leases; i++)
        if (streq(n->leases[i].name, name))
            return &n->leases[i];
    return NULL;
}

static int lease_parse(const char *name, const char *text, Lease *ret) {
    Lease l = {};
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        char line[128];
        if (len >= sizeof line)
            return -EBADMSG;
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (p[len] == '\n');
        if (!*line)
            continue;
        int family;
        union in_addr_union a;
        if (in_addr_parse(line, &family, &a) < 0)
            return -EBADMSG;
        if (family == AF_INET && !l.has4)
            l.has4 = true, l.addr4 = a;
        else if (family == AF_INET6 && !l.has6)
            l.has6 = true, l.addr6 = a;
        else
            return -EBADMSG;
    }
    if (!(l.name = strdup(name)))
        return -ENOMEM;
    *ret = l;
    return 0;
}

static int lease_save(const Network *n, const Lease *l) {
    char a4[INET6_ADDRSTRLEN], a6[INET6_ADDRSTRLEN], text[128];
    /* one address per line */
    snprintf(text, sizeof text, "%s%s%s%s", l->has4 ? in_addr_to_string(AF_INET, &l->addr4, a4) : "",
             l->has4 ? "\n" : "", l->has6 ? in_addr_to_string(AF_INET6, &l->addr6, a6) : "",
             l->has6 ? "\n" : "");
    _cleanup_free_ char *path = path_join(n->lease_dir, l->name);
    if (!path)
        return -ENOMEM;
    int r = mkdir_p(n->lease_dir, 0700);
    if (r < 0)
        return r;
    return write_file_atomic(path, text, strlen(text), 0600);
}

static int lease_remove(Network *n, const char *name) {
    Lease *l = lease_find(n, name);
    if (!l)
        return 0;
    _cleanup_free_ char *path = path_join(n->lease_dir, name);
    if (!path)
        return -ENOMEM;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    lease_done(l);
    *l = n->leases[--n->n_leases];
    return 0;
}

static int leases_load(Network *n) {
    _cleanup_closedir_ DIR *d = opendir(n->lease_dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !unit_name_is_valid(de->d_name))
            continue; /* "." "..", and a write_file_atomic() temporary */
        _cleanup_free_ char *path = path_join(n->lease_dir, de->d_name), *text = NULL;
        if (!path)
            return -ENOMEM;
        Lease l;
        int r = read_file(path, 4096, &text, NULL);
        if (r >= 0)
            r = lease_parse(de->d_name, text, &l);
        if (r == -ENOMEM)
            return r;
        if (r < 0) {
            log_warning_errno(r, "Ignoring the lease file %s: %m", path);
            continue;
        }
        Lease *nl = realloc(n->leases, sizeof(Lease) * (n->n_leases + 1));
        if (!nl) {
            lease_done(&l);
            return -ENOMEM;
        }
        n->leases = nl;
        n->leases[n->n_leases++] = l;
    }
    return 0;
}

/* The holder of addr among the other units' leases, or NULL. */
static const char *lease_holder(Network *n, const char *self, int family,
                                const union in_addr_union *addr) {
    for (size_t i = 0; i < n->n_leases; i++) {
        const Lease *l = &n->leases[i];
        if (streq(l->name, self))
            continue;
        if (family == AF_INET ? (l->has4 && in_addr_equal(AF_INET, &l->addr4, addr))
                              : (l->has6 && in_addr_equal(AF_INET6, &l->addr6, addr)))
            return l->name;
    }
    return NULL;
}

/* An address is usable for a sandbox if it is a host of the subnet: not the network address,
 * not the gateway (offset 1), not v4's broadcast. */
static bool address_usable(const InAddrPrefix *p, const union in_addr_union *a) {
    uint64_t off;
    if (in_addr_prefix_offset(p, a, &off) < 0)
        return false;
    return off >= 2 && !(p->family == AF_INET && off == in_addr_prefix_size(p) - 1);
}

static int lease_allocate(Network *n, const char *self, const InAddrPrefix *p,
                          union in_addr_union *ret) {
    uint64_t end = in_addr_prefix_size(p) - (p->family == AF_INET ? 1 : 0);
    for (uint64_t off = 2; off < end; off++) {
        union in_addr_union a;
        if (in_addr_prefix_nth(p, off, &a) < 0)
            break;
        if (!lease_holder(n, self, p->family, &a)) {
            *ret = a;
            return 0;
        }
    }
    return -ENOSPC;
}

/* --- ports --- */

static bool ports_clash(const NftPort *a, const NftPort *b) {
    return a->family == b->family && a->protocol == b->protocol &&
           a->host_port == b->host_port &&
           (a->any_host_addr || b->any_host_addr ||
            in_addr_equal(a->family, &a->host_addr, &b->host_addr));
}

static const char *protocol_name(uint8_t p) {
    return p == IPPROTO_UDP ? "udp" : "tcp";
}

/* Port= entries, one NftPort per family and port. */
static int expand_ports(Sandbox *s, const SandboxNet *sn, NftPort **ret, size_t *ret_n) {
    const UnitConfig *u = s->config;
    size_t total = 0;
    for (size_t i = 0; i < u->n_ports; i++)
        total += (size_t) u->ports[i].count * 2;
    _cleanup_free_ NftPort *ports = total ? calloc(total, sizeof(NftPort)) : NULL;
    if (total && !ports)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < u->n_ports; i++) {
        const PortMapping *pm = &u->ports[i];
        int families[2] = {pm->host_family, 0};
        if (pm->host_family == AF_UNSPEC)
            families[0] = AF_INET, families[1] = sn->has6 ? AF_INET6 : 0;
        else if (pm->host_family == AF_INET6 && !sn->has6) {
            char buf[80];
            sandbox_set_start_error(s, "%s:%u: Port=%s: IPv6 is off (IPv6Subnet=none in "
                                       "sandboxd.conf), nothing to forward it to",
                                    u->path, pm->line, port_mapping_to_string(pm, buf));
            return -EADDRNOTAVAIL;
        }
        for (int f = 0; f < 2 && families[f]; f++)
            for (unsigned j = 0; j < pm->count; j++) {
                NftPort *p = &ports[k++];
                p->family = families[f];
                p->any_host_addr = pm->host_family == AF_UNSPEC ||
                                   in_addr_is_null(pm->host_family, &pm->host_addr);
                if (!p->any_host_addr)
                    p->host_addr = pm->host_addr;
                p->protocol = pm->protocol;
                p->host_port = (uint16_t) (pm->host_port + j);
                p->port = (uint16_t) (pm->port + j);
                p->addr = families[f] == AF_INET ? sn->addr4 : sn->addr6;
            }
    }
    *ret = TAKE_PTR(ports);
    *ret_n = k;
    return 0;
}

/* The Port= line of the unit that made p, for messages. */
static const PortMapping *port_origin(const UnitConfig *u, const NftPort *p) {
    for (size_t i = 0; i < u->n_ports; i++) {
        const PortMapping *pm = &u->ports[i];
        if (pm->protocol == p->protocol && p->host_port >= pm->host_port &&
            p->host_port - pm->host_port < pm->count)
            return pm;
    }
    return NULL;
}

/* A port another sandbox holds, in an array sorted by (family, protocol, host port). */
typedef struct HeldPort {
    const NftPort *port;
    const Sandbox *holder;
} HeldPort;

static int port_key_compare(const NftPort *a, const NftPort *b) {
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    if (a->protocol != b->protocol)
        return a->protocol < b->protocol ? -1 : 1;
    return a->host_port < b->host_port ? -1 : a->host_port > b->host_port;
}

static int held_port_compare(const void *a, const void *b) {
    return port_key_compare(((const HeldPort *) a)->port, ((const HeldPort *) b)->port);
}

/* Comparing each port with each of every other sandbox's was quadratic: two units with
 * Port=1-65535:1-65535 and the same /udp made 1.7e10 comparisons, the daemon blocked for 15 s,
 * and more with every such unit. The other sandboxes' ports sorted once, each of ours is a
 * binary search; only ports with the same family, protocol and number are compared (they
 * differ in the host address). */
static int check_port_conflicts(Network *n, Sandbox *s, const NftPort *ports, size_t n_ports) {
    Manager *m = n->manager;
    size_t n_held = 0;
    if (n_ports == 0)
        return 0;
    for (size_t i = 0; i < m->n_sandboxes; i++)
        if (m->sandboxes[i] != s && m->sandboxes[i]->net.attached)
            n_held += m->sandboxes[i]->net.n_ports;
    if (n_held == 0)
        return 0;
    _cleanup_free_ HeldPort *held = calloc(n_held, sizeof(HeldPort));
    if (!held)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        const Sandbox *o = m->sandboxes[i];
        if (o == s || !o->net.attached)
            continue;
        for (size_t b = 0; b < o->net.n_ports; b++)
            held[k++] = (HeldPort){&o->net.ports[b], o};
    }
    qsort(held, n_held, sizeof(HeldPort), held_port_compare);

    for (size_t a = 0; a < n_ports; a++) {
        /* the first held port with a's key */
        size_t lo = 0, hi = n_held;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (port_key_compare(held[mid].port, &ports[a]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t b = lo; b < n_held && port_key_compare(held[b].port, &ports[a]) == 0; b++) {
            if (!ports_clash(&ports[a], held[b].port))
                continue;
            const PortMapping *pm = port_origin(s->config, &ports[a]);
            char buf[80];
            sandbox_set_start_error(s, "%s:%u: Port=%s: host port %u/%s is already published by %s",
                                    s->config->path, pm ? pm->line : 0,
                                    pm ? port_mapping_to_string(pm, buf) : "",
                                    ports[a].host_port, protocol_name(ports[a].protocol),
                                    held[b].holder->name);
            return -EADDRINUSE;
        }
    }
    return 0;
}

/* --- addresses of a start --- */

static int pick_address(Network *n, Sandbox *s, int family, Lease *lease, bool *changed,
                        union in_addr_union *ret) {
    const UnitConfig *u = s->config;
    const InAddrPrefix *p = family == AF_INET ? &n->ctx.v4 : &n->ctx.v6;
    char a[INET6_ADDRSTRLEN], pb[IN_ADDR_PREFIX_STRLEN];
    bool has_static = family == AF_INET ? u->ip_address_family != 0
                                        : u->ipv6_address_family != 0;
    if (has_static) {
        union in_addr_union want = {};
        if (family == AF_INET)
            want.in = u->ip_address;
        else
            want.in6 = u->ipv6_address;
        const char *key = family == AF_INET ? "IPAddress" : "IPv6Address";
        unsigned line = family == AF_INET ? u->ip_address_line : u->ipv6_address_line;
        in_addr_to_string(family, &want, a);
        if (!address_usable(p, &want)) {
            sandbox_set_start_error(s, "%s:%u: %s=%s: not a host address of sandboxd's subnet %s",
                                    u->path, line, key, a, in_addr_prefix_to_string(p, pb));
            return -EADDRNOTAVAIL;
        }
        const char *holder = lease_holder(n, s->name, family, &want);
        if (holder) {
            sandbox_set_start_error(s, "%s:%u: %s=%s: the address is leased to %s%s", u->path,
                                    line, key, a, holder,
                                    "; `sandboxctl clean` releases a stopped unit's lease");
            return -EADDRINUSE;
        }
        *ret = want;
    } else {
        const union in_addr_union *old = !lease                ? NULL
                                         : family == AF_INET   ? (lease->has4 ? &lease->addr4 : NULL)
                                                               : (lease->has6 ? &lease->addr6 : NULL);
        if (old && address_usable(p, old) && !lease_holder(n, s->name, family, old)) {
            *ret = *old;
            return 0;
        }
        int r = lease_allocate(n, s->name, p, ret);
        if (r < 0) {
            sandbox_set_start_error(s, "no free %s address in %s for %s: all %zu leases are "
                                       "taken (`sandboxctl clean UNIT` releases a stopped "
                                       "unit's)",
                                    family == AF_INET ? "IPv4" : "IPv6",
                                    in_addr_prefix_to_string(p, pb), s->name, n->n_leases);
            return r;
        }
    }
    bool same = lease && (family == AF_INET ? lease->has4 : lease->has6) &&
                in_addr_equal(family, family == AF_INET ? &lease->addr4 : &lease->addr6, ret);
    *changed |= !same;
    return 0;
}

int network_sandbox_prepare(Network *n, Sandbox *s, PlanNetwork *plan_net) {
    const UnitConfig *u = s->config;
    SandboxNet *sn = &s->net;
    *plan_net = (PlanNetwork){};
    sandbox_net_done(sn);
    if (u->network != NETWORK_BRIDGE)
        return 0;
    if (!n) {
        sandbox_set_start_error(s, "Network=bridge: networking is not available in this "
                                   "sandboxd (see its log at start-up); Network=none or host "
                                   "run without it");
        return -ENETDOWN;
    }
    Lease *lease = lease_find(n, s->name);
    bool changed = false;
    int r = pick_address(n, s, AF_INET, lease, &changed, &sn->addr4);
    if (r < 0)
        return r;
    sn->has4 = true;
    if (n->ctx.v6.family) {
        if ((r = pick_address(n, s, AF_INET6, lease, &changed, &sn->addr6)) < 0)
            return r;
        sn->has6 = true;
    }
    if ((r = expand_ports(s, sn, &sn->ports, &sn->n_ports)) < 0 ||
        (r = check_port_conflicts(n, s, sn->ports, sn->n_ports)) < 0) {
        if (r == -ENOMEM)
            sandbox_set_start_error(s, "out of memory");
        sandbox_net_done(sn);
        return r;
    }
    if (changed) {
        Lease l = {.has4 = true, .addr4 = sn->addr4, .has6 = sn->has6, .addr6 = sn->addr6};
        if (!lease) {
            Lease *nl = realloc(n->leases, sizeof(Lease) * (n->n_leases + 1));
            if (!nl || !(l.name = strdup(s->name))) {
                if (nl)
                    n->leases = nl;
                sandbox_net_done(sn);
                return sandbox_set_start_error(s, "out of memory"), -ENOMEM;
            }
            n->leases = nl;
            lease = &n->leases[n->n_leases++];
            *lease = l;
            sn->lease_new = true;
        } else {
            l.name = lease->name;
            *lease = l;
        }
        if ((r = lease_save(n, lease)) < 0) {
            sandbox_set_start_error(s, "recording the lease of %s in %s: %s", s->name,
                                    n->lease_dir, strerror(-r));
            if (sn->lease_new)
                (void) lease_remove(n, s->name);
            sandbox_net_done(sn);
            return r;
        }
    }
    sn->attached = true;
    plan_net->eth0 = true;
    plan_net->mtu = n->mtu;
    plan_net->has_v4 = true;
    plan_net->addr4 = sn->addr4.in;
    plan_net->gateway4 = n->gateway4.in;
    plan_net->prefix4 = n->ctx.v4.prefixlen;
    if (sn->has6) {
        plan_net->has_v6 = true;
        plan_net->addr6 = sn->addr6.in6;
        plan_net->gateway6 = n->gateway6.in6;
        plan_net->prefix6 = n->ctx.v6.prefixlen;
    }
    return 0;
}

static size_t sandbox_addrs(const SandboxNet *sn, NftAddr out[static 2]) {
    size_t k = 0;
    /* its veth admits these sources only (no veth: nothing to bind) */
    const char *port = sn->veth[0] ? sn->veth : NULL;
    if (sn->has4)
        out[k++] = (NftAddr){AF_INET, sn->addr4, port};
    if (sn->has6)
        out[k++] = (NftAddr){AF_INET6, sn->addr6, port};
    return k;
}

/* Room for a "port" line of the runtime record, and the most a record can need: a unit's
 * ports in both families. A later sandboxd reads that much, or it would adopt a sandbox
 * with many ports without them (nor its address), free for another unit to take. */
#define RUNTIME_PORT_LINE_MAX 96
#define RUNTIME_SIZE_MAX (256 + 2 * UNIT_PUBLISHED_PORTS_MAX * RUNTIME_PORT_LINE_MAX)

/* What a later sandboxd needs to put the sandbox's elements back: RUNTIME/.../network. */
static int save_runtime(const Sandbox *s) {
    const SandboxNet *sn = &s->net;
    _cleanup_free_ char *path = path_join(s->runtime_dir, "network");
    size_t size = 256 + sn->n_ports * RUNTIME_PORT_LINE_MAX;
    _cleanup_free_ char *text = malloc(size);
    if (!path || !text)
        return -ENOMEM;
    char a[INET6_ADDRSTRLEN];
    size_t k = (size_t) snprintf(text, size, "veth %s\n", sn->veth[0] ? sn->veth : "-");
    if (sn->has4)
        k += (size_t) snprintf(text + k, size - k, "ipv4 %s\n",
                               in_addr_to_string(AF_INET, &sn->addr4, a));
    if (sn->has6)
        k += (size_t) snprintf(text + k, size - k, "ipv6 %s\n",
                               in_addr_to_string(AF_INET6, &sn->addr6, a));
    for (size_t i = 0; i < sn->n_ports; i++) {
        const NftPort *p = &sn->ports[i];
        k += (size_t) snprintf(text + k, size - k, "port %d %s %s %u %u\n",
                               p->family == AF_INET ? 4 : 6,
                               p->any_host_addr ? "any"
                                                : in_addr_to_string(p->family, &p->host_addr, a),
                               protocol_name(p->protocol), p->host_port, p->port);
    }
    return write_file_atomic(path, text, k, 0600);
}

static int parse_runtime(const char *text, SandboxNet *sn) {
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        char line[256], w[5][64];
        if (len >= sizeof line)
            return -EBADMSG;
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (p[len] == '\n');
        int family;
        union in_addr_union a;
        if (sscanf(line, "veth %15s", w[0]) == 1) {
            if (!streq(w[0], "-"))
                strcpy(sn->veth, w[0]);
        } else if (sscanf(line, "ipv4 %63s", w[0]) == 1) {
            if (in_addr_parse(w[0], &family, &a) < 0 || family != AF_INET)
                return -EBADMSG;
            sn->has4 = true, sn->addr4 = a;
        } else if (sscanf(line, "ipv6 %63s", w[0]) == 1) {
            if (in_addr_parse(w[0], &family, &a) < 0 || family != AF_INET6)
                return -EBADMSG;
            sn->has6 = true, sn->addr6 = a;
        } else if (sscanf(line, "port %63s %63s %63s %63s %63s", w[0], w[1], w[2], w[3], w[4]) ==
                   5) {
            NftPort port = {.family = streq(w[0], "4") ? AF_INET : AF_INET6};
            unsigned hp, cp;
            if ((!streq(w[0], "4") && !streq(w[0], "6")) ||
                (!streq(w[2], "tcp") && !streq(w[2], "udp")) || sscanf(w[3], "%u", &hp) != 1 ||
                sscanf(w[4], "%u", &cp) != 1 || hp == 0 || hp > 65535 || cp == 0 || cp > 65535)
                return -EBADMSG;
            port.any_host_addr = streq(w[1], "any");
            if (!port.any_host_addr &&
                (in_addr_parse(w[1], &family, &port.host_addr) < 0 || family != port.family))
                return -EBADMSG;
            port.protocol = streq(w[2], "udp") ? IPPROTO_UDP : IPPROTO_TCP;
            port.host_port = (uint16_t) hp;
            port.port = (uint16_t) cp;
            /* doubling: a record may hold 2 x 65535 ports */
            if ((sn->n_ports & (sn->n_ports - 1)) == 0) {
                size_t cap = sn->n_ports ? 2 * sn->n_ports : 1;
                NftPort *np = realloc(sn->ports, sizeof(NftPort) * cap);
                if (!np)
                    return -ENOMEM;
                sn->ports = np;
            }
            sn->ports[sn->n_ports++] = port;
        } else if (*line)
            return -EBADMSG;
    }
    /* the sandbox address of each port is its family's */
    for (size_t i = 0; i < sn->n_ports; i++) {
        NftPort *port = &sn->ports[i];
        if (port->family == AF_INET ? !sn->has4 : !sn->has6)
            return -EBADMSG;
        port->addr = port->family == AF_INET ? sn->addr4 : sn->addr6;
    }
    return 0;
}

int network_sandbox_adopt(Network *n, Sandbox *s) {
    _cleanup_free_ char *path = path_join(s->runtime_dir, "network"), *text = NULL;
    if (!path)
        return -ENOMEM;
    sandbox_net_done(&s->net);
    int r = read_file(path, RUNTIME_SIZE_MAX, &text, NULL);
    if (r == -ENOENT)
        return 0; /* not networked */
    if (r < 0)
        return r;
    if ((r = parse_runtime(text, &s->net)) < 0) {
        sandbox_net_done(&s->net);
        return r;
    }
    s->net.attached = s->net.published = n != NULL;
    return 0;
}

/* --- conntrack --- */

static void ct_run(Network *n) {
    if (n->n_ct_pending == 0 && !n->ct_any_ports)
        return;
    size_t k = n->n_ct_pending;
    for (unsigned p = 1; n->ct_any_ports && p < 65536; p++)
        if (n->ct_udp_ports[p / 8] & (1u << (p % 8)))
            k++;
    _cleanup_free_ ConntrackMatch *m = calloc(k, sizeof(ConntrackMatch));
    if (!m) {
        log_warning("out of memory flushing conntrack entries");
        return;
    }
    if (n->n_ct_pending)
        memcpy(m, n->ct_pending, sizeof(ConntrackMatch) * n->n_ct_pending);
    k = n->n_ct_pending;
    for (unsigned p = 1; n->ct_any_ports && p < 65536; p++)
        if (n->ct_udp_ports[p / 8] & (1u << (p % 8)))
            m[k++] = (ConntrackMatch){.protocol = IPPROTO_UDP, .port = (uint16_t) p};
    memset(n->ct_udp_ports, 0, sizeof n->ct_udp_ports);
    n->ct_any_ports = false;
    n->n_ct_pending = 0;
    if (n->ct_worker) {
        ct_worker_submit(n->ct_worker, TAKE_PTR(m), k);
        return;
    }
    int r = conntrack_flush(m, k);
    if (r < 0)
        log_warning_errno(r, "flushing conntrack entries of stopped sandboxes and published UDP "
                             "ports: %m");
    else if (r > 0)
        log_debug("Flushed %d conntrack entries.", r);
}

static int on_ct_flush(sd_event_source *src, uint64_t usec, void *userdata) {
    Network *n = userdata;
    n->ct_first_usec = 0;
    ct_run(n);
    return 0;
}

static bool ct_match_equal(const ConntrackMatch *a, const ConntrackMatch *b) {
    if (a->family != b->family)
        return false;
    if (a->family)
        return in_addr_equal(a->family, &a->addr, &b->addr);
    return a->protocol == b->protocol && a->port == b->port;
}

/* The kernel walks its hash with bottom halves off, so a walk holds a CPU for its ~9 ms:
 * run during a start, it delayed that start by as much. So a burst of starts and stops is
 * flushed once, CT_FLUSH_DELAY after the last of them (at most CT_FLUSH_MAX_DELAY after the
 * first), on the worker thread. */
static void ct_schedule(Network *n) {
    uint64_t now;
    int r = sd_event_now(n->manager->event, CLOCK_MONOTONIC, &now);
    if (r >= 0 && !n->ct_first_usec)
        n->ct_first_usec = now;
    uint64_t when = now + CT_FLUSH_DELAY;
    if (r >= 0 && when > n->ct_first_usec + CT_FLUSH_MAX_DELAY)
        when = n->ct_first_usec + CT_FLUSH_MAX_DELAY;
    if (r >= 0 && !n->ct_source)
        r = sd_event_add_time(n->manager->event, &n->ct_source, CLOCK_MONOTONIC, when,
                              TIMER_ACCURACY_USEC, on_ct_flush, n);
    else if (r >= 0)
        r = sd_event_source_set_time(n->ct_source, when);
    if (r >= 0)
        r = sd_event_source_set_enabled(n->ct_source, SD_EVENT_ONESHOT);
    if (r < 0) {
        log_warning_errno(r, "scheduling a conntrack flush: %m; flushing now");
        n->ct_source = sd_event_source_disable_unref(n->ct_source);
        n->ct_first_usec = 0;
        ct_run(n);
    }
}

static void ct_queue(Network *n, const ConntrackMatch *m) {
    for (size_t i = 0; i < n->n_ct_pending; i++)
        if (ct_match_equal(&n->ct_pending[i], m))
            return;
    ConntrackMatch *p = realloc(n->ct_pending, sizeof(ConntrackMatch) * (n->n_ct_pending + 1));
    if (!p) {
        log_warning("out of memory queueing a conntrack flush");
        return;
    }
    n->ct_pending = p;
    n->ct_pending[n->n_ct_pending++] = *m;
    ct_schedule(n);
}

static void ct_queue_port(Network *n, uint8_t protocol, uint16_t port) {
    (void) protocol; /* only UDP ports are flushed: a TCP client's next SYN is a new entry */
    n->ct_udp_ports[port / 8] |= (uint8_t) (1u << (port % 8));
    n->ct_any_ports = true;
    ct_schedule(n);
}

/* A start that takes an address whose flush is still pending (a unit restarted with its own
 * lease): the old entries lead to the same address, so they may stay, and a flush running
 * now could take the new instance's first connections. Dropped from the queue; waited for
 * only if the thread is at it this very moment. */
static void ct_settle_addresses(Network *n, const SandboxNet *sn) {
    const struct {
        bool has;
        int family;
        const union in_addr_union *a;
    } mine[2] = {{sn->has4, AF_INET, &sn->addr4}, {sn->has6, AF_INET6, &sn->addr6}};
    bool busy = false;
    for (size_t k = 0; k < 2; k++) {
        if (!mine[k].has)
            continue;
        size_t j = 0;
        for (size_t i = 0; i < n->n_ct_pending; i++) {
            const ConntrackMatch *m = &n->ct_pending[i];
            if (!(m->family == mine[k].family && in_addr_equal(m->family, &m->addr, mine[k].a)))
                n->ct_pending[j++] = *m;
        }
        n->n_ct_pending = j;
        if (n->ct_worker)
            busy |= ct_worker_cancel_address(n->ct_worker, mine[k].family, mine[k].a);
    }
    if (busy)
        ct_worker_wait(n->ct_worker);
}

static int table_replace(Network *n) {
    Manager *m = n->manager;
    size_t n_addrs = 0, n_ports = 0;
    for (size_t i = 0; i < m->n_sandboxes; i++)
        if (m->sandboxes[i]->net.published) {
            n_addrs += 2;
            n_ports += m->sandboxes[i]->net.n_ports;
        }
    _cleanup_free_ NftAddr *addrs = calloc(n_addrs + 1, sizeof(NftAddr));
    _cleanup_free_ NftPort *ports = calloc(n_ports + 1, sizeof(NftPort));
    if (!addrs || !ports)
        return -ENOMEM;
    size_t ka = 0, kp = 0;
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        const SandboxNet *sn = &m->sandboxes[i]->net;
        if (!sn->published)
            continue;
        ka += sandbox_addrs(sn, addrs + ka);
        if (sn->n_ports) /* ports is NULL without Port= */
            memcpy(ports + kp, sn->ports, sizeof(NftPort) * sn->n_ports);
        kp += sn->n_ports;
    }
    NftNetwork net = nft_network(n);
    int r = nft_table_replace(n->nft, &net, addrs, ka, ports, kp);
    if (r >= 0)
        n->table_written = true;
    return r;
}

int network_sandbox_attach(Network *n, Sandbox *s, int netns_fd) {
    SandboxNet *sn = &s->net;
    int r;
    if (!sn->attached)
        return 0;
    /* ~30 us: puts back what the kernel or an admin took (the bridge's IPv6 addresses go
     * when it goes down), so every start finds the bridge as network_new() left it */
    InAddrPrefix gw[2] = {{AF_INET, n->gateway4, n->ctx.v4.prefixlen},
                          {AF_INET6, n->gateway6, n->ctx.v6.prefixlen}};
    r = rtnl_bridge_ensure(n->rtnl, n->bridge, gw, n->ctx.v6.family ? 2 : 1, &n->bridge_ifindex,
                           NULL);
    if (r < 0)
        return sandbox_set_start_error(s, "setting up the bridge %s: %s", n->bridge,
                                       strerror(-r)), r;
    for (int tries = 0;; tries++) {
        uint32_t rnd;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
            rnd = (uint32_t) s->init_pid * 2654435761u + (uint32_t) tries;
        /* fresh each start: the previous instance's veth may still be on its way out */
        snprintf(sn->veth, sizeof sn->veth, NFT_PORT_PREFIX "%08x", rnd);
        r = rtnl_veth_create(n->rtnl, sn->veth, "eth0", netns_fd, n->bridge_ifindex, n->mtu);
        if (r != -EEXIST || tries == 3)
            break;
    }
    if (r < 0) {
        sn->veth[0] = 0;
        return sandbox_set_start_error(s, "creating the veth pair on %s: %s", n->bridge,
                                       strerror(-r)), r;
    }
    ct_settle_addresses(n, sn);
    NftAddr addrs[2] = {};
    size_t n_addrs = sandbox_addrs(sn, addrs);
    sn->published = true;
    r = nft_elements_add(n->nft, addrs, n_addrs, sn->ports, sn->n_ports);
    if (r == -ENOENT) {
        /* the table is gone (a flush the monitor has not reported yet): all of it anew */
        log_warning("nftables table inet " NFT_TABLE_NAME " is missing; writing it anew.");
        r = table_replace(n);
    }
    if (r < 0) {
        sn->published = false;
        return sandbox_set_start_error(s, "adding %s's addresses and ports to the nftables "
                                          "table inet " NFT_TABLE_NAME ": %s",
                                       s->name, strerror(-r)), r;
    }
    /* a client that kept sending to a UDP port would stay on its old (or no) entry; queued,
     * since every flush walks the kernel's whole table: one for all, after the answer */
    for (size_t i = 0; i < sn->n_ports; i++)
        if (sn->ports[i].protocol == IPPROTO_UDP)
            ct_queue_port(n, IPPROTO_UDP, sn->ports[i].host_port);
    if ((r = save_runtime(s)) < 0)
        return sandbox_set_start_error(s, "recording the network of %s in %s: %s", s->name,
                                       s->runtime_dir, strerror(-r)), r;
    return 0;
}

void network_sandbox_detach(Network *n, Sandbox *s, bool failed_start) {
    SandboxNet *sn = &s->net;
    if (!n || !sn->attached) {
        sandbox_net_done(sn);
        return;
    }
    NftAddr addrs[2] = {};
    size_t n_addrs = sandbox_addrs(sn, addrs);
    /* before the table is written at start-up (an adopted sandbox that ended while we were
     * away), the rebuild simply leaves its elements out */
    if (sn->published && n->table_written) {
        int r = nft_elements_delete(n->nft, addrs, n_addrs, sn->ports, sn->n_ports);
        if (r < 0) {
            /* some element was not there (another tool's doing): the table from our state */
            log_warning_errno(r, "%s: removing its elements from table inet " NFT_TABLE_NAME
                                 ": %m; writing the table anew",
                              s->name);
            sn->published = false;
            r = table_replace(n);
            if (r < 0)
                log_error_errno(r, "writing nftables table inet " NFT_TABLE_NAME ": %m");
        }
    }
    for (size_t i = 0; i < n_addrs; i++)
        ct_queue(n, &(ConntrackMatch){.family = addrs[i].family, .addr = addrs[i].addr});
    /* a failed start's veth would linger until the kernel reaps its namespace */
    if (failed_start && sn->veth[0])
        (void) rtnl_link_delete(n->rtnl, sn->veth);
    if (failed_start && sn->lease_new)
        (void) lease_remove(n, s->name);
    sandbox_net_done(sn);
}

int network_release_lease(Network *n, const char *name) {
    return n ? lease_remove(n, name) : 0;
}

/* --- the ruleset watch --- */

static int on_monitor(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    Network *n = userdata;
    bool touched = false, overrun = false;
    /* our own batches are not reported: touched means another tool removed part of it */
    int r = nft_monitor_read(n->nft, fd, &touched, &overrun);
    if (r < 0 && r != -EAGAIN)
        log_debug_errno(r, "reading nftables events: %m");
    if (!n->table_written)
        return 0;
    if (!touched && overrun) {
        /* Lost events: our own batch of some 100000 elements (a unit's large Port= ranges)
         * overruns the socket by itself. Taking that as "touched" rewrote the whole table,
         * whose events overran it again: a restore loop until the rate limit, which then
         * left a real flush unrepaired for a minute. Look at the table instead; what an
         * overrun can still hide is another tool deleting single elements at that moment. */
        NftNetwork net = nft_network(n);
        r = nft_table_is_intact(n->nft, &net);
        if (r < 0)
            log_debug_errno(r, "checking nftables table inet " NFT_TABLE_NAME ": %m");
        touched = r <= 0; /* unknown: as before, write it anew */
    }
    if (!touched)
        return 0;
    uint64_t now;
    (void) sd_event_now(n->manager->event, CLOCK_MONOTONIC, &now);
    if (!ratelimit_below(&n->restore_limit, now)) {
        log_error("nftables table inet " NFT_TABLE_NAME " keeps being removed; not restoring "
                  "it again for a minute");
        return 0;
    }
    r = table_replace(n);
    if (r < 0)
        log_error_errno(r, "Restoring nftables table inet " NFT_TABLE_NAME ": %m");
    else
        log_warning("nftables table inet " NFT_TABLE_NAME " was removed or changed by another "
                    "tool (nft flush ruleset?); restored it from sandboxd's state.");
    return 0;
}

int network_rebuild(Network *n) {
    int r = table_replace(n);
    if (r < 0)
        return log_error_errno(r, "writing nftables table inet " NFT_TABLE_NAME ": %m");
    if (!n->monitor_source) {
        if ((r = nft_monitor_open(&n->monitor_fd)) < 0 ||
            (r = sd_event_add_io(n->manager->event, &n->monitor_source, n->monitor_fd, EPOLLIN,
                                 on_monitor, n)) < 0)
            return log_error_errno(r, "watching the nftables ruleset: %m");
    }
    return 0;
}

/* --- set-up --- */

/* fdXX:XXXX:XXXX::/64 from the machine id (RFC 4193's global id, as systemd-networkd derives
 * its own from the machine id): the same on every start of this host, different across
 * hosts. */
static void default_ipv6_subnet(InAddrPrefix *p) {
    _cleanup_free_ char *id = NULL;
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    if (read_file("/etc/machine-id", 64, &id, NULL) >= 0)
        for (const char *c = id; *c && *c != '\n'; c++)
            h = (h ^ (uint8_t) *c) * 0x100000001b3ULL;
    else
        h = 0x88; /* no machine id: a fixed one */
    *p = (InAddrPrefix){.family = AF_INET6, .prefixlen = 64};
    p->addr.bytes[0] = 0xfd;
    for (int i = 1; i < 6; i++)
        p->addr.bytes[i] = (uint8_t) (h >> (8 * (i - 1)));
}

static int pick_subnet(Network *n, const DaemonConfig *dc) {
    char pb[IN_ADDR_PREFIX_STRLEN];
    bool routed;
    int r;
    if (dc->subnet.family) {
        n->ctx.v4 = dc->subnet;
        r = rtnl_prefix_is_routed(n->rtnl, &n->ctx.v4, n->bridge, &routed);
        if (r >= 0 && routed)
            log_warning("Subnet=%s: the host already routes (part of) it through another link; "
                        "using it as configured",
                        in_addr_prefix_to_string(&n->ctx.v4, pb));
    } else {
        for (int b = SUBNET_FIRST;; b++) {
            if (b > SUBNET_LAST)
                return log_error_errno(-EADDRINUSE, "every /16 of 10.%d-10.%d.0.0 is routed by "
                                                    "the host; set Subnet= in sandboxd.conf",
                                       SUBNET_FIRST, SUBNET_LAST);
            n->ctx.v4 = (InAddrPrefix){.family = AF_INET, .prefixlen = 16};
            n->ctx.v4.addr.bytes[0] = 10;
            n->ctx.v4.addr.bytes[1] = (uint8_t) b;
            if ((r = rtnl_prefix_is_routed(n->rtnl, &n->ctx.v4, n->bridge, &routed)) < 0)
                return log_error_errno(r, "reading the host's routes: %m");
            if (!routed)
                break;
            log_info("10.%d.0.0/16 is routed by the host; trying the next subnet.", b);
        }
    }
    if (dc->ipv6_disabled)
        n->ctx.v6 = (InAddrPrefix){};
    else if (dc->ipv6_subnet.family)
        n->ctx.v6 = dc->ipv6_subnet;
    else
        default_ipv6_subnet(&n->ctx.v6);
    (void) in_addr_prefix_nth(&n->ctx.v4, 1, &n->gateway4);
    if (n->ctx.v6.family)
        (void) in_addr_prefix_nth(&n->ctx.v6, 1, &n->gateway6);
    return 0;
}

int network_new(Manager *m, const DaemonConfig *dc, Network **ret) {
    _cleanup_free_ Network *n = calloc(1, sizeof(Network));
    if (!n)
        return -ENOMEM;
    n->manager = m;
    n->monitor_fd = -EBADF;
    n->restore_limit = (RateLimit){.interval_usec = 60 * USEC_PER_SEC, .burst = NFT_RESTORE_BURST};
    int r;
    if (!(n->bridge = strdup(dc->bridge)) ||
        !(n->lease_dir = path_join(m->config.state_dir, "network/leases")))
        goto oom;
    if ((r = rtnl_open(&n->rtnl)) < 0) {
        log_error_errno(r, "opening rtnetlink: %m");
        goto fail;
    }
    if ((r = nft_open(&n->nft)) < 0) {
        log_error_errno(r, "opening nfnetlink for nftables: %m");
        goto fail;
    }
    if ((r = pick_subnet(n, dc)) < 0)
        goto fail;
    InAddrPrefix gw[2] = {{AF_INET, n->gateway4, n->ctx.v4.prefixlen},
                          {AF_INET6, n->gateway6, n->ctx.v6.prefixlen}};
    char p4[IN_ADDR_PREFIX_STRLEN], p6[IN_ADDR_PREFIX_STRLEN];
    r = rtnl_bridge_ensure(n->rtnl, n->bridge, gw, n->ctx.v6.family ? 2 : 1, &n->bridge_ifindex,
                           &n->mtu);
    if (r < 0) {
        log_error_errno(r, "setting up the bridge %s with %s%s%s: %m", n->bridge,
                        in_addr_prefix_to_string(&gw[0], p4), n->ctx.v6.family ? " and " : "",
                        n->ctx.v6.family ? in_addr_prefix_to_string(&gw[1], p6) : "");
        goto fail;
    }
    /* 127.0.0.1:PORT DNAT'd onto the bridge: on this link only, never `all` (CVE-2020-8558) */
    if ((r = sysctl_set_route_localnet(n->bridge)) < 0)
        log_warning_errno(r, "setting route_localnet on %s (ports published on 127.0.0.1 will "
                             "not answer): %m",
                          n->bridge);
    r = sysctl_enable_forwarding(AF_INET);
    if (r < 0) {
        log_error_errno(r, "enabling IPv4 forwarding: %m");
        goto fail;
    }
    if (r > 0)
        log_info("Enabled IPv4 forwarding (net.ipv4.ip_forward=1) for the sandboxes' traffic.");
    if (n->ctx.v6.family) {
        r = sysctl_enable_forwarding(AF_INET6);
        if (r < 0)
            log_warning_errno(r, "enabling IPv6 forwarding: %m");
        else if (r > 0)
            log_info("Enabled IPv6 forwarding (net.ipv6.conf.all.forwarding=1) for the "
                     "sandboxes' traffic.");
    }
    if ((r = ct_worker_new(&n->ct_worker)) < 0)
        log_warning_errno(r, "starting the conntrack flush thread: %m; flushing in the loop");
    if ((r = leases_load(n)) < 0) {
        log_error_errno(r, "reading the leases in %s: %m", n->lease_dir);
        goto fail;
    }
    log_info("Network: bridge %s, %s%s%s, MTU %u, %zu leases.", n->bridge,
             in_addr_prefix_to_string(&n->ctx.v4, p4), n->ctx.v6.family ? ", " : "",
             n->ctx.v6.family ? in_addr_prefix_to_string(&n->ctx.v6, p6) : " (IPv6 off)",
             n->mtu, n->n_leases);
    *ret = TAKE_PTR(n);
    return 0;
oom:
    r = log_error_errno(-ENOMEM, "setting up the network: %m");
fail:
    network_free(TAKE_PTR(n), true);
    return r;
}

Network *network_free(Network *n, bool sandboxes_remain) {
    if (!n)
        return NULL;
    ct_run(n); /* what stops queued, before we go */
    n->ct_worker = ct_worker_free(n->ct_worker);
    n->ct_source = sd_event_source_disable_unref(n->ct_source);
    free(n->ct_pending);
    n->monitor_source = sd_event_source_disable_unref(n->monitor_source);
    n->monitor_fd = safe_close(n->monitor_fd);
    /* a running sandbox's ports and egress live on in the table for the next sandboxd */
    if (n->nft && n->table_written && !sandboxes_remain) {
        int r = nft_table_delete(n->nft);
        if (r < 0)
            log_warning_errno(r, "removing nftables table inet " NFT_TABLE_NAME ": %m");
    }
    nft_close(n->nft);
    rtnl_close(n->rtnl);
    for (size_t i = 0; i < n->n_leases; i++)
        lease_done(&n->leases[i]);
    free(n->leases);
    free(n->lease_dir);
    free(n->bridge);
    free(n);
    return NULL;
}
