/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A layer is the archive a hostile image author writes: whatever its bytes, unpacking must not
 * crash, and nothing may appear or change outside the layer's directory. Each input is
 * unpacked into BASE/layer beside BASE/sentinel; afterwards BASE must hold just those two and
 * the sentinel its text. A tree that unpacked is then packed back into a tar (pack.h, as a
 * commit or an export does) and unpacked again into BASE/again: both trees must be the same
 * (types, modes, owners, link counts, contents, link targets, device numbers, xattrs). */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "digest.h"
#include "layer.h"
#include "pack.h"
#include "strv.h"
#include <sys/sysmacros.h>
#include <sys/xattr.h>
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
            strcmp(de->d_name, "layer") && strcmp(de->d_name, "sentinel") &&
            strcmp(de->d_name, "again"))
            __builtin_trap(); /* written outside the layer */
    closedir(d);
    char path[128], buf[16] = {0};
    snprintf(path, sizeof path, "%s/sentinel", base);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) != 8 || strcmp(buf, "sentinel"))
        __builtin_trap();
    close(fd);
}

/* One line per entry: what a round trip must keep. */
static int describe(const char *path, int parent_fd, const char *name, const struct stat *st,
                    void *userdata) {
    char ***lines = userdata, what[DIGEST_STRING_MAX + 8] = "", xattrs[4096] = "";
    if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) {
        int fd = openat(parent_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            __builtin_trap();
        char names[2048];
        ssize_t n = flistxattr(fd, names, sizeof names);
        for (char *x = names; n > 0 && x < names + n; x += strlen(x) + 1) {
            char v[256];
            ssize_t k = fgetxattr(fd, x, v, sizeof v - 1);
            size_t used = strlen(xattrs);
            snprintf(xattrs + used, sizeof xattrs - used, "%s=%zd:%.*s;", x, k,
                     (int) (k > 0 ? k : 0), v);
        }
        if (S_ISREG(st->st_mode)) {
            Sha256 *h = NULL;
            uint8_t buf[8192];
            if (sha256_new(&h) < 0)
                __builtin_trap();
            for (ssize_t k; (k = read(fd, buf, sizeof buf)) > 0;)
                sha256_update(h, buf, (size_t) k);
            sha256_final(h, what);
            sha256_free(h);
        }
        close(fd);
    } else if (S_ISLNK(st->st_mode)) {
        ssize_t k = readlinkat(parent_fd, name, what, sizeof what - 1);
        what[k > 0 ? k : 0] = 0;
    }
    char *line = NULL;
    if (asprintf(&line, "%s|%o|%u|%u|%lu|%lld|%u:%u|%s|%s", path, st->st_mode, st->st_uid,
                 st->st_gid, (unsigned long) st->st_nlink,
                 S_ISREG(st->st_mode) ? (long long) st->st_size : 0LL, major(st->st_rdev),
                 minor(st->st_rdev), what, xattrs) < 0 ||
        strv_consume(lines, line) < 0)
        __builtin_trap();
    return 0;
}

static char **describe_tree(int dir_fd) {
    char **lines = NULL;
    if (layer_walk(dir_fd, describe, &lines) < 0)
        __builtin_trap();
    return lines;
}

/* Packs the tree below dir_fd and unpacks it into BASE/again: the same tree. */
static void round_trip(int dir_fd, const LayerUnpackOptions *o) {
    char path[128], *why = NULL;
    int tar = memfd_create("packed", MFD_CLOEXEC);
    LayerSink *sink = NULL;
    LayerPackOptions po = {};
    LayerPackResult pres;
    char diff_id[DIGEST_STRING_MAX], blob[DIGEST_STRING_MAX];
    if (tar < 0 || layer_sink_new(tar, false, &sink) < 0 ||
        layer_pack(dir_fd, &po, sink, &pres, &why) < 0 ||
        layer_sink_finish(sink, diff_id, blob, NULL, NULL) < 0 || lseek(tar, 0, SEEK_SET) != 0)
        __builtin_trap(); /* any tree we unpacked packs */
    layer_sink_free(sink);
    snprintf(path, sizeof path, "%s/again", base);
    if (mkdir(path, 0755) < 0)
        __builtin_trap();
    int again = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    LayerUnpackResult res;
    LayerUnpackOptions o2 = *o;
    o2.max_bytes = 0; /* ours: pax headers make it a little larger than the input */
    o2.max_entries = 0;
    if (again < 0 || layer_unpack(tar, again, &o2, &res, &why) < 0)
        __builtin_trap(); /* what we write unpacks */
    layer_unpack_result_done(&res);
    if (strcmp(diff_id, res.diff_id))
        __builtin_trap();
    char **a = describe_tree(dir_fd), **b = describe_tree(again);
    if (strv_length(a) != strv_length(b))
        __builtin_trap();
    for (size_t i = 0; a && a[i]; i++)
        if (strcmp(a[i], b[i]))
            __builtin_trap();
    strv_free(a);
    strv_free(b);
    close(again);
    close(tar);
    if (rm_rf(path) < 0)
        __builtin_trap();
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
        round_trip(dest, &o);
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
