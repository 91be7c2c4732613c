/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#define USERNS_SIZE 65536

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What sandboxd-init must build and run: made by the daemon from a validated unit, handed over
 * in a sealed memfd, so the init never sees unit-file text. */

typedef struct PlanVolume {
    char *source;
    char *target;
    bool read_only;
} PlanVolume;

/* eth0 inside the sandbox (Network=bridge): the daemon made the link, the init addresses it. */
typedef struct PlanNetwork {
    bool eth0;              /* false: loopback only */
    uint32_t mtu;           /* the bridge's */
    bool has_v4, has_v6;
    struct in_addr addr4, gateway4;
    uint8_t prefix4;
    struct in6_addr addr6, gateway6;
    uint8_t prefix6;
} PlanNetwork;

typedef struct SandboxPlan {
    char *root_mount;     /* empty directory where the root is assembled */
    char **lowers;        /* image layers, lowest first */
    char *init_layer;     /* generated etc/hostname, etc/hosts, etc/resolv.conf */
    char *upper, *work;   /* NULL when read-only */
    char *root_directory; /* a plain directory instead of layers */
    bool read_only;
    char *hostname; /* NULL: keep */
    PlanVolume *volumes;
    size_t n_volumes;
    char **argv;
    char **env;
    char *working_directory; /* NULL: the user's home, or / */
    char *user, *group;      /* NULL: root */
    uint64_t capability_bounding_set;
    uint32_t userns_base; /* 0: no user namespace; else ids 0..65535 map to base.. */
    char *stage_dir;      /* empty directory for idmapped layer mounts (user namespace) */
    char **hide_paths;    /* the daemon's host directories: hidden wherever the root shows them */
    char *procview_dir;   /* lxcfs's mount: its proc/ and sys/ files go over the sandbox's; NULL:
                           * the plain /proc */
    bool pid_ns;
    bool net_ns;
    PlanNetwork net;
    bool no_new_privs;
    uint8_t *seccomp_bpf; /* NULL: no filter; else a program of seccomp_bpf_size bytes */
    size_t seccomp_bpf_size;
} SandboxPlan;

/* The kernel's limit: BPF_MAXINSNS instructions of 8 bytes (struct sock_filter). */
#define PLAN_SECCOMP_BPF_MAX (4096 * 8)

/* The files of a proc view (lxcfs's names, relative to its mount and to the root), which
 * rootfs_setup() binds and the daemon binds again after a restart of the view. */
extern const char *const plan_procview_files[];
#define PLAN_PROCVIEW_FILES 8
/* their binds' MOUNT_ATTR_* flags (linux/mount.h): read-only, as the files they cover */
#define PLAN_PROCVIEW_ATTRS (0x1 /* RDONLY */ | 0x2 /* NOSUID */ | 0x4 /* NODEV */ | 0x8 /* NOEXEC */)

SandboxPlan *plan_free(SandboxPlan *p);
static inline void plan_freep(SandboxPlan **p) {
    if (*p)
        plan_free(*p);
}
/* Writes the plan into a new sealed memfd; returns the fd. */
int plan_to_memfd(const SandboxPlan *p);
int plan_from_fd(int fd, SandboxPlan **ret);
