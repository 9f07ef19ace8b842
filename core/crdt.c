#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/crdt.h"
#include "core/record.h"

size_t
crdt_record_key(uint8_t *k, const char *coll, const char *rec)
{
	size_t a = strlen(coll), b = strlen(rec);

	memcpy(k, coll, a);
	k[a] = 0;
	memcpy(k + a + 1, rec, b);
	return a + 1 + b;
}

size_t
crdt_reg_key(uint8_t *k, const char *coll, const char *rec, const char *field)
{
	size_t n = crdt_record_key(k, coll, rec), f;

	k[n++] = 0;
	if (field == NULL) {
		k[n++] = 'M';
	} else if ((f = strlen(field)) <= CRDT_FIELD_INLINE_MAX) {
		k[n++] = 'F';
		memcpy(k + n, field, f);
		n += f;
	} else {
		k[n++] = 'G';
		crypto_generichash(k + n, 32, (const uint8_t *)field, f, NULL, 0);
		n += 32;
	}
	return n;
}

void
crdt_reg_clear(struct crdt_reg *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->e[i].value);
	free(r->e);
	free(r->field);
	memset(r, 0, sizeof(*r));
}

int
crdt_reg_decode(const uint8_t *p, size_t n, struct crdt_reg *r)
{
	const uint8_t *end = p + n;
	uint32_t nl, vl;
	struct crdt_entry *e;
	int rc = EIO;

	memset(r, 0, sizeof(*r));
	if (end - p < 4)
		return EIO;
	nl = get32(p);
	p += 4;
	if (nl != 0xffffffff) {
		if ((size_t)(end - p) < nl || memchr(p, 0, nl) != NULL)
			return EIO;
		if ((r->field = strndup((const char *)p, nl)) == NULL)
			return ENOMEM;
		p += nl;
	}
	while (p < end) {
		/* A value holding a NUL is corrupt: values are JSON texts. */
		if (end - p < 28 || (vl = get32(p + 24)) > (size_t)(end - p - 28) ||
		    memchr(p + 28, 0, vl) != NULL)
			goto err;
		rc = ENOMEM;
		if ((e = realloc(r->e, (r->n + 1) * sizeof(*e))) == NULL)
			goto err;
		r->e = e;
		e = &r->e[r->n];
		e->origin = get64(p);
		e->seq = get64(p + 8);
		e->hlc = get64(p + 16);
		e->vlen = vl;
		if ((e->value = strndup((const char *)p + 28, vl)) == NULL)
			goto err;
		r->n++;
		p += 28 + vl;
		rc = EIO;
	}
	return 0;
err:
	crdt_reg_clear(r);
	return rc;
}

static int
crdt_entry_cmp(const void *a, const void *b)
{
	const struct crdt_entry *x = a, *y = b;

	if (x->origin != y->origin)
		return x->origin < y->origin ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
crdt_reg_encode(struct crdt_reg *r, uint8_t **out, size_t *len)
{
	size_t n = 4, i, nl = r->field ? strlen(r->field) : 0;
	uint8_t *p, *b;

	*out = NULL;
	*len = 0;
	if (r->n > 1)
		qsort(r->e, r->n, sizeof(*r->e), crdt_entry_cmp);
	n += nl;
	for (i = 0; i < r->n; i++)
		n += 28 + r->e[i].vlen;
	if ((b = p = malloc(n)) == NULL)
		return ENOMEM;
	be32(p, r->field ? (uint32_t)nl : 0xffffffff);
	memcpy(p + 4, r->field ? r->field : "", nl);
	p += 4 + nl;
	for (i = 0; i < r->n; i++) {
		be64(p, r->e[i].origin);
		be64(p + 8, r->e[i].seq);
		be64(p + 16, r->e[i].hlc);
		be32(p + 24, (uint32_t)r->e[i].vlen);
		memcpy(p + 28, r->e[i].value, r->e[i].vlen);
		p += 28 + r->e[i].vlen;
	}
	*out = b;
	*len = n;
	return 0;
}

int
crdt_reg_find(const struct crdt_reg *r, uint64_t origin, uint64_t seq)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->e[i].origin == origin && r->e[i].seq == seq)
			return (int)i;
	return -1;
}

int
crdt_reg_conflict(const struct crdt_reg *r)
{
	size_t i;

	/* Markers hold "true" only: several entries there are no conflict. */
	if (r->n < 2 || r->field == NULL)
		return 0;
	/*
	 * Entries whose values are the same bytes (canonical JSON) agree: two
	 * devices wrote the same thing, so there is nothing to resolve.  The
	 * entries stay (every replica keeps the same state); only what counts
	 * as a conflict depends on the values, never on their order.
	 */
	for (i = 1; i < r->n; i++)
		if (r->e[i].vlen != r->e[0].vlen ||
		    memcmp(r->e[i].value, r->e[0].value, r->e[0].vlen) != 0)
			return 1;
	return 0;
}

int
crdt_apply(struct crdt_reg *r, const uint8_t *k, size_t kl, const struct change *c,
           const struct op *op, const struct crdt_hooks *h)
{
	struct crdt_entry *e;
	size_t i;
	int rc, idx, found;

	if (r->field == NULL && op->field != NULL && (r->field = strdup(op->field)) == NULL)
		return ENOMEM;
	for (i = 0; i < op->nover; i++) {
		const struct cid *o = &op->over[i];

		if ((idx = crdt_reg_find(r, o->origin, o->seq)) >= 0) {
			free(r->e[idx].value);
			r->e[idx] = r->e[--r->n];
		} else if (!h->arrived(h->ctx, o->origin, o->seq)) {
			/* Not here yet: remember that it is replaced in this register. */
			if ((rc = h->supersede(h->ctx, o->origin, o->seq, k, kl)))
				return rc;
		}
	}
	if (op->kind != OP_SET)
		return 0;
	if ((rc = h->take(h->ctx, c->origin, c->seq, k, kl, &found)))
		return rc;
	if (found || crdt_reg_find(r, c->origin, c->seq) >= 0)
		return 0;
	if ((e = realloc(r->e, (r->n + 1) * sizeof(*e))) == NULL)
		return ENOMEM;
	r->e = e;
	if ((e[r->n].value = strdup(op->value)) == NULL)
		return ENOMEM;
	e[r->n].origin = c->origin;
	e[r->n].seq = c->seq;
	e[r->n].hlc = c->hlc;
	e[r->n].vlen = strlen(op->value);
	r->n++;
	return 0;
}

size_t
crdt_winner(const struct crdt_reg *r, crdt_priority_fn *prio, void *ctx)
{
	int64_t pw, pi;
	size_t i, w = 0;

	if (r->n < 2)
		return 0;
	pw = prio(ctx, r->e[0].origin);
	for (i = 1; i < r->n; i++) {
		const struct crdt_entry *a = &r->e[i], *b = &r->e[w];

		pi = prio(ctx, a->origin);
		if (pi > pw || (pi == pw && (a->hlc > b->hlc ||
		                             (a->hlc == b->hlc &&
		                              (a->origin > b->origin ||
		                               (a->origin == b->origin && a->seq > b->seq)))))) {
			w = i;
			pw = pi;
		}
	}
	return w;
}

int64_t
crdt_priority_value(const struct crdt_reg *r)
{
	json_t *v;
	int64_t p = 0;
	size_t i, w = 0;

	if (r->n == 0)
		return 0;
	/* Among concurrent priorities, all devices count as equal. */
	for (i = 1; i < r->n; i++)
		if (r->e[i].hlc > r->e[w].hlc ||
		    (r->e[i].hlc == r->e[w].hlc && r->e[i].origin > r->e[w].origin))
			w = i;
	if ((v = record_value_parse(r->e[w].value, r->e[w].vlen)) != NULL) {
		if (json_is_integer(v))
			p = json_integer_value(v);
		json_decref(v);
	}
	return p;
}
