/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxctl verify: unit files checked offline with the daemon's own parser, the addresses
 * against sandboxd.conf's subnets, Image= against the store, and the dependencies: every unit
 * a file names (looked up beside it, then in the unit path) must exist where the start needs
 * it, and no ordering cycle may run through them. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-config.h"
#include "image-ref.h"
#include "macro.h"
#include "path-util.h"
#include "sandboxctl.h"
#include "strv.h"
#include "unit.h"

/* units a dependency closure may hold: far above any real set, and a bound on the work */
#define VERIFY_UNITS_MAX 4096

/* The subnets verify checks IPAddress= and IPv6Address= against: sandboxd.conf's, else the
 * first the daemon tries; an IPv6 subnet left to the daemon is checked as far as it can be. */
static int verify_network_context(UnitNetworkContext *ret) {
    _cleanup_(daemon_config_done) DaemonConfig c = {};
    _cleanup_strv_free_ char **errors = NULL;
    const char *path = arg_config ?: DAEMON_CONFIG_PATH_DEFAULT;
    int r = daemon_config_init(&c);
    if (r >= 0)
        r = daemon_config_load(&c, path, !arg_config, &errors);
    if (r < 0) {
        STRV_FOREACH(e, errors)
            print_message(*e);
        if (!errors)
            fprintf(stderr, "%s: %s\n", path, strerror(-r));
        return r;
    }
    UnitNetworkContext net = {
        .v4 = c.subnet,
        .v6 = c.ipv6_subnet,
        .v6_unknown = !c.ipv6_disabled && c.ipv6_subnet.family == 0,
    };
    if (net.v4.family == 0 && (r = in_addr_prefix_parse(NETWORK_SUBNET_DEFAULT, &net.v4)) < 0)
        return r;
    *ret = net;
    return 0;
}

/* Offline, an image may still be imported before the start: a warning, not an error. */
static void warn_missing_image(const UnitConfig *c) {
    _cleanup_free_ char *name = strdup(c->image), *file = NULL, *path = NULL;
    char *colon = name ? strrchr(name, ':') : NULL;
    if (!colon)
        return;
    *colon = 0;
    if (!(file = image_record_file_name(name, colon + 1)) ||
        asprintf(&path, "%s/images/%s", arg_image_store, file) < 0 || access(path, F_OK) == 0)
        return;
    _cleanup_free_ char *shown = line_shown(c->path);
    fprintf(stderr, "%s:%u: Image=%s: warning: not in the image store %s (%s); import it "
                    "with 'sandboxctl image import SOURCE %s' before a start\n",
            shown ?: "?", c->image_line, c->image, arg_image_store,
            errno == ENOENT ? "no such image" : strerror(errno), c->image);
}

static int verify_one_deps(const UnitConfig *c, char ***printed);

int verb_verify(char **args) {
    UnitNetworkContext net;
    /* a bad sandboxd.conf fails verify, but the units are still read */
    bool have_net = verify_network_context(&net) >= 0;
    int ret = have_net ? 0 : EXIT_FAILURE;
    _cleanup_strv_free_ char **printed = NULL; /* what the closures of several files share */
    STRV_FOREACH(a, args) {
        _cleanup_(unit_config_freep) UnitConfig *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r = unit_load(*a, &c, &errors);
        if (r >= 0 && have_net)
            r = unit_check_network(c, &net, &errors);
        if (r >= 0 && c->image)
            warn_missing_image(c);
        if (r >= 0 && verify_one_deps(c, &printed) < 0)
            ret = EXIT_FAILURE;
        if (r >= 0)
            continue;
        ret = EXIT_FAILURE;
        if (errors)
            STRV_FOREACH(e, errors)
                print_message(*e);
        else
            fprintf(stderr, "%s: %s\n", *a, strerror(-r));
    }
    return ret;
}


/* Prints msg unless an earlier file's closure printed it already. */
static void print_once(const char *msg, char ***printed) {
    if (strv_contains(*printed, msg))
        return;
    print_message(msg);
    (void) strv_extend(printed, msg);
}

/* The file of unit name: beside the file that names it, then in the unit path. */
static int find_dep_file(const char *beside, const char *name, char **ret) {
    const char *slash = strrchr(beside, '/');
    _cleanup_free_ char *first = NULL, *dirs = strdup(arg_unit_path);
    /* beside it: named as the verified file is, so that messages about it read the same */
    if (!dirs || asprintf(&first, "%.*s%s", slash ? (int) (slash - beside) + 1 : 0, beside,
                          name) < 0)
        return -ENOMEM;
    if (access(first, F_OK) == 0) {
        *ret = TAKE_PTR(first);
        return 0;
    }
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *p = path_join(d, name);
        if (!p)
            return -ENOMEM;
        if (access(p, F_OK) == 0) {
            *ret = TAKE_PTR(p);
            return 0;
        }
    }
    return -ENOENT;
}

static bool is_loaded(UnitConfig **units, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (streq(units[i]->name, name))
            return true;
    return false;
}

/* Loads every unit c names, transitively, and checks the whole set: a missing unit that a
 * start would need (Requires=, BindsTo=) is an error, any other missing name a warning; a
 * unit file that does not load is an error; so is every ordering cycle. */
static int verify_one_deps(const UnitConfig *c, char ***printed) {
    UnitConfig **units = calloc(VERIFY_UNITS_MAX, sizeof(UnitConfig *));
    size_t n = 1;
    int ret = 0;
    if (!units)
        return -ENOMEM;
    units[0] = (UnitConfig *) c;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < _UNIT_DEPENDENCY_MAX; d++)
            for (size_t k = 0; k < units[i]->deps[d].n; k++) {
                const char *name = units[i]->deps[d].names[k];
                _cleanup_free_ char *path = NULL, *msg = NULL, *shown = NULL;
                _cleanup_strv_free_ char **errors = NULL;
                if (is_loaded(units, n, name))
                    continue;
                int r = find_dep_file(units[i]->path, name, &path);
                /* ordering against a unit that does not exist is no mistake (systemd's
                 * view too): nothing to say, nothing to load */
                if (r == -ENOENT && (d == UNIT_AFTER || d == UNIT_BEFORE))
                    continue;
                if (r == -ENOENT) {
                    bool needed = d == UNIT_REQUIRES || d == UNIT_BINDS_TO;
                    if (asprintf(&msg, "%s:%u: %s=%s: %sno unit file %s beside the file or in "
                                 "the unit path (%s)%s", units[i]->path, units[i]->deps[d].lines[k],
                                 unit_dependency_to_string(d), name, needed ? "" : "warning: ",
                                 name, arg_unit_path,
                                 needed ? "; a start would fail" : "") < 0)
                        goto oom;
                    print_once(msg, printed);
                    if (needed)
                        ret = -ENOENT;
                    continue;
                }
                if (r < 0)
                    goto oom;
                if (n == VERIFY_UNITS_MAX) {
                    fprintf(stderr, "%s: more than %d units in its dependencies; the rest is "
                            "not checked\n", c->path, VERIFY_UNITS_MAX);
                    goto done;
                }
                UnitConfig *u = NULL;
                r = unit_load(path, &u, &errors);
                if (r < 0) {
                    STRV_FOREACH(e, errors)
                        print_once(*e, printed);
                    if (!errors) {
                        if (asprintf(&msg, "%s: %s", path, strerror(-r)) < 0)
                            goto oom;
                        print_once(msg, printed);
                    }
                    ret = -EINVAL; /* later names of it are reported again, printed once */
                    continue;
                }
                units[n++] = u;
            }
    _cleanup_strv_free_ char **cycles = NULL;
    int r = unit_find_ordering_cycles(units, n, &cycles);
    if (r < 0)
        goto oom;
    STRV_FOREACH(e, cycles)
        print_once(*e, printed);
    if (r > 0)
        ret = -ELOOP;
done:
    for (size_t i = 1; i < n; i++)
        unit_config_free(units[i]);
    free(units);
    return ret;
oom:
    fprintf(stderr, "%s: out of memory\n", c->path);
    ret = -ENOMEM;
    goto done;
}
