/*
 * hlc: hybrid logical clock — 48 bits of milliseconds since the epoch, 16 bits
 * of counter. Pure arithmetic; the caller passes the wall clock in.  Also
 * the process's two clock readings (wall and monotonic milliseconds).
 */
#ifndef BLAZEFS_HLC_H
#define BLAZEFS_HLC_H

#include <stdint.h>

/*
 * The drift bound: a remote clock more than this ahead of the wall is not
 * merged into the local clock, a local clock more than this ahead of the wall
 * is brought back (hlc_bound), and clocks further apart are reported.
 */
#define HLC_MAX_DRIFT_MS (60 * 1000)

struct hlc {
	uint64_t last; /* the largest timestamp issued or accepted */
};

/* Returns a timestamp larger than every one issued or accepted so far. */
uint64_t hlc_now(struct hlc *c, uint64_t wall_ms);

/*
 * Merges a remote timestamp.  Returns 0, or -1 if remote is more than
 * HLC_MAX_DRIFT_MS ahead of wall_ms: then it is a skewed clock, not news,
 * and the local clock ignores it (causality rides on a change's "over" ids,
 * so nothing needs the local clock to pass it).
 */
int hlc_recv(struct hlc *c, uint64_t remote, uint64_t wall_ms);

/*
 * Brings a clock that is more than HLC_MAX_DRIFT_MS ahead of wall_ms (saved
 * by a device whose wall clock was ahead, since fixed) back to that bound, so
 * a past skew does not carry forward.  Returns how many milliseconds it took
 * back (0: the clock was within the bound).
 */
uint64_t hlc_bound(struct hlc *c, uint64_t wall_ms);

/* The wall clock in milliseconds (CLOCK_REALTIME). */
uint64_t hlc_wall_ms(void);

/* Monotonic milliseconds (CLOCK_MONOTONIC), for timeouts and ages: the one
 * now_ms of blazefs (never goes back, unrelated to the epoch). */
uint64_t hlc_mono_ms(void);
/* The same clock in microseconds. */
uint64_t hlc_mono_us(void);

static inline uint64_t
hlc_ms(uint64_t t)
{
	return t >> 16;
}

/* The smallest timestamp at milliseconds ms. */
static inline uint64_t
hlc_from_ms(uint64_t ms)
{
	return ms << 16;
}

#endif
