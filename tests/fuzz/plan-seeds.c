/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes plans as the daemon makes them (plan_to_memfd() output for the shipped units' kinds of
 * sandbox) into DIR, the seeds of fuzz-plan. tests/fuzz/run calls it on every run, so the seeds
 * follow the plan format as it changes; each plan must also read back. */

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "path-util.h"
#include "plan.h"
#include "unit.h" /* DEFAULT_CAPABILITY_BOUNDING_SET */

#define RT "/run/sandboxd/sandboxes/"
#define ST "/var/lib/sandboxd/sandboxes/"

static int write_seed(int dir_fd, const char *name, const SandboxPlan *p) {
    _cleanup_close_ int fd = plan_to_memfd(p);
    if (fd < 0)
        return fd;
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_fd(fd, 1024 * 1024, &buf, &len);
    if (r < 0)
        return r;
    /* a seed the parser refuses would only teach the fuzzer the error path */
    SandboxPlan *q = NULL;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    r = plan_from_fd(fd, &q);
    plan_free(q);
    if (r < 0)
        return r;
    _cleanup_close_ int out =
        openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0)
        return -errno;
    if (write(out, buf, len) != (ssize_t)len)
        return -EIO;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    _cleanup_close_ int dir_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        fprintf(stderr, "%s: %m\n", argv[1]);
        return 1;
    }

    /* units/web.unit: two layers, rw layer, hostname, a user, the default namespaces */
    char *web_lowers[] = {"/var/lib/sandboxd/layers/busybox", "/var/lib/sandboxd/layers/web-demo",
                          NULL};
    char *web_argv[] = {"/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/var/www", NULL};
    SandboxPlan web = {.root_mount = RT "web.unit/root",
                       .lowers = web_lowers,
                       .init_layer = RT "web.unit/init",
                       .upper = ST "web.unit/upper",
                       .work = ST "web.unit/work",
                       .hostname = "web",
                       .argv = web_argv,
                       .user = "www",
                       .capability_bounding_set = DEFAULT_CAPABILITY_BOUNDING_SET,
                       .pid_ns = true,
                       .net_ns = true};

    /* the same with Network=bridge: eth0 with both families, as the daemon addresses it */
    SandboxPlan web_bridge = web;
    web_bridge.net = (PlanNetwork){
        .eth0 = true, .mtu = 1500, .has_v4 = true, .has_v6 = true, .prefix4 = 16, .prefix6 = 64};
    if (inet_pton(AF_INET, "10.88.0.2", &web_bridge.net.addr4) != 1 ||
        inet_pton(AF_INET, "10.88.0.1", &web_bridge.net.gateway4) != 1 ||
        inet_pton(AF_INET6, "fd5b:7a3c:11d0::2", &web_bridge.net.addr6) != 1 ||
        inet_pton(AF_INET6, "fd5b:7a3c:11d0::1", &web_bridge.net.gateway6) != 1)
        return 1;

    /* units/examples/sandbox.unit: volumes, environment, working directory, user and group */
    char *ex_argv[] = {"/bin/sh", "-c",
                       "echo \"$GREETING from $(hostname) as $(id -un)\"; exec sleep 2147483647",
                       NULL};
    char *ex_env[] = {"MODE=demo", "GREETING=hello world", NULL};
    PlanVolume ex_vols[] = {{"/etc/ssl/certs", "/etc/ssl/certs", true},
                            {"/var/tmp", "/data", false}};
    SandboxPlan example = {.root_mount = RT "sandbox.unit/root",
                           .lowers = web_lowers,
                           .init_layer = RT "sandbox.unit/init",
                           .upper = ST "sandbox.unit/upper",
                           .work = ST "sandbox.unit/work",
                           .hostname = "example",
                           .volumes = ex_vols,
                           .n_volumes = 2,
                           .argv = ex_argv,
                           .env = ex_env,
                           .working_directory = "/data",
                           .user = "www",
                           .group = "www",
                           .capability_bounding_set = DEFAULT_CAPABILITY_BOUNDING_SET,
                           .pid_ns = true,
                           .net_ns = true};

    /* RootDirectory=/ ReadOnly=yes, no uts namespace: no hostname, no rw layer */
    char *ro_argv[] = {"/bin/true", NULL};
    SandboxPlan ro = {.root_mount = RT "ro.unit/root",
                      .init_layer = RT "ro.unit/init",
                      .root_directory = "/",
                      .read_only = true,
                      .argv = ro_argv,
                      .capability_bounding_set = ~0ULL >> 23};

    /* Namespaces=user: the id range and the stage for idmapped layer mounts */
    char *lone_lowers[] = {"/var/lib/sandboxd/layers/busybox", NULL};
    char *userns_argv[] = {"sleep", "infinity", NULL};
    char *userns_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "container=sandboxd",
                          NULL};
    SandboxPlan userns = {.root_mount = RT "u.unit/root",
                          .lowers = lone_lowers,
                          .init_layer = RT "u.unit/init",
                          .upper = ST "u.unit/upper",
                          .work = ST "u.unit/work",
                          .hostname = "u",
                          .argv = userns_argv,
                          .env = userns_env,
                          .capability_bounding_set = 0,
                          .userns_base = 0x2a0000,
                          .stage_dir = RT "u.unit/stage",
                          .pid_ns = true,
                          .net_ns = false};

    const struct {
        const char *name;
        const SandboxPlan *plan;
    } seeds[] = {
        {"seed-web", &web},
        {"seed-web-bridge", &web_bridge},
        {"seed-example", &example},
        {"seed-root-directory-ro", &ro},
        {"seed-userns", &userns},
    };
    for (size_t i = 0; i < ELEMENTSOF(seeds); i++) {
        int r = write_seed(dir_fd, seeds[i].name, seeds[i].plan);
        if (r < 0) {
            fprintf(stderr, "%s/%s: %s\n", argv[1], seeds[i].name, strerror(-r));
            return 1;
        }
    }
    return 0;
}
