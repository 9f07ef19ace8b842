/*
 * seal: end-to-end sealing of change blobs with the database's content key
 * (DESIGN §4).  A sealed blob is
 *     header (CHANGE_HEADER_BYTES, in clear) | nonce (24) | XChaCha20-Poly1305(rest)
 *     | Ed25519 signature (CHANGE_SIG_BYTES) of every byte before it
 * with the header (version, origin, seq) as associated data, so a blob cannot
 * be moved to another id.  The signature, by the origin's DB/sign.key, is
 * what the journal checks (journal_trust.c) before it opens a blob: anyone
 * holding the signers' public keys can check it without the content key.
 * The hooks plug into journal_set_crypto().
 *
 * Ownership: struct seal holds copies of the 32-byte content key and the
 * signing key in sodium_malloc'd memory; seal_free() wipes and frees it (NULL is a no-op).
 * Outputs of seal_seal/seal_open are malloc'd and belong to the caller.
 */
#ifndef NET_SEAL_H
#define NET_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/journal.h"

#define SEAL_KEY_LEN 32
#define SEAL_NONCE_LEN 24
#define SEAL_TAG_LEN 16
#define SEAL_OVERHEAD (SEAL_NONCE_LEN + SEAL_TAG_LEN + CHANGE_SIG_BYTES)

struct seal;

/* A sealer for content key key that signs with Ed25519 secret key sign_sk
 * (both copied).  Returns NULL with errno. */
struct seal *seal_new(const uint8_t key[SEAL_KEY_LEN], const uint8_t sign_sk[64]);

/* Reads DB/content.key (exactly 32 bytes) into key.  0, or -1 with errno
 * (ENOENT if the device has no content key yet, EINVAL if the file is not a
 * key); nothing read stays behind in memory but key itself on success. */
int seal_read_key(const char *db, uint8_t key[SEAL_KEY_LEN]);

/* A sealer for the key in DB/content.key (seal_read_key) signing with
 * DB/sign.key (identity_sign_load).  NULL with errno. */
struct seal *seal_load(const char *db);

/* Wipes and frees s (NULL: nothing). */
void seal_free(struct seal *s);

/* Seals an encoded change.  0, or -1 (EINVAL if shorter than the header). */
int seal_seal(void *s, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);

/* Opens a sealed blob.  0, or -1 with EINVAL if short, forged or corrupt. */
int seal_open(void *s, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);

/* Fills c with hooks calling seal_seal/seal_open on s (which must outlive
 * the journal's use of them). */
void seal_hooks(struct seal *s, struct journal_crypto *c);

#endif
