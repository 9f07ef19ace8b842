/* conn: framing and the Noise session of one peer connection; see conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/bytes.h"
#include "net/conn.h"
#include "net/msg.h"
#include "net/noise.h"

#define FRAG_MAX (CONN_FRAME_MAX - NOISE_TAG_LEN - 1)
#define STEP 100 /* handshake_step: go on */

enum { S_SELECTOR, S_HANDSHAKE, S_OPEN, S_DEAD };

struct buf {
	uint8_t *p;
	size_t off, len, cap; /* bytes [off, len) are live */
};

struct conn {
	int initiator, state, join, selector, have_psk;
	uint8_t s_priv[NOISE_KEY_LEN], psk[NOISE_KEY_LEN], rs[NOISE_KEY_LEN];
	struct noise_handshake *hs;
	struct noise_cipher *tx, *rx;
	uint64_t txframes, rxframes;
	struct buf in, out, msg;
	int msg_done;
	uint8_t frame[CONN_FRAME_MAX]; /* plaintext of one frame */
};

static int
buf_put(struct buf *b, const void *x, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len < n && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < n) {
		for (cap = b->cap ? b->cap : 4096; cap - b->len < n; cap *= 2)
			;
		if ((p = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, x, n);
	b->len += n;
	return 0;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

struct conn *
conn_new(int initiator, const uint8_t s_priv[32], const uint8_t *psk)
{
	struct conn *c;

	if (sodium_init() < 0) {
		errno = EIO;
		return NULL;
	}
	if ((c = sodium_malloc(sizeof(*c))) == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->initiator = initiator;
	memcpy(c->s_priv, s_priv, NOISE_KEY_LEN);
	if (psk != NULL) {
		memcpy(c->psk, psk, NOISE_KEY_LEN);
		c->have_psk = 1;
	}
	c->state = S_SELECTOR;
	return c;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	noise_handshake_free(c->hs);
	noise_cipher_free(c->tx);
	noise_cipher_free(c->rx);
	buf_free(&c->in);
	buf_free(&c->out);
	if (c->msg.p != NULL)
		sodium_memzero(c->msg.p, c->msg.cap);
	buf_free(&c->msg);
	sodium_free(c);
}

int
conn_feed(struct conn *c, const uint8_t *buf, size_t len)
{
	if (c->state == S_DEAD)
		return 0; /* nothing after a failure is looked at */
	return buf_put(&c->in, buf, len);
}

/* Starts the handshake for selector sel.  0 or -1. */
static int
start(struct conn *c, uint8_t sel)
{
	uint8_t prologue[NOISE_SUITE_PROLOGUE_LEN];
	uint8_t suite = sel & (uint8_t)~CONN_SEL_JOIN;
	int join = (sel & CONN_SEL_JOIN) != 0;

	if ((suite != NOISE_SUITE_AESGCM && suite != NOISE_SUITE_CHACHAPOLY) ||
	    !noise_suite_available(suite) || (join && !c->have_psk) ||
	    noise_suite_prologue(prologue, suite))
		return -1;
	c->hs =
	    noise_handshake_new(join ? NOISE_PATTERN_XXPSK3 : NOISE_PATTERN_XX, suite, c->initiator,
	                        prologue, sizeof(prologue), c->s_priv, NULL, join ? c->psk : NULL);
	sodium_memzero(c->s_priv, sizeof(c->s_priv));
	if (c->hs == NULL)
		return -1;
	c->join = join;
	c->selector = sel;
	c->state = S_HANDSHAKE;
	return 0;
}

/* The next complete frame in the input: 1 (with *p, *n), 0 if incomplete. */
static int
next_frame(struct conn *c, const uint8_t **p, size_t *n)
{
	size_t have = c->in.len - c->in.off, len;

	if (have < 2)
		return 0;
	len = get16(c->in.p + c->in.off);
	if (have < 2 + len)
		return 0;
	*p = c->in.p + c->in.off + 2;
	*n = len;
	c->in.off += 2 + len;
	return 1;
}

/* Queues a frame holding n bytes produced by fill() into out. */
static int
put_frame_hdr(struct conn *c, size_t n)
{
	uint8_t h[2];

	be16(h, (uint16_t)n);

	return buf_put(&c->out, h, 2);
}

static int
die(struct conn *c)
{
	c->state = S_DEAD;
	noise_handshake_free(c->hs);
	c->hs = NULL;
	return CONN_DEAD;
}

static int
handshake_step(struct conn *c)
{
	uint8_t tmp[CONN_FRAME_MAX];
	const uint8_t *p;
	size_t n, m;

	switch (noise_handshake_action(c->hs)) {
	case NOISE_ACTION_WRITE:
		if (noise_handshake_write_message(c->hs, NULL, 0, tmp, sizeof(tmp), &n) ||
		    put_frame_hdr(c, n) || buf_put(&c->out, tmp, n))
			return die(c);
		return STEP;
	case NOISE_ACTION_READ:
		if (!next_frame(c, &p, &n))
			return CONN_AGAIN;
		if (noise_handshake_read_message(c->hs, p, n, tmp, sizeof(tmp), &m) || m != 0)
			return die(c);
		return STEP;
	case NOISE_ACTION_SPLIT:
		if (noise_handshake_remote_static(c->hs, c->rs) ||
		    noise_handshake_split(c->hs, &c->tx, &c->rx))
			return die(c);
		noise_handshake_free(c->hs);
		c->hs = NULL;
		c->state = S_OPEN;
		return CONN_READY;
	default:
		return die(c);
	}
}

int
conn_poll(struct conn *c, const uint8_t **msg, size_t *len)
{
	const uint8_t *p;
	size_t n;
	int rc;

	*msg = NULL;
	*len = 0;
	if (c->msg_done) {
		c->msg.off = c->msg.len = 0;
		c->msg_done = 0;
	}
	for (;;) {
		switch (c->state) {
		case S_SELECTOR:
			if (c->initiator) {
				uint8_t sel = noise_suite_available(NOISE_SUITE_AESGCM)
				                  ? NOISE_SUITE_AESGCM
				                  : NOISE_SUITE_CHACHAPOLY;

				if (c->have_psk)
					sel |= CONN_SEL_JOIN;
				if (buf_put(&c->out, &sel, 1) || start(c, sel))
					return die(c);
				break;
			}
			if (c->in.len - c->in.off < 1)
				return CONN_AGAIN;
			if (start(c, c->in.p[c->in.off++]))
				return die(c);
			break;
		case S_HANDSHAKE:
			if ((rc = handshake_step(c)) != STEP)
				return rc;
			break;
		case S_OPEN:
			if (!next_frame(c, &p, &n))
				return CONN_AGAIN;
			if (n < NOISE_TAG_LEN + 1 ||
			    noise_cipher_decrypt(c->rx, c->frame, p, n, NULL, 0))
				return die(c);
			if (++c->rxframes % CONN_REKEY_FRAMES == 0 && noise_cipher_rekey(c->rx))
				return die(c);
			n -= NOISE_TAG_LEN;
			if (c->frame[0] > 1 || c->msg.len + n - 1 > MSG_MAX ||
			    buf_put(&c->msg, c->frame + 1, n - 1))
				return die(c);
			if (c->frame[0] == 0) {
				c->msg_done = 1;
				*msg = c->msg.p;
				*len = c->msg.len;
				return CONN_MSG;
			}
			break;
		default:
			return CONN_DEAD;
		}
	}
}

int
conn_send(struct conn *c, const uint8_t *msg, size_t len)
{
	uint8_t ct[CONN_FRAME_MAX];
	size_t n;

	if (c->state != S_OPEN) {
		errno = EINVAL;
		return -1;
	}
	if (len > MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	do {
		n = len < FRAG_MAX ? len : FRAG_MAX;
		c->frame[0] = len > n;
		memcpy(c->frame + 1, msg, n);
		if (noise_cipher_encrypt(c->tx, ct, c->frame, n + 1, NULL, 0) ||
		    put_frame_hdr(c, n + 1 + NOISE_TAG_LEN) ||
		    buf_put(&c->out, ct, n + 1 + NOISE_TAG_LEN))
			goto dead;
		if (++c->txframes % CONN_REKEY_FRAMES == 0 && noise_cipher_rekey(c->tx))
			goto dead;
		msg += n;
		len -= n;
	} while (len > 0);
	return 0;
dead:
	/* A half-written message cannot be taken back: the stream is over. */
	die(c);
	return -1;
}

size_t
conn_out(const struct conn *c, const uint8_t **p)
{
	*p = c->out.p + c->out.off;
	return c->out.len - c->out.off;
}

void
conn_drain(struct conn *c, size_t n)
{
	c->out.off += n;
	if (c->out.off == c->out.len)
		c->out.off = c->out.len = 0;
}

void
conn_remote_key(const struct conn *c, uint8_t rs[32])
{
	memcpy(rs, c->rs, NOISE_KEY_LEN);
}

int
conn_is_join(const struct conn *c)
{
	return c->join;
}

int
conn_selector(const struct conn *c)
{
	return c->selector;
}
