/* SPDX-License-Identifier: GPL-2.0-or-later */
/* seccomp-load-time: the pieces of what the default seccomp profile costs, each timed alone
 * (run by bench/seccomp-latency, or by hand: build/bench/seccomp-load-time [RUNS]):
 *   compile   libseccomp, once per profile and capability set (the daemon caches it)
 *   plan      writing and reading the sandbox plan with the program in it, minus without
 *   load      prctl(PR_SET_SECCOMP) of the program in a fresh child, as sandboxd-init does
 * Medians over RUNS (default 101). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plan.h"
#include "seccomp-apply.h"
#include "seccomp.h"

#define DEFAULT_CAPS 0x800405fbULL

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t) n, sizeof *v, cmp);
    return v[n / 2];
}

static double plan_roundtrip_us(const uint8_t *bpf, size_t size) {
    char *argv[] = {"/bin/sleep", "1000", NULL}, *lowers[] = {"/var/lib/sandboxd/layers/a", NULL};
    SandboxPlan p = {.root_mount = "/run/sandboxd/sandboxes/x/root", .lowers = lowers,
                     .argv = argv, .seccomp_bpf = (uint8_t *) bpf, .seccomp_bpf_size = size};
    double t = now_us();
    int fd = plan_to_memfd(&p);
    SandboxPlan *q = NULL;
    if (fd < 0 || plan_from_fd(fd, &q) < 0) {
        fprintf(stderr, "plan round trip failed\n");
        exit(EXIT_FAILURE);
    }
    t = now_us() - t;
    close(fd);
    plan_free(q);
    return t;
}

static double load_us(const uint8_t *bpf, size_t size) {
    int pfd[2];
    if (pipe(pfd) < 0)
        exit(EXIT_FAILURE);
    pid_t pid = fork();
    if (pid < 0)
        exit(EXIT_FAILURE);
    if (pid == 0) {
        /* no_new_privs only so that this also runs unprivileged; the load is the same */
        (void) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        double t = now_us();
        int r = seccomp_apply_program(bpf, size, false);
        t = r < 0 ? -1 : now_us() - t;
        (void) !write(pfd[1], &t, sizeof t);
        _exit(0);
    }
    double t = -1;
    (void) !read(pfd[0], &t, sizeof t);
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    close(pfd[1]);
    if (t < 0) {
        fprintf(stderr, "loading the filter failed\n");
        exit(EXIT_FAILURE);
    }
    return t;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 101;
    if (runs < 1 || runs > 100000)
        return 2;
    SeccompProfile *p = NULL;
    SeccompError e = {};
    if (seccomp_profile_new_default(&p) < 0)
        return 1;
    double *v = calloc((size_t) runs, sizeof(double));
    uint8_t *bpf = NULL;
    size_t size = 0;

    double first = now_us();
    if (seccomp_compile(p, DEFAULT_CAPS, &bpf, &size, &e) < 0) {
        fprintf(stderr, "compile: %s\n", e.detail);
        return 1;
    }
    first = now_us() - first;
    int n_compile = runs < 11 ? runs : 11;
    for (int i = 0; i < n_compile; i++) {
        uint8_t *b = NULL;
        size_t s;
        double t = now_us();
        (void) seccomp_compile(p, DEFAULT_CAPS, &b, &s, &e);
        v[i] = now_us() - t;
        free(b);
    }
    printf("compile, first in this process:  %8.0f us\n", first);
    printf("compile, median of %3d:          %8.0f us (cached by the daemon)\n", n_compile,
           median(v, n_compile));

    double *w = calloc((size_t) runs, sizeof(double));
    for (int i = 0; i < runs; i++) {
        v[i] = plan_roundtrip_us(bpf, size);
        w[i] = plan_roundtrip_us(NULL, 0);
    }
    double plan = median(v, runs) - median(w, runs);
    for (int i = 0; i < runs; i++)
        v[i] = load_us(bpf, size);
    double load = median(v, runs);
    printf("plan with the program, extra:    %8.1f us\n", plan);
    printf("prctl load, median of %3d:       %8.1f us (%zu instructions)\n", runs, load,
           size / 8);
    printf("per start (plan + load):         %8.1f us\n", plan + load);
    free(v);
    free(w);
    free(bpf);
    seccomp_profile_free(p);
    return 0;
}
