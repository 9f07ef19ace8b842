/* relayjoin: joining through a blind relay, inviter offline; see relayjoin.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "net/conn.h"
#include "net/identity.h"
#include "net/msg.h"
#include "net/netkey.h"
#include "net/relay.h"
#include "net/relayjoin.h"
#include "net/relaylink.h"
#include "net/roster.h"
#include "net/seal.h"
#include "net/sync.h"

#define RELAYJOIN_TIMEOUT_MS 15000

void
relayjoin_keys(const uint8_t psk[32], uint8_t id[32], uint8_t key[32])
{
	static const char tid[] = "blazefs/relay-box-id", tkey[] = "blazefs/relay-box-key";

	crypto_generichash(id, 32, (const uint8_t *)tid, sizeof(tid) - 1, psk, 32);
	crypto_generichash(key, 32, (const uint8_t *)tkey, sizeof(tkey) - 1, psk, 32);
}

int
relayjoin_open(const uint8_t *box, size_t len, const uint8_t psk[32], uint8_t *keys,
               uint8_t inviter[32], struct msg_welcome *w, struct msg_relays *rel)
{
	uint8_t id[32], key[32], *pt;
	unsigned long long ptlen;
	int rc = -1;

	if (len < 24 + 16 + RELAYJOIN_KEYS + 32 || len > RELAYJOIN_BOX_MAX) {
		errno = EBADMSG;
		return -1;
	}
	if ((pt = sodium_malloc(len)) == NULL)
		return -1;
	relayjoin_keys(psk, id, key);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, box + 24, len - 24, id, 32,
	                                               box, key) == 0 &&
	    ptlen > RELAYJOIN_KEYS + 32 &&
	    msg_welcome_decode_relays(pt + RELAYJOIN_KEYS + 32, ptlen - RELAYJOIN_KEYS - 32, w,
	                              rel) == 0) {
		memcpy(keys, pt, RELAYJOIN_KEYS);
		memcpy(inviter, pt + RELAYJOIN_KEYS, 32);
		rc = 0;
	}
	sodium_memzero(key, sizeof(key));
	sodium_free(pt);
	if (rc)
		errno = EBADMSG;
	return rc;
}

/* Writes out what c has queued.  0 or -1. */
static int
flush(int fd, struct conn *c)
{
	const uint8_t *o;
	size_t n;

	while ((n = conn_out(c, &o)) > 0) {
		ssize_t w = send(fd, o, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		conn_drain(c, (size_t)w);
	}
	return 0;
}

/* Waits (to the deadline) for bytes and feeds them to c.  0 or -1. */
static int
fill(int fd, struct conn *c, uint64_t deadline)
{
	uint8_t buf[65536];
	struct pollfd pfd = {fd, POLLIN, 0};
	uint64_t t = hlc_mono_ms();
	ssize_t r;

	if (t >= deadline || poll(&pfd, 1, (int)(deadline - t)) <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if ((r = recv(fd, buf, sizeof(buf), 0)) <= 0) {
		errno = EPROTO;
		return -1;
	}
	return conn_feed(c, buf, (size_t)r);
}

int
relayjoin_fetch(const char *hostport, const uint8_t psk[32], uint8_t *keys, uint8_t inviter[32],
                struct msg_welcome *w, struct msg_relays *rel)
{
	uint8_t kp[64], ppsk[32], id[32], key[32], m[34];
	const uint8_t *msg;
	struct conn *c = NULL;
	uint64_t deadline = hlc_mono_ms() + RELAYJOIN_TIMEOUT_MS;
	size_t mlen;
	int fd, ev, rc = -1;

	if ((fd = relay_dial(hostport)) < 0)
		return -1;
	/* A throwaway key: the relay needs none of ours. */
	crypto_box_keypair(kp + 32, kp);
	relay_pair_psk(ppsk);
	relayjoin_keys(psk, id, key);
	sodium_memzero(key, sizeof(key));
	if ((c = conn_new(1, kp, NULL)) == NULL || conn_set_network(c, ppsk))
		goto out;
	errno = EPROTO;
	for (;;) {
		while ((ev = conn_poll(c, &msg, &mlen)) > 0) {
			if (ev == CONN_READY) {
				m[0] = MSG_VERSION;
				m[1] = RELAY_MSG_FETCH;
				memcpy(m + 2, id, 32);
				if (conn_send(c, m, sizeof(m)))
					goto out;
			} else if (mlen >= 2 && msg[0] == MSG_VERSION && msg[1] == RELAY_MSG_BOX) {
				if (mlen == 2) {
					errno = ENOENT;
					goto out;
				}
				rc = relayjoin_open(msg + 2, mlen - 2, psk, keys, inviter, w, rel);
				goto out;
			} else {
				errno = EPROTO;
				goto out;
			}
		}
		if (ev == CONN_DEAD) {
			errno = EPROTO;
			goto out;
		}
		if (flush(fd, c) || fill(fd, c, deadline))
			goto out;
	}
out:
	sodium_memzero(kp, sizeof(kp));
	conn_free(c);
	close(fd);
	return rc;
}

/* The sealed box for the new device: keys (RELAYJOIN_KEYS), the inviter's
 * key, the WELCOME (wm).  Malloc'd *box. */
static int
seal_box(const uint8_t psk[32], const uint8_t *keys, const uint8_t inviter[32], const uint8_t *wm,
         size_t wl, uint8_t **box, size_t *len)
{
	uint8_t id[32], key[32], *pt;
	size_t ptlen = RELAYJOIN_KEYS + 32 + wl;
	unsigned long long clen;

	*len = 24 + ptlen + 16;
	if (*len > RELAYJOIN_BOX_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((pt = sodium_malloc(ptlen)) == NULL)
		return -1;
	if ((*box = malloc(*len)) == NULL) {
		sodium_free(pt);
		return -1;
	}
	memcpy(pt, keys, RELAYJOIN_KEYS);
	memcpy(pt + RELAYJOIN_KEYS, inviter, 32);
	memcpy(pt + RELAYJOIN_KEYS + 32, wm, wl);
	relayjoin_keys(psk, id, key);
	randombytes_buf(*box, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(*box + 24, &clen, pt, ptlen, id, 32, NULL, *box,
	                                           key);
	sodium_memzero(key, sizeof(key));
	sodium_free(pt);
	return 0;
}

/* The WELCOME the new device would have got from a join, relays included. */
static int
welcome(struct journal *j, const char *db, const struct relaylink *rl, int nrl, uint8_t **wm,
        size_t *wl)
{
	struct msg_welcome *w = sodium_malloc(sizeof(*w));
	struct journal_member root;
	struct msg_relays r;
	int n, rc = -1;

	if (w == NULL)
		return -1;
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < nrl && r.n < MSG_RELAYS_MAX; i++) {
		memcpy(r.key[r.n], rl[i].pub, 32);
		if (snprintf(r.addr[r.n], sizeof(r.addr[0]), "%s", rl[i].addr) <
		    (int)sizeof(r.addr[0]))
			r.n++;
	}
	if (journal_root(j, &root) == 0 && (n = seal_read_keys(db, w->keys)) > 0 &&
	    netkey_read(db, w->netkey) == 0) {
		w->nkeys = (size_t)n;
		journal_dbid(j, w->dbid);
		w->root = root.origin;
		memcpy(w->root_sign, root.sign_pub, 32);
		memcpy(w->root_box, root.box_pub, 32);
		if (msg_welcome_encode(w, wm, wl) == 0) {
			rc = msg_welcome_add_relays(wm, wl, &r);
			if (rc) {
				sodium_memzero(*wm, *wl);
				free(*wm);
			}
		}
	}
	sodium_free(w);
	return rc;
}

static int
send_cb(void *ctx, const uint8_t *m, size_t len)
{
	return conn_send(ctx, m, len);
}

/* 1 if the relay is known to have every change j has. */
static int
relay_has_all(struct journal *j, const struct sync *s)
{
	struct vv mine = {0, NULL};
	int all = 1;

	if (journal_vv(j, &mine))
		return 0;
	for (size_t i = 0; i < mine.n; i++)
		all &= vv_get(sync_acked(s), mine.e[i].origin) >= mine.e[i].seq;
	vv_clear(&mine);
	return all;
}

/* A session with the relay: hands it a fresh roster and the box, and pushes
 * what it lacks until it has everything this journal has. */
static int
session(struct journal *j, const char *db, const struct relaylink *rl, const uint8_t *priv,
        const uint8_t *dep, size_t deplen, const char **why)
{
	struct sync_config sc;
	struct sync *s = NULL;
	struct conn *c = NULL;
	uint8_t *nk = sodium_malloc(NETKEY_LEN + 64), psk[32], rs[32], *rm = NULL;
	const uint8_t *msg;
	uint64_t deadline = hlc_mono_ms() + RELAYJOIN_TIMEOUT_MS;
	size_t mlen, rl_len;
	int fd = -1, ev, rc = -1, deposited = 0;

	memset(&sc, 0, sizeof(sc));
	sc.j = j;
	sc.self = journal_self(j);
	journal_dbid(j, sc.dbid);
	snprintf(sc.name, sizeof(sc.name), "invite");
	*why = "cannot read this device's keys";
	if (nk == NULL || netkey_read(db, nk) || identity_sign_load(db, nk + NETKEY_LEN))
		goto out;
	netkey_psk(psk, nk);
	*why = "cannot make the roster";
	if (roster_build(j, nk + NETKEY_LEN, &rm, &rl_len))
		goto out;
	*why = "cannot reach the relay";
	if ((fd = relay_dial(rl->addr)) < 0)
		goto out;
	if ((c = conn_new(1, priv, NULL)) == NULL || conn_set_network(c, psk))
		goto out;
	*why = "the relay did not answer (is it running, and is this database paired there?)";
	for (;;) {
		while ((ev = conn_poll(c, &msg, &mlen)) > 0) {
			if (ev == CONN_READY) {
				uint8_t *m;

				conn_remote_key(c, rs);
				if (sodium_memcmp(rs, rl->pub, 32) != 0) {
					*why = "the relay's key is not the one the database was "
					       "paired "
					       "with";
					goto out;
				}
				if ((s = sync_new(&sc, journal_key_origin(rs), rl->addr, send_cb,
				                  c)) == NULL ||
				    (m = malloc(rl_len + 2)) == NULL)
					goto out;
				m[0] = MSG_VERSION;
				m[1] = RELAY_MSG_ROSTER;
				memcpy(m + 2, rm, rl_len);
				ev = conn_send(c, m, rl_len + 2) || conn_send(c, dep, deplen) ||
				     sync_start(s);
				free(m);
				if (ev)
					goto out;
			} else if (mlen == 3 && msg[0] == MSG_VERSION &&
			           msg[1] == RELAY_MSG_DEPOSITED) {
				if (msg[2] != 0) {
					*why =
					    "the relay refused the invite (too many pending there)";
					goto out;
				}
				deposited = 1;
			} else if (mlen >= 2 && msg[0] == MSG_VERSION &&
			           msg[1] == RELAY_MSG_ERROR) {
				*why = "the relay's quota for this database is full";
				goto out;
			} else if (s == NULL || sync_recv(s, msg, mlen) < 0) {
				goto out;
			}
		}
		if (ev == CONN_DEAD)
			goto out;
		while (s != NULL && sync_in_session(s) && conn_out(c, &msg) < (1 << 20) &&
		       (ev = sync_pump(s)) == 1)
			;
		if (s != NULL && ev < 0)
			goto out;
		if (deposited && s != NULL && sync_in_session(s) && relay_has_all(j, s)) {
			rc = 0;
			goto out;
		}
		if (flush(fd, c) || fill(fd, c, deadline))
			goto out;
	}
out:
	sync_free(s);
	conn_free(c);
	if (fd >= 0)
		close(fd);
	free(rm);
	if (nk)
		sodium_free(nk);
	return rc;
}

int
relayjoin_deposit(struct journal *j, const char *db, const uint8_t psk[32], long ttl,
                  const char *name, long long priority, int admin, char *addr, size_t addrlen,
                  const char **why)
{
	struct journal_crypto jc, none = {NULL, NULL, NULL};
	struct relaylink rl[RELAYLINK_MAX];
	struct identity_device d = {.name = name, .priority = priority, .admin = admin};
	uint8_t *k = sodium_malloc(RELAYJOIN_KEYS + 64), *box = NULL, *wm = NULL, *dep = NULL;
	uint8_t pub[32], id[32], key[32];
	struct seal *s = NULL;
	struct timespec ts;
	size_t wl = 0, blen = 0;
	int n, rc = -1;

	*why = "out of memory";
	if (k == NULL)
		return -1;
	*why = "the database is paired with no relay ('blazefs relay add' on an admin)";
	if ((n = relaylink_list(j, rl, RELAYLINK_MAX)) <= 0) {
		errno = n == 0 ? ENOENT : errno;
		goto out;
	}
	snprintf(addr, addrlen, "%s", rl[0].addr);
	*why = "cannot read this device's keys";
	if (identity_load(db, k + RELAYJOIN_KEYS, k + RELAYJOIN_KEYS + 32) ||
	    (s = seal_load(db)) == NULL)
		goto out;
	memcpy(pub, k + RELAYJOIN_KEYS + 32, 32);
	/* The new device, registered now as a join would register it. */
	crypto_box_keypair(k + 32, k);
	crypto_sign_keypair(d.sign_pub, k + 64);
	memcpy(d.box_pub, k + 32, 32);
	seal_hooks(s, &jc);
	journal_set_crypto(j, &jc);
	*why = "cannot register the new device";
	if (identity_register(j, &d) || journal_sync(j))
		goto out;
	*why = "cannot make the invite's box";
	if (welcome(j, db, rl, n, &wm, &wl) || seal_box(psk, k, pub, wm, wl, &box, &blen) ||
	    (dep = malloc(2 + 32 + 8 + blen)) == NULL)
		goto out;
	relayjoin_keys(psk, id, key);
	sodium_memzero(key, sizeof(key));
	clock_gettime(CLOCK_REALTIME, &ts);
	dep[0] = MSG_VERSION;
	dep[1] = RELAY_MSG_DEPOSIT;
	memcpy(dep + 2, id, 32);
	be64(dep + 34, ((uint64_t)ts.tv_sec + (uint64_t)ttl) * 1000);
	memcpy(dep + 42, box, blen);
	rc = session(j, db, &rl[0], k + RELAYJOIN_KEYS, dep, 42 + blen, why);
out:
	journal_set_crypto(j, &none);
	seal_free(s);
	if (wm) {
		sodium_memzero(wm, wl);
		free(wm);
	}
	free(box);
	free(dep);
	sodium_free(k);
	if (rc == 0)
		*why = NULL;
	return rc;
}
