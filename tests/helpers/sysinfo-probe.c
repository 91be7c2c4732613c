/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A payload for test_procview.py: sysinfo(2) with a null pointer, a read-only buffer, a good
 * one, and from a second thread; prints what each got, then "done" and sleeps.
 *   sysinfo-probe alloc MIB: prints /proc/meminfo's MemAvailable, touches MIB MiB of anonymous
 *   memory, prints it again, then "done" and sleeps holding it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static void report(const char *what, long r, const struct sysinfo *si) {
    if (r < 0)
        printf("%s: -1 %s\n", what, errno == EFAULT ? "EFAULT" : strerror(errno));
    else
        printf("%s: 0 totalram=%llu unit=%u\n", what,
               (unsigned long long) si->totalram * si->mem_unit, si->mem_unit);
    fflush(stdout);
}

static void *thread_main(void *arg) {
    (void) arg;
    struct sysinfo si;
    long r = syscall(SYS_sysinfo, &si);
    report("thread", r, &si);
    return NULL;
}

static void print_available(void) {
    char line[256];
    FILE *f = fopen("/proc/meminfo", "re");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "MemAvailable:", 13) == 0)
            fputs(line, stdout);
    if (f)
        fclose(f);
    fflush(stdout);
}

int main(int argc, char **argv) {
    struct sysinfo si;
    if (argc == 3 && strcmp(argv[1], "alloc") == 0) {
        size_t n = (size_t) atoi(argv[2]) << 20;
        print_available();
        volatile char *p = malloc(n);
        for (size_t i = 0; p && i < n; i += 4096) /* every page, and not optimized away */
            p[i] = 1;
        print_available();
        printf("done\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    report("null", syscall(SYS_sysinfo, NULL), NULL);
    void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report("readonly", syscall(SYS_sysinfo, ro), NULL);
    long r = syscall(SYS_sysinfo, &si);
    report("good", r, &si);
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    printf("done\n");
    fflush(stdout);
    for (;;)
        pause();
}
