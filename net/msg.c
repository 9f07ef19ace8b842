/* msg: sync message codec; see msg.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/bytes.h"
#include "net/msg.h"

/* ---- writing ---- */

static int
buf_room(struct msg_buf *b, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (b->cap - b->len >= n)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
put(struct msg_buf *b, const void *x, size_t n)
{
	if (buf_room(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->len, x, n);
	b->len += n;
	return 0;
}

static int
put_be(struct msg_buf *b, uint64_t x, int bytes)
{
	uint8_t t[8];

	for (int i = 0; i < bytes; i++)
		t[i] = (uint8_t)(x >> (8 * (bytes - 1 - i)));
	return put(b, t, (size_t)bytes);
}

static int
put_head(struct msg_buf *b, enum msg_type t)
{
	uint8_t h[2] = {MSG_VERSION, (uint8_t)t};

	b->p = NULL;
	b->len = b->cap = 0;
	return put(b, h, 2);
}

static int
put_vv(struct msg_buf *b, const struct vv *v)
{
	if (put_be(b, v->n, 4))
		return -1;
	for (size_t i = 0; i < v->n; i++)
		if (put_be(b, v->e[i].origin, 8) || put_be(b, v->e[i].seq, 8))
			return -1;
	return 0;
}

static int
finish(struct msg_buf *b, int rc, uint8_t **buf, size_t *len)
{
	if (rc) {
		free(b->p);
		*buf = NULL;
		*len = 0;
		return -1;
	}
	*buf = b->p;
	*len = b->len;
	return 0;
}

/* ---- reading: a cursor that fails once and stays failed ---- */

struct rd {
	const uint8_t *p;
	size_t n;
	int bad;
};

static const uint8_t *
take(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || r->n < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->n -= n;
	return p;
}

static uint64_t
get_be(struct rd *r, int bytes)
{
	const uint8_t *p = take(r, (size_t)bytes);
	uint64_t x = 0;

	if (p == NULL)
		return 0;
	for (int i = 0; i < bytes; i++)
		x = x << 8 | p[i];
	return x;
}

static int
rd_open(struct rd *r, const uint8_t *buf, size_t len, enum msg_type t)
{
	r->p = buf;
	r->n = len;
	r->bad = 0;
	if (msg_type(buf, len) != (int)t)
		return -1;
	take(r, 2);
	return 0;
}

static int
rd_end(struct rd *r)
{
	if (r->bad || r->n != 0) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

static int
get_vv(struct rd *r, struct vv *v)
{
	uint64_t n = get_be(r, 4);

	v->n = 0;
	v->e = NULL;
	if (r->bad || n > r->n / 16) {
		r->bad = 1;
		return -1;
	}
	if (n == 0)
		return 0;
	if ((v->e = malloc(n * sizeof(*v->e))) == NULL) {
		r->bad = 1;
		return -1;
	}
	for (uint64_t i = 0; i < n; i++) {
		v->e[i].origin = get_be(r, 8);
		v->e[i].seq = get_be(r, 8);
		if (i > 0 && v->e[i].origin <= v->e[i - 1].origin)
			r->bad = 1;
	}
	v->n = n;
	if (r->bad) {
		vv_clear(v);
		return -1;
	}
	return 0;
}

static int
get_name(struct rd *r, char name[MSG_NAME_MAX + 1])
{
	size_t n = (size_t)get_be(r, 1);
	const uint8_t *p = take(r, n);

	name[0] = '\0';
	if (p == NULL || memchr(p, '\0', n) != NULL) {
		r->bad = 1;
		return -1;
	}
	memcpy(name, p, n);
	name[n] = '\0';
	return 0;
}

int
msg_type(const uint8_t *buf, size_t len)
{
	if (len < 2 || buf[0] != MSG_VERSION || buf[1] < MSG_HELLO || buf[1] > MSG_WANT) {
		errno = EBADMSG;
		return -1;
	}
	return buf[1];
}

int
msg_hello_encode(const struct msg_hello *h, uint8_t **buf, size_t *len)
{
	struct msg_buf b;
	size_t nl = strnlen(h->name, MSG_NAME_MAX);

	return finish(&b,
	              put_head(&b, MSG_HELLO) || put_be(&b, h->protocol, 2) ||
	                  put(&b, h->dbid, 32) || put_be(&b, h->device, 8) || put_be(&b, nl, 1) ||
	                  put(&b, h->name, nl) || put_vv(&b, &h->vv) ||
	                  (h->protocol >= 2 && put_be(&b, h->wall_ms, 8)),
	              buf, len);
}

int
msg_hello_decode(const uint8_t *buf, size_t len, struct msg_hello *h)
{
	struct rd r;
	const uint8_t *p;

	memset(h, 0, sizeof(*h));
	if (rd_open(&r, buf, len, MSG_HELLO))
		goto bad;
	h->protocol = (uint16_t)get_be(&r, 2);
	if ((p = take(&r, 32)) != NULL)
		memcpy(h->dbid, p, 32);
	h->device = get_be(&r, 8);
	if (get_name(&r, h->name) || get_vv(&r, &h->vv))
		goto bad;
	if (h->protocol >= 2)
		h->wall_ms = get_be(&r, 8);
	if (rd_end(&r)) {
		vv_clear(&h->vv);
		goto bad;
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

/* ACK and WANT: a version vector alone. */
static int
vv_msg_encode(enum msg_type t, const struct vv *v, uint8_t **buf, size_t *len)
{
	struct msg_buf b;

	return finish(&b, put_head(&b, t) || put_vv(&b, v), buf, len);
}

static int
vv_msg_decode(enum msg_type t, const uint8_t *buf, size_t len, struct vv *v)
{
	struct rd r;

	v->n = 0;
	v->e = NULL;
	if (rd_open(&r, buf, len, t) || get_vv(&r, v))
		goto bad;
	if (rd_end(&r)) {
		vv_clear(v);
		goto bad;
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int
msg_ack_encode(const struct vv *v, uint8_t **buf, size_t *len)
{
	return vv_msg_encode(MSG_ACK, v, buf, len);
}

int
msg_ack_decode(const uint8_t *buf, size_t len, struct vv *v)
{
	return vv_msg_decode(MSG_ACK, buf, len, v);
}

int
msg_want_encode(const struct vv *v, uint8_t **buf, size_t *len)
{
	return vv_msg_encode(MSG_WANT, v, buf, len);
}

int
msg_want_decode(const uint8_t *buf, size_t len, struct vv *v)
{
	return vv_msg_decode(MSG_WANT, buf, len, v);
}

int
msg_empty_encode(enum msg_type t, uint8_t **buf, size_t *len)
{
	struct msg_buf b;

	return finish(&b, put_head(&b, t), buf, len);
}

int
msg_changes_init(struct msg_buf *b)
{
	if (put_head(b, MSG_CHANGES) || put_be(b, 0, 4)) {
		free(b->p);
		b->p = NULL;
		return -1;
	}
	return 0;
}

int
msg_changes_add(struct msg_buf *b, const uint8_t *blob, size_t len)
{
	uint32_t n = get32(b->p + 2);

	if (len > UINT32_MAX - 1 || put_be(b, len, 4) || put(b, blob, len))
		return -1;
	n++;
	be32(b->p + 2, n);
	return 0;
}

int
msg_changes_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **blob, size_t *blen)
{
	struct rd r;
	uint64_t n;

	*blob = NULL;
	*blen = 0;
	if (*off == 0) {
		if (rd_open(&r, buf, len, MSG_CHANGES))
			return -1;
		get_be(&r, 4);
		if (r.bad)
			return -1;
		*off = 6;
	}
	if (*off > len)
		return -1;
	if (*off == len)
		return 0;
	r.p = buf + *off;
	r.n = len - *off;
	r.bad = 0;
	n = get_be(&r, 4);
	if ((*blob = take(&r, (size_t)n)) == NULL) {
		errno = EBADMSG;
		return -1;
	}
	*blen = (size_t)n;
	*off = len - r.n;
	return 1;
}

long
msg_changes_check(const uint8_t *buf, size_t len)
{
	const uint8_t *blob;
	size_t off = 0, blen;
	uint64_t want;
	long n = 0;
	int rc;

	if (msg_type(buf, len) != MSG_CHANGES || len < 6)
		goto bad;
	want = get32(buf + 2);
	while ((rc = msg_changes_next(buf, len, &off, &blob, &blen)) == 1)
		n++;
	if (rc < 0 || (uint64_t)n != want)
		goto bad;
	return n;
bad:
	errno = EBADMSG;
	return -1;
}

int
msg_join_encode(const char *name, const uint8_t sign_pub[32], uint8_t **buf, size_t *len)
{
	struct msg_buf b;
	size_t nl = strnlen(name, MSG_NAME_MAX);

	return finish(&b,
	              put_head(&b, MSG_JOIN) || put_be(&b, nl, 1) || put(&b, name, nl) ||
	                  put(&b, sign_pub, 32),
	              buf, len);
}

int
msg_join_decode(const uint8_t *buf, size_t len, char name[MSG_NAME_MAX + 1], uint8_t sign_pub[32])
{
	const uint8_t *p;
	struct rd r;

	name[0] = '\0';
	if (rd_open(&r, buf, len, MSG_JOIN) || get_name(&r, name))
		goto bad;
	p = take(&r, 32);
	if (rd_end(&r))
		goto bad;
	memcpy(sign_pub, p, 32);
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int
msg_welcome_encode(const struct msg_welcome *w, uint8_t **buf, size_t *len)
{
	struct msg_buf b;

	if (w->nkeys == 0 || w->nkeys > MSG_KEYS_MAX) {
		errno = EINVAL;
		return -1;
	}
	return finish(&b,
	              put_head(&b, MSG_WELCOME) || put(&b, w->dbid, 32) ||
	                  put_be(&b, w->nkeys, 1) || put(&b, w->keys, 32 * w->nkeys) ||
	                  put_be(&b, w->root, 8) || put(&b, w->root_sign, 32) ||
	                  put(&b, w->root_box, 32) || put(&b, w->netkey, 32),
	              buf, len);
}

int
msg_welcome_add_relays(uint8_t **buf, size_t *len, const struct msg_relays *r)
{
	struct msg_buf b = {*buf, *len, *len};
	int bad = 0;

	if (r->n == 0)
		return 0;
	if (r->n > MSG_RELAYS_MAX) {
		errno = EINVAL;
		return -1;
	}
	bad = put_be(&b, r->n, 1);
	for (size_t i = 0; i < r->n && !bad; i++) {
		size_t al = strnlen(r->addr[i], sizeof(r->addr[i]));

		bad = al == 0 || al > 255 || put(&b, r->key[i], 32) || put_be(&b, al, 1) ||
		      put(&b, r->addr[i], al);
	}
	/* b.p may have moved even on failure: the caller frees *buf. */
	*buf = b.p;
	*len = b.len;
	return bad ? -1 : 0;
}

/* Reads the optional relays that end a WELCOME from r. */
static int
get_relays(struct rd *r, struct msg_relays *out)
{
	out->n = 0;
	if (r->bad || r->n == 0)
		return r->bad ? -1 : 0;
	out->n = get_be(r, 1);
	if (out->n == 0 || out->n > MSG_RELAYS_MAX)
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		const uint8_t *k = take(r, 32), *a;
		size_t al = get_be(r, 1);

		if (k == NULL || al == 0 || (a = take(r, al)) == NULL ||
		    memchr(a, '\0', al) != NULL || memchr(a, '\n', al) != NULL)
			return -1;
		memcpy(out->key[i], k, 32);
		memcpy(out->addr[i], a, al);
		out->addr[i][al] = '\0';
	}
	return 0;
}

/* The fixed part of a WELCOME, up to the optional relays. */
static int
get_welcome(struct rd *r, const uint8_t *buf, size_t len, struct msg_welcome *w)
{
	const uint8_t *dbid, *keys, *sign, *box, *net;
	uint64_t root;
	size_t nkeys;

	if (rd_open(r, buf, len, MSG_WELCOME))
		return -1;
	dbid = take(r, 32);
	nkeys = get_be(r, 1);
	if (nkeys == 0 || nkeys > MSG_KEYS_MAX)
		return -1;
	keys = take(r, 32 * nkeys);
	root = get_be(r, 8);
	sign = take(r, 32);
	box = take(r, 32);
	net = take(r, 32);
	if (r->bad)
		return -1;
	if (w != NULL) {
		memcpy(w->dbid, dbid, 32);
		memcpy(w->keys, keys, 32 * nkeys);
		w->nkeys = nkeys;
		w->root = root;
		memcpy(w->root_sign, sign, 32);
		memcpy(w->root_box, box, 32);
		memcpy(w->netkey, net, 32);
	}
	return 0;
}

int
msg_welcome_decode_relays(const uint8_t *buf, size_t len, struct msg_welcome *w,
                          struct msg_relays *out)
{
	struct rd r;

	if (get_welcome(&r, buf, len, w) || get_relays(&r, out) || rd_end(&r)) {
		out->n = 0;
		if (w != NULL)
			sodium_memzero(w, sizeof(*w));
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int
msg_welcome_decode(const uint8_t *buf, size_t len, struct msg_welcome *w)
{
	struct rd r;

	if (get_welcome(&r, buf, len, w) || rd_end(&r)) {
		sodium_memzero(w, sizeof(*w));
		errno = EBADMSG;
		return -1;
	}
	return 0;
}
