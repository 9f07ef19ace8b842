/* sync: one peer's sync session, messages in, messages out; see sync.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <sodium.h>

#include "core/change.h"
#include "core/journal.h"
#include "core/mode.h"
#include "net/msg.h"
#include "net/netlog.h"
#include "net/sync.h"

/*
 * At most this many CHANGES batches (64 KiB each) in flight to a protocol-3
 * peer: the receiver acknowledges what it applies, up to NET_HOLD_MSGS
 * batches in one commit.  Twice that keeps it busy: while it applies and
 * syncs one half, the other is on its way (with 4 a device catching up on
 * 100k records waited for data: 5.4 s; with 16, 2.7-3.9 s).  What is queued
 * behind a slow link stays bounded (1 MiB), so when the peer moves an origin
 * to another source (gossip.c) little of it was already on its way twice.
 */
#define SYNC_WINDOW 16
/* At most this many origins a peer claims that are not members here yet. */
#define SYNC_UNKNOWN_MAX 64

struct sync {
	const struct sync_config *cfg;
	sync_send_fn *send;
	void *ctx;
	uint64_t remote; /* the device id the handshake proved */
	int session;     /* the peer's HELLO arrived */
	uint64_t device; /* from HELLO */
	char name[MSG_NAME_MAX + 1];
	char addr[80];
	struct vv sent;  /* what the peer has, or was sent */
	struct vv acked; /* what the peer is known to have: HELLO, ACKs, its CHANGES */
	uint64_t changes_out, changes_in;
	uint64_t bytes_in; /* sealed bytes of the changes received */
	int skew_known;
	int64_t skew_ms;   /* the peer's wall clock less ours, at its HELLO */
	int blind;         /* the peer is a blind relay (sync_set_blind) */
	struct vv skipped; /* blind: origins whose change was refused, and its seq */
	uint16_t protocol; /* the peer's, from HELLO */
	/* Protocol >= 3: the origins the peer pulls from us (its last WANT;
	 * none before it), what we last asked of it, what we last told it. */
	struct vv want, wanted, announced;
	int want_known, want_sent;
	/* Protocol >= 3: batches sent and not yet acknowledged, oldest first,
	 * each by its last change (acknowledged once the peer has that). */
	struct {
		uint64_t origin, seq;
	} fly[SYNC_WINDOW];
	size_t nfly;
	/* Origins our WANTs dropped, still possibly in flight: until the PONG
	 * of the PING sent after that WANT (a connection is in order). */
	struct vv dropped;
	/* What the peer said it has of origins that were not members here
	 * then (a member this device learns of later, from another origin's
	 * change): taken in by sync_adopt once they are, so an idle peer that
	 * holds them is still pulled from.  Bounded: made-up origins stay out. */
	struct vv unknown;
	uint64_t pings, pongs, drain_ping;
};

static int vv_copy_into(struct vv *dst, const struct vv *v);

struct sync *
sync_new(const struct sync_config *cfg, uint64_t remote, const char *addr, sync_send_fn *send,
         void *ctx)
{
	struct sync *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cfg = cfg;
	s->remote = remote;
	s->send = send;
	s->ctx = ctx;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	return s;
}

void
sync_free(struct sync *s)
{
	if (s == NULL)
		return;
	vv_clear(&s->sent);
	vv_clear(&s->acked);
	vv_clear(&s->skipped);
	vv_clear(&s->want);
	vv_clear(&s->wanted);
	vv_clear(&s->announced);
	vv_clear(&s->dropped);
	vv_clear(&s->unknown);
	free(s);
}

void
sync_set_blind(struct sync *s)
{
	s->blind = 1;
}

/* Sends m (malloc'd) and frees it. */
static int
send_free(const struct sync *s, uint8_t *m, size_t len)
{
	int rc = s->send(s->ctx, m, len);

	free(m);
	return rc;
}

int
sync_start(struct sync *s)
{
	struct msg_hello h;
	uint8_t *m;
	size_t len;
	int rc;

	memset(&h, 0, sizeof(h));
	h.protocol = MSG_PROTOCOL;
	memcpy(h.dbid, s->cfg->dbid, 32);
	h.device = s->cfg->self;
	snprintf(h.name, sizeof(h.name), "%s", s->cfg->name);
	h.wall_ms = s->cfg->wall ? s->cfg->wall() : 0;
	if (journal_vv(s->cfg->j, &h.vv))
		return -1;
	rc = msg_hello_encode(&h, &m, &len);
	/* What the peer was told: announcements say only what is newer. */
	if (rc == 0 && vv_copy_into(&s->announced, &h.vv))
		rc = -1;
	vv_clear(&h.vv);
	if (rc)
		return -1;
	return send_free(s, m, len);
}

static int
send_ack(struct sync *s)
{
	struct vv v = {0, NULL};
	uint8_t *m;
	size_t len;
	int rc;

	if (journal_vv(s->cfg->j, &v))
		return -1;
	rc = msg_ack_encode(&v, &m, &len);
	vv_clear(&v);
	return rc ? -1 : send_free(s, m, len);
}

static int known_origin(const struct sync *s, uint64_t origin);

/* 1 if origin is in v (whatever its seq, 0 too). */
static int
vv_has(const struct vv *v, uint64_t origin)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->e[mid].origin < origin)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && v->e[lo].origin == origin;
}

/*
 * Keeps in v (a peer's HELLO, ACK or WANT vector) only the origins this
 * journal has or knows as members: a peer's made-up origins must not grow
 * what the session keeps and scans.  (What a peer has of a member whose
 * changes we lack yet is what we pull from it: net/gossip.c.)  The others
 * are noted in s->unknown while it has room (sync_adopt).  0 or -1.
 */
static int
known_only(struct sync *s, struct vv *v)
{
	struct vv mine = {0, NULL};
	size_t i, k = 0;

	if (journal_vv(s->cfg->j, &mine))
		return -1;
	for (i = 0; i < v->n; i++) {
		const struct vv_entry *e = &v->e[i];

		if (vv_get(&mine, e->origin) > 0 || known_origin(s, e->origin))
			v->e[k++] = *e;
		else if (vv_get(&s->unknown, e->origin) < e->seq &&
		         (vv_get(&s->unknown, e->origin) > 0 || s->unknown.n < SYNC_UNKNOWN_MAX) &&
		         vv_set(&s->unknown, e->origin, e->seq)) {
			vv_clear(&mine);
			return -1;
		}
	}
	v->n = k;
	vv_clear(&mine);
	return 0;
}

int
sync_adopt(struct sync *s)
{
	struct vv now = {0, NULL};
	size_t i, k = 0;
	int rc = 0;

	for (i = 0; i < s->unknown.n; i++) {
		const struct vv_entry *e = &s->unknown.e[i];

		if (!known_origin(s, e->origin))
			s->unknown.e[k++] = *e;
		else if (vv_set(&now, e->origin, e->seq))
			rc = -1;
	}
	s->unknown.n = k;
	if (rc == 0 && now.n > 0)
		rc = vv_merge(&s->sent, &now) || vv_merge(&s->acked, &now) ? -1 : 0;
	vv_clear(&now);
	return rc;
}

/* 1 if origin is a member here (what a send-only device notes of others'
 * changes it does not apply stays bounded by the members). */
static int
known_origin(const struct sync *s, uint64_t origin)
{
	struct journal_member jm;

	return journal_member(s->cfg->j, origin, &jm) == 0;
}

static int
on_hello(struct sync *s, const uint8_t *m, size_t len)
{
	struct msg_hello h;

	if (msg_hello_decode(m, len, &h))
		return -1;
	/* The device id must be the one the Noise handshake proved: a member
	 * cannot pass for another (and have a duplicate check drop the real one). */
	if (h.protocol < MSG_PROTOCOL_MIN || h.protocol > MSG_PROTOCOL ||
	    sodium_memcmp(h.dbid, s->cfg->dbid, 32) != 0 || h.device == s->cfg->self ||
	    h.device != s->remote || (s->device != 0 && h.device != s->device)) {
		vv_clear(&h.vv);
		errno = EPROTO;
		return -1;
	}
	/* A HELLO on a running session restarts streaming from its vv. */
	if (known_only(s, &h.vv) || vv_merge(&s->acked, &h.vv)) {
		vv_clear(&h.vv);
		return -1;
	}
	vv_clear(&s->sent);
	s->sent = h.vv;
	s->nfly = 0; /* streaming restarts from its vector */
	/* Peer text: only its cleaned form is kept, for logs and status. */
	netlog_clean(s->name, sizeof(s->name), h.name, sizeof(h.name));
	/* Every HELLO (a restart too) measures the peer's clock afresh. */
	if (h.wall_ms != 0 && s->cfg->wall != NULL) {
		s->skew_ms = (int64_t)h.wall_ms - (int64_t)s->cfg->wall();
		s->skew_known = 1;
	}
	s->protocol = h.protocol;
	if (s->session)
		return 0;
	s->device = h.device;
	s->session = 1;
	return SYNC_SESSION;
}

/* The log budget of a refusal's cause (enum journal_result). */
static enum netlog_kind
refusal_kind(int result)
{
	switch (result) {
	case JOURNAL_NOT_MEMBER:
		return NETLOG_NOT_MEMBER;
	case JOURNAL_OWN_ORIGIN:
		return NETLOG_OWN_ORIGIN;
	case JOURNAL_NO_AUTHORITY:
		return NETLOG_NO_AUTHORITY;
	default:
		return NETLOG_CHANGE;
	}
}

/* A send-only device notes a batch as what the peer has, not applied (it is
 * acknowledged with what this device really has). */
static int
note_ignored(struct sync *s, const uint8_t *m, size_t len)
{
	const uint8_t *blob;
	size_t off = 0, blen;
	uint64_t origin, seq;

	while (msg_changes_next(m, len, &off, &blob, &blen) == 1)
		if (change_peek(blob, blen, &origin, &seq) == 0 && origin != s->cfg->self &&
		    vv_get(&s->acked, origin) < seq && known_origin(s, origin) &&
		    vv_set(&s->acked, origin, seq))
			return -1;
	return 0;
}

/* Applies the changes of nmsgs CHANGES messages in one transaction. */
int
sync_recv_changes(struct sync *s, const uint8_t *const *ms, const size_t *mlens, size_t nmsgs)
{
	const uint8_t *blob, **blobs = NULL;
	size_t off, blen, *lens = NULL, count = 0, k, i;
	uint64_t origin = 0, seq = 0;
	int *results = NULL, rc = -1, gap = 0, applied = 0;

	for (k = 0; k < nmsgs; k++) {
		if (!s->session || msg_changes_check(ms[k], mlens[k]) < 0)
			return -1;
		for (off = 0; msg_changes_next(ms[k], mlens[k], &off, &blob, &blen) == 1;)
			count++;
	}
	if (count == 0)
		return send_ack(s);
	/* Send-only: others' changes are not applied here.  The peer has
	 * them (status counts them as ignored) and was told what we have. */
	if (s->cfg->mode == MODE_SEND_ONLY) {
		for (k = 0; k < nmsgs; k++)
			if (note_ignored(s, ms[k], mlens[k]))
				return -1;
		s->changes_in += count;
		return send_ack(s);
	}
	blobs = malloc(count * sizeof(*blobs));
	lens = malloc(count * sizeof(*lens));
	results = malloc(count * sizeof(*results));
	if (blobs == NULL || lens == NULL || results == NULL)
		goto out;
	for (k = 0, i = 0; k < nmsgs; k++)
		for (off = 0; msg_changes_next(ms[k], mlens[k], &off, &blob, &blen) == 1; i++) {
			blobs[i] = blob;
			lens[i] = blen;
		}
	if (journal_apply_batch(s->cfg->j, blobs, lens, count, results)) {
		netlog(NETLOG_CHANGE, LOG_INFO, "peer %s %s: applying changes failed: %s", s->addr,
		       s->name, strerror(errno));
		goto out;
	}
	for (i = 0; i < count; i++) {
		char dev[DEVID_LEN + 1];

		if (change_peek(blobs[i], lens[i], &origin, &seq))
			origin = seq = 0; /* refused */
		change_devid(origin, dev);
		if (results[i] < 0) {
			netlog(refusal_kind(results[i]), LOG_WARNING,
			       "peer %s %s: change %s/%llu refused: %s", s->addr, s->name, dev,
			       (unsigned long long)seq, journal_refusal(results[i]));
			/* A relay cannot read what it forwards: the refusal is the
			 * origin's doing.  That origin waits, the session goes on. */
			if (!s->blind || origin == 0 ||
			    (vv_get(&s->skipped, origin) == 0 && vv_set(&s->skipped, origin, seq)))
				goto out;
			continue;
		}
		/* What follows a refused change of a relay's does not follow. */
		if (results[i] == JOURNAL_GAP && vv_get(&s->skipped, origin) != 0)
			continue;
		if (results[i] == JOURNAL_EQUIVOCATION)
			syslog(LOG_WARNING,
			       "device %s signed two different changes %s/%llu: both kept "
			       "as evidence, the device is flagged (blazefs devices)",
			       dev, dev, (unsigned long long)seq);
		if (results[i] == JOURNAL_GAP) {
			gap = 1;
			continue;
		}
		if (results[i] == JOURNAL_APPLIED)
			applied = SYNC_APPLIED;
		s->changes_in++;
		s->bytes_in += lens[i];
		/* The sender has it: never send it back. */
		if ((vv_get(&s->sent, origin) < seq && vv_set(&s->sent, origin, seq)) ||
		    (vv_get(&s->acked, origin) < seq && vv_set(&s->acked, origin, seq)))
			goto out;
	}
	/* A gap: tell the sender where we really are (it restarts from there). */
	rc = gap ? sync_start(s) : send_ack(s);
out:
	free(blobs);
	free(lens);
	free(results);
	return rc ? -1 : applied;
}

static int
on_ack(struct sync *s, const uint8_t *m, size_t len)
{
	struct vv v;
	int rc;

	if (!s->session || msg_ack_decode(m, len, &v))
		return -1;
	rc = known_only(s, &v) || vv_merge(&s->sent, &v) || vv_merge(&s->acked, &v) ? -1 : 0;
	vv_clear(&v);
	return rc;
}

/* The origins the peer pulls from us from now on (what it has of each is
 * what it has: merged like an ACK). */
static int
on_want(struct sync *s, const uint8_t *m, size_t len)
{
	struct vv v, known = {0, NULL};
	int rc;

	if (!s->session || s->protocol < 3 || msg_want_decode(m, len, &v))
		return -1;
	/* The set is kept whole (a message holds at most MSG_MAX / 16 origins,
	 * looked up by binary search): it may name origins we learn of later,
	 * ours too before we know we are a member.  Only known origins count
	 * as what the peer has. */
	rc = vv_copy_into(&known, &v) || known_only(s, &known) || vv_merge(&s->sent, &known) ||
	     vv_merge(&s->acked, &known);
	vv_clear(&known);
	if (rc) {
		vv_clear(&v);
		return -1;
	}
	vv_clear(&s->want);
	s->want = v;
	s->want_known = 1;
	return 0;
}

int
sync_recv(struct sync *s, const uint8_t *m, size_t len)
{
	uint8_t *r;
	size_t rlen;

	switch (msg_type(m, len)) {
	case MSG_HELLO:
		return on_hello(s, m, len);
	case MSG_CHANGES:
		return sync_recv_changes(s, &m, &len, 1);
	case MSG_ACK:
		return on_ack(s, m, len);
	case MSG_WANT:
		return on_want(s, m, len);
	case MSG_PING:
		return msg_empty_encode(MSG_PONG, &r, &rlen) ? -1 : send_free(s, r, rlen);
	case MSG_PONG:
		s->pongs++;
		return 0;
	default:
		errno = EBADMSG;
		return -1;
	}
}

struct batch {
	struct msg_buf b;
	struct vv *sent;
	long n;
	uint64_t last_origin, last_seq;
};

static int
batch_cb(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct batch *bt = ctx;

	if (msg_changes_add(&bt->b, blob, len) || vv_set(bt->sent, origin, seq))
		return -1;
	bt->n++;
	bt->last_origin = origin;
	bt->last_seq = seq;
	return 0;
}

/* Which origins go to the peer: a receive-only device sends nothing of its
 * own. */
static int
pump_wants(void *ctx, uint64_t origin)
{
	const struct sync *s = ctx;

	if (s->cfg->mode == MODE_RECEIVE_ONLY && origin == s->cfg->self)
		return 0;
	/* A protocol-3 peer pulls each origin from one source: only those it
	 * asked us for (nothing before its first WANT).  Older peers get all. */
	return !s->cfg->gossip || s->protocol < 3 || (s->want_known && vv_has(&s->want, origin));
}

int
sync_pump(struct sync *s)
{
	struct batch bt;
	long got;
	int rc;

	if (!s->session)
		return 0;
	if (s->protocol >= 3) {
		size_t k = 0;

		while (k < s->nfly && vv_get(&s->acked, s->fly[k].origin) >= s->fly[k].seq)
			k++;
		memmove(s->fly, s->fly + k, (s->nfly - k) * sizeof(s->fly[0]));
		s->nfly -= k;
		if (s->nfly == SYNC_WINDOW)
			return 0; /* the window is full: its ACKs pump again */
	}
	if (msg_changes_init(&bt.b))
		return -1;
	bt.sent = &s->sent;
	bt.n = 0;
	got = journal_missing_from(s->cfg->j, &s->sent, pump_wants, s, MSG_BATCH_BYTES, batch_cb,
	                           &bt);
	if (got <= 0 || bt.n == 0) {
		free(bt.b.p);
		return got < 0 ? -1 : 0;
	}
	s->changes_out += (uint64_t)bt.n;
	if (s->protocol >= 3) {
		s->fly[s->nfly].origin = bt.last_origin;
		s->fly[s->nfly].seq = bt.last_seq;
		s->nfly++;
	}
	rc = s->send(s->ctx, bt.b.p, bt.b.len);
	free(bt.b.p);
	return rc ? -1 : 1;
}

/* 1 if v and w hold the same origins with the same seqs. */
static int
vv_same(const struct vv *v, const struct vv *w)
{
	if (v->n != w->n)
		return 0;
	for (size_t i = 0; i < v->n; i++)
		if (v->e[i].origin != w->e[i].origin || v->e[i].seq != w->e[i].seq)
			return 0;
	return 1;
}

/* A copy of v into *dst (freed first).  0 or -1. */
static int
vv_copy_into(struct vv *dst, const struct vv *v)
{
	struct vv c = {0, NULL};

	if (v->n > 0) {
		if ((c.e = malloc(v->n * sizeof(*c.e))) == NULL)
			return -1;
		memcpy(c.e, v->e, v->n * sizeof(*c.e));
		c.n = v->n;
	}
	vv_clear(dst);
	*dst = c;
	return 0;
}

int
sync_want(struct sync *s, const struct vv *origins)
{
	uint8_t *m;
	size_t len;
	int dropping = 0;

	/* The first WANT goes even if empty (a send-only device pulls
	 * nothing): it tells the peer that we route, and want announcements. */
	if (!s->session || s->protocol < 3 || (s->want_sent && vv_same(&s->wanted, origins)))
		return 0;
	s->want_sent = 1;
	if (!sync_draining(s))
		vv_clear(&s->dropped);
	for (size_t i = 0; i < s->wanted.n; i++)
		if (!vv_has(origins, s->wanted.e[i].origin)) {
			if (vv_set(&s->dropped, s->wanted.e[i].origin, 0))
				return -1;
			dropping = 1;
		}
	if (vv_copy_into(&s->wanted, origins) || msg_want_encode(origins, &m, &len) ||
	    send_free(s, m, len))
		return -1;
	/* What it sent of the dropped origins before reading this WANT comes
	 * before the PONG to this PING. */
	if (dropping) {
		s->drain_ping = s->pings + 1;
		return sync_ping(s);
	}
	return 0;
}

int
sync_draining(const struct sync *s)
{
	return s->pongs < s->drain_ping;
}

int
sync_dropped(const struct sync *s, uint64_t origin)
{
	return sync_draining(s) && vv_has(&s->dropped, origin);
}

int
sync_announce(struct sync *s, const struct vv *mine)
{
	uint8_t *m;
	size_t len;

	/* Only to a peer that routes (it sent a WANT): others learn what we
	 * have from the ACKs to what they send, as before. */
	if (!s->session || s->protocol < 3 || !s->want_known || vv_same(&s->announced, mine))
		return 0;
	if (vv_copy_into(&s->announced, mine) || msg_ack_encode(mine, &m, &len))
		return -1;
	return send_free(s, m, len);
}

int
sync_pulls(const struct sync *s, uint64_t origin)
{
	return vv_has(&s->wanted, origin);
}

uint16_t
sync_protocol(const struct sync *s)
{
	return s->protocol;
}

int
sync_ping(struct sync *s)
{
	uint8_t *m;
	size_t len;

	s->pings++;
	return msg_empty_encode(MSG_PING, &m, &len) ? -1 : send_free(s, m, len);
}

int
sync_in_session(const struct sync *s)
{
	return s->session;
}

uint64_t
sync_device(const struct sync *s)
{
	return s->device;
}

const char *
sync_name(const struct sync *s)
{
	return s->name;
}

const struct vv *
sync_acked(const struct sync *s)
{
	return &s->acked;
}

uint64_t
sync_changes_out(const struct sync *s)
{
	return s->changes_out;
}

uint64_t
sync_changes_in(const struct sync *s)
{
	return s->changes_in;
}

uint64_t
sync_bytes_in(const struct sync *s)
{
	return s->bytes_in;
}

int
sync_skew(const struct sync *s, int64_t *ms)
{
	*ms = s->skew_known ? s->skew_ms : 0;
	return s->skew_known;
}
