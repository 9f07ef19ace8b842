/*
 * relay: a blind relay (README "Choices", relay) — a peer that speaks the
 * members' sync protocol (msg.h) for databases it cannot read.  It holds no
 * content key: it stores the sealed, signed changes members send it
 * (rstore.h) after checking each origin's signature against the
 * admin-signed roster (roster.h), and hands each member what it lacks.
 *
 * Its directory RELAY (relay_init):
 *   relay.key         the relay's static X25519 key (32 secret | 32 public),
 *                     0600: members pin its public half when they pair
 *   db/<dbid hex>/    one database (rstore.h)
 *
 * One port serves every database: the handshake is each database's
 * Noise_XXpsk0 (conn.h), and a responder reads message 1 before it says
 * anything but the suite byte, so the relay tries message 1 under each
 * database's network psk in turn (a cheap AEAD open each, no DH), then under
 * the pairing psk.  The connection that opens is that database's, and its
 * static key must be a member of that database's roster: anyone else is
 * refused.
 *
 * Pairing (relay_pair, `blazefs relay add`): an admin dials with the pairing
 * psk (a public constant: what guards the database is the roster's signature
 * and the Noise static keys, not this psk) and sends
 *     u8 MSG_VERSION | u8 RELAY_MSG_PAIR | 32 network key | roster
 * where the roster's signer must be the key that made the handshake.  The
 * relay answers u8 MSG_VERSION | u8 RELAY_MSG_PAIRED | u8 status | text.  A
 * database already paired takes only a roster that supersedes the one it has.
 * The dialler learns the relay's static key from the handshake and members
 * pin it (trust on first use).
 *
 * Members' sessions: HELLO both ways (the relay's device id is the hash of
 * its key, name "relay", no wall clock), then CHANGES, ACK, PING/PONG as
 * between members, plus member -> relay RELAY_MSG_ROSTER (u8 MSG_VERSION | u8
 * type | roster: an admin's fresh roster) and relay -> member RELAY_MSG_ERROR
 * (u8 MSG_VERSION | u8 type | u8 code | u64 used | u64 quota: changes were
 * refused; RELAY_ERR_QUOTA, the database's quota is full).  The session goes
 * on (the member still gets what others sent); the member's refused changes
 * are offered again after the next change it makes (a gap answers with
 * HELLO), so they go once there is room.
 *
 * Single-threaded: one epoll loop.  Ownership: relay_open's result goes to
 * relay_close.
 */
#ifndef NET_RELAY_H
#define NET_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_MSG_PAIR 0x40
#define RELAY_MSG_PAIRED 0x41
#define RELAY_MSG_ROSTER 0x42
#define RELAY_MSG_ERROR 0x43
#define RELAY_ERR_QUOTA 1
/* Joining through the relay (relayjoin.h): a member leaves a box
 * (u8 MSG_VERSION | u8 DEPOSIT | 32 id | u64 expires (wall ms) | box), the
 * relay answers DEPOSITED (| u8 status, 0: kept); a pairing-psk connection
 * asks FETCH (| 32 id) and gets BOX (| box, empty if none), once. */
#define RELAY_MSG_DEPOSIT 0x44
#define RELAY_MSG_DEPOSITED 0x45
#define RELAY_MSG_FETCH 0x46
#define RELAY_MSG_BOX 0x47
#define RELAY_BOXES_MAX 8 /* pending per database */
#define RELAY_KEY_FILE "relay.key"
#define RELAY_DBS_MAX 64
#define RELAY_MAX_PEERS 256
#define RELAY_UNAUTH_MAX 32
#define RELAY_DEFAULT_QUOTA (1024ULL * 1024 * 1024) /* bytes of changes per database */

struct relay;

struct relay_config {
	const char *dir;
	const char *listen_addr; /* NULL: all addresses */
	int port;
	uint64_t quota; /* per database, bytes; 0: RELAY_DEFAULT_QUOTA */
};

/* Makes a relay directory: dir (0700, must not hold a relay) with a fresh
 * relay.key and db/.  0, or -1 with errno (EEXIST). */
int relay_init(const char *dir);

/* The relay's public key from dir/relay.key.  0 or -1. */
int relay_public(const char *dir, uint8_t pub[32]);

/* Loads dir (key, every database) and listens.  NULL with errno and a log
 * line. */
struct relay *relay_open(const struct relay_config *cfg);

/* Serves until relay_stop (signal-safe).  0, or -1 with errno. */
int relay_run(struct relay *r);
void relay_stop(struct relay *r);

/* Closes every connection and frees r (NULL: nothing). */
void relay_close(struct relay *r);

/*
 * Pairs database db (this device an admin) with the relay at hostport: hands
 * it the network key and a fresh roster.  0 with the relay's public key in
 * pub, or -1 with errno and a reason in why (static text).
 */
int relay_pair(const char *db, const char *hostport, uint8_t pub[32], const char **why);

/* Connects (blocking, 5 s at most) to HOST:PORT (or [V6]:PORT).  The
 * socket, or -1 with errno. */
int relay_dial(const char *hostport);

/* The pairing psk (a public constant; see above). */
void relay_pair_psk(uint8_t psk[32]);

#endif
