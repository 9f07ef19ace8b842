/*
 * attack: a hostile stranger and a hostile member, as a test program that
 * speaks the real protocol (net/conn.h, net/msg.h) with the project's own
 * code, over real sockets.  Each mode is one process:
 *
 *   stranger (no membership):
 *     halfopen HOST:PORT N [SECONDS]   N sockets that send the offer byte
 *                                      and 2 length bytes, then nothing;
 *                                      reopened when closed
 *     connflood HOST:PORT SECONDS      connect, send garbage and close, as
 *                                      fast as it goes
 *   member (DBDIR: a device made with `blazefs join`, not mounted):
 *     pingflood DBDIR HOST:PORT SECONDS   PINGs, never reading the PONGs
 *     giantack DBDIR HOST:PORT N          an ACK with N made-up origins
 *     bigrecord DBDIR HOST:PORT           a change of ours with a 3 MiB record
 *     logname DBDIR HOST:PORT             a HELLO whose name forges a log line
 *     fakeorigins DBDIR HOST:PORT N       changes claiming N made-up origins
 *     forge DBDIR HOST:PORT DEVID         a change claiming DEVID's origin
 *     ownorigin DBDIR HOST:PORT           a change claiming the receiver's own
 *     equivocate DBDIR HOST:PORT          a second, different change for
 *                                         DBDIR's last (origin, seq)
 *
 * Environment: ATTACK_SRC=ADDR binds the attacker's sockets to ADDR (tests
 * attack from 127.0.0.2 while the legitimate pair uses 127.0.0.1).
 * Prints one line saying what it did and, for changes, what the receiver did
 * with them ("accepted": an ACK came; "refused": the connection closed).
 * Exit 0 if the attack ran (whatever the receiver did), 2 on usage errors,
 * 1 if it could not run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "core/record.h"
#include "net/conn.h"
#include "net/identity.h"
#include "net/msg.h"
#include "net/netkey.h"
#include "net/seal.h"

static const char *prog = "attack";
static volatile sig_atomic_t stopped; /* SIGTERM/SIGINT: report and exit */

static void
on_stop(int sig)
{
	(void)sig;
	stopped = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

/* ---- sockets ---- */

/* A blocking TCP connection to "HOST:PORT" (from ATTACK_SRC if set), or -1.
 * The address is resolved once (floods call this in a loop). */
static int
dial_to(const char *hostport)
{
	static struct sockaddr_storage ss;
	static socklen_t sl;
	static int family;
	struct addrinfo hints = {0}, *res = NULL;
	const char *c = strrchr(hostport, ':'), *src = getenv("ATTACK_SRC");
	char host[256];
	int fd, one = 1;

	if (sl == 0) {
		if (c == NULL || (size_t)(c - hostport) >= sizeof(host)) {
			errno = EINVAL;
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(c - hostport), hostport);
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, c + 1, &hints, &res) || res == NULL ||
		    res->ai_addrlen > sizeof(ss)) {
			if (res)
				freeaddrinfo(res);
			errno = EHOSTUNREACH;
			return -1;
		}
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		sl = res->ai_addrlen;
		family = res->ai_family;
		freeaddrinfo(res);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src != NULL && family == AF_INET) {
		struct sockaddr_in sa = {0};

		sa.sin_family = AF_INET;
		/* The port is picked at connect: binds do not exhaust them. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (inet_pton(AF_INET, src, &sa.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static uint64_t
now_ms(void)
{
	return hlc_mono_ms();
}

/* ---- strangers ---- */

/* N sockets holding a frame open; a closed one is reopened (at most every
 * 100 ms per socket, so the attacker does not take the machine's CPU). */
static int
halfopen(const char *hostport, int n, int seconds)
{
	static const uint8_t head[3] = {CONN_OFFER | CONN_CAP_CHACHAPOLY, 0x00, 0x40};
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	uint64_t end = now_ms() + (uint64_t)seconds * 1000, opened = 0, closed = 0;
	uint8_t b[256];

	if (pf == NULL)
		die("calloc");
	for (int i = 0; i < n; i++)
		pf[i].fd = -1;
	while (!stopped && (seconds <= 0 || now_ms() < end)) {
		for (int i = 0; i < n; i++) {
			if (pf[i].fd >= 0)
				continue;
			if ((pf[i].fd = dial_to(hostport)) < 0)
				continue;
			if (write(pf[i].fd, head, sizeof(head)) != (ssize_t)sizeof(head)) {
				close(pf[i].fd);
				pf[i].fd = -1;
				continue;
			}
			pf[i].events = POLLIN;
			opened++;
		}
		if (poll(pf, (nfds_t)n, 100) < 0 && errno != EINTR)
			die("poll");
		for (int i = 0; i < n; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			if (read(pf[i].fd, b, sizeof(b)) <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				closed++;
			}
		}
		usleep(100 * 1000);
	}
	printf("halfopen: %llu sockets opened, %llu closed by the receiver\n",
	       (unsigned long long)opened, (unsigned long long)closed);
	for (int i = 0; i < n; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	free(pf);
	return 0;
}

/* Each connection sends a garbage frame (a selector no suite has) and
 * closes: one refused handshake each, as fast as it goes. */
static int
connflood(const char *hostport, int seconds)
{
	static const uint8_t junk[3] = {0x7f, 0xff, 0xff};
	uint64_t end = now_ms() + (uint64_t)seconds * 1000, k = 0, failed = 0;
	int fd;

	while (!stopped && now_ms() < end) {
		if ((fd = dial_to(hostport)) < 0) {
			failed++;
			usleep(1000);
			continue;
		}
		if (write(fd, junk, sizeof(junk)) < 0)
			failed++;
		close(fd);
		k++;
	}
	printf("connflood: %llu connections opened and closed (%llu failed)\n",
	       (unsigned long long)k, (unsigned long long)failed);
	return 0;
}

/* ---- a member's link ---- */

struct link {
	int fd;
	struct conn *c;
	uint64_t self;
	uint8_t dbid[32];
	struct seal *seal;
	struct journal *j;     /* DBDIR's, read-only: what our changes chain to */
	struct msg_hello peer; /* the receiver's HELLO */
	uint64_t own_seq;      /* DBDIR's last seq of its own */
};

/* Writes out everything queued.  0, or -1 if the connection broke. */
static int
lk_flush(struct link *l)
{
	const uint8_t *b;
	size_t len;
	ssize_t w;

	while ((len = conn_out(l->c, &b)) > 0) {
		if ((w = send(l->fd, b, len, MSG_NOSIGNAL)) < 0)
			return -1;
		conn_drain(l->c, (size_t)w);
	}
	return 0;
}

/* The next event within timeout_ms: CONN_READY, CONN_MSG (*m, *len), 0 on
 * timeout, -1 if the connection ended. */
static int
lk_next(struct link *l, int timeout_ms, const uint8_t **m, size_t *len)
{
	struct pollfd pf = {l->fd, POLLIN, 0};
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	uint8_t buf[65536];
	ssize_t r;
	int ev;

	for (;;) {
		if ((ev = conn_poll(l->c, m, len)) != CONN_AGAIN) {
			if (lk_flush(l))
				return -1;
			return ev == CONN_DEAD ? -1 : ev;
		}
		if (lk_flush(l))
			return -1;
		if (now_ms() >= end)
			return 0;
		if (poll(&pf, 1, (int)(end - now_ms())) <= 0)
			continue;
		if ((r = recv(l->fd, buf, sizeof(buf), 0)) <= 0)
			return -1;
		if (conn_feed(l->c, buf, (size_t)r))
			return -1;
	}
}

static int
lk_send(struct link *l, const uint8_t *m, size_t len)
{
	return conn_send(l->c, m, len) || lk_flush(l) ? -1 : 0;
}

/* Connects as DBDIR's device: handshake, the receiver's HELLO, ours (named
 * name, claiming the receiver's own vv so that it streams us nothing). */
static void
lk_open(struct link *l, const char *db, const char *hostport, const char *name)
{
	struct msg_hello h;
	struct vv mine = {0, NULL};
	uint8_t priv[32], pub[32], *m;
	const uint8_t *in;
	uint8_t net[NETKEY_LEN], psk[32];
	uint64_t t0;
	size_t len;
	int ev;

	memset(l, 0, sizeof(*l));
	if (identity_load(db, priv, pub))
		die("the device key of DBDIR");
	if ((l->seal = seal_load(db)) == NULL)
		die("the content key of DBDIR");
	if ((l->j = journal_open(db, JOURNAL_RDONLY)) == NULL)
		die("the journal of DBDIR");
	journal_dbid(l->j, l->dbid);
	l->self = journal_key_origin(pub);
	if (journal_vv(l->j, &mine) == 0)
		l->own_seq = vv_get(&mine, l->self);
	vv_clear(&mine);
	if ((l->fd = dial_to(hostport)) < 0)
		die(hostport);
	if (netkey_read(db, net))
		die("the network key of DBDIR");
	netkey_psk(psk, net);
	if ((l->c = conn_new(1, priv, NULL)) == NULL || conn_set_network(l->c, psk))
		die("conn_new");
	sodium_memzero(net, sizeof(net));
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(priv, sizeof(priv));
	t0 = now_ms();
	while ((ev = lk_next(l, 5000, &in, &len)) != CONN_READY)
		if (ev <= 0) {
			errno = ECONNREFUSED;
			die("handshake (is DBDIR a member?)");
		}
	if (lk_next(l, 5000, &in, &len) != CONN_MSG || msg_type(in, len) != MSG_HELLO ||
	    msg_hello_decode(in, len, &l->peer)) {
		errno = EPROTO;
		die("the receiver's HELLO");
	}
	/* What NET_HANDSHAKE_MS must leave room for. */
	printf("handshake and HELLO: %llu ms\n", (unsigned long long)(now_ms() - t0));
	memset(&h, 0, sizeof(h));
	h.protocol = MSG_PROTOCOL;
	memcpy(h.dbid, l->dbid, 32);
	h.device = l->self;
	snprintf(h.name, sizeof(h.name), "%s", name);
	h.vv = l->peer.vv;
	h.wall_ms = hlc_wall_ms();
	if (msg_hello_encode(&h, &m, &len) || lk_send(l, m, len))
		die("sending HELLO");
	free(m);
}

/* Waits up to ms for what the receiver does with what was sent: "accepted"
 * (an ACK), "refused" (the connection closed) or "no answer". */
static const char *
lk_verdict(struct link *l, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	const uint8_t *m;
	size_t len;
	int ev;

	while (now_ms() < end) {
		if ((ev = lk_next(l, (int)(end - now_ms()), &m, &len)) < 0)
			return "refused";
		if (ev == CONN_MSG && msg_type(m, len) == MSG_ACK)
			return "accepted";
		if (ev == 0)
			break;
	}
	return "no answer";
}

/* A change (origin, seq) setting attack/<rec>: collection and record
 * markers, then nfields fields of vlen bytes of JSON text each. */
static void
make_change(struct change *c, uint64_t origin, uint64_t seq, const char *rec, int nfields,
            size_t vlen)
{
	char field[32], *v = malloc(vlen + 1);

	if (v == NULL)
		die("malloc");
	memset(v, 'x', vlen);
	v[0] = v[vlen - 1] = '"';
	v[vlen] = '\0';
	memset(c, 0, sizeof(*c));
	c->origin = origin;
	c->seq = seq;
	c->hlc = hlc_from_ms(hlc_wall_ms());
	if (change_add(c, OP_SET, "attack", "", NULL, "true", NULL, 0) ||
	    change_add(c, OP_SET, "attack", rec, NULL, "true", NULL, 0))
		die("change_add");
	for (int i = 0; i < nfields; i++) {
		snprintf(field, sizeof(field), "f%d", i);
		if (change_add(c, OP_SET, "attack", rec, field, v, NULL, 0))
			die("change_add");
	}
	free(v);
}

/* Adds change c, sealed with the content key and chained to the blob before
 * it in DBDIR (if DBDIR holds one), to batch b. */
static void
batch_add(struct link *l, struct msg_buf *b, const struct change *c)
{
	uint8_t *enc, *sealed, prev[CHANGE_PREV_BYTES] = {0};
	size_t elen, slen;

	if (c->seq > 1 && journal_get_change(l->j, c->origin, c->seq - 1, &enc, &elen) == 0) {
		crypto_generichash(prev, sizeof(prev), enc, elen, NULL, 0);
		free(enc);
	}
	if (change_encode(c, &enc, &elen) || seal_seal(l->seal, enc, elen, prev, &sealed, &slen) ||
	    msg_changes_add(b, sealed, slen))
		die("encoding a change");
	free(enc);
	free(sealed);
}

/* Sends one change claiming (origin, seq) and reports the verdict. */
static int
send_one(struct link *l, const char *mode, uint64_t origin, uint64_t seq, int nfields, size_t vlen)
{
	struct msg_buf b;
	struct change c;
	char dev[DEVID_LEN + 1];

	make_change(&c, origin, seq, mode, nfields, vlen);
	if (msg_changes_init(&b))
		die("msg_changes_init");
	batch_add(l, &b, &c);
	change_clear(&c);
	if (lk_send(l, b.p, b.len))
		die("sending CHANGES");
	free(b.p);
	change_devid(origin, dev);
	printf("%s: change %s/%llu: %s\n", mode, dev, (unsigned long long)seq, lk_verdict(l, 5000));
	return 0;
}

static int
pingflood(struct link *l, int seconds)
{
	uint64_t end = now_ms() + (uint64_t)seconds * 1000, sent = 0;
	struct pollfd pf = {l->fd, POLLOUT, 0};
	const uint8_t *b;
	uint8_t *m;
	size_t len, out;
	ssize_t w;

	if (msg_empty_encode(MSG_PING, &m, &len))
		die("encoding PING");
	while (!stopped && now_ms() < end) {
		while (conn_out(l->c, &b) < 65536) {
			if (conn_send(l->c, m, len))
				die("conn_send");
			sent++;
		}
		if (poll(&pf, 1, 100) <= 0)
			continue;
		out = conn_out(l->c, &b);
		if ((w = send(l->fd, b, out, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0) {
			if (errno == EAGAIN)
				continue;
			break;
		}
		conn_drain(l->c, (size_t)w);
	}
	free(m);
	printf("pingflood: %llu PINGs queued, no PONG read\n", (unsigned long long)sent);
	return 0;
}

static int
giantack(struct link *l, long n)
{
	struct vv v = {0, NULL};
	uint64_t o = 1;
	uint8_t *m;
	size_t len;

	if ((v.e = calloc((size_t)n, sizeof(*v.e))) == NULL)
		die("calloc");
	for (long i = 0; i < n; i++) {
		o += 1 + randombytes_uniform(1000);
		v.e[i].origin = o;
		v.e[i].seq = 1 + randombytes_uniform(1000);
	}
	v.n = (size_t)n;
	if (msg_ack_encode(&v, &m, &len) || lk_send(l, m, len))
		die("sending the ACK");
	vv_clear(&v);
	free(m);
	/* Held open a while: the receiver keeps the session (and what it
	 * learned) as long as the connection lives. */
	printf("giantack: an ACK of %ld origins (%zu bytes): %s\n", n, len,
	       strcmp(lk_verdict(l, 5000), "refused") == 0 ? "connection closed"
	                                                   : "connection kept");
	return 0;
}

static int
fakeorigins(struct link *l, long n)
{
	struct msg_buf b;
	struct change c;
	long sent = 0;

	if (msg_changes_init(&b))
		die("msg_changes_init");
	for (long i = 0; i < n; i++) {
		uint64_t o;

		randombytes_buf(&o, sizeof(o));
		make_change(&c, o | 1, 1, "fakeorigins", 1, 8);
		batch_add(l, &b, &c);
		change_clear(&c);
		if (b.len >= MSG_BATCH_BYTES || i == n - 1) {
			if (lk_send(l, b.p, b.len))
				break;
			sent = i + 1;
			free(b.p);
			if (msg_changes_init(&b))
				die("msg_changes_init");
		}
	}
	free(b.p);
	printf("fakeorigins: %ld of %ld changes with made-up origins sent: %s\n", sent, n,
	       lk_verdict(l, 5000));
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: %s halfopen HOST:PORT N [SECONDS]\n"
	        "       %s connflood HOST:PORT SECONDS\n"
	        "       %s pingflood|giantack|bigrecord|logname|fakeorigins|forge|"
	        "ownorigin|equivocate DBDIR HOST:PORT [ARG]\n",
	        prog, prog, prog);
	exit(2);
}

static long
number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < 0)
		usage();
	return v;
}

/* The member modes: one link as DBDIR's device, closed when done. */
static int
member(const char *mode, const char *db, const char *hp, int argc, char **argv)
{
	struct link l;
	uint64_t dev;
	int rc = -2;

	memset(&l, 0, sizeof(l));
	l.fd = -1;
	if (rc == -2 && strcmp(mode, "pingflood") == 0 && argc == 5) {
		lk_open(&l, db, hp, "pingflood");
		rc = pingflood(&l, (int)number(argv[4]));
	}
	if (rc == -2 && strcmp(mode, "giantack") == 0 && argc == 5) {
		lk_open(&l, db, hp, "giantack");
		rc = giantack(&l, number(argv[4]));
	}
	if (rc == -2 && strcmp(mode, "bigrecord") == 0 && argc == 4) {
		/* 3 fields of 1 MiB - 16: 3 MiB in one record, under the 4 MiB
		 * change limit. */
		lk_open(&l, db, hp, "bigrecord");
		rc = send_one(&l, mode, l.self, vv_get(&l.peer.vv, l.self) + 1, 3,
		              RECORD_MAX_BYTES - 16);
	}
	if (rc == -2 && strcmp(mode, "logname") == 0 && argc == 4) {
		lk_open(&l, db, hp,
		        "evil\nblazefs[1]: FORGED-LOG-LINE peer 10.0.0.9 admin: in sync session");
		lk_verdict(&l, 1000);
		printf("logname: a HELLO with a forged log line in its name sent\n");
		rc = 0;
	}
	if (rc == -2 && strcmp(mode, "fakeorigins") == 0 && argc == 5) {
		lk_open(&l, db, hp, "fakeorigins");
		rc = fakeorigins(&l, number(argv[4]));
	}
	if (rc == -2 && strcmp(mode, "forge") == 0 && argc == 5) {
		if (change_devid_parse(argv[4], &dev))
			usage();
		lk_open(&l, db, hp, "forge");
		rc = send_one(&l, mode, dev, vv_get(&l.peer.vv, dev) + 1, 1, 8);
	}
	if (rc == -2 && strcmp(mode, "ownorigin") == 0 && argc == 4) {
		lk_open(&l, db, hp, "ownorigin");
		rc = send_one(&l, mode, l.peer.device, vv_get(&l.peer.vv, l.peer.device) + 1, 1, 8);
	}
	if (rc == -2 && strcmp(mode, "equivocate") == 0 && argc == 4) {
		lk_open(&l, db, hp, "equivocate");
		rc = 1;
		if (l.own_seq == 0)
			fprintf(stderr, "%s: DBDIR's device has sent no change yet\n", prog);
		else
			rc = send_one(&l, mode, l.self, l.own_seq, 1, 16);
	}
	if (rc == -2)
		usage();
	conn_free(l.c);
	seal_free(l.seal);
	journal_close(l.j);
	vv_clear(&l.peer.vv);
	if (l.fd >= 0)
		close(l.fd);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *mode, *db, *hp;
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (sodium_init() < 0 || argc < 3)
		usage();
	mode = argv[1];
	if (strcmp(mode, "halfopen") == 0 && (argc == 4 || argc == 5))
		return halfopen(argv[2], (int)number(argv[3]),
		                argc == 5 ? (int)number(argv[4]) : 0);
	if (strcmp(mode, "connflood") == 0 && argc == 4)
		return connflood(argv[2], (int)number(argv[3]));
	if (argc < 4)
		usage();
	db = argv[2];
	hp = argv[3];
	return member(mode, db, hp, argc, argv);
}
