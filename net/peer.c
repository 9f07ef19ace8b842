/* peer: the network's connections; see peer.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "core/mode.h"
#include "net/conn.h"
#include "net/dial.h"
#include "net/gossip.h"
#include "net/identity.h"
#include "net/join.h"
#include "net/msg.h"
#include "net/net_int.h"
#include "net/netlog.h"
#include "net/peer.h"
#include "net/relay.h"
#include "net/relaylink.h"
#include "net/sync.h"

#define PEER_READS_PER_TURN 1

/* Output wanted while anything is queued (or a connect is pending); input
 * while the output is under NET_IN_STOP (backpressure on a peer that sends
 * but does not read: what we owe it stays bounded). */
static void
ep_update(struct net *n, struct peer *p)
{
	const uint8_t *b;
	struct epoll_event ev = {0};
	size_t queued = conn_out(p->c, &b);
	int want = queued > 0 || p->state == PEER_CONNECTING;
	int want_in = queued < NET_IN_STOP;

	if (want == p->want_out && want_in == p->want_in)
		return;
	p->want_out = want;
	p->want_in = want_in;
	ev.events = (want_in ? EPOLLIN : 0) | (want ? EPOLLOUT : 0);
	ev.data.ptr = p;
	epoll_ctl(n->ep, EPOLL_CTL_MOD, p->fd, &ev);
}

/* An inbound connection whose handshake is not done: a stranger, maybe. */
static int
unauthenticated(const struct peer *p)
{
	return !p->dialled && p->state < PEER_OPEN;
}

int
peer_admit(const struct net *n, const char *host)
{
	size_t all = 0, from_host = 0;

	for (size_t i = 0; i < NET_SLOTS; i++) {
		const struct peer *q = n->peers[i];

		if (q == NULL || !unauthenticated(q))
			continue;
		all++;
		from_host += strcmp(q->host, host) == 0;
	}
	return all < NET_UNAUTH_MAX && from_host < NET_UNAUTH_PER_ADDR;
}

/* Connections in the members' and dials' share of the slots. */
static size_t
trusted_count(const struct net *n)
{
	size_t k = 0;

	for (size_t i = 0; i < NET_SLOTS; i++)
		k += n->peers[i] != NULL && !unauthenticated(n->peers[i]);
	return k;
}

struct peer *
peer_add(struct net *n, int fd, int dialled, int target, const char *addr, const uint8_t *psk)
{
	struct epoll_event ev = {0};
	const char *colon = strrchr(addr, ':');
	struct peer *p;
	char host[sizeof(p->host)];
	size_t i;

	snprintf(host, sizeof(host), "%.*s", (int)(colon ? colon - addr : (long)strlen(addr)),
	         addr);
	/* A dial takes a trusted slot, an accept an unauthenticated one. */
	if (dialled ? trusted_count(n) >= NET_MAX_PEERS : !peer_admit(n, host))
		return NULL;
	for (i = 0; i < NET_SLOTS && n->peers[i] != NULL; i++)
		;
	if (i == NET_SLOTS || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->c = conn_new(dialled, n->priv, psk)) == NULL ||
	    conn_set_network(p->c, n->netkeys)) {
		conn_free(p->c);
		free(p);
		return NULL;
	}
	p->fd = fd;
	p->dialled = dialled;
	p->target = target;
	p->state = dialled ? PEER_CONNECTING : PEER_HANDSHAKE;
	p->since = p->last_rx = p->last_tx = p->checked = p->last_bytes = hlc_mono_ms();
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	memcpy(p->host, host, sizeof(host));
	ev.events = EPOLLIN | (dialled ? EPOLLOUT : 0);
	p->want_out = dialled;
	p->want_in = 1;
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

/* Remembers when a member was last in session here and what it had then
 * (meta "seen/<dev>", "acked/<dev>": blazefs devices and status). */
static void
seen(struct net *n, const struct peer *p)
{
	char dev[DEVID_LEN + 1], key[8 + DEVID_LEN];
	uint8_t ms[8], *vv = NULL;
	size_t len;

	change_devid(sync_device(p->s), dev);
	snprintf(key, sizeof(key), "seen/%s", dev);
	be64(ms, hlc_wall_ms());
	if (journal_meta_put(n->j, key, ms, sizeof(ms)))
		syslog(LOG_INFO, "peer %s: cannot note when it was seen: %s", p->addr,
		       strerror(errno));
	snprintf(key, sizeof(key), "acked/%s", dev);
	if (msg_ack_encode(sync_acked(p->s), &vv, &len) || journal_meta_put(n->j, key, vv, len))
		syslog(LOG_INFO, "peer %s: cannot note what it had: %s", p->addr, strerror(errno));
	free(vv);
}

void
peer_close(struct net *n, struct peer *p, const char *why)
{
	const char *name = p->s ? sync_name(p->s) : "";

	if (p->state == PEER_SYNC)
		seen(n, p);

	for (size_t i = 0; i < NET_SLOTS; i++)
		if (n->peers[i] == p)
			n->peers[i] = NULL;
	n->status_dirty = 1;
	if (p->target >= 0) {
		n->targets[p->target].p = NULL;
		dial_backoff(&n->targets[p->target]);
	}
	if (why != NULL)
		netlog(NETLOG_PEER, LOG_INFO, "peer %s%s%s: %s", p->addr, name[0] ? " " : "", name,
		       why);
	epoll_ctl(n->ep, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	conn_free(p->c);
	sync_free(p->s);
	free(p);
}

int
peer_live(const struct net *n, const struct peer *p)
{
	int live = 0;

	for (size_t k = 0; k < NET_SLOTS; k++)
		live |= n->peers[k] == p;
	return live;
}

uint64_t
peer_device(const struct peer *p)
{
	return p->s ? sync_device(p->s) : 0;
}

int
peer_connected(const struct net *n, uint64_t device)
{
	for (size_t k = 0; device && k < NET_SLOTS; k++)
		if (n->peers[k] && peer_device(n->peers[k]) == device &&
		    n->peers[k]->state == PEER_SYNC && !n->peers[k]->closing)
			return 1;
	return 0;
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
		p->last_tx = hlc_mono_ms();
	}
	ep_update(n, p);
	return 0;
}

/* The session's way out: onto the conn, written when the socket takes it.
 * A PONG is dropped while the output is over NET_OUT_MAX: the peer has
 * bytes coming (and a PING flood gets no queue of answers). */
static int
peer_queue(void *ctx, const uint8_t *m, size_t len)
{
	struct peer *p = ctx;
	const uint8_t *b;

	if (msg_type(m, len) == MSG_PONG && conn_out(p->c, &b) >= NET_OUT_MAX)
		return 0;
	return conn_send(p->c, m, len);
}

/* Streams what p lacks until its output reaches NET_OUT_MAX. */
static int
peer_pump(struct peer *p)
{
	const uint8_t *b;
	int rc = 0;

	if (p->state != PEER_SYNC || p->closing)
		return 0;
	while (conn_out(p->c, &b) < NET_OUT_MAX && (rc = sync_pump(p->s)) == 1)
		;
	return rc < 0 ? -1 : 0;
}

void
peer_pump_all(struct net *n)
{
	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL)
			continue;
		if (peer_pump(p) || peer_flush(n, p))
			peer_close(n, p, "send failed");
	}
}

/* Of two connections to one device, keeps the one the lower id dialled. */
static int
dedupe(struct net *n, struct peer *p)
{
	uint64_t self = n->sc.self, device = peer_device(p);
	uint64_t keep_dialler = self < device ? self : device;
	uint64_t mine = p->dialled ? self : device;

	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *q = n->peers[i];
		uint64_t theirs;

		if (q == NULL || q == p || q->state != PEER_SYNC || q->closing ||
		    peer_device(q) != device)
			continue;
		theirs = q->dialled ? self : device;
		if (mine == keep_dialler && theirs != keep_dialler) {
			peer_close(n, q, "duplicate connection closed");
			return 0;
		}
		return -1; /* p is the duplicate (or both the same way: keep the older) */
	}
	return 0;
}

/* The peer's first HELLO: the session is open, unless it duplicates one. */
static void
on_session(struct net *n, struct peer *p)
{
	p->state = PEER_SYNC;
	if (p->target >= 0) {
		n->targets[p->target].device = peer_device(p);
		n->targets[p->target].backoff = DIAL_BACKOFF_MIN_MS;
	}
	/* Where we reached it: a later mount dials it again, flags or not (a
	 * relay is dialled from .devices anyway), even if this connection goes
	 * as the duplicate of one it dialled at the same time. */
	if (p->dialled && p->target >= 0 && (size_t)p->target < n->relay_first) {
		const struct target *t = &n->targets[p->target];
		char hp[sizeof(t->host) + sizeof(t->port) + 1];

		snprintf(hp, sizeof(hp), "%s:%s", t->host, t->port);
		if (dial_remember(n->j, hp))
			syslog(LOG_INFO, "peer %s: cannot remember its address: %s", p->addr,
			       strerror(errno));
	}
	n->status_dirty = 1;
	if (dedupe(n, p)) {
		p->closing = 1;
		return;
	}
	netlog(NETLOG_SESSION, LOG_INFO, "peer %s %s: in sync session", p->addr, sync_name(p->s));
	seen(n, p);
	/* What to pull from it (and from the others, now it is here). */
	gossip_note_session(n);
	gossip_route(n);
}

/* The handshake is done: a join burns the invite, a member gets a session. */
static int
on_ready(struct net *n, struct peer *p)
{
	uint8_t rs[32];

	if (conn_is_join(p->c)) {
		if (join_burn(n->j)) {
			errno = EACCES;
			return -1;
		}
		p->state = PEER_OPEN;
		return 0;
	}
	conn_remote_key(p->c, rs);
	/* A relay the database is paired with is a peer, not a member. */
	if (identity_is_member(n->j, rs) != 1 && !relaylink_known(n, rs)) {
		errno = EACCES;
		return -1;
	}
	/* An inbound member moves to the trusted share, if there is room. */
	if (!p->dialled && trusted_count(n) >= NET_MAX_PEERS) {
		errno = EUSERS;
		return -1;
	}
	p->state = PEER_OPEN;
	if ((p->s = sync_new(&n->sc, journal_key_origin(rs), p->addr, peer_queue, p)) == NULL)
		return -1;
	if (relaylink_known(n, rs))
		sync_set_blind(p->s);
	return relaylink_session(n, p, rs) || sync_start(p->s) ? -1 : 0;
}

static int
on_msg(struct net *n, struct peer *p, const uint8_t *m, size_t len, int *applied)
{
	uint8_t rs[32], *w;
	size_t wlen;
	int ev, rc;

	if (conn_is_join(p->c)) {
		conn_remote_key(p->c, rs);
		if (join_welcome(n->j, n->db, rs, m, len, &w, &wlen))
			return -1;
		rc = conn_send(p->c, w, wlen);
		sodium_memzero(w, wlen);
		free(w);
		p->closing = 1;
		return rc;
	}
	/* A relay refused changes (relay.h). */
	if (len == 19 && m[0] == MSG_VERSION && m[1] == RELAY_MSG_ERROR) {
		netlog(NETLOG_PEER, LOG_WARNING,
		       "relay %s: its quota for this database is full (%llu of %llu bytes): "
		       "changes made here are not stored there (they still go to members "
		       "directly); ask its operator for a larger --quota",
		       p->addr, (unsigned long long)get64(m + 3),
		       (unsigned long long)get64(m + 11));
		return 0;
	}
	if ((ev = sync_recv(p->s, m, len)) < 0)
		return -1;
	if (ev & SYNC_APPLIED)
		*applied = 1;
	if ((ev & SYNC_SESSION) && p->state != PEER_SYNC)
		on_session(n, p);
	return 0;
}

/*
 * A dialler that did not prove the network key: the line to log, in buf, or
 * NULL.  One a minute at most (a stranger can dial in a loop), saying how
 * many were not logged.
 */
static const char *
peer_stranger(struct net *n, char *line, size_t len)
{
	uint64_t t = hlc_mono_ms();

	if (n->stranger_log != 0 && t - n->stranger_log < 60000) {
		n->strangers++;
		return NULL;
	}
	if (n->strangers)
		snprintf(line, len,
		         "refused: not a member (did not prove the network key: a stranger, or "
		         "a database made by an older blazefs; %lu more such dials not logged)",
		         n->strangers);
	else
		snprintf(line, len,
		         "refused: not a member (did not prove the network key: a stranger, or "
		         "a database made by an older blazefs)");
	n->stranger_log = t;
	n->strangers = 0;
	return line;
}

/* Holds CHANGES message m to be applied with the others of this read.  0 or
 * -1 (out of memory). */
static int
peer_hold(struct net *n, const uint8_t *m, size_t len)
{
	size_t cap = n->hold.cap;
	uint8_t *b;

	while (n->hold.len + len > cap)
		cap = cap ? 2 * cap : NET_READ_BYTES;
	if (cap != n->hold.cap) {
		if ((b = realloc(n->hold.buf, cap)) == NULL)
			return -1;
		n->hold.buf = b;
		n->hold.cap = cap;
	}
	memcpy(n->hold.buf + n->hold.len, m, len);
	n->hold.off[n->hold.n] = n->hold.len;
	n->hold.mlen[n->hold.n++] = len;
	n->hold.len += len;
	return 0;
}

/* Applies the CHANGES messages held, in one transaction.  0 or -1 (close p). */
static int
peer_apply_held(struct net *n, struct peer *p, int *applied)
{
	const uint8_t *ms[NET_HOLD_MSGS];
	size_t k, nmsgs = n->hold.n;
	int ev;

	if (nmsgs == 0)
		return 0;
	for (k = 0; k < nmsgs; k++)
		ms[k] = n->hold.buf + n->hold.off[k];
	n->hold.n = n->hold.len = 0;
	if ((ev = sync_recv_changes(p->s, ms, n->hold.mlen, nmsgs)) < 0)
		return -1;
	if (ev & SYNC_APPLIED)
		*applied = 1;
	return 0;
}

void
peer_readable(struct net *n, struct peer *p, int *applied)
{
	uint8_t *buf = n->rbuf;
	const uint8_t *m;
	ssize_t r;
	size_t len, bulk = 0;
	int ev, held, loops = 0;

	/* One read of up to 64 KiB a turn, so that a flooding peer does not
	 * starve the others (a turn of PINGs is ~3000 messages, a few ms; the
	 * level-triggered epoll brings us back for the rest), and nothing more
	 * once the replies queued for p reach NET_IN_STOP.  A peer whose last
	 * read was mostly changes is read up to NET_READ_BYTES, and the CHANGES
	 * messages of a read are applied together: a device catching up
	 * commits (and syncs) once for several. */
	while (loops++ < PEER_READS_PER_TURN && conn_out(p->c, &m) < NET_IN_STOP) {
		if ((r = recv(p->fd, buf, p->bulk ? NET_READ_BYTES : NET_READ_OTHER, 0)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			peer_close(n, p, strerror(errno));
			return;
		}
		if (r == 0) {
			/* Closed by a device that proved it holds the network
			 * key, right after the handshake, before any HELLO: it
			 * does not count us as a member (never, or not any
			 * more: removed), or has no slot left.  Said, so a
			 * removed device knows. */
			peer_close(n, p,
			           p->state == PEER_SYNC ? "disconnected"
			           : p->dialled && p->state == PEER_OPEN && !conn_is_join(p->c)
			               ? "refused after the handshake: this device is not (or no "
			                 "longer) a member there, or all its slots are taken"
			               : NULL);
			return;
		}
		p->last_bytes = hlc_mono_ms();
		if (conn_feed(p->c, buf, (size_t)r)) {
			peer_close(n, p, "out of memory");
			return;
		}
		while ((ev = conn_poll(p->c, &m, &len)) > 0) {
			/* Alive means whole messages arrive, not just bytes (a
			 * stream cut mid-frame never parses again). */
			p->last_rx = hlc_mono_ms();
			held = ev == CONN_MSG && p->s != NULL && !conn_is_join(p->c) &&
			       msg_type(m, len) == MSG_CHANGES;
			if (held) {
				bulk += len;
				if (peer_hold(n, m, len)) {
					n->hold.n = n->hold.len = 0;
					peer_close(n, p, "out of memory");
					return;
				}
				if (n->hold.n < NET_HOLD_MSGS)
					continue;
			}
			/* What follows held changes comes after them. */
			if (peer_apply_held(n, p, applied)) {
				peer_close(n, p, "protocol error");
				return;
			}
			if (held)
				continue; /* and just applied */
			if (ev == CONN_READY && on_ready(n, p)) {
				peer_close(n, p,
				           errno == EACCES   ? "refused: not a member"
				           : errno == EUSERS ? "refused: too many peers"
				                             : "failed");
				return;
			}
			if (ev == CONN_MSG && on_msg(n, p, m, len, applied)) {
				peer_close(n, p, "protocol error");
				return;
			}
		}
		p->bulk = 2 * bulk >= (size_t)r; /* mostly changes (not pings) */
		if (peer_apply_held(n, p, applied)) {
			peer_close(n, p, "protocol error");
			return;
		}
		if (ev == CONN_DEAD && conn_pake_wrong(p->c)) {
			/* One guess per code: the next one, right or not, is refused. */
			join_burn_as(n->j, JOIN_USED_WRONG);
			syslog(LOG_WARNING, "a wrong join code was tried: the invite is burnt");
			peer_close(n, p, "wrong join code");
			return;
		}
		if (ev == CONN_DEAD) {
			char line[256];

			peer_close(n, p,
			           conn_stranger(p->c) ? peer_stranger(n, line, sizeof(line))
			                               : "handshake or decryption failed");
			return;
		}
	}
	if (peer_pump(p) || peer_flush(n, p))
		peer_close(n, p, "send failed");
	else if (p->closing && conn_out(p->c, &m) == 0)
		peer_close(n, p, NULL);
}

void
peer_writable(struct net *n, struct peer *p)
{
	const uint8_t *m, *b;
	size_t len;
	int err = 0;
	socklen_t el = sizeof(err);

	if (p->state == PEER_CONNECTING) {
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
			/* One line per attempt: the backoff keeps them few. */
			peer_close(n, p, err ? strerror(err) : "cannot connect");
			return;
		}
		p->state = PEER_HANDSHAKE;
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
	if (peer_pump(p) || peer_flush(n, p))
		peer_close(n, p, "send failed");
}

/* Reads the sync mode (blazefs mode writes it) twice a second; a new one
 * restarts every session with a HELLO, so peers send again from what this
 * device really has (a send-only device ignored what they sent). */
static void
mode_tick(struct net *n, uint64_t t)
{
	enum mode m;

	if (n->mode_checked != 0 && t - n->mode_checked < 500)
		return;
	n->mode_checked = t;
	if ((m = mode_get(n->j)) == (enum mode)n->sc.mode)
		return;
	n->sc.mode = (int)m;
	syslog(LOG_INFO, "sync mode: %s%s", mode_name(m),
	       m == MODE_SEND_ONLY ? " (changes made here go out; others' are not applied here)"
	       : m == MODE_RECEIVE_ONLY
	           ? " (others' changes come in; the mount is read-only and nothing made here "
	             "is sent)"
	           : "");
	n->status_dirty = 1;
	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *p = n->peers[i];

		if (p != NULL && p->state == PEER_SYNC && !p->closing &&
		    (sync_start(p->s) || peer_flush(n, p)))
			peer_close(n, p, "send failed");
	}
}

void
peer_tick(struct net *n, uint64_t t)
{
	const uint8_t *b;

	mode_tick(n, t);
	gossip_route(n);
	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL)
			continue;
		if (p->closing && conn_out(p->c, &b) == 0) {
			peer_close(n, p, NULL);
			continue;
		}
		if (p->state < PEER_OPEN && t > p->since + NET_HANDSHAKE_MS) {
			peer_close(n, p, "handshake timed out");
			continue;
		}
		if (t > p->last_rx + NET_DEAD_MS) {
			peer_close(n, p, "dead: no traffic");
			continue;
		}
		/* Silence while we read: the link went dead without a close.
		 * (While we do not read from it, its bytes wait in the socket.) */
		if (p->state >= PEER_OPEN && p->want_in && t > p->last_bytes + NET_SILENT_MS) {
			peer_close(n, p, "dead: no traffic for 2.5 s");
			continue;
		}
		if (p->state == PEER_SYNC && t > p->checked + NET_MEMBER_CHECK_MS) {
			uint8_t rs[32];

			/* A device removed meanwhile (here or by a change
			 * synced in) loses its session within a ping. */
			p->checked = t;
			conn_remote_key(p->c, rs);
			if (identity_is_member(n->j, rs) == 0 && !relaylink_known(n, rs)) {
				peer_close(n, p, "removed from the database");
				continue;
			}
		}
		if (p->state == PEER_SYNC && t > p->last_tx + NET_PING_MS) {
			if (sync_ping(p->s) || peer_flush(n, p)) {
				peer_close(n, p, "send failed");
				continue;
			}
		}
	}
}
