/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Jobs and transactions: what a start or stop of a unit with dependencies does, and in which
 * order (see job.h). The state machine of each sandbox (sandbox.c) knows nothing of other
 * units; this file decides when to hand it a start or a stop. Jobs wait in one list, in the
 * order they were made; a deferred event runs every job whose prerequisites are done, so a job
 * never runs inside another's completion. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "log.h"
#include "manager.h"
#include "strv.h"

/* units one request may touch: far above a real boot, and a bound on the work */
#define TRANSACTION_UNITS_MAX 4096
/* list-dependencies: deeper than this is cut (a chain this long is a mistake), and a tree is
 * at most this many rows: each unit is shown on every path to it, and units that each want the
 * next two make 2^depth paths */
#define DEPENDENCY_DEPTH_MAX 64
#define DEPENDENCY_ROWS_MAX 4096
/* Jobs handed to their sandbox per turn of the event loop: each start's setup is synchronous
 * (~5 ms), and a boot of a hundred units in one turn left the bus, and the READY of the first
 * sandboxes, unanswered for a second. Between turns everything else pending runs. */
#define JOBS_PER_PASS 8

typedef struct Transaction {
    Sandbox *anchor;
    JobType type;
    SandboxJobDone done;
    void *userdata;
    unsigned n_pending;
    int r; /* the anchor's outcome */
    char *message;
} Transaction;

struct Job {
    Sandbox *sandbox;
    JobType type;
    Transaction *tx;
    bool running, finished;
    Job *next;
};

static const UnitConfig *cfg(const Sandbox *s) {
    return s->config;
}

static bool deps_name(const Sandbox *s, UnitDependency d, const Sandbox *other) {
    return s->config && unit_dep_list_contains(&s->config->deps[d], other->name);
}

static bool ordered_after(const Sandbox *a, const Sandbox *b) {
    return a->config && b->config && unit_is_after(a->config, b->config, NULL, NULL);
}

static bool conflict(const Sandbox *a, const Sandbox *b) {
    return deps_name(a, UNIT_CONFLICTS, b) || deps_name(b, UNIT_CONFLICTS, a);
}

bool manager_has_job(Manager *m, const Sandbox *s) {
    for (Job *j = m->jobs; j; j = j->next)
        if (!j->finished && j->sandbox == s)
            return true;
    return false;
}

static void schedule_dispatch(Manager *m) {
    if (m->job_source)
        (void) sd_event_source_set_enabled(m->job_source, SD_EVENT_ONESHOT);
}

static void transaction_job_done(Transaction *tx, Job *j, int r, const char *message) {
    if (j->sandbox == tx->anchor && j->type == tx->type && tx->r == 0 && r < 0) {
        tx->r = r;
        tx->message = message ? strdup(message) : NULL;
    } else if (r < 0 && j->type == JOB_START)
        log_warning("%s: start of %s, pulled in by %s, failed: %s", tx->anchor->name,
                    j->sandbox->name, tx->anchor->name, message ?: strerror(-r));
    if (--tx->n_pending > 0)
        return;
    if (tx->done)
        tx->done(tx->anchor, tx->userdata, tx->r, tx->message);
    free(tx->message);
    free(tx);
}

static void job_finish(Job *j, int r, const char *message) {
    if (j->finished)
        return;
    j->finished = true;
    j->running = false;
    Manager *m = j->sandbox->manager;
    transaction_job_done(j->tx, j, r, message);
    schedule_dispatch(m);
}

static void on_sandbox_done(Sandbox *s, void *userdata, int r, const char *message) {
    job_finish(userdata, r, message);
}

static bool has_ordering(const Sandbox *s) {
    return s->config && (s->config->deps[UNIT_AFTER].n || s->config->deps[UNIT_BEFORE].n ||
                         s->config->deps[UNIT_CONFLICTS].n);
}

/* May j run now, as far as other units go? Not while a job it is ordered after is unfinished:
 * starts follow After=, stops go in reverse, a stop goes before a start of a unit it is
 * ordered with or conflicts with. (Its own unit's earlier jobs are checked by the caller.) */
static bool job_ordering_allows(Manager *m, const Job *j) {
    const Sandbox *a = j->sandbox;
    for (const Job *k = m->jobs; k; k = k->next) {
        const Sandbox *b = k->sandbox;
        if (k->finished || b == a)
            continue;
        if (j->type == JOB_START) {
            if (k->type == JOB_STOP &&
                (ordered_after(a, b) || ordered_after(b, a) || conflict(a, b)))
                return false;
            if (k->type == JOB_START && ordered_after(a, b))
                return false;
        } else if (k->type == JOB_STOP && ordered_after(b, a))
            return false;
    }
    return true;
}

/* A start whose required units (ordered before it) did not come up fails here. */
static bool dependency_failed(Job *j) {
    Sandbox *s = j->sandbox;
    Manager *m = s->manager;
    static const UnitDependency needs[] = {UNIT_REQUIRES, UNIT_BINDS_TO};
    for (size_t i = 0; i < ELEMENTSOF(needs); i++) {
        const UnitDepList *l = &cfg(s)->deps[needs[i]];
        for (size_t k = 0; k < l->n; k++) {
            Sandbox *b = manager_find(m, l->names[k]);
            if (!b || !ordered_after(s, b) || b->state == SANDBOX_ACTIVE)
                continue;
            _cleanup_free_ char *why = NULL;
            if (asprintf(&why, "dependency %s failed to start%s%s", b->name,
                         b->start_error ? ": " : "", b->start_error ?: "") < 0)
                why = NULL;
            sandbox_fail_dependency(s, why ?: "a dependency failed to start");
            job_finish(j, -EIO, why ?: "a dependency failed to start");
            return true;
        }
    }
    return false;
}

static void job_run(Job *j) {
    Sandbox *s = j->sandbox;
    int r;
    j->running = true;
    if (j->type == JOB_START) {
        if (s->state == SANDBOX_ACTIVE) {
            job_finish(j, 0, NULL);
            return;
        }
        if (!sandbox_is_running(s) && dependency_failed(j))
            return;
        r = sandbox_start(s, on_sandbox_done, j);
    } else
        r = sandbox_stop(s, on_sandbox_done, j);
    if (r < 0)
        job_finish(j, r, NULL);
}

static int on_dispatch(sd_event_source *src, void *userdata) {
    Manager *m = userdata;
    /* forget what is done; jobs added meanwhile are at the tail */
    for (Job **p = &m->jobs; *p;) {
        Job *j = *p;
        if (j->finished) {
            *p = j->next;
            free(j);
        } else
            p = &j->next;
    }
    /* One pass is linear when no unit involved orders itself against others (the common
     * case: a thousand plain starts or stops); the pairwise check runs only when one does. Each
     * unit's first unfinished job is found once: a later job of the same unit waits for it,
     * except a stop, which does not wait for a start under way but ends it (sandbox_stop()).
     * Jobs added while this pass runs (appended) wait for the next pass. */
    bool any_order = false;
    Job *last = NULL;
    for (Job *j = m->jobs; j; j = j->next) {
        j->sandbox->first_job = NULL;
        last = j;
    }
    for (Job *j = m->jobs; j; j = j->next) {
        if (!j->sandbox->first_job)
            j->sandbox->first_job = j;
        any_order |= has_ordering(j->sandbox);
    }
    unsigned ran = 0;
    for (Job *j = m->jobs; j; j = j == last ? NULL : j->next) {
        const Job *first = j->sandbox->first_job;
        if (j->running || j->finished)
            continue;
        if (first != j && !(j->type == JOB_STOP && first->type == JOB_START && first->running))
            continue;
        if (any_order && !job_ordering_allows(m, j))
            continue;
        if (ran++ == JOBS_PER_PASS) {
            schedule_dispatch(m); /* the rest in the next turn */
            break;
        }
        job_run(j);
    }
    return 0;
}

static int ensure_dispatcher(Manager *m) {
    if (m->job_source)
        return 0;
    int r = sd_event_add_defer(m->event, &m->job_source, on_dispatch, m);
    if (r < 0)
        return r;
    return sd_event_source_set_enabled(m->job_source, SD_EVENT_OFF);
}

/* ---- building a request ---- */

typedef struct Set {
    Sandbox **s;
    size_t n;
} Set;

static bool set_has(const Set *set, const Sandbox *s) {
    for (size_t i = 0; i < set->n; i++)
        if (set->s[i] == s)
            return true;
    return false;
}

static int set_add(Set *set, Sandbox *s) {
    if (set_has(set, s))
        return 0;
    if (set->n >= TRANSACTION_UNITS_MAX)
        return -E2BIG;
    Sandbox **n = reallocarray(set->s, set->n + 1, sizeof(Sandbox *));
    if (!n)
        return -ENOMEM;
    set->s = n;
    set->s[set->n++] = s;
    return 1;
}

/* Loads a unit another one names; a running one keeps its configuration. */
static int load_named(Manager *m, const Sandbox *from, UnitDependency d, size_t k, Sandbox **ret,
                      char **ret_why) {
    const char *name = cfg(from)->deps[d].names[k];
    _cleanup_strv_free_ char **errors = NULL;
    Sandbox *s = manager_find(m, name);
    int r = 0;
    if (!s || !sandbox_is_running(s))
        r = manager_load_unit(m, name, &s, &errors);
    if (r >= 0) {
        *ret = s;
        return 0;
    }
    _cleanup_free_ char *joined = errors ? strv_join(errors, "\n") : NULL;
    if (asprintf(ret_why, "%s:%u: %s=%s: %s", cfg(from)->path, cfg(from)->deps[d].lines[k],
                 unit_dependency_to_string(d), name,
                 r == -ENOENT ? "no such unit in the unit path"
                 : joined     ? joined
                              : strerror(-r)) < 0)
        *ret_why = NULL;
    return r;
}

static Transaction *transaction_new(Sandbox *anchor, JobType type, SandboxJobDone done,
                                    void *userdata) {
    Transaction *tx = calloc(1, sizeof(Transaction));
    if (tx)
        *tx = (Transaction){.anchor = anchor, .type = type, .done = done, .userdata = userdata};
    return tx;
}

static int add_jobs(Manager *m, Transaction *tx, const Set *set, JobType type) {
    Job **tail = &m->jobs;
    while (*tail)
        tail = &(*tail)->next;
    for (size_t i = 0; i < set->n; i++) {
        Job *j = calloc(1, sizeof(Job));
        if (!j)
            return -ENOMEM;
        *j = (Job){.sandbox = set->s[i], .type = type, .tx = tx};
        *tail = j;
        tail = &j->next;
        tx->n_pending++;
    }
    return 0;
}

/* Ordering cycles among the units of the request and those with jobs already. */
static int check_cycles(Manager *m, const Set *set, char **ret_why) {
    Set all = {};
    _cleanup_strv_free_ char **errors = NULL;
    int r = 0;
    for (size_t i = 0; i < set->n && r >= 0; i++)
        r = set_add(&all, set->s[i]);
    for (Job *j = m->jobs; j && r >= 0; j = j->next)
        if (!j->finished && j->sandbox->config)
            r = set_add(&all, j->sandbox);
    UnitConfig **configs = r >= 0 ? calloc(all.n + 1, sizeof(UnitConfig *)) : NULL;
    if (configs) {
        for (size_t i = 0; i < all.n; i++)
            configs[i] = all.s[i]->config;
        r = unit_find_ordering_cycles(configs, all.n, &errors);
        free(configs);
    } else if (r >= 0)
        r = -ENOMEM;
    free(all.s);
    if (r > 0) {
        *ret_why = strv_join(errors, "\n");
        return -ELOOP;
    }
    return r;
}

/* Waiting starts of a unit that is to stop are cancelled, as systemd replaces them. */
static void cancel_waiting_starts(Manager *m, Sandbox *s) {
    for (Job *j = m->jobs; j; j = j->next)
        if (j->sandbox == s && j->type == JOB_START && !j->running && !j->finished)
            job_finish(j, -ECANCELED, "the start was cancelled by a stop of the unit");
}

int manager_start_unit(Manager *m, Sandbox *s, SandboxJobDone done, void *userdata,
                       char **ret_why) {
    static const UnitDependency pulls[] = {UNIT_REQUIRES, UNIT_BINDS_TO, UNIT_WANTS};
    Set set = {}, stops = {};
    int r = ensure_dispatcher(m);
    *ret_why = NULL;
    if (r >= 0)
        r = set_add(&set, s);
    for (size_t i = 0; i < set.n && r >= 0; i++)
        for (size_t d = 0; d < ELEMENTSOF(pulls) && r >= 0; d++)
            for (size_t k = 0; k < cfg(set.s[i])->deps[pulls[d]].n && r >= 0; k++) {
                Sandbox *other;
                _cleanup_free_ char *why = NULL;
                r = load_named(m, set.s[i], pulls[d], k, &other, &why);
                if (r < 0 && pulls[d] == UNIT_WANTS) {
                    /* a wanted unit is not needed: the start goes on without it */
                    log_warning("%s: %s", set.s[i]->name, why ?: strerror(-r));
                    r = 0;
                    continue;
                }
                if (r < 0)
                    *ret_why = TAKE_PTR(why);
                else
                    r = set_add(&set, other);
            }
    /* what the units conflict with goes down first; two of them cannot both start */
    for (size_t i = 0; i < set.n && r >= 0; i++)
        for (size_t k = 0; k < m->n_sandboxes && r >= 0; k++) {
            Sandbox *o = m->sandboxes[k];
            if (o == set.s[i] || !conflict(set.s[i], o))
                continue;
            if (set_has(&set, o)) {
                if (asprintf(ret_why, "%s and %s conflict (Conflicts=) and would both start",
                             set.s[i]->name, o->name) < 0)
                    *ret_why = NULL;
                r = -EDEADLK;
            } else if (sandbox_is_running(o) || o->state == SANDBOX_AUTO_RESTART ||
                       manager_has_job(m, o))
                r = set_add(&stops, o);
        }
    if (r >= 0)
        r = check_cycles(m, &set, ret_why);
    Transaction *tx = r >= 0 ? transaction_new(s, JOB_START, done, userdata) : NULL;
    if (r >= 0 && !tx)
        r = -ENOMEM;
    if (r >= 0) {
        for (size_t i = 0; i < stops.n; i++)
            cancel_waiting_starts(m, stops.s[i]);
        /* the stops first: add_jobs() appends, and a job's list position settles ties */
        r = add_jobs(m, tx, &stops, JOB_STOP);
        if (r >= 0)
            r = add_jobs(m, tx, &set, JOB_START);
        if (r < 0) /* only on OOM: jobs made so far run and answer nobody */
            tx->done = NULL;
        schedule_dispatch(m);
    }
    free(set.s);
    free(stops.s);
    return r;
}

int manager_stop_unit(Manager *m, Sandbox *s, SandboxJobDone done, void *userdata,
                      char **ret_why) {
    static const UnitDependency propagate[] = {UNIT_REQUIRES, UNIT_BINDS_TO, UNIT_PART_OF};
    Set set = {};
    int r = ensure_dispatcher(m);
    *ret_why = NULL;
    if (r >= 0)
        r = set_add(&set, s);
    /* the units that need it go too (and what needs those) */
    for (size_t i = 0; i < set.n && r >= 0; i++)
        for (size_t k = 0; k < m->n_sandboxes && r >= 0; k++) {
            Sandbox *o = m->sandboxes[k];
            if (!sandbox_is_running(o) && o->state != SANDBOX_AUTO_RESTART &&
                !manager_has_job(m, o))
                continue;
            for (size_t d = 0; d < ELEMENTSOF(propagate); d++)
                if (deps_name(o, propagate[d], set.s[i])) {
                    r = set_add(&set, o);
                    break;
                }
        }
    Transaction *tx = r >= 0 ? transaction_new(s, JOB_STOP, done, userdata) : NULL;
    if (r >= 0 && !tx)
        r = -ENOMEM;
    if (r >= 0) {
        for (size_t i = 0; i < set.n; i++)
            cancel_waiting_starts(m, set.s[i]);
        r = add_jobs(m, tx, &set, JOB_STOP);
        if (r < 0)
            tx->done = NULL;
        schedule_dispatch(m);
    }
    free(set.s);
    return r;
}

static void log_background(Sandbox *s, void *userdata, int r, const char *message) {
    const char *why = userdata;
    if (r < 0)
        log_error("%s: %s failed: %s", s->name, why, message ?: strerror(-r));
}

void manager_unit_went_down(Sandbox *s, bool failed) {
    Manager *m = s->manager;
    _cleanup_free_ char *why = NULL;
    if (m->shutting_down)
        return;
    for (size_t k = 0; k < m->n_sandboxes; k++) {
        Sandbox *o = m->sandboxes[k];
        if (o == s || !deps_name(o, UNIT_BINDS_TO, s) ||
            !(sandbox_is_running(o) || o->state == SANDBOX_AUTO_RESTART))
            continue;
        bool stopping = false;
        for (Job *j = m->jobs; j; j = j->next)
            stopping |= !j->finished && j->sandbox == o && j->type == JOB_STOP;
        if (stopping)
            continue;
        sandbox_log_event(o, "Stopping: the unit it is bound to (BindsTo=%s) went down.",
                          s->name);
        if (manager_stop_unit(m, o, log_background, (void *) "the stop (BindsTo=)", &why) < 0)
            log_error("%s: stopping it after %s went down: %s", o->name, s->name,
                      why ?: "out of memory");
    }
    if (!failed || !s->config)
        return;
    const UnitDepList *l = &s->config->deps[UNIT_ON_FAILURE];
    for (size_t k = 0; k < l->n; k++) {
        Sandbox *o = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *w = NULL;
        int r = manager_find(m, l->names[k]) && sandbox_is_running(manager_find(m, l->names[k]))
                    ? (o = manager_find(m, l->names[k]), 0)
                    : manager_load_unit(m, l->names[k], &o, &errors);
        if (r >= 0)
            r = manager_start_unit(m, o, log_background, (void *) "the start (OnFailure=)", &w);
        if (r < 0)
            log_error("%s:%u: OnFailure=%s: %s", s->config->path, l->lines[k], l->names[k],
                      w ?: errors ? errors[0] : strerror(-r));
        else
            sandbox_log_event(s, "Failed; starting %s (OnFailure=).", l->names[k]);
    }
}

void manager_cancel_jobs(Manager *m) {
    for (Job *j = m->jobs; j; j = j->next)
        if (!j->running && !j->finished)
            job_finish(j, -ESHUTDOWN, "sandboxd is shutting down");
}

void manager_free_jobs(Manager *m) {
    for (Job *j = m->jobs; j; j = j->next)
        if (!j->finished)
            job_finish(j, -ESHUTDOWN, "sandboxd is shutting down");
    while (m->jobs) {
        Job *j = m->jobs;
        m->jobs = j->next;
        free(j);
    }
    m->job_source = sd_event_source_disable_unref(m->job_source);
}

/* ---- list-dependencies ---- */

typedef struct Walk {
    Manager *m;
    DependencyVisit f;
    void *userdata;
    char *stack[DEPENDENCY_DEPTH_MAX + 1];
    unsigned rows;
} Walk;

static int walk(Walk *w, const UnitConfig *c, unsigned depth) {
    static const UnitDependency shown[] = {UNIT_REQUIRES, UNIT_BINDS_TO, UNIT_WANTS};
    w->stack[depth - 1] = c->name;
    for (size_t d = 0; d < ELEMENTSOF(shown); d++)
        for (size_t k = 0; k < c->deps[shown[d]].n; k++) {
            const char *name = c->deps[shown[d]].names[k];
            _cleanup_(unit_config_freep) UnitConfig *sub = NULL;
            _cleanup_strv_free_ char **errors = NULL;
            if (++w->rows > DEPENDENCY_ROWS_MAX)
                return -E2BIG;
            int r = manager_load_config(w->m, name, &sub, &errors);
            bool cycle = false;
            for (unsigned i = 0; i < depth; i++)
                cycle |= streq(w->stack[i], name);
            w->f(w->userdata, depth, name, shown[d], manager_find(w->m, name), r);
            /* a unit on the path already is shown, not entered again */
            if (r >= 0 && !cycle && depth < DEPENDENCY_DEPTH_MAX) {
                r = walk(w, sub, depth + 1);
                if (r < 0)
                    return r;
            }
        }
    return 0;
}

int manager_walk_dependencies(Manager *m, const char *arg, DependencyVisit f, void *userdata,
                              char ***ret_errors) {
    _cleanup_(unit_config_freep) UnitConfig *c = NULL;
    int r = manager_load_config(m, arg, &c, ret_errors);
    if (r < 0)
        return r;
    Walk w = {.m = m, .f = f, .userdata = userdata};
    f(userdata, 0, c->name, _UNIT_DEPENDENCY_MAX, manager_find(m, c->name), 0);
    return walk(&w, c, 1);
}
