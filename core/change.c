#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/change.h"
#include "core/record.h"

/* ---- building ---- */

int
change_add(struct change *c, enum op_kind kind, const char *coll, const char *rec,
           const char *field, const char *value, const struct cid *over, size_t nover)
{
	struct op *ops, *op;

	if ((ops = realloc(c->ops, (c->nops + 1) * sizeof(*ops))) == NULL)
		return -1;
	c->ops = ops;
	op = &ops[c->nops];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	if ((op->coll = strdup(coll)) == NULL || (op->rec = strdup(rec)) == NULL)
		goto err;
	if (field != NULL && (op->field = strdup(field)) == NULL)
		goto err;
	if (kind == OP_SET && (op->value = strdup(value)) == NULL)
		goto err;
	if (nover > 0) {
		if ((op->over = malloc(nover * sizeof(*over))) == NULL)
			goto err;
		memcpy(op->over, over, nover * sizeof(*over));
		op->nover = nover;
	}
	c->nops++;
	return 0;
err:
	free(op->coll);
	free(op->rec);
	free(op->field);
	free(op->value);
	free(op->over);
	errno = ENOMEM;
	return -1;
}

void
change_clear(struct change *c)
{
	size_t i;

	for (i = 0; i < c->nops; i++) {
		free(c->ops[i].coll);
		free(c->ops[i].rec);
		free(c->ops[i].field);
		free(c->ops[i].value);
		free(c->ops[i].over);
	}
	free(c->ops);
	c->ops = NULL;
	c->nops = 0;
}

void
change_free(struct change *c)
{
	if (c == NULL)
		return;
	change_clear(c);
	free(c);
}

/* ---- encoding ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void
w_bytes(struct wbuf *w, const void *b, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (w->err)
		return;
	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap * 2 : 256;
		while (cap < w->len + n)
			cap *= 2;
		if ((p = realloc(w->p, cap)) == NULL) {
			w->err = 1;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void
w_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];

	be64(b, v);
	w_bytes(w, b, 8);
}

static void
w_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];

	be32(b, v);
	w_bytes(w, b, 4);
}

static void
w_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);

	w_u32(w, (uint32_t)n);
	w_bytes(w, s, n);
}

int
change_encode(const struct change *c, uint8_t **buf, size_t *len)
{
	struct wbuf w = {0};
	uint8_t u8;
	size_t i, k;

	*buf = NULL;
	*len = 0;
	u8 = CHANGE_VERSION;
	w_bytes(&w, &u8, 1);
	w_u64(&w, c->origin);
	w_u64(&w, c->seq);
	w_u64(&w, c->hlc);
	w_u32(&w, (uint32_t)c->nops);
	for (i = 0; i < c->nops; i++) {
		const struct op *op = &c->ops[i];

		u8 = (uint8_t)op->kind;
		w_bytes(&w, &u8, 1);
		w_str(&w, op->coll);
		w_str(&w, op->rec);
		u8 = op->field != NULL;
		w_bytes(&w, &u8, 1);
		if (op->field != NULL)
			w_str(&w, op->field);
		if (op->kind == OP_SET)
			w_str(&w, op->value);
		w_u32(&w, (uint32_t)op->nover);
		for (k = 0; k < op->nover; k++) {
			w_u64(&w, op->over[k].origin);
			w_u64(&w, op->over[k].seq);
		}
	}
	if (w.err || w.len > CHANGE_MAX_BYTES) {
		free(w.p);
		errno = w.err ? ENOMEM : EFBIG;
		return -1;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

/* ---- decoding: every read is bounds-checked ---- */

struct rbuf {
	const uint8_t *p;
	size_t len, off;
};

static int
r_bytes(struct rbuf *r, void *out, size_t n)
{
	if (r->len - r->off < n)
		return -1;
	memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

static int
r_u64(struct rbuf *r, uint64_t *v)
{
	uint8_t b[8];

	if (r_bytes(r, b, 8))
		return -1;
	*v = get64(b);
	return 0;
}

static int
r_u32(struct rbuf *r, uint32_t *v)
{
	uint8_t b[4];

	if (r_bytes(r, b, 4))
		return -1;
	*v = get32(b);
	return 0;
}

/* Reads a string into a malloc'd NUL-terminated copy; no embedded NUL. */
static char *
r_str(struct rbuf *r)
{
	uint32_t n;
	char *s;

	if (r_u32(r, &n) || n > r->len - r->off || memchr(r->p + r->off, 0, n) != NULL)
		return NULL;
	if ((s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(s, r->p + r->off, n);
	s[n] = '\0';
	r->off += n;
	return s;
}

/* Internal collections start with '.', which user names never do. */
static int
change_coll_valid(const char *coll)
{
	if (strcmp(coll, ".devices") == 0)
		return 0;
	return record_name_valid(coll, strlen(coll));
}

static int
change_op_valid(const struct op *op)
{
	json_t *v;

	if (change_coll_valid(op->coll))
		return -1;
	if (op->rec[0] == '\0') {
		if (op->field != NULL)
			return -1;
	} else if (record_name_valid(op->rec, strlen(op->rec))) {
		return -1;
	}
	/* What our writers send (canonical text) is known valid without
	 * parsing it. */
	if (op->kind == OP_SET && !record_value_canonical(op->value, strlen(op->value))) {
		if ((v = record_value_parse(op->value, strlen(op->value))) == NULL)
			return -1;
		json_decref(v);
	}
	return 0;
}

/* Orders ops by (collection, record) so that one record's ops are adjacent. */
static int
op_cmp(const void *a, const void *b)
{
	const struct op *x = *(const struct op *const *)a, *y = *(const struct op *const *)b;
	int d = strcmp(x->coll, y->coll);

	return d ? d : strcmp(x->rec, y->rec);
}

int
change_fits(const struct change *c)
{
	const struct op **v;
	size_t i, sum = 0;
	int rc = 0;

	if (c->nops == 0)
		return 0;
	if ((v = malloc(c->nops * sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < c->nops; i++)
		v[i] = &c->ops[i];
	qsort(v, c->nops, sizeof(*v), op_cmp);
	for (i = 0; i < c->nops && rc == 0; i++) {
		if (i > 0 && op_cmp(&v[i - 1], &v[i]) != 0)
			sum = 0;
		if (v[i]->field != NULL && v[i]->kind == OP_SET)
			sum += strlen(v[i]->field) + strlen(v[i]->value);
		if (sum > RECORD_MAX_BYTES) {
			errno = EFBIG;
			rc = -1;
		}
	}
	free(v);
	return rc;
}

int
change_decode(const uint8_t *buf, size_t len, struct change **out)
{
	struct rbuf r = {buf, len, 0};
	struct change *c;
	struct op *op;
	uint32_t nops, nover, k;
	uint8_t version, kind, has_field;

	*out = NULL;
	if (len > CHANGE_MAX_BYTES || (c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	if (r_bytes(&r, &version, 1) || version < CHANGE_VERSION_MIN || version > CHANGE_VERSION ||
	    r_u64(&r, &c->origin) || r_u64(&r, &c->seq) || r_u64(&r, &c->hlc) || r_u32(&r, &nops))
		goto err;
	/* Each op takes at least 14 bytes: bound allocations by the input. */
	if (c->seq == 0 || nops == 0 || nops > CHANGE_MAX_OPS || nops > (len - r.off) / 14)
		goto err;
	if ((c->ops = calloc(nops, sizeof(*c->ops))) == NULL)
		goto err;
	for (c->nops = 0; c->nops < nops; c->nops++) {
		op = &c->ops[c->nops];
		if (r_bytes(&r, &kind, 1) || (kind != OP_SET && kind != OP_DEL))
			goto err;
		op->kind = kind;
		if ((op->coll = r_str(&r)) == NULL || (op->rec = r_str(&r)) == NULL ||
		    r_bytes(&r, &has_field, 1) || has_field > 1)
			goto err;
		if (has_field && (op->field = r_str(&r)) == NULL)
			goto err;
		if (kind == OP_SET && (op->value = r_str(&r)) == NULL)
			goto err;
		if (r_u32(&r, &nover) || nover > (len - r.off) / 16)
			goto err;
		if (nover > 0 && (op->over = malloc(nover * sizeof(*op->over))) == NULL)
			goto err;
		op->nover = nover;
		for (k = 0; k < nover; k++)
			if (r_u64(&r, &op->over[k].origin) || r_u64(&r, &op->over[k].seq))
				goto err;
		if (change_op_valid(op))
			goto err;
	}
	if (r.off != len || change_fits(c))
		goto err;
	*out = c;
	return 0;
err:
	/* The op being read when it failed is freed too: count it in. */
	if (c->ops != NULL && c->nops < nops)
		c->nops++;
	change_free(c);
fail:
	errno = EINVAL;
	return -1;
}

int
change_peek(const uint8_t *buf, size_t len, uint64_t *origin, uint64_t *seq)
{
	struct rbuf r = {buf, len, 0};
	uint8_t version;

	if (r_bytes(&r, &version, 1) || version < CHANGE_VERSION_MIN || version > CHANGE_VERSION ||
	    r_u64(&r, origin) || r_u64(&r, seq)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ---- device ids: RFC 4648 base32, lower case, no padding ---- */

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

void
change_devid(uint64_t origin, char out[DEVID_LEN + 1])
{
	int i;

	/* 64 bits = 12 full 5-bit groups + 4 bits, padded with a zero bit. */
	for (i = DEVID_LEN - 1; i >= 0; i--) {
		if (i == DEVID_LEN - 1) {
			out[i] = b32[(origin & 0xf) << 1];
			origin >>= 4;
		} else {
			out[i] = b32[origin & 0x1f];
			origin >>= 5;
		}
	}
	out[DEVID_LEN] = '\0';
}

int
change_devid_parse(const char *s, uint64_t *origin)
{
	uint64_t v = 0;
	const char *p;
	int i;

	if (strlen(s) != DEVID_LEN)
		return -1;
	for (i = 0; i < DEVID_LEN; i++) {
		if ((p = strchr(b32, s[i])) == NULL || s[i] == '\0')
			return -1;
		if (i == DEVID_LEN - 1) {
			if ((p - b32) & 1)
				return -1;
			v = (v << 4) | (uint64_t)((p - b32) >> 1);
		} else {
			v = (v << 5) | (uint64_t)(p - b32);
		}
	}
	*origin = v;
	return 0;
}
