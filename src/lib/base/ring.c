/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/ring.h"
#include "macro.h"

struct ring {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* a slot filled, a slot freed, closed or aborted */
        ring_consume_fn consume;
        void *userdata;
        size_t slots, slot_size;
        uint8_t *bufs; /* slots * slot_size */
        size_t *lens;
        size_t head, count; /* published slots: [head, head+count) */
        size_t fill;        /* bytes in the producer's slot, (head+count) % slots */
        bool closed;        /* no more input */
        bool aborted;       /* the consumer failed, or the producer gave up */
        int result;         /* the consumer's first error */
        struct xarch_error *err;
};

static void *ring_consumer(void *userdata) {
        struct ring *p = userdata;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (p->count == 0 && !p->closed && !p->aborted)
                        pthread_cond_wait(&p->cond, &p->lock);
                if (p->aborted || p->count == 0)
                        break;
                size_t slot = p->head;
                pthread_mutex_unlock(&p->lock);
                /* a published slot is the consumer's until it is freed below */
                int r = p->consume(
                                p->userdata, p->bufs + slot * p->slot_size, p->lens[slot], &p->err);
                pthread_mutex_lock(&p->lock);
                if (r < 0) {
                        p->result = r;
                        p->aborted = true;
                        pthread_cond_broadcast(&p->cond);
                        break;
                }
                p->head = (p->head + 1) % p->slots;
                p->count--;
                pthread_cond_broadcast(&p->cond);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

struct xarch_error **ring_consumer_error(struct ring *r) {
        return &r->err;
}

/* The consumer's error, moved to err (it is final once aborted is set). Lock held. */
static int take_error(struct ring *p, struct xarch_error **err) {
        if (p->err && err && !*err)
                *err = steal_ptr(p->err);
        return p->result < 0 ? p->result : -ECANCELED;
}

/* Publishes the producer's slot; waits while the ring is full. Lock held. */
static int publish(struct ring *p, struct xarch_error **err) {
        size_t slot = (p->head + p->count) % p->slots;
        p->lens[slot] = p->fill;
        p->count++;
        p->fill = 0;
        pthread_cond_broadcast(&p->cond);
        while (p->count == p->slots && !p->aborted)
                pthread_cond_wait(&p->cond, &p->lock);
        return p->aborted ? take_error(p, err) : 0;
}

int ring_write(struct ring *p, const void *buf, size_t len, struct xarch_error **err) {
        const uint8_t *in = buf;
        int r = 0;
        pthread_mutex_lock(&p->lock);
        if (p->aborted)
                r = take_error(p, err);
        while (r >= 0 && len > 0) {
                size_t slot = (p->head + p->count) % p->slots;
                size_t n = p->slot_size - p->fill;
                if (n > len)
                        n = len;
                /* the producer's slot is its own: no other thread reads it until published */
                pthread_mutex_unlock(&p->lock);
                memcpy(p->bufs + slot * p->slot_size + p->fill, in, n);
                pthread_mutex_lock(&p->lock);
                p->fill += n;
                in += n;
                len -= n;
                if (p->fill == p->slot_size)
                        r = publish(p, err);
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}

static void ring_free(struct ring *p) {
        xarch_error_free(p->err);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p->lens);
        free(p->bufs);
        free(p);
}

int ring_start(size_t slots, size_t slot_size, ring_consume_fn consume, void *userdata,
                const char *what, struct ring **ret, struct xarch_error **err) {
        if (slots < 2 || slot_size == 0 || slot_size > SIZE_MAX / slots)
                return xarch_error_set(err, EINVAL, "%s: a ring of %zu x %zu bytes", what, slots,
                                slot_size);
        struct ring *p = calloc(1, sizeof(*p));
        if (!p)
                return xarch_error_set(err, ENOMEM, "out of memory");
        p->bufs = malloc(slots * slot_size);
        p->lens = calloc(slots, sizeof(*p->lens));
        if (!p->bufs || !p->lens) {
                free(p->bufs);
                free(p->lens);
                free(p);
                return xarch_error_set(err, ENOMEM, "out of memory");
        }
        p->slots = slots;
        p->slot_size = slot_size;
        p->consume = consume;
        p->userdata = userdata;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        int r = pthread_create(&p->thread, NULL, ring_consumer, p);
        if (r != 0) {
                ring_free(p);
                return xarch_error_set(err, r, "cannot start the %s thread", what);
        }
        *ret = p;
        return 0;
}

int ring_stop(struct ring *p, bool abort, struct xarch_error **err) {
        if (!p)
                return 0;
        int r = 0;
        pthread_mutex_lock(&p->lock);
        if (abort)
                p->aborted = true;
        else if (!p->aborted && p->fill > 0)
                r = publish(p, err);
        p->closed = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        /* joined: the consumer's result and error are final and visible */
        if (r >= 0 && !abort && p->result < 0)
                r = take_error(p, err);
        ring_free(p);
        return r;
}
