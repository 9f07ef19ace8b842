/* clock: skewed clocks, measured, corrected and reported; see clock.h. */
#include <stdint.h>
#include <string.h>
#include <syslog.h>

#include <jansson.h>

#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "net/clock.h"
#include "net/net_int.h"
#include "net/peer.h"
#include "net/sync.h"

/* An offset that moves by less than this is not rewritten (HELLOs measure
 * with the latency in them). */
#define CLOCK_JITTER_MS 2000

/* 1 the first time device is seen in list l (then it is added), else 0. */
static int
clock_first(uint64_t *l, size_t *n, uint64_t device)
{
	for (size_t i = 0; i < *n; i++)
		if (l[i] == device)
			return 0;
	if (*n < CLOCK_LOGGED_MAX)
		l[(*n)++] = device;
	return 1;
}

/* 1 if the skew of device was not logged, or differently (by more than the
 * bound: the clock moved), and it is remembered now; else 0. */
static int
clock_news(struct net *n, uint64_t device, int64_t skew)
{
	size_t i;

	for (i = 0; i < n->nclock_logged; i++)
		if (n->clock_logged[i] == device)
			break;
	if (i < n->nclock_logged && skew - n->clock_logged_skew[i] <= HLC_MAX_DRIFT_MS &&
	    n->clock_logged_skew[i] - skew <= HLC_MAX_DRIFT_MS)
		return 0;
	if (i == n->nclock_logged) {
		if (i == CLOCK_LOGGED_MAX)
			return 1;
		n->nclock_logged++;
	}
	n->clock_logged[i] = device;
	n->clock_logged_skew[i] = skew;
	return 1;
}

static void
clock_log_peers(struct net *n, int64_t *lead, size_t *known)
{
	char dev[DEVID_LEN + 1];
	int64_t skew;

	*known = 0;
	*lead = INT64_MAX;
	for (size_t i = 0; i < NET_SLOTS; i++) {
		const struct peer *p = n->peers[i];

		if (p == NULL || p->state != PEER_SYNC || p->s == NULL || !sync_skew(p->s, &skew))
			continue;
		(*known)++;
		if (-skew < *lead)
			*lead = -skew;
		if ((skew > HLC_MAX_DRIFT_MS || skew < -HLC_MAX_DRIFT_MS) &&
		    clock_news(n, sync_device(p->s), skew)) {
			change_devid(sync_device(p->s), dev);
			syslog(LOG_WARNING,
			       "peer %s %s (%s): its clock is %lld s %s ours (more than the %d s "
			       "bound)",
			       p->addr, sync_name(p->s), dev,
			       (long long)(skew < 0 ? -skew : skew) / 1000,
			       skew > 0 ? "ahead of" : "behind", HLC_MAX_DRIFT_MS / 1000);
		}
	}
}

/* Logs once each device whose changes the journal saw too far ahead. */
static void
clock_log_changes(struct net *n)
{
	json_t *o = journal_clock_json(n->j), *e;
	uint64_t origin;
	size_t i;

	if (o == NULL)
		return;
	json_array_foreach (json_object_get(o, "changes_ahead"), i, e) {
		const char *dev = json_string_value(json_object_get(e, "device"));

		if (dev == NULL || change_devid_parse(dev, &origin) ||
		    !clock_first(n->clock_ahead_logged, &n->nclock_ahead_logged, origin))
			continue;
		syslog(LOG_WARNING,
		       "changes of device %s carry a clock %lld s ahead of ours: stored as "
		       "they are, not merged into our clock",
		       dev, (long long)json_integer_value(json_object_get(e, "ahead_ms")) / 1000);
	}
	json_decref(o);
}

void
clock_tick(struct net *n)
{
	uint64_t now = hlc_mono_ms(), cur, want;
	int64_t lead;
	size_t known;

	if (now - n->clock_last < 1000)
		return;
	n->clock_last = now;
	clock_log_peers(n, &lead, &known);
	clock_log_changes(n);
	if (known == 0)
		return; /* nobody to compare with: keep what we knew */
	cur = journal_clock_offset(n->j);
	want = lead > HLC_MAX_DRIFT_MS ? (uint64_t)lead : 0;
	if (want == cur ||
	    (want != 0 && cur != 0 && want < cur + CLOCK_JITTER_MS && cur < want + CLOCK_JITTER_MS))
		return;
	if (journal_set_clock_offset(n->j, want)) {
		syslog(LOG_WARNING, "cannot keep the clock offset: %m");
		return;
	}
	if (want != 0)
		syslog(LOG_WARNING,
		       "this device's clock is %llu s ahead of every peer's (more than the %d s "
		       "bound): its changes are stamped %llu s back until it is fixed",
		       (unsigned long long)want / 1000, HLC_MAX_DRIFT_MS / 1000,
		       (unsigned long long)want / 1000);
	else
		syslog(LOG_INFO, "this device's clock agrees with its peers again: changes "
		                 "are stamped with it");
	n->status_dirty = 1;
}

json_t *
clock_json(const struct net *n)
{
	json_t *o = journal_clock_json(n->j), *a = json_array();
	char dev[DEVID_LEN + 1];
	int64_t skew;

	if (o == NULL || a == NULL) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < NET_SLOTS; i++) {
		const struct peer *p = n->peers[i];

		if (p == NULL || p->state != PEER_SYNC || p->s == NULL || !sync_skew(p->s, &skew) ||
		    (skew <= HLC_MAX_DRIFT_MS && skew >= -HLC_MAX_DRIFT_MS))
			continue;
		change_devid(sync_device(p->s), dev);
		json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "device", dev, "name",
		                                   sync_name(p->s), "skew_ms", (json_int_t)skew));
	}
	json_object_set_new(o, "skewed_peers", a);
	return o;
}
