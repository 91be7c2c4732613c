/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* /etc/sandboxd/sandboxd.conf: the daemon's settings, an INI file read with the unit reader's
 * rules (comments, continuation lines, errors "FILE:LINE: Key=value: why"). Pure parsing; the
 * daemon decides what to do with a subnet the host already routes. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "in-addr-util.h"

#define DAEMON_CONFIG_PATH_DEFAULT "/etc/sandboxd/sandboxd.conf"
#define NETWORK_BRIDGE_DEFAULT "sandbox0"
/* The first subnet the daemon tries when Subnet= is not set; `sandboxctl verify` checks
 * IPAddress= against it then. */
#define NETWORK_SUBNET_DEFAULT "10.88.0.0/16"

#define LOG_MAX_FILE_SIZE_DEFAULT (16ULL * 1024 * 1024)
#define LOG_MAX_FILES_DEFAULT 3

typedef enum UnitLogTarget {
    UNIT_LOG_AUTO,    /* the journal when journald's socket is there, else files */
    UNIT_LOG_FILE,    /* LOG_DIR/NAME.log, rotated by size */
    UNIT_LOG_JOURNAL, /* journald, with SANDBOXD_UNIT=NAME */
    _UNIT_LOG_MAX,
    _UNIT_LOG_INVALID = -EINVAL,
} UnitLogTarget;

typedef struct DaemonConfig {
    /* [Network] */
    char *bridge;           /* Bridge=, default "sandbox0"; a valid interface name */
    InAddrPrefix subnet;    /* Subnet=; family 0: not set (the daemon picks 10.88-10.99.0.0/16) */
    bool ipv6_disabled;     /* IPv6Subnet=none */
    InAddrPrefix ipv6_subnet; /* IPv6Subnet=; family 0: not set (a ULA /64 from the machine id) */
    /* [Images] */
    uint64_t store_max_size;  /* StoreMaxSize=: bytes the store's layers may take; 0: no limit */
    uint64_t import_max_size; /* ImportMaxSize=: bytes an import may unpack; 0: twice the
                               * store's free space (the worker's default) */
    /* [Logs] */
    UnitLogTarget log_target;       /* Target= */
    uint64_t log_max_file_size; /* MaxFileSize=: a unit's log is rotated past this; UINT64_MAX:
                                 * never */
    unsigned log_max_files;     /* MaxFiles=: the current file and the rotated ones */
} DaemonConfig;

void daemon_config_done(DaemonConfig *c);
/* Fills c with the defaults (bridge "sandbox0", subnets unset). */
int daemon_config_init(DaemonConfig *c);
/* Reads path over the defaults in c. A missing file is not an error when missing_ok (the
 * default path); any bad line is -EINVAL with every message in *ret_errors. */
int daemon_config_load(DaemonConfig *c, const char *path, bool missing_ok, char ***ret_errors);
int daemon_config_load_string(DaemonConfig *c, const char *path, const char *text,
                              char ***ret_errors);
/* Interface names as the kernel takes them: 1..15 bytes, no '/', ':', whitespace, not "." or
 * "..". */
bool ifname_is_valid(const char *s);
