/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandboxctl top: the running sandboxes' CPU, memory, tasks and IO, as systemd-cgtop shows
 * cgroups. CPU % is the change of the cgroup's CPU time between two readings over the time
 * between them (100% is one CPU); the first figures come one delay after the start. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"
#include "sandboxctl.h"
#include "time-util.h"

typedef struct Row {
    char *name;
    uint64_t cpu_ns, mem, mem_max, tasks, rd, wr, at;
    double cpu; /* %, < 0: not known yet */
} Row;

typedef struct Sample {
    Row *rows;
    size_t n;
} Sample;

static void sample_done(Sample *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].name);
    free(s->rows);
    *s = (Sample){};
}

static int take(sd_bus *bus, Sample *ret) {
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    Sample s = {};
    int r = ctl_call(bus, "GetUnitStats", &reply);
    if (r)
        return r;
    r = sd_bus_message_enter_container(reply, 'a', "(sttttttt)");
    while (r >= 0) {
        const char *name;
        Row row = {.cpu = -1};
        r = sd_bus_message_read(reply, "(sttttttt)", &name, &row.cpu_ns, &row.mem, &row.mem_max,
                                &row.tasks, &row.rd, &row.wr, &row.at);
        if (r <= 0)
            break;
        Row *n = reallocarray(s.rows, s.n + 1, sizeof *n);
        if (!n) {
            r = -ENOMEM;
            break;
        }
        s.rows = n;
        if (!(row.name = strdup(name))) {
            r = -ENOMEM;
            break;
        }
        s.rows[s.n++] = row;
    }
    if (r < 0) {
        sample_done(&s);
        fprintf(stderr, "sandboxctl: bad reply: %s\n", strerror(-r));
        return EXIT_FAILURE;
    }
    *ret = s;
    return 0;
}

static TopOrder order;

static int row_cmp(const void *a, const void *b) {
    const Row *x = a, *y = b;
    uint64_t u = 0, v = 0;
    switch (order) {
    case TOP_ORDER_CPU:
        if (x->cpu != y->cpu)
            return x->cpu < y->cpu ? 1 : -1;
        break;
    case TOP_ORDER_MEMORY:
        u = x->mem, v = y->mem;
        break;
    case TOP_ORDER_TASKS:
        u = x->tasks, v = y->tasks;
        break;
    case TOP_ORDER_IO:
        u = x->rd + x->wr, v = y->rd + y->wr;
        break;
    case TOP_ORDER_NAME:
        break;
    }
    if (u != v)
        return u < v ? 1 : -1;
    return strcmp(x->name, y->name);
}

static const char *num(char buf[static 32], uint64_t v) {
    if (v == UINT64_MAX)
        return "-";
    snprintf(buf, 32, "%" PRIu64, v);
    return buf;
}

static void print_json(const Sample *s) {
    printf("[");
    for (size_t i = 0; i < s->n; i++) {
        const Row *r = &s->rows[i];
        char b[6][32];
        /* names are unit names (checked by the daemon): no escaping needed */
        printf("%s{\"unit\":\"%s\",\"cpu_percent\":", i ? "," : "", r->name);
        if (r->cpu < 0)
            printf("null");
        else
            printf("%.1f", r->cpu);
        printf(",\"cpu_usage_nsec\":%s,\"memory_current\":%s,\"memory_max\":%s,"
               "\"tasks_current\":%s,\"io_read_bytes\":%s,\"io_write_bytes\":%s}",
               r->cpu_ns == UINT64_MAX ? "null" : num(b[0], r->cpu_ns),
               r->mem == UINT64_MAX ? "null" : num(b[1], r->mem),
               r->mem_max == UINT64_MAX ? "null" : num(b[2], r->mem_max),
               r->tasks == UINT64_MAX ? "null" : num(b[3], r->tasks),
               r->rd == UINT64_MAX ? "null" : num(b[4], r->rd),
               r->wr == UINT64_MAX ? "null" : num(b[5], r->wr));
    }
    printf("]\n");
}

static void print_table(const Sample *s, bool legend) {
    if (legend)
        printf("%-28s %7s %10s %10s %6s %6s %10s %10s\n", "UNIT", "CPU%", "MEMORY", "MAX",
               "MEM%", "TASKS", "IO-READ", "IO-WRITE");
    for (size_t i = 0; i < s->n; i++) {
        const Row *r = &s->rows[i];
        char cpu[16] = "-", pct[16] = "-", m[64], mx[64], rd[64], wr[64], t[32];
        if (r->cpu >= 0)
            snprintf(cpu, sizeof cpu, "%.1f", r->cpu);
        if (r->mem != UINT64_MAX && r->mem_max != UINT64_MAX && r->mem_max > 0)
            snprintf(pct, sizeof pct, "%.1f", 100.0 * (double) r->mem / (double) r->mem_max);
        printf("%-28s %7s %10s %10s %6s %6s %10s %10s\n", r->name, cpu,
               r->mem == UINT64_MAX ? "-" : format_bytes(m, r->mem),
               r->mem_max == UINT64_MAX ? "-" : format_bytes(mx, r->mem_max), pct,
               num(t, r->tasks), r->rd == UINT64_MAX ? "-" : format_bytes(rd, r->rd),
               r->wr == UINT64_MAX ? "-" : format_bytes(wr, r->wr));
    }
}

int verb_top(sd_bus *bus, unsigned iterations, uint64_t delay, TopOrder o, bool json,
             bool legend) {
    Sample prev = {}, cur = {};
    bool tty = isatty(STDOUT_FILENO) && !json;
    int r = take(bus, &prev);
    order = o;
    for (unsigned it = 0; r == 0 && (iterations == 0 || it < iterations); it++) {
        struct timespec ts = {(time_t) (delay / USEC_PER_SEC),
                              (long) (delay % USEC_PER_SEC) * 1000};
        (void) nanosleep(&ts, NULL);
        if ((r = take(bus, &cur)))
            break;
        for (size_t i = 0; i < cur.n; i++)
            for (size_t k = 0; k < prev.n; k++) {
                Row *a = &cur.rows[i], *b = &prev.rows[k];
                if (!streq(a->name, b->name) || a->cpu_ns == UINT64_MAX ||
                    b->cpu_ns == UINT64_MAX || a->at <= b->at || a->cpu_ns < b->cpu_ns)
                    continue;
                a->cpu = 100.0 * (double) (a->cpu_ns - b->cpu_ns) /
                         ((double) (a->at - b->at) * 1000.0);
            }
        if (cur.n > 1)
            qsort(cur.rows, cur.n, sizeof *cur.rows, row_cmp);
        if (tty)
            printf("\x1b[H\x1b[2J"); /* redrawn in place, as top */
        else if (it > 0 && !json)
            printf("\n");
        if (json)
            print_json(&cur);
        else
            print_table(&cur, legend);
        if (fflush(stdout) != 0) {
            r = EXIT_FAILURE;
            break;
        }
        sample_done(&prev);
        prev = cur;
        cur = (Sample){};
    }
    sample_done(&prev);
    sample_done(&cur);
    return r;
}
