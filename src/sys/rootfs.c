/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sandbox's floor: overlay of image layers + init layer + rw layer (or a plain directory),
 * a /dev of its own, fresh /proc, read-only /sys, volumes, Docker's masked and read-only paths,
 * the daemon's directories hidden, then pivot_root.
 *
 * Every path inside the root is resolved with openat2(RESOLVE_IN_ROOT) from a root fd and
 * mounted through the new mount API onto that fd, never by string: an image that makes /proc or
 * a volume target a symlink cannot redirect a mount onto the host (runc CVE-2019-19921,
 * CVE-2021-30465). System mount points must not be symlinks at all. */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "macro.h"
#include "path-util.h"
#include "rootfs.h"
#include "strv.h"

_printf_(4, 5) static int fail(StepError *e, const char *step, int r, const char *fmt, ...) {
    va_list ap;
    e->step = step;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
    return r;
}

static int openat2_in_root(int rootfd, const char *path, uint64_t flags, uint64_t resolve) {
    struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = resolve};
    while (*path == '/')
        path++;
    int fd = (int) syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof how);
    return fd < 0 ? -errno : fd;
}

/* Opens a host path (a volume source, a RootDirectory=) as O_PATH without following any
 * symlink on the way: such a path is read at every start, and whoever can write one of its
 * directories (a sandbox with a volume above it, or the sandbox itself through a parent
 * volume) could otherwise swap a component for a symlink to / before the next start. */
static int open_host_path(const char *path) {
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int) syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    return fd < 0 ? -errno : fd;
}

/* Opens path inside the root as O_PATH, creating what is missing: directories along the way,
 * and the last component as a directory or an empty file. With no_symlinks, refuses symlinks
 * anywhere in the path; otherwise symlinks are followed but stay inside the root. */
static int open_or_create_in_root(int rootfd, const char *path, bool dir, bool no_symlinks) {
    uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
                       (no_symlinks ? RESOLVE_NO_SYMLINKS : 0);
    int fd = openat2_in_root(rootfd, path, O_PATH, resolve);
    if (fd != -ENOENT)
        return fd;

    _cleanup_free_ char *parent = strdup(path);
    if (!parent)
        return -ENOMEM;
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    if (slash)
        *slash = 0;
    _cleanup_free_ char *name = strdup(base);
    if (!name)
        return -ENOMEM;
    _cleanup_close_ int pfd = slash && parent[0]
                                  ? open_or_create_in_root(rootfd, parent, true, no_symlinks)
                                  : openat2_in_root(rootfd, "/", O_PATH, resolve);
    if (pfd < 0)
        return pfd;
    /* O_PATH fds cannot be used for mkdirat/openat(O_CREAT): reopen as a directory */
    _cleanup_close_ int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    if (dir) {
        if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
            return -errno;
    } else {
        int f = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0 && errno != EEXIST)
            return -errno;
        safe_close(f);
    }
    fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* A new, detached mount of file system type fstype. opts: "key=value" or "flag". */
static int make_fs(const char *fstype, const char *const *opts, unsigned attrs) {
    _cleanup_close_ int fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
    if (fsfd < 0)
        return -errno;
    for (const char *const *o = opts; o && *o; o++) {
        const char *eq = strchr(*o, '=');
        int r;
        if (eq) {
            _cleanup_free_ char *k = strndup(*o, (size_t) (eq - *o));
            if (!k)
                return -ENOMEM;
            r = fsconfig(fsfd, FSCONFIG_SET_STRING, k, eq + 1, 0);
        } else
            r = fsconfig(fsfd, FSCONFIG_SET_FLAG, *o, NULL, 0);
        if (r < 0)
            return -errno;
    }
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return -errno;
    int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
    return mfd < 0 ? -errno : mfd;
}

static int move_tree_on(int tree, int targetfd) {
    return RET_NERRNO(move_mount(tree, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH |
                                                             MOVE_MOUNT_T_EMPTY_PATH));
}

/* Mounts a new file system of type fstype onto the target fd. */
static int mount_fs_on(int targetfd, const char *fstype, const char *const *opts,
                       unsigned attrs) {
    _cleanup_close_ int mfd = make_fs(fstype, opts, attrs);
    if (mfd < 0)
        return mfd;
    return move_tree_on(mfd, targetfd);
}

/* Bind-mounts path under dirfd (the fd itself when path is "") onto the target fd, with the
 * MOUNT_ATTR_* flags attrs. */
static int bind_on(int dirfd, const char *path, int targetfd, bool recursive, unsigned attrs) {
    unsigned rec = recursive ? AT_RECURSIVE : 0;
    _cleanup_close_ int tree = open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec |
                                                          (*path ? 0 : AT_EMPTY_PATH));
    if (tree < 0)
        return -errno;
    if (attrs) {
        struct mount_attr attr = {.attr_set = attrs};
        if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0)
            return -errno;
    }
    return move_tree_on(tree, targetfd);
}

/* A detached copy of a host directory, idmapped into userns_fd (and read-only if asked), nodev
 * (see setup_root). */
static int idmapped_tree(int dfd, const char *path, int userns_fd, bool recursive,
                         bool read_only) {
    unsigned rec = recursive ? AT_RECURSIVE : 0;
    int tree = open_tree(dfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec |
                                        (*path ? 0 : AT_EMPTY_PATH));
    if (tree < 0)
        return -errno;
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV |
                                          (read_only ? MOUNT_ATTR_RDONLY : 0),
                              .userns_fd = (uint64_t) userns_fd};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0) {
        int r = -errno;
        safe_close(tree);
        return r;
    }
    return tree;
}

/* Makes an already mounted path inside the root read-only, by binding it over itself. */
static int make_read_only(int rootfd, const char *path) {
    _cleanup_close_ int fd = openat2_in_root(rootfd, path, O_PATH,
                                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    _cleanup_close_ int tree =
        open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (tree < 0)
        return -errno;
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
        return -errno;
    return RET_NERRNO(move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH |
                                                       MOVE_MOUNT_T_EMPTY_PATH));
}

int rootfs_overlay_options(char *const *lowers, const char *init_layer, const char *upper,
                           const char *work, char **ret) {
    size_t n = strv_length(lowers);
    size_t len = strlen("lowerdir=") + 1;
    if (n == 0 || !init_layer)
        return -EINVAL;
    const char *all[] = {init_layer, upper, work};
    for (size_t i = 0; i < ELEMENTSOF(all); i++)
        if (all[i] && strpbrk(all[i], ":,\\"))
            return -EINVAL;
    STRV_FOREACH(l, lowers) {
        if (strpbrk(*l, ":,\\"))
            return -EINVAL;
        len += strlen(*l) + 1;
    }
    len += strlen(init_layer) + 1;
    if (upper)
        len += strlen(",upperdir=,workdir=") + strlen(upper) + strlen(work);
    char *o = malloc(len), *p = o;
    if (!o)
        return -ENOMEM;
    /* overlayfs wants the top layer first */
    p += sprintf(p, "lowerdir=%s", init_layer);
    for (size_t i = n; i > 0; i--)
        p += sprintf(p, ":%s", lowers[i - 1]);
    if (upper)
        sprintf(p, ",upperdir=%s,workdir=%s", upper, work);
    *ret = o;
    return 0;
}

/* Overlayfs needs paths: each idmapped layer is attached under a private tmpfs on the stage
 * directory, which exists only in the sandbox's mount namespace. Returns the staged paths in
 * the order of lowers, then the init layer. */
static int stage_idmapped_layers(const SandboxPlan *p, int userns_fd, char ***ret_lowers,
                                 char **ret_init, StepError *e) {
    static const char *const tmpfs_opts[] = {"mode=0700", NULL};
    _cleanup_strv_free_ char **staged = NULL;
    _cleanup_close_ int stage = open(p->stage_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (stage < 0)
        return fail(e, "idmap", -errno, "opening %s", p->stage_dir);
    int r = mount_fs_on(stage, "tmpfs", tmpfs_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (r < 0)
        return fail(e, "idmap", r, "mounting tmpfs on %s", p->stage_dir);
    _cleanup_close_ int dfd = open(p->stage_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return fail(e, "idmap", -errno, "opening the tmpfs on %s", p->stage_dir);
    size_t n = strv_length(p->lowers);
    for (size_t i = 0; i <= n; i++) {
        const char *src = i < n ? p->lowers[i] : p->init_layer;
        char name[32];
        snprintf(name, sizeof name, "%zu", i);
        if (mkdirat(dfd, name, 0700) < 0)
            return fail(e, "idmap", -errno, "creating %s/%s", p->stage_dir, name);
        _cleanup_close_ int target = openat(dfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int tree = idmapped_tree(AT_FDCWD, src, userns_fd, false, false);
        if (target < 0 || tree < 0)
            return fail(e, "idmap", target < 0 ? -errno : tree,
                        "idmapping layer %s (the file system must support idmapped mounts)",
                        src);
        r = move_tree_on(tree, target);
        if (r < 0)
            return fail(e, "idmap", r, "attaching idmapped layer %s", src);
        char *path = NULL;
        if (asprintf(&path, "%s/%s", p->stage_dir, name) < 0 || strv_consume(&staged, path) < 0)
            return fail(e, "idmap", -ENOMEM, "out of memory");
    }
    *ret_init = strdup(staged[n]);
    if (!*ret_init)
        return fail(e, "idmap", -ENOMEM, "out of memory");
    free(staged[n]);
    staged[n] = NULL;
    *ret_lowers = TAKE_PTR(staged);
    return 0;
}

/* The root is nodev: with no device cgroup, a node that an image brings (b 8:0 as /opt/disk)
 * would give the payload the host's disk. Device nodes live only in the /dev we make. */
static int setup_root(const SandboxPlan *p, int userns_fd, StepError *e) {
    int r;
    if (p->lowers) {
        _cleanup_free_ char *opts = NULL, *init_layer = NULL;
        _cleanup_strv_free_ char **lowers = NULL;
        if (userns_fd >= 0) {
            r = stage_idmapped_layers(p, userns_fd, &lowers, &init_layer, e);
            if (r < 0)
                return r;
        }
        r = rootfs_overlay_options(lowers ?: p->lowers, init_layer ?: p->init_layer,
                                   p->read_only ? NULL : p->upper,
                                   p->read_only ? NULL : p->work, &opts);
        if (r < 0)
            return fail(e, "overlay", r, "building overlay options for %s", p->root_mount);
        if (strlen(opts) >= 4096)
            return fail(e, "overlay", -E2BIG, "overlay options for %s exceed a page",
                        p->root_mount);
        if (mount("overlay", p->root_mount, "overlay", MS_NODEV, opts) < 0)
            return fail(e, "overlay", -errno, "mounting overlay on %s", p->root_mount);
        return 0;
    }

    _cleanup_close_ int target = open(p->root_mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (target < 0)
        return fail(e, "bind-root", -errno, "opening %s", p->root_mount);
    _cleanup_close_ int rootdir = open_host_path(p->root_directory);
    if (rootdir < 0)
        return fail(e, "bind-root", rootdir, "RootDirectory=%s%s", p->root_directory,
                    rootdir == -ELOOP ? ": a component of the path is a symbolic link, which "
                                        "is refused; name the real path" : "");
    if (userns_fd >= 0) {
        _cleanup_close_ int tree = idmapped_tree(rootdir, "", userns_fd, true, p->read_only);
        r = tree < 0 ? tree : move_tree_on(tree, target);
    } else
        r = bind_on(rootdir, "", target, true,
                    MOUNT_ATTR_NODEV | (p->read_only ? MOUNT_ATTR_RDONLY : 0));
    if (r < 0)
        return fail(e, "bind-root", r, "binding %s on %s", p->root_directory, p->root_mount);
    /* A plain directory has no init layer: put the generated files over the image's, where
     * the image has them. */
    static const char *const files[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf"};
    _cleanup_close_ int rootfd = open(p->root_mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return fail(e, "bind-root", -errno, "opening %s", p->root_mount);
    for (size_t i = 0; p->init_layer && i < ELEMENTSOF(files); i++) {
        _cleanup_close_ int fd = openat2_in_root(rootfd, files[i], O_PATH,
                                                 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (fd == -ENOENT || fd == -ELOOP)
            continue;
        if (fd < 0)
            return fail(e, "bind-root", fd, "opening /%s in the root", files[i]);
        _cleanup_free_ char *src = NULL;
        if (asprintf(&src, "%s/%s", p->init_layer, files[i]) < 0)
            return fail(e, "bind-root", -ENOMEM, "out of memory");
        /* the sandbox's own files, but ReadOnly= means read-only for them too */
        if (userns_fd >= 0) {
            _cleanup_close_ int tree =
                idmapped_tree(AT_FDCWD, src, userns_fd, false, p->read_only);
            r = tree < 0 ? tree : move_tree_on(tree, fd);
        } else
            r = bind_on(AT_FDCWD, src, fd, false, p->read_only ? MOUNT_ATTR_RDONLY : 0);
        if (r < 0)
            return fail(e, "bind-root", r, "binding %s on /%s", src, files[i]);
    }
    return 0;
}

static int setup_proc(int rootfd, StepError *e) {
    _cleanup_close_ int fd = open_or_create_in_root(rootfd, "/proc", true, true);
    if (fd < 0)
        return fail(e, "proc", fd, "opening /proc in the root (it must be a directory)");
    int r = mount_fs_on(fd, "proc", NULL,
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (r < 0)
        return fail(e, "proc", r, "mounting proc on /proc");
    return 0;
}

/* The nodes every sandbox gets, as Docker and Podman make them */
static const struct {
    const char *name;
    unsigned major, minor;
} dev_nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9},
    {"tty", 5, 0},
};

/* Makes a device node in the sandbox's /dev. A bind of the host's node would share its inode,
 * and chmod 600 /dev/null inside would change the host's /dev/null. */
static int make_dev_node(int dfd, const char *name, dev_t rdev) {
    if (mknodat(dfd, name, S_IFCHR | 0666, rdev) >= 0)
        return RET_NERRNO(fchmodat(dfd, name, 0666, 0)); /* whatever our umask took away */
    if (errno != EPERM)
        return -errno;
    /* mknod refused (no CAP_MKNOD in our user namespace, a device cgroup): bind the host's
     * node after checking it is the device it claims to be, read-only, so that chmod and
     * chown inside fail with EROFS instead of reaching the host's inode; reads and writes of
     * a device are not affected by a read-only mount */
    _cleanup_free_ char *src = NULL;
    if (asprintf(&src, "/dev/%s", name) < 0)
        return -ENOMEM;
    _cleanup_close_ int host = open(src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (host < 0 || fstat(host, &st) < 0)
        return -errno;
    if (!S_ISCHR(st.st_mode) || st.st_rdev != rdev)
        return -ENODEV;
    int f = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f < 0)
        return -errno;
    safe_close(f);
    _cleanup_close_ int t = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (t < 0)
        return -errno;
    return bind_on(host, "", t, false, MOUNT_ATTR_RDONLY);
}

static int setup_dev(const SandboxPlan *p, int rootfd, StepError *e) {
    static const char *const links[][2] = {
        {"pts/ptmx", "ptmx"},          {"/proc/self/fd", "fd"},
        {"/proc/self/fd/0", "stdin"},  {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},
    };
    static const char *const tmpfs_opts[] = {"mode=755", "size=65536k", NULL};
    static const char *const shm_opts[] = {"mode=1777", "size=65536k", NULL};
    char tty_gid[32];
    /* new ptys belong to the tty group (5) as the sandbox sees it */
    snprintf(tty_gid, sizeof tty_gid, "gid=%" PRIu32, p->userns_base + 5);
    const char *const pts_opts[] = {"newinstance", "ptmxmode=0666", "mode=620", tty_gid, NULL};
    int r;

    _cleanup_close_ int fd = open_or_create_in_root(rootfd, "/dev", true, true);
    if (fd < 0)
        return fail(e, "dev", fd, "opening /dev in the root (it must be a directory)");
    r = mount_fs_on(fd, "tmpfs", tmpfs_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
    if (r < 0)
        return fail(e, "dev", r, "mounting tmpfs on /dev");
    _cleanup_close_ int dfd = openat2_in_root(rootfd, "/dev", O_RDONLY | O_DIRECTORY,
                                              RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (dfd < 0)
        return fail(e, "dev", dfd, "opening the new /dev");
    for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
        dev_t rdev = makedev(dev_nodes[i].major, dev_nodes[i].minor);
        r = make_dev_node(dfd, dev_nodes[i].name, rdev);
        if (r < 0)
            return fail(e, "dev", r, "creating /dev/%s", dev_nodes[i].name);
    }
    if (mkdirat(dfd, "pts", 0755) < 0 || mkdirat(dfd, "shm", 01777) < 0)
        return fail(e, "dev", -errno, "creating /dev/pts and /dev/shm");
    _cleanup_close_ int pts = openat(dfd, "pts", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int shm = openat(dfd, "shm", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (pts < 0 || shm < 0)
        return fail(e, "dev", -errno, "opening /dev/pts and /dev/shm");
    r = mount_fs_on(pts, "devpts", pts_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
    if (r < 0)
        return fail(e, "dev", r, "mounting devpts on /dev/pts");
    r = mount_fs_on(shm, "tmpfs", shm_opts,
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (r < 0)
        return fail(e, "dev", r, "mounting tmpfs on /dev/shm");
    for (size_t i = 0; i < ELEMENTSOF(links); i++)
        if (symlinkat(links[i][0], dfd, links[i][1]) < 0)
            return fail(e, "dev", -errno, "creating /dev/%s", links[i][1]);
    return 0;
}

/* The null device that masks files: opened from the /dev we just made and checked to be char
 * 1:3, never taken by a path the image or a volume could make a symlink or a file of
 * (runc CVE-2025-31133, where masking bound an attacker's file instead). */
static int open_verified_null(int rootfd, StepError *e) {
    int fd = openat2_in_root(rootfd, "/dev/null", O_PATH,
                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (fd < 0)
        return fail(e, "dev", fd, "opening the new /dev/null");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        safe_close(fd);
        return fail(e, "dev", -ENODEV, "the new /dev/null is not the null device (char 1:3)");
    }
    return fd;
}

static int setup_sys(int rootfd, StepError *e) {
    _cleanup_close_ int fd = open_or_create_in_root(rootfd, "/sys", true, true);
    if (fd < 0)
        return fail(e, "sys", fd, "opening /sys in the root (it must be a directory)");
    int r = mount_fs_on(fd, "sysfs", NULL,
                        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                            MOUNT_ATTR_NOEXEC);
    if (r < 0)
        return fail(e, "sys", r, "mounting sysfs read-only on /sys");
    return 0;
}

static int setup_volumes(const SandboxPlan *p, int rootfd, StepError *e) {
    for (size_t i = 0; i < p->n_volumes; i++) {
        const PlanVolume *v = &p->volumes[i];
        struct stat st;
        _cleanup_close_ int src = open_host_path(v->source);
        if (src == -ELOOP)
            return fail(e, "volume", src, "volume source %s: a component of the path is a "
                        "symbolic link, which is refused; name the real path", v->source);
        if (src < 0)
            return fail(e, "volume", src, "volume source %s", v->source);
        if (fstat(src, &st) < 0)
            return fail(e, "volume", -errno, "volume source %s", v->source);
        _cleanup_close_ int fd =
            open_or_create_in_root(rootfd, v->target, S_ISDIR(st.st_mode), false);
        if (fd < 0)
            return fail(e, "volume", fd, "creating mount point %s in the root", v->target);
        /* nosuid, nodev: a root payload's chmod 4755 in a volume must not make a setuid
         * program for the host's users, nor a device node a door to a host disk */
        int r = bind_on(src, "", fd, true,
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                            (v->read_only ? MOUNT_ATTR_RDONLY : 0));
        if (r < 0)
            return fail(e, "volume", r, "binding %s on %s", v->source, v->target);
    }
    return 0;
}

/* What the kernel must not show a sandbox, Docker's lists (moby daemon/pkg/oci/defaults.go):
 * files get the null device, directories an empty read-only tmpfs. Absent paths are skipped. */
static const char *const masked_paths[] = {
    "/proc/acpi",        "/proc/asound",        "/proc/interrupts",
    "/proc/kcore",       "/proc/keys",          "/proc/latency_stats",
    "/proc/timer_list",  "/proc/timer_stats",   "/proc/sched_debug",
    "/proc/scsi",        "/sys/firmware",       "/sys/devices/virtual/powercap",
};
static const char *const read_only_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

typedef struct Masks {
    int rootfd;
    int nullfd;  /* the verified null device */
    int emptyfd; /* the first empty tmpfs, cloned for the other directories; -EBADF until then */
} Masks;

/* Covers what fd refers to: the null device over a file, an empty read-only tmpfs over a
 * directory. */
static int mask_fd(Masks *m, int fd) {
    static const char *const empty_opts[] = {"mode=0555", "size=4k", "nr_inodes=1", "ro", NULL};
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return bind_on(m->nullfd, "", fd, false, MOUNT_ATTR_RDONLY);
    if (m->emptyfd >= 0)
        return bind_on(m->emptyfd, "", fd, false, MOUNT_ATTR_RDONLY);
    _cleanup_close_ int mfd = make_fs("tmpfs", empty_opts,
                                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                          MOUNT_ATTR_NOEXEC);
    if (mfd < 0)
        return mfd;
    int r = move_tree_on(mfd, fd);
    if (r < 0)
        return r;
    m->emptyfd = TAKE_FD(mfd); /* now attached: clones of it can be made */
    return 0;
}

static int mask_path(Masks *m, const char *path) {
    _cleanup_close_ int fd = openat2_in_root(m->rootfd, path, O_PATH,
                                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    return mask_fd(m, fd);
}

/* Intel's per-CPU thermal_throttle counters (Docker masks them, GHSA-6fw5-f8r9-fgfm). */
static int mask_thermal_throttle(Masks *m, StepError *e) {
    int fd = openat2_in_root(m->rootfd, "/sys/devices/system/cpu", O_RDONLY | O_DIRECTORY,
                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fail(e, "mask", fd, "opening /sys/devices/system/cpu");
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        safe_close(fd);
        return fail(e, "mask", -errno, "reading /sys/devices/system/cpu");
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        const char *n = de->d_name;
        if (strncmp(n, "cpu", 3) != 0 || !isdigit((unsigned char) n[3]) ||
            n[3 + strspn(n + 3, "0123456789")] != 0)
            continue;
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/thermal_throttle", n) < 0)
            return fail(e, "mask", -ENOMEM, "out of memory");
        _cleanup_close_ int t = openat2_in_root(dirfd(d), path, O_PATH,
                                                RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (t == -ENOENT)
            continue;
        int r = t < 0 ? t : mask_fd(m, t);
        if (r < 0)
            return fail(e, "mask", r, "masking /sys/devices/system/cpu/%s", path);
    }
    if (errno != 0)
        return fail(e, "mask", -errno, "reading /sys/devices/system/cpu");
    return 0;
}

/* The rest of hidden after prefix when hidden is prefix or under it, else NULL. */
static const char *path_under(const char *hidden, const char *prefix) {
    if (streq(prefix, "/"))
        return hidden + 1;
    size_t n = strlen(prefix);
    if (strncmp(hidden, prefix, n) != 0 || (hidden[n] != 0 && hidden[n] != '/'))
        return NULL;
    return hidden + n + (hidden[n] == '/');
}

/* Hides the host directory hidden (canonical, with stat hs) where the bind of source on
 * target shows it. The whole target only for a volume: a RootDirectory= that is the hidden
 * directory itself is what the unit asked for. */
static int hide_through(Masks *m, const char *source, const char *target, const char *hidden,
                        const struct stat *hs, bool whole_target) {
    _cleanup_free_ char *src = realpath(source, NULL);
    if (!src)
        return -errno;
    const char *rest = path_under(hidden, src);
    if (!rest || (!*rest && !whole_target))
        return 0;
    _cleanup_free_ char *inside = path_join(target, rest);
    if (!inside)
        return -ENOMEM;
    _cleanup_close_ int fd = openat2_in_root(m->rootfd, inside, O_PATH,
                                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
        return 0; /* covered by another mount, or not the same path inside */
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    /* only when it is the very directory: something else may be mounted over the path */
    if (st.st_dev != hs->st_dev || st.st_ino != hs->st_ino)
        return 0;
    return mask_fd(m, fd);
}

/* The daemon's directories (its socket above all) must not be reachable from a payload on
 * RootDirectory=/ or with a volume that contains them, even read-only. */
static int hide_host_paths(const SandboxPlan *p, Masks *m, StepError *e) {
    STRV_FOREACH(h, p->hide_paths) {
        _cleanup_free_ char *real = realpath(*h, NULL);
        struct stat hs;
        if (!real || stat(real, &hs) < 0) {
            if (errno == ENOENT)
                continue;
            return fail(e, "hide", -errno, "resolving %s", *h);
        }
        int r = 0;
        if (p->root_directory)
            r = hide_through(m, p->root_directory, "/", real, &hs, false);
        if (r < 0)
            return fail(e, "hide", r, "hiding %s under RootDirectory=%s", real,
                        p->root_directory);
        for (size_t i = 0; i < p->n_volumes; i++) {
            const PlanVolume *v = &p->volumes[i];
            r = hide_through(m, v->source, v->target, real, &hs, true);
            if (r < 0)
                return fail(e, "hide", r, "hiding %s in the volume %s:%s", real, v->source,
                            v->target);
        }
    }
    return 0;
}

static void masks_release(Masks *m) {
    m->emptyfd = safe_close(m->emptyfd);
}

static int setup_masks(const SandboxPlan *p, int rootfd, int nullfd, StepError *e) {
    _cleanup_(masks_release) Masks m = {.rootfd = rootfd, .nullfd = nullfd, .emptyfd = -EBADF};
    int r;
    for (size_t i = 0; i < ELEMENTSOF(masked_paths); i++)
        if ((r = mask_path(&m, masked_paths[i])) < 0)
            return fail(e, "mask", r, "masking %s", masked_paths[i]);
    if ((r = mask_thermal_throttle(&m, e)) < 0 || (r = hide_host_paths(p, &m, e)) < 0)
        return r;
    for (size_t i = 0; i < ELEMENTSOF(read_only_paths); i++)
        if ((r = make_read_only(rootfd, read_only_paths[i])) < 0)
            return fail(e, "mask", r, "making %s read-only", read_only_paths[i]);
    return 0;
}

static int pivot_into(int rootfd, StepError *e) {
    if (fchdir(rootfd) < 0)
        return fail(e, "pivot-root", -errno, "entering the new root");
    /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves the
     * sandbox with no path back to the host's tree. */
    if (syscall(SYS_pivot_root, ".", ".") >= 0) {
        if (umount2(".", MNT_DETACH) < 0)
            return fail(e, "pivot-root", -errno, "detaching the old root");
    } else if (errno == EINVAL) {
        /* the host root is initramfs, which cannot be pivoted away from */
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
            return fail(e, "pivot-root", -errno, "moving the new root over / (chroot)");
    } else
        return fail(e, "pivot-root", -errno, "pivot_root into the new root");
    if (chdir("/") < 0)
        return fail(e, "pivot-root", -errno, "chdir /");
    return 0;
}

/* A sandbox whose root is the host's own gets a fresh /run and /tmp: the payload is root, and
 * every root-only socket there (systemd's, a container engine's, any daemon's) would take it
 * for the host's root, read-only root or not. Volumes, mounted later, can still hand in what
 * the unit names. */
static int setup_private_host_dirs(const SandboxPlan *p, int rootfd, StepError *e) {
    static const struct {
        const char *path;
        const char *mode;
    } dirs[] = {{"/run", "mode=0755"}, {"/tmp", "mode=1777"}};
    struct stat rs, hs;
    if (!p->root_directory)
        return 0;
    _cleanup_close_ int rootdir = open_host_path(p->root_directory);
    if (rootdir < 0 || fstat(rootdir, &rs) < 0 || stat("/", &hs) < 0)
        return fail(e, "private-dirs", rootdir < 0 ? rootdir : -errno, "RootDirectory=%s",
                    p->root_directory);
    if (rs.st_dev != hs.st_dev || rs.st_ino != hs.st_ino)
        return 0;
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
        _cleanup_close_ int fd = openat2_in_root(rootfd, dirs[i].path, O_PATH | O_DIRECTORY,
                                                 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (fd == -ENOENT)
            continue;
        if (fd < 0)
            return fail(e, "private-dirs", fd, "opening %s in the root", dirs[i].path);
        const char *opts[] = {dirs[i].mode, "size=64m", NULL};
        int r = mount_fs_on(fd, "tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (r < 0)
            return fail(e, "private-dirs", r, "mounting a private tmpfs on %s", dirs[i].path);
    }
    return 0;
}

/* The proc view: lxcfs's files, computed from the reader's cgroup, over /proc/meminfo and the
 * rest (and the CPU list in /sys). Best effort: a view that went away since the daemon
 * planned it leaves the plain files (the daemon logs that it planned none when it knew). */
_Static_assert(PLAN_PROCVIEW_ATTRS == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                      MOUNT_ATTR_NOEXEC), "PLAN_PROCVIEW_ATTRS");

static void setup_procview(const SandboxPlan *p, int rootfd) {
    if (!p->procview_dir)
        return;
    _cleanup_close_ int dirfd = open(p->procview_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return;
    for (size_t i = 0; i < PLAN_PROCVIEW_FILES; i++) {
        _cleanup_close_ int fd = openat2_in_root(rootfd, plan_procview_files[i], O_PATH,
                                                 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (fd >= 0)
            (void) bind_on(dirfd, plan_procview_files[i], fd, false, PLAN_PROCVIEW_ATTRS);
    }
}

int rootfs_setup(const SandboxPlan *p, int userns_fd, StepError *e) {
    int r;
    /* nothing we mount may propagate back to the host */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(e, "mount-private", -errno, "making / private in the sandbox");
    r = setup_root(p, userns_fd, e);
    if (r < 0)
        return r;
    _cleanup_close_ int rootfd = open(p->root_mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return fail(e, "overlay", -errno, "opening %s", p->root_mount);
    if ((r = setup_private_host_dirs(p, rootfd, e)) < 0 || (r = setup_dev(p, rootfd, e)) < 0)
        return r;
    /* before any volume: what masks files is the node we made, whatever is mounted later */
    _cleanup_close_ int nullfd = open_verified_null(rootfd, e);
    if (nullfd < 0)
        return nullfd;
    /* masks last, so that no later mount can cover them */
    if ((r = setup_proc(rootfd, e)) < 0 || (r = setup_sys(rootfd, e)) < 0)
        return r;
    setup_procview(p, rootfd);
    if ((r = setup_volumes(p, rootfd, e)) < 0 || (r = setup_masks(p, rootfd, nullfd, e)) < 0)
        return r;
    return pivot_into(rootfd, e);
}

int rootfs_set_hostname(const SandboxPlan *p, StepError *e) {
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
        return fail(e, "hostname", -errno, "setting host name %s", p->hostname);
    return 0;
}
