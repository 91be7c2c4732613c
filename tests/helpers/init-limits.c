/* SPDX-License-Identifier: GPL-2.0-or-later */
/* init-limits: run as a root payload. prlimit() checks only that the uids match, so a root
 * payload may set RLIMIT_FSIZE=0 on its sandbox's init (pid 1): the init's writes of the log
 * and of the exit file would then fail, and the payload's output be lost. Prints what it did,
 * then lines that must still reach the log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
    struct rlimit zero = {0, 0};
    int r = prlimit(1, RLIMIT_FSIZE, &zero, NULL);
    printf("prlimit-init=%s\n", r < 0 ? strerror(errno) : "ok");
    fflush(stdout);
    sleep(1); /* the line above is relayed before the limit bites, or after: both must show */
    for (int i = 0; i < 3; i++)
        printf("after-limit %d\n", i);
    return 7;
}
