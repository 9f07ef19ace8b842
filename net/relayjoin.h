/*
 * relayjoin: joining through a blind relay while the inviter is offline
 * (README "Choices", relay).  `blazefs invite DB --relay` makes a long code
 * (its secret gives the psk, join.h) and, instead of waiting for the joiner,
 * does the inviter's half at once: makes the new device's keys, registers it
 * in .devices (an admin's signed change, as a join would), and leaves at the
 * relay a box sealed to the code:
 *     id  = BLAKE2b-256(key = psk, "blazefs/relay-box-id")
 *     box = nonce(24) | XChaCha20-Poly1305(key = BLAKE2b-256(key = psk,
 *           "blazefs/relay-box-key"), ad = id,
 *           X25519 secret | X25519 public | Ed25519 secret (the new
 *           device's keys) | the inviter's X25519 public key | WELCOME
 *           (msg.h, with the relays))
 * It then pushes what the relay lacks (the registration among it) in a sync
 * session, so the inviter may go offline.  The joiner fetches the box by its
 * id (a connection under the public pairing psk: the id is unguessable
 * without the code), the relay hands it out once and forgets it (or at its
 * expiry), and the joiner opens it with the code: the relay learns nothing it
 * could use, and a box it altered does not open.  The new device's secret
 * keys were made by the inviter (an admin, who could register any key) and
 * wiped there; they travel only inside the box.
 */
#ifndef NET_RELAYJOIN_H
#define NET_RELAYJOIN_H

#include <stddef.h>
#include <stdint.h>

struct journal;
struct msg_welcome;
struct msg_relays;

#define RELAYJOIN_BOX_MAX 16384
#define RELAYJOIN_KEYS 128 /* X25519 secret | public | Ed25519 secret */

/* The box id and key a psk gives. */
void relayjoin_keys(const uint8_t psk[32], uint8_t id[32], uint8_t key[32]);

/*
 * The inviter's half (j this admin's journal, db its directory): registers a
 * new device named name (priority, admin as `invite` sets them), seals its
 * box to psk, leaves it at the first relay (expiring in ttl seconds) and
 * pushes the relay what it lacks.  0 with the relay's address in addr, or -1
 * with errno and *why (static text).
 */
int relayjoin_deposit(struct journal *j, const char *db, const uint8_t psk[32], long ttl,
                      const char *name, long long priority, int admin, char *addr, size_t addrlen,
                      const char **why);

/*
 * Opens a box (untrusted bytes: pure, fuzzed): 0 with the new device's keys in
 * keys (RELAYJOIN_KEYS bytes, the caller's sodium_malloc'd), the inviter's key,
 * the WELCOME and its relays; -1 (EBADMSG) if it does not open or parse.
 */
int relayjoin_open(const uint8_t *box, size_t len, const uint8_t psk[32], uint8_t *keys,
                   uint8_t inviter[32], struct msg_welcome *w, struct msg_relays *rel);

/*
 * The joiner's half: fetches the box for psk from the relay at hostport and
 * opens it (relayjoin_open).  0, or -1 with errno (ENOENT: no such box there,
 * used or expired; EBADMSG: it does not open; EPROTO: no relay answered).
 */
int relayjoin_fetch(const char *hostport, const uint8_t psk[32], uint8_t *keys, uint8_t inviter[32],
                    struct msg_welcome *w, struct msg_relays *rel);

#endif
