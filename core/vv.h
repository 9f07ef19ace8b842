/*
 * vv: version vectors — for each origin (device), the highest seq of its
 * changes applied.  Plain struct, sorted by origin without duplicates, so a
 * lookup is a binary search and a merge one pass over both vectors.  The
 * caller owns a struct vv (zero-initialised = empty) and frees its entries
 * with vv_clear.
 */
#ifndef BLAZEFS_VV_H
#define BLAZEFS_VV_H

#include <stddef.h>
#include <stdint.h>

/* A version vector: sorted by origin, no duplicates. */
struct vv {
	size_t n;
	struct vv_entry {
		uint64_t origin;
		uint64_t seq;
	} * e;
};

/* Seq of origin in v (0 if absent).  O(log n). */
uint64_t vv_get(const struct vv *v, uint64_t origin);
/* Sets origin's seq in v (inserting it sorted).  Returns 0 or -1. */
int vv_set(struct vv *v, uint64_t origin, uint64_t seq);
/* Raises every origin of into to at least its seq in from, in O(n + m).
 * Returns 0, or -1 with errno (into is then unchanged). */
int vv_merge(struct vv *into, const struct vv *from);
/* Frees the entries of v and empties it. */
void vv_clear(struct vv *v);

#endif
