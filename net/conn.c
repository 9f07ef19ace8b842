/* conn: framing and the Noise session of one peer connection; see conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/bytes.h"
#include "net/conn.h"
#include "net/cpace.h"
#include "net/msg.h"
#include "net/noise.h"

#define FRAG_MAX (CONN_FRAME_MAX - NOISE_TAG_LEN - 1)
#define STEP 100 /* handshake_step: go on */

enum { S_SELECTOR, S_CHOICE, S_JOIN, S_PAKE, S_REFUSED, S_HANDSHAKE, S_OPEN, S_DEAD };

#define PAKE_FRAME (1 + CPACE_POINT) /* slot or status, then a share */
static const uint8_t pake_ci[] = "blazefs/join";

struct buf {
	uint8_t *p;
	size_t off, len, cap; /* bytes [off, len) are live */
};

struct conn {
	int initiator, state, join, selector, have_psk, have_net, stranger;
	uint8_t caps;   /* CONN_CAP_* this device can do */
	uint8_t offer;  /* the initiator's offer byte, once sent or received */
	uint8_t choice; /* the responder's choice byte (enum noise_suite) */
	uint8_t s_priv[NOISE_KEY_LEN], psk[NOISE_KEY_LEN], net[NOISE_KEY_LEN];
	uint8_t rs[NOISE_KEY_LEN];
	/* A join by short code (CPace first): the password, this side's
	 * secret scalar, both shares (Ya the initiator's), the invite slot. */
	int pake, pake_cfg, pake_status, pake_wrong, answered;
	uint8_t prs[CONN_PRS_MAX], y[CPACE_SCALAR], ya[CPACE_POINT], yb[CPACE_POINT], slot;
	size_t prslen;
	struct noise_handshake *hs;
	struct noise_cipher *tx, *rx;
	uint64_t txframes, rxframes;
	int rxhs; /* handshake messages read */
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
	c->caps = conn_caps();
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

uint8_t
conn_caps(void)
{
	const char *no = getenv("BLAZEFS_NO_AESNI");
	uint8_t caps = CONN_CAP_CHACHAPOLY;

	/* The test knob makes this device act as an ARM board without AES-NI. */
	if (noise_suite_available(NOISE_SUITE_AESGCM) && (no == NULL || strcmp(no, "1") != 0))
		caps |= CONN_CAP_AESGCM;
	return caps;
}

int
conn_choose(uint8_t offer, uint8_t caps)
{
	if ((offer & ~(CONN_OFFER | CONN_SEL_JOIN | CONN_CAP_AESGCM | CONN_CAP_CHACHAPOLY)) ||
	    !(offer & CONN_OFFER))
		return -1;
	if ((offer & caps & CONN_CAP_AESGCM) != 0)
		return NOISE_SUITE_AESGCM;
	if ((offer & caps & CONN_CAP_CHACHAPOLY) != 0)
		return NOISE_SUITE_CHACHAPOLY;
	return -1;
}

int
conn_prologue(uint8_t prologue[CONN_PROLOGUE_LEN], uint8_t offer, uint8_t choice)
{
	memcpy(prologue, CONN_PROLOGUE_TAG, sizeof(CONN_PROLOGUE_TAG) - 1);
	prologue[CONN_PROLOGUE_LEN - 2] = offer;
	prologue[CONN_PROLOGUE_LEN - 1] = choice;
	return 0;
}

/*
 * Starts the handshake once both the offer and the choice are known (the
 * same two bytes on both sides, unless someone changed one in flight: then
 * the prologues differ and message 1 or 2 fails to authenticate).  0 or -1.
 */
static int
start(struct conn *c)
{
	uint8_t prologue[CONN_PROLOGUE_LEN + 1 + 2 * CPACE_POINT];
	size_t plen = CONN_PROLOGUE_LEN;
	int join = (c->offer & CONN_SEL_JOIN) != 0;
	enum noise_pattern pattern = NOISE_PATTERN_XX;
	const uint8_t *psk = NULL;

	/* The choice must be one the offer allowed and this device can run. */
	if ((c->choice != NOISE_SUITE_AESGCM && c->choice != NOISE_SUITE_CHACHAPOLY) ||
	    !(c->offer & c->caps &
	      (c->choice == NOISE_SUITE_AESGCM ? CONN_CAP_AESGCM : CONN_CAP_CHACHAPOLY)) ||
	    (join && !c->have_psk) || !noise_suite_available(c->choice))
		return -1;
	/* A join proves the invite secret, a member the network secret, both
	 * before the responder shows its static key (psk0). */
	if (join) {
		pattern = NOISE_PATTERN_XXPSK0;
		psk = c->psk;
	} else if (c->have_net) {
		pattern = NOISE_PATTERN_XXPSK0;
		psk = c->net;
	}
	conn_prologue(prologue, c->offer, c->choice);
	if (c->pake) {
		/* Both shares and the slot in the transcript too (they are in
		 * the ISK already): a share changed in flight fails message 1. */
		prologue[plen++] = c->slot;
		memcpy(prologue + plen, c->ya, CPACE_POINT);
		plen += CPACE_POINT;
		memcpy(prologue + plen, c->yb, CPACE_POINT);
		plen += CPACE_POINT;
	}
	c->hs = noise_handshake_new(pattern, c->choice, c->initiator, prologue, plen, c->s_priv,
	                            NULL, psk);
	sodium_memzero(c->s_priv, sizeof(c->s_priv));
	sodium_memzero(c->psk, sizeof(c->psk));
	sodium_memzero(c->net, sizeof(c->net));
	sodium_memzero(c->prs, sizeof(c->prs));
	sodium_memzero(c->y, sizeof(c->y));
	if (c->hs == NULL)
		return -1;
	c->join = join;
	c->selector = c->choice | (join ? CONN_SEL_JOIN : 0);
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
		if (noise_handshake_read_message(c->hs, p, n, tmp, sizeof(tmp), &m) || m != 0) {
			/* A responder failing message 1 of psk0: the dialler does not
			 * know the secret, and has learnt nothing about us. */
			c->stranger = !c->initiator && !c->join && c->have_net && c->rxhs == 0;
			/* After CPace, message 1 failing means the other side's code
			 * differed: a guess, which burns the invite. */
			c->pake_wrong = !c->initiator && c->pake && c->rxhs == 0;
			return die(c);
		}
		c->rxhs++;
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

/* This side's generator and share; the initiator sends slot | Ya. */
static int
pake_share(struct conn *c, uint8_t Y[CPACE_POINT])
{
	uint8_t g[CPACE_POINT];
	int rc;

	rc = cpace_generator(g, c->prs, c->prslen, pake_ci, sizeof(pake_ci) - 1, NULL, 0) ||
	     cpace_share(c->y, Y, g);
	sodium_memzero(g, sizeof(g));
	return rc ? -1 : 0;
}

static int
pake_send(struct conn *c)
{
	uint8_t f[PAKE_FRAME];

	if (pake_share(c, c->ya))
		return -1;
	f[0] = c->slot;
	memcpy(f + 1, c->ya, CPACE_POINT);
	return put_frame_hdr(c, sizeof(f)) || buf_put(&c->out, f, sizeof(f)) ? -1 : 0;
}

/* The Noise psk from CPace: the ISK hashed down to a key (ISK = H(sid, K,
 * Ya, Yb): both shares are bound in it).  0, or -1 for a bad share. */
static int
pake_finish(struct conn *c, const uint8_t Yo[CPACE_POINT])
{
	uint8_t K[CPACE_POINT], isk[CPACE_ISK];
	static const uint8_t ctx[] = "blazefs/join-psk";

	if (cpace_key(K, c->y, Yo))
		return -1;
	cpace_isk_ir(isk, NULL, 0, K, c->ya, NULL, 0, c->yb, NULL, 0);
	crypto_generichash(c->psk, NOISE_KEY_LEN, isk, sizeof(isk), ctx, sizeof(ctx) - 1);
	c->have_psk = 1;
	sodium_memzero(K, sizeof(K));
	sodium_memzero(isk, sizeof(isk));
	return 0;
}

/* The other side's pre-handshake frame p (PAKE_FRAME bytes).  0 or -1. */
static int
pake_step(struct conn *c, const uint8_t *p)
{
	uint8_t f[PAKE_FRAME] = {0};
	int st;

	if (c->initiator) {
		/* The inviter's verdict on the slot, then its share. */
		c->pake_status = p[0];
		if (p[0] != CONN_PAKE_OK)
			return -1;
		memcpy(c->yb, p + 1, CPACE_POINT);
		if (pake_finish(c, c->yb))
			return -1;
		return start(c);
	}
	st = c->pake_cfg ? c->pake_status : CONN_PAKE_NONE;
	if (st == CONN_PAKE_OK && p[0] != c->slot)
		st = CONN_PAKE_REPLACED; /* a code for an older (or other) invite */
	if (st != CONN_PAKE_OK) {
		f[0] = (uint8_t)st;
		c->state = S_REFUSED;
		return put_frame_hdr(c, sizeof(f)) || buf_put(&c->out, f, sizeof(f)) ? -1 : 0;
	}
	memcpy(c->ya, p + 1, CPACE_POINT);
	if (pake_share(c, c->yb) || pake_finish(c, c->ya))
		return -1;
	f[0] = CONN_PAKE_OK;
	memcpy(f + 1, c->yb, CPACE_POINT);
	if (put_frame_hdr(c, sizeof(f)) || buf_put(&c->out, f, sizeof(f)))
		return -1;
	return start(c);
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
				/* Offer what this CPU can do; the responder picks. */
				c->offer = CONN_OFFER | c->caps |
				           (c->have_psk || c->pake ? CONN_SEL_JOIN : 0);
				if (buf_put(&c->out, &c->offer, 1) || (c->pake && pake_send(c)))
					return die(c);
				c->state = S_CHOICE;
				break;
			}
			if (c->in.len - c->in.off < 1)
				return CONN_AGAIN;
			c->offer = c->in.p[c->in.off++];
			if ((rc = conn_choose(c->offer, c->caps)) < 0)
				return die(c);
			c->choice = (uint8_t)rc;
			if (buf_put(&c->out, &c->choice, 1))
				return die(c);
			/* A join waits for its first frame: CPace or Noise. */
			if (c->offer & CONN_SEL_JOIN)
				c->state = S_JOIN;
			else if (start(c))
				return die(c);
			break;
		case S_JOIN:
			/* CPace runs only if the dialler asked for it: its share
			 * frame is PAKE_FRAME bytes, Noise message 1 of XXpsk0 is
			 * 48 (e, then the empty payload's tag).  Not consumed. */
			if (c->in.len - c->in.off < 2)
				return CONN_AGAIN;
			c->pake = get16(c->in.p + c->in.off) == PAKE_FRAME;
			if (c->pake)
				c->state = S_PAKE;
			else if (start(c))
				return die(c);
			break;
		case S_CHOICE:
			if (c->in.len - c->in.off < 1)
				return CONN_AGAIN;
			c->choice = c->in.p[c->in.off++];
			/* A blazefs answered (not some other service's first byte). */
			c->answered =
			    c->choice == NOISE_SUITE_AESGCM || c->choice == NOISE_SUITE_CHACHAPOLY;
			if (c->pake)
				c->state = S_PAKE;
			else if (start(c))
				return die(c);
			break;
		case S_PAKE:
			if (!next_frame(c, &p, &n))
				return CONN_AGAIN;
			if (n != PAKE_FRAME || pake_step(c, p))
				return die(c);
			break;
		case S_REFUSED:
			/* Said why; the dialler hangs up (or the idle timer does). */
			c->in.off = c->in.len;
			return CONN_AGAIN;
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

int
conn_suite(const struct conn *c)
{
	return c->state >= S_HANDSHAKE ? c->choice : 0;
}

const char *
conn_suite_name(int suite)
{
	return suite == NOISE_SUITE_AESGCM       ? "AESGCM"
	       : suite == NOISE_SUITE_CHACHAPOLY ? "ChaChaPoly"
	                                         : "";
}

int
conn_set_network(struct conn *c, const uint8_t psk[32])
{
	if (c->state != S_SELECTOR) {
		errno = EINVAL;
		return -1;
	}
	memcpy(c->net, psk, NOISE_KEY_LEN);
	c->have_net = 1;
	return 0;
}

int
conn_stranger(const struct conn *c)
{
	return c->stranger;
}

int
conn_set_pake(struct conn *c, int status, uint8_t slot, const uint8_t *prs, size_t prslen)
{
	if (c->state != S_SELECTOR || prslen > CONN_PRS_MAX || (c->initiator && c->have_psk)) {
		errno = EINVAL;
		return -1;
	}
	c->pake = c->initiator;
	c->pake_cfg = 1;
	c->pake_status = status;
	c->slot = slot;
	if (status == CONN_PAKE_OK && prslen)
		memcpy(c->prs, prs, prslen);
	c->prslen = prslen;
	return 0;
}

int
conn_pake_status(const struct conn *c)
{
	if (!c->answered)
		return -1;
	return c->pake_status;
}

int
conn_pake_wrong(const struct conn *c)
{
	return c->pake_wrong;
}
