/*
 * join: both halves of `blazefs join` (DESIGN §4).  A join code holds a
 * secret (and maybe the inviter's address); both sides derive the same psk
 * from the secret (join_psk) and run Noise_XXpsk0 with it (conn.h,
 * CONN_SEL_JOIN): a dialler without the code never sees the inviter's key.
 *
 *   inviter   `blazefs invite` stores the pending invite in journal meta
 *             (join_invite); the running mount lets an accepted connection
 *             use its psk (join_invite_psk), burns it once a handshake
 *             succeeds (join_burn: single use) and answers the joiner's JOIN
 *             with WELCOME: the database id, the content keys, the trust
 *             root and the network key (join_welcome), having recorded the
 *             new device in .devices with the priority and role the invite
 *             gave.
 *   joiner    dials the inviter (join_dial) and runs the exchange over the
 *             blocking socket (join_exchange).
 *
 * Secrets (psk, content key) live in caller buffers and are wiped here when
 * copied through temporaries; join_welcome's output is the caller's to wipe
 * and free.
 */
#ifndef NET_JOIN_H
#define NET_JOIN_H

#include <stddef.h>
#include <stdint.h>

struct journal;
struct msg_welcome;

/* The pending invite in journal meta: key(32) | expiry ms (u64 BE) | used(1)
 * | the joiner's priority (i64 BE) | admin(1) | kind(1) | slot(1).  key is
 * the psk of a long code, or the CPace password of a short one (its first
 * JOIN_PRS_LEN bytes). */
#define JOIN_INVITE_META "invite"
#define JOIN_INVITE_LEN 52
enum { JOIN_KIND_LONG = 0, JOIN_KIND_SHORT = 1 };

/*
 * A short code, as a person reads it: "7-amber-falcon-river", the invite
 * slot (0-99, not secret: it is sent in clear and keys the mDNS tag) and
 * three words of join_words' 256, 8 bits each: 24 secret bits, so one online
 * guess wins with probability 2^-24, and a guess burns the invite.
 */
#define JOIN_CODE_WORDS 3
#define JOIN_SLOTS 100
#define JOIN_CODE_MAX 64
#define JOIN_PRS_LEN (1 + JOIN_CODE_WORDS) /* the CPace password: slot, words */
struct join_code {
	uint8_t slot;
	uint8_t w[JOIN_CODE_WORDS];
};

/* c as text into out (len bytes).  0, or -1 (ENOSPC). */
int join_code_format(char *out, size_t len, const struct join_code *c);

/* The first len bytes of s as a short code: a number, then the words,
 * separated by '-' or spaces, any case.  0, or -1 (EINVAL). */
int join_code_parse(const char *s, size_t len, struct join_code *c);

/* The CPace password of c: its slot then its word indexes. */
void join_code_prs(uint8_t prs[JOIN_PRS_LEN], const struct join_code *c);

/* The key the mDNS invite tag is made from for slot (netkey_invite_tag_key):
 * a joiner finds the inviter from the code's number alone. */
void join_slot_key(uint8_t key[32], uint8_t slot);

/* The psk a join code's secret gives (both sides derive it the same way). */
void join_psk(uint8_t psk[32], const uint8_t secret[32]);

/* Stores the invite for secret, valid for ttl seconds from now, replacing
 * any earlier one (the caller syncs the journal); the device that joins with
 * it gets priority and, if admin, the admin role.  0, or -1 with errno. */
int join_invite(struct journal *j, const uint8_t secret[32], long ttl, long long priority,
                int admin);

/* Stores a short-code invite like join_invite: picks the next slot and
 * three random words into *c.  0, or -1 with errno. */
int join_invite_code(struct journal *j, struct join_code *c, long ttl, long long priority,
                     int admin);

/* The pending invite's state (enum conn_pake_status: OK, NONE, EXPIRED,
 * USED), its kind and slot, and, if OK, its key (psk or password). */
int join_invite_state(struct journal *j, int *kind, uint8_t *slot, uint8_t key[32]);

/* The mDNS tag key of the pending invite (either kind), if one is valid
 * now.  1 if found, else 0. */
int join_invite_tag(struct journal *j, uint8_t key[32]);

/* The psk of the pending long-code invite, if one is valid now.  1 if
 * found, else 0. */
int join_invite_psk(struct journal *j, uint8_t psk[32]);

/*
 * Burns the pending invite as a join handshake succeeds.  0, or -1 if it
 * was burnt already (two joins raced with one code: only the first gets in;
 * the network thread runs one handshake's end at a time).
 */
int join_burn(struct journal *j);

/* How an invite was used up (the used byte): a device joined with it, or a
 * wrong short code burnt it. */
enum { JOIN_USED_JOINED = 1, JOIN_USED_WRONG = 2 };

/* join_burn, recording how (JOIN_USED_*).  0, or -1 if burnt already. */
int join_burn_as(struct journal *j, int how);

/* What became of the invite in slot (for `invite --wait`): 0 pending,
 * JOIN_USED_* once used, -2 expired, -1 replaced or gone. */
int join_invite_outcome(struct journal *j, uint8_t slot);

/*
 * The inviter's answer to JOIN message m (len bytes) from the device whose
 * static key is rs: records it in .devices and makes WELCOME (the database
 * id, DB/content.key, then DB/network.key) in *out (malloc'd: the caller wipes and frees it).
 * 0, or -1 with errno.
 */
int join_welcome(struct journal *j, const char *db, const uint8_t rs[32], const uint8_t *m,
                 size_t len, uint8_t **out, size_t *outlen);

/* A blocking TCP connection to "HOST:PORT".  The fd, or -1 with errno. */
int join_dial(const char *hostport);

/*
 * The joiner's exchange over fd (blocking): handshake with keypair (secret
 * key then public key) and psk (a long code), or, if code is not NULL,
 * CPace on the short code and the handshake with its key; JOIN with name and signing key sign_pub,
 * then WELCOME.  On success what the inviter said is in *w (the caller wipes
 * it: it holds the content keys and the network key) and its static key in
 * rs.  0, or -1 with errno: EPROTO if no blazefs answered, ECONNREFUSED if
 * the inviter refused the code in the handshake (with a short code: the code
 * was wrong, and is burnt now), EACCES if after it, ENOENT if no invite is
 * pending, ESTALE if a newer invite replaced the code's, ETIME if it
 * expired, EALREADY if it was used or burnt, ETIMEDOUT if it did not answer
 * in time.
 */
int join_exchange(int fd, const uint8_t *keypair, const uint8_t psk[32],
                  const struct join_code *code, const char *name, const uint8_t sign_pub[32],
                  struct msg_welcome *w, uint8_t rs[32]);

struct msg_relays;

/* join_exchange, also filling *relays (if not NULL) with the relays the
 * WELCOME named (relaylink.h). */
int join_exchange_relays(int fd, const uint8_t *keypair, const uint8_t psk[32],
                         const struct join_code *code, const char *name, const uint8_t sign_pub[32],
                         struct msg_welcome *w, uint8_t rs[32], struct msg_relays *relays);

#endif
