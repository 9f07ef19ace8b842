#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/vv.h"

/* Index of the first entry whose origin is >= origin. */
static size_t
vv_lower(const struct vv *v, uint64_t origin)
{
	size_t lo = 0, hi = v->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->e[mid].origin < origin)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t
vv_get(const struct vv *v, uint64_t origin)
{
	size_t i = vv_lower(v, origin);

	return i < v->n && v->e[i].origin == origin ? v->e[i].seq : 0;
}

int
vv_set(struct vv *v, uint64_t origin, uint64_t seq)
{
	struct vv_entry *e;
	size_t i = vv_lower(v, origin);

	if (i < v->n && v->e[i].origin == origin) {
		v->e[i].seq = seq;
		return 0;
	}
	if ((e = realloc(v->e, (v->n + 1) * sizeof(*e))) == NULL)
		return -1;
	v->e = e;
	memmove(&e[i + 1], &e[i], (v->n - i) * sizeof(*e));
	e[i].origin = origin;
	e[i].seq = seq;
	v->n++;
	return 0;
}

int
vv_merge(struct vv *into, const struct vv *from)
{
	struct vv_entry *e;
	size_t i = 0, k = 0, n = 0;

	if (from->n == 0)
		return 0;
	if ((e = malloc((into->n + from->n) * sizeof(*e))) == NULL)
		return -1;
	/* Both are sorted: one pass, like the merge of merge sort. */
	while (i < into->n || k < from->n) {
		if (k == from->n || (i < into->n && into->e[i].origin < from->e[k].origin)) {
			e[n++] = into->e[i++];
		} else if (i == into->n || from->e[k].origin < into->e[i].origin) {
			e[n++] = from->e[k++];
		} else {
			e[n] = into->e[i++];
			if (from->e[k].seq > e[n].seq)
				e[n].seq = from->e[k].seq;
			n++;
			k++;
		}
	}
	free(into->e);
	into->e = e;
	into->n = n;
	return 0;
}

void
vv_clear(struct vv *v)
{
	free(v->e);
	v->e = NULL;
	v->n = 0;
}
