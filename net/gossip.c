/* gossip: which peer each origin is pulled from; see gossip.h. */
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/journal.h"
#include "core/mode.h"
#include "net/gossip.h"
#include "net/net_int.h"
#include "net/peer.h"
#include "net/sync.h"

/* After a session opens, origins are not given to a peer other than their
 * own device for this long. */
#define GOSSIP_SETTLE_MS 300
#define GOSSIP_SETTLE_EVERY_MS 5000

void
gossip_note_session(struct net *n)
{
	uint64_t t = hlc_mono_ms();

	if (n->session_opened == 0 || t - n->session_opened >= GOSSIP_SETTLE_EVERY_MS)
		n->session_opened = t;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends o to the growable array *a (*n used, *cap allocated).  0 or -1. */
static int
push(uint64_t **a, size_t *n, size_t *cap, uint64_t o)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		uint64_t *m = realloc(*a, c * sizeof(*m));

		if (m == NULL)
			return -1;
		*a = m;
		*cap = c;
	}
	(*a)[(*n)++] = o;
	return 0;
}

/* 1 if a peer that was streaming origin o may still have some on its way. */
static int
draining(struct peer *const *ps, size_t np, uint64_t o, uint64_t have)
{
	for (size_t i = 0; i < np; i++)
		if (sync_dropped(ps[i]->s, o) && vv_get(sync_acked(ps[i]->s), o) > have)
			return 1;
	return 0;
}

void
gossip_route(struct net *n)
{
	struct peer *ps[NET_SLOTS];
	struct vv mine = {0, NULL}, want[NET_SLOTS];
	size_t np = 0, no = 0, cap = 0, count[NET_SLOTS];
	uint64_t *origins = NULL, self = n->sc.self;
	int settling =
	    n->session_opened != 0 && hlc_mono_ms() - n->session_opened < GOSSIP_SETTLE_MS;
	struct journal_member jm;

	if (journal_vv(n->j, &mine))
		return;
	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL || p->state != PEER_SYNC || p->closing || p->s == NULL)
			continue;
		/* Announce: every peer learns what we have as it grows.  What it
		 * has of members we learnt of since counts now (sync_adopt). */
		if (sync_adopt(p->s) || sync_announce(p->s, &mine))
			p->closing = 1;
		if (sync_protocol(p->s) >= 3)
			ps[np++] = p;
	}
	/* Every origin any of us knows: ours, the peers' vectors, the peers. */
	for (size_t k = 0; k < mine.n; k++)
		if (push(&origins, &no, &cap, mine.e[k].origin))
			goto out;
	for (size_t i = 0; i < np; i++) {
		const struct vv *a = sync_acked(ps[i]->s);

		for (size_t k = 0; k < a->n; k++)
			if (push(&origins, &no, &cap, a->e[k].origin))
				goto out;
		if (push(&origins, &no, &cap, peer_device(ps[i])))
			goto out;
	}
	if (no > 1)
		qsort(origins, no, sizeof(*origins), cmp_u64);
	for (size_t i = 0; i < np; i++) {
		want[i].n = 0;
		want[i].e = NULL;
		count[i] = 0;
	}
	for (size_t k = 0; k < no && n->sc.mode != MODE_SEND_ONLY; k++) {
		uint64_t o = origins[k], have = vv_get(&mine, o);
		size_t best = np, cur = np;

		if ((k > 0 && o == origins[k - 1]) || o == self || o == 0)
			continue;
		/* Not a member here yet: its changes would be refused.  The
		 * change that makes it one comes in an admin's origin first. */
		if (journal_member(n->j, o, &jm))
			continue;
		for (size_t i = 0; i < np && cur == np; i++)
			if (sync_pulls(ps[i]->s, o))
				cur = i;
		for (size_t i = 0; i < np; i++) {
			uint64_t a = vv_get(sync_acked(ps[i]->s), o);

			if (peer_device(ps[i]) == o) { /* the origin itself */
				best = i;
				break;
			}
			if (best == np || a > vv_get(sync_acked(ps[best]->s), o) ||
			    (a == vv_get(sync_acked(ps[best]->s), o) && count[i] < count[best]))
				best = i;
		}
		if (best == np)
			continue;
		/* Keep the current source while nobody has more than it. */
		if (cur != np && peer_device(ps[best]) != o &&
		    vv_get(sync_acked(ps[cur]->s), o) >= vv_get(sync_acked(ps[best]->s), o))
			best = cur;
		/* Moving: first the old source stops (a WANT without it), then,
		 * once what it had sent has arrived (or it has nothing we lack),
		 * the new one starts from what we then have: nothing twice. */
		if (cur != np && best != cur)
			continue;
		if (cur == np && draining(ps, np, o, have))
			continue;
		/* Sessions opening together (a device coming back dials all its
		 * peers at once): an origin's own device may be a moment away,
		 * and moving an origin later waits for what is on its way. */
		if (cur == np && peer_device(ps[best]) != o && settling)
			continue;
		if (vv_set(&want[best], o, have))
			goto clear;
		count[best]++;
	}
	for (size_t i = 0; i < np; i++)
		if (sync_want(ps[i]->s, &want[i]))
			ps[i]->closing = 1;
clear:
	for (size_t i = 0; i < np; i++)
		vv_clear(&want[i]);
out:
	free(origins);
	vv_clear(&mine);
}
