/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Serialisation: a flat list of NUL-terminated "key" "value" pairs; lists repeat the key. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "in-addr-util.h"
#include "macro.h"
#include "parse-util.h"
#include "path-util.h"
#include "plan.h"
#include "strv.h"

const char *const plan_procview_files[PLAN_PROCVIEW_FILES] = {
    "proc/meminfo", "proc/cpuinfo",   "proc/stat",  "proc/uptime",
    "proc/loadavg", "proc/diskstats", "proc/swaps", "sys/devices/system/cpu/online",
};

SandboxPlan *plan_free(SandboxPlan *p) {
    if (!p)
        return NULL;
    free(p->root_mount);
    strv_free(p->lowers);
    free(p->init_layer);
    free(p->upper);
    free(p->work);
    free(p->root_directory);
    free(p->hostname);
    for (size_t i = 0; i < p->n_volumes; i++) {
        free(p->volumes[i].source);
        free(p->volumes[i].target);
    }
    free(p->volumes);
    strv_free(p->argv);
    strv_free(p->env);
    free(p->working_directory);
    free(p->user);
    free(p->group);
    free(p->stage_dir);
    strv_free(p->hide_paths);
    free(p->procview_dir);
    free(p->seccomp_bpf);
    free(p);
    return NULL;
}

static int put(FILE *f, const char *k, const char *v) {
    if (!v)
        return 0;
    if (fwrite(k, strlen(k) + 1, 1, f) != 1 || fwrite(v, strlen(v) + 1, 1, f) != 1)
        return -EIO;
    return 0;
}

static int put_strv(FILE *f, const char *k, char *const *l) {
    STRV_FOREACH(s, l) {
        int r = put(f, k, *s);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The filter travels as hex: the format is NUL-terminated text, and BPF holds NUL bytes.
 * Only whole instructions (8 bytes), at most the kernel's limit. */
static int put_hex(FILE *f, const char *k, const uint8_t *data, size_t size) {
    if (!data)
        return 0;
    if (size == 0 || size % 8 != 0 || size > PLAN_SECCOMP_BPF_MAX)
        return -EINVAL;
    static const char digits[] = "0123456789abcdef";
    _cleanup_free_ char *hex = malloc(2 * size + 1);
    if (!hex)
        return -ENOMEM;
    for (size_t i = 0; i < size; i++) {
        hex[2 * i] = digits[data[i] >> 4];
        hex[2 * i + 1] = digits[data[i] & 15];
    }
    hex[2 * size] = 0;
    if (fwrite(k, strlen(k) + 1, 1, f) != 1 || fwrite(hex, 2 * size + 1, 1, f) != 1)
        return -EIO;
    return 0;
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A program of whole instructions, within the kernel's limit; refuses a second one. */
static int set_bpf(SandboxPlan *p, const char *v, size_t vl) {
    if (p->seccomp_bpf || vl == 0 || vl % 16 != 0 || vl / 2 > PLAN_SECCOMP_BPF_MAX)
        return -EBADMSG;
    uint8_t *b = malloc(vl / 2);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < vl / 2; i++) {
        int hi = hex_digit(v[2 * i]), lo = hex_digit(v[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -EBADMSG;
        }
        b[i] = (uint8_t) (hi << 4 | lo);
    }
    p->seccomp_bpf = b;
    p->seccomp_bpf_size = vl / 2;
    return 0;
}

/* "10.88.0.2/16": an interface address with its prefix length, host bits and all. */
static int put_addr(FILE *f, const char *k, int family, const void *a, int prefixlen) {
    char buf[INET6_ADDRSTRLEN + 4];
    if (!inet_ntop(family, a, buf, INET6_ADDRSTRLEN))
        return -errno;
    if (prefixlen >= 0)
        snprintf(buf + strlen(buf), 5, "/%d", prefixlen);
    return put(f, k, buf);
}

/* Nothing at all for a sandbox without eth0, so such plans read as they always did. */
static int put_network(FILE *f, const PlanNetwork *n) {
    if (!n->eth0)
        return 0;
    char mtu[16];
    snprintf(mtu, sizeof mtu, "%" PRIu32, n->mtu);
    int r = put(f, "net_eth0", "1");
    r = r ?: put(f, "net_mtu", mtu);
    if (n->has_v4) {
        r = r ?: put_addr(f, "net_addr4", AF_INET, &n->addr4, n->prefix4);
        r = r ?: put_addr(f, "net_gateway4", AF_INET, &n->gateway4, -1);
    }
    if (n->has_v6) {
        r = r ?: put_addr(f, "net_addr6", AF_INET6, &n->addr6, n->prefix6);
        r = r ?: put_addr(f, "net_gateway6", AF_INET6, &n->gateway6, -1);
    }
    return r;
}

int plan_to_memfd(const SandboxPlan *p) {
    _cleanup_close_ int fd = memfd_create("sandboxd-plan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dfd < 0)
        return -errno;
    _cleanup_fclose_ FILE *f = fdopen(dfd, "w");
    if (!f) {
        safe_close(dfd);
        return -errno;
    }
    int r = 0;
    r = r ?: put(f, "root_mount", p->root_mount);
    r = r ?: put_strv(f, "lower", p->lowers);
    r = r ?: put(f, "init_layer", p->init_layer);
    r = r ?: put(f, "upper", p->upper);
    r = r ?: put(f, "work", p->work);
    r = r ?: put(f, "root_directory", p->root_directory);
    r = r ?: put(f, "read_only", p->read_only ? "1" : "0");
    r = r ?: put(f, "hostname", p->hostname);
    for (size_t i = 0; i < p->n_volumes && r == 0; i++) {
        r = put(f, "volume_source", p->volumes[i].source);
        r = r ?: put(f, "volume_target", p->volumes[i].target);
        r = r ?: put(f, "volume_ro", p->volumes[i].read_only ? "1" : "0");
    }
    r = r ?: put_strv(f, "arg", p->argv);
    r = r ?: put_strv(f, "env", p->env);
    r = r ?: put(f, "working_directory", p->working_directory);
    r = r ?: put(f, "user", p->user);
    r = r ?: put(f, "group", p->group);
    r = r ?: put(f, "pid_ns", p->pid_ns ? "1" : "0");
    r = r ?: put(f, "net_ns", p->net_ns ? "1" : "0");
    r = r ?: put_network(f, &p->net);
    char caps[32];
    snprintf(caps, sizeof caps, "%" PRIu64, p->capability_bounding_set);
    r = r ?: put(f, "caps", caps);
    char base[16];
    snprintf(base, sizeof base, "%" PRIu32, p->userns_base);
    r = r ?: put(f, "userns_base", base);
    r = r ?: put(f, "stage_dir", p->stage_dir);
    r = r ?: put_strv(f, "hide", p->hide_paths);
    r = r ?: put(f, "procview_dir", p->procview_dir);
    r = r ?: put(f, "no_new_privs", p->no_new_privs ? "1" : "0");
    r = r ?: put_hex(f, "seccomp_bpf", p->seccomp_bpf, p->seccomp_bpf_size);
    if (r == 0 && fflush(f) != 0)
        r = -EIO;
    if (r < 0)
        return r;
    /* the init gets a read-only view: nothing in the sandbox can alter what it was told */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return -errno;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    return TAKE_FD(fd);
}

static int set_str(char **field, const char *v) {
    char *c = strdup(v);
    if (!c)
        return -ENOMEM;
    free(*field);
    *field = c;
    return 0;
}

/* An address of the given family, given once; with "/LEN" when prefixlen is wanted. */
static int parse_net_addr(const char *v, int family, void *ret, uint8_t *ret_prefixlen,
                          bool *seen) {
    if (*seen)
        return -EINVAL;
    const char *slash = strchr(v, '/');
    if (!!slash != !!ret_prefixlen)
        return -EINVAL;
    size_t len = slash ? (size_t)(slash - v) : strlen(v);
    if (len == 0 || len >= INET6_ADDRSTRLEN)
        return -EINVAL;
    char text[INET6_ADDRSTRLEN];
    memcpy(text, v, len);
    text[len] = 0;
    if (inet_pton(family, text, ret) != 1)
        return -EINVAL;
    if (slash) {
        uint32_t l;
        unsigned max = family == AF_INET ? 32 : 128;
        if (slash[1] < '0' || slash[1] > '9' || safe_atou32(slash + 1, &l) < 0 || l == 0 || l > max)
            return -EINVAL;
        *ret_prefixlen = (uint8_t)l;
    }
    *seen = true;
    return 0;
}

/* A gateway the init can route through: on eth0's subnet, and not eth0's own address. */
static bool gateway_valid(int family, const void *addr, uint8_t prefixlen, const void *gw) {
    InAddrPrefix p = {.family = family, .prefixlen = prefixlen};
    union in_addr_union g = {};
    size_t size = in_addr_family_size(family);
    memcpy(p.addr.bytes, addr, size);
    memcpy(g.bytes, gw, size);
    return !in_addr_is_null(family, &g) && !in_addr_equal(family, &p.addr, &g) &&
           in_addr_prefix_contains(&p, family, &g);
}

/* The init configures eth0 from this without a second look: refuse here what the kernel
 * would refuse half-way through (an MTU out of range, IPv6 below 1280, a gateway off-link). */
static int network_validate(const SandboxPlan *p, bool seen_mtu, bool seen_gw4, bool seen_gw6) {
    const PlanNetwork *n = &p->net;
    if (!n->eth0)
        return seen_mtu || n->has_v4 || n->has_v6 || seen_gw4 || seen_gw6 ? -EINVAL : 0;
    if (!p->net_ns || !seen_mtu || n->mtu < 68 || n->mtu > 65535 || (!n->has_v4 && !n->has_v6))
        return -EINVAL;
    if (n->has_v4 != seen_gw4 || n->has_v6 != seen_gw6)
        return -EINVAL;
    if (n->has_v4 && !gateway_valid(AF_INET, &n->addr4, n->prefix4, &n->gateway4))
        return -EINVAL;
    if (n->has_v6 &&
        (n->mtu < 1280 || !gateway_valid(AF_INET6, &n->addr6, n->prefix6, &n->gateway6)))
        return -EINVAL;
    return 0;
}

int plan_from_fd(int fd, SandboxPlan **ret) {
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_fd(fd, 64 * 1024 * 1024, &buf, &len);
    if (r < 0)
        return r;
    SandboxPlan *p = calloc(1, sizeof(SandboxPlan));
    if (!p)
        return -ENOMEM;
    bool seen_eth0 = false, seen_mtu = false, seen_gw4 = false, seen_gw6 = false;
    for (size_t off = 0; off < len && r == 0;) {
        const char *k = buf + off;
        size_t kl = strnlen(k, len - off);
        if (off + kl + 1 >= len) {
            r = -EBADMSG;
            break;
        }
        const char *v = k + kl + 1;
        size_t vl = strnlen(v, len - off - kl - 1);
        if (off + kl + 1 + vl >= len) {
            r = -EBADMSG;
            break;
        }
        off += kl + vl + 2;
        if (streq(k, "root_mount"))
            r = set_str(&p->root_mount, v);
        else if (streq(k, "lower"))
            r = strv_extend(&p->lowers, v);
        else if (streq(k, "init_layer"))
            r = set_str(&p->init_layer, v);
        else if (streq(k, "upper"))
            r = set_str(&p->upper, v);
        else if (streq(k, "work"))
            r = set_str(&p->work, v);
        else if (streq(k, "root_directory"))
            r = set_str(&p->root_directory, v);
        else if (streq(k, "read_only"))
            p->read_only = streq(v, "1");
        else if (streq(k, "hostname"))
            r = set_str(&p->hostname, v);
        else if (streq(k, "volume_source")) {
            PlanVolume *n = realloc(p->volumes, sizeof(PlanVolume) * (p->n_volumes + 1));
            if (!n) {
                r = -ENOMEM;
                break;
            }
            p->volumes = n;
            p->volumes[p->n_volumes] = (PlanVolume){.source = strdup(v)};
            r = p->volumes[p->n_volumes++].source ? 0 : -ENOMEM;
        } else if (streq(k, "volume_target") && p->n_volumes > 0)
            r = set_str(&p->volumes[p->n_volumes - 1].target, v);
        else if (streq(k, "volume_ro") && p->n_volumes > 0)
            p->volumes[p->n_volumes - 1].read_only = streq(v, "1");
        else if (streq(k, "arg"))
            r = strv_extend(&p->argv, v);
        else if (streq(k, "env"))
            r = strv_extend(&p->env, v);
        else if (streq(k, "working_directory"))
            r = set_str(&p->working_directory, v);
        else if (streq(k, "user"))
            r = set_str(&p->user, v);
        else if (streq(k, "group"))
            r = set_str(&p->group, v);
        else if (streq(k, "pid_ns"))
            p->pid_ns = streq(v, "1");
        else if (streq(k, "net_ns"))
            p->net_ns = streq(v, "1");
        else if (streq(k, "net_eth0")) {
            r = seen_eth0 || !streq(v, "1") ? -EINVAL : 0;
            p->net.eth0 = seen_eth0 = true;
        } else if (streq(k, "net_mtu")) {
            r = seen_mtu ? -EINVAL : safe_atou32(v, &p->net.mtu);
            seen_mtu = true;
        } else if (streq(k, "net_addr4"))
            r = parse_net_addr(v, AF_INET, &p->net.addr4, &p->net.prefix4, &p->net.has_v4);
        else if (streq(k, "net_gateway4"))
            r = parse_net_addr(v, AF_INET, &p->net.gateway4, NULL, &seen_gw4);
        else if (streq(k, "net_addr6"))
            r = parse_net_addr(v, AF_INET6, &p->net.addr6, &p->net.prefix6, &p->net.has_v6);
        else if (streq(k, "net_gateway6"))
            r = parse_net_addr(v, AF_INET6, &p->net.gateway6, NULL, &seen_gw6);
        else if (streq(k, "caps"))
            r = safe_atou64(v, &p->capability_bounding_set);
        else if (streq(k, "userns_base"))
            r = safe_atou32(v, &p->userns_base);
        else if (streq(k, "stage_dir"))
            r = set_str(&p->stage_dir, v);
        else if (streq(k, "hide"))
            r = strv_extend(&p->hide_paths, v);
        else if (streq(k, "procview_dir"))
            r = v[0] == '/' ? set_str(&p->procview_dir, v) : -EBADMSG;
        else if (streq(k, "no_new_privs"))
            p->no_new_privs = streq(v, "1");
        else if (streq(k, "seccomp_bpf"))
            r = set_bpf(p, v, vl);
        else
            r = -EBADMSG;
    }
    for (size_t i = 0; r == 0 && i < p->n_volumes; i++)
        if (!p->volumes[i].target)
            r = -EBADMSG;
    if (r == 0)
        r = network_validate(p, seen_mtu, seen_gw4, seen_gw6);
    if (r == 0 && (!p->root_mount || !p->argv || (!p->lowers && !p->root_directory) ||
                   (p->userns_base && !p->stage_dir)))
        r = -EBADMSG;
    if (r < 0) {
        plan_free(p);
        return r;
    }
    *ret = p;
    return 0;
}
