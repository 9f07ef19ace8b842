#include <time.h>

#include "core/hlc.h"

#define HLC_COUNTER_MASK 0xffffULL

/* The smallest timestamp at wall_ms. */
static uint64_t
hlc_of_ms(uint64_t ms)
{
	return ms << 16;
}

uint64_t
hlc_now(struct hlc *c, uint64_t wall_ms)
{
	uint64_t wall = hlc_of_ms(wall_ms);

	/* Counter overflow simply carries into the milliseconds. */
	c->last = wall > c->last ? wall : c->last + 1;
	return c->last;
}

int
hlc_recv(struct hlc *c, uint64_t remote, uint64_t wall_ms)
{
	uint64_t bound = hlc_of_ms(wall_ms + HLC_MAX_DRIFT_MS) | HLC_COUNTER_MASK;

	if (remote > bound)
		return -1;
	if (remote > c->last)
		c->last = remote;
	return 0;
}

uint64_t
hlc_bound(struct hlc *c, uint64_t wall_ms)
{
	uint64_t bound = hlc_of_ms(wall_ms + HLC_MAX_DRIFT_MS);
	uint64_t back;

	if (c->last <= (bound | HLC_COUNTER_MASK))
		return 0;
	back = (c->last >> 16) - (bound >> 16);
	c->last = bound;
	return back;
}

uint64_t
hlc_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
hlc_mono_ms(void)
{
	return hlc_mono_us() / 1000;
}

uint64_t
hlc_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
