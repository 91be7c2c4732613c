/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nft-latency: what publishing and unpublishing a port costs through src/sys/nft.c (one
 * netlink batch on an open socket), side by side with the nft CLI doing the same change (a
 * process, its ruleset cache, the parser). Runs in a network namespace of its own: the
 * host's ruleset is never touched.
 *
 *   build/bench/nft-latency [ROUNDS] [ELEMENTS]     (root; default 300 rounds, 100 elements)
 *
 * ELEMENTS ports are in the table while the single-element changes are timed. */

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "nft.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_us(uint64_t *v, size_t n, double p) {
    qsort(v, n, sizeof *v, cmp_u64);
    return (double)v[(size_t)((double)(n - 1) * p)] / 1e3;
}

static void report(const char *what, uint64_t *v, size_t n, double *ret_median) {
    double med = percentile_us(v, n, 0.5);
    printf("%-40s %9.1f %9.1f %9.1f\n", what, med, percentile_us(v, n, 0.1),
           percentile_us(v, n, 0.9));
    if (ret_median)
        *ret_median = med;
}

static NftPort port(uint16_t host_port) {
    return (NftPort){.family = AF_INET,
                     .any_host_addr = true,
                     .protocol = IPPROTO_TCP,
                     .host_port = host_port,
                     .addr.bytes = {10, 88, (uint8_t)(host_port >> 8), (uint8_t)host_port},
                     .port = 80};
}

static int run_nft(const char *cmd) {
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execlp("nft", "nft", cmd, (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static _noreturn_ void die(const char *step, int r) {
    fprintf(stderr, "nft-latency: %s: %s\n", step, strerror(-r));
    exit(1);
}

int main(int argc, char **argv) {
    size_t rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 300;
    size_t n_el = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
    NftNetwork net = {
        .bridge = "sbx0",
        .v4 = {.family = AF_INET, .addr.bytes = {10, 88}, .prefixlen = 16},
        .v6 = {.family = AF_INET6, .addr.bytes = {0xfd, 0, 0, 0x88}, .prefixlen = 64},
        .gateway4.bytes = {10, 88, 0, 1},
        .gateway6.bytes = {0xfd, 0, 0, 0x88, [15] = 1}};
    _cleanup_(nft_closep) Nft *n = NULL;
    _cleanup_free_ uint64_t *t = calloc(rounds, sizeof *t);
    _cleanup_free_ NftPort *ports = calloc(n_el + 1, sizeof *ports);
    double add_us, del_us, cli_add_us, cli_del_us;
    char cmd[256];
    int r;

    if (rounds < 2 || rounds > 100000 || n_el > 20000 || !t || !ports)
        die("usage: nft-latency [ROUNDS] [ELEMENTS]", -EINVAL);
    /* never the host's ruleset */
    if (unshare(CLONE_NEWNET) < 0)
        die("unshare(CLONE_NEWNET)", -errno);
    r = nft_open(&n);
    if (r < 0)
        die("nft_open", r);
    for (size_t i = 0; i < n_el; i++)
        ports[i] = port((uint16_t)(20000 + i));

    printf("%zu rounds, %zu ports in the table\n%-40s %9s %9s %9s\n", rounds, n_el,
           "(microseconds)", "median", "p10", "p90");
    for (size_t i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        r = nft_table_replace(n, &net, NULL, 0, ports, n_el);
        t[i] = now_ns() - t0;
        if (r < 0)
            die("nft_table_replace", r);
    }
    snprintf(cmd, sizeof cmd, "nft_table_replace (%zu ports)", n_el);
    report(cmd, t, rounds, NULL);

    for (size_t i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        r = nft_table_is_intact(n, &net);
        t[i] = now_ns() - t0;
        if (r != 1)
            die("nft_table_is_intact", r < 0 ? r : -EBADE);
    }
    report("nft_table_is_intact", t, rounds, NULL);

    /* one port published and unpublished, alternately, as a start and a stop do */
    uint64_t *td = calloc(rounds, sizeof *td);
    if (!td)
        die("calloc", -ENOMEM);
    for (size_t i = 0; i < rounds; i++) {
        NftPort p = port(8080);
        uint64_t t0 = now_ns();
        r = nft_elements_add(n, NULL, 0, &p, 1);
        t[i] = now_ns() - t0;
        if (r < 0)
            die("nft_elements_add", r);
        t0 = now_ns();
        r = nft_elements_delete(n, NULL, 0, &p, 1);
        td[i] = now_ns() - t0;
        if (r < 0)
            die("nft_elements_delete", r);
    }
    report("nft_elements_add (1 port)", t, rounds, &add_us);
    report("nft_elements_delete (1 port)", td, rounds, &del_us);

    /* a sandbox's start and stop: its two addresses and a port, masqueraded only, then
     * also bound to its bridge port (table bridge sandboxd): the binding's cost */
    for (int bound = 0; bound < 2; bound++) {
        uint64_t *ta = calloc(rounds, sizeof *ta);
        if (!ta)
            die("calloc", -ENOMEM);
        for (size_t i = 0; i < rounds; i++) {
            const char *veth = bound ? NFT_PORT_PREFIX "0000abcd" : NULL;
            NftAddr a[2] = {{AF_INET, {.bytes = {10, 88, 0, 9}}, veth},
                            {AF_INET6, {.bytes = {0xfd, 0, 0, 0x88, [15] = 9}}, veth}};
            NftPort p = port(8080);
            uint64_t t0 = now_ns();
            r = nft_elements_add(n, a, 2, &p, 1);
            ta[i] = now_ns() - t0;
            if (r < 0)
                die("nft_elements_add", r);
            t0 = now_ns();
            r = nft_elements_delete(n, a, 2, &p, 1);
            td[i] = now_ns() - t0;
            if (r < 0)
                die("nft_elements_delete", r);
        }
        report(bound ? "add (2 addrs bound to a port, 1 port)" : "add (2 addrs, 1 port)", ta,
               rounds, NULL);
        report(bound ? "delete (2 addrs bound, 1 port)" : "delete (2 addrs, 1 port)", td, rounds,
               NULL);
        free(ta);
    }

    for (size_t i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        r = run_nft("add element inet sandboxd ports4_any { tcp . 8080 : 10.88.0.1 . 80 }");
        t[i] = now_ns() - t0;
        if (r < 0)
            die("nft add element", r);
        t0 = now_ns();
        r = run_nft("delete element inet sandboxd ports4_any { tcp . 8080 }");
        td[i] = now_ns() - t0;
        if (r < 0)
            die("nft delete element", r);
    }
    report("peer: nft add element (1 port)", t, rounds, &cli_add_us);
    report("peer: nft delete element (1 port)", td, rounds, &cli_del_us);
    free(td);

    printf("ratio nft.c / nft CLI (medians): add %.4f, delete %.4f\n", add_us / cli_add_us,
           del_us / cli_del_us);
    return 0;
}
