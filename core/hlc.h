/*
 * hlc: hybrid logical clock — 48 bits of milliseconds since the epoch, 16 bits
 * of counter. Pure arithmetic; the caller passes the wall clock in.  Also
 * the process's two clock readings (wall and monotonic milliseconds).
 */
#ifndef BLAZEFS_HLC_H
#define BLAZEFS_HLC_H

#include <stdint.h>

/* A remote clock never drags the local clock more than this ahead of the wall. */
#define HLC_MAX_DRIFT_MS (60 * 1000)

struct hlc {
	uint64_t last; /* the largest timestamp issued or accepted */
};

/* Returns a timestamp larger than every one issued or accepted so far. */
uint64_t hlc_now(struct hlc *c, uint64_t wall_ms);

/*
 * Merges a remote timestamp.  Returns 0, or -1 if remote is more than
 * HLC_MAX_DRIFT_MS ahead of wall_ms: then the clock only advances to that bound.
 */
int hlc_recv(struct hlc *c, uint64_t remote, uint64_t wall_ms);

/* The wall clock in milliseconds (CLOCK_REALTIME). */
uint64_t hlc_wall_ms(void);

/* Monotonic milliseconds (CLOCK_MONOTONIC), for timeouts and ages: the one
 * now_ms of blazefs (never goes back, unrelated to the epoch). */
uint64_t hlc_mono_ms(void);

static inline uint64_t
hlc_ms(uint64_t t)
{
	return t >> 16;
}

#endif
