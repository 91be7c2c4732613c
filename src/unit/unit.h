/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "in-addr-util.h"
#include "macro.h"
#include "parse-util.h"

/* A unit file, parsed and validated. Nothing here touches the system: the daemon applies it. */

typedef enum RestartPolicy {
    RESTART_NO,
    RESTART_ON_SUCCESS,
    RESTART_ON_FAILURE,
    RESTART_ON_ABNORMAL,
    RESTART_ON_ABORT,
    RESTART_ALWAYS,
    RESTART_ON_WATCHDOG,
    _RESTART_MAX,
    _RESTART_INVALID = -EINVAL,
} RestartPolicy;

const char *restart_policy_to_string(RestartPolicy p);
RestartPolicy restart_policy_from_string(const char *s);

/* Namespace set, as names; converted to clone flags by the spawn code. */
typedef enum NamespaceFlag {
    NS_PID = 1 << 0,
    NS_MOUNT = 1 << 1,
    NS_UTS = 1 << 2,
    NS_IPC = 1 << 3,
    NS_NET = 1 << 4,
    NS_USER = 1 << 5,
    NS_CGROUP = 1 << 6,
} NamespaceFlag;
/* cgroup by default: /proc/self/cgroup shows no host path, and a cgroup hierarchy mounted
 * from inside is rooted at the sandbox's own group (issue 7) */
#define NS_DEFAULT (NS_PID | NS_MOUNT | NS_UTS | NS_IPC | NS_NET | NS_CGROUP)

/* Writes "pid mount uts" into buf (at least 64 bytes). */
char *namespaces_to_string(char buf[static 64], unsigned ns);

typedef struct Volume {
    char *source; /* host path */
    char *target; /* path inside the sandbox */
    bool read_only;
} Volume;

/* where unit names are looked up, first match wins */
#define UNIT_PATH_DEFAULT "/etc/sandboxd/units:/run/sandboxd/units:/usr/lib/sandboxd/units"

#define DEFAULT_RESTART_USEC (100 * USEC_PER_MSEC)
#define DEFAULT_TIMEOUT_STOP_USEC (10 * USEC_PER_SEC)
#define DEFAULT_TIMEOUT_START_USEC (90 * USEC_PER_SEC)
#define DEFAULT_START_LIMIT_INTERVAL_USEC (10 * USEC_PER_SEC)
#define DEFAULT_START_LIMIT_BURST 5
#define CPU_QUOTA_PERIOD_USEC 100000
#define UNIT_NAME_MAX 200
#define UNIT_ENVIRONMENT_MAX 4096 /* Environment= variables of a unit */
#define UNIT_PORTS_MAX 1024 /* Port= mappings of a unit (each checked against the others) */
/* Host ports a unit publishes, all its Port= ranges together: a whole protocol's worth. Each
 * is an nftables element per family, kernel memory for as long as the sandbox runs; without
 * a bound, 1024 ranges of 65535 ports on as many host addresses (which need not be the
 * host's) asked for 67 million of them. */
#define UNIT_PUBLISHED_PORTS_MAX 65536
#define UNIT_DNS_MAX 3 /* DNS= servers: glibc's and musl's resolvers read no more (MAXNS) */

/* Podman's default set: what ordinary services need, without SYS_ADMIN, SYS_MODULE, NET_RAW,
 * MKNOD and the other ways out. */
#define DEFAULT_CAPABILITY_BOUNDING_SET                                                            \
    ((1ULL << 0) /* CHOWN */ | (1ULL << 1) /* DAC_OVERRIDE */ | (1ULL << 3) /* FOWNER */ |       \
     (1ULL << 4) /* FSETID */ | (1ULL << 5) /* KILL */ | (1ULL << 6) /* SETGID */ |              \
     (1ULL << 7) /* SETUID */ | (1ULL << 8) /* SETPCAP */ | (1ULL << 10) /* NET_BIND_SERVICE */ | \
     (1ULL << 18) /* SYS_CHROOT */ | (1ULL << 31) /* SETFCAP */)

/* "cap_chown cap_kill" for a mask; NULL on OOM. */
char *capability_set_to_string(uint64_t caps);

/* Network=: what the sandbox's network namespace gets. */
typedef enum NetworkMode {
    NETWORK_BRIDGE, /* eth0 on a veth to sandboxd's bridge (the default with a net namespace) */
    NETWORK_NONE,   /* loopback only */
    NETWORK_HOST,   /* no network namespace: the host's (the default without `net`) */
    _NETWORK_MODE_MAX,
    _NETWORK_MODE_INVALID = -EINVAL,
} NetworkMode;

const char *network_mode_to_string(NetworkMode m);
NetworkMode network_mode_from_string(const char *s);

/* Port=[HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|/udp], Docker's syntax. */
typedef struct PortMapping {
    int host_family; /* AF_UNSPEC: every host address, IPv4 and IPv6; else host_addr's */
    union in_addr_union host_addr;
    uint16_t host_port; /* first of count ports */
    uint16_t port;      /* the sandbox's first port */
    uint16_t count;     /* 1 for a single port; ranges have equal sizes */
    uint8_t protocol;   /* IPPROTO_TCP or IPPROTO_UDP */
    unsigned line;      /* where it was set, for errors found when the unit starts */
} PortMapping;

/* Formats "[HOSTIP:]HOSTPORT[-END]:PORT[-END]/PROTO" into buf (at least 80 bytes). */
char *port_mapping_to_string(const PortMapping *p, char buf[static 80]);

/* AddHost=NAME:IP */
typedef struct ExtraHost {
    char *name;
    int family;
    union in_addr_union addr;
} ExtraHost;

/* IOReadBandwidthMax= and friends: one entry per device path. */
typedef enum IoLimitType {
    IO_READ_BPS,
    IO_WRITE_BPS,
    IO_READ_IOPS,
    IO_WRITE_IOPS,
    _IO_LIMIT_MAX,
} IoLimitType;

typedef struct IoLimit {
    char *path;                    /* "/dev/vda", resolved to a disk when the unit starts */
    uint64_t max[_IO_LIMIT_MAX];   /* UINT64_MAX: none */
} IoLimit;

const char *io_limit_key(IoLimitType t); /* "IOReadBandwidthMax" */

/* [Unit] dependencies, systemd's meaning. */
typedef enum UnitDependency {
    UNIT_REQUIRES,
    UNIT_WANTS,
    UNIT_BINDS_TO,
    UNIT_PART_OF,
    UNIT_CONFLICTS,
    UNIT_AFTER,
    UNIT_BEFORE,
    UNIT_ON_FAILURE,
    _UNIT_DEPENDENCY_MAX,
} UnitDependency;

const char *unit_dependency_to_string(UnitDependency d); /* "Requires" */

/* The names one key lists, in file order, each with the line that named it. */
typedef struct UnitDepList {
    char **names; /* "db.unit" */
    unsigned *lines;
    size_t n;
} UnitDepList;

bool unit_dep_list_contains(const UnitDepList *l, const char *name);

/* Type=: when the start is done */
typedef enum ServiceType {
    SERVICE_EXEC,   /* once the payload has been exec'd ("simple" is taken as this) */
    SERVICE_NOTIFY, /* once the payload sent READY=1 on $NOTIFY_SOCKET */
    _SERVICE_TYPE_MAX,
    _SERVICE_TYPE_INVALID = -EINVAL,
} ServiceType;

const char *service_type_to_string(ServiceType t);

#define UNIT_DEPENDENCIES_MAX 1024 /* names one unit may list, all keys together */

/* [Health] OnFailure=: what an unhealthy sandbox gets */
typedef enum HealthAction {
    HEALTH_ACTION_NONE,    /* reported only, as Docker does */
    HEALTH_ACTION_RESTART, /* stopped and started again */
    HEALTH_ACTION_STOP,    /* stopped (Result=health) */
    HEALTH_ACTION_KILL,    /* the whole cgroup killed; Restart= then applies */
    _HEALTH_ACTION_MAX,
    _HEALTH_ACTION_INVALID = -EINVAL,
} HealthAction;

const char *health_action_to_string(HealthAction a);

#define DEFAULT_HEALTH_INTERVAL_USEC (30 * USEC_PER_SEC)
#define DEFAULT_HEALTH_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define DEFAULT_HEALTH_RETRIES 3
#define HEALTH_HTTP_PATH_MAX 1024

/* [Health]: one probe, run every IntervalSec= */
typedef struct HealthCheck {
    char **exec;       /* Exec=: run in the sandbox, as its payload */
    uint16_t tcp_port; /* TCP=: a connection to this port of the sandbox */
    uint16_t http_port; /* HTTP=PORT/PATH: a GET that must answer 2xx or 3xx */
    char *http_path;    /* "/" when not given */
    uint64_t interval_usec, timeout_usec, start_period_usec;
    unsigned retries;
    HealthAction on_failure;
    bool startup; /* Startup=yes: the start (and After=) waits for the first healthy probe */
    unsigned line; /* the [Health] section's, for errors found at start */
} HealthCheck;

static inline bool health_check_is_set(const HealthCheck *h) {
    return h->exec || h->tcp_port || h->http_port;
}

/* What a unit file was when it was read, to tell later that it changed on disk. */
typedef struct UnitFileSig {
    uint64_t dev, ino, size, mtime_nsec;
} UnitFileSig;

typedef struct UnitConfig {
    char *path; /* the file it came from */
    UnitFileSig file_sig; /* the file as it was just before it was read; zero: unknown */
    char *name; /* its file name, the unit's id: "web.unit" */

    /* [Unit] */
    char *description;
    char **documentation;
    uint64_t start_limit_interval_usec;
    unsigned start_limit_burst;
    UnitDepList deps[_UNIT_DEPENDENCY_MAX];

    /* [Sandbox] */
    char *image;   /* Image=: "NAME:TAG" (the tag filled in), from the image store */
    unsigned image_line; /* where, for verify's warning */
    char **layers; /* lowest first */
    char *root_directory;
    char *hostname;
    unsigned namespaces; /* NamespaceFlag set */
    Volume *volumes;
    size_t n_volumes;
    bool read_only;
    char **environment; /* "NAME=value" */
    char *working_directory;
    char *user;
    char *group;
    uint64_t capability_bounding_set; /* bit n: capability n */
    bool capability_bounding_set_assigned; /* the file set it, so later lines merge */
    char *seccomp_profile; /* NULL: the built-in default; "unconfined"; or a JSON file's path */
    bool no_new_privileges;
    /* ProcView=: lxcfs's /proc files over the sandbox's; default yes, but no on the host's
     * own root (RootDirectory=/) */
    bool proc_view;
    bool proc_view_assigned;
    /* Network=; NETWORK_HOST exactly when namespaces lacks NS_NET (settled after parsing) */
    NetworkMode network;
    PortMapping *ports;
    size_t n_ports;
    /* IPAddress=, IPv6Address=: family 0 when unset; *_line: where, for start-time errors */
    int ip_address_family, ipv6_address_family;
    struct in_addr ip_address;
    struct in6_addr ipv6_address;
    unsigned ip_address_line, ipv6_address_line;
    /* DNS=: "nameserver" addresses as text, already validated; NULL: the host's */
    char **dns;
    bool dns_assigned; /* DNS= was given (an empty DNS= then means none at all) */
    ExtraHost *extra_hosts;
    size_t n_extra_hosts;

    /* [Resources]: UINT32_MAX / UINT64_MAX / unset CpuSet mean "no limit" */
    uint32_t cpu_quota_permyriad;
    bool allowed_cpus_set;
    CpuSet allowed_cpus;
    unsigned cpus; /* CPUs=: 0 unset; else CPUQuota= is N*100% and the start picks N CPUs */
    uint64_t cpu_weight; /* 1..10000 */
    uint64_t memory_max;
    uint64_t memory_high;
    uint64_t memory_swap_max; /* 0 is a limit: no swap */
    uint64_t tasks_max;
    IoLimit *io_limits;
    size_t n_io_limits;

    /* [Service] */
    ServiceType type;
    char **exec_start; /* argv */
    RestartPolicy restart;
    uint64_t restart_usec;
    uint64_t timeout_start_usec;
    uint64_t timeout_stop_usec;
    int kill_signal;
    uint64_t watchdog_usec; /* WatchdogSec=: 0 is off */

    HealthCheck health;
} UnitConfig;

UnitConfig *unit_config_free(UnitConfig *u);
/* A configuration with every default, for a running sandbox whose file is gone. */
UnitConfig *unit_config_new(const char *path);
DEFINE_TRIVIAL_CLEANUP_FUNC(UnitConfig *, unit_config_free)

/* Parses and validates the unit file at path. On any problem returns -EINVAL and, when
 * ret_errors is given, a list of messages "FILE:LINE: Key=value: why", one per problem found
 * (parsing goes on after the first, so a user sees them all). A path that is not a regular
 * file (opened without blocking, so a FIFO cannot hang the caller), larger than 1 MiB, or
 * holding a NUL byte is reported the same way, as "FILE: why". Other negative errnos: the file
 * could not be opened. */
int unit_load(const char *path, UnitConfig **ret, char ***ret_errors);

/* Same, from a string; path is only used in messages and for the unit name. */
int unit_load_string(const char *path, const char *text, UnitConfig **ret, char ***ret_errors);

/* The subnets of sandboxd's bridge, against which IPAddress= and IPv6Address= are checked.
 * v6.family is 0 when IPv6 is off. */
typedef struct UnitNetworkContext {
    InAddrPrefix v4, v6;
    /* v6 not known but IPv6 on (`verify` without IPv6Subnet=, where the daemon derives a ULA
     * /64 of its own): IPv6Address= must be in fd00::/8 and not the first two addresses of its
     * /64 */
    bool v6_unknown;
} UnitNetworkContext;

/* Checks the unit's static addresses against the bridge's subnets: each problem is one
 * "FILE:LINE: Key=value: why" message appended to *errors. Returns -EINVAL if any. Used by
 * the daemon when a unit is loaded and by `sandboxctl verify` with sandboxd.conf's subnets. */
int unit_check_network(const UnitConfig *u, const UnitNetworkContext *net, char ***errors);

/* A unit id: [A-Za-z0-9:_.@-], at most UNIT_NAME_MAX bytes, not "." or "..". */
bool unit_name_is_valid(const char *name);

/* Ordering cycles among units (After= and Before= edges between units of the array): one
 * message per cycle, "FILE:LINE: After=b.unit: ordering cycle: a.unit -> b.unit -> a.unit
 * (a.unit:3 After=b.unit, b.unit:5 After=a.unit)", appended to *errors (FILE:LINE the first
 * edge's). Returns the number of cycles found, or -ENOMEM. */
int unit_find_ordering_cycles(UnitConfig *const *units, size_t n, char ***errors);
/* Does a order after b (a's After=b or b's Before=a)? *ret_line: the line that says so, in
 * a's file (After=) or b's (Before=); *ret_in_a tells which. */
bool unit_is_after(const UnitConfig *a, const UnitConfig *b, unsigned *ret_line, bool *ret_in_a);

/* Splits a command line as systemd does for ExecStart=: whitespace separates words, single and
 * double quotes group, C-style backslash escapes. -EINVAL on an unfinished quote or escape. */
int unit_split_command(const char *s, char ***ret);
