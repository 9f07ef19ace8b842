/* join: both halves of a join; see join.h. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "net/conn.h"
#include "net/identity.h"
#include "net/join.h"
#include "net/msg.h"
#include "net/netlog.h"
#include "net/netkey.h"
#include "net/seal.h"

#define JOIN_TIMEOUT_MS 15000

_Static_assert(MSG_KEYS_MAX == SEAL_KEYS_MAX, "a WELCOME holds the whole keyring");

void
join_psk(uint8_t psk[32], const uint8_t secret[32])
{
	static const uint8_t ctx[] = "blazefs/join";

	crypto_generichash(psk, 32, secret, 32, ctx, sizeof(ctx) - 1);
}

/* ---- the inviter's half ---- */

int
join_invite(struct journal *j, const uint8_t secret[32], long ttl, long long priority, int admin)
{
	uint8_t val[JOIN_INVITE_LEN];
	/* Wall clock: an invite's expiry means the same across restarts. */
	uint64_t exp = hlc_wall_ms() + (uint64_t)ttl * 1000;
	int rc;

	join_psk(val, secret);
	be64(val + 32, exp);
	val[40] = 0;
	be64(val + 41, (uint64_t)priority);
	val[49] = admin != 0;
	rc = journal_meta_put(j, JOIN_INVITE_META, val, sizeof(val));
	sodium_memzero(val, sizeof(val));
	return rc;
}

int
join_invite_psk(struct journal *j, uint8_t psk[32])
{
	uint8_t *v;
	size_t len;
	int ok;

	if (journal_meta_get(j, JOIN_INVITE_META, (void **)&v, &len))
		return 0;
	ok = len == JOIN_INVITE_LEN && v[40] == 0 && hlc_wall_ms() < get64(v + 32);
	if (ok)
		memcpy(psk, v, 32);
	sodium_memzero(v, len);
	free(v);
	return ok;
}

int
join_burn(struct journal *j)
{
	uint8_t *v;
	size_t len;
	int rc = -1;

	if (journal_meta_get(j, JOIN_INVITE_META, (void **)&v, &len))
		return -1;
	if (len == JOIN_INVITE_LEN && v[40] == 0) {
		sodium_memzero(v, 32);
		v[40] = 1;
		rc = journal_meta_put(j, JOIN_INVITE_META, v, len);
	}
	free(v);
	return rc;
}

int
join_welcome(struct journal *j, const char *db, const uint8_t rs[32], const uint8_t *m, size_t len,
             uint8_t **out, size_t *outlen)
{
	char name[MSG_NAME_MAX + 1], dev[DEVID_LEN + 1], clean[NETLOG_TEXT_MAX + 1];
	struct identity_device d = {.name = name};
	struct journal_member root;
	struct msg_welcome w;
	uint8_t *v;
	size_t vl;
	int rc, n;

	*out = NULL;
	*outlen = 0;
	if (msg_type(m, len) != MSG_JOIN || msg_join_decode(m, len, name, d.sign_pub))
		return -1;
	/* The inviter, not the joiner, says what the new device may do. */
	if (journal_meta_get(j, JOIN_INVITE_META, (void **)&v, &vl))
		return -1;
	if (vl == JOIN_INVITE_LEN) {
		d.priority = (int64_t)get64(v + 41);
		d.admin = v[49];
	}
	free(v);
	if (vl != JOIN_INVITE_LEN) {
		errno = EINVAL;
		return -1;
	}
	memcpy(d.box_pub, rs, 32);
	if (identity_register(j, &d) || journal_root(j, &root) ||
	    (n = seal_read_keys(db, w.keys)) < 0 || netkey_read(db, w.netkey)) {
		sodium_memzero(&w, sizeof(w));
		return -1;
	}
	w.nkeys = (size_t)n;
	journal_dbid(j, w.dbid);
	w.root = root.origin;
	memcpy(w.root_sign, root.sign_pub, 32);
	memcpy(w.root_box, root.box_pub, 32);
	rc = msg_welcome_encode(&w, out, outlen);
	sodium_memzero(&w, sizeof(w));
	if (rc)
		return -1;
	change_devid(journal_key_origin(rs), dev);
	syslog(LOG_INFO, "device %s (%s) joined as %s", dev,
	       netlog_clean(clean, sizeof(clean), name, sizeof(name)),
	       d.admin ? "an admin" : "a member");
	return 0;
}

/* ---- the joiner's half ---- */

int
join_dial(const char *hostport)
{
	struct addrinfo hints = {0}, *res, *r;
	char host[256], *c;
	int fd = -1;

	snprintf(host, sizeof(host), "%s", hostport);
	if ((c = strrchr(host, ':')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	*c++ = '\0';
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, c, &hints, &res)) {
		errno = EHOSTUNREACH;
		return -1;
	}
	for (r = res; r != NULL; r = r->ai_next) {
		if ((fd = socket(r->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			continue;
		if (connect(fd, r->ai_addr, r->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
join_exchange(int fd, const uint8_t *keypair, const uint8_t psk[32], const char *name,
              const uint8_t sign_pub[32], struct msg_welcome *w, uint8_t rs[32])
{
	struct conn *c;
	const uint8_t *m, *o;
	uint8_t buf[65536], *j;
	struct pollfd pfd = {fd, POLLIN, 0};
	size_t len, jl;
	ssize_t r;
	int ev, ready = 0, sent, rc = -1, saved;
	uint64_t t0;

	if ((c = conn_new(1, keypair, psk)) == NULL)
		return -1;
	t0 = hlc_mono_ms();
	for (;;) {
		while ((ev = conn_poll(c, &m, &len)) > 0) {
			if (ev == CONN_READY) {
				ready = 1;
				if (msg_join_encode(name, sign_pub, &j, &jl))
					goto out;
				sent = conn_send(c, j, jl);
				free(j);
				if (sent)
					goto out;
			} else if (msg_welcome_decode(m, len, w) == 0) {
				conn_remote_key(c, rs);
				rc = 0;
				goto out;
			} else {
				goto refused;
			}
		}
		if (ev == CONN_DEAD)
			goto refused;
		while ((len = conn_out(c, &o)) > 0) {
			if ((r = send(fd, o, len, MSG_NOSIGNAL)) < 0)
				goto refused;
			conn_drain(c, (size_t)r);
		}
		if (hlc_mono_ms() - t0 > JOIN_TIMEOUT_MS) {
			errno = ETIMEDOUT;
			goto out;
		}
		if (poll(&pfd, 1, 1000) < 0)
			goto out;
		if (pfd.revents == 0)
			continue;
		if ((r = recv(fd, buf, sizeof(buf), 0)) <= 0)
			goto refused;
		if (conn_feed(c, buf, (size_t)r))
			goto out;
	}
refused:
	errno = ready ? EACCES : ECONNREFUSED;
out:
	saved = errno;
	conn_free(c);
	errno = saved;
	return rc;
}
