/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A payload for test_procview.py: sysinfo(2) with a null pointer, a read-only buffer, a good
 * one, and from a second thread; prints what each got, then "done" and sleeps.
 *   sysinfo-probe alloc MIB: prints /proc/meminfo's MemAvailable, touches MIB MiB of anonymous
 *   memory, prints it again, then "done" and sleeps holding it.
 *   sysinfo-probe hammer PATH THREADS: reads PATH whole, again and again, in THREADS threads.
 *   sysinfo-probe time PATH N: reads PATH whole N times; prints "median_ns p99_ns". (Both for
 *   bench/procview-read.)
 *   sysinfo-probe watch PATH [USEC]: reads PATH's first line every USEC (1000) and prints
 *   "up MONOTONIC_NS LINE" or "down MONOTONIC_NS ERROR" each time the outcome changes (for
 *   bench/procview-recovery; the sandbox shares the host's CLOCK_MONOTONIC).
 *   sysinfo-probe cpus: prints sysconf(_SC_NPROCESSORS_ONLN), as glibc programs count CPUs.
 *   sysinfo-probe i386: sysinfo() as a 32-bit program calls it (int $0x80, nr 116) into a
 *   buffer below 4 GiB, then with a null pointer; prints "i386: R BYTES UNIT" and
 *   "i386-null: R".
 *   sysinfo-probe hold PATH N: raises its soft RLIMIT_NOFILE to the hard one, opens PATH N
 *   times (kept open), prints "held K" and sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

static const char *hammer_path;

static void read_whole(const char *path) {
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
}

static void *hammer_main(void *arg) {
    (void) arg;
    for (;;)
        read_whole(hammer_path);
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void watch(const char *path, unsigned usec) {
    char last[256] = "", now[256];
    for (;;) {
        char buf[200];
        ssize_t n = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n = read(fd, buf, sizeof buf - 1);
            if (n < 0)
                n = -errno;
            close(fd);
        } else
            n = -errno;
        if (n > 0) {
            buf[n] = 0;
            buf[strcspn(buf, "\n")] = 0;
            snprintf(now, sizeof now, "up %s", buf);
        } else
            snprintf(now, sizeof now, "down %s", n == 0 ? "empty" : strerror((int) -n));
        if (strcmp(now, last) != 0) {
            printf("%.*s %llu%s\n", (int) strcspn(now, " "), now, (unsigned long long) now_ns(),
                   now + strcspn(now, " "));
            fflush(stdout);
            memcpy(last, now, sizeof last);
        }
        if (usec)
            usleep(usec);
    }
}

int main(int argc, char **argv) {
    struct sysinfo si;
    if (argc == 4 && strcmp(argv[1], "hold") == 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        long n = atol(argv[3]), k = 0;
        while (k < n && open(argv[2], O_RDONLY | O_CLOEXEC) >= 0)
            k++;
        printf("held %ld\n", k);
        fflush(stdout);
        for (;;)
            pause();
    }
#ifdef __x86_64__
    if (argc == 2 && strcmp(argv[1], "i386") == 0) {
        uint32_t *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(116), "b"(b) : "memory");
        /* compat_sysinfo: totalram at byte 16, mem_unit at 52 */
        printf("i386: %ld %llu %u\n", r, (unsigned long long) b[4] * b[13], b[13]);
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(116), "b"(0) : "memory");
        printf("i386-null: %ld\n", r);
        return 0;
    }
#endif
    if (argc == 2 && strcmp(argv[1], "cpus") == 0) {
        printf("%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
        return 0;
    }
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "watch") == 0)
        watch(argv[2], argc == 4 ? (unsigned) atoi(argv[3]) : 1000);
    if (argc == 4 && strcmp(argv[1], "hammer") == 0) {
        hammer_path = argv[2];
        int n = atoi(argv[3]);
        for (int i = 1; i < n; i++) {
            pthread_t t;
            pthread_create(&t, NULL, hammer_main, NULL);
        }
        hammer_main(NULL);
    }
    if (argc == 4 && strcmp(argv[1], "time") == 0) {
        int n = atoi(argv[3]);
        uint64_t *t = calloc((size_t) n, sizeof *t);
        for (int i = 0; t && i < n; i++) {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            read_whole(argv[2]);
            clock_gettime(CLOCK_MONOTONIC, &b);
            t[i] = (uint64_t) (b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t) (b.tv_nsec - a.tv_nsec);
        }
        qsort(t, (size_t) n, sizeof *t, cmp_u64);
        printf("%llu %llu\n", (unsigned long long) t[n / 2], (unsigned long long) t[n * 99 / 100]);
        return 0;
    }
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
