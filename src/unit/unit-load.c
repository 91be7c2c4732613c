/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The unit file loader: the shared INI reader (conf-parser.c) with the unit keys' table, and a
 * final pass that checks rules across keys. */

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "conf-parser.h"
#include "image-ref.h"
#include "strv.h"
#include "unit-internal.h"

#define UNIT_FILE_SIZE_MAX (1024 * 1024)

/* ---- value parsers ---- */

#define FIELD(type) ((type *) field)

static int parse_string(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p, (void) d, (void) why;
    char *c = NULL;
    if (*v && !(c = strdup(v)))
        return -ENOMEM;
    free(*FIELD(char *));
    *FIELD(char *) = c;
    return 0;
}

static int parse_words(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p, (void) d;
    _cleanup_strv_free_ char **w = NULL;
    if (!*v) {
        *FIELD(char **) = strv_free(*FIELD(char **));
        return 0;
    }
    if (unit_split_command(v, &w) < 0) {
        *why = "unbalanced quotes or bad escape";
        return -EINVAL;
    }
    return strv_extend_strv(FIELD(char **), w);
}

static int parse_layers(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    _cleanup_strv_free_ char **w = NULL;
    if (*v && unit_split_command(v, &w) >= 0)
        STRV_FOREACH(s, w)
            if (!path_is_normalized_absolute(*s)) {
                *why = "layer directories must be absolute paths without . or ..";
                return -EINVAL;
            }
    return parse_words(p, v, field, d, why);
}

static int parse_image(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) d;
    ((UnitConfig *) p->target)->image_line = *v ? p->logical_line : 0;
    _cleanup_free_ char *name = NULL, *tag = NULL;
    char *ref = NULL;
    if (*v) {
        int r = image_ref_split(v, &name, &tag, why);
        if (r < 0)
            return r;
        if (asprintf(&ref, "%s:%s", name, tag) < 0)
            return -ENOMEM;
    }
    free(*FIELD(char *));
    *FIELD(char *) = ref;
    return 0;
}

static int parse_path(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    if (*v && !path_is_normalized_absolute(v)) {
        *why = "expected an absolute path without . or .. components";
        return -EINVAL;
    }
    return parse_string(p, v, field, d, why);
}

static int parse_hostname(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why) {
    if (*v && !unit_hostname_is_valid(v)) {
        *why = "not a valid host name (letters, digits, '-' and '.', at most 64)";
        return -EINVAL;
    }
    return parse_string(p, v, field, d, why);
}

static int parse_user(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    uint32_t id;
    if (*v && parse_id(v, &id) == -ERANGE) {
        *why = "numeric ids above 2147483647 are refused ((uid_t) -1 would leave the payload root)";
        return -ERANGE;
    }
    if (*v && !unit_user_name_is_valid(v)) {
        *why = "expected a user or group name, or a numeric id";
        return -EINVAL;
    }
    return parse_string(p, v, field, d, why);
}

static int parse_capabilities(ConfParser *p, const char *v, void *field, uintptr_t d,
                              const char **why) {
    (void) d;
    UnitConfig *u = p->target;
    uint64_t caps;
    bool invert;
    if (!*v) {
        u->capability_bounding_set = 0; /* as systemd: empty means none at all */
        u->capability_bounding_set_assigned = true;
        return 0;
    }
    int r = unit_parse_capabilities(v, &caps, &invert, why);
    if (r < 0)
        return r;
    /* the file's first assignment replaces the default, later ones merge */
    uint64_t base = u->capability_bounding_set_assigned ? *FIELD(uint64_t)
                                                        : (invert ? UINT64_MAX : 0);
    *FIELD(uint64_t) = invert ? base & ~caps : base | caps;
    u->capability_bounding_set_assigned = true;
    return 0;
}

static int parse_seccomp_profile(ConfParser *p, const char *v, void *field, uintptr_t d,
                                 const char **why) {
    if (streq(v, "default"))
        v = ""; /* stored as NULL, like an empty assignment */
    else if (*v && !streq(v, "unconfined") && !path_is_normalized_absolute(v)) {
        *why = "expected default, unconfined, or the absolute path of a Docker/OCI seccomp "
               "profile (JSON)";
        return -EINVAL;
    }
    return parse_string(p, v, field, d, why);
}

static int parse_namespaces(ConfParser *p, const char *v, void *field, uintptr_t d,
                            const char **why) {
    (void) p, (void) d;
    return unit_parse_namespaces(v, FIELD(unsigned), why);
}

static int parse_volume(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) field, (void) d;
    UnitConfig *u = p->target;
    if (!*v) {
        for (size_t i = 0; i < u->n_volumes; i++) {
            free(u->volumes[i].source);
            free(u->volumes[i].target);
        }
        u->volumes = mfree(u->volumes);
        u->n_volumes = 0;
        return 0;
    }
    Volume vol;
    int r = unit_parse_volume(v, &vol, why);
    if (r < 0)
        return r;
    Volume *n = realloc(u->volumes, sizeof(Volume) * (u->n_volumes + 1));
    if (!n) {
        free(vol.source);
        free(vol.target);
        return -ENOMEM;
    }
    n[u->n_volumes++] = vol;
    u->volumes = n;
    return 0;
}

static int parse_bool(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p;
    int b = *v ? parse_boolean(v) : (int) d;
    if (b < 0) {
        *why = "expected a boolean (yes/no, true/false, on/off, 1/0)";
        return -EINVAL;
    }
    *FIELD(bool) = b;
    return 0;
}

/* ProcView=: a boolean; empty is the default again (settled after parsing) */
static int parse_proc_view(ConfParser *p, const char *v, void *field, uintptr_t d,
                           const char **why) {
    UnitConfig *u = p->target;
    int r = parse_bool(p, v, field, d, why);
    if (r >= 0)
        u->proc_view_assigned = *v != 0;
    return r;
}

static int parse_environment(ConfParser *p, const char *v, void *field, uintptr_t d,
                             const char **why) {
    (void) p, (void) d;
    if (!*v) {
        *FIELD(char **) = strv_free(*FIELD(char **));
        return 0;
    }
    return unit_parse_environment(v, FIELD(char **), why);
}

static int parse_cpu_quota(ConfParser *p, const char *v, void *field, uintptr_t d,
                           const char **why) {
    (void) p, (void) d;
    uint32_t q = UINT32_MAX;
    if (*v && (parse_percent_permyriad(v, &q) < 0 || q == 0)) {
        *why = "expected a percentage above 0%, like 20% or 150%";
        return -EINVAL;
    }
    *FIELD(uint32_t) = q;
    return 0;
}

static int parse_cpus(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) field, (void) d;
    CpuSet c = {};
    if (*v && parse_cpu_set(v, &c) < 0) {
        *why = "expected a CPU list like 0-1,3";
        return -EINVAL;
    }
    ((UnitConfig *) p->target)->allowed_cpus = c;
    ((UnitConfig *) p->target)->allowed_cpus_set = *v;
    return 0;
}

/* CPUs=N: N whole CPUs' worth (settled into CPUQuota= and, at the start, AllowedCPUs=) */
static int parse_cpu_count(ConfParser *p, const char *v, void *field, uintptr_t d,
                           const char **why) {
    (void) p, (void) d;
    uint32_t n = 0;
    if (*v && (safe_atou32(v, &n) < 0 || n == 0 || n > CPU_SET_MAX)) {
        *why = "expected a number of CPUs, 1 to 1024";
        return -EINVAL;
    }
    *FIELD(unsigned) = n;
    return 0;
}

/* d: 1 when 0 is a valid limit (MemorySwapMax=0: no swap) */
static int parse_memory(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p;
    uint64_t m = UINT64_MAX;
    if (*v && (parse_size_or_infinity(v, &m) < 0 || (m == 0 && !d))) {
        *why = d ? "expected a size like 64M, 1.5G, 0, or infinity"
                 : "expected a size above 0 like 64M, 1.5G, or infinity";
        return -EINVAL;
    }
    *FIELD(uint64_t) = m;
    return 0;
}

static int parse_cpu_weight(ConfParser *p, const char *v, void *field, uintptr_t d,
                            const char **why) {
    (void) p, (void) d;
    uint64_t w = UINT64_MAX;
    if (*v && (safe_atou64(v, &w) < 0 || w < 1 || w > 10000)) {
        *why = "expected a weight from 1 to 10000 (the default is 100)";
        return -EINVAL;
    }
    *FIELD(uint64_t) = w;
    return 0;
}

static const char *const io_limit_keys[_IO_LIMIT_MAX] = {
    [IO_READ_BPS] = "IOReadBandwidthMax",
    [IO_WRITE_BPS] = "IOWriteBandwidthMax",
    [IO_READ_IOPS] = "IOReadIOPSMax",
    [IO_WRITE_IOPS] = "IOWriteIOPSMax",
};

const char *io_limit_key(IoLimitType t) {
    return t >= 0 && t < _IO_LIMIT_MAX ? io_limit_keys[t] : NULL;
}

/* "DEVICE LIMIT", as systemd: the limit has base-1000 suffixes or is "infinity"; a later line
 * for the same device replaces the earlier one, an empty value drops every device of the key. */
static int parse_io_limit(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why) {
    (void) field;
    UnitConfig *u = p->target;
    IoLimitType t = (IoLimitType) d;
    if (!*v) {
        for (size_t i = 0; i < u->n_io_limits; i++)
            u->io_limits[i].max[t] = UINT64_MAX;
        return 0;
    }
    const char *sp = strpbrk(v, " \t");
    _cleanup_free_ char *dev = sp ? strndup(v, (size_t) (sp - v)) : NULL;
    if (sp && !dev)
        return -ENOMEM;
    uint64_t limit;
    if (!dev || !path_is_normalized_absolute(dev)) {
        *why = "expected a device path and a limit, like /dev/vda 5M";
        return -EINVAL;
    }
    sp += strspn(sp, " \t");
    if (streq(sp, "infinity"))
        limit = UINT64_MAX;
    else if (parse_size_base(sp, 1000, &limit) < 0 || limit == 0 || limit == UINT64_MAX) {
        *why = "expected a limit above 0 like 5M (base 1000), or infinity";
        return -EINVAL;
    }
    for (size_t i = 0; i < u->n_io_limits; i++)
        if (streq(u->io_limits[i].path, dev)) {
            u->io_limits[i].max[t] = limit;
            return 0;
        }
    IoLimit *n = realloc(u->io_limits, sizeof(IoLimit) * (u->n_io_limits + 1));
    if (!n)
        return -ENOMEM;
    u->io_limits = n;
    IoLimit *l = &n[u->n_io_limits++];
    l->path = TAKE_PTR(dev);
    for (int i = 0; i < _IO_LIMIT_MAX; i++)
        l->max[i] = UINT64_MAX;
    l->max[t] = limit;
    return 0;
}

static int parse_tasks(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p, (void) d;
    uint64_t t = UINT64_MAX;
    if (*v && !streq(v, "infinity") && (safe_atou64(v, &t) < 0 || t == 0 || t == UINT64_MAX)) {
        *why = "expected a number of tasks above 0, or infinity";
        return -EINVAL;
    }
    *FIELD(uint64_t) = t;
    return 0;
}

static int parse_exec(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) d;
    _cleanup_strv_free_ char **argv = NULL;
    if (!*v) {
        *FIELD(char **) = strv_free(*FIELD(char **));
        return 0;
    }
    if (*FIELD(char **)) {
        *why = "only one command is allowed; an empty assignment first resets it";
        return -EINVAL;
    }
    if (strchr("-@+!:|", *v)) {
        *why = "command prefixes (- @ + ! : |) are not supported";
        return -EINVAL;
    }
    if (unit_split_command(v, &argv) < 0) {
        *why = "unbalanced quotes or bad escape";
        return -EINVAL;
    }
    if (!argv[0] || (argv[0][0] != '/' && strchr(argv[0], '/')) ||
        (argv[0][0] == '/' && !path_is_normalized_absolute(argv[0]))) {
        *why = "the command must be an absolute path or a plain name looked up in PATH";
        return -EINVAL;
    }
    (void) p;
    *FIELD(char **) = TAKE_PTR(argv);
    return 0;
}

static int parse_restart(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p;
    RestartPolicy r = *v ? restart_policy_from_string(v) : (RestartPolicy) d;
    if (r < 0) {
        *why = "expected no, on-success, on-failure, on-abnormal, on-watchdog, on-abort or "
               "always";
        return -EINVAL;
    }
    *FIELD(RestartPolicy) = r;
    return 0;
}

static int parse_timespan_field(ConfParser *p, const char *v, void *field, uintptr_t d,
                                const char **why) {
    (void) p;
    uint64_t t = (uint64_t) d;
    if (*v && parse_timespan(v, &t) < 0) {
        *why = "expected a time span like 100ms, 5s or 1min 30s";
        return -EINVAL;
    }
    *FIELD(uint64_t) = t;
    return 0;
}

static int parse_stop_timeout(ConfParser *p, const char *v, void *field, uintptr_t d,
                              const char **why) {
    int r = parse_timespan_field(p, v, field, d, why);
    if (r >= 0 && *FIELD(uint64_t) == 0)
        *FIELD(uint64_t) = USEC_INFINITY; /* as systemd: 0 disables the timeout */
    return r;
}

static int parse_burst(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p;
    uint32_t n = (uint32_t) d;
    if (*v && safe_atou32(v, &n) < 0) {
        *why = "expected a whole number";
        return -EINVAL;
    }
    *FIELD(unsigned) = n;
    return 0;
}

static int parse_kill_signal(ConfParser *p, const char *v, void *field, uintptr_t d,
                             const char **why) {
    (void) p;
    int s = (int) d;
    if (*v && parse_signal(v, &s) < 0) {
        *why = "expected a signal name like SIGTERM, or its number";
        return -EINVAL;
    }
    *FIELD(int) = s;
    return 0;
}

#define OFF(f) offsetof(UnitConfig, f)
static const ConfKey key_table[] = {
    {"Unit", "Description", parse_string, OFF(description), 0},
    {"Unit", "Documentation", parse_words, OFF(documentation), 0},
    {"Unit", "StartLimitIntervalSec", parse_timespan_field, OFF(start_limit_interval_usec),
     DEFAULT_START_LIMIT_INTERVAL_USEC},
    {"Unit", "StartLimitBurst", parse_burst, OFF(start_limit_burst), DEFAULT_START_LIMIT_BURST},
    {"Unit", "Requires", unit_parse_dependency, OFF(deps[UNIT_REQUIRES]), 0},
    {"Unit", "Wants", unit_parse_dependency, OFF(deps[UNIT_WANTS]), 0},
    {"Unit", "BindsTo", unit_parse_dependency, OFF(deps[UNIT_BINDS_TO]), 0},
    {"Unit", "PartOf", unit_parse_dependency, OFF(deps[UNIT_PART_OF]), 0},
    {"Unit", "Conflicts", unit_parse_dependency, OFF(deps[UNIT_CONFLICTS]), 0},
    {"Unit", "After", unit_parse_dependency, OFF(deps[UNIT_AFTER]), 0},
    {"Unit", "Before", unit_parse_dependency, OFF(deps[UNIT_BEFORE]), 0},
    {"Unit", "OnFailure", unit_parse_dependency, OFF(deps[UNIT_ON_FAILURE]), 0},
    {"Sandbox", "Image", parse_image, OFF(image), 0},
    {"Sandbox", "Layers", parse_layers, OFF(layers), 0},
    {"Sandbox", "RootDirectory", parse_path, OFF(root_directory), 0},
    {"Sandbox", "Hostname", parse_hostname, OFF(hostname), 0},
    {"Sandbox", "Namespaces", parse_namespaces, OFF(namespaces), 0},
    {"Sandbox", "Volume", parse_volume, OFF(volumes), 0},
    {"Sandbox", "ReadOnly", parse_bool, OFF(read_only), false},
    {"Sandbox", "Environment", parse_environment, OFF(environment), 0},
    {"Sandbox", "WorkingDirectory", parse_path, OFF(working_directory), 0},
    {"Sandbox", "User", parse_user, OFF(user), 0},
    {"Sandbox", "Group", parse_user, OFF(group), 0},
    {"Sandbox", "CapabilityBoundingSet", parse_capabilities, OFF(capability_bounding_set), 0},
    {"Sandbox", "SeccompProfile", parse_seccomp_profile, OFF(seccomp_profile), 0},
    {"Sandbox", "NoNewPrivileges", parse_bool, OFF(no_new_privileges), false},
    {"Sandbox", "ProcView", parse_proc_view, OFF(proc_view), true},
    {"Sandbox", "Network", unit_parse_network, OFF(network), 0},
    {"Sandbox", "Port", unit_parse_port, OFF(ports), 0},
    {"Sandbox", "IPAddress", unit_parse_address, OFF(ip_address), AF_INET},
    {"Sandbox", "IPv6Address", unit_parse_address, OFF(ipv6_address), AF_INET6},
    {"Sandbox", "DNS", unit_parse_dns, OFF(dns), 0},
    {"Sandbox", "AddHost", unit_parse_extra_host, OFF(extra_hosts), 0},
    {"Resources", "CPUQuota", parse_cpu_quota, OFF(cpu_quota_permyriad), 0},
    {"Resources", "AllowedCPUs", parse_cpus, OFF(allowed_cpus), 0},
    {"Resources", "CPUs", parse_cpu_count, OFF(cpus), 0},
    {"Resources", "CPUWeight", parse_cpu_weight, OFF(cpu_weight), 0},
    {"Resources", "MemoryMax", parse_memory, OFF(memory_max), 0},
    {"Resources", "MemoryHigh", parse_memory, OFF(memory_high), 0},
    {"Resources", "MemorySwapMax", parse_memory, OFF(memory_swap_max), 1},
    {"Resources", "IOReadBandwidthMax", parse_io_limit, 0, IO_READ_BPS},
    {"Resources", "IOWriteBandwidthMax", parse_io_limit, 0, IO_WRITE_BPS},
    {"Resources", "IOReadIOPSMax", parse_io_limit, 0, IO_READ_IOPS},
    {"Resources", "IOWriteIOPSMax", parse_io_limit, 0, IO_WRITE_IOPS},
    {"Resources", "TasksMax", parse_tasks, OFF(tasks_max), 0},
    {"Service", "Type", unit_parse_type, OFF(type), 0},
    {"Service", "ExecStart", parse_exec, OFF(exec_start), 0},
    {"Service", "Restart", parse_restart, OFF(restart), RESTART_NO},
    {"Service", "RestartSec", parse_timespan_field, OFF(restart_usec), DEFAULT_RESTART_USEC},
    {"Service", "TimeoutStartSec", parse_stop_timeout, OFF(timeout_start_usec),
     DEFAULT_TIMEOUT_START_USEC},
    {"Service", "TimeoutStopSec", parse_stop_timeout, OFF(timeout_stop_usec),
     DEFAULT_TIMEOUT_STOP_USEC},
    {"Service", "KillSignal", parse_kill_signal, OFF(kill_signal), SIGTERM},
    {"Service", "WatchdogSec", parse_timespan_field, OFF(watchdog_usec), 0},
    {"Health", "Exec", parse_exec, OFF(health.exec), 0},
    {"Health", "TCP", unit_parse_health_tcp, OFF(health.tcp_port), 0},
    {"Health", "HTTP", unit_parse_health_http, OFF(health.http_port), 0},
    {"Health", "IntervalSec", parse_timespan_field, OFF(health.interval_usec),
     DEFAULT_HEALTH_INTERVAL_USEC},
    {"Health", "TimeoutSec", parse_timespan_field, OFF(health.timeout_usec),
     DEFAULT_HEALTH_TIMEOUT_USEC},
    {"Health", "StartPeriodSec", parse_timespan_field, OFF(health.start_period_usec), 0},
    {"Health", "Retries", parse_burst, OFF(health.retries), DEFAULT_HEALTH_RETRIES},
    {"Health", "OnFailure", unit_parse_health_action, OFF(health.on_failure), 0},
    {"Health", "Startup", parse_bool, OFF(health.startup), false},
    /* systemd still accepts these two in [Service] */
    {"Service", "StartLimitIntervalSec", parse_timespan_field, OFF(start_limit_interval_usec),
     DEFAULT_START_LIMIT_INTERVAL_USEC},
    {"Service", "StartLimitBurst", parse_burst, OFF(start_limit_burst),
     DEFAULT_START_LIMIT_BURST},
};
_Static_assert(ELEMENTSOF(key_table) <= CONF_KEYS_MAX, "ConfParser.key_line is too small");

static const char *const unit_sections[] = {"Unit", "Sandbox", "Resources", "Service", "Health"};

static const ConfSyntax unit_syntax = {
    .sections = unit_sections,
    .n_sections = ELEMENTSOF(unit_sections),
    .sections_hint = "[Unit], [Sandbox], [Resources], [Service] or [Health]",
    .x_prefix_ignored = true,
    .keys = key_table,
    .n_keys = ELEMENTSOF(key_table),
    .kind = "unit file",
};

const ConfSyntax *unit_file_syntax(void) {
    return &unit_syntax;
}

static void validate(ConfParser *p) {
    UnitConfig *u = p->target;
    unsigned sandbox_line = p->section_line[1] ? p->section_line[1] : 1;
    unsigned service_line = p->section_line[3] ? p->section_line[3] : 1;

    /* an image's config may say what to run (Entrypoint, Cmd) */
    if (!u->exec_start && !u->image)
        conf_add_error(p, service_line, "ExecStart=: missing; [Service] must say what to run");
    if (!u->layers && !u->root_directory && !u->image)
        conf_add_error(p, sandbox_line,
                       "Layers=: missing; [Sandbox] needs Image=, Layers= or RootDirectory= for "
                       "the root file system");
    if (u->image && u->layers)
        conf_add_error(p, conf_line_of(p, "Layers"),
                       "Layers=: cannot be combined with Image= (line %u); use one of them",
                       conf_line_of(p, "Image"));
    if (u->image && u->root_directory)
        conf_add_error(p, conf_line_of(p, "RootDirectory"),
                       "RootDirectory=: cannot be combined with Image= (line %u); use one of "
                       "them", conf_line_of(p, "Image"));
    if (u->layers && u->root_directory)
        conf_add_error(p, conf_line_of(p, "RootDirectory"),
                       "RootDirectory=: cannot be combined with Layers=; use one of them");
    if (!(u->namespaces & NS_MOUNT))
        conf_add_error(p, conf_line_of(p, "Namespaces") ?: sandbox_line,
                       "Namespaces=: must include mount, the sandbox's root is built in its "
                       "own mount namespace");
    if (u->hostname && !(u->namespaces & NS_UTS))
        conf_add_error(p, conf_line_of(p, "Hostname"),
                       "Hostname=%s: needs the uts namespace in Namespaces=", u->hostname);
    for (size_t i = 0; i < u->n_volumes; i++)
        for (size_t j = 0; j < i; j++)
            if (streq(u->volumes[i].target, u->volumes[j].target))
                conf_add_error(p, conf_line_of(p, "Volume"),
                               "Volume=%s:%s: the target is mounted twice",
                               u->volumes[i].source, u->volumes[i].target);
    unit_settle_network(p);
    /* CPUs=N is CPUQuota=N*100% here, and N CPUs of AllowedCPUs= when the sandbox starts */
    if (u->cpus && u->cpu_quota_permyriad != UINT32_MAX)
        conf_add_error(p, conf_line_of(p, "CPUs"),
                       "CPUs=%u: sets CPUQuota= (line %u) already; use one of them", u->cpus,
                       conf_line_of(p, "CPUQuota"));
    else if (u->cpus && u->allowed_cpus_set)
        conf_add_error(p, conf_line_of(p, "CPUs"),
                       "CPUs=%u: picks AllowedCPUs= (line %u) itself; use one of them", u->cpus,
                       conf_line_of(p, "AllowedCPUs"));
    else if (u->cpus)
        u->cpu_quota_permyriad = u->cpus * 10000;
    /* the host's own root shows the host: a view of the sandbox's limits only when asked */
    if (!u->proc_view_assigned)
        u->proc_view = !(u->root_directory && streq(u->root_directory, "/"));
    if (u->deps[UNIT_CONFLICTS].n)
        for (int d = 0; d < _UNIT_DEPENDENCY_MAX; d++) {
            if (d == UNIT_CONFLICTS || d == UNIT_AFTER || d == UNIT_BEFORE || d == UNIT_ON_FAILURE)
                continue;
            for (size_t i = 0; i < u->deps[d].n; i++)
                if (unit_dep_list_contains(&u->deps[UNIT_CONFLICTS], u->deps[d].names[i]))
                    conf_add_error(p, u->deps[d].lines[i],
                                   "%s=%s: the unit also conflicts with it (Conflicts=)",
                                   unit_dependency_to_string(d), u->deps[d].names[i]);
        }
    for (size_t i = 0; i < u->deps[UNIT_AFTER].n; i++)
        if (unit_dep_list_contains(&u->deps[UNIT_BEFORE], u->deps[UNIT_AFTER].names[i]))
            conf_add_error(p, u->deps[UNIT_AFTER].lines[i],
                           "After=%s: the unit is also ordered Before= it (an ordering cycle)",
                           u->deps[UNIT_AFTER].names[i]);
    if (u->watchdog_usec == USEC_INFINITY)
        u->watchdog_usec = 0;
    unit_validate_health(p, p->section_line[4]);
}

static void unit_config_init(UnitConfig *u) {
    *u = (UnitConfig){
        .start_limit_interval_usec = DEFAULT_START_LIMIT_INTERVAL_USEC,
        .start_limit_burst = DEFAULT_START_LIMIT_BURST,
        .namespaces = NS_DEFAULT,
        .network = NETWORK_BRIDGE, /* NS_DEFAULT has net */
        .capability_bounding_set = DEFAULT_CAPABILITY_BOUNDING_SET,
        .proc_view = true,
        .cpu_quota_permyriad = UINT32_MAX,
        .cpu_weight = UINT64_MAX,
        .memory_max = UINT64_MAX,
        .memory_high = UINT64_MAX,
        .memory_swap_max = UINT64_MAX,
        .tasks_max = UINT64_MAX,
        .restart = RESTART_NO,
        .restart_usec = DEFAULT_RESTART_USEC,
        .timeout_start_usec = DEFAULT_TIMEOUT_START_USEC,
        .timeout_stop_usec = DEFAULT_TIMEOUT_STOP_USEC,
        .kill_signal = SIGTERM,
        .health = {.interval_usec = DEFAULT_HEALTH_INTERVAL_USEC,
                   .timeout_usec = DEFAULT_HEALTH_TIMEOUT_USEC,
                   .retries = DEFAULT_HEALTH_RETRIES},
    };
}

UnitConfig *unit_config_new(const char *path) {
    UnitConfig *u = calloc(1, sizeof(UnitConfig));
    if (!u)
        return NULL;
    unit_config_init(u);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    u->path = strdup(path);
    u->name = strdup(base);
    if (!u->path || !u->name)
        return unit_config_free(u);
    return u;
}

UnitConfig *unit_config_free(UnitConfig *u) {
    if (!u)
        return NULL;
    free(u->path);
    free(u->name);
    free(u->description);
    strv_free(u->documentation);
    for (int i = 0; i < _UNIT_DEPENDENCY_MAX; i++)
        unit_dep_list_done(&u->deps[i]);
    free(u->image);
    strv_free(u->layers);
    free(u->root_directory);
    free(u->hostname);
    for (size_t i = 0; i < u->n_volumes; i++) {
        free(u->volumes[i].source);
        free(u->volumes[i].target);
    }
    free(u->volumes);
    strv_free(u->environment);
    free(u->working_directory);
    free(u->user);
    free(u->group);
    free(u->seccomp_profile);
    free(u->ports);
    strv_free(u->dns);
    for (size_t i = 0; i < u->n_extra_hosts; i++)
        free(u->extra_hosts[i].name);
    free(u->extra_hosts);
    strv_free(u->exec_start);
    strv_free(u->health.exec);
    free(u->health.http_path);
    for (size_t i = 0; i < u->n_io_limits; i++)
        free(u->io_limits[i].path);
    free(u->io_limits);
    free(u);
    return NULL;
}

int unit_load_string(const char *path, const char *text, UnitConfig **ret, char ***ret_errors) {
    _cleanup_(unit_config_freep) UnitConfig *u = calloc(1, sizeof(UnitConfig));
    ConfParser p;
    if (!u)
        return -ENOMEM;
    unit_config_init(u);
    /* unset until validate() settles it, so that Network= and Namespaces= may come in any
     * order */
    u->network = _NETWORK_MODE_INVALID;
    conf_parser_init(&p, path, &unit_syntax, u);

    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    u->path = strdup(path);
    u->name = strdup(base);
    if (!u->path || !u->name)
        return -ENOMEM;
    if (!unit_name_is_valid(base))
        conf_add_error(&p, 0,
                       "'%s' is not a valid unit name (letters, digits and :_.@- only, at most "
                       "%d)",
                       base, UNIT_NAME_MAX);
    if (conf_parse(&p, text) >= 0)
        validate(&p);
    int r = conf_parser_finish(&p, ret_errors);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(u);
    return 0;
}

int unit_load(const char *path, UnitConfig **ret, char ***ret_errors) {
    _cleanup_free_ char *text = NULL;
    int r = conf_read_file(path, UNIT_FILE_SIZE_MAX, unit_syntax.kind, &text, ret_errors);
    if (r < 0)
        return r;
    return unit_load_string(path, text, ret, ret_errors);
}
