/* net: the network thread; see net.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <jansson.h>
#include <sodium.h>

#include "core/change.h"
#include "core/journal.h"
#include "net/conn.h"
#include "net/identity.h"
#include "net/mdns.h"
#include "net/msg.h"
#include "net/net.h"
#include "net/seal.h"

#define TICK_MS 100
#define HANDSHAKE_MS 10000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000

enum pstate { P_CONNECTING, P_HANDSHAKE, P_OPEN, P_SYNC };

struct peer {
	int fd;
	struct conn *c;
	enum pstate state;
	int dialled; /* we dialled it */
	int target;  /* index of the static peer dialled, or -1 */
	int closing; /* close once the output is written */
	int hello_sent, want_out;
	uint64_t device; /* from HELLO */
	char name[MSG_NAME_MAX + 1];
	char addr[80];
	struct vv sent;  /* what the peer has, or was sent */
	struct vv acked; /* what the peer is known to have: HELLO, ACKs, its CHANGES */
	uint64_t since, last_rx, last_tx;
	uint64_t changes_out, changes_in;
};

struct target {
	char host[256], port[16];
	struct peer *p;   /* the live connection dialled for it */
	uint64_t device;  /* learned from HELLO; 0 until then */
	uint64_t next;    /* ms: next dial */
	uint64_t backoff; /* ms */
	int mdns;         /* a slot for a service mDNS found (not a --peer) */
	int unused;       /* an mDNS slot nothing fills now: not dialled */
};

struct net {
	struct journal *j;
	char db[PATH_MAX];
	uint64_t self;
	uint8_t dbid[32];
	char name[MSG_NAME_MAX + 1];
	uint8_t *priv; /* sodium_malloc'd static secret key */
	struct seal *seal;
	int ep, evfd, lfd;
	char listen[300];
	pthread_t thread;
	int stop;
	struct peer *peers[NET_MAX_PEERS];
	struct target *targets;
	size_t ntargets; /* the --peer ones, then MDNS_MAX slots for mDNS */
	size_t nstatic;
	struct mdns *mdns; /* NULL: --no-mdns */
	uint64_t last_status;
	int status_dirty; /* a peer came or went: rewrite peers.json at the next tick */
};

static void
net_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(LOG_INFO, fmt, ap);
	va_end(ap);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
net_join_psk(uint8_t psk[32], const uint8_t secret[32])
{
	static const uint8_t ctx[] = "blazefs/join";

	crypto_generichash(psk, 32, secret, 32, ctx, sizeof(ctx) - 1);
}

int
net_parse_listen(const char *arg, char **addr, int *port)
{
	const char *colon = strrchr(arg, ':'), *p = colon ? colon + 1 : arg;
	char *end;
	long n;

	*addr = NULL;
	n = strtol(p, &end, 10);
	if (*p == '\0' || *end != '\0' || n < 1 || n > 65535) {
		errno = EINVAL;
		return -1;
	}
	if (colon != NULL && colon != arg && (*addr = strndup(arg, (size_t)(colon - arg))) == NULL)
		return -1;
	*port = (int)n;
	return 0;
}

/* ---- peers ---- */

static void
ep_update(struct net *n, struct peer *p)
{
	const uint8_t *b;
	struct epoll_event ev = {0};
	int want = conn_out(p->c, &b) > 0 || p->state == P_CONNECTING;

	if (want == p->want_out)
		return;
	p->want_out = want;
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = p;
	epoll_ctl(n->ep, EPOLL_CTL_MOD, p->fd, &ev);
}

static struct peer *
peer_add(struct net *n, int fd, int dialled, int target, const char *addr)
{
	struct epoll_event ev = {0};
	struct peer *p;
	size_t i;

	for (i = 0; i < NET_MAX_PEERS && n->peers[i] != NULL; i++)
		;
	if (i == NET_MAX_PEERS || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->c = conn_new(dialled, n->priv, NULL)) == NULL) {
		free(p);
		return NULL;
	}
	p->fd = fd;
	p->dialled = dialled;
	p->target = target;
	p->state = dialled ? P_CONNECTING : P_HANDSHAKE;
	p->since = p->last_rx = p->last_tx = now_ms();
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	ev.events = EPOLLIN | (dialled ? EPOLLOUT : 0);
	p->want_out = dialled;
	ev.data.ptr = p;
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev)) {
		conn_free(p->c);
		free(p);
		return NULL;
	}
	n->peers[i] = p;
	n->status_dirty = 1;
	return p;
}

static void
peer_close(struct net *n, struct peer *p, const char *why)
{
	struct target *t;

	for (size_t i = 0; i < NET_MAX_PEERS; i++)
		if (n->peers[i] == p)
			n->peers[i] = NULL;
	n->status_dirty = 1;
	if (p->target >= 0) {
		t = &n->targets[p->target];
		t->p = NULL;
		/* Backoff grows while connections fail; jitter spreads redials. */
		t->next = now_ms() + t->backoff + randombytes_uniform((uint32_t)t->backoff / 2 + 1);
		t->backoff = t->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff * 2;
	}
	if (why != NULL)
		net_log("peer %s%s%s: %s", p->addr, p->name[0] ? " " : "", p->name, why);
	epoll_ctl(n->ep, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	conn_free(p->c);
	vv_clear(&p->sent);
	vv_clear(&p->acked);
	free(p);
}

/* Writes what the conn has queued.  0, or -1 if the socket failed. */
static int
peer_flush(struct net *n, struct peer *p)
{
	const uint8_t *b;
	size_t len;
	ssize_t w;

	while ((len = conn_out(p->c, &b)) > 0) {
		if ((w = send(p->fd, b, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		conn_drain(p->c, (size_t)w);
		p->last_tx = now_ms();
	}
	ep_update(n, p);
	return 0;
}

static int
peer_send(struct peer *p, uint8_t *m, size_t len)
{
	int rc = conn_send(p->c, m, len);

	free(m);
	return rc;
}

static int
send_hello(struct net *n, struct peer *p)
{
	struct msg_hello h;
	uint8_t *m;
	size_t len;
	int rc;

	memset(&h, 0, sizeof(h));
	h.protocol = MSG_PROTOCOL;
	memcpy(h.dbid, n->dbid, 32);
	h.device = n->self;
	snprintf(h.name, sizeof(h.name), "%s", n->name);
	if (journal_vv(n->j, &h.vv))
		return -1;
	rc = msg_hello_encode(&h, &m, &len);
	vv_clear(&h.vv);
	if (rc)
		return -1;
	p->hello_sent = 1;
	return peer_send(p, m, len);
}

static int
send_ack(struct net *n, struct peer *p)
{
	struct vv v = {0, NULL};
	uint8_t *m;
	size_t len;
	int rc;

	if (journal_vv(n->j, &v))
		return -1;
	rc = msg_ack_encode(&v, &m, &len);
	vv_clear(&v);
	return rc ? -1 : peer_send(p, m, len);
}

struct batch {
	struct msg_buf b;
	struct vv *sent;
	long n;
};

static int
batch_cb(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct batch *bt = ctx;

	if (msg_changes_add(&bt->b, blob, len) || vv_set(bt->sent, origin, seq))
		return -1;
	bt->n++;
	return 0;
}

/* Streams what p lacks until its output reaches NET_OUT_MAX. */
static int
peer_pump(struct net *n, struct peer *p)
{
	const uint8_t *b;
	struct batch bt;
	long got;

	if (p->state != P_SYNC || p->closing)
		return 0;
	while (conn_out(p->c, &b) < NET_OUT_MAX) {
		if (msg_changes_init(&bt.b))
			return -1;
		bt.sent = &p->sent;
		bt.n = 0;
		got = journal_missing(n->j, &p->sent, MSG_BATCH_BYTES, batch_cb, &bt);
		if (got <= 0 || bt.n == 0) {
			free(bt.b.p);
			return got < 0 ? -1 : 0;
		}
		p->changes_out += (uint64_t)bt.n;
		if (conn_send(p->c, bt.b.p, bt.b.len)) {
			free(bt.b.p);
			return -1;
		}
		free(bt.b.p);
	}
	return 0;
}

static void
pump_all(struct net *n)
{
	for (size_t i = 0; i < NET_MAX_PEERS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL)
			continue;
		if (peer_pump(n, p) || peer_flush(n, p))
			peer_close(n, p, "send failed");
	}
}

/* Of two connections to one device, keeps the one the lower id dialled. */
static int
dedupe(struct net *n, struct peer *p)
{
	uint64_t keep_dialler = n->self < p->device ? n->self : p->device;
	uint64_t mine = p->dialled ? n->self : p->device;

	for (size_t i = 0; i < NET_MAX_PEERS; i++) {
		struct peer *q = n->peers[i];
		uint64_t theirs;

		if (q == NULL || q == p || q->state != P_SYNC || q->closing ||
		    q->device != p->device)
			continue;
		theirs = q->dialled ? n->self : q->device;
		if (mine == keep_dialler && theirs != keep_dialler) {
			peer_close(n, q, "duplicate connection closed");
			return 0;
		}
		return -1; /* p is the duplicate (or both the same way: keep the older) */
	}
	return 0;
}

static int
on_hello(struct net *n, struct peer *p, const uint8_t *m, size_t len)
{
	struct msg_hello h;
	uint8_t rs[32];

	if (msg_hello_decode(m, len, &h))
		return -1;
	/* The device id must be the one the Noise handshake proved: a member
	 * cannot pass for another (and have dedupe drop the real one). */
	conn_remote_key(p->c, rs);
	if (h.protocol != MSG_PROTOCOL || sodium_memcmp(h.dbid, n->dbid, 32) != 0 ||
	    h.device == n->self || h.device != identity_origin(rs) ||
	    (p->device != 0 && h.device != p->device)) {
		vv_clear(&h.vv);
		errno = EPROTO;
		return -1;
	}
	/* A HELLO on a running connection restarts streaming from its vv. */
	if (vv_merge(&p->acked, &h.vv)) {
		vv_clear(&h.vv);
		return -1;
	}
	vv_clear(&p->sent);
	p->sent = h.vv;
	snprintf(p->name, sizeof(p->name), "%s", h.name);
	if (p->state != P_SYNC) {
		p->device = h.device;
		p->state = P_SYNC;
		if (p->target >= 0) {
			n->targets[p->target].device = h.device;
			n->targets[p->target].backoff = BACKOFF_MIN_MS;
		}
		if (dedupe(n, p)) {
			p->closing = 1;
			return 0;
		}
		net_log("peer %s %s: in sync session", p->addr, p->name);
		n->status_dirty = 1;
	}
	if (!p->hello_sent && send_hello(n, p))
		return -1;
	return 0;
}

/* Applies a batch in one transaction; any applied change is then pushed to
 * the other peers. */
static int
on_changes(struct net *n, struct peer *p, const uint8_t *m, size_t len, int *applied)
{
	const uint8_t *blob, **blobs = NULL;
	size_t off = 0, blen, *lens = NULL, count = 0, i;
	uint64_t origin = 0, seq = 0;
	int *results = NULL, rc = -1, gap = 0;

	if (p->state != P_SYNC || msg_changes_check(m, len) < 0)
		return -1;
	while (msg_changes_next(m, len, &off, &blob, &blen) == 1)
		count++;
	if (count == 0)
		return send_ack(n, p);
	blobs = malloc(count * sizeof(*blobs));
	lens = malloc(count * sizeof(*lens));
	results = malloc(count * sizeof(*results));
	if (blobs == NULL || lens == NULL || results == NULL)
		goto out;
	for (off = 0, i = 0; i < count; i++)
		msg_changes_next(m, len, &off, &blobs[i], &lens[i]);
	if (journal_apply_batch(n->j, blobs, lens, count, results)) {
		net_log("peer %s %s: applying changes failed: %s", p->addr, p->name,
		        strerror(errno));
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (change_peek(blobs[i], lens[i], &origin, &seq) || results[i] < 0) {
			net_log("peer %s %s: change %llu/%llu refused", p->addr, p->name,
			        (unsigned long long)origin, (unsigned long long)seq);
			goto out;
		}
		if (results[i] == 2) {
			gap = 1;
			continue;
		}
		if (results[i] == 0)
			*applied = 1;
		p->changes_in++;
		/* The sender has it: never send it back. */
		if ((vv_get(&p->sent, origin) < seq && vv_set(&p->sent, origin, seq)) ||
		    (vv_get(&p->acked, origin) < seq && vv_set(&p->acked, origin, seq)))
			goto out;
	}
	/* A gap: tell the sender where we really are (it restarts from there). */
	rc = gap ? send_hello(n, p) : send_ack(n, p);
out:
	free(blobs);
	free(lens);
	free(results);
	return rc;
}

static int
on_ack(struct peer *p, const uint8_t *m, size_t len)
{
	struct vv v;
	int rc;

	if (p->state != P_SYNC || msg_ack_decode(m, len, &v))
		return -1;
	rc = vv_merge(&p->sent, &v) || vv_merge(&p->acked, &v) ? -1 : 0;
	vv_clear(&v);
	return rc;
}

/* The inviter's side of a join: record the device, hand over the key. */
static int
on_join(struct net *n, struct peer *p, const uint8_t *m, size_t len)
{
	char name[MSG_NAME_MAX + 1], dev[DEVID_LEN + 1];
	uint8_t rs[32], key[32], *w;
	int64_t prio;
	size_t wlen;
	int rc;

	if (msg_join_decode(m, len, name, &prio))
		return -1;
	conn_remote_key(p->c, rs);
	if (identity_register(n->j, rs, name, prio) || seal_read_key(n->db, key))
		return -1;
	rc = msg_welcome_encode(n->dbid, key, &w, &wlen);
	sodium_memzero(key, sizeof(key));
	if (rc)
		return -1;
	rc = conn_send(p->c, w, wlen);
	sodium_memzero(w, wlen);
	free(w);
	change_devid(identity_origin(rs), dev);
	net_log("device %s (%s) joined", dev, name);
	p->closing = 1;
	return rc;
}

/* The psk of the pending invite, if any is valid.  1 if found, else 0. */
static int
invite_psk(struct net *n, uint8_t psk[32])
{
	struct timespec ts;
	uint8_t *v;
	size_t len;
	uint64_t exp = 0, wall;
	int ok;

	if (journal_meta_get(n->j, NET_INVITE_META, (void **)&v, &len))
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	wall = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (len == NET_INVITE_LEN)
		for (int i = 0; i < 8; i++)
			exp = exp << 8 | v[32 + i];
	ok = len == NET_INVITE_LEN && v[40] == 0 && wall < exp;
	if (ok)
		memcpy(psk, v, 32);
	sodium_memzero(v, len);
	free(v);
	return ok;
}

/*
 * Single use: burn the invite as soon as a join handshake succeeds.  Returns
 * 0, or -1 if it was burnt already (two joins raced with one code: only the
 * first gets in; the loop runs one handshake's end at a time).
 */
static int
invite_burn(struct net *n)
{
	uint8_t *v;
	size_t len;
	int rc = -1;

	if (journal_meta_get(n->j, NET_INVITE_META, (void **)&v, &len))
		return -1;
	if (len == NET_INVITE_LEN && v[40] == 0) {
		sodium_memzero(v, 32);
		v[40] = 1;
		rc = journal_meta_put(n->j, NET_INVITE_META, v, len);
	}
	free(v);
	return rc;
}

static int
on_ready(struct net *n, struct peer *p)
{
	uint8_t rs[32];
	int member;

	if (conn_is_join(p->c)) {
		if (invite_burn(n)) {
			errno = EACCES;
			return -1;
		}
		p->state = P_OPEN;
		return 0;
	}
	conn_remote_key(p->c, rs);
	if ((member = identity_is_member(n->j, rs)) != 1) {
		errno = EACCES;
		return -1;
	}
	p->state = P_OPEN;
	return send_hello(n, p);
}

static int
on_msg(struct net *n, struct peer *p, const uint8_t *m, size_t len, int *applied)
{
	uint8_t *r;
	size_t rlen;

	if (conn_is_join(p->c))
		return msg_type(m, len) == MSG_JOIN ? on_join(n, p, m, len) : -1;
	switch (msg_type(m, len)) {
	case MSG_HELLO:
		return on_hello(n, p, m, len);
	case MSG_CHANGES:
		return on_changes(n, p, m, len, applied);
	case MSG_ACK:
		return on_ack(p, m, len);
	case MSG_PING:
		return msg_empty_encode(MSG_PONG, &r, &rlen) ? -1 : peer_send(p, r, rlen);
	case MSG_PONG:
		return 0;
	default:
		errno = EBADMSG;
		return -1;
	}
}

/* Reads what the socket has and runs the state machine over it. */
static void
peer_readable(struct net *n, struct peer *p, int *applied)
{
	uint8_t buf[65536];
	const uint8_t *m;
	size_t len;
	ssize_t r;
	int ev, loops = 0;

	while (loops++ < 16) {
		if ((r = recv(p->fd, buf, sizeof(buf), 0)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			peer_close(n, p, strerror(errno));
			return;
		}
		if (r == 0) {
			peer_close(n, p, p->state == P_SYNC ? "disconnected" : NULL);
			return;
		}
		if (conn_feed(p->c, buf, (size_t)r)) {
			peer_close(n, p, "out of memory");
			return;
		}
		while ((ev = conn_poll(p->c, &m, &len)) > 0) {
			/* Alive means whole messages arrive, not just bytes (a
			 * stream cut mid-frame never parses again). */
			p->last_rx = now_ms();
			if (ev == CONN_READY && on_ready(n, p)) {
				peer_close(n, p,
				           errno == EACCES ? "refused: not a member" : "failed");
				return;
			}
			if (ev == CONN_MSG && on_msg(n, p, m, len, applied)) {
				peer_close(n, p, "protocol error");
				return;
			}
		}
		if (ev == CONN_DEAD) {
			peer_close(n, p, "handshake or decryption failed");
			return;
		}
	}
	if (peer_pump(n, p) || peer_flush(n, p))
		peer_close(n, p, "send failed");
	else if (p->closing && conn_out(p->c, &m) == 0)
		peer_close(n, p, NULL);
}

static void
peer_writable(struct net *n, struct peer *p)
{
	const uint8_t *m, *b;
	size_t len;
	int err = 0;
	socklen_t el = sizeof(err);

	if (p->state == P_CONNECTING) {
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
			/* One line per attempt: the backoff keeps them few. */
			peer_close(n, p, err ? strerror(err) : "cannot connect");
			return;
		}
		p->state = P_HANDSHAKE;
		conn_poll(p->c, &m, &len); /* writes the selector and message 1 */
	}
	if (peer_flush(n, p)) {
		peer_close(n, p, "send failed");
		return;
	}
	if (p->closing && conn_out(p->c, &b) == 0) {
		peer_close(n, p, NULL);
		return;
	}
	if (peer_pump(n, p) || peer_flush(n, p))
		peer_close(n, p, "send failed");
}

/* ---- dialling and accepting ---- */

static void
dial(struct net *n, size_t ti)
{
	struct target *t = &n->targets[ti];
	struct addrinfo hints = {0}, *res = NULL;
	char addr[300];
	int fd;

	hints.ai_socktype = SOCK_STREAM;
	t->next = now_ms() + t->backoff;
	if (getaddrinfo(t->host, t->port, &hints, &res) || res == NULL)
		goto fail;
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (connect(fd, res->ai_addr, res->ai_addrlen) && errno != EINPROGRESS) {
		close(fd);
		goto fail;
	}
	snprintf(addr, sizeof(addr), "%s:%s", t->host, t->port);
	if ((t->p = peer_add(n, fd, 1, (int)ti, addr)) == NULL)
		close(fd);
	freeaddrinfo(res);
	return;
fail:
	if (res)
		freeaddrinfo(res);
	t->next = now_ms() + t->backoff + randombytes_uniform((uint32_t)t->backoff / 2 + 1);
	t->backoff = t->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff * 2;
}

static void
accept_all(struct net *n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN], addr[80];
	uint8_t psk[32];
	struct peer *p;
	int fd, one = 1;

	while ((fd = accept4(n->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	       0) {
		sl = sizeof(ss); /* for the next accept, whatever this one filled in */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		host[0] = '\0';
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
			          sizeof(host));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
			          sizeof(host));
		snprintf(addr, sizeof(addr), "%s:%u", host,
		         ntohs(((struct sockaddr_in *)&ss)->sin_port));
		if ((p = peer_add(n, fd, 0, -1, addr)) == NULL) {
			close(fd);
			continue;
		}
		/* A pending invite lets this connection join with its psk. */
		if (invite_psk(n, psk)) {
			conn_free(p->c);
			p->c = conn_new(0, n->priv, psk);
			sodium_memzero(psk, sizeof(psk));
			if (p->c == NULL)
				peer_close(n, p, "out of memory");
		}
		sl = sizeof(ss);
	}
}

static int
listen_on(struct net *n, const char *addr, int port)
{
	struct addrinfo hints = {0}, *res = NULL;
	char ps[16];
	int fd = -1, one = 1;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &res) || res == NULL) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 64)) {
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	n->lfd = fd;
	snprintf(n->listen, sizeof(n->listen), "%s:%d", addr ? addr : "*", port);
	return 0;
}

/* ---- status file ---- */

/* How many changes we hold that v lacks. */
static json_int_t
vv_behind(const struct vv *mine, const struct vv *v)
{
	json_int_t n = 0;

	for (size_t i = 0; i < mine->n; i++)
		if (mine->e[i].seq > vv_get(v, mine->e[i].origin))
			n += (json_int_t)(mine->e[i].seq - vv_get(v, mine->e[i].origin));
	return n;
}

static json_t *
vv_json(const struct vv *v)
{
	json_t *o = json_object();
	char dev[DEVID_LEN + 1];

	for (size_t i = 0; i < v->n; i++) {
		change_devid(v->e[i].origin, dev);
		json_object_set_new(o, dev, json_integer((json_int_t)v->e[i].seq));
	}
	return o;
}

static void
write_status(struct net *n)
{
	static const char *states[] = {"connecting", "handshake", "authenticated", "syncing"};
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32], dev[DEVID_LEN + 1];
	json_t *o = json_object(), *a = json_array();
	struct vv mine = {0, NULL};
	json_int_t pending = 0, behind;
	const uint8_t *b;

	if (journal_vv(n->j, &mine))
		vv_clear(&mine);
	for (size_t i = 0; i < NET_MAX_PEERS; i++) {
		struct peer *p = n->peers[i];
		json_t *e;

		if (p == NULL)
			continue;
		change_devid(p->device, dev);
		e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "device", p->device ? dev : "",
		              "name", p->name, "address", p->addr, "direction",
		              p->dialled ? "out" : "in", "changes_sent", (json_int_t)p->changes_out,
		              "changes_received", (json_int_t)p->changes_in, "bytes_queued",
		              (json_int_t)conn_out(p->c, &b));
		json_object_set_new(e, "state", json_string(states[p->state]));
		/* How it came: it dialled us, a --peer, or an mDNS discovery. */
		json_object_set_new(e, "source",
		                    json_string(!p->dialled ? "incoming"
		                                : p->target >= 0 && !n->targets[p->target].mdns
		                                    ? "static"
		                                    : "mdns"));
		json_object_set_new(e, "acked", vv_json(&p->acked));
		/* Changes this peer still lacks, as far as we know. */
		behind = vv_behind(&mine, &p->acked);
		json_object_set_new(e, "pending", json_integer(behind));
		if (p->state == P_SYNC && behind > pending)
			pending = behind;
		json_array_append_new(a, e);
	}
	vv_clear(&mine);
	json_object_set_new(o, "pending", json_integer(pending));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "listen", json_string(n->listen));
	json_object_set_new(o, "peers", a);
	a = json_array();
	for (size_t i = n->nstatic; i < n->ntargets; i++) {
		struct target *t = &n->targets[i];

		if (t->unused)
			continue;
		change_devid(t->device, dev);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b}", "address", t->host,
		                                   "port", t->port, "device", t->device ? dev : "",
		                                   "connected", t->p != NULL));
	}
	json_object_set_new(o, "discovered", a);
	snprintf(path, sizeof(path), "%s/peers.json", n->db);
	snprintf(tmp, sizeof(tmp), "%s/.peers.json.tmp", n->db);
	if (json_dump_file(o, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) == 0)
		rename(tmp, path);
	json_decref(o);
}

/* ---- the loop ---- */

/* Timers.  Peers dialled here are newer than t: compare without subtracting. */
static void
tick(struct net *n)
{
	uint64_t t = now_ms();
	uint8_t *m;
	size_t len;

	for (size_t i = 0; i < n->ntargets; i++) {
		struct target *tg = &n->targets[i];
		int connected = 0;

		if (tg->unused || tg->p != NULL || t < tg->next)
			continue;
		/* Already connected to that device the other way: no redial. */
		for (size_t k = 0; tg->device && k < NET_MAX_PEERS; k++)
			if (n->peers[k] && n->peers[k]->device == tg->device &&
			    n->peers[k]->state == P_SYNC && !n->peers[k]->closing)
				connected = 1;
		if (connected)
			tg->next = t + 1000;
		else
			dial(n, i);
	}
	for (size_t i = 0; i < NET_MAX_PEERS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL)
			continue;
		if (p->closing && conn_out(p->c, (const uint8_t **)&m) == 0) {
			peer_close(n, p, NULL);
			continue;
		}
		if (p->state < P_OPEN && t > p->since + HANDSHAKE_MS) {
			peer_close(n, p, "handshake timed out");
			continue;
		}
		if (t > p->last_rx + NET_DEAD_MS) {
			peer_close(n, p, "dead: no traffic");
			continue;
		}
		if (p->state == P_SYNC && t > p->last_tx + NET_PING_MS) {
			if (msg_empty_encode(MSG_PING, &m, &len) || peer_send(p, m, len) ||
			    peer_flush(n, p)) {
				peer_close(n, p, "send failed");
				continue;
			}
		}
	}
	if (n->mdns)
		mdns_run(n->mdns); /* avahi's timeouts */
	if (n->status_dirty || t - n->last_status >= 1000) {
		n->last_status = t;
		n->status_dirty = 0;
		write_status(n);
	}
}

static void *
loop(void *arg)
{
	struct net *n = arg;
	struct epoll_event evs[32];
	uint64_t last_tick = 0, v;
	int nev, applied;

	while (!__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		nev = epoll_wait(n->ep, evs, 32, TICK_MS);
		applied = 0;
		for (int i = 0; i < nev; i++) {
			void *ptr = evs[i].data.ptr;

			if (ptr == &n->evfd) {
				if (read(n->evfd, &v, sizeof(v)) < 0) {
					/* nothing to do: the counter was already read */
				}
				applied = 1;
			} else if (ptr == &n->lfd) {
				accept_all(n);
			} else if (ptr == &n->mdns) {
				mdns_run(n->mdns);
			} else {
				struct peer *p = ptr;
				int live = 0;

				/* p may have been closed by an earlier event in this batch. */
				for (size_t k = 0; k < NET_MAX_PEERS; k++)
					live |= n->peers[k] == p;
				if (!live)
					continue;
				if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
					peer_readable(n, p, &applied);
				live = 0;
				for (size_t k = 0; k < NET_MAX_PEERS; k++)
					live |= n->peers[k] == p;
				if (live && (evs[i].events & EPOLLOUT))
					peer_writable(n, p);
			}
		}
		if (applied)
			pump_all(n);
		if (now_ms() - last_tick >= TICK_MS) {
			last_tick = now_ms();
			tick(n);
			pump_all(n); /* retries what backpressure or a gap held back */
		}
	}
	return NULL;
}

static void
local_hook(void *ctx)
{
	struct net *n = ctx;
	uint64_t one = 1;

	if (write(n->evfd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: a wake-up is pending anyway */
	}
}

/* ---- mDNS: a found service fills its target slot, dialled like a --peer ---- */

static void
mdns_found(void *ctx, int slot, const char *host, int port)
{
	struct net *n = ctx;
	struct target *t = &n->targets[n->nstatic + (size_t)slot];

	if (t->p != NULL) {
		t->p->target = -1; /* the address changed: a fresh target */
		t->p = NULL;
	}
	snprintf(t->host, sizeof(t->host), "%s", host);
	snprintf(t->port, sizeof(t->port), "%d", port);
	t->device = 0;
	t->next = 0;
	t->backoff = BACKOFF_MIN_MS;
	t->unused = 0;
	n->status_dirty = 1;
}

/* The connection, if any, lives on: it ends by itself if the peer is gone. */
static void
mdns_lost(void *ctx, int slot)
{
	struct net *n = ctx;
	struct target *t = &n->targets[n->nstatic + (size_t)slot];

	if (t->p != NULL)
		t->p->target = -1;
	t->p = NULL;
	t->device = 0;
	t->unused = 1;
	n->status_dirty = 1;
}

static int
mdns_up(struct net *n, int port)
{
	struct mdns_config mc = {n->dbid, port, mdns_found, mdns_lost, n};
	struct epoll_event ev = {0};

	if ((n->mdns = mdns_new(&mc)) == NULL)
		return -1;
	ev.events = EPOLLIN;
	ev.data.ptr = &n->mdns;
	return epoll_ctl(n->ep, EPOLL_CTL_ADD, mdns_fd(n->mdns), &ev);
}

static void
net_free(struct net *n)
{
	mdns_free(n->mdns); /* withdraws the service */
	for (size_t i = 0; i < NET_MAX_PEERS; i++)
		if (n->peers[i])
			peer_close(n, n->peers[i], NULL);
	if (n->lfd >= 0)
		close(n->lfd);
	if (n->evfd >= 0)
		close(n->evfd);
	if (n->ep >= 0)
		close(n->ep);
	free(n->targets);
	seal_free(n->seal);
	if (n->priv)
		sodium_free(n->priv);
	free(n);
}

struct net *
net_start(struct journal *j, const struct net_config *cfg)
{
	struct journal_crypto jc, none = {NULL, NULL, NULL};
	struct epoll_event ev = {0};
	uint8_t pub[32];
	struct net *n;
	void *v;
	size_t len;
	int port = -1, saved;

	if (sodium_init() < 0) {
		errno = EIO;
		net_log("cannot start the network: libsodium does not initialise");
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		net_log("cannot start the network: %s", strerror(errno));
		return NULL;
	}
	n->ep = n->evfd = n->lfd = -1;
	n->j = j;
	snprintf(n->db, sizeof(n->db), "%s", cfg->db);
	n->self = journal_self(j);
	journal_dbid(j, n->dbid);
	snprintf(n->name, sizeof(n->name), "blazefs");
	if (journal_meta_get(j, "name", &v, &len) == 0) {
		snprintf(n->name, sizeof(n->name), "%.*s",
		         (int)(len < MSG_NAME_MAX ? len : MSG_NAME_MAX), (char *)v);
		free(v);
	}
	if ((n->priv = sodium_malloc(32)) == NULL || identity_load(cfg->db, n->priv, pub)) {
		net_log("%s: cannot read the device key: %s", cfg->db, strerror(errno));
		goto err;
	}
	if ((n->seal = seal_load(cfg->db)) == NULL) {
		net_log("%s: cannot read the content key: %s", cfg->db, strerror(errno));
		goto err;
	}
	if ((n->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (n->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		goto err_log;
	ev.events = EPOLLIN;
	ev.data.ptr = &n->evfd;
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->evfd, &ev))
		goto err_log;
	if (cfg->listen_port >= 0) {
		port = cfg->listen_port ? cfg->listen_port : NET_DEFAULT_PORT;
		if (listen_on(n, cfg->listen_addr, port)) {
			net_log("cannot listen on %s:%d: %s%s",
			        cfg->listen_addr ? cfg->listen_addr : "*", port, strerror(errno),
			        cfg->listen_port ? "" : " (dialling only; give --listen PORT)");
			/* Only an explicit --listen is a must. */
			if (cfg->listen_port)
				goto err;
			snprintf(n->listen, sizeof(n->listen), "none");
		} else {
			ev.events = EPOLLIN;
			ev.data.ptr = &n->lfd;
			if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->lfd, &ev))
				goto err_log;
		}
	} else {
		snprintf(n->listen, sizeof(n->listen), "none");
	}
	if ((n->targets = calloc(cfg->npeers + MDNS_MAX, sizeof(*n->targets))) == NULL)
		goto err_log;
	for (size_t i = 0; i < cfg->npeers; i++) {
		const char *s = cfg->peers[i], *c = strrchr(s, ':');
		struct target *t = &n->targets[n->ntargets];

		if (c == NULL || c == s || (size_t)(c - s) >= sizeof(t->host) ||
		    strlen(c + 1) >= sizeof(t->port)) {
			net_log("bad peer address %s (want HOST:PORT)", s);
			errno = EINVAL;
			goto err;
		}
		/* [v6]:port */
		if (*s == '[' && c[-1] == ']')
			snprintf(t->host, sizeof(t->host), "%.*s", (int)(c - s - 2), s + 1);
		else
			snprintf(t->host, sizeof(t->host), "%.*s", (int)(c - s), s);
		snprintf(t->port, sizeof(t->port), "%s", c + 1);
		t->backoff = BACKOFF_MIN_MS;
		n->ntargets++;
	}
	n->nstatic = n->ntargets;
	for (size_t i = 0; i < MDNS_MAX; i++) {
		n->targets[n->ntargets + i].mdns = 1;
		n->targets[n->ntargets + i].unused = 1;
	}
	n->ntargets += MDNS_MAX;
	if (!cfg->no_mdns && mdns_up(n, n->lfd >= 0 ? port : -1))
		goto err_log;
	write_status(n); /* before the thread: `blazefs invite` can read it at once */
	/* The hooks go in last, and come out again if the thread does not
	 * start: the journal must never keep pointers into a freed net. */
	seal_hooks(n->seal, &jc);
	journal_set_crypto(j, &jc);
	journal_set_local_hook(j, local_hook, n);
	if ((errno = pthread_create(&n->thread, NULL, loop, n)) != 0) {
		journal_set_local_hook(j, NULL, NULL);
		journal_set_crypto(j, &none);
		goto err_log;
	}
	net_log("network up: listening on %s, %zu static peer(s)%s", n->listen, n->nstatic,
	        n->mdns ? ", mDNS discovery" : "");
	return n;
err_log:
	net_log("%s: cannot start the network: %s", cfg->db, strerror(errno));
err:
	saved = errno;
	net_free(n);
	errno = saved;
	return NULL;
}

void
net_stop(struct net *n)
{
	struct journal_crypto none = {NULL, NULL, NULL};
	char path[PATH_MAX + 16];

	if (n == NULL)
		return;
	__atomic_store_n(&n->stop, 1, __ATOMIC_RELEASE);
	local_hook(n);
	pthread_join(n->thread, NULL);
	journal_set_local_hook(n->j, NULL, NULL);
	journal_set_crypto(n->j, &none);
	snprintf(path, sizeof(path), "%s/peers.json", n->db);
	unlink(path);
	net_free(n);
}
