/* SPDX-License-Identifier: GPL-2.0-or-later */
/* [Unit] dependencies: the keys' values (unit names, each with its line) and the ordering
 * graph's cycles, shared by the daemon's transactions and `sandboxctl verify`; and
 * [Service] Type=. */

#include <stdio.h>
#include <string.h>

#include "strv.h"
#include "unit-internal.h"

static const char *const dependency_table[_UNIT_DEPENDENCY_MAX] = {
    [UNIT_REQUIRES] = "Requires",   [UNIT_WANTS] = "Wants",   [UNIT_BINDS_TO] = "BindsTo",
    [UNIT_PART_OF] = "PartOf",      [UNIT_CONFLICTS] = "Conflicts", [UNIT_AFTER] = "After",
    [UNIT_BEFORE] = "Before",       [UNIT_ON_FAILURE] = "OnFailure",
};

const char *unit_dependency_to_string(UnitDependency d) {
    return d >= 0 && d < _UNIT_DEPENDENCY_MAX ? dependency_table[d] : NULL;
}

static const char *const service_type_table[_SERVICE_TYPE_MAX] = {
    [SERVICE_EXEC] = "exec",
    [SERVICE_NOTIFY] = "notify",
};

const char *service_type_to_string(ServiceType t) {
    return t >= 0 && t < _SERVICE_TYPE_MAX ? service_type_table[t] : NULL;
}

int unit_parse_type(ConfParser *p, const char *v, void *field, uintptr_t d, const char **why) {
    (void) p, (void) d;
    ServiceType t = SERVICE_EXEC;
    if (streq(v, "notify"))
        t = SERVICE_NOTIFY;
    else if (*v && !streq(v, "exec") && !streq(v, "simple")) {
        *why = "expected exec (the default; simple is the same here) or notify";
        return -EINVAL;
    }
    *(ServiceType *) field = t;
    return 0;
}

bool unit_dep_list_contains(const UnitDepList *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (streq(l->names[i], name))
            return true;
    return false;
}

void unit_dep_list_done(UnitDepList *l) {
    strv_free(l->names);
    free(l->lines);
    *l = (UnitDepList){};
}

static size_t total_deps(const UnitConfig *u) {
    size_t n = 0;
    for (int i = 0; i < _UNIT_DEPENDENCY_MAX; i++)
        n += u->deps[i].n;
    return n;
}

/* "a.unit b" -> a.unit, b.unit (a name without a '.' gets ".unit", as on the command line); an
 * empty value empties the list, a name listed twice is kept once. */
int unit_parse_dependency(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why) {
    UnitConfig *u = p->target;
    UnitDepList *l = field;
    _cleanup_strv_free_ char **words = NULL;
    (void) d;
    if (!*v) {
        unit_dep_list_done(l);
        return 0;
    }
    if (unit_split_command(v, &words) < 0) {
        *why = "unbalanced quotes or bad escape";
        return -EINVAL;
    }
    STRV_FOREACH(w, words) {
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "%s%s", *w, strchr(*w, '.') ? "" : ".unit") < 0)
            return -ENOMEM;
        if (!unit_name_is_valid(name)) {
            snprintf(p->why_buf, sizeof p->why_buf,
                     "'%.60s' is not a unit name (letters, digits and :_.@- only)", *w);
            *why = p->why_buf;
            return -EINVAL;
        }
        if (u->name && streq(name, u->name)) {
            *why = "a unit cannot depend on itself";
            return -EINVAL;
        }
        if (unit_dep_list_contains(l, name))
            continue;
        if (total_deps(u) >= UNIT_DEPENDENCIES_MAX) {
            *why = "too many unit names (at most 1024 in all dependency keys)";
            return -E2BIG;
        }
        unsigned *lines = reallocarray(l->lines, l->n + 1, sizeof(unsigned));
        if (!lines)
            return -ENOMEM;
        l->lines = lines;
        if (strv_consume(&l->names, TAKE_PTR(name)) < 0)
            return -ENOMEM;
        l->lines[l->n++] = p->logical_line;
    }
    return 0;
}

static unsigned dep_line(const UnitDepList *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (streq(l->names[i], name))
            return l->lines[i];
    return 0;
}

bool unit_is_after(const UnitConfig *a, const UnitConfig *b, unsigned *ret_line, bool *ret_in_a) {
    unsigned line = dep_line(&a->deps[UNIT_AFTER], b->name);
    bool in_a = line > 0;
    if (!line)
        line = dep_line(&b->deps[UNIT_BEFORE], a->name);
    if (ret_line)
        *ret_line = line;
    if (ret_in_a)
        *ret_in_a = in_a;
    return line > 0;
}

/* "a.unit:3 After=b.unit" for the edge a -> b (a after b) */
static char *edge_text(const UnitConfig *a, const UnitConfig *b) {
    unsigned line;
    bool in_a;
    char *t;
    (void) unit_is_after(a, b, &line, &in_a);
    if (asprintf(&t, "%s:%u %s=%s", in_a ? a->path : b->path, line, in_a ? "After" : "Before",
                 in_a ? b->name : a->name) < 0)
        return NULL;
    return t;
}

/* Depth-first search over "after" edges (i -> j: units[i] starts after units[j]), kept as
 * adjacency lists built once from the names (a sorted index, so the work grows with the
 * number of names, not with the square of the units); colour 0 unseen, 1 on the stack,
 * 2 done. A back edge closes a cycle made of the stack from its target up. */
typedef struct CycleSearch {
    UnitConfig *const *units;
    size_t n;
    size_t *first, *targets; /* edges of i: targets[first[i] .. first[i + 1]) */
    unsigned char *colour;
    size_t *stack, depth;
    char ***errors;
    int found;
} CycleSearch;

typedef struct NameIndex {
    const char *name;
    size_t i;
} NameIndex;

static int name_index_compare(const void *a, const void *b) {
    return strcmp(((const NameIndex *) a)->name, ((const NameIndex *) b)->name);
}

static bool name_lookup(const NameIndex *idx, size_t n, const char *name, size_t *ret) {
    NameIndex key = {.name = name};
    const NameIndex *f = bsearch(&key, idx, n, sizeof *idx, name_index_compare);
    if (f)
        *ret = f->i;
    return f != NULL;
}

static int size_compare(const void *a, const void *b) {
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    return x < y ? -1 : x > y;
}

/* Counts the edges of each unit into fill (targets NULL), or writes them (targets set). */
static void for_each_edge(CycleSearch *c, const NameIndex *idx, size_t *fill) {
    for (size_t i = 0; i < c->n; i++) {
        const UnitDepList *after = &c->units[i]->deps[UNIT_AFTER];
        const UnitDepList *before = &c->units[i]->deps[UNIT_BEFORE];
        size_t j;
        for (size_t k = 0; k < after->n; k++)
            if (name_lookup(idx, c->n, after->names[k], &j) && j != i) {
                if (c->targets)
                    c->targets[c->first[i] + fill[i]] = j;
                fill[i]++;
            }
        /* i's Before=x: x starts after i */
        for (size_t k = 0; k < before->n; k++)
            if (name_lookup(idx, c->n, before->names[k], &j) && j != i) {
                if (c->targets)
                    c->targets[c->first[j] + fill[j]] = i;
                fill[j]++;
            }
    }
}

static int build_edges(CycleSearch *c) {
    _cleanup_free_ NameIndex *idx = calloc(c->n ?: 1, sizeof(NameIndex));
    _cleanup_free_ size_t *fill = calloc(c->n ?: 1, sizeof(size_t));
    if (!idx || !fill || !(c->first = calloc(c->n + 1, sizeof(size_t))))
        return -ENOMEM;
    for (size_t i = 0; i < c->n; i++)
        idx[i] = (NameIndex){c->units[i]->name, i};
    qsort(idx, c->n, sizeof *idx, name_index_compare);
    for_each_edge(c, idx, fill);
    for (size_t i = 0; i < c->n; i++)
        c->first[i + 1] = c->first[i] + fill[i];
    if (!(c->targets = calloc(c->first[c->n] ?: 1, sizeof(size_t))))
        return -ENOMEM;
    memset(fill, 0, c->n * sizeof(size_t));
    for_each_edge(c, idx, fill);
    /* an edge said twice (After= here, Before= there) is one edge */
    for (size_t i = 0; i < c->n; i++) {
        size_t *t = c->targets + c->first[i], m = fill[i], w = 0;
        qsort(t, m, sizeof(size_t), size_compare);
        for (size_t k = 0; k < m; k++)
            if (w == 0 || t[w - 1] != t[k])
                t[w++] = t[k];
        for (size_t k = w; k < m; k++)
            t[k] = SIZE_MAX; /* skipped */
    }
    return 0;
}

static int report_cycle(CycleSearch *c, size_t from) {
    size_t len = c->depth - from, first = 0;
    /* told from its least name, so the same cycle found from elsewhere reads the same */
    for (size_t k = 1; k < len; k++)
        if (strcmp(c->units[c->stack[from + k]]->name, c->units[c->stack[from + first]]->name) < 0)
            first = k;
#define CYCLE_UNIT(k) (c->units[c->stack[from + ((first + (k)) % len)]])
    _cleanup_free_ char *chain = strdup(CYCLE_UNIT(0)->name), *edges = NULL;
    if (!chain)
        return -ENOMEM;
    for (size_t k = 0; k < len; k++) {
        const UnitConfig *u = CYCLE_UNIT(k);
        const UnitConfig *next = CYCLE_UNIT(k + 1);
        _cleanup_free_ char *e = edge_text(u, next);
        char *t;
        if (!e || asprintf(&t, "%s -> %s", chain, next->name) < 0)
            return -ENOMEM;
        free(chain);
        chain = t;
        if (asprintf(&t, "%s%s%s", edges ?: "", edges ? ", " : "", e) < 0)
            return -ENOMEM;
        free(edges);
        edges = t;
    }
    /* FILE:LINE of the first edge leads, as every other message does */
    const UnitConfig *u0 = CYCLE_UNIT(0), *u1 = CYCLE_UNIT(1);
#undef CYCLE_UNIT
    unsigned line;
    bool in_a;
    (void) unit_is_after(u0, u1, &line, &in_a);
    c->found++;
    return conf_append_error(c->errors, in_a ? u0->path : u1->path, line,
                             "%s=%s: ordering cycle: %s (%s)", in_a ? "After" : "Before",
                             in_a ? u1->name : u0->name, chain, edges);
}

static int visit(CycleSearch *c, size_t i) {
    c->colour[i] = 1;
    c->stack[c->depth++] = i;
    for (size_t e = c->first[i]; e < c->first[i + 1]; e++) {
        size_t j = c->targets[e];
        if (j == SIZE_MAX)
            continue;
        if (c->colour[j] == 1) {
            size_t from = 0;
            while (c->stack[from] != j)
                from++;
            int r = report_cycle(c, from);
            if (r < 0)
                return r;
        } else if (c->colour[j] == 0) {
            int r = visit(c, j);
            if (r < 0)
                return r;
        }
    }
    c->depth--;
    c->colour[i] = 2;
    return 0;
}

int unit_find_ordering_cycles(UnitConfig *const *units, size_t n, char ***errors) {
    _cleanup_free_ unsigned char *colour = calloc(n ?: 1, 1);
    _cleanup_free_ size_t *stack = calloc(n + 1, sizeof(size_t));
    if (!colour || !stack)
        return -ENOMEM;
    CycleSearch c = {.units = units, .n = n, .colour = colour, .stack = stack,
                     .errors = errors};
    int r = build_edges(&c);
    for (size_t i = 0; i < n && r >= 0; i++)
        if (colour[i] == 0)
            r = visit(&c, i);
    free(c.first);
    free(c.targets);
    return r < 0 ? r : c.found;
}
