/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "seccomp-cache.h"
#include "seccomp.h"
#include "time-util.h"

/* Different (profile, capabilities) pairs in use at once are few; a bound keeps a loop of
 * edited profile files from growing the daemon. */
#define CACHE_ENTRIES_MAX 16

typedef struct Entry {
    char *path;         /* NULL: the built-in default */
    char *text;         /* the JSON file's text it was compiled from */
    uint64_t caps_mask; /* the capabilities the profile looks at */
    uint64_t caps;      /* bounding set & caps_mask */
    SeccompFilter *filter;
    uint64_t last_used;
} Entry;

struct SeccompCache {
    Entry entries[CACHE_ENTRIES_MAX];
    size_t n;
    uint64_t clock;
};

SeccompFilter *seccomp_filter_ref(SeccompFilter *f) {
    if (f)
        f->n_ref++;
    return f;
}

SeccompFilter *seccomp_filter_unref(SeccompFilter *f) {
    if (f && --f->n_ref == 0) {
        free(f->bpf);
        free(f);
    }
    return NULL;
}

static void entry_done(Entry *e) {
    free(e->path);
    free(e->text);
    seccomp_filter_unref(e->filter);
    *e = (Entry){0};
}

SeccompCache *seccomp_cache_free(SeccompCache *c) {
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        entry_done(&c->entries[i]);
    free(c);
    return NULL;
}

size_t seccomp_cache_size(const SeccompCache *c) {
    return c ? c->n : 0;
}

static bool streq_ptr(const char *a, const char *b) {
    return (!a && !b) || (a && b && streq(a, b));
}

static Entry *lookup(SeccompCache *c, const char *path, const char *text, uint64_t caps) {
    for (size_t i = 0; i < c->n; i++) {
        Entry *e = &c->entries[i];
        if (streq_ptr(e->path, path) && streq_ptr(e->text, text) &&
            (caps & e->caps_mask) == e->caps)
            return e;
    }
    return NULL;
}

static Entry *slot(SeccompCache *c) {
    if (c->n < CACHE_ENTRIES_MAX)
        return &c->entries[c->n++];
    Entry *oldest = &c->entries[0];
    for (size_t i = 1; i < c->n; i++)
        if (c->entries[i].last_used < oldest->last_used)
            oldest = &c->entries[i];
    entry_done(oldest); /* a sandbox that uses it keeps its own reference */
    return oldest;
}

int seccomp_cache_get(SeccompCache **cp, const char *profile, uint64_t caps, SeccompFilter **ret,
                      SeccompError *e) {
    if (profile && streq(profile, "unconfined")) {
        *ret = NULL;
        return 0;
    }
    if (!*cp && !(*cp = calloc(1, sizeof(SeccompCache))))
        return -ENOMEM;
    SeccompCache *c = *cp;
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r;
    if (profile && (r = seccomp_profile_read_file(profile, &text, &len, e)) < 0)
        return r;

    Entry *hit = lookup(c, profile, text, caps);
    if (hit) {
        hit->last_used = ++c->clock;
        *ret = seccomp_filter_ref(hit->filter);
        return 0;
    }

    _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
    r = profile ? seccomp_profile_parse_json(text, len, &p, e) : seccomp_profile_new_default(&p);
    if (r < 0)
        return r;
    SeccompFilter *f = calloc(1, sizeof(SeccompFilter));
    if (!f)
        return -ENOMEM;
    f->n_ref = 1;
    uint64_t start = now_usec(CLOCK_MONOTONIC);
    r = seccomp_compile(p, caps, &f->bpf, &f->size, e);
    if (r < 0) {
        seccomp_filter_unref(f);
        return r;
    }
    uint64_t mask = seccomp_profile_caps_mask(p);
    log_debug("seccomp: compiled %s for capabilities %#llx in %llu us: %zu instructions",
              profile ? profile : "the default profile", (unsigned long long) (caps & mask),
              (unsigned long long) (now_usec(CLOCK_MONOTONIC) - start), f->size / 8);
    char *path_copy = profile ? strdup(profile) : NULL;
    if (profile && !path_copy) {
        seccomp_filter_unref(f);
        return -ENOMEM;
    }
    Entry *s = slot(c);
    *s = (Entry){.path = path_copy, .text = TAKE_PTR(text), .caps_mask = mask,
                 .caps = caps & mask, .filter = f, .last_used = ++c->clock};
    *ret = seccomp_filter_ref(f);
    return 0;
}
