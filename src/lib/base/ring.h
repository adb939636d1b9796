/* SPDX-License-Identifier: MIT */
#ifndef XARCH_LIB_BASE_RING_H
#define XARCH_LIB_BASE_RING_H

#include <stdbool.h>
#include <stddef.h>

#include "xarch/error.h"

/*
 * A bounded byte ring between two threads (internal), so that two stages of a stream cost
 * max(stage 1, stage 2) instead of their sum. The producer copies bytes into fixed-size slots
 * (ring_write); a consumer thread that ring_start() creates hands each published slot, in
 * order, to a callback. At most slots * slot_size bytes are in flight: a full ring blocks the
 * producer, an empty one the consumer. Every slot but the last is handed over full, so the
 * consumer sees the same bytes in the same order whatever pieces the producer wrote.
 *
 * Either side stops the other. A consumer error aborts the ring: the producer's next
 * ring_write() (or ring_stop()) returns it, with the consumer's error moved to its err.
 * ring_stop(abort = true) drops what is queued, ring_stop(abort = false) lets the consumer
 * finish it first; both join the thread and free the ring, so nothing outlives the call.
 *
 * Users: the layer scanner (inflate | tar reader + file engine, image/layer.c) and the layer
 * writer (files + tar writer + diff_id | compressor + digest + sink, build/layer.c).
 */

/* The consumer: called on the ring's thread with each slot. Returns < 0 to abort the ring; an
 * error it sets in *err reaches the producer. */
typedef int (*ring_consume_fn)(
                void *userdata, const void *buf, size_t len, struct xarch_error **err);

struct ring;

/* Starts the consumer thread; what names it in the error when it cannot start. */
int ring_start(size_t slots, size_t slot_size, ring_consume_fn consume, void *userdata,
                const char *what, struct ring **ret, struct xarch_error **err);

/* The consumer's own error slot, for code on the consumer thread that reports errors outside
 * the callback's err (read it on the producer only after the ring is aborted or stopped). */
struct xarch_error **ring_consumer_error(struct ring *r);

/* Copies len bytes into the ring, publishing each slot it fills; blocks while the ring is full.
 * Returns the consumer's error code once it has failed (-ECANCELED when it set none). */
int ring_write(struct ring *r, const void *buf, size_t len, struct xarch_error **err);

/* Ends the stream, waits for the consumer and frees the ring (NULL is a no-op). With abort,
 * queued bytes are dropped and 0 is returned; without, the partly filled slot is published,
 * the consumer drains the ring and its error (if any) is returned as ring_write() would. */
int ring_stop(struct ring *r, bool abort, struct xarch_error **err);

#endif
