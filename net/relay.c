/* relay: a blind relay's loop, its sessions and pairing; see relay.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "net/conn.h"
#include "net/dial.h"
#include "net/identity.h"
#include "net/msg.h"
#include "net/net.h"
#include "net/netkey.h"
#include "net/relay.h"
#include "net/relayjoin.h"
#include "net/roster.h"
#include "net/rstore.h"

#define RELAY_RAW_MAX 1024 /* bytes of a handshake kept for trying each psk */
#define RELAY_OUT_MAX (1024 * 1024)

enum rmode { RP_HANDSHAKE, RP_PAIR, RP_MEMBER };

struct rpeer {
	int fd;
	struct conn *c;
	enum rmode mode;
	size_t trial;   /* the psk tried: a database's index, or ndbs for pairing */
	int pairing;    /* that psk is the pairing one (ndbs may grow meanwhile) */
	int settled;    /* message 1 opened under it: no more trials, raw freed */
	uint8_t *raw;   /* what arrived before the handshake finished */
	size_t rawlen;  /* (replayed into the next trial's conn) */
	size_t written; /* bytes written before the handshake finished */
	int db;         /* RP_MEMBER: index in r->dbs */
	uint64_t device;
	int session;       /* the member's HELLO arrived */
	uint16_t protocol; /* the member's, from its HELLO */
	struct vv sent;
	/* Protocol >= 3: the origins the member pulls from the relay (its last
	 * WANT; none before it), as net/sync.c keeps a peer's. */
	struct vv want;
	int want_known;
	int closing, want_out;
	uint64_t since, last_rx;
	uint64_t replayed; /* BLAZEFS_RELAY_TAMPER=replay: the last replay */
	uint8_t rs[32];
	char addr[80];
};

/* A box a member left for a joiner (relayjoin.h). */
struct rbox {
	int used;
	int db;
	uint8_t id[32];
	uint64_t expires; /* wall ms */
	uint8_t *data;
	size_t len;
};

#define RELAY_BOX_SLOTS 64

struct relay {
	char dir[PATH_MAX];
	uint8_t *priv; /* sodium_malloc'd */
	uint8_t pub[32];
	uint64_t self;
	uint64_t quota;
	struct rstore *dbs[RELAY_DBS_MAX];
	uint8_t psk[RELAY_DBS_MAX + 1][32]; /* each database's, then pairing's */
	size_t ndbs;
	struct rpeer *peers[RELAY_MAX_PEERS];
	struct rbox boxes[RELAY_BOX_SLOTS];
	int ep, lfd;
	volatile sig_atomic_t stop;
	int tamper;               /* test knob BLAZEFS_RELAY_TAMPER: 1 flip, 2 replay */
	uint64_t stranger_log[2]; /* per kind: no database's key, not a member */
	unsigned long strangers[2];
};

void
relay_pair_psk(uint8_t psk[32])
{
	static const char tag[] = "blazefs/relay-pair";

	crypto_generichash(psk, 32, (const uint8_t *)tag, sizeof(tag) - 1, NULL, 0);
}

/* ---- the relay's directory ---- */

int
relay_init(const char *dir)
{
	char path[PATH_MAX];
	uint8_t key[64];
	int fd, rc;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	if (chmod(dir, 0700))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, RELAY_KEY_FILE);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -1;
	crypto_box_keypair(key + 32, key);
	rc = write(fd, key, 64) == 64 && fsync(fd) == 0 ? 0 : -1;
	sodium_memzero(key, sizeof(key));
	close(fd);
	snprintf(path, sizeof(path), "%s/db", dir);
	if (rc == 0 && mkdir(path, 0700) && errno != EEXIST)
		rc = -1;
	return rc;
}

static int
load_key(const char *dir, uint8_t priv[32], uint8_t pub[32])
{
	char path[PATH_MAX];
	uint8_t key[65];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, RELAY_KEY_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n != 64) {
		sodium_memzero(key, sizeof(key));
		errno = EINVAL;
		return -1;
	}
	if (priv)
		memcpy(priv, key, 32);
	memcpy(pub, key + 32, 32);
	sodium_memzero(key, sizeof(key));
	return 0;
}

int
relay_public(const char *dir, uint8_t pub[32])
{
	return load_key(dir, NULL, pub);
}

static void
db_dir(const struct relay *r, const uint8_t dbid[32], char *out, size_t len)
{
	char hex[65];

	sodium_bin2hex(hex, sizeof(hex), dbid, 32);
	snprintf(out, len, "%s/db/%s", r->dir, hex);
}

static int
add_db(struct relay *r, struct rstore *s)
{
	if (r->ndbs == RELAY_DBS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	/* The pairing psk moves up one: it is always tried last. */
	netkey_psk(r->psk[r->ndbs], rstore_netkey(s));
	relay_pair_psk(r->psk[r->ndbs + 1]);
	r->dbs[r->ndbs++] = s;
	return 0;
}

/* ---- boxes left for joiners (relayjoin.h) ---- */

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
box_path(const struct relay *r, const struct rbox *b, char *out, size_t len)
{
	char dir[PATH_MAX + 80], hex[65];

	db_dir(r, rstore_roster(r->dbs[b->db])->dbid, dir, sizeof(dir));
	sodium_bin2hex(hex, sizeof(hex), b->id, 32);
	snprintf(out, len, "%s/box-%s", dir, hex);
}

static void
box_drop(struct relay *r, struct rbox *b, int unlink_it)
{
	char path[PATH_MAX + 256];

	if (unlink_it) {
		box_path(r, b, path, sizeof(path));
		unlink(path);
	}
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Keeps a box (in memory and on disk, so a restart keeps it).  0, or -1
 * (ENOSPC: the database has RELAY_BOXES_MAX pending). */
static int
box_put(struct relay *r, int db, const uint8_t id[32], uint64_t expires, const uint8_t *data,
        size_t len, int write_it)
{
	struct rbox *free_slot = NULL;
	char path[PATH_MAX + 256];
	size_t mine = 0;
	uint64_t now = wall_ms();

	for (size_t i = 0; i < RELAY_BOX_SLOTS; i++) {
		struct rbox *b = &r->boxes[i];

		if (b->used && (b->expires <= now || (b->db == db && memcmp(b->id, id, 32) == 0)))
			box_drop(r, b, 1);
		if (!b->used && free_slot == NULL)
			free_slot = b;
		mine += b->used && b->db == db;
	}
	if (free_slot == NULL || mine >= RELAY_BOXES_MAX || expires <= now) {
		errno = ENOSPC;
		return -1;
	}
	if ((free_slot->data = malloc(len)) == NULL)
		return -1;
	memcpy(free_slot->data, data, len);
	free_slot->len = len;
	free_slot->db = db;
	free_slot->expires = expires;
	memcpy(free_slot->id, id, 32);
	free_slot->used = 1;
	if (write_it) {
		uint8_t hdr[8];
		int fd;

		box_path(r, free_slot, path, sizeof(path));
		be64(hdr, expires);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
		    write(fd, hdr, 8) != 8 || write(fd, data, len) != (ssize_t)len || fsync(fd)) {
			if (fd >= 0)
				close(fd);
			box_drop(r, free_slot, 1);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Reads back the boxes of database db (files "box-<id hex>"). */
static void
box_load(struct relay *r, int db)
{
	char dir[PATH_MAX + 80], path[PATH_MAX + 256];
	uint8_t buf[8 + RELAYJOIN_BOX_MAX + 1], id[32];
	struct dirent *e;
	DIR *d;

	db_dir(r, rstore_roster(r->dbs[db])->dbid, dir, sizeof(dir));
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		ssize_t n;
		int fd;

		if (strncmp(e->d_name, "box-", 4) != 0 || strlen(e->d_name) != 4 + 64 ||
		    sodium_hex2bin(id, 32, e->d_name + 4, 64, NULL, NULL, NULL) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		/* Untrusted (the disk): bounded, and dropped if malformed. */
		if (n < 8 + 1 || n > 8 + RELAYJOIN_BOX_MAX ||
		    box_put(r, db, id, get64(buf), buf + 8, (size_t)n - 8, 0))
			unlink(path);
	}
	closedir(d);
}

/* Hands out the box id names, once: malloc'd *data, or NULL. */
static uint8_t *
box_take(struct relay *r, const uint8_t id[32], size_t *len)
{
	uint64_t now = wall_ms();

	for (size_t i = 0; i < RELAY_BOX_SLOTS; i++) {
		struct rbox *b = &r->boxes[i];
		uint8_t *data;

		if (!b->used || sodium_memcmp(b->id, id, 32) != 0)
			continue;
		if (b->expires <= now) {
			box_drop(r, b, 1);
			return NULL;
		}
		data = b->data;
		*len = b->len;
		b->data = NULL;
		box_drop(r, b, 1);
		return data;
	}
	return NULL;
}

static int
load_dbs(struct relay *r)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	struct rstore *s;
	DIR *d;

	snprintf(path, sizeof(path), "%s/db", r->dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strlen(e->d_name) != 64)
			continue;
		snprintf(path, sizeof(path), "%s/db/%s", r->dir, e->d_name);
		if ((s = rstore_open(path, r->quota)) == NULL) {
			syslog(LOG_WARNING, "relay: %s: cannot open: %s (skipped)", path,
			       strerror(errno));
			continue;
		}
		if (add_db(r, s)) {
			rstore_close(s);
			break;
		}
		box_load(r, (int)r->ndbs - 1);
		syslog(LOG_INFO, "relay: database %.16s: %llu bytes of changes", e->d_name,
		       (unsigned long long)rstore_bytes(s));
	}
	closedir(d);
	return 0;
}

static int
do_listen(struct relay *r, const char *addr, int port)
{
	struct addrinfo hints = {0}, *res = NULL;
	struct epoll_event ev = {0};
	char ps[16];
	int one = 1;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &res) || res == NULL) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	if ((r->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(r->lfd, res->ai_addr, res->ai_addrlen) || listen(r->lfd, 64)) {
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	return epoll_ctl(r->ep, EPOLL_CTL_ADD, r->lfd, &ev);
}

struct relay *
relay_open(const struct relay_config *cfg)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->lfd = r->ep = -1;
	snprintf(r->dir, sizeof(r->dir), "%s", cfg->dir);
	r->quota = cfg->quota ? cfg->quota : RELAY_DEFAULT_QUOTA;
	relay_pair_psk(r->psk[0]);
	if ((r->priv = sodium_malloc(32)) == NULL)
		goto fail;
	if (load_key(r->dir, r->priv, r->pub)) {
		syslog(LOG_ERR, "relay: %s: no relay there (%s): run blazefs relay init first",
		       r->dir, strerror(errno));
		goto fail;
	}
	r->self = journal_key_origin(r->pub);
	/* A relay that lies, for tests of what members catch: "flip" a byte of
	 * every change it hands out, or "replay" all it has on every pump. */
	if (getenv("BLAZEFS_RELAY_TAMPER") != NULL) {
		r->tamper = strcmp(getenv("BLAZEFS_RELAY_TAMPER"), "flip") == 0     ? 1
		            : strcmp(getenv("BLAZEFS_RELAY_TAMPER"), "replay") == 0 ? 2
		                                                                    : 0;
		syslog(LOG_WARNING, "relay: BLAZEFS_RELAY_TAMPER=%s: a lying relay, for tests",
		       getenv("BLAZEFS_RELAY_TAMPER"));
	}
	if (load_dbs(r)) {
		syslog(LOG_ERR, "relay: %s/db: %s", r->dir, strerror(errno));
		goto fail;
	}
	if ((r->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto fail;
	if (do_listen(r, cfg->listen_addr, cfg->port)) {
		syslog(LOG_ERR, "relay: cannot listen on %s:%d: %s",
		       cfg->listen_addr ? cfg->listen_addr : "*", cfg->port, strerror(errno));
		goto fail;
	}
	return r;
fail:
	relay_close(r);
	return NULL;
}

/* ---- connections ---- */

static void
rpeer_close(struct relay *r, struct rpeer *p, const char *why)
{
	if (why != NULL)
		syslog(LOG_INFO, "relay: %s: %s", p->addr, why);
	for (size_t i = 0; i < RELAY_MAX_PEERS; i++)
		if (r->peers[i] == p)
			r->peers[i] = NULL;
	epoll_ctl(r->ep, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	conn_free(p->c);
	vv_clear(&p->sent);
	vv_clear(&p->want);
	free(p->raw);
	free(p);
}

static int
live(const struct relay *r, const struct rpeer *p)
{
	for (size_t i = 0; i < RELAY_MAX_PEERS; i++)
		if (r->peers[i] == p)
			return 1;
	return 0;
}

/* Writes what p's conn has queued; keeps EPOLLOUT while some is left. */
static int
flush(struct relay *r, struct rpeer *p)
{
	const uint8_t *b;
	size_t n;
	ssize_t w;

	while ((n = conn_out(p->c, &b)) > 0) {
		if ((w = send(p->fd, b, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		if (p->mode == RP_HANDSHAKE)
			p->written += (size_t)w;
		conn_drain(p->c, (size_t)w);
	}
	if ((n > 0) != p->want_out) {
		struct epoll_event ev = {0};

		p->want_out = n > 0;
		ev.events = EPOLLIN | (p->want_out ? EPOLLOUT : 0);
		ev.data.ptr = p;
		if (epoll_ctl(r->ep, EPOLL_CTL_MOD, p->fd, &ev))
			return -1;
	}
	return 0;
}

static int
send_msg(struct rpeer *p, uint8_t *m, size_t len)
{
	int rc = conn_send(p->c, m, len);

	free(m);
	return rc;
}

static int
send_hello(struct relay *r, struct rpeer *p)
{
	struct msg_hello h;
	uint8_t *m;
	size_t len;
	int rc;

	memset(&h, 0, sizeof(h));
	/* A peer like any other (protocol 3): a member pulls an origin from
	 * the relay only when it is that origin's best source (net/gossip.c). */
	h.protocol = MSG_PROTOCOL;
	memcpy(h.dbid, rstore_roster(r->dbs[p->db])->dbid, 32);
	h.device = r->self;
	snprintf(h.name, sizeof(h.name), "relay");
	/* No wall clock: a relay's clock must not move members' skew checks. */
	h.wall_ms = 0;
	if (rstore_vv(r->dbs[p->db], &h.vv))
		return -1;
	rc = msg_hello_encode(&h, &m, &len);
	vv_clear(&h.vv);
	return rc ? -1 : send_msg(p, m, len);
}

static int
send_ack(struct relay *r, struct rpeer *p)
{
	struct vv v = {0, NULL};
	uint8_t *m;
	size_t len;
	int rc;

	if (rstore_vv(r->dbs[p->db], &v))
		return -1;
	rc = msg_ack_encode(&v, &m, &len);
	vv_clear(&v);
	return rc ? -1 : send_msg(p, m, len);
}

/* Asks p for every origin of the roster (the relay is a store: members
 * stream it all they have), each with the seq stored here.  Protocol-3
 * members only: older ones stream everything unasked. */
static int
send_want(struct relay *r, struct rpeer *p)
{
	const struct roster *ro = rstore_roster(r->dbs[p->db]);
	struct vv have = {0, NULL}, w = {0, NULL};
	uint8_t *m;
	size_t len;
	int rc = 0;

	if (!p->session || p->protocol < 3)
		return 0;
	if (rstore_vv(r->dbs[p->db], &have))
		return -1;
	for (size_t i = 0; i < ro->n && rc == 0; i++)
		rc = vv_set(&w, ro->m[i].device, vv_get(&have, ro->m[i].device));
	vv_clear(&have);
	if (rc == 0)
		rc = msg_want_encode(&w, &m, &len);
	vv_clear(&w);
	return rc ? -1 : send_msg(p, m, len);
}

/* A message of type type (PAIRED): status and text. */
static int
send_text(struct rpeer *p, int type, int status, const char *text)
{
	size_t tl = strlen(text), len = 3 + tl;
	uint8_t *m = malloc(len);

	if (m == NULL)
		return -1;
	m[0] = MSG_VERSION;
	m[1] = (uint8_t)type;
	m[2] = (uint8_t)status;
	memcpy(m + len - tl, text, tl);
	return send_msg(p, m, len);
}

static int
send_error(struct rpeer *p, int code, uint64_t used, uint64_t quota)
{
	uint8_t *m = malloc(19);

	if (m == NULL)
		return -1;
	m[0] = MSG_VERSION;
	m[1] = RELAY_MSG_ERROR;
	m[2] = (uint8_t)code;
	be64(m + 3, used);
	be64(m + 11, quota);
	return send_msg(p, m, 19);
}

struct batch {
	struct msg_buf b;
	struct vv *sent;
	long n;
	int flip;
};

static int
batch_cb(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct batch *bt = ctx;
	int rc;

	if (bt->flip) {
		uint8_t *c = malloc(len);

		if (c == NULL)
			return -1;
		memcpy(c, blob, len);
		c[len / 2] ^= 0x01;
		rc = msg_changes_add(&bt->b, c, len);
		free(c);
	} else {
		rc = msg_changes_add(&bt->b, blob, len);
	}
	if (rc || vv_set(bt->sent, origin, seq))
		return -1;
	bt->n++;
	return 0;
}

/* Streams to p what it lacks, while its output stays under RELAY_OUT_MAX. */
static int
pump(struct relay *r, struct rpeer *p)
{
	const uint8_t *b;
	struct vv none = {0, NULL};

	while (p->session && conn_out(p->c, &b) < RELAY_OUT_MAX) {
		struct batch bt;
		long got;
		int rc;

		if (msg_changes_init(&bt.b))
			return -1;
		bt.sent = &p->sent;
		bt.n = 0;
		bt.flip = r->tamper == 1;
		if (r->tamper == 2 && p->sent.n > 0 && hlc_mono_ms() > p->replayed + 1000) {
			/* Replays what the member has, once a second at most. */
			struct vv scratch = {0, NULL};

			p->replayed = hlc_mono_ms();
			bt.sent = &scratch;
			got = rstore_missing(r->dbs[p->db], &none, MSG_BATCH_BYTES, batch_cb, &bt);
			vv_clear(&scratch);
			bt.sent = &p->sent;
			rc = got > 0 ? conn_send(p->c, bt.b.p, bt.b.len) : 0;
			free(bt.b.p);
			if (got < 0 || rc || msg_changes_init(&bt.b))
				return -1;
			bt.n = 0;
		}
		/* A protocol-3 member pulls each origin from one source: only
		 * those it asked the relay for (none before its first WANT), as
		 * net/sync.c streams such a peer.  Older members get all. */
		if (p->protocol >= 3 && !p->want_known) {
			free(bt.b.p);
			return 0;
		}
		got = rstore_missing_of(r->dbs[p->db], &p->sent, p->protocol >= 3 ? &p->want : NULL,
		                        MSG_BATCH_BYTES, batch_cb, &bt);
		if (got <= 0 || bt.n == 0) {
			free(bt.b.p);
			return got < 0 ? -1 : 0;
		}
		rc = conn_send(p->c, bt.b.p, bt.b.len);
		free(bt.b.p);
		if (rc)
			return -1;
	}
	return 0;
}

static void
pump_db(struct relay *r, int db, const struct rpeer *except)
{
	for (size_t i = 0; i < RELAY_MAX_PEERS; i++) {
		struct rpeer *q = r->peers[i];

		if (q == NULL || q == except || q->mode != RP_MEMBER || q->db != db)
			continue;
		if (pump(r, q) || flush(r, q))
			rpeer_close(r, q, "send failed");
	}
}

/* Tells the other protocol-3 members of db that route (they sent a WANT)
 * what the relay now holds, once on disk, as a device announces what it has:
 * a member pulling an origin elsewhere learns the relay has more of it. */
static void
announce_db(struct relay *r, int db, const struct rpeer *except)
{
	for (size_t i = 0; i < RELAY_MAX_PEERS; i++) {
		struct rpeer *q = r->peers[i];

		if (q == NULL || q == except || q->mode != RP_MEMBER || q->db != db ||
		    !q->session || q->protocol < 3 || !q->want_known || q->closing)
			continue;
		if (send_ack(r, q) || flush(r, q))
			rpeer_close(r, q, "send failed");
	}
}

/* 1 if v (a member's vector) lacks some change stored here. */
static int
lacks(struct relay *r, const struct rpeer *p, const struct vv *v)
{
	struct vv mine = {0, NULL};
	int rc = 0;

	if (rstore_vv(r->dbs[p->db], &mine))
		return 0;
	for (size_t i = 0; i < mine.n && !rc; i++)
		rc = mine.e[i].seq > vv_get(v, mine.e[i].origin);
	vv_clear(&mine);
	return rc;
}

/* Keeps in v (a member's vector) only origins stored here: a member's
 * made-up ones must not grow what the session keeps and scans. */
static int
known_only(struct relay *r, const struct rpeer *p, struct vv *v)
{
	struct vv mine = {0, NULL};
	size_t i, k = 0;

	if (rstore_vv(r->dbs[p->db], &mine))
		return -1;
	for (i = 0; i < v->n; i++)
		if (vv_get(&mine, v->e[i].origin) > 0)
			v->e[k++] = v->e[i];
	v->n = k;
	vv_clear(&mine);
	return 0;
}

static int
on_hello(struct relay *r, struct rpeer *p, const uint8_t *m, size_t len)
{
	struct msg_hello h;

	if (msg_hello_decode(m, len, &h))
		return -1;
	if (h.protocol < MSG_PROTOCOL_MIN || h.protocol > MSG_PROTOCOL ||
	    memcmp(h.dbid, rstore_roster(r->dbs[p->db])->dbid, 32) != 0 || h.device != p->device) {
		vv_clear(&h.vv);
		errno = EPROTO;
		return -1;
	}
	if (known_only(r, p, &h.vv)) {
		vv_clear(&h.vv);
		return -1;
	}
	vv_clear(&p->sent);
	p->sent = h.vv;
	p->protocol = h.protocol;
	if (p->session)
		return 0;
	syslog(LOG_INFO, "relay: %s: member %016llx (%s) in session", p->addr,
	       (unsigned long long)p->device, h.name[0] ? "named" : "unnamed");
	p->session = 1;
	return send_want(r, p);
}

/* The origins the member pulls from the relay from now on (what it has of
 * each is what it has: merged like an ACK). */
static int
on_want(struct relay *r, struct rpeer *p, const uint8_t *m, size_t len)
{
	struct vv v, known = {0, NULL};
	int rc;

	if (!p->session || p->protocol < 3 || msg_want_decode(m, len, &v))
		return -1;
	/* Kept whole (bounded by MSG_MAX, looked up by binary search): it may
	 * name origins stored here only later.  Only stored ones count as
	 * what the member has. */
	rc = vv_merge(&known, &v) || known_only(r, p, &known) || vv_merge(&p->sent, &known);
	vv_clear(&known);
	if (rc) {
		vv_clear(&v);
		return -1;
	}
	vv_clear(&p->want);
	p->want = v;
	p->want_known = 1;
	return 0;
}

static int
on_changes(struct relay *r, struct rpeer *p, const uint8_t *m, size_t len, int *stored)
{
	struct rstore *s = r->dbs[p->db];
	const uint8_t *blob;
	size_t off = 0, blen;
	uint64_t origin, seq;
	int gap = 0, res;

	if (!p->session || msg_changes_check(m, len) < 0)
		return -1;
	while (msg_changes_next(m, len, &off, &blob, &blen) == 1) {
		if ((res = rstore_add(s, blob, blen)) < 0) {
			if (errno == EDQUOT) {
				syslog(LOG_WARNING,
				       "relay: %s: database quota full (%llu of %llu bytes): "
				       "changes refused",
				       p->addr, (unsigned long long)rstore_bytes(s),
				       (unsigned long long)rstore_quota(s));
				if (send_error(p, RELAY_ERR_QUOTA, rstore_bytes(s),
				               rstore_quota(s)))
					return -1;
				break;
			}
			syslog(LOG_WARNING, "relay: %s: change refused: %s", p->addr,
			       errno == EACCES ? "its origin is not a member"
			                       : "forged or malformed");
			return -1;
		}
		if (res == RSTORE_GAP) {
			gap = 1;
			continue;
		}
		*stored |= res == RSTORE_STORED;
		change_peek(blob, blen, &origin, &seq);
		/* The sender has it: never send it back. */
		if (vv_get(&p->sent, origin) < seq && vv_set(&p->sent, origin, seq))
			return -1;
	}
	/* Forwarded at once, acknowledged only once on disk: the sender keeps
	 * every change anyway, the ACK is what says the relay holds it. */
	if (*stored) {
		pump_db(r, p->db, p);
		if (rstore_sync(s))
			return -1;
		announce_db(r, p->db, p);
	}
	return gap ? send_hello(r, p) : send_ack(r, p);
}

/* After a roster update: sessions of devices it no longer admits end (a
 * removed device is refused from its next dial on); the others are asked
 * for the new roster's origins too. */
static void
drop_removed(struct relay *r, int db)
{
	for (size_t i = 0; i < RELAY_MAX_PEERS; i++) {
		struct rpeer *q = r->peers[i];

		if (q == NULL || q->mode != RP_MEMBER || q->db != db || q->closing)
			continue;
		if (!roster_admits(rstore_roster(r->dbs[db]), q->rs))
			q->closing = 1, shutdown(q->fd, SHUT_RD);
		else if (send_want(r, q) || flush(r, q))
			q->closing = 1, shutdown(q->fd, SHUT_RD);
	}
}

static int
on_member_msg(struct relay *r, struct rpeer *p, const uint8_t *m, size_t len, int *stored)
{
	struct vv v;
	uint8_t *o;
	size_t olen;
	int rc;

	if (len >= 2 && m[0] == MSG_VERSION && m[1] == RELAY_MSG_DEPOSIT) {
		uint8_t st[3] = {MSG_VERSION, RELAY_MSG_DEPOSITED, 0};

		if (len < 42 + 1 || len > 42 + RELAYJOIN_BOX_MAX)
			return -1;
		if (box_put(r, p->db, m + 2, get64(m + 34), m + 42, len - 42, 1)) {
			syslog(LOG_WARNING, "relay: %s: an invite's box refused: %s", p->addr,
			       strerror(errno));
			st[2] = 1;
		} else {
			syslog(LOG_INFO, "relay: %s: an invite's box kept", p->addr);
		}
		return conn_send(p->c, st, sizeof(st));
	}
	if (len >= 2 && m[0] == MSG_VERSION && m[1] == RELAY_MSG_ROSTER) {
		rc = rstore_set_roster(r->dbs[p->db], m + 2, len - 2);
		if (rc < 0)
			syslog(LOG_WARNING, "relay: %s: a roster refused: %s", p->addr,
			       errno == EPERM ? "not signed by an admin" : strerror(errno));
		else if (rc == 1) {
			syslog(LOG_INFO, "relay: %s: roster updated", p->addr);
			drop_removed(r, p->db);
		}
		return 0;
	}
	switch (msg_type(m, len)) {
	case MSG_HELLO:
		return on_hello(r, p, m, len);
	case MSG_CHANGES:
		return on_changes(r, p, m, len, stored);
	case MSG_ACK:
		if (!p->session || msg_ack_decode(m, len, &v))
			return -1;
		rc = known_only(r, p, &v) || vv_merge(&p->sent, &v) ? -1 : 0;
		/* A protocol-3 member's announcement that lacks what is stored
		 * here is answered with the relay's: a member drops origins it
		 * did not know as members when the relay's HELLO came (a joiner
		 * learns them from what it then pulls), and it grew since. */
		if (rc == 0 && p->protocol >= 3 && p->want_known && lacks(r, p, &v))
			rc = send_ack(r, p);
		vv_clear(&v);
		return rc;
	case MSG_WANT:
		return on_want(r, p, m, len);
	case MSG_PING:
		/* Answered in order: a member's PING after a WANT that dropped
		 * an origin tells it what was sent of it has all arrived. */
		return msg_empty_encode(MSG_PONG, &o, &olen) ? -1 : send_msg(p, o, olen);
	case MSG_PONG:
		return 0;
	default:
		errno = EBADMSG;
		return -1;
	}
}

/* A pairing: the network key and a roster its own signer's key sent. */
static int
on_pair(struct relay *r, struct rpeer *p, const uint8_t *m, size_t len)
{
	const struct roster_member *signer;
	struct roster ro;
	struct rstore *s;
	char dir[PATH_MAX + 80];
	size_t i;
	int rc;

	if (len < 2 + 32 || m[0] != MSG_VERSION || m[1] != RELAY_MSG_PAIR)
		return -1;
	if (roster_decode(m + 34, len - 34, &ro))
		return send_text(p, RELAY_MSG_PAIRED, 1, "the roster does not check");
	signer = roster_find(&ro, ro.signer);
	if (sodium_memcmp(signer->box_pub, p->rs, 32) != 0) {
		roster_clear(&ro);
		return send_text(p, RELAY_MSG_PAIRED, 1, "the roster is not signed by the dialler");
	}
	for (i = 0; i < r->ndbs; i++)
		if (memcmp(rstore_roster(r->dbs[i])->dbid, ro.dbid, 32) == 0)
			break;
	if (i < r->ndbs) {
		/* Paired already: only an admin of the roster it has may
		 * re-pair (a new network key, a newer roster). */
		roster_clear(&ro);
		rc = rstore_set_roster(r->dbs[i], m + 34, len - 34);
		if (rc < 0)
			return send_text(p, RELAY_MSG_PAIRED, 1,
			                 "this database is paired here already, and the roster "
			                 "the relay has does not list the dialler as an admin");
		if (rstore_set_netkey(r->dbs[i], m + 2))
			return send_text(p, RELAY_MSG_PAIRED, 1, "cannot store the network key");
		netkey_psk(r->psk[i], m + 2);
		syslog(LOG_INFO, "relay: %s: database re-paired", p->addr);
		return send_text(p, RELAY_MSG_PAIRED, 0, "paired again");
	}
	db_dir(r, ro.dbid, dir, sizeof(dir));
	roster_clear(&ro);
	if (r->ndbs == RELAY_DBS_MAX)
		return send_text(p, RELAY_MSG_PAIRED, 1,
		                 "the relay serves all the databases it can");
	if ((rstore_create(dir, m + 2, m + 34, len - 34) && errno != EEXIST) ||
	    (s = rstore_open(dir, r->quota)) == NULL) {
		syslog(LOG_WARNING, "relay: %s: cannot store a database: %s", dir, strerror(errno));
		return send_text(p, RELAY_MSG_PAIRED, 1, "the relay cannot store the database");
	}
	add_db(r, s);
	syslog(LOG_INFO, "relay: %s: database paired", p->addr);
	return send_text(p, RELAY_MSG_PAIRED, 0, "paired");
}

/* The handshake under trial's psk is done: a member of that database gets a
 * session, a pairing its one message; anyone else is refused. */
static int
on_ready(struct relay *r, struct rpeer *p)
{
	const struct roster *ro;

	conn_remote_key(p->c, p->rs);
	free(p->raw);
	p->raw = NULL;
	if (p->pairing) {
		p->mode = RP_PAIR;
		return 0;
	}
	ro = rstore_roster(r->dbs[p->trial]);
	if (!roster_admits(ro, p->rs)) {
		errno = EACCES;
		return -1;
	}
	p->mode = RP_MEMBER;
	p->db = (int)p->trial;
	p->device = journal_key_origin(p->rs);
	return send_hello(r, p);
}

/* Message 1 did not open under trial's psk: the next database's, with the
 * bytes so far replayed; what was written already (the suite byte) is not
 * written again.  CONN_DEAD when none is left. */
static int
next_trial(struct relay *r, struct rpeer *p)
{
	const uint8_t *b;
	size_t n;
	int ev = CONN_DEAD;

	while (++p->trial <= r->ndbs) {
		p->pairing = p->trial == r->ndbs;
		conn_free(p->c);
		if ((p->c = conn_new(0, r->priv, NULL)) == NULL ||
		    conn_set_network(p->c, r->psk[p->trial]) || conn_feed(p->c, p->raw, p->rawlen))
			return CONN_DEAD;
		ev = conn_poll(p->c, &b, &n);
		if (ev != CONN_DEAD || !conn_stranger(p->c))
			break;
	}
	if (ev == CONN_DEAD)
		return ev;
	n = conn_out(p->c, &b);
	conn_drain(p->c, p->written < n ? p->written : n);
	return ev;
}

/* Refuses p: one line a minute per kind at most (a stranger can dial in a
 * loop), saying how many were not logged. */
static void
stranger(struct relay *r, struct rpeer *p, int kind)
{
	static const char *what[2] = {"did not prove the key of any database here",
	                              "not a member of the database whose key it proved"};
	uint64_t t = hlc_mono_ms();

	if (r->stranger_log[kind] != 0 && t - r->stranger_log[kind] < 60000) {
		r->strangers[kind]++;
		rpeer_close(r, p, NULL);
		return;
	}
	syslog(LOG_WARNING, "relay: %s: refused: %s (%lu more since not logged)", p->addr,
	       what[kind], r->strangers[kind]);
	r->stranger_log[kind] = t;
	r->strangers[kind] = 0;
	rpeer_close(r, p, NULL);
}

static void
readable(struct relay *r, struct rpeer *p)
{
	uint8_t buf[65536];
	const uint8_t *m, *out;
	size_t len;
	ssize_t got;
	int ev, stored = 0, loops = 0;

	while (loops++ < 4 && conn_out(p->c, &m) < RELAY_OUT_MAX + MSG_MAX) {
		if ((got = recv(p->fd, buf, sizeof(buf), 0)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			rpeer_close(r, p, strerror(errno));
			return;
		}
		if (got == 0) {
			rpeer_close(r, p, p->mode == RP_MEMBER ? "disconnected" : NULL);
			return;
		}
		/* Kept until message 1 opens: what follows it (message 3, and a
		 * member's first messages with it) is the settled conn's alone. */
		if (p->mode == RP_HANDSHAKE && !p->settled) {
			uint8_t *nr;

			if (p->rawlen + (size_t)got > RELAY_RAW_MAX ||
			    (nr = realloc(p->raw, p->rawlen + (size_t)got)) == NULL) {
				rpeer_close(r, p, NULL);
				return;
			}
			memcpy(nr + p->rawlen, buf, (size_t)got);
			p->raw = nr;
			p->rawlen += (size_t)got;
		}
		if (conn_feed(p->c, buf, (size_t)got)) {
			rpeer_close(r, p, "out of memory");
			return;
		}
		for (;;) {
			ev = conn_poll(p->c, &m, &len);
			if (ev == CONN_DEAD && p->mode == RP_HANDSHAKE && !p->settled &&
			    conn_stranger(p->c))
				ev = next_trial(r, p);
			/* Message 2 written (more than the suite byte): settled. */
			if (p->mode == RP_HANDSHAKE && !p->settled && ev != CONN_DEAD &&
			    p->written + conn_out(p->c, &out) > 1) {
				p->settled = 1;
				free(p->raw);
				p->raw = NULL;
				p->rawlen = 0;
			}
			if (ev <= 0)
				break;
			p->last_rx = hlc_mono_ms();
			if (ev == CONN_READY && on_ready(r, p)) {
				stranger(r, p, 1);
				return;
			}
			if (ev == CONN_MSG && p->mode == RP_PAIR && len == 34 &&
			    m[0] == MSG_VERSION && m[1] == RELAY_MSG_FETCH) {
				uint8_t *box, *o;
				size_t blen = 0;

				box = box_take(r, m + 2, &blen);
				syslog(LOG_INFO, "relay: %s: %s", p->addr,
				       box ? "an invite's box fetched (and forgotten)"
				           : "asked for an invite's box it does not hold");
				if ((o = malloc(2 + blen)) == NULL) {
					free(box);
					rpeer_close(r, p, "out of memory");
					return;
				}
				o[0] = MSG_VERSION;
				o[1] = RELAY_MSG_BOX;
				if (box)
					memcpy(o + 2, box, blen);
				free(box);
				if (send_msg(p, o, 2 + blen)) {
					rpeer_close(r, p, "send failed");
					return;
				}
				p->closing = 1;
			} else if (ev == CONN_MSG && p->mode == RP_PAIR) {
				if (on_pair(r, p, m, len)) {
					rpeer_close(r, p, "bad pairing");
					return;
				}
				p->closing = 1;
			} else if (ev == CONN_MSG && on_member_msg(r, p, m, len, &stored)) {
				rpeer_close(r, p, "protocol error");
				return;
			}
		}
		if (ev == CONN_DEAD) {
			if (p->mode == RP_HANDSHAKE && p->trial > r->ndbs)
				stranger(r, p, 0);
			else
				rpeer_close(r, p,
				            p->mode == RP_MEMBER ? "connection broken" : NULL);
			return;
		}
	}
	if ((p->mode == RP_MEMBER && pump(r, p)) || flush(r, p)) {
		rpeer_close(r, p, "send failed");
		return;
	}
}

static void
accept_all(struct relay *r)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int fd, one = 1;

	while ((fd = accept4(r->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	       0) {
		struct epoll_event ev = {0};
		struct rpeer *p;
		size_t i, unauth = 0, slot = RELAY_MAX_PEERS;

		sl = sizeof(ss);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (i = 0; i < RELAY_MAX_PEERS; i++) {
			if (r->peers[i] == NULL)
				slot = slot == RELAY_MAX_PEERS ? i : slot;
			else
				unauth += r->peers[i]->mode == RP_HANDSHAKE;
		}
		/* Strangers' handshakes cannot take every slot. */
		if (slot == RELAY_MAX_PEERS || unauth >= RELAY_UNAUTH_MAX ||
		    (p = calloc(1, sizeof(*p))) == NULL) {
			close(fd);
			continue;
		}
		dial_peer_text(&ss, host, sizeof(host), p->addr, sizeof(p->addr));
		p->fd = fd;
		p->db = -1;
		p->pairing = r->ndbs == 0;
		p->since = p->last_rx = hlc_mono_ms();
		if ((p->c = conn_new(0, r->priv, NULL)) == NULL ||
		    conn_set_network(p->c, r->psk[0])) {
			conn_free(p->c);
			free(p);
			close(fd);
			continue;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = p;
		if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev)) {
			conn_free(p->c);
			free(p);
			close(fd);
			continue;
		}
		r->peers[slot] = p;
	}
}

static void
tick(struct relay *r)
{
	uint64_t t = hlc_mono_ms();
	const uint8_t *b;

	for (size_t i = 0; i < RELAY_MAX_PEERS; i++) {
		struct rpeer *p = r->peers[i];

		if (p == NULL)
			continue;
		if (p->closing && conn_out(p->c, &b) == 0)
			rpeer_close(r, p, NULL);
		else if (p->mode != RP_MEMBER && t > p->since + 3000)
			rpeer_close(r, p, NULL);
		else if (t > p->last_rx + NET_DEAD_MS)
			rpeer_close(r, p, "dead: no traffic");
	}
}

int
relay_run(struct relay *r)
{
	struct epoll_event evs[64];
	uint64_t last = 0;

	syslog(LOG_INFO, "relay: serving %zu database%s", r->ndbs, r->ndbs == 1 ? "" : "s");
	while (!r->stop) {
		int n = epoll_wait(r->ep, evs, 64, 100);

		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++) {
			struct rpeer *p = evs[i].data.ptr;

			if (p == NULL) {
				accept_all(r);
				continue;
			}
			if (!live(r, p))
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				readable(r, p);
			if (live(r, p) && (evs[i].events & EPOLLOUT)) {
				if ((p->mode == RP_MEMBER && pump(r, p)) || flush(r, p))
					rpeer_close(r, p, "send failed");
			}
		}
		if (hlc_mono_ms() >= last + 100) {
			last = hlc_mono_ms();
			tick(r);
		}
	}
	return 0;
}

void
relay_stop(struct relay *r)
{
	r->stop = 1;
}

void
relay_close(struct relay *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < RELAY_MAX_PEERS; i++)
		if (r->peers[i] != NULL)
			rpeer_close(r, r->peers[i], NULL);
	for (size_t i = 0; i < RELAY_BOX_SLOTS; i++)
		if (r->boxes[i].used)
			box_drop(r, &r->boxes[i], 0);
	for (size_t i = 0; i < r->ndbs; i++)
		rstore_close(r->dbs[i]);
	if (r->lfd >= 0)
		close(r->lfd);
	if (r->ep >= 0)
		close(r->ep);
	sodium_free(r->priv);
	sodium_memzero(r->psk, sizeof(r->psk));
	free(r);
}

/* ---- the admin's side of a pairing ---- */

int
relay_dial(const char *hostport)
{
	struct addrinfo hints = {0}, *res = NULL;
	char host[256], *colon;
	struct timeval tv = {5, 0};
	int fd;

	if (snprintf(host, sizeof(host), "%s", hostport) >= (int)sizeof(host) ||
	    (colon = strrchr(host, ':')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	*colon = '\0';
	if (host[0] == '[' && colon > host && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) || res == NULL) {
		errno = EHOSTUNREACH;
		return -1;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		freeaddrinfo(res);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, res->ai_addr, res->ai_addrlen)) {
		int e = errno;

		freeaddrinfo(res);
		close(fd);
		errno = e;
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
relay_pair(const char *db, const char *hostport, uint8_t pub[32], const char **why)
{
	uint8_t *keys = sodium_malloc(32 + 32 + 64 + NETKEY_LEN), psk[32], buf[4096];
	uint8_t *priv = keys, *dpub = keys + 32, *sk = keys + 64, *nk = keys + 128;
	uint8_t *roster = NULL, *m = NULL;
	struct journal *j = NULL;
	struct conn *c = NULL;
	const uint8_t *out, *msg;
	size_t rlen, olen, mlen;
	int fd = -1, rc = -1, ev, sent = 0;
	ssize_t got;

	*why = "cannot read this device's keys";
	if (keys == NULL || identity_load(db, priv, dpub) || identity_sign_load(db, sk) ||
	    netkey_read(db, nk))
		goto out;
	*why = "no blazefs database there";
	if ((j = journal_open(db, JOURNAL_RDONLY)) == NULL)
		goto out;
	*why = "only an admin pairs a database with a relay (blazefs devices)";
	if (roster_build(j, sk, &roster, &rlen))
		goto out;
	*why = "out of memory";
	if ((m = malloc(2 + NETKEY_LEN + rlen)) == NULL)
		goto out;
	m[0] = MSG_VERSION;
	m[1] = RELAY_MSG_PAIR;
	memcpy(m + 2, nk, NETKEY_LEN);
	memcpy(m + 2 + NETKEY_LEN, roster, rlen);
	*why = "cannot reach the relay";
	if ((fd = relay_dial(hostport)) < 0)
		goto out;
	relay_pair_psk(psk);
	if ((c = conn_new(1, priv, NULL)) == NULL || conn_set_network(c, psk))
		goto out;
	*why = "the relay did not answer as a blazefs relay";
	for (;;) {
		while ((olen = conn_out(c, &out)) > 0) {
			ssize_t w = send(fd, out, olen, MSG_NOSIGNAL);

			if (w <= 0)
				goto out;
			conn_drain(c, (size_t)w);
		}
		while ((ev = conn_poll(c, &msg, &mlen)) > 0) {
			if (ev == CONN_READY) {
				conn_remote_key(c, pub);
				if (conn_send(c, m, 2 + NETKEY_LEN + rlen))
					goto out;
				sent = 1;
			} else if (ev == CONN_MSG && sent) {
				if (mlen < 3 || msg[0] != MSG_VERSION || msg[1] != RELAY_MSG_PAIRED)
					goto out;
				if (msg[2] != 0) {
					static char text[256];

					snprintf(text, sizeof(text), "the relay refused: %.*s",
					         (int)(mlen - 3 > 200 ? 200 : mlen - 3),
					         (const char *)msg + 3);
					for (char *q = text; *q; q++)
						if ((unsigned char)*q < 0x20 || *q == 0x7f)
							*q = '?';
					*why = text;
					goto out;
				}
				rc = 0;
				goto out;
			}
		}
		if (ev == CONN_DEAD)
			goto out;
		if (conn_out(c, &out) > 0)
			continue;
		if ((got = recv(fd, buf, sizeof(buf), 0)) <= 0 || conn_feed(c, buf, (size_t)got))
			goto out;
	}
out:
	if (rc == 0)
		*why = NULL;
	if (fd >= 0)
		close(fd);
	conn_free(c);
	journal_close(j);
	free(roster);
	if (m) {
		sodium_memzero(m, 2 + NETKEY_LEN);
		free(m);
	}
	sodium_free(keys);
	return rc;
}
