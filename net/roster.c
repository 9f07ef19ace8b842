/* roster: the signed member list a blind relay checks against; see roster.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "core/bytes.h"
#include "core/change.h"
#include "core/journal.h"
#include "net/roster.h"

int
roster_decode(const uint8_t *buf, size_t len, struct roster *r)
{
	const struct roster_member *s;
	size_t n, i, body;
	const uint8_t *p;

	memset(r, 0, sizeof(*r));
	if (len < ROSTER_FIXED_BYTES || memcmp(buf, ROSTER_MAGIC, 4) != 0)
		goto bad;
	n = get32(buf + 4 + 32 + 8 + 8);
	if (n == 0 || n > ROSTER_MAX || len != ROSTER_FIXED_BYTES + n * ROSTER_ENTRY_BYTES)
		goto bad;
	if ((r->m = calloc(n, sizeof(*r->m))) == NULL)
		return -1;
	memcpy(r->dbid, buf + 4, 32);
	r->issued_ms = get64(buf + 36);
	r->signer = get64(buf + 44);
	r->n = n;
	for (i = 0, p = buf + 56; i < n; i++, p += ROSTER_ENTRY_BYTES) {
		r->m[i].device = get64(p);
		r->m[i].flags = p[8];
		memcpy(r->m[i].sign_pub, p + 9, 32);
		memcpy(r->m[i].box_pub, p + 41, 32);
		/* A device id is the hash of its key: a listed id cannot be
		 * paired with another device's key. */
		if (r->m[i].device != journal_key_origin(r->m[i].box_pub) ||
		    (i > 0 && r->m[i].device <= r->m[i - 1].device))
			goto bad;
	}
	body = len - 64;
	s = roster_find(r, r->signer);
	if (s == NULL || !(s->flags & JOURNAL_ADMIN) || (s->flags & JOURNAL_REMOVED) ||
	    crypto_sign_verify_detached(buf + body, buf, body, s->sign_pub) != 0)
		goto bad;
	return 0;
bad:
	roster_clear(r);
	errno = EBADMSG;
	return -1;
}

void
roster_clear(struct roster *r)
{
	if (r == NULL)
		return;
	free(r->m);
	memset(r, 0, sizeof(*r));
}

const struct roster_member *
roster_find(const struct roster *r, uint64_t device)
{
	size_t lo = 0, hi = r->n;

	/* Entries are sorted by device (roster_decode checks it). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->m[mid].device == device)
			return &r->m[mid];
		if (r->m[mid].device < device)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
roster_admits(const struct roster *r, const uint8_t pub[32])
{
	const struct roster_member *m = roster_find(r, journal_key_origin(pub));

	return m != NULL && !(m->flags & JOURNAL_REMOVED) &&
	       sodium_memcmp(m->box_pub, pub, 32) == 0;
}

int
roster_supersedes(const struct roster *cur, const struct roster *next)
{
	const struct roster_member *s = roster_find(cur, next->signer);

	return memcmp(cur->dbid, next->dbid, 32) == 0 && next->issued_ms > cur->issued_ms &&
	       s != NULL && (s->flags & JOURNAL_ADMIN) && !(s->flags & JOURNAL_REMOVED) &&
	       sodium_memcmp(s->sign_pub, roster_find(next, next->signer)->sign_pub, 32) == 0;
}

int
roster_check_blob(const struct roster *r, const uint8_t *blob, size_t len, int removed_ok,
                  uint64_t *origin, uint64_t *seq)
{
	const struct roster_member *m;

	if (len <= CHANGE_HEADER_BYTES + CHANGE_SIG_BYTES || len > CHANGE_MAX_BYTES ||
	    change_peek(blob, len, origin, seq) || *seq == 0) {
		errno = EBADMSG;
		return -1;
	}
	if ((m = roster_find(r, *origin)) == NULL ||
	    (!removed_ok && (m->flags & JOURNAL_REMOVED))) {
		errno = EACCES;
		return -1;
	}
	if (crypto_sign_verify_detached(blob + len - CHANGE_SIG_BYTES, blob, len - CHANGE_SIG_BYTES,
	                                m->sign_pub) != 0) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

static int
by_device(const void *a, const void *b)
{
	uint64_t x = ((const struct roster_member *)a)->device;
	uint64_t y = ((const struct roster_member *)b)->device;

	return x < y ? -1 : x > y;
}

int
roster_build(struct journal *j, const uint8_t sign_sk[64], uint8_t **out, size_t *len)
{
	json_t *a = journal_members_json(j), *e;
	struct roster_member *m = NULL;
	struct journal_member jm;
	struct timespec ts;
	size_t i, n = 0, body;
	uint8_t *buf, *p;
	uint64_t self = journal_self(j);
	int admin = 0;

	if (a == NULL)
		return -1;
	if (json_array_size(a) == 0 || json_array_size(a) > ROSTER_MAX ||
	    (m = calloc(json_array_size(a), sizeof(*m))) == NULL) {
		json_decref(a);
		errno = json_array_size(a) == 0 ? EINVAL : ENOMEM;
		return -1;
	}
	json_array_foreach (a, i, e) {
		uint64_t origin;

		if (change_devid_parse(json_string_value(json_object_get(e, "device")), &origin) ||
		    journal_member(j, origin, &jm))
			continue;
		m[n].device = origin;
		m[n].flags = jm.flags & (JOURNAL_ADMIN | JOURNAL_REMOVED);
		memcpy(m[n].sign_pub, jm.sign_pub, 32);
		memcpy(m[n].box_pub, jm.box_pub, 32);
		if (origin == self && (jm.flags & JOURNAL_ADMIN) && !(jm.flags & JOURNAL_REMOVED))
			admin = 1;
		n++;
	}
	json_decref(a);
	if (!admin) {
		free(m);
		errno = EPERM;
		return -1;
	}
	qsort(m, n, sizeof(*m), by_device);
	*len = ROSTER_FIXED_BYTES + n * ROSTER_ENTRY_BYTES;
	if ((buf = malloc(*len)) == NULL) {
		free(m);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	memcpy(buf, ROSTER_MAGIC, 4);
	journal_dbid(j, buf + 4);
	be64(buf + 36, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	be64(buf + 44, self);
	be32(buf + 52, (uint32_t)n);
	for (i = 0, p = buf + 56; i < n; i++, p += ROSTER_ENTRY_BYTES) {
		be64(p, m[i].device);
		p[8] = (uint8_t)m[i].flags;
		memcpy(p + 9, m[i].sign_pub, 32);
		memcpy(p + 41, m[i].box_pub, 32);
	}
	free(m);
	body = *len - 64;
	crypto_sign_detached(buf + body, NULL, buf, body, sign_sk);
	*out = buf;
	return 0;
}
