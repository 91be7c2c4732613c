/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A layer is the archive a hostile image author writes: whatever its bytes, unpacking must not
 * crash, and nothing may appear or change outside the layer's directory. Each input is
 * unpacked into BASE/layer beside BASE/sentinel; afterwards BASE must hold just those two and
 * the sentinel its text. */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "layer.h"
#include "rm-rf.h"

static char base[64];

static void cleanup(void) {
    if (*base)
        (void) rm_rf(base);
}

static void check_base(void) {
    DIR *d = opendir(base);
    struct dirent *de;
    if (!d)
        __builtin_trap();
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            strcmp(de->d_name, "layer") && strcmp(de->d_name, "sentinel"))
            __builtin_trap(); /* written outside the layer */
    closedir(d);
    char path[128], buf[16] = {0};
    snprintf(path, sizeof path, "%s/sentinel", base);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) != 8 || strcmp(buf, "sentinel"))
        __builtin_trap();
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[128];
    if (!*base) {
        snprintf(base, sizeof base, "%s/fuzz-layer.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(base))
            __builtin_trap();
        atexit(cleanup);
        snprintf(path, sizeof path, "%s/sentinel", base);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "sentinel", 8) != 8)
            __builtin_trap();
        close(fd);
    }
    int src = memfd_create("layer", MFD_CLOEXEC);
    if (src < 0 || (size && write(src, data, size) != (ssize_t) size) || lseek(src, 0, SEEK_SET))
        __builtin_trap();
    snprintf(path, sizeof path, "%s/layer", base);
    if (mkdir(path, 0755) < 0)
        __builtin_trap();
    int dest = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dest < 0)
        __builtin_trap();
    /* bounded, so an input cannot fill the disk or take seconds */
    LayerUnpackOptions o = {.max_bytes = 4 << 20, .max_entries = 4096,
                            .keep_owner = geteuid() == 0};
    LayerUnpackResult res;
    char *why = NULL;
    int r = layer_unpack(src, dest, &o, &res, &why);
    if (r >= 0) {
        layer_unpack_result_done(&res);
        if (why)
            __builtin_trap();
    } else if (!why)
        __builtin_trap(); /* every failure says why */
    free(why);
    close(dest);
    close(src);
    check_base();
    if (rm_rf(path) < 0)
        __builtin_trap();
    return 0;
}
