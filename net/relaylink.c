/* relaylink: a member's side of blind relays; see relaylink.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <jansson.h>
#include <sodium.h>

#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "net/conn.h"
#include "net/dial.h"
#include "net/identity.h"
#include "net/msg.h"
#include "net/net_int.h"
#include "net/peer.h"
#include "net/relay.h"
#include "net/relaylink.h"
#include "net/roster.h"

struct lister;
static void add_one(struct lister *l, const char *addr, const uint8_t pub[32]);

struct lister {
	struct journal *j;
	struct relaylink *out;
	size_t max, n;
};

static int
each_device(void *ctx, const char *dev)
{
	struct lister *l = ctx;
	struct journal_member m;
	json_t *rec = NULL, *f;
	const char *addr, *key;
	uint64_t origin;
	uint8_t pub[32];
	char *buf = NULL;
	size_t len;

	if (l->n == l->max)
		return 1;
	/* Only an admin's own word counts (members write no .devices). */
	if (change_devid_parse(dev, &origin) || journal_member(l->j, origin, &m) ||
	    !(m.flags & JOURNAL_ADMIN) || (m.flags & JOURNAL_REMOVED))
		return 0;
	if (journal_read_record(l->j, ".devices", dev, &buf, &len) == 0 &&
	    (rec = json_loadb(buf, len, 0, NULL)) != NULL &&
	    (f = json_object_get(rec, RELAYLINK_FIELD)) != NULL &&
	    (addr = json_string_value(json_object_get(f, "address"))) != NULL &&
	    (key = json_string_value(json_object_get(f, "key"))) != NULL && strlen(key) == 64 &&
	    sodium_hex2bin(pub, 32, key, 64, NULL, NULL, NULL) == 0)
		add_one(l, addr, pub);
	json_decref(rec);
	free(buf);
	return 0;
}

/* Adds a relay to l's list unless it is there. */
static void
add_one(struct lister *l, const char *addr, const uint8_t pub[32])
{
	size_t k;

	if (l->n == l->max || strlen(addr) >= sizeof(l->out[0].addr))
		return;
	for (k = 0; k < l->n; k++)
		if (sodium_memcmp(l->out[k].pub, pub, 32) == 0 && strcmp(l->out[k].addr, addr) == 0)
			return;
	memcpy(l->out[l->n].pub, pub, 32);
	snprintf(l->out[l->n].addr, sizeof(l->out[0].addr), "%s", addr);
	l->n++;
}

int
relaylink_list(struct journal *j, struct relaylink *out, size_t max)
{
	struct lister l = {j, out, max, 0};
	char *text, *line, *save = NULL;
	uint8_t pub[32];
	void *v;
	size_t len;

	memset(out, 0, max * sizeof(*out));
	if (journal_list_records(j, ".devices", "", each_device, &l))
		return -1;
	if (journal_meta_get(j, RELAYLINK_META, &v, &len))
		return errno == ENOENT ? (int)l.n : -1;
	if ((text = malloc(len + 1)) == NULL) {
		free(v);
		return -1;
	}
	memcpy(text, v, len);
	text[len] = '\0';
	free(v);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strlen(line) > 65 && line[64] == ' ' &&
		    sodium_hex2bin(pub, 32, line, 64, NULL, NULL, NULL) == 0)
			add_one(&l, line + 65, pub);
	free(text);
	return (int)l.n;
}

int
relaylink_remember(struct journal *j, const struct msg_relays *w)
{
	char text[MSG_RELAYS_MAX * (64 + 1 + 256 + 1) + 1], hex[65];
	size_t off = 0;

	if (w->n == 0)
		return 0;
	for (size_t i = 0; i < w->n && i < MSG_RELAYS_MAX; i++) {
		/* A newline in an address would split it into two lines. */
		if (strchr(w->addr[i], '\n') != NULL)
			continue;
		sodium_bin2hex(hex, sizeof(hex), w->key[i], 32);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s %s\n", hex, w->addr[i]);
	}
	return journal_meta_put(j, RELAYLINK_META, text, off);
}

int
relaylink_known(const struct net *n, const uint8_t pub[32])
{
	for (size_t i = 0; i < n->nrelays; i++)
		if (sodium_memcmp(n->relays[i].pub, pub, 32) == 0)
			return 1;
	return 0;
}

int
relaylink_connected(const struct net *n, size_t i)
{
	uint8_t rs[32];

	for (size_t k = 0; k < NET_SLOTS; k++) {
		const struct peer *p = n->peers[k];

		if (p == NULL || p->state != PEER_SYNC || p->closing)
			continue;
		conn_remote_key(p->c, rs);
		if (sodium_memcmp(rs, n->relays[i].pub, 32) == 0)
			return 1;
	}
	return 0;
}

static void push_roster(struct net *n);

void
relaylink_refresh(struct net *n, uint64_t t)
{
	struct relaylink now[RELAYLINK_MAX];
	int k;

	if (t != 0 && t < n->relays_checked + RELAYLINK_CHECK_MS)
		return;
	n->relays_checked = t ? t : hlc_mono_ms();
	if (t != 0 && n->nrelays > 0)
		push_roster(n);
	if ((k = relaylink_list(n->j, now, RELAYLINK_MAX)) < 0)
		return;
	if ((size_t)k == n->nrelays && memcmp(now, n->relays, (size_t)k * sizeof(now[0])) == 0)
		return;
	memset(n->relays, 0, sizeof(n->relays));
	memcpy(n->relays, now, (size_t)k * sizeof(now[0]));
	n->nrelays = (size_t)k;
	for (size_t i = 0; i < RELAYLINK_MAX; i++) {
		struct target *tg = &n->targets[n->relay_first + i];

		if (tg->p != NULL)
			tg->p->target = -1; /* the old connection lives on by itself */
		memset(tg, 0, sizeof(*tg));
		tg->unused = 1;
		if (i < (size_t)k && dial_target_set(tg, now[i].addr) == 0) {
			tg->unused = 0;
			syslog(LOG_INFO, "relay %s: dialled for this database", now[i].addr);
		}
	}
	n->status_dirty = 1;
}

/* A fresh roster message signed by this device, or NULL (not an admin). */
static uint8_t *
roster_msg(struct net *n, size_t *len, uint8_t hash[32])
{
	uint8_t *sk, *roster = NULL, *m;
	size_t rl;
	int ok;

	if ((sk = sodium_malloc(64)) == NULL)
		return NULL;
	/* Only an admin signs a roster; a member has nothing to hand over. */
	ok = identity_sign_load(n->db, sk) == 0 && roster_build(n->j, sk, &roster, &rl) == 0;
	sodium_free(sk);
	if (!ok)
		return NULL;
	/* The members part: what changes when membership does (not the time). */
	crypto_generichash(hash, 32, roster + 56, rl - 56 - 64, NULL, 0);
	if ((m = malloc(rl + 2)) != NULL) {
		m[0] = MSG_VERSION;
		m[1] = RELAY_MSG_ROSTER;
		memcpy(m + 2, roster, rl);
		*len = rl + 2;
	}
	free(roster);
	return m;
}

int
relaylink_session(struct net *n, struct peer *p, const uint8_t rs[32])
{
	uint8_t *m;
	size_t len;
	int rc;

	if (!relaylink_known(n, rs) || (m = roster_msg(n, &len, n->roster_hash)) == NULL)
		return 0;
	rc = conn_send(p->c, m, len);
	free(m);
	return rc;
}

/* Sends every relay in session a fresh roster if the members changed. */
static void
push_roster(struct net *n)
{
	uint8_t hash[32], *m = NULL, rs[32];
	size_t len;
	int sent = 0;

	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL || p->state != PEER_SYNC || p->closing)
			continue;
		conn_remote_key(p->c, rs);
		if (!relaylink_known(n, rs))
			continue;
		if (m == NULL) {
			if ((m = roster_msg(n, &len, hash)) == NULL ||
			    memcmp(hash, n->roster_hash, 32) == 0)
				break;
			memcpy(n->roster_hash, hash, 32);
		}
		sent |= conn_send(p->c, m, len) == 0;
	}
	free(m);
	if (sent)
		peer_pump_all(n); /* writes it out */
}
