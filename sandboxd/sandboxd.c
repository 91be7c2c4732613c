/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config.h"
#include "daemon-config.h"
#include "cgroup.h"
#include "log.h"
#include "manager.h"
#include "path-util.h"
#include "sandbox-bus.h"
#include "strv.h"

/* Each running sandbox holds descriptors (its init's pidfd, the sync socket) and the usual
 * soft limit of 1024 ran out near the 500th sandbox. As systemd does for itself, use the hard
 * limit: the soft default only protects select() users, and sd-event uses epoll. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warning_errno(errno, "reading RLIMIT_NOFILE: %m");
        return;
    }
    rlim_t soft = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_warning_errno(errno, "raising the soft RLIMIT_NOFILE from %llu to %llu: %m",
                              (unsigned long long) soft, (unsigned long long) rl.rlim_max);
            return;
        }
    }
    log_info("File descriptor limit: %llu (soft limit was %llu).",
             (unsigned long long) rl.rlim_cur, (unsigned long long) soft);
}

/* --hold-cgroup: the main process of sandboxd-sandboxes.service, whose Delegate=yes group
 * holds the sandboxes instead of sandboxd.service's own. Before systemd 254 (no
 * DelegateSubgroup=) systemd starts a restarted service's new main process in the service's
 * group, which the kernel refuses while that group hands controllers to running sandboxes
 * (status=219/CGROUP): sandboxd could not be restarted or upgraded with sandboxes running. This
 * holder never needs a restart, so its group can host them; it only steps into a leaf so that
 * the group may hand controllers down, and waits. */
static int hold_cgroup(void) {
    sigset_t mask;
    int sig, r = cg_move_self_to_leaf("holder");
    if (r < 0 && r != -EOPNOTSUPP) {
        log_error_errno(r, "moving into the leaf group 'holder' of our cgroup: %m");
        return EXIT_FAILURE;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    (void) sd_notify(0, "READY=1\nSTATUS=Holding the sandboxes' cgroup.");
    (void) sigwait(&mask, &sig);
    return 0;
}

static void help(void) {
    printf("sandboxd [OPTIONS]\n\n"
           "Runs services from unit files in sandboxes: namespaces, cgroup limits, an overlay\n"
           "root, supervision. sandboxctl talks to it.\n\n"
           "  --socket PATH       bus socket (default " SANDBOXD_SOCKET_DEFAULT ")\n"
           "  --state-dir DIR     rw layers (default /var/lib/sandboxd)\n"
           "  --runtime-dir DIR   mount points and init layers (default /run/sandboxd)\n"
           "  --log-dir DIR       payload output, one file per unit (default /var/log/sandboxd)\n"
           "  --log-target T      auto, file or journal: where unit logs go ([Logs] Target=;\n"
           "                      auto: the journal when journald runs, else --log-dir)\n"
           "  --unit-path DIRS    ':'-separated search path for unit names\n"
           "  --slice NAME        parent cgroup of all sandboxes (default sandbox.slice)\n"
           "  --cgroup-root PATH  where the slice goes in each hierarchy (default: on cgroup\n"
           "                      v2 our own group if it was delegated to us, as systemd's\n"
           "                      Delegate=yes does, else the root)\n"
           "  --init PATH         the sandbox init binary (default " SANDBOXD_INIT_PATH ")\n"
           "  --image-store DIR   the image store (default STATE-DIR/images)\n"
           "  --image-worker PATH the importer (default " SANDBOXD_IMAGE_WORKER_PATH ")\n"
           "  --config PATH       settings file (default " DAEMON_CONFIG_PATH_DEFAULT ")\n"
           "  --bridge NAME       the sandboxes' bridge (sandboxd.conf [Network] Bridge=)\n"
           "  --subnet PREFIX     their IPv4 subnet (Subnet=, default 10.88.0.0/16 or the\n"
           "                      first /16 of 10.88-10.99 the host does not route)\n"
           "  --ipv6-subnet P     their IPv6 subnet, or none (IPv6Subnet=, default a ULA /64\n"
           "                      derived from the machine id)\n"
           "  --lxcfs PATH        lxcfs, for the proc view of ProcView= units (default\n"
           "                      /usr/bin/lxcfs; none: no proc view)\n"
           "  --enabled-dir DIR   the enabled units, started at start-up (links to unit files,\n"
           "                      made by sandboxctl enable; default /etc/sandboxd/enabled)\n"
           "  --hold-cgroup       do nothing but hold a delegated cgroup for the sandboxes:\n"
           "                      move into its leaf 'holder', tell systemd READY=1, wait for\n"
           "                      SIGTERM (contrib/sandboxd-sandboxes.service)\n"
           "  --keep-running      on SIGTERM, leave sandboxes running for the next sandboxd\n"
           "                      (it adopts them); by default they are stopped first\n"
           "  --debug             verbose logging\n"
           "  --version\n");
}

int main(int argc, char *argv[]) {
    enum { ARG_SOCKET = 0x100, ARG_STATE, ARG_RUNTIME, ARG_LOG, ARG_UNIT_PATH, ARG_SLICE,
           ARG_CGROUP_ROOT, ARG_INIT, ARG_DEBUG, ARG_VERSION, ARG_KEEP_RUNNING, ARG_CONFIG,
           ARG_BRIDGE, ARG_SUBNET, ARG_IPV6_SUBNET, ARG_IMAGE_STORE, ARG_IMAGE_WORKER,
           ARG_ENABLED_DIR, ARG_HOLD_CGROUP, ARG_LOG_TARGET, ARG_LXCFS };
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"socket", required_argument, NULL, ARG_SOCKET},
        {"state-dir", required_argument, NULL, ARG_STATE},
        {"runtime-dir", required_argument, NULL, ARG_RUNTIME},
        {"log-dir", required_argument, NULL, ARG_LOG},
        {"unit-path", required_argument, NULL, ARG_UNIT_PATH},
        {"slice", required_argument, NULL, ARG_SLICE},
        {"cgroup-root", required_argument, NULL, ARG_CGROUP_ROOT},
        {"init", required_argument, NULL, ARG_INIT},
        {"image-store", required_argument, NULL, ARG_IMAGE_STORE},
        {"image-worker", required_argument, NULL, ARG_IMAGE_WORKER},
        {"enabled-dir", required_argument, NULL, ARG_ENABLED_DIR},
        {"debug", no_argument, NULL, ARG_DEBUG},
        {"keep-running", no_argument, NULL, ARG_KEEP_RUNNING},
        {"hold-cgroup", no_argument, NULL, ARG_HOLD_CGROUP},
        {"config", required_argument, NULL, ARG_CONFIG},
        {"bridge", required_argument, NULL, ARG_BRIDGE},
        {"subnet", required_argument, NULL, ARG_SUBNET},
        {"ipv6-subnet", required_argument, NULL, ARG_IPV6_SUBNET},
        {"version", no_argument, NULL, ARG_VERSION},
        {"log-target", required_argument, NULL, ARG_LOG_TARGET},
        {"lxcfs", required_argument, NULL, ARG_LXCFS},
        {},
    };
    const char *unit_path = UNIT_PATH_DEFAULT;
    ManagerConfig c = {
        .socket_path = (char *) SANDBOXD_SOCKET_DEFAULT,
        .state_dir = (char *) "/var/lib/sandboxd",
        .runtime_dir = (char *) "/run/sandboxd",
        .log_dir = (char *) "/var/log/sandboxd",
        .slice = (char *) "sandbox.slice",
        .init_path = (char *) SANDBOXD_INIT_PATH,
        .image_worker = (char *) SANDBOXD_IMAGE_WORKER_PATH,
        .enabled_dir = (char *) "/etc/sandboxd/enabled",
        .lxcfs_path = (char *) "/usr/bin/lxcfs",
    };
    const char *config_path = NULL, *bridge = NULL, *subnet = NULL, *ipv6_subnet = NULL,
               *log_target = NULL;
    int opt;

    log_set_target_auto();
    log_set_prefix("sandboxd");
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
        switch (opt) {
        case 'h':
            help();
            return EXIT_SUCCESS;
        case ARG_SOCKET: c.socket_path = optarg; break;
        case ARG_STATE: c.state_dir = optarg; break;
        case ARG_RUNTIME: c.runtime_dir = optarg; break;
        case ARG_LOG: c.log_dir = optarg; break;
        case ARG_UNIT_PATH: unit_path = optarg; break;
        case ARG_SLICE: c.slice = optarg; break;
        case ARG_CGROUP_ROOT: c.cgroup_root = optarg; break;
        case ARG_INIT: c.init_path = optarg; break;
        case ARG_IMAGE_STORE: c.image_store = optarg; break;
        case ARG_IMAGE_WORKER: c.image_worker = optarg; break;
        case ARG_ENABLED_DIR: c.enabled_dir = optarg; break;
        case ARG_DEBUG: log_set_max_level(LOG_DEBUG); break;
        case ARG_KEEP_RUNNING: c.keep_running = true; break;
        case ARG_HOLD_CGROUP: return hold_cgroup();
        case ARG_CONFIG: config_path = optarg; break;
        case ARG_BRIDGE: bridge = optarg; break;
        case ARG_SUBNET: subnet = optarg; break;
        case ARG_IPV6_SUBNET: ipv6_subnet = optarg; break;
        case ARG_LOG_TARGET: log_target = optarg; break;
        case ARG_LXCFS: c.lxcfs_path = optarg; break;
        case ARG_VERSION:
            printf("sandboxd %s\n", SANDBOXD_VERSION);
            return EXIT_SUCCESS;
        default:
            return EXIT_FAILURE;
        }
    if (optind < argc) {
        log_error("unexpected argument '%s'", argv[optind]);
        return EXIT_FAILURE;
    }
    _cleanup_free_ char *default_store = NULL;
    if (!c.image_store && !(c.image_store = default_store = path_join(c.state_dir, "images")))
        return EXIT_FAILURE;
    const char *dirs[] = {c.socket_path, c.state_dir, c.runtime_dir, c.log_dir, c.init_path,
                          c.image_store, c.image_worker};
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
        if (dirs[i][0] != '/') {
            log_error("'%s' must be an absolute path", dirs[i]);
            return EXIT_FAILURE;
        }
    _cleanup_strv_free_ char **up = NULL;
    for (char *copy = strdupa(unit_path), *d = strtok(copy, ":"); d; d = strtok(NULL, ":"))
        if (strv_extend(&up, d) < 0)
            return EXIT_FAILURE;
    c.unit_path = up;

    /* sandboxd.conf, then the command line over it */
    _cleanup_(daemon_config_done) DaemonConfig dc = {};
    _cleanup_strv_free_ char **errors = NULL;
    int r = daemon_config_init(&dc);
    if (r >= 0)
        r = daemon_config_load(&dc, config_path ?: DAEMON_CONFIG_PATH_DEFAULT, !config_path,
                               &errors);
    if (r < 0) {
        STRV_FOREACH(e, errors)
            log_error("%s", *e);
        if (!errors)
            log_error_errno(r, "reading %s: %m", config_path ?: DAEMON_CONFIG_PATH_DEFAULT);
        return EXIT_FAILURE;
    }
    if (bridge) {
        if (!ifname_is_valid(bridge)) {
            log_error("--bridge=%s: not a valid interface name", bridge);
            return EXIT_FAILURE;
        }
        free(dc.bridge);
        if (!(dc.bridge = strdup(bridge)))
            return EXIT_FAILURE;
    }
    if (subnet && (in_addr_prefix_parse(subnet, &dc.subnet) < 0 || dc.subnet.family != AF_INET)) {
        log_error("--subnet=%s: expected an IPv4 prefix like 10.88.0.0/16", subnet);
        return EXIT_FAILURE;
    }
    if (ipv6_subnet) {
        dc.ipv6_disabled = streq(ipv6_subnet, "none");
        if (!dc.ipv6_disabled && (in_addr_prefix_parse(ipv6_subnet, &dc.ipv6_subnet) < 0 ||
                                  dc.ipv6_subnet.family != AF_INET6)) {
            log_error("--ipv6-subnet=%s: expected an IPv6 prefix like fd00:88::/64, or none",
                      ipv6_subnet);
            return EXIT_FAILURE;
        }
    }
    if (log_target) {
        if (streq(log_target, "auto"))
            dc.log_target = UNIT_LOG_AUTO;
        else if (streq(log_target, "file"))
            dc.log_target = UNIT_LOG_FILE;
        else if (streq(log_target, "journal"))
            dc.log_target = UNIT_LOG_JOURNAL;
        else {
            log_error("--log-target=%s: expected auto, file or journal", log_target);
            return EXIT_FAILURE;
        }
    }
    c.daemon = dc;

    /* Whatever we inherited beyond stdio (a shell's `exec 7</`) is never handed on: the spawn
     * path closes it in the sandbox's init anyway, and our own helpers must not get it either. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        for (int fd = 3; fd < 1024; fd++)
            (void) fcntl(fd, F_SETFD, FD_CLOEXEC);

    /* sd-event watches these through signalfd and pidfds; they must be blocked first */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    raise_fd_limit();

    Manager *m = NULL;
    r = manager_new(&c, &m);
    if (r < 0) {
        log_error_errno(r, "allocating the manager: %m");
        return EXIT_FAILURE;
    }
    r = manager_startup(m);
    if (r >= 0) {
        log_info("Listening on %s.", c.socket_path);
        (void) sd_notify(0, "READY=1");
        manager_start_enabled(m); /* STATUS= tells its progress, then that requests are served */
        r = manager_run(m);
        (void) sd_notify(0, "STOPPING=1");
        if (r < 0)
            log_error_errno(r, "event loop: %m");
    }
    manager_free(m);
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
