/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Imports run in the worker, sandboxd-image, a child of the daemon: a hostile or huge archive
 * costs that process, never the event loop, and a crash of either leaves the store consistent
 * (src/image/store.h). The daemon only collects the worker's output and reports it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

#define OUTPUT_MAX (64U * 1024U)

struct ImageImport {
    Manager *manager;
    pid_t pid;
    int fd; /* read end of the worker's stdout and stderr */
    sd_event_source *source;
    char *out;
    size_t n_out;
    ImageImportDone done;
    void *userdata;
    bool adds;   /* an import or a commit: the store grew (StoreMaxSize=) */
    bool commit; /* reads a rw layer, maybe of a frozen sandbox: never outlives the daemon */
    ImageImport *next;
};

extern char **environ;

static void drain(ImageImport *j) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(j->fd, buf, sizeof buf);
        if (n <= 0)
            return;
        size_t keep = (size_t) n;
        if (j->n_out + keep > OUTPUT_MAX)
            keep = OUTPUT_MAX - j->n_out; /* the rest is dropped, the pipe kept empty */
        if (keep) {
            memcpy(j->out + j->n_out, buf, keep);
            j->n_out += keep;
            j->out[j->n_out] = 0;
        }
    }
}

static int on_output(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
    ImageImport *j = userdata;
    drain(j);
    if (revents & (EPOLLHUP | EPOLLERR))
        j->source = sd_event_source_disable_unref(j->source);
    return 0;
}

static void import_free(ImageImport *j) {
    sd_event_source_disable_unref(j->source);
    safe_close(j->fd);
    free(j->out);
    free(j);
}

int image_import_start(Manager *m, const char *source, const char *ref, int progress_fd,
                       ImageImportDone done, void *userdata) {
    _cleanup_free_ char *dir = strdup(source);
    struct stat st;
    const char *verb = "import-file";
    if (!dir)
        return -ENOMEM;
    /* PATH:REF names an image in a layout or archive when PATH (not the whole) exists; the
     * shortest such PATH, as a REF may hold ':' ("app:2") */
    if (stat(dir, &st) < 0) {
        bool found = false;
        for (char *colon = strchr(dir, ':'); colon && !found; colon = strchr(colon + 1, ':')) {
            *colon = 0;
            found = stat(dir, &st) == 0;
            if (!found)
                *colon = ':';
        }
        if (!found)
            return -ENOENT;
    }
    if (S_ISDIR(st.st_mode)) {
        _cleanup_free_ char *marker = NULL;
        if (asprintf(&marker, "%s/oci-layout", dir) < 0)
            return -ENOMEM;
        verb = access(marker, F_OK) == 0 ? "import-oci" : "import-dir";
        if (streq(verb, "import-dir") && !streq(dir, source))
            return -EINVAL; /* a root file system has no REF to pick */
    }
    char max[32];
    const char *args[8];
    size_t n = 0;
    /* ImportMaxSize= unset: the worker's default, twice the store's free space */
    if (m->config.daemon.import_max_size) {
        snprintf(max, sizeof max, "%llu", (unsigned long long) m->config.daemon.import_max_size);
        args[n++] = "--max-bytes";
        args[n++] = max;
    }
    if (progress_fd >= 0) {
        args[n++] = "--progress-fd";
        args[n++] = "3";
    }
    args[n++] = verb;
    args[n++] = source;
    args[n++] = ref;
    args[n] = NULL;
    return image_worker_start(m, args, progress_fd, done, userdata);
}

int image_worker_start(Manager *m, const char *const *args, int pass_fd, ImageImportDone done,
                       void *userdata) {
    ImageImport *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->manager = m;
    j->fd = -EBADF;
    j->done = done;
    j->userdata = userdata;
    int pipefd[2] = {-EBADF, -EBADF}, r;
    if (!(j->out = malloc(OUTPUT_MAX + 1)) || pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = j->out ? -errno : -ENOMEM;
        import_free(j);
        return r;
    }
    j->out[0] = 0;
    j->fd = pipefd[0];
    /* the worker writes blocking: its end is made blocking again */
    (void) fcntl(pipefd[1], F_SETFL, 0);

    /* sandboxd-image --store STORE ARGS... (built before the fork: no malloc after it) */
    size_t n = 0;
    while (args[n])
        n++;
    _cleanup_free_ char **argv = calloc(n + 4, sizeof *argv);
    if (!argv) {
        safe_close(pipefd[1]);
        import_free(j);
        return -ENOMEM;
    }
    argv[0] = (char *) "sandboxd-image";
    argv[1] = (char *) "--store";
    argv[2] = m->config.image_store;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = (char *) args[i];
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* (src/sys/spawn.h shadows <spawn.h> here, so no posix_spawn: a fork that only makes
     * async-signal-safe calls before the exec is as safe in our threaded process) */
    j->pid = null_fd < 0 ? -1 : fork();
    if (j->pid == 0) {
        /* signals come back to their defaults with the exec; the mask does not: clear it */
        sigset_t none;
        sigemptyset(&none);
        /* moved above 3 first: none of them may be overwritten by another's dup2 */
        int in = fcntl(null_fd, F_DUPFD_CLOEXEC, 4), out = fcntl(pipefd[1], F_DUPFD_CLOEXEC, 4);
        int pass = pass_fd >= 0 ? fcntl(pass_fd, F_DUPFD_CLOEXEC, 4) : -1;
        if (in < 0 || out < 0 || (pass_fd >= 0 && pass < 0) || dup2(in, STDIN_FILENO) < 0 ||
            dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0 ||
            (pass >= 0 && dup2(pass, 3) < 0) || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
            _exit(127);
        execve(m->config.image_worker, argv, environ);
        _exit(127);
    }
    r = j->pid < 0 ? -errno : 0;
    safe_close(null_fd);
    safe_close(pipefd[1]);
    if (r == 0)
        r = sd_event_add_io(m->event, &j->source, j->fd, EPOLLIN, on_output, j);
    if (r < 0) {
        if (j->pid > 0) /* the worker runs: leave it to the reaper, which knows no job */
            log_warning("import worker %d runs unwatched: %s", (int) j->pid, strerror(-r));
        import_free(j);
        return r;
    }
    j->next = m->imports;
    m->imports = j;
    /* the verb and its first argument, past the options ("--name value") */
    size_t v = 0;
    while (args[v] && args[v + 1] && strncmp(args[v], "--", 2) == 0)
        v += 2;
    j->commit = args[v] && streq(args[v], "commit");
    j->adds = j->commit || (args[v] && strncmp(args[v], "import", 6) == 0);
    log_info("image worker %d: %s %s", (int) j->pid, args[v] ?: "",
             args[v] && args[v + 1] ? args[v + 1] : "");
    return 0;
}

bool image_import_on_exit(Manager *m, const siginfo_t *si) {
    for (ImageImport **p = &m->imports; *p; p = &(*p)->next) {
        ImageImport *j = *p;
        if (j->pid != si->si_pid)
            continue;
        *p = j->next;
        drain(j);
        bool ok = si->si_code == CLD_EXITED && si->si_status == 0;
        if (!ok) {
            /* its error lines, without the worker's name */
            char *w = j->out;
            for (char *line = j->out; *line;) {
                char *end = strchrnul(line, '\n');
                const char *text = line;
                if (strncmp(text, "sandboxd-image: ", 16) == 0)
                    text += 16;
                size_t len = (size_t) (end - text);
                memmove(w, text, len);
                w += len;
                if (*end)
                    *w++ = '\n';
                line = *end ? end + 1 : end;
            }
            *w = 0;
            if (!*j->out && si->si_code == CLD_EXITED)
                snprintf(j->out, OUTPUT_MAX, "the importer %s exited with status %d",
                         j->manager->config.image_worker, si->si_status);
            else if (!*j->out)
                snprintf(j->out, OUTPUT_MAX, "the importer %s was killed by signal %d",
                         j->manager->config.image_worker, si->si_status);
            log_warning("image worker %d failed: %s", (int) j->pid, j->out);
        } else
            log_info("image worker %d done", (int) j->pid);
        /* the image it made ("image NAME:TAG", its last line) stays, whatever its age */
        _cleanup_free_ char *added = NULL;
        for (const char *line = j->out; ok && j->adds && line && *line;) {
            const char *end = strchrnul(line, '\n');
            if (strncmp(line, "image ", 6) == 0) {
                free(added);
                added = strndup(line + 6, (size_t) (end - line - 6));
            }
            line = *end ? end + 1 : NULL;
        }
        j->done(j->userdata, ok ? 0 : -EIO, j->out);
        if (ok && j->adds)
            image_gc(m, added);
        import_free(j);
        return true;
    }
    return false;
}

bool image_worker_kill(Manager *m, void *userdata) {
    for (ImageImport *j = m->imports; j; j = j->next)
        if (j->userdata == userdata) {
            (void) kill(j->pid, SIGKILL); /* reaped as any exit: done() reports it */
            return true;
        }
    return false;
}

void image_import_cancel_all(Manager *m) {
    while (m->imports) {
        ImageImport *j = m->imports;
        m->imports = j->next;
        /* an import goes on and finishes (or fails) on its own, the store stays consistent; a
         * commit stops, since its sandbox is thawed now (done()) */
        if (j->commit)
            (void) kill(j->pid, SIGKILL);
        j->done(j->userdata, -ECANCELED, "sandboxd stopped before the job ended");
        import_free(j);
    }
}
