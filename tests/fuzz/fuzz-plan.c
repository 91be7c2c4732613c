/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan is the only input of sandboxd-init, which runs as root before the sandbox exists. The
 * daemon writes it, but whatever bytes reach the init must give a plan or -EBADMSG. */

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"
#include "plan.h"

/* As the init receives it: a sealed memfd positioned at its start (see plan_to_memfd()). */
static int make_plan_fd(const uint8_t *data, size_t size) {
    _cleanup_close_ int fd = memfd_create("fuzz-plan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    for (size_t off = 0; off < size;) {
        ssize_t k = write(fd, data + off, size - off);
        if (k < 0)
            return -errno;
        off += (size_t)k;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
        lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    return TAKE_FD(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    _cleanup_close_ int fd = make_plan_fd(data, size);
    if (fd < 0)
        __builtin_trap(); /* the harness, not the code under test, failed: never hide that */
    SandboxPlan *p = NULL;
    int r = plan_from_fd(fd, &p);
    if ((r == 0) != (p != NULL) ||
        (r < 0 && r != -EBADMSG && r != -ENOMEM && r != -ERANGE && r != -EINVAL))
        __builtin_trap();
    plan_free(p);
    return 0;
}
