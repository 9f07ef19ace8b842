/* gossip: which peer each origin is pulled from; see gossip.h. */
#include <stdlib.h>
#include <string.h>

#include "core/journal.h"
#include "core/mode.h"
#include "net/gossip.h"
#include "net/net_int.h"
#include "net/peer.h"
#include "net/sync.h"

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

void
gossip_route(struct net *n)
{
	struct peer *ps[NET_SLOTS];
	struct vv mine = {0, NULL}, want[NET_SLOTS];
	size_t np = 0, no = 0, cap = 0, count[NET_SLOTS];
	uint64_t *origins = NULL, self = n->sc.self;

	if (journal_vv(n->j, &mine))
		return;
	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL || p->state != PEER_SYNC || p->closing || p->s == NULL)
			continue;
		/* Announce: every peer learns what we have as it grows. */
		if (sync_announce(p->s, &mine))
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
		for (size_t i = 0; i < np; i++) {
			uint64_t a = vv_get(sync_acked(ps[i]->s), o);

			if (peer_device(ps[i]) == o) { /* the origin itself */
				best = i;
				break;
			}
			if (sync_pulls(ps[i]->s, o) && cur == np)
				cur = i;
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
