/*
 * relaylink: a member's side of blind relays (relay.h).  `blazefs relay add`
 * writes {"address": "HOST:PORT", "key": "<relay X25519 public key, hex>"}
 * as field RELAYLINK_FIELD of the pairing admin's .devices record: a synced,
 * sealed, admin-signed record, so every member learns the relay, and no one
 * but an admin can point members at one.  The network reads the relays
 * there (at start and every RELAYLINK_CHECK_MS), dials each from a target
 * slot of its own (no flag needed), and accepts a relay's static key as a
 * peer although it is not a member (it holds no content key: it stores and
 * forwards what members seal and sign, and members check every change as
 * from any peer).  An admin's session with a relay first hands it a fresh
 * roster (roster.h), so the relay follows membership changes.
 *
 * Network thread only, except relaylink_list (any journal reader).
 */
#ifndef NET_RELAYLINK_H
#define NET_RELAYLINK_H

#include <stddef.h>
#include <stdint.h>

struct journal;
struct net;
struct peer;

#define RELAYLINK_FIELD "relay"
#define RELAYLINK_MAX 4
#define RELAYLINK_CHECK_MS 2000

struct relaylink {
	char addr[280]; /* HOST:PORT */
	uint8_t pub[32];
};

/* The relays admins recorded in .devices, at most max of them into out: the
 * count, or -1 with errno. */
int relaylink_list(struct journal *j, struct relaylink *out, size_t max);

/* Journal meta: the relays a join was told of ("KEYHEX HOST:PORT" lines),
 * trusted as the introducer is, before .devices syncs (relaylink_list reads
 * both). */
#define RELAYLINK_META "relays"

struct msg_relays;

/* Remembers the relays a WELCOME named in RELAYLINK_META.  0 or -1. */
int relaylink_remember(struct journal *j, const struct msg_relays *r);

/* 1 if pub is the key of a relay n knows. */
int relaylink_known(const struct net *n, const uint8_t pub[32]);

/* 1 if a sync session with relay i runs, over whichever connection: one
 * dialled for its slot, or for a --peer naming its address. */
int relaylink_connected(const struct net *n, size_t i);

/* Reads the relays again if RELAYLINK_CHECK_MS passed (t: now, ms; 0:
 * now) and points the relay target slots at them. */
void relaylink_refresh(struct net *n, uint64_t t);

/* A session with peer p (whose static key is rs) just opened: if p is a
 * relay and this device an admin, queues a fresh roster for it.  0 or -1.
 * relaylink_refresh sends relays a fresh one whenever the members change. */
int relaylink_session(struct net *n, struct peer *p, const uint8_t rs[32]);

#endif
