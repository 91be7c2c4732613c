/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxctl: the command line for sandboxd. It resolves paths given on the command line (the
 * daemon's working directory is not the caller's), calls the bus API, and formats; `verify`
 * parses unit files offline with the same parser the daemon uses. */

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon-config.h"
#include "escape-util.h"
#include "image-ref.h"
#include "macro.h"
#include "parse-util.h"
#include "sandbox-bus.h"
#include "strv.h"
#include "time-util.h"
#include "sandboxctl.h"
#include "unit.h"

/* Queries answer at once, or sandboxd is hung: systemctl's default method timeout. Start,
 * stop and restart wait for the job, bounded by TimeoutStartSec=/TimeoutStopSec= in the
 * daemon, so by default not here (--timeout= bounds every call). */
#define QUERY_TIMEOUT_USEC (25 * USEC_PER_SEC)

/* exit codes as systemctl's, so scripts written for it keep working */
#define EXIT_NOT_ACTIVE 3
#define EXIT_NO_SUCH_UNIT 4

static const char *arg_socket = NULL;
static char **arg_properties = NULL;
static bool arg_value = false;
static unsigned arg_lines = 10;
static uint64_t arg_timeout = 0; /* 0: the defaults above */
bool arg_raw = false;
static bool arg_force = false;
static bool arg_now = false; /* enable --now, disable --now */
static bool arg_quiet = false; /* is-active, is-failed: the exit status only */
static int arg_signal = SIGTERM;         /* kill --signal= */
static const char *arg_kill_whom = "all"; /* kill --kill-whom=main|all */
static bool arg_json = false;              /* monitor --json, top --json */
static bool arg_lines_set = false;         /* -n given: top's iterations */
static uint64_t arg_delay = USEC_PER_SEC;  /* top -d */
static TopOrder arg_order = TOP_ORDER_CPU; /* top --order= */
static bool arg_follow = false;            /* logs -f */
static uint64_t arg_since = 0;             /* logs --since= */
static LogOutput arg_output = LOG_OUTPUT_SHORT; /* logs -o */
static bool arg_all = false;               /* show --all: empty properties too */
static bool arg_legend = true;             /* --no-legend: no header and footer lines */
static bool arg_plain = false;             /* --plain: list-dependencies without tree lines */
const char *arg_config = NULL;                       /* sandboxd.conf, for verify */
const char *arg_image_store = IMAGE_STORE_DEFAULT;   /* for verify's Image= */
const char *arg_unit_path = UNIT_PATH_DEFAULT;       /* for verify's dependencies */
static const char *socket_path;

typedef struct Prop {
    char *key, *value;
    char *shown; /* value as printed: escaped, or a copy */
} Prop;

typedef struct Props {
    Prop *p;
    size_t n;
} Props;

static void props_done(Props *ps) {
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->p[i].key);
        free(ps->p[i].value);
        free(ps->p[i].shown);
    }
    free(ps->p);
}

static const Prop *prop_find(const Props *ps, const char *key) {
    for (size_t i = 0; i < ps->n; i++)
        if (streq(ps->p[i].key, key))
            return &ps->p[i];
    return NULL;
}

/* The value as the daemon sent it: to parse, compare, or send back. */
static const char *prop(const Props *ps, const char *key) {
    const Prop *p = prop_find(ps, key);
    return p ? p->value : "";
}

/* The value to print. */
static const char *prop_shown(const Props *ps, const char *key) {
    const Prop *p = prop_find(ps, key);
    return p ? p->shown : "";
}

/* Text the daemon hands on from a payload (its log, a path in its root in a start error) or
 * from a unit file (Description=, ExecStart=) reaches the admin's terminal: escaped, it cannot
 * rewrite the screen, forge a line, set the title or write the clipboard. This is done whether
 * stdout is a terminal or not (`sandboxctl logs web | grep x` prints on one all the same);
 * --raw writes the text as it is. `show` is for scripts, and escapes only on a terminal. */
static char *text_shown(const char *s, size_t n, bool escape, EscapeFlags flags) {
    if (!escape)
        return strndup(s, n);
    return escape_terminal(s, n, flags);
}

/* One line of text from the daemon: a newline in it is escaped too, or it would forge the
 * next line. NULL on OOM. */
char *line_shown(const char *s) {
    return text_shown(s, strlen(s), !arg_raw, 0);
}

/* A message from the daemon or the unit parser, on stderr (it may quote a unit file or a path
 * in a sandbox's root). */
void print_message(const char *text) {
    _cleanup_free_ char *shown = text_shown(text, strlen(text), !arg_raw, ESCAPE_KEEP_NEWLINE);
    fprintf(stderr, "%s\n", shown ?: "out of memory");
}

/* The log, as bytes or escaped; with a final newline when add_newline and it lacks one. */
static int print_log(const void *text, size_t len, bool add_newline) {
    _cleanup_free_ char *escaped = NULL;
    if (!arg_raw) {
        escaped = escape_terminal(text, len, ESCAPE_KEEP_NEWLINE);
        if (!escaped)
            return -ENOMEM;
        text = escaped;
        len = strlen(escaped); /* a NUL in the log is "\x00" now */
    }
    if (fwrite(text, 1, len, stdout) != len)
        return -EIO;
    if (add_newline && len > 0 && ((const char *) text)[len - 1] != '\n' && putchar('\n') == EOF)
        return -EIO;
    return 0;
}

/* Calls that take as long as they take (no default timeout): units' jobs, the removal of a
 * rw layer (as big as its payload made it), and the image worker's imports, commits, diffs
 * and exports. */
static bool is_job(const char *method) {
    return streq(method, "StartUnit") || streq(method, "StopUnit") ||
           streq(method, "RestartUnit") || streq(method, "CleanUnit") ||
           streq(method, "ImportImage") ||
           streq(method, "CommitUnit") || streq(method, "DiffUnit") ||
           streq(method, "ExportImage");
}

/* Says what went wrong with the connection itself, with a hint; false for anything else. */
static bool report_transport_error(int r, uint64_t timeout) {
    char buf[64];
    switch (r) {
    case -ETIMEDOUT:
        fprintf(stderr, "sandboxctl: sandboxd at %s did not answer within %s\n", socket_path,
                format_timespan(buf, timeout));
        return true;
    case -ECONNRESET:
    case -ENOTCONN:
    case -EPIPE:
        fprintf(stderr,
                "sandboxctl: sandboxd at %s closed the connection (it refuses clients that run "
                "inside a sandbox, and logs why)\n",
                socket_path);
        return true;
    default:
        return false;
    }
}

/* sd-bus's own wait for authentication is 90 s, whatever the call's timeout: a hung daemon
 * must not hold a query that long. */
static int wait_ready(sd_bus *bus, uint64_t timeout) {
    uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
    for (;;) {
        int r = sd_bus_is_ready(bus);
        if (r != 0)
            return r < 0 ? r : 0;
        r = sd_bus_process(bus, NULL);
        if (r < 0)
            return r;
        if (r > 0)
            continue;
        uint64_t n = now_usec(CLOCK_MONOTONIC);
        if (n >= deadline)
            return -ETIMEDOUT;
        r = sd_bus_wait(bus, deadline - n);
        if (r < 0)
            return r;
    }
}

/* Every call waits for its reply, so nothing is left to flush at exit; and a flush would wait
 * for a hung daemon to finish authenticating us. */
static int connect_bus(sd_bus **ret) {
    _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
    _cleanup_free_ char *address = NULL;
    socket_path = arg_socket ? arg_socket : getenv("SANDBOXD_SOCKET");
    if (!socket_path)
        socket_path = SANDBOXD_SOCKET_DEFAULT;
    if (asprintf(&address, "unix:path=%s", socket_path) < 0)
        return -ENOMEM;
    int r = sd_bus_new(&bus);
    if (r >= 0)
        r = sd_bus_set_address(bus, address);
    if (r >= 0)
        r = sd_bus_start(bus);
    if (r == -ENOENT || r == -ECONNREFUSED) {
        /* one line: what is wrong and what to do */
        bool systemd = access("/run/systemd/system", F_OK) == 0;
        fprintf(stderr, "sandboxctl: sandboxd is not running (%s %s); start it with %s\n",
                r == -ENOENT ? "no socket at" : "nothing listens on", socket_path,
                systemd ? "'systemctl start sandboxd'" : "'sandboxd &' as root");
        return r;
    }
    if (r == -EACCES || r == -EPERM) {
        fprintf(stderr, "sandboxctl: permission denied on %s: sandboxd answers root only "
                        "(run sandboxctl as root)\n", socket_path);
        return r;
    }
    uint64_t timeout = arg_timeout ?: QUERY_TIMEOUT_USEC;
    if (r >= 0)
        r = wait_ready(bus, timeout);
    if (r < 0) {
        if (!report_transport_error(r, timeout))
            fprintf(stderr, "sandboxctl: cannot connect to sandboxd at %s: %s\n", socket_path,
                    strerror(-r));
        return r;
    }
    *ret = TAKE_PTR(bus);
    return 0;
}

static int call_message(sd_bus *bus, sd_bus_message *m, const char *method, int r,
                        sd_bus_message **reply);

/* Calls a method; on a bus error prints it and returns the exit code to use (> 0). */
static int call(sd_bus *bus, const char *method, sd_bus_message **reply, const char *types,
                ...) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    va_list ap;
    int r = sd_bus_message_new_method_call(bus, &m, NULL, SANDBOXD_OBJECT_PATH,
                                           SANDBOXD_MANAGER_IFACE, method);
    if (r >= 0 && types) {
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
    }
    return call_message(bus, m, method, r, reply);
}

int ctl_call(sd_bus *bus, const char *method, sd_bus_message **reply) {
    return call(bus, method, reply, NULL);
}

/* The same with one argument, a list of strings (as). */
static int call_strv(sd_bus *bus, const char *method, sd_bus_message **reply, char **l) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    int r = sd_bus_message_new_method_call(bus, &m, NULL, SANDBOXD_OBJECT_PATH,
                                           SANDBOXD_MANAGER_IFACE, method);
    if (r >= 0)
        r = sd_bus_message_append_strv(m, l);
    return call_message(bus, m, method, r, reply);
}

/* Sends m (r: how building it went). */
static int call_message(sd_bus *bus, sd_bus_message *m, const char *method, int r,
                        sd_bus_message **reply) {
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    uint64_t timeout = arg_timeout ?: is_job(method) ? USEC_INFINITY : QUERY_TIMEOUT_USEC;
    if (r >= 0)
        r = sd_bus_call(bus, m, timeout, &error, reply);
    if (r >= 0)
        return 0;
    if (report_transport_error(r, timeout))
        return EXIT_FAILURE;
    print_message(error.message ? error.message : strerror(-r));
    if (sd_bus_error_has_name(&error, SANDBOXD_ERROR_NO_SUCH_UNIT))
        return EXIT_NO_SUCH_UNIT;
    return EXIT_FAILURE;
}

/* A path (anything with a '/') is made absolute for the daemon; a name goes as it is. */
static char *unit_arg(const char *a) {
    if (!strchr(a, '/'))
        return strdup(a);
    char *p = realpath(a, NULL);
    if (!p)
        fprintf(stderr, "sandboxctl: %s: %s\n", a, strerror(errno));
    return p;
}

/* escape: whether the values are printed escaped (Prop.shown). */
static int get_props(sd_bus *bus, const char *unit, bool escape, Props *ret) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    Props ps = {0};
    int r = call(bus, "GetUnitProperties", &reply, "s", unit);
    if (r)
        return r;
    r = sd_bus_message_enter_container(reply, 'a', "(ss)");
    while (r >= 0) {
        const char *k, *v;
        r = sd_bus_message_read(reply, "(ss)", &k, &v);
        if (r <= 0)
            break;
        Prop *n = realloc(ps.p, sizeof(Prop) * (ps.n + 1));
        if (!n) {
            r = -ENOMEM;
            break;
        }
        ps.p = n;
        Prop *p = &ps.p[ps.n++];
        *p = (Prop){strdup(k), strdup(v), text_shown(v, strlen(v), escape, 0)};
        if (!p->key || !p->value || !p->shown) {
            r = -ENOMEM;
            break;
        }
    }
    if (r < 0) {
        props_done(&ps);
        fprintf(stderr, "sandboxctl: bad reply: %s\n", strerror(-r));
        return EXIT_FAILURE;
    }
    *ret = ps;
    return 0;
}

/* start, or restart: the daemon loads and checks the file before it stops anything, so a
 * broken file refuses the restart and the running instance stays */
static int start_units(sd_bus *bus, char **args, const char *method) {
    int ret = 0;
    STRV_FOREACH(a, args) {
        _cleanup_free_ char *u = unit_arg(*a);
        if (!u) {
            ret = EXIT_FAILURE;
            continue;
        }
        int r = call(bus, method, NULL, "s", u);
        if (r)
            ret = r;
    }
    return ret;
}

static int verb_start(sd_bus *bus, char **args) {
    return start_units(bus, args, "StartUnit");
}

static int verb_restart(sd_bus *bus, char **args) {
    return start_units(bus, args, "RestartUnit");
}

/* enable [--now] UNIT...: names or paths (a path is linked as it is, as systemctl link does) */
static int verb_enable(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_strv_free_ char **units = NULL;
    STRV_FOREACH(a, args) {
        char *u = unit_arg(*a);
        if (!u || strv_consume(&units, u) < 0)
            return EXIT_FAILURE;
    }
    int r = call_strv(bus, "EnableUnits", &reply, units);
    if (r)
        return r;
    if (sd_bus_message_enter_container(reply, 'a', "(ss)") < 0)
        return EXIT_FAILURE;
    const char *link, *target;
    while (sd_bus_message_read(reply, "(ss)", &link, &target) > 0) {
        _cleanup_free_ char *l = line_shown(link), *t = line_shown(target);
        printf("Created symlink %s -> %s.\n", l ?: "?", t ?: "?");
    }
    return arg_now ? start_units(bus, args, "StartUnit") : 0;
}

/* disable [--now] UNIT... */
static int verb_disable(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_strv_free_ char **removed = NULL;
    int r = call_strv(bus, "DisableUnits", &reply, args);
    if (r)
        return r;
    if (sd_bus_message_read_strv(reply, &removed) < 0)
        return EXIT_FAILURE;
    STRV_FOREACH(l, removed) {
        _cleanup_free_ char *shown = line_shown(*l);
        printf("Removed %s.\n", shown ?: "?");
    }
    if (!arg_now)
        return 0;
    int ret = 0;
    STRV_FOREACH(a, args) /* a unit never loaded has nothing to stop */
        if ((r = call(bus, "StopUnit", NULL, "s", *a)) && r != EXIT_NO_SUCH_UNIT)
            ret = r;
    return ret;
}

/* is-enabled UNIT...: exit 0 when every one is enabled */
static int verb_is_enabled(sd_bus *bus, char **args) {
    int ret = 0;
    STRV_FOREACH(a, args) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *state;
        int r = call(bus, "GetUnitFileState", &reply, "s", *a);
        if (r || sd_bus_message_read(reply, "s", &state) < 0)
            return r ?: EXIT_FAILURE;
        puts(state);
        if (!streq(state, "enabled"))
            ret = EXIT_FAILURE;
    }
    return ret;
}

static int verb_kill(sd_bus *bus, char **args) {
    int ret = 0;
    STRV_FOREACH(a, args) {
        int r = call(bus, "KillUnit", NULL, "ssi", *a, arg_kill_whom, (int32_t) arg_signal);
        if (r)
            ret = r;
    }
    return ret;
}

/* systemctl cat: "# PATH" and the unit file, escaped as logs are unless --raw. */
static int verb_cat(sd_bus *bus, char **args) {
    int ret = 0;
    STRV_FOREACH(a, args) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        const void *text;
        size_t len;
        int r = call(bus, "CatUnit", &reply, "s", *a);
        if (r) {
            ret = r;
            continue;
        }
        if (sd_bus_message_read(reply, "s", &path) < 0 ||
            sd_bus_message_read_array(reply, 'y', &text, &len) < 0)
            return EXIT_FAILURE;
        _cleanup_free_ char *shown = line_shown(path);
        printf("%s# %s\n", a == args ? "" : "\n", shown ?: "?");
        fflush(stdout);
        if (print_log(text, len, true) < 0)
            return EXIT_FAILURE;
    }
    return ret;
}

/* systemctl list-dependencies' tree: what a start pulls in, with each unit's state. */
static int verb_list_dependencies(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = call(bus, "ListDependencies", &reply, "s", args[0]);
    if (r)
        return r;
    if (sd_bus_message_enter_container(reply, 'a', "(usss)") < 0)
        return EXIT_FAILURE;
    typedef struct Row {
        uint32_t depth;
        char *name, *how, *state;
    } Row;
    Row *rows = NULL;
    size_t n = 0;
    uint32_t depth;
    const char *name, *how, *state;
    while ((r = sd_bus_message_read(reply, "(usss)", &depth, &name, &how, &state)) > 0) {
        Row *nr = reallocarray(rows, n + 1, sizeof(Row));
        if (!nr)
            return EXIT_FAILURE;
        rows = nr;
        rows[n++] = (Row){depth, line_shown(name), strdup(how), strdup(state)};
    }
    bool more[65] = {}; /* at depth d, does a sibling follow? */
    for (size_t i = 0; i < n; i++) {
        uint32_t d = rows[i].depth < 64 ? rows[i].depth : 64;
        bool sibling = false;
        for (size_t k = i + 1; k < n && rows[k].depth >= rows[i].depth; k++)
            if (rows[k].depth == rows[i].depth) {
                sibling = true;
                break;
            }
        more[d] = sibling;
        for (uint32_t k = 1; k < d; k++)
            fputs(more[k] && !arg_plain ? "\u2502 " : "  ", stdout);
        if (d > 0)
            fputs(arg_plain ? "  " : sibling ? "\u251c\u2500" : "\u2514\u2500", stdout);
        bool has_how = d > 0 && rows[i].how && *rows[i].how;
        printf("%s (%s%s%s)\n", rows[i].name ?: "?", rows[i].state ?: "?", has_how ? ", " : "",
               has_how ? rows[i].how : "");
        free(rows[i].name);
        free(rows[i].how);
        free(rows[i].state);
    }
    free(rows);
    return 0;
}

/* The unit's ActiveState ("inactive" for a unit sandboxd has not loaded) in *ret; 0, or
 * EXIT_FAILURE once the error is reported. */
static int unit_active_state(sd_bus *bus, const char *unit, char **ret) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_free_ char *state = strdup("inactive");
    uint64_t timeout = arg_timeout ?: QUERY_TIMEOUT_USEC;
    int r = sd_bus_message_new_method_call(bus, &m, NULL, SANDBOXD_OBJECT_PATH,
                                           SANDBOXD_MANAGER_IFACE, "GetUnitProperties");
    if (r >= 0)
        r = sd_bus_message_append(m, "s", unit);
    if (r >= 0)
        r = sd_bus_call(bus, m, timeout, &error, &reply);
    if (r < 0 && !sd_bus_error_has_name(&error, SANDBOXD_ERROR_NO_SUCH_UNIT)) {
        if (!report_transport_error(r, timeout))
            print_message(error.message ?: strerror(-r));
        return EXIT_FAILURE;
    }
    if (r >= 0 && sd_bus_message_enter_container(reply, 'a', "(ss)") >= 0) {
        const char *k, *v;
        while (sd_bus_message_read(reply, "(ss)", &k, &v) > 0)
            if (streq(k, "ActiveState")) {
                free(state);
                state = strdup(v);
            }
    }
    if (!state)
        return EXIT_FAILURE;
    *ret = TAKE_PTR(state);
    return 0;
}

/* systemctl's is-active and is-failed: each unit's ActiveState on a line (unless --quiet), a
 * unit sandboxd has not loaded being "inactive"; exit 0 when at least one is in the state
 * asked about, else 3 for is-active (systemctl's "not running") and 1 for is-failed. */
static int verb_is_state(sd_bus *bus, char **args, const char *wanted) {
    bool any = false;
    STRV_FOREACH(a, args) {
        _cleanup_free_ char *state = NULL;
        int r = unit_active_state(bus, *a, &state);
        if (r)
            return r;
        any |= streq(state, wanted);
        if (!arg_quiet) {
            _cleanup_free_ char *shown = line_shown(state);
            puts(shown ?: "?");
        }
    }
    return any ? 0 : streq(wanted, "active") ? EXIT_NOT_ACTIVE : EXIT_FAILURE;
}

/* try-restart: restart the units that run (active or starting), leave the others alone. */
static int verb_try_restart(sd_bus *bus, char **args) {
    _cleanup_strv_free_ char **running = NULL;
    STRV_FOREACH(a, args) {
        _cleanup_free_ char *state = NULL;
        int r = unit_active_state(bus, *a, &state);
        if (r)
            return r;
        if ((streq(state, "active") || streq(state, "activating")) &&
            strv_extend(&running, *a) < 0)
            return EXIT_FAILURE;
    }
    return running ? verb_restart(bus, running) : 0;
}

static int verb_simple(sd_bus *bus, char **args, const char *method) {
    int ret = 0;
    STRV_FOREACH(a, args) {
        int r = call(bus, method, NULL, "s", *a);
        if (r)
            ret = r;
    }
    return ret;
}

static int verb_list(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = call(bus, "ListUnits", &reply, NULL);
    if (r)
        return r;
    r = sd_bus_message_enter_container(reply, 'a', "(ssssuss)");
    if (r < 0)
        return EXIT_FAILURE;
    if (arg_legend)
        printf("%-24s %-12s %-14s %-9s %-8s %-15s %s\n", "UNIT", "ACTIVE", "SUB", "ENABLED",
               "PID", "ADDRESS", "DESCRIPTION");
    unsigned n = 0;
    for (;;) {
        const char *id, *active, *sub, *desc, *addr, *enabled;
        uint32_t pid;
        r = sd_bus_message_read(reply, "(ssssuss)", &id, &active, &sub, &desc, &pid, &addr,
                                &enabled);
        if (r <= 0)
            break;
        char pidbuf[16] = "-";
        if (pid)
            snprintf(pidbuf, sizeof pidbuf, "%u", pid);
        _cleanup_free_ char *id_s = line_shown(id), *active_s = line_shown(active),
                            *sub_s = line_shown(sub), *desc_s = line_shown(desc);
        if (!id_s || !active_s || !sub_s || !desc_s) {
            r = -ENOMEM;
            break;
        }
        printf("%-24s %-12s %-14s %-9s %-8s %-15s %s\n", id_s, active_s, sub_s, enabled,
               pidbuf, *addr ? addr : "-", desc_s);
        n++;
    }
    if (arg_legend)
        printf("\n%u unit%s listed.\n", n, n == 1 ? "" : "s");
    return r < 0 ? EXIT_FAILURE : 0;
}

static int on_state_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    char **units = userdata;
    const char *unit, *old, *new, *sub, *result;
    uint32_t pid;
    uint64_t usec;
    if (sd_bus_message_read(m, "sssssut", &unit, &old, &new, &sub, &result, &pid, &usec) < 0)
        return 0;
    if (units && !strv_contains(units, unit))
        return 0;
    if (arg_json) {
        /* names, states and results are the daemon's words: no escaping needed */
        printf("{\"unit\":\"%s\",\"old_state\":\"%s\",\"new_state\":\"%s\","
               "\"sub_state\":\"%s\",\"result\":\"%s\",\"main_pid\":%" PRIu32
               ",\"timestamp\":%" PRIu64 "}\n", unit, old, new, sub, result, pid, usec);
    } else {
        char stamp[64] = "";
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s.%06" PRIu64 " %s: %s -> %s (%s)", stamp, usec % USEC_PER_SEC, unit, old, new,
               sub);
        if (!streq(result, "success"))
            printf(" Result: %s", result);
        if (pid)
            printf(", main PID %" PRIu32, pid);
        printf("\n");
    }
    fflush(stdout);
    return 0;
}

/* monitor [UNIT...]: the state changes of every unit (or of these) as they happen. */
static int verb_monitor(sd_bus *bus, char **args) {
    _cleanup_strv_free_ char **units = NULL;
    STRV_FOREACH(a, args) {
        char *u;
        if (asprintf(&u, "%s%s", *a, strchr(*a, '.') ? "" : ".unit") < 0 ||
            strv_consume(&units, u) < 0)
            return EXIT_FAILURE;
    }
    int r = sd_bus_match_signal(bus, NULL, NULL, SANDBOXD_OBJECT_PATH, SANDBOXD_MANAGER_IFACE,
                                "UnitStateChanged", on_state_changed, units);
    if (r < 0) {
        fprintf(stderr, "sandboxctl: watching state changes: %s\n", strerror(-r));
        return EXIT_FAILURE;
    }
    if ((r = call(bus, "Subscribe", NULL, NULL)))
        return r;
    for (;;) {
        r = sd_bus_process(bus, NULL);
        if (r > 0)
            continue;
        if (r >= 0)
            r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0 && r != -EINTR) {
            fprintf(stderr, "sandboxctl: sandboxd at %s went away (%s)\n", socket_path,
                    strerror(-r));
            return EXIT_FAILURE;
        }
    }
}

static int verb_daemon_reload(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_strv_free_ char **errors = NULL;
    uint32_t n;
    int r = call(bus, "Reload", &reply, NULL);
    if (r)
        return r;
    if (sd_bus_message_read(reply, "u", &n) < 0 || sd_bus_message_read_strv(reply, &errors) < 0)
        return EXIT_FAILURE;
    STRV_FOREACH(e, errors)
        print_message(*e);
    return errors ? EXIT_FAILURE : 0;
}

static int verb_list_unit_files(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = call(bus, "ListUnitFiles", &reply, NULL);
    if (r)
        return r;
    r = sd_bus_message_enter_container(reply, 'a', "(sss)");
    if (r < 0)
        return EXIT_FAILURE;
    if (arg_legend)
        printf("%-32s %-9s %s\n", "UNIT FILE", "STATE", "PATH");
    unsigned n = 0;
    for (;;) {
        const char *name, *path, *state;
        r = sd_bus_message_read(reply, "(sss)", &name, &path, &state);
        if (r <= 0)
            break;
        _cleanup_free_ char *path_s = line_shown(path);
        if (!path_s) {
            r = -ENOMEM;
            break;
        }
        printf("%-32s %-9s %s\n", name, state, path_s); /* names are checked unit names */
        n++;
    }
    if (arg_legend)
        printf("\n%u unit file%s listed.\n", n, n == 1 ? "" : "s");
    return r < 0 ? EXIT_FAILURE : 0;
}

/* The worker's output, which the daemon made valid UTF-8 without terminal controls. */
static int print_text_reply(sd_bus_message *reply) {
    const char *out;
    if (sd_bus_message_read(reply, "s", &out) < 0)
        return EXIT_FAILURE;
    fputs(out, stdout);
    return 0;
}

/* image export NAME[:TAG] DEST: written to a temporary file beside DEST, renamed over it once
 * whole (a failed export leaves DEST as it was); "-": standard output, not a terminal. */
static int image_export(sd_bus *bus, const char *ref, const char *dest) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int fd = -EBADF;
    bool to_stdout = streq(dest, "-");
    if (to_stdout && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "sandboxctl: not writing an archive to a terminal; give a file\n");
        return EXIT_FAILURE;
    }
    if (to_stdout)
        fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    else if (asprintf(&tmp, "%s.XXXXXX", dest) >= 0)
        fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "sandboxctl: %s: %s\n", to_stdout ? "standard output" : dest,
                strerror(errno));
        return EXIT_FAILURE;
    }
    if (!to_stdout)
        {
            mode_t mask = umask(0);
            umask(mask);
            (void) fchmod(fd, 0644 & ~mask);
        }
    int r = call(bus, "ExportImage", &reply, "sh", ref, fd);
    if (!r && !to_stdout && (fsync(fd) < 0 || rename(tmp, dest) < 0)) {
        fprintf(stderr, "sandboxctl: %s: %s\n", dest, strerror(errno));
        r = EXIT_FAILURE;
    }
    if (r && !to_stdout)
        (void) unlink(tmp);
    if (r)
        return r;
    const char *out;
    if (sd_bus_message_read(reply, "s", &out) < 0)
        return EXIT_FAILURE;
    fputs(out, to_stdout ? stderr : stdout);
    return 0;
}

/* commit UNIT NAME[:TAG] */
static int verb_commit(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    int r = call(bus, "CommitUnit", &reply, "ss", args[0], args[1]);
    return r ?: print_text_reply(reply);
}

/* diff UNIT: the worker writes the lines to our standard output itself */
static int verb_diff(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    fflush(stdout);
    int r = call(bus, "DiffUnit", &reply, "sh", args[0], STDOUT_FILENO);
    return r ?: print_text_reply(reply);
}

/* An import's progress on a terminal, drawn by a child from the worker's "progress LAYER N
 * BYTES" lines on a pipe (*ret_fd: its write end, for the daemon to hand on) until every
 * writer is gone; the line is cleared at the end. */
static pid_t start_progress(int *ret_fd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[1]);
        FILE *f = fdopen(p[0], "r");
        char line[128], sz[64];
        bool shown = false;
        size_t layer, n;
        unsigned long long bytes;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "progress %zu %zu %llu", &layer, &n, &bytes) == 3) {
                fprintf(stderr, "\rImporting layer %zu/%zu: %s read\033[K", layer, n,
                        format_bytes(sz, bytes));
                shown = true;
            }
        if (shown)
            fputs("\r\033[K", stderr);
        _exit(0);
    }
    close(p[0]);
    *ret_fd = p[1];
    return pid;
}

/* image import SOURCE NAME[:TAG] | image list */
static int verb_image(sd_bus *bus, char **args) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    size_t n = strv_length(args);
    int r;
    if (streq(args[0], "import") && n == 3) {
        /* the daemon takes absolute paths; DIR:REF keeps its ":REF" */
        _cleanup_free_ char *path = realpath(args[1], NULL), *source = NULL;
        const char *ref_part = NULL;
        /* else PATH:REF, the shortest existing PATH (a REF may hold ':', as "app:2" does) */
        for (const char *colon = strchr(args[1], ':'); !path && colon;
             colon = strchr(colon + 1, ':')) {
            _cleanup_free_ char *dir = strndup(args[1], (size_t) (colon - args[1]));
            if (dir && (path = realpath(dir, NULL)))
                ref_part = colon;
        }
        if (!path) {
            fprintf(stderr, "sandboxctl: %s: %s\n", args[1], strerror(errno));
            return EXIT_FAILURE;
        }
        if (asprintf(&source, "%s%s", path, ref_part ?: "") < 0)
            return EXIT_FAILURE;
        if (!isatty(STDERR_FILENO)) {
            r = call(bus, "ImportImage", &reply, "ss", source, args[2]);
            return r ?: print_text_reply(reply);
        }
        int progress_fd;
        pid_t drawer = start_progress(&progress_fd);
        if (drawer < 0)
            r = call(bus, "ImportImage", &reply, "ss", source, args[2]);
        else {
            r = call(bus, "ImportImageWithProgress", &reply, "ssh", source, args[2], progress_fd);
            close(progress_fd);
            (void) waitpid(drawer, NULL, 0); /* it has cleared its line */
        }
        return r ?: print_text_reply(reply);
    }
    if (streq(args[0], "list") && n == 1) {
        r = call(bus, "ListImages", &reply, NULL);
        if (r)
            return r;
        if (sd_bus_message_enter_container(reply, 'a', "(ssssutt)") < 0)
            return EXIT_FAILURE;
        printf("%-32s %-12s %-12s %6s %10s %10s  %s\n", "IMAGE", "TAG", "ID", "LAYERS", "SIZE",
               "SHARED", "CREATED");
        unsigned count = 0;
        for (;;) {
            const char *name, *tag, *id, *created;
            uint32_t layers;
            uint64_t size, shared;
            r = sd_bus_message_read(reply, "(ssssutt)", &name, &tag, &id, &created, &layers,
                                    &size, &shared);
            if (r <= 0)
                break;
            char sz[64], sh[64];
            _cleanup_free_ char *created_s = line_shown(created);
            printf("%-32s %-12s %-12s %6u %10s %10s  %s\n", name, tag, id, layers,
                   format_bytes(sz, size), format_bytes(sh, shared), created_s ?: "?");
            count++;
        }
        printf("\n%u image%s listed.\n", count, count == 1 ? "" : "s");
        return r < 0 ? EXIT_FAILURE : 0;
    }
    if (streq(args[0], "export") && n == 3)
        return image_export(bus, args[1], args[2]);
    const char *method = NULL;
    if (streq(args[0], "remove") && n == 2)
        r = call(bus, method = "RemoveImage", &reply, "sb", args[1], (int) arg_force);
    else if (streq(args[0], "tag") && n == 3)
        r = call(bus, method = "TagImage", &reply, "ss", args[1], args[2]);
    else if (streq(args[0], "inspect") && n == 2)
        r = call(bus, method = "InspectImage", &reply, "s", args[1]);
    else if (streq(args[0], "prune") && n == 1)
        r = call(bus, method = "PruneImages", &reply, NULL);
    if (!method) {
        fprintf(stderr, "sandboxctl image: expected import, list, inspect, tag, remove, "
                        "export or prune (see --help)\n");
        return EXIT_FAILURE;
    }
    return r ?: print_text_reply(reply);
}

static int verb_show(sd_bus *bus, char **args) {
    bool escape = !arg_raw && isatty(STDOUT_FILENO);
    int ret = 0;
    STRV_FOREACH(a, args) {
        Props ps;
        int r = get_props(bus, *a, escape, &ps);
        if (r) {
            ret = r;
            continue;
        }
        if (a != args)
            printf("\n");
        for (size_t i = 0; i < ps.n; i++) {
            if (arg_properties && !strv_contains(arg_properties, ps.p[i].key))
                continue;
            /* as systemctl: empty values only when asked for by name or with --all */
            if (!arg_properties && !arg_all && !*ps.p[i].value)
                continue;
            if (arg_value)
                printf("%s\n", ps.p[i].shown);
            else
                printf("%s=%s\n", ps.p[i].key, ps.p[i].shown);
        }
        props_done(&ps);
    }
    return ret;
}

#define ANSI_GREEN "\x1b[0;1;32m"
#define ANSI_RED "\x1b[0;1;31m"
#define ANSI_NORMAL "\x1b[0m"

/* As systemctl: on a terminal, unless NO_COLOR is set or SYSTEMD_COLORS says no. */
static bool colors_enabled(void) {
    const char *e = getenv("SYSTEMD_COLORS");
    if (getenv("NO_COLOR") || arg_raw)
        return false;
    if (e && (streq(e, "0") || streq(e, "no") || streq(e, "false") || streq(e, "off")))
        return false;
    if (e && (streq(e, "1") || streq(e, "yes") || streq(e, "true") || streq(e, "on")))
        return true;
    const char *term = getenv("TERM");
    return isatty(STDOUT_FILENO) && !(term && streq(term, "dumb"));
}

static void print_since(uint64_t usec) {
    time_t t = (time_t) (usec / USEC_PER_SEC);
    struct tm tm;
    char when[64], ago[64];
    strftime(when, sizeof when, "%a %Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t n = (uint64_t) now.tv_sec * USEC_PER_SEC + (uint64_t) now.tv_nsec / 1000;
    uint64_t d = n > usec ? n - usec : 0;
    /* whole seconds, or whole milliseconds just after a change */
    d = d >= USEC_PER_SEC ? d - d % USEC_PER_SEC : d - d % USEC_PER_MSEC;
    printf(" since %s; %s ago", when, format_timespan(ago, d));
}

static int verb_status(sd_bus *bus, char **args) {
    bool color = colors_enabled();
    int ret = 0;
    STRV_FOREACH(a, args) {
        Props ps;
        char b1[64], b2[64];
        uint64_t v;
        int r = get_props(bus, *a, !arg_raw, &ps);
        if (r) {
            ret = r == EXIT_NO_SUCH_UNIT ? EXIT_NO_SUCH_UNIT : r;
            continue;
        }
        if (a != args)
            printf("\n");
        const char *active = prop_shown(&ps, "ActiveState");
        const char *desc = prop_shown(&ps, "Description");
        bool running = streq(prop(&ps, "ActiveState"), "active");
        bool failed = streq(prop(&ps, "ActiveState"), "failed");
        /* systemctl's colours: green for running, red for failed */
        const char *on = !color ? "" : running ? ANSI_GREEN : failed ? ANSI_RED : "";
        const char *off = *on ? ANSI_NORMAL : "";
        printf("%s%s%s %s%s%s\n", on, running || failed ? "\u25cf" : "\u25cb", off,
               prop_shown(&ps, "Id"), *desc ? " - " : "", desc);
        printf("     Loaded: loaded (%s; %s)\n", prop_shown(&ps, "FragmentPath"),
               prop_shown(&ps, "UnitFileState"));
        if (streq(prop(&ps, "NeedDaemonReload"), "yes"))
            printf("    Warning: the unit file of %s changed on disk. Run 'sandboxctl "
                   "daemon-reload' to reload units.\n", prop_shown(&ps, "Id"));
        if (streq(prop(&ps, "ReloadedConfigPending"), "yes"))
            printf("    Warning: runs with the configuration it started with; a restart "
                   "applies the reloaded unit file.\n");
        /* systemctl's form: why it failed, not the sub-state "failed" again */
        bool has_result = !streq(prop(&ps, "Result"), "success");
        printf("     Active: %s%s%s", on, active, off);
        if (!failed)
            printf(" (%s)", prop_shown(&ps, "SubState"));
        if (has_result)
            printf(" (Result: %s)", prop_shown(&ps, "Result"));
        if (safe_atou64(prop(&ps, "StateChangeTimestampUSec"), &v) >= 0 && v > 0)
            print_since(v);
        printf("\n");
        if (!streq(prop(&ps, "MainPID"), "0"))
            printf("   Main PID: %s\n", prop_shown(&ps, "MainPID"));
        if (*prop(&ps, "StatusText"))
            printf("     Status: \"%s\"\n", prop_shown(&ps, "StatusText"));
        if (*prop(&ps, "Health")) {
            printf("     Health: %s", prop_shown(&ps, "Health"));
            if (*prop(&ps, "HealthResult"))
                printf(" (last probe: %s%s%s%s)", prop_shown(&ps, "HealthResult"),
                       *prop(&ps, "HealthOutput") ? ", \"" : "", prop_shown(&ps, "HealthOutput"),
                       *prop(&ps, "HealthOutput") ? "\"" : "");
            if (!streq(prop(&ps, "HealthFailures"), "0"))
                printf(", %s failed in a row", prop_shown(&ps, "HealthFailures"));
            printf("\n");
        }
        if (!streq(prop(&ps, "TasksCurrent"), "infinity"))
            printf("      Tasks: %s (limit: %s)\n", prop_shown(&ps, "TasksCurrent"),
                   prop_shown(&ps, "TasksMax"));
        if (safe_atou64(prop(&ps, "MemoryCurrent"), &v) >= 0) {
            /* as systemctl: only the limits that are set, in one parenthesis */
            static const char *const lim[][2] = {
                {"MemoryHigh", "high"}, {"MemoryMax", "max"}, {"MemorySwapMax", "swap max"}};
            const char *sep = " (";
            printf("     Memory: %s", format_bytes(b1, v));
            for (size_t i = 0; i < ELEMENTSOF(lim); i++) {
                uint64_t x;
                if (safe_atou64(prop(&ps, lim[i][0]), &x) < 0)
                    continue; /* "infinity" */
                printf("%s%s: %s", sep, lim[i][1], format_bytes(b2, x));
                sep = " ";
            }
            printf("%s", streq(sep, " ") ? ")" : "");
            uint64_t max;
            if (safe_atou64(prop(&ps, "MemoryMax"), &max) >= 0 && max > 0)
                printf(", %.1f%% of max", 100.0 * (double) v / (double) max);
            printf("\n");
        }
        if (safe_atou64(prop(&ps, "CPUUsageNSec"), &v) >= 0) {
            uint64_t q;
            printf("        CPU: %s", format_timespan(b1, v / NSEC_PER_USEC));
            /* on average since it became active: one CPU is 100% (top shows it now) */
            uint64_t since;
            if (running && safe_atou64(prop(&ps, "StateChangeTimestampUSec"), &since) >= 0) {
                uint64_t now = now_usec(CLOCK_REALTIME);
                if (now > since + USEC_PER_SEC / 10)
                    printf(" (%.1f%% since started)",
                           100.0 * (double) (v / NSEC_PER_USEC) / (double) (now - since));
            }
            if (parse_timespan(prop(&ps, "CPUQuotaPerSecUSec"), &q) >= 0 && q != USEC_INFINITY)
                printf(" (quota: %" PRIu64 "%%)", q / 10000);
            if (*prop(&ps, "AllowedCPUs"))
                printf(" (cpus: %s)", prop_shown(&ps, "AllowedCPUs"));
            if (*prop(&ps, "CPUWeight"))
                printf(" (weight: %s)", prop_shown(&ps, "CPUWeight"));
            printf("\n");
        }
        if (*prop(&ps, "ControlGroup"))
            printf("     CGroup: %s\n", prop_shown(&ps, "ControlGroup"));
        printf(" Namespaces: %s\n", prop_shown(&ps, "Namespaces"));
        /* Network=bridge: the addresses it has (or will have), and what it publishes */
        printf("    Network: %s", prop_shown(&ps, "Network"));
        if (*prop(&ps, "IPAddress"))
            printf(" %s", prop_shown(&ps, "IPAddress"));
        if (*prop(&ps, "IPv6Address"))
            printf(" %s", prop_shown(&ps, "IPv6Address"));
        printf("\n");
        if (*prop(&ps, "Ports"))
            printf("      Ports: %s\n", prop_shown(&ps, "Ports"));
        unsigned base, size;
        if (sscanf(prop(&ps, "UserNamespace"), "0 %u %u", &base, &size) == 2)
            printf("   User IDs: 0-%u inside are %u-%u on the host\n", size - 1, base,
                   base + size - 1);
        if (*prop(&ps, "Image"))
            printf("      Image: %s\n", prop_shown(&ps, "Image"));
        else if (*prop(&ps, "Layers"))
            printf("     Layers: %s\n", prop_shown(&ps, "Layers"));
        else
            printf("       Root: %s\n", prop_shown(&ps, "RootDirectory"));
        printf("    Command: %s\n", prop_shown(&ps, "ExecStart"));
        if (!streq(prop(&ps, "NRestarts"), "0"))
            printf("   Restarts: %s (Restart=%s)\n", prop_shown(&ps, "NRestarts"),
                   prop_shown(&ps, "Restart"));
        int code = atoi(prop(&ps, "ExecMainCode"));
        if (code == 1 /* CLD_EXITED */)
            printf("  Last exit: status=%s\n", prop_shown(&ps, "ExecMainStatus"));
        else if (code == 2 || code == 3)
            printf("  Last exit: signal=%s\n", signal_to_string(atoi(prop(&ps, "ExecMainStatus"))));
        if (*prop(&ps, "StatusErrorMessage"))
            printf("      Error: %s\n", prop_shown(&ps, "StatusErrorMessage"));

        if (arg_lines > 0) {
            uint32_t max = 1;
            (void) safe_atou32(prop(&ps, "LogMaxFiles"), &max);
            LogSource src = {prop(&ps, "Id"), prop(&ps, "LogTarget"), prop(&ps, "LogPath"), max};
            printf("\n");
            fflush(stdout);
            r = logs_show(&src, 1, arg_lines, 0, LOG_OUTPUT_SHORT, false);
            if (r < 0) {
                fprintf(stderr, "sandboxctl: reading the log of %s: %s\n",
                        prop_shown(&ps, "Id"), strerror(-r));
                ret = EXIT_FAILURE;
            }
        }
        if (!running && !ret)
            ret = EXIT_NOT_ACTIVE;
        props_done(&ps);
    }
    return ret;
}

/* Where each unit's log is: LogTarget=, LogPath=, LogMaxFiles= of its properties, which stay
 * in ps (srcs point into them). */
static int log_sources(sd_bus *bus, char **args, Props *ps, LogSource *srcs) {
    size_t i = 0;
    STRV_FOREACH(a, args) {
        int r = get_props(bus, *a, false, &ps[i]);
        if (r)
            return r;
        uint32_t max = 1;
        (void) safe_atou32(prop(&ps[i], "LogMaxFiles"), &max);
        srcs[i] = (LogSource){prop(&ps[i], "Id"), prop(&ps[i], "LogTarget"),
                              prop(&ps[i], "LogPath"), max};
        i++;
    }
    return 0;
}

/* The log is bytes (payload output need not be text): escaped, or with --raw as they are.
 * Several units are merged by time. */
static int verb_logs(sd_bus *bus, char **args) {
    size_t n = strv_length(args);
    _cleanup_free_ Props *ps = calloc(n, sizeof *ps);
    _cleanup_free_ LogSource *srcs = calloc(n, sizeof *srcs);
    if (!ps || !srcs)
        return EXIT_FAILURE;
    int r = log_sources(bus, args, ps, srcs);
    if (r == 0) {
        /* nothing more to ask: the daemon may go while we follow */
        r = logs_show(srcs, n, arg_lines, arg_since, arg_output, arg_follow);
        if (r == -EPIPE)
            r = 0; /* `logs -f | head` */
        else if (r < 0) {
            fprintf(stderr, "sandboxctl: reading the log%s: %s\n", n == 1 ? "" : "s",
                    strerror(-r));
            r = EXIT_FAILURE;
        }
    }
    for (size_t i = 0; i < n; i++)
        props_done(&ps[i]);
    return r;
}

static void help(void) {
    printf("sandboxctl [OPTIONS] COMMAND [UNIT...]\n\n"
           "Commands:\n"
           "  start UNIT...         start units (a name from the unit path, or a file path)\n"
           "  stop UNIT...          stop units\n"
           "  restart UNIT...       re-read the unit file, then stop and start; a bad file\n"
           "                        refuses the restart and leaves the unit running\n"
           "  status UNIT...        show state, limits, usage and the last log lines\n"
           "  show UNIT...          show properties as Key=Value\n"
           "  list                  list loaded units (ENABLED: started at sandboxd's start)\n"
           "  list-unit-files       list the unit files of the unit path, enabled or not\n"
           "  top                   the running sandboxes' CPU %%, memory, tasks and IO,\n"
           "                        refreshed every -d (1s); -n N times (a terminal: until\n"
           "                        interrupted; a pipe or --json: once); --order=cpu|memory|\n"
           "                        tasks|io|name\n"
           "  monitor [UNIT...]     print state changes as they happen (--json: one object\n"
           "                        per line)\n"
           "  daemon-reload         read every loaded unit file again (running units keep\n"
           "                        their configuration until they restart)\n"
           "  logs UNIT...          show the units' logs (payload output and sandboxd's events\n"
           "                        for them), merged by time; from the journal when sandboxd\n"
           "                        writes there, else from its files (rotated ones too)\n"
           "  verify FILE...        check unit files offline, printing every error; static\n"
           "                        addresses against the subnets of sandboxd.conf\n"
           "  clean UNIT...         remove a stopped unit's rw layer and runtime state\n"
           "  reset-failed UNIT...  clear the failed state and the start limit\n"
           "  enable [--now] UNIT...  start units when sandboxd starts (a link in its enabled\n"
           "                        directory to the unit file; a path outside the unit path\n"
           "                        is linked as it is); --now: start them too\n"
           "  disable [--now] UNIT...  no more; --now: stop them too\n"
           "  is-enabled UNIT...    print enabled or disabled; exit 0 if all are enabled\n"
           "  is-active UNIT...     print each unit's state; exit 0 if any is active, else 3\n"
           "  cat UNIT...           print the unit file (by name, as sandboxd finds it)\n"
           "  try-restart UNIT...   restart the units that run; leave the others alone\n"
           "  reload-or-restart UNIT...  restart (no payload reloads here), starting it if\n"
           "                        it does not run\n"
           "  kill UNIT...          send a signal (-s, --signal=SIG, default SIGTERM) to every\n"
           "                        process of the sandbox, or to its main process only\n"
           "                        (--kill-whom=main|all, default all)\n"
           "  is-failed UNIT...     print each unit's state; exit 0 if any has failed, else 1\n"
           "  list-dependencies UNIT  the units a start pulls in (Requires=, BindsTo=,\n"
           "                        Wants=), as a tree with their states\n"
           "  image import SOURCE NAME[:TAG]\n"
           "                        import an image: an OCI layout directory (DIR or\n"
           "                        DIR:REF), an OCI or docker archive (FILE or FILE:REF),\n"
           "                        a rootfs tarball (gzip, zstd, xz or none) or a rootfs\n"
           "                        directory\n"
           "  image list            list the images in the store\n"
           "  image inspect NAME[:TAG]  the image's record and config as JSON\n"
           "  image tag SRC DST     give an image another name\n"
           "  image remove NAME[:TAG]  remove an image (not while a running unit or, without\n"
           "                        --force, a unit file uses it); its layers go at prune\n"
           "  image prune           remove the layers no image and no running unit uses\n"
           "  image export NAME[:TAG] DEST.tar\n"
           "                        write the image as an OCI layout tar (gzip layers; the\n"
           "                        tag is its ref name); DEST - is standard output\n"
           "  commit UNIT NAME[:TAG]  the unit's rw layer as a new image on top of its own\n"
           "                        (a running unit is frozen meanwhile; /etc/hosts,\n"
           "                        /etc/hostname and /etc/resolv.conf are left out)\n"
           "  diff UNIT             what the unit changed against its image (A/C/D PATH)\n\n"
           "Options:\n"
           "  -p, --property=KEY    with show: only these properties (repeatable, or a,b)\n"
           "      --value           with show: print values only\n"
           "  -a, --all             with show: empty properties too\n"
           "  -n, --lines=N         with status and logs: how many log lines (0: all)\n"
           "  -f, --follow          with logs: go on printing lines as they are written\n"
           "      --since=TIME      with logs: lines from then on (\"2026-11-30 18:00\", \"18:00\",\n"
           "                        today, yesterday, -1h, \"5min ago\")\n"
           "  -o, --output=FORMAT   with logs: short (as the file holds them), cat (the text\n"
           "                        only) or json (journalctl's field names)\n"
           "      --force           with image remove: even if unit files name the image\n"
           "      --now             with enable and disable: start or stop the units too\n"
           "  -q, --quiet           with is-active and is-failed: print nothing\n"
           "      --json            with monitor: JSON lines\n"
           "      --no-legend       with list and list-unit-files: no header and footer\n"
           "      --plain           with list-dependencies: a list, not a tree\n"
           "      --no-pager        accepted, as systemctl's (sandboxctl never pages)\n"
           "      --raw             print logs and unit text as they are; by default control\n"
           "                        characters (ESC, CR...) and invalid UTF-8 are escaped\n"
           "                        (\\x1b, \\r, \\xff), in show's values only on a terminal\n"
           "      --socket=PATH     sandboxd's socket (default $SANDBOXD_SOCKET or "
           SANDBOXD_SOCKET_DEFAULT ")\n"
           "      --timeout=SPAN    how long to wait for sandboxd (default: 25s for queries,\n"
           "                        no limit for start, stop and restart)\n"
           "      --image-store=PATH  with verify: the image store Image= is looked up in\n"
           "                        (default " IMAGE_STORE_DEFAULT ")\n"
           "      --unit-path=DIRS  with verify: where the units a file depends on are\n"
           "                        looked up after the file's own directory (default\n"
           "                        " UNIT_PATH_DEFAULT ")\n"
           "      --config=PATH     with verify: sandboxd.conf (default "
           DAEMON_CONFIG_PATH_DEFAULT ",\n"
           "                        which may be missing)\n"
           "  -h, --help\n      --version\n");
}

int main(int argc, char *argv[]) {
    enum { ARG_SOCKET = 0x100, ARG_VALUE, ARG_VERSION, ARG_TIMEOUT, ARG_RAW, ARG_CONFIG,
           ARG_FORCE, ARG_IMAGE_STORE, ARG_NOW, ARG_UNIT_PATH, ARG_KILL_WHOM,
           ARG_NO_LEGEND, ARG_NO_PAGER, ARG_PLAIN, ARG_SINCE, ARG_JSON, ARG_ORDER };
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},        {"property", required_argument, NULL, 'p'},
        {"value", no_argument, NULL, ARG_VALUE}, {"lines", required_argument, NULL, 'n'},
        {"socket", required_argument, NULL, ARG_SOCKET},
        {"timeout", required_argument, NULL, ARG_TIMEOUT},
        {"raw", no_argument, NULL, ARG_RAW},
        {"force", no_argument, NULL, ARG_FORCE},
        {"config", required_argument, NULL, ARG_CONFIG},
        {"image-store", required_argument, NULL, ARG_IMAGE_STORE},
        {"now", no_argument, NULL, ARG_NOW},
        {"quiet", no_argument, NULL, 'q'},
        {"signal", required_argument, NULL, 's'},
        {"kill-whom", required_argument, NULL, ARG_KILL_WHOM},
        {"unit-path", required_argument, NULL, ARG_UNIT_PATH},
        {"version", no_argument, NULL, ARG_VERSION},
        {"no-legend", no_argument, NULL, ARG_NO_LEGEND},
        {"all", no_argument, NULL, 'a'},
        {"follow", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, ARG_JSON},
        {"delay", required_argument, NULL, 'd'},
        {"order", required_argument, NULL, ARG_ORDER},
        {"since", required_argument, NULL, ARG_SINCE},
        {"output", required_argument, NULL, 'o'},
        {"no-pager", no_argument, NULL, ARG_NO_PAGER},
        {"plain", no_argument, NULL, ARG_PLAIN},
        {},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "hafd:o:p:n:qs:", options, NULL)) >= 0)
        switch (opt) {
        case 'h':
            help();
            return 0;
        case 'p':
            for (char *s = strtok(optarg, ","); s; s = strtok(NULL, ","))
                if (strv_extend(&arg_properties, s) < 0)
                    return EXIT_FAILURE;
            break;
        case 'n': {
            uint32_t n;
            if (safe_atou32(optarg, &n) < 0) {
                fprintf(stderr, "sandboxctl: --lines=%s: expected a number\n", optarg);
                return EXIT_FAILURE;
            }
            arg_lines = n;
            arg_lines_set = true;
            break;
        }
        case 'd': {
            if (parse_timespan(optarg, &arg_delay) < 0 || arg_delay == 0 ||
                arg_delay == USEC_INFINITY) {
                fprintf(stderr, "sandboxctl: --delay=%s: expected a time span like 1s or "
                                "500ms\n", optarg);
                return EXIT_FAILURE;
            }
            break;
        }
        case ARG_ORDER: {
            static const char *const names[] = {"cpu", "memory", "tasks", "io", "name"};
            size_t k;
            for (k = 0; k < ELEMENTSOF(names) && !streq(optarg, names[k]); k++)
                ;
            if (k == ELEMENTSOF(names)) {
                fprintf(stderr, "sandboxctl: --order=%s: expected cpu, memory, tasks, io or "
                                "name\n", optarg);
                return EXIT_FAILURE;
            }
            arg_order = (TopOrder) k;
            break;
        }
        case ARG_VALUE:
            arg_value = true;
            break;
        case ARG_SOCKET:
            arg_socket = optarg;
            break;
        case ARG_FORCE:
            arg_force = true;
            break;
        case 'q':
            arg_quiet = true;
            break;
        case 's':
            if (parse_signal(optarg, &arg_signal) < 0) {
                fprintf(stderr, "sandboxctl: --signal=%s: expected a signal name like SIGHUP, "
                                "or its number\n", optarg);
                return EXIT_FAILURE;
            }
            break;
        case ARG_KILL_WHOM:
            if (!streq(optarg, "main") && !streq(optarg, "all")) {
                fprintf(stderr, "sandboxctl: --kill-whom=%s: expected main or all\n", optarg);
                return EXIT_FAILURE;
            }
            arg_kill_whom = optarg;
            break;
        case ARG_NOW:
            arg_now = true;
            break;
        case ARG_RAW:
            arg_raw = true;
            break;
        case ARG_CONFIG:
            arg_config = optarg;
            break;
        case ARG_IMAGE_STORE:
            arg_image_store = optarg;
            break;
        case ARG_UNIT_PATH:
            arg_unit_path = optarg;
            break;
        case ARG_TIMEOUT:
            if (parse_timespan(optarg, &arg_timeout) < 0 || arg_timeout == 0) {
                fprintf(stderr, "sandboxctl: --timeout=%s: expected a time span like 30s, "
                                "5min or infinity\n", optarg);
                return EXIT_FAILURE;
            }
            break;
        case 'a':
            arg_all = true;
            break;
        case 'f':
            arg_follow = true;
            break;
        case ARG_JSON:
            arg_json = true;
            break;
        case 'o':
            if (streq(optarg, "short"))
                arg_output = LOG_OUTPUT_SHORT;
            else if (streq(optarg, "cat"))
                arg_output = LOG_OUTPUT_CAT;
            else if (streq(optarg, "json"))
                arg_output = LOG_OUTPUT_JSON;
            else {
                fprintf(stderr, "sandboxctl: --output=%s: expected short, cat or json\n", optarg);
                return EXIT_FAILURE;
            }
            break;
        case ARG_SINCE:
            if (parse_since(optarg, &arg_since) < 0) {
                fprintf(stderr, "sandboxctl: --since=%s: expected a time like \"2026-11-30 "
                                "18:00\", \"18:00\", today, yesterday, -1h or \"5min ago\"\n",
                        optarg);
                return EXIT_FAILURE;
            }
            break;
        case ARG_NO_LEGEND:
            arg_legend = false;
            break;
        case ARG_NO_PAGER: /* sandboxctl never pages: accepted for systemctl's scripts */
            break;
        case ARG_PLAIN:
            arg_plain = true;
            break;
        case ARG_VERSION:
            printf("sandboxctl %s\n", SANDBOXD_VERSION);
            return 0;
        default:
            return EXIT_FAILURE;
        }
    if (optind >= argc) {
        help();
        return EXIT_FAILURE;
    }
    const char *verb = argv[optind];
    char **args = argv + optind + 1;
    size_t n = strv_length(args);

    static const struct {
        const char *name;
        size_t min, max;
    } verbs[] = {
        {"start", 1, SIZE_MAX},   {"stop", 1, SIZE_MAX},  {"restart", 1, SIZE_MAX},
        {"status", 1, SIZE_MAX},  {"show", 1, SIZE_MAX},  {"list", 0, 0},
        {"logs", 1, SIZE_MAX},           {"verify", 1, SIZE_MAX}, {"clean", 1, SIZE_MAX},
        {"reset-failed", 1, SIZE_MAX}, {"image", 1, 3}, {"commit", 2, 2},
        {"diff", 1, 1},           {"enable", 1, SIZE_MAX}, {"disable", 1, SIZE_MAX},
        {"is-enabled", 1, SIZE_MAX}, {"list-dependencies", 1, 1},
        {"is-active", 1, SIZE_MAX}, {"is-failed", 1, SIZE_MAX}, {"cat", 1, SIZE_MAX},
        {"kill", 1, SIZE_MAX},  {"try-restart", 1, SIZE_MAX}, {"reload-or-restart", 1, SIZE_MAX},
        {"list-unit-files", 0, 0}, {"daemon-reload", 0, 0}, {"monitor", 0, SIZE_MAX},
        {"top", 0, 0},
    };
    size_t i;
    for (i = 0; i < ELEMENTSOF(verbs); i++)
        if (streq(verb, verbs[i].name))
            break;
    if (i == ELEMENTSOF(verbs)) {
        fprintf(stderr, "sandboxctl: unknown command '%s' (see --help)\n", verb);
        return EXIT_FAILURE;
    }
    if (n < verbs[i].min || n > verbs[i].max) {
        fprintf(stderr, "sandboxctl %s: wrong number of arguments (see --help)\n", verb);
        return EXIT_FAILURE;
    }
    if (streq(verb, "verify"))
        return verb_verify(args);

    _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
    if (connect_bus(&bus) < 0)
        /* systemctl's: a state query that cannot be answered says "not active" */
        return streq(verb, "status") || streq(verb, "is-active") ? EXIT_NOT_ACTIVE : EXIT_FAILURE;
    if (streq(verb, "start"))
        return verb_start(bus, args);
    if (streq(verb, "stop"))
        return verb_simple(bus, args, "StopUnit");
    if (streq(verb, "restart"))
        return verb_restart(bus, args);
    if (streq(verb, "status"))
        return verb_status(bus, args);
    if (streq(verb, "show"))
        return verb_show(bus, args);
    if (streq(verb, "list"))
        return verb_list(bus, args);
    if (streq(verb, "monitor"))
        return verb_monitor(bus, args);
    if (streq(verb, "top")) /* a terminal: until interrupted; a pipe or --json: one */
        return verb_top(bus, arg_lines_set ? arg_lines
                             : isatty(STDOUT_FILENO) && !arg_json ? 0 : 1,
                        arg_delay, arg_order, arg_json, arg_legend);
    if (streq(verb, "daemon-reload"))
        return verb_daemon_reload(bus, args);
    if (streq(verb, "list-unit-files"))
        return verb_list_unit_files(bus, args);
    if (streq(verb, "logs"))
        return verb_logs(bus, args);
    if (streq(verb, "clean"))
        return verb_simple(bus, args, "CleanUnit");
    if (streq(verb, "image"))
        return verb_image(bus, args);
    if (streq(verb, "commit"))
        return verb_commit(bus, args);
    if (streq(verb, "enable"))
        return verb_enable(bus, args);
    if (streq(verb, "disable"))
        return verb_disable(bus, args);
    if (streq(verb, "is-enabled"))
        return verb_is_enabled(bus, args);
    if (streq(verb, "diff"))
        return verb_diff(bus, args);
    if (streq(verb, "list-dependencies"))
        return verb_list_dependencies(bus, args);
    if (streq(verb, "kill"))
        return verb_kill(bus, args);
    if (streq(verb, "try-restart"))
        return verb_try_restart(bus, args);
    if (streq(verb, "reload-or-restart")) /* no unit reloads: a restart, as systemd does then */
        return verb_restart(bus, args);
    if (streq(verb, "cat"))
        return verb_cat(bus, args);
    if (streq(verb, "is-active"))
        return verb_is_state(bus, args, "active");
    if (streq(verb, "is-failed"))
        return verb_is_state(bus, args, "failed");
    return verb_simple(bus, args, "ResetFailedUnit");
}
