/*
 * clock: what the network does about skewed clocks (issue: a device whose
 * wall clock runs ahead must not win concurrent edits by it).  Every HELLO
 * carries the sender's wall clock (msg.h, protocol 2) and each session keeps
 * the peer's skew (sync_skew).  Once a tick, clock_tick:
 *   - when this device's clock is ahead of every connected peer's (whose
 *     clock is known) by more than HLC_MAX_DRIFT_MS, it sets the journal's
 *     clock offset to the smallest lead, so new changes are stamped with the
 *     fastest peer's time; when a peer is within the bound, the offset goes
 *     back to 0; with no peer it stays as it was (and is kept across
 *     restarts by the journal);
 *   - logs, once per device, a peer whose clock is further than the bound
 *     from ours, and a device whose changes came that far ahead;
 *   - logs when this device starts or stops correcting its own clock.
 * clock_json gives the status's "clock" object.  Network thread only.
 */
#ifndef NET_CLOCK_H
#define NET_CLOCK_H

#include <jansson.h>

struct net;

/* Runs the rules above.  Network thread. */
void clock_tick(struct net *n);

/*
 * {"offset_ms": N, "skewed_peers": [{"device", "name", "skew_ms"}],
 *  "changes_ahead": [...], "saved_clock_dropped_ms": N} (the journal's part
 * from journal_clock_json).  A new reference, or NULL.
 */
json_t *clock_json(const struct net *n);

#endif
