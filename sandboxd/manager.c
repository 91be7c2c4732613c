/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager: owns the event loop, the bus socket and the name -> Sandbox map; finds and loads
 * unit files; shuts down by stopping every sandbox. */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "image.h"
#include "manager.h"
#include "network.h"
#include "path-util.h"
#include "seccomp-cache.h"
#include "sandbox-bus.h"
#include "strv.h"

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    Manager *m = userdata;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0) {
        if (errno != EAGAIN && errno != EINTR)
            log_warning_errno(errno, "accepting a bus connection: %m");
        return 0;
    }
    int r = manager_bus_accept(m, cfd);
    if (r < 0)
        log_warning_errno(r, "setting up a bus connection: %m");
    return 0;
}

static int on_shutdown_signal(sd_event_source *src, const struct signalfd_siginfo *si,
                              void *userdata) {
    Manager *m = userdata;
    if (m->shutting_down)
        return 0;
    m->shutting_down = true;
    manager_cancel_jobs(m);
    if (m->config.keep_running) {
        /* running sandboxes stay, with their state files, for the next sandboxd; one waiting
         * to restart would be forgotten, so it is not left waiting */
        log_info("Received %s, exiting; running sandboxes keep running.",
                 si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        for (size_t i = 0; i < m->n_sandboxes; i++)
            if (m->sandboxes[i]->state == SANDBOX_AUTO_RESTART)
                (void) sandbox_stop(m->sandboxes[i], NULL, NULL);
    } else {
        log_info("Received %s, stopping all sandboxes.",
                 si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        /* as stop jobs, so that a unit goes before the units it is ordered after */
        for (size_t i = 0; i < m->n_sandboxes; i++) {
            Sandbox *s = m->sandboxes[i];
            _cleanup_free_ char *why = NULL;
            if ((sandbox_is_running(s) || s->state == SANDBOX_AUTO_RESTART) &&
                manager_stop_unit(m, s, NULL, NULL, &why) < 0)
                (void) sandbox_stop(s, NULL, NULL);
        }
    }
    manager_check_shutdown(m);
    return 0;
}

/* One reaper for all our children, as systemd's manager does: sandbox inits are dispatched to
 * their sandbox; anything else is an orphan re-parented to us (we are a subreaper, so the
 * processes of a sandbox without a PID namespace land here once its init is gone) and is just
 * reaped. */
static int on_sigchld(sd_event_source *src, const struct signalfd_siginfo *ssi, void *userdata) {
    Manager *m = userdata;
    for (;;) {
        siginfo_t si = {0};
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
            break;
        if (image_import_on_exit(m, &si) || manager_health_on_exit(m, &si) ||
            procview_on_exit(m, &si))
            continue;
        for (size_t i = 0; i < m->n_sandboxes; i++)
            if (m->sandboxes[i]->init_pid == si.si_pid) {
                sandbox_on_init_exit(m->sandboxes[i], &si);
                break;
            }
    }
    return 0;
}

struct RestartJob {
    Sandbox *sandbox; /* sandboxes live as long as the manager */
    UnitConfig *config;
    sd_bus_message *reply;
    RestartJob *next;
};

static RestartJob *restart_job_free(RestartJob *j, const char *error_name, const char *text) {
    RestartJob *next = j->next;
    if (error_name && j->reply)
        (void) sd_bus_reply_method_errorf(j->reply, error_name, "%s", text);
    sd_bus_message_unref(j->reply);
    unit_config_free(j->config);
    free(j);
    return next;
}

/* Starts, with their new configuration, the restarts whose sandbox has come down. Runs as a
 * deferred event, never inside the sandbox's own state change. */
static int on_restart_jobs(sd_event_source *src, void *userdata) {
    Manager *m = userdata;
    for (RestartJob **p = &m->restart_jobs; *p;) {
        RestartJob *j = *p;
        Sandbox *s = j->sandbox;
        if (s->state == SANDBOX_STOPPING) {
            p = &j->next;
            continue;
        }
        *p = j->next;
        j->next = NULL;
        if (m->shutting_down) {
            restart_job_free(j, SANDBOXD_ERROR_SHUTTING_DOWN, "sandboxd is shutting down");
            continue;
        }
        /* started again by someone else meanwhile: that instance answers this call too */
        if (!sandbox_is_running(s))
            sandbox_set_config(s, TAKE_PTR(j->config));
        _cleanup_free_ char *why = NULL;
        int r = manager_bus_start(s, j->reply, &why);
        if (r < 0)
            log_warning("%s: starting it again after the stop: %s", s->name,
                        why ?: strerror(-r));
        restart_job_free(j, r < 0 ? SANDBOXD_ERROR_START_FAILED : NULL,
                         why ?: "starting the unit failed");
    }
    return 0;
}

void manager_check_shutdown(Manager *m) {
    if (m->restart_jobs)
        (void) sd_event_source_set_enabled(m->restart_source, SD_EVENT_ONESHOT);
    if (!m->shutting_down)
        return;
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        const Sandbox *s = m->sandboxes[i];
        SandboxState st = s->state;
        /* with keep_running only starts and stops in flight are waited for; a payload that
         * runs and has yet to say READY=1 is adopted as starting by the next sandboxd */
        bool settled = m->config.keep_running && st == SANDBOX_STARTING && s->got_ready;
        if ((st == SANDBOX_STARTING && !settled) || st == SANDBOX_STOPPING ||
            (st == SANDBOX_ACTIVE && !m->config.keep_running))
            return;
    }
    (void) sd_event_exit(m->event, 0);
}

int manager_new(const ManagerConfig *c, Manager **ret) {
    Manager *m = calloc(1, sizeof(Manager));
    if (!m)
        return -ENOMEM;
    m->listen_fd = m->journal_fd = -EBADF;
    m->config = (ManagerConfig){
        .socket_path = strdup(c->socket_path),
        .state_dir = strdup(c->state_dir),
        .runtime_dir = strdup(c->runtime_dir),
        .log_dir = strdup(c->log_dir),
        .unit_path = strv_copy(c->unit_path),
        .slice = strdup(c->slice),
        .init_path = strdup(c->init_path),
        .image_store = strdup(c->image_store),
        .image_worker = strdup(c->image_worker),
        .enabled_dir = strdup(c->enabled_dir),
        .cgroup_root = c->cgroup_root ? strdup(c->cgroup_root) : NULL,
        .lxcfs_path = c->lxcfs_path ? strdup(c->lxcfs_path) : NULL,
        .keep_running = c->keep_running,
        .daemon = c->daemon,
    };
    m->config.daemon.bridge = strdup(c->daemon.bridge ? c->daemon.bridge : NETWORK_BRIDGE_DEFAULT);
    if (!m->config.socket_path || !m->config.state_dir || !m->config.runtime_dir ||
        !m->config.log_dir || !m->config.unit_path || !m->config.slice || !m->config.init_path ||
        !m->config.image_store || !m->config.image_worker || !m->config.enabled_dir ||
        !m->config.daemon.bridge ||
        (c->cgroup_root && !m->config.cgroup_root) || (c->lxcfs_path && !m->config.lxcfs_path)) {
        manager_free(m);
        return -ENOMEM;
    }
    int r = sd_event_new(&m->event);
    if (r < 0) {
        manager_free(m);
        return r;
    }
    *ret = m;
    return 0;
}

Manager *manager_free(Manager *m) {
    if (!m)
        return NULL;
    while (m->restart_jobs) /* answered before the connections are flushed and closed */
        m->restart_jobs = restart_job_free(m->restart_jobs, SANDBOXD_ERROR_SHUTTING_DOWN,
                                           "sandboxd is shutting down");
    sd_event_source_disable_unref(m->restart_source);
    /* every caller waiting on a job is answered before the connections go */
    for (size_t i = 0; i < m->n_sandboxes; i++)
        sandbox_abandon_jobs(m->sandboxes[i]);
    manager_free_jobs(m);
    image_import_cancel_all(m); /* answered before the connections go too */
    manager_bus_free_all(m);
    bool remain = false;
    for (size_t i = 0; i < m->n_sandboxes; i++)
        remain |= m->sandboxes[i]->init_pid > 0;
    /* the table stays while sandboxes run on (--keep-running): their ports keep answering */
    m->network = network_free(m->network, remain);
    /* lxcfs too: the sandboxes that run on read their /proc through it */
    procview_free(m->procview, remain);
    for (size_t i = 0; i < m->n_sandboxes; i++)
        sandbox_free(m->sandboxes[i]);
    free(m->sandboxes);
    sd_event_source_disable_unref(m->listen_source);
    if (m->listen_fd >= 0) {
        safe_close(m->listen_fd);
        (void) unlink(m->config.socket_path);
    }
    if (m->cg_layout == CG_LAYOUT_V1 || m->cg_layout == CG_LAYOUT_V2)
        (void) cg_remove_slice(m->config.slice); /* only when empty; -EBUSY otherwise */
    sd_event_unref(m->event);
    seccomp_cache_free(m->seccomp_cache);
    free(m->config.socket_path);
    free(m->config.state_dir);
    free(m->config.runtime_dir);
    free(m->config.log_dir);
    strv_free(m->config.unit_path);
    free(m->config.slice);
    free(m->config.cgroup_root);
    free(m->config.init_path);
    free(m->config.image_store);
    free(m->config.image_worker);
    free(m->config.enabled_dir);
    free(m->config.lxcfs_path);
    daemon_config_done(&m->config.daemon);
    strv_free(m->image_gc_added);
    free(m->log_in);
    free(m->log_out);
    safe_close(m->journal_fd);
    free(m);
    return NULL;
}

static int listen_socket(Manager *m) {
    _cleanup_free_ char *dir = strdup(m->config.socket_path);
    if (!dir)
        return -ENOMEM;
    *strrchr(dir, '/') = 0;
    if (*dir) {
        int r = mkdir_p(dir, 0755);
        if (r < 0)
            return log_error_errno(r, "creating %s: %m", dir);
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return log_error_errno(errno, "creating the bus socket: %m");
    /* Bound under a temporary name and renamed once it listens: the socket's file appears at
     * bind(), and a client connecting between bind() and listen() would be refused. */
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.%d~", m->config.socket_path, (int) getpid()) < 0)
        return -ENOMEM;
    struct sockaddr_un tsa = {.sun_family = AF_UNIX};
    if (strlen(tmp) >= sizeof tsa.sun_path)
        return log_error_errno(ENAMETOOLONG, "socket path %s is too long (with the suffix %s)",
                               m->config.socket_path, tmp + strlen(m->config.socket_path));
    strcpy(tsa.sun_path, tmp);
    (void) unlink(tmp);
    /* root only: the API starts processes as any user with any mounts */
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *) &tsa, sizeof tsa);
    umask(old);
    if (r < 0)
        return log_error_errno(errno, "binding %s: %m", tmp);
    if (listen(fd, SOMAXCONN) < 0 || rename(tmp, m->config.socket_path) < 0) {
        r = -errno;
        (void) unlink(tmp);
        return log_error_errno(r, "listening on %s: %m", m->config.socket_path);
    }
    r = sd_event_add_io(m->event, &m->listen_source, fd, EPOLLIN, on_accept, m);
    if (r < 0)
        return log_error_errno(r, "watching the bus socket: %m");
    m->listen_fd = TAKE_FD(fd);
    return 0;
}

static Sandbox *manager_add(Manager *m, UnitConfig *c) {
    Sandbox **n = realloc(m->sandboxes, sizeof(Sandbox *) * (m->n_sandboxes + 1));
    if (!n)
        return NULL;
    m->sandboxes = n;
    Sandbox *s = sandbox_new(m, c->name);
    if (!s)
        return NULL;
    sandbox_set_config(s, c);
    m->sandboxes[m->n_sandboxes++] = s;
    return s;
}

/* Takes over the sandboxes a previous sandboxd left running (or that died meanwhile). */
static void adopt_all(Manager *m) {
    _cleanup_free_ char *dir = path_join(m->config.runtime_dir, "sandboxes");
    _cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.' || !unit_name_is_valid(de->d_name))
            continue;
        _cleanup_free_ char *path = NULL, *text = NULL;
        SandboxSavedState st;
        if (asprintf(&path, "%s/%s/state", dir, de->d_name) < 0)
            continue;
        if (read_file(path, 64 * 1024, &text, NULL) < 0) {
            /* a start cut short before its init was recorded: nothing may be left of it */
            int r = sandbox_remove_orphan(m, de->d_name);
            if (r < 0)
                log_warning_errno(r, "%s: removing what a cut-short start left: %m",
                                  de->d_name);
            else
                log_info("%s: removed what a cut-short start left behind.", de->d_name);
            continue;
        }
        int r = sandbox_read_state(text, &st);
        if (r < 0) {
            log_warning_errno(r, "%s: unreadable, not adopting %s: %m", path, de->d_name);
            continue;
        }
        UnitConfig *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        r = unit_load(st.unit_path, &c, &errors);
        if (r < 0 || !streq(c->name, de->d_name)) {
            /* it runs all the same: supervise it with default settings */
            log_warning("%s: cannot reload %s, adopting %s with default settings", path,
                        st.unit_path, de->d_name);
            unit_config_free(c);
            c = unit_config_new(st.unit_path);
            if (c) {
                free(c->name);
                c->name = strdup(de->d_name);
            }
        }
        Sandbox *s = c && c->name ? manager_add(m, c) : NULL;
        if (!s) {
            unit_config_free(c);
            free(st.unit_path);
            log_error("%s: out of memory adopting it", de->d_name);
            continue;
        }
        r = sandbox_adopt(s, &st);
        if (r < 0)
            log_error_errno(r, "%s: adopting it: %m", s->name);
        free(st.unit_path);
    }
}

int manager_startup(Manager *m) {
    int r = cg_init(m->config.cgroup_root, &m->cg_layout);
    if (r == -EOPNOTSUPP)
        return log_error_errno(r, "the memory and pids cgroup controllers are needed and are "
                                  "not available%s%s: %m",
                               m->config.cgroup_root ? " in " : "",
                               m->config.cgroup_root ? m->config.cgroup_root : "");
    if (r < 0)
        return log_error_errno(r, "reading the cgroup hierarchies: %m");
    log_info("cgroup layout: %s; sandboxes go to /%s%s%s%s", cg_layout_to_string(m->cg_layout),
             cg_root(), *cg_root() ? "/" : "", m->config.slice,
             cg_root_is_delegated() ? " (delegated to us; sandboxd runs in its supervisor "
                                      "group)" : "");
    r = cg_create_slice(m->config.slice);
    if (r < 0)
        return log_error_errno(r, "creating cgroup /%s%s%s: %m", cg_root(),
                               *cg_root() ? "/" : "", m->config.slice);

    UnitLogTarget t = m->config.daemon.log_target;
    m->log_journal = t == UNIT_LOG_JOURNAL ||
                     (t == UNIT_LOG_AUTO && access("/run/systemd/journal/socket", W_OK) == 0);
    if (m->log_journal)
        log_info("Unit logs go to the journal (SANDBOXD_UNIT=NAME).");
    else
        log_info("Unit logs go to %s/NAME.log (rotated past %s, %u files kept).",
                 m->config.log_dir,
                 m->config.daemon.log_max_file_size == UINT64_MAX
                     ? "no size: never rotated"
                     : format_bytes((char[64]){}, m->config.daemon.log_max_file_size),
                 m->config.daemon.log_max_files);
    const char *dirs[] = {m->config.runtime_dir, m->config.log_dir};
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
        r = mkdir_p(dirs[i], 0755);
        if (r < 0)
            return log_error_errno(r, "creating %s: %m", dirs[i]);
    }
    r = mkdir_p(m->config.state_dir, 0700);
    if (r < 0)
        return log_error_errno(r, "creating %s: %m", m->config.state_dir);
    (void) chmod(m->config.state_dir, 0700);

    /* without it sandboxd still runs Network=none and host units; bridge ones say why not */
    r = network_new(m, &m->config.daemon, &m->network);
    if (r < 0)
        log_error_errno(r, "Networking is not available: Network=bridge units will not start.");

    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return log_error_errno(errno, "becoming a child subreaper: %m");
    r = sd_event_add_signal(m->event, NULL, SIGCHLD, on_sigchld, m);
    if (r < 0)
        return log_error_errno(r, "watching SIGCHLD: %m");
    r = sd_event_add_signal(m->event, NULL, SIGTERM, on_shutdown_signal, m);
    if (r >= 0)
        r = sd_event_add_signal(m->event, NULL, SIGINT, on_shutdown_signal, m);
    if (r < 0)
        return log_error_errno(r, "watching signals: %m");
    /* Before the socket listens: a client (or a test) that sees it finds the sandboxes that
     * still run adopted and the table written from them, in one batch, so ports that
     * answered go on answering. */
    /* the proc view first: the sandboxes it serves are adopted next, and bound anew when the
     * lxcfs that served them is gone */
    if ((r = procview_new(m, &m->procview)) < 0)
        return log_error_errno(r, "setting up the proc view: %m");
    procview_start(m->procview);
    adopt_all(m);
    if (procview_started_new(m->procview))
        procview_rebind(m->procview);
    if (m->network)
        (void) network_rebuild(m->network);
    return listen_socket(m);
}


int manager_run(Manager *m) {
    return sd_event_loop(m->event);
}

Sandbox *manager_find(Manager *m, const char *name) {
    for (size_t i = 0; i < m->n_sandboxes; i++)
        if (streq(m->sandboxes[i]->name, name))
            return m->sandboxes[i];
    return NULL;
}

/* "web" means "web.unit", as systemctl completes ".service". */
char *manager_complete_name(const char *arg) {
    char *r;
    if (asprintf(&r, "%s%s", arg, strchr(arg, '.') ? "" : ".unit") < 0)
        return NULL;
    return r;
}

int manager_find_unit_file(Manager *m, const char *arg, char **ret) {
    if (strchr(arg, '/')) {
        if (arg[0] != '/')
            return -EINVAL; /* the client makes paths absolute: our cwd is not theirs */
        char *p = strdup(arg);
        if (!p)
            return -ENOMEM;
        *ret = p;
        return 0;
    }
    _cleanup_free_ char *name = manager_complete_name(arg);
    if (!name)
        return -ENOMEM;
    if (!unit_name_is_valid(name))
        return -EINVAL;
    Sandbox *s = manager_find(m, name);
    if (s && s->config) {
        /* a unit loaded from a path keeps coming from there */
        char *p = strdup(s->config->path);
        if (!p)
            return -ENOMEM;
        *ret = p;
        return 0;
    }
    STRV_FOREACH(d, m->config.unit_path) {
        _cleanup_free_ char *p = path_join(*d, name);
        if (!p)
            return -ENOMEM;
        if (access(p, F_OK) == 0) {
            *ret = TAKE_PTR(p);
            return 0;
        }
    }
    return -ENOENT;
}

int manager_unit_file_sig(const char *path, UnitFileSig *ret) {
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    *ret = (UnitFileSig){(uint64_t) st.st_dev, (uint64_t) st.st_ino, (uint64_t) st.st_size,
                         (uint64_t) st.st_mtim.tv_sec * 1000000000ULL +
                             (uint64_t) st.st_mtim.tv_nsec};
    return 0;
}

bool manager_unit_file_changed(const UnitConfig *c) {
    UnitFileSig now = {0};
    (void) manager_unit_file_sig(c->path, &now); /* a removed file is a change */
    return memcmp(&now, &c->file_sig, sizeof now) != 0;
}

/* Finds the unit file for a name or path and parses it; nothing changes in the manager. */
int manager_load_config(Manager *m, const char *arg, UnitConfig **ret, char ***ret_errors) {
    _cleanup_free_ char *path = NULL;
    *ret_errors = NULL;
    int r = manager_find_unit_file(m, arg, &path);
    if (r < 0)
        return r;
    UnitConfig *c = NULL;
    UnitFileSig sig = {0};
    (void) manager_unit_file_sig(path, &sig); /* before the read: a change in between shows */
    r = unit_load(path, &c, ret_errors);
    if (r < 0)
        return r;
    c->file_sig = sig;
    /* IPAddress= and friends against the subnets this sandboxd really uses */
    if (m->network && unit_check_network(c, network_context(m->network), ret_errors) < 0) {
        unit_config_free(c);
        return -EINVAL;
    }
    *ret = c;
    return 0;
}

int manager_load_unit(Manager *m, const char *arg, Sandbox **ret, char ***ret_errors) {
    UnitConfig *c = NULL;
    int r = manager_load_config(m, arg, &c, ret_errors);
    if (r < 0)
        return r;
    Sandbox *s = manager_find(m, c->name);
    if (!s) {
        s = manager_add(m, c);
        if (!s) {
            unit_config_free(c);
            return -ENOMEM;
        }
        *ret = s;
        return 0;
    } else if (sandbox_is_running(s) && !streq(s->config->path, c->path)) {
        unit_config_free(c);
        return -EEXIST; /* a unit of the same name from another file is running */
    }
    if (sandbox_is_running(s))
        unit_config_free(c); /* a running sandbox keeps the configuration it started with */
    else
        sandbox_set_config(s, c);
    *ret = s;
    return 0;
}

int manager_reload_units(Manager *m, char ***ret_errors) {
    int n = 0;
    for (size_t i = 0; i < m->n_sandboxes; i++) {
        Sandbox *s = m->sandboxes[i];
        _cleanup_strv_free_ char **errors = NULL;
        UnitConfig *c = NULL;
        if (!s->config)
            continue;
        int r = manager_load_config(m, s->config->path, &c, &errors);
        if (r < 0) {
            if (!errors) {
                char *e;
                if (asprintf(&e, "%s: %s", s->config->path,
                             r == -ENOENT ? "the unit file is gone" : strerror(-r)) < 0 ||
                    strv_consume(&errors, e) < 0)
                    return -ENOMEM;
            }
            if (strv_extend_strv(ret_errors, errors) < 0)
                return -ENOMEM;
            continue;
        }
        if (sandbox_is_running(s) || s->state == SANDBOX_AUTO_RESTART) {
            s->reloaded = true; /* the running one keeps its configuration */
            s->reloaded_sig = c->file_sig;
            unit_config_free(c);
        } else
            sandbox_set_config(s, c);
        n++;
    }
    return n;
}

bool manager_unit_needs_reload(const Sandbox *s) {
    UnitFileSig now = {0};
    (void) manager_unit_file_sig(s->config->path, &now);
    const UnitFileSig *last = s->reloaded ? &s->reloaded_sig : &s->config->file_sig;
    return memcmp(&now, last, sizeof now) != 0;
}

int manager_restart_unit(Manager *m, const char *arg, sd_bus_message *reply, char ***ret_errors) {
    _cleanup_(unit_config_freep) UnitConfig *c = NULL;
    int r = manager_load_config(m, arg, &c, ret_errors);
    if (r < 0)
        return r;
    Sandbox *s = manager_find(m, c->name);
    if (s && sandbox_is_running(s) && !streq(s->config->path, c->path))
        return -EEXIST; /* a unit of the same name from another file is running */
    if (!s || !sandbox_is_running(s)) {
        if (!s) {
            s = manager_add(m, c);
            if (!s)
                return -ENOMEM;
        } else
            sandbox_set_config(s, c);
        TAKE_PTR(c);
        _cleanup_free_ char *why = NULL;
        r = manager_bus_start(s, reply, &why);
        if (r < 0 && why && strv_consume(ret_errors, TAKE_PTR(why)) >= 0)
            return -EINVAL; /* told as a unit's errors are */
        return r;
    }

    if (!m->restart_source) {
        r = sd_event_add_defer(m->event, &m->restart_source, on_restart_jobs, m);
        if (r < 0)
            return r;
    }
    RestartJob *j = calloc(1, sizeof(RestartJob));
    if (!j)
        return -ENOMEM;
    *j = (RestartJob){.sandbox = s, .config = TAKE_PTR(c), .reply = sd_bus_message_ref(reply)};
    RestartJob **tail = &m->restart_jobs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    r = sandbox_stop(s, NULL, NULL);
    if (r < 0) {
        *tail = NULL;
        j->reply = sd_bus_message_unref(j->reply); /* the caller answers */
        restart_job_free(j, NULL, NULL);
        return r;
    }
    manager_check_shutdown(m); /* in case the stop was immediate */
    return 0;
}
