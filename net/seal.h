/*
 * seal: end-to-end sealing of change blobs with the database's content keys
 * (DESIGN §4).  A sealed blob is
 *     header (CHANGE_HEADER_BYTES, in clear) | key id (CHANGE_KEYID_BYTES)
 *     | prev (CHANGE_PREV_BYTES, version 2) | nonce (24) | XChaCha20-Poly1305(rest)
 *     | Ed25519 signature (CHANGE_SIG_BYTES) of every byte before it
 * with the header, key id and prev as associated data, so a blob cannot be
 * moved to another id.  prev is the hash of the origin's blob before it
 * (core/change.h); version-1 blobs, made before the chain, have none.  The
 * signature, by the origin's DB/sign.key, is what the journal checks
 * (journal_trust.c) before it opens a blob: anyone holding the signers'
 * public keys can check it without a content key.
 *
 * Content keys and rotation.  DB/content.key is a keyring: the database's
 * keys, 32 bytes each, in the order this device learnt them; a key's id is
 * the first 8 bytes of its BLAKE2b hash.  Blobs are sealed with the current
 * key and opened with whichever key their id names, so old changes stay
 * readable.  Removing a device (seal_rotate) makes a new key and hands it to
 * every remaining member as a sealed box to its X25519 key, in a field
 * "key_<id hex>" of its .devices record; seal_refresh, run by the network,
 * takes in the keys boxed to this device.  A key becomes current once the
 * journal knows where it was handed out (journal meta "key/<id hex>", set as
 * those boxes are applied), so nothing is sealed with a key no one else can
 * get.  The removed device gets no box: it cannot open what is written
 * after.
 *
 * Threads: the journal's owner seals while the network opens and refreshes:
 * the keyring is behind a mutex.  Ownership: keys live in sodium_malloc'd
 * memory; seal_free() wipes and frees them (NULL is a no-op).  Outputs of
 * seal_seal/seal_open are malloc'd and belong to the caller.
 */
#ifndef NET_SEAL_H
#define NET_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/journal.h"

#define SEAL_KEY_LEN 32
#define SEAL_NONCE_LEN 24
#define SEAL_TAG_LEN 16
#define SEAL_OVERHEAD                                                                              \
	(CHANGE_KEYID_BYTES + CHANGE_PREV_BYTES + SEAL_NONCE_LEN + SEAL_TAG_LEN + CHANGE_SIG_BYTES)
#define SEAL_KEYS_MAX 64 /* content keys a database may have had */

struct seal;

/* A sealer for the nkeys content keys in keys (the last is current) that
 * signs with Ed25519 secret key sign_sk (all copied).  NULL with errno. */
struct seal *seal_new(const uint8_t *keys, size_t nkeys, const uint8_t sign_sk[64]);

/*
 * Reads the keyring DB/content.key into keys (room for SEAL_KEYS_MAX).  The
 * number of keys, or -1 with errno (ENOENT if the device has no content key
 * yet, EINVAL if the file is not a keyring); nothing read stays behind in
 * memory but keys.
 */
int seal_read_keys(const char *db, uint8_t keys[SEAL_KEYS_MAX][SEAL_KEY_LEN]);

/* A sealer for DB/content.key signing with DB/sign.key, that opens key
 * boxes with DB/device.key.  NULL with errno. */
struct seal *seal_load(const char *db);

/* Wipes and frees s (NULL: nothing). */
void seal_free(struct seal *s);

/* Seals an encoded change (of CHANGE_VERSION) whose origin's previous blob
 * hashes to prev.  0, or -1 (EINVAL if shorter than the header or of another
 * version). */
int seal_seal(void *s, const uint8_t *in, size_t len, const uint8_t *prev, uint8_t **out,
              size_t *outlen);

/* Opens a sealed blob (of either version).  0, or -1 with EINVAL if short,
 * forged or corrupt, ENOKEY if sealed with a key this device does not hold
 * (yet). */
int seal_open(void *s, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);

/* Fills c with hooks calling seal_seal/seal_open on s (which must outlive
 * the journal's use of them). */
void seal_hooks(struct seal *s, struct journal_crypto *c);

/*
 * Takes in what changed: keys boxed to this device in its .devices record
 * (appended to DB/content.key) and keys another process appended there; makes
 * the newest key whose hand-out the journal knows current.  Returns how many
 * keys were new, or -1 with errno.
 */
int seal_refresh(struct seal *s, struct journal *j, const char *db);

/*
 * A new content key for database db (after a removal): appended to
 * DB/content.key, then boxed to every member that is not removed, each in
 * its own .devices record (so s must be installed as j's hooks, and this
 * device an admin).  0, or -1 with errno.
 */
int seal_rotate(struct seal *s, struct journal *j, const char *db);

#endif
