/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack-worker.h"
#include "log.h"
#include "macro.h"

struct CtWorker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    ConntrackMatch *queue; /* what is to do */
    size_t n_queue;
    ConntrackMatch *busy; /* what is being done */
    size_t n_busy;
    bool stop;
};

static void *worker_main(void *userdata) {
    CtWorker *w = userdata;
    /* the kernel's walk yields to everything else: it only has to happen soon */
    (void) sched_setscheduler(0, SCHED_IDLE, &(struct sched_param){0});
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->n_queue == 0 && !w->stop)
            pthread_cond_wait(&w->work, &w->lock);
        if (w->n_queue == 0)
            break;
        w->busy = TAKE_PTR(w->queue);
        w->n_busy = w->n_queue;
        w->n_queue = 0;
        pthread_mutex_unlock(&w->lock);

        int r = conntrack_flush(w->busy, w->n_busy);
        if (r < 0)
            log_warning_errno(r, "flushing conntrack entries of stopped sandboxes and published "
                                 "UDP ports: %m");
        else if (r > 0)
            log_debug("Flushed %d conntrack entries.", r);

        pthread_mutex_lock(&w->lock);
        free(w->busy);
        w->busy = NULL;
        w->n_busy = 0;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int ct_worker_new(CtWorker **ret) {
    CtWorker *w = calloc(1, sizeof(CtWorker));
    if (!w)
        return -ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    /* no signal of ours may land on this thread: sd-event reads them through signalfd */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = -pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        free(w);
        return r;
    }
    *ret = w;
    return 0;
}

CtWorker *ct_worker_free(CtWorker *w) {
    if (!w)
        return NULL;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    free(w->queue);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
}

void ct_worker_submit(CtWorker *w, ConntrackMatch *m, size_t n) {
    pthread_mutex_lock(&w->lock);
    ConntrackMatch *q = realloc(w->queue, sizeof(ConntrackMatch) * (w->n_queue + n));
    if (q) {
        memcpy(q + w->n_queue, m, sizeof(ConntrackMatch) * n);
        w->queue = q;
        w->n_queue += n;
        pthread_cond_signal(&w->work);
    } else
        log_warning("out of memory queueing a conntrack flush");
    pthread_mutex_unlock(&w->lock);
    free(m);
}

static bool has_address(const ConntrackMatch *m, size_t n, int family,
                        const union in_addr_union *a) {
    for (size_t i = 0; i < n; i++)
        if (m[i].family == family && in_addr_equal(family, &m[i].addr, a))
            return true;
    return false;
}

bool ct_worker_cancel_address(CtWorker *w, int family, const union in_addr_union *a) {
    pthread_mutex_lock(&w->lock);
    size_t k = 0;
    for (size_t i = 0; i < w->n_queue; i++)
        if (!(w->queue[i].family == family && in_addr_equal(family, &w->queue[i].addr, a)))
            w->queue[k++] = w->queue[i];
    w->n_queue = k;
    bool r = has_address(w->busy, w->n_busy, family, a);
    pthread_mutex_unlock(&w->lock);
    return r;
}

void ct_worker_wait(CtWorker *w) {
    pthread_mutex_lock(&w->lock);
    while (w->n_queue > 0 || w->n_busy > 0)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}
