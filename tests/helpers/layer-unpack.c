/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Drives src/image/layer.c from test_layers.py: unpacks one layer file into a new directory
 * and prints the result as KEY=VALUE lines, or "error: WHY" and exits 1.
 *   layer-unpack [--max-bytes N] [--max-entries N] [--allow-devices] [--no-owner] LAYER DIR */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"

int main(int argc, char **argv) {
    static const struct option opts[] = {{"max-bytes", required_argument, NULL, 'b'},
                                         {"max-entries", required_argument, NULL, 'e'},
                                         {"allow-devices", no_argument, NULL, 'd'},
                                         {"no-owner", no_argument, NULL, 'n'},
                                         {}};
    LayerUnpackOptions o = {.keep_owner = true};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
        switch (c) {
        case 'b': o.max_bytes = strtoull(optarg, NULL, 0); break;
        case 'e': o.max_entries = strtoull(optarg, NULL, 0); break;
        case 'd': o.allow_devices = true; break;
        case 'n': o.keep_owner = false; break;
        default: return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: layer-unpack [options] LAYER DIR\n");
        return 2;
    }
    int src = open(argv[optind], O_RDONLY | O_CLOEXEC);
    if (src < 0 || mkdir(argv[optind + 1], 0755) < 0) {
        fprintf(stderr, "layer-unpack: %s\n", strerror(errno));
        return 2;
    }
    int dest = open(argv[optind + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dest < 0)
        return 2;
    LayerUnpackResult res;
    char *why = NULL;
    int r = layer_unpack(src, dest, &o, &res, &why);
    if (r < 0) {
        printf("error: %s\nerrno: %s\n", why ? why : "?", strerror(-r));
        free(why);
        return 1;
    }
    printf("blob_digest=%s\ndiff_id=%s\nblob_size=%llu\ntar_size=%llu\nentries=%llu\n"
           "devices_skipped=%llu\nfirst_device_skipped=%s\n",
           res.blob_digest, res.diff_id, (unsigned long long) res.blob_size,
           (unsigned long long) res.tar_size, (unsigned long long) res.n_entries,
           (unsigned long long) res.n_devices_skipped,
           res.first_device_skipped ? res.first_device_skipped : "");
    layer_unpack_result_done(&res);
    return 0;
}
