/*
 * netkey: the database's network secret (DESIGN §4, §6), DB/network.key:
 * 32 random bytes made by `init` (mode 0600), handed to a joiner in the
 * WELCOME.  Members never send it; they prove it, and discover each other
 * with it, through keys derived from it for one purpose each (so no derived
 * value gives another away):
 *   netkey_psk       the Noise_XXpsk0 psk of every member connection
 *                    (conn_set_network): a stranger is dropped at message 1
 *   netkey_tag_key   the key of the hourly mDNS tags (mdns.h)
 * and, from a pending invite's psk (which the invite code's secret gives):
 *   netkey_invite_tag_key   the key of the mDNS tag a joiner looks for.
 * Unlike the database id it is in no invite code: a code, even used, does not
 * let its holder compute the members' future tags.
 *
 * Keys go to caller buffers; wiping them is the caller's job.
 */
#ifndef NET_NETKEY_H
#define NET_NETKEY_H

#include <stdint.h>

#define NETKEY_FILE "network.key"
#define NETKEY_LEN 32

/* Writes key to DB/network.key (mode 0600, must not exist, fsync'd).  0, or
 * -1 with errno. */
int netkey_write(const char *db, const uint8_t key[NETKEY_LEN]);

/* Reads DB/network.key.  0, or -1 with errno: ENOENT if the database was made
 * by an older blazefs (re-create it), EINVAL if the file is not a key. */
int netkey_read(const char *db, uint8_t key[NETKEY_LEN]);

/* The psk of member connections. */
void netkey_psk(uint8_t psk[32], const uint8_t key[NETKEY_LEN]);

/* The key of the members' mDNS tags. */
void netkey_tag_key(uint8_t out[32], const uint8_t key[NETKEY_LEN]);

/* The key of the mDNS tag the inviter shows while the invite with psk
 * invite_psk (join_psk) is pending; the joiner derives it from its code. */
void netkey_invite_tag_key(uint8_t out[32], const uint8_t invite_psk[32]);

#endif
