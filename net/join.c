/* join: both halves of a join; see join.h. */
#include <ctype.h>
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
#include "net/relaylink.h"
#include "net/netkey.h"
#include "net/seal.h"

#define JOIN_TIMEOUT_MS 15000

_Static_assert(MSG_KEYS_MAX == SEAL_KEYS_MAX, "a WELCOME holds the whole keyring");

/* The short code's 256 words, 8 bits each (sorted, for bsearch). */
static const char *const join_words[256] = {
    "able", "acid", "aged", "also", "area", "army", "away", "baby", "back", "ball", "band", "bank",
    "base", "bath", "bear", "beat", "bell", "belt", "bend", "best", "bird", "bite", "blow", "blue",
    "boat", "body", "bold", "bone", "book", "boot", "born", "boss", "both", "bowl", "burn", "bush",
    "busy", "cake", "calm", "camp", "card", "care", "cart", "case", "cash", "cast", "cave", "chef",
    "chin", "city", "clay", "clip", "club", "coal", "coat", "code", "coin", "cold", "cook", "cool",
    "copy", "corn", "cost", "crew", "crop", "cure", "cute", "dark", "dawn", "deal", "dear", "deck",
    "deep", "deer", "desk", "dial", "dice", "diet", "dish", "dock", "door", "dove", "down", "draw",
    "drum", "duck", "dust", "duty", "each", "earn", "ease", "east", "easy", "echo", "edge", "else",
    "epic", "even", "exit", "face", "fact", "fair", "fall", "farm", "fast", "fern", "file", "film",
    "fine", "fire", "firm", "fish", "five", "flag", "flat", "flow", "foam", "fold", "folk", "food",
    "foot", "fork", "form", "fort", "four", "free", "frog", "fuel", "full", "fund", "gain", "game",
    "gate", "gear", "gift", "girl", "glad", "glow", "goal", "goat", "gold", "golf", "good", "gray",
    "grid", "grow", "gulf", "hair", "half", "hall", "hand", "harp", "hawk", "head", "heat", "help",
    "herb", "hero", "high", "hill", "hint", "hole", "home", "hood", "hook", "hope", "horn", "host",
    "hour", "huge", "hunt", "idea", "inch", "iron", "item", "jade", "jazz", "join", "joke", "jump",
    "jury", "keen", "keep", "kind", "king", "kite", "knee", "knot", "lake", "lamp", "land", "lane",
    "last", "lava", "lawn", "leaf", "lens", "life", "lift", "lime", "line", "lion", "list", "loaf",
    "lock", "loft", "long", "loop", "lord", "luck", "lung", "mail", "main", "mild", "milk", "mill",
    "mind", "mint", "mist", "moon", "moss", "moth", "move", "much", "mule", "nail", "name", "neat",
    "neck", "nest", "news", "nice", "nine", "node", "nose", "note", "oak",  "oats", "once", "open",
    "oval", "oven", "pace", "pack", "page", "palm", "park", "path", "peak", "pear", "pine", "pink",
    "pipe", "plan", "play", "plum",
};

void
join_psk(uint8_t psk[32], const uint8_t secret[32])
{
	static const uint8_t ctx[] = "blazefs/join";

	crypto_generichash(psk, 32, secret, 32, ctx, sizeof(ctx) - 1);
}

int
join_code_format(char *out, size_t len, const struct join_code *c)
{
	int n = snprintf(out, len, "%u-%s-%s-%s", c->slot, join_words[c->w[0]], join_words[c->w[1]],
	                 join_words[c->w[2]]);

	if (n < 0 || (size_t)n >= len) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

static int
join_word_cmp(const void *k, const void *e)
{
	return strcmp(k, *(const char *const *)e);
}

int
join_code_parse(const char *s, size_t len, struct join_code *c)
{
	char w[16];
	const char *const *f;
	size_t i = 0, k, n;
	unsigned slot = 0;

	/* The number: one or two digits. */
	for (n = 0; i < len && isdigit((unsigned char)s[i]) && n < 3; i++, n++)
		slot = slot * 10 + (unsigned)(s[i] - '0');
	if (n == 0 || n > 2 || slot >= JOIN_SLOTS)
		goto bad;
	c->slot = (uint8_t)slot;
	for (k = 0; k < JOIN_CODE_WORDS; k++) {
		/* A person may type spaces or dashes between the parts. */
		if (i >= len || (s[i] != '-' && s[i] != ' '))
			goto bad;
		while (i < len && (s[i] == '-' || s[i] == ' '))
			i++;
		for (n = 0; i < len && isalpha((unsigned char)s[i]); i++, n++) {
			if (n + 1 >= sizeof(w))
				goto bad;
			w[n] = (char)tolower((unsigned char)s[i]);
		}
		w[n] = '\0';
		f = bsearch(w, join_words, 256, sizeof(join_words[0]), join_word_cmp);
		if (f == NULL)
			goto bad;
		c->w[k] = (uint8_t)(f - join_words);
	}
	if (i != len)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

void
join_code_prs(uint8_t prs[JOIN_PRS_LEN], const struct join_code *c)
{
	prs[0] = c->slot;
	memcpy(prs + 1, c->w, JOIN_CODE_WORDS);
}

void
join_slot_key(uint8_t key[32], uint8_t slot)
{
	static const uint8_t ctx[] = "blazefs/join-slot";

	crypto_generichash(key, 32, &slot, 1, ctx, sizeof(ctx) - 1);
}

/* ---- the inviter's half ---- */

static int
join_store(struct journal *j, const uint8_t key[32], int kind, uint8_t slot, long ttl,
           long long priority, int admin)
{
	uint8_t val[JOIN_INVITE_LEN];
	/* Wall clock: an invite's expiry means the same across restarts. */
	uint64_t exp = hlc_wall_ms() + (uint64_t)ttl * 1000;
	int rc;

	memcpy(val, key, 32);
	be64(val + 32, exp);
	val[40] = 0;
	be64(val + 41, (uint64_t)priority);
	val[49] = admin != 0;
	val[50] = (uint8_t)kind;
	val[51] = slot;
	rc = journal_meta_put(j, JOIN_INVITE_META, val, sizeof(val));
	sodium_memzero(val, sizeof(val));
	return rc;
}

int
join_invite(struct journal *j, const uint8_t secret[32], long ttl, long long priority, int admin)
{
	uint8_t psk[32];
	int rc;

	join_psk(psk, secret);
	rc = join_store(j, psk, JOIN_KIND_LONG, 0, ttl, priority, admin);
	sodium_memzero(psk, sizeof(psk));
	return rc;
}

int
join_invite_code(struct journal *j, struct join_code *c, long ttl, long long priority, int admin)
{
	uint8_t key[32] = {0}, *v;
	size_t len;
	int rc;

	/* The next slot after the last invite's: a code an invite replaced
	 * names another slot, so its joiner hears "replaced", not "wrong"
	 * (which would burn the new invite). */
	if (journal_meta_get(j, JOIN_INVITE_META, (void **)&v, &len) == 0) {
		c->slot = (uint8_t)(len == JOIN_INVITE_LEN ? (v[51] + 1u) % JOIN_SLOTS
		                                           : randombytes_uniform(JOIN_SLOTS));
		sodium_memzero(v, len);
		free(v);
	} else {
		c->slot = (uint8_t)randombytes_uniform(JOIN_SLOTS);
	}
	randombytes_buf(c->w, sizeof(c->w));
	join_code_prs(key, c);
	rc = join_store(j, key, JOIN_KIND_SHORT, c->slot, ttl, priority, admin);
	sodium_memzero(key, sizeof(key));
	return rc;
}

int
join_invite_state(struct journal *j, int *kind, uint8_t *slot, uint8_t key[32])
{
	uint8_t *v;
	size_t len;
	int st;

	*kind = JOIN_KIND_LONG;
	*slot = 0;
	if (journal_meta_get(j, JOIN_INVITE_META, (void **)&v, &len))
		return CONN_PAKE_NONE;
	if (len != JOIN_INVITE_LEN) {
		st = CONN_PAKE_NONE; /* made by an older blazefs */
	} else {
		*kind = v[50];
		*slot = v[51];
		st = v[40]                            ? CONN_PAKE_USED
		     : hlc_wall_ms() >= get64(v + 32) ? CONN_PAKE_EXPIRED
		                                      : CONN_PAKE_OK;
		if (st == CONN_PAKE_OK)
			memcpy(key, v, 32);
	}
	sodium_memzero(v, len);
	free(v);
	return st;
}

int
join_invite_tag(struct journal *j, uint8_t key[32])
{
	uint8_t k[32], slot;
	int kind;

	if (join_invite_state(j, &kind, &slot, k) != CONN_PAKE_OK)
		return 0;
	if (kind == JOIN_KIND_SHORT)
		join_slot_key(k, slot);
	netkey_invite_tag_key(key, k);
	sodium_memzero(k, sizeof(k));
	return 1;
}

int
join_invite_psk(struct journal *j, uint8_t psk[32])
{
	uint8_t slot;
	int kind;

	return join_invite_state(j, &kind, &slot, psk) == CONN_PAKE_OK && kind == JOIN_KIND_LONG;
}

int
join_burn(struct journal *j)
{
	return join_burn_as(j, JOIN_USED_JOINED);
}

int
join_burn_as(struct journal *j, int how)
{
	uint8_t *v;
	size_t len;
	int rc = -1;

	if (journal_meta_get(j, JOIN_INVITE_META, (void **)&v, &len))
		return -1;
	if (len == JOIN_INVITE_LEN && v[40] == 0) {
		sodium_memzero(v, 32);
		v[40] = (uint8_t)how;
		rc = journal_meta_put(j, JOIN_INVITE_META, v, len);
	}
	free(v);
	return rc;
}

/* The joiner is told the relays, to reach them before any record syncs. */
static int
add_relays(struct journal *j, uint8_t **out, size_t *outlen)
{
	struct relaylink rl[MSG_RELAYS_MAX];
	struct msg_relays r;
	int k = relaylink_list(j, rl, MSG_RELAYS_MAX);

	memset(&r, 0, sizeof(r));
	for (int i = 0; i < k; i++) {
		memcpy(r.key[r.n], rl[i].pub, 32);
		if (snprintf(r.addr[r.n], sizeof(r.addr[0]), "%s", rl[i].addr) <
		    (int)sizeof(r.addr[0]))
			r.n++;
	}
	return msg_welcome_add_relays(out, outlen, &r);
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
	if (add_relays(j, out, outlen)) {
		sodium_memzero(*out, *outlen);
		free(*out);
		*out = NULL;
		return -1;
	}
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
join_exchange(int fd, const uint8_t *keypair, const uint8_t psk[32], const struct join_code *code,
              const char *name, const uint8_t sign_pub[32], struct msg_welcome *w, uint8_t rs[32])
{
	return join_exchange_relays(fd, keypair, psk, code, name, sign_pub, w, rs, NULL);
}

int
join_exchange_relays(int fd, const uint8_t *keypair, const uint8_t psk[32],
                     const struct join_code *code, const char *name, const uint8_t sign_pub[32],
                     struct msg_welcome *w, uint8_t rs[32], struct msg_relays *relays)
{
	struct msg_relays none;
	uint8_t prs[JOIN_PRS_LEN];
	struct conn *c;
	const uint8_t *m, *o;
	uint8_t buf[65536], *j;
	struct pollfd pfd = {fd, POLLIN, 0};
	size_t len, jl;
	ssize_t r;
	int ev, ready = 0, sent, rc = -1, saved;
	uint64_t t0;

	if ((c = conn_new(1, keypair, code ? NULL : psk)) == NULL)
		return -1;
	if (code != NULL) {
		join_code_prs(prs, code);
		rc = conn_set_pake(c, CONN_PAKE_OK, code->slot, prs, sizeof(prs));
		sodium_memzero(prs, sizeof(prs));
		if (rc) {
			conn_free(c);
			return -1;
		}
		rc = -1;
	}
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
			} else if (msg_welcome_decode_relays(m, len, w, relays ? relays : &none) ==
			           0) {
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
	switch (conn_pake_status(c)) {
	case -1:
		errno = EPROTO; /* not even a choice byte: no blazefs there */
		break;
	case CONN_PAKE_NONE:
		errno = ENOENT;
		break;
	case CONN_PAKE_REPLACED:
		errno = ESTALE;
		break;
	case CONN_PAKE_EXPIRED:
		errno = ETIME;
		break;
	case CONN_PAKE_USED:
		errno = EALREADY;
		break;
	default:
		errno = ready ? EACCES : ECONNREFUSED;
	}
out:
	saved = errno;
	conn_free(c);
	errno = saved;
	return rc;
}

int
join_invite_outcome(struct journal *j, uint8_t slot)
{
	uint8_t *v;
	size_t len;
	int rc;

	if (journal_meta_get(j, JOIN_INVITE_META, (void **)&v, &len))
		return -1;
	if (len != JOIN_INVITE_LEN || v[51] != slot)
		rc = -1; /* replaced */
	else if (v[40] != 0)
		rc = v[40];
	else
		rc = hlc_wall_ms() >= get64(v + 32) ? -2 : 0;
	sodium_memzero(v, len);
	free(v);
	return rc;
}
