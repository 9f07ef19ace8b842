/*
 * mdns: discovery over avahi-client (DESIGN §6), run by the network thread.
 *
 * Publishes `_blazefs._tcp` on the listen port with TXT "v=<protocol>",
 * "t=<tag>" and "j=<tag>" (mdns_advert).  t is a keyed hash of the hour
 * number under the members' tag key (netkey_tag_key, from DB/network.key,
 * which no invite code holds): members recognise each other, strangers see a
 * value that changes every hour and says nothing about the device.  j is the
 * same under the tag key of a pending invite (netkey_invite_tag_key), which
 * is how `blazefs join` finds the inviter (mdns_find); with no invite pending
 * it is filler of the same shape.  The service name is "blazefs-" and 8 hex
 * digits that are new every hour (a hash of the hour under a random salt per
 * mount): at the turn of the hour the service is withdrawn and announced
 * anew, so no advertised field links one hour to the next (the host's own
 * mDNS name and address, which avahi announces anyway, are outside our
 * reach).  Browses and resolves; every service
 * whose tag matches (previous, current or next hour: clocks drift) and that is
 * not this process is reported through found(slot, host, port); lost(slot)
 * when it goes away, stops matching or the daemon goes.  A slot (0 to
 * MDNS_MAX-1) names one discovered service while it lives, so the caller can
 * keep a dial target per slot (dial.c dials with backoff).
 *
 * Avahi runs over an AvahiPoll adapter of our own, on the caller's thread: the
 * watches sit in an inner epoll whose fd (mdns_fd) the caller adds to its own
 * epoll; mdns_run dispatches what is ready and the timeouts that are due, so
 * the caller calls it when that fd is readable and at least every 100 ms.  No
 * locks, no avahi thread; callbacks run inside mdns_run.
 *
 * No daemon (or no system bus): one warning line, then mdns keeps retrying in
 * the background; a daemon that restarts is reconnected to, the service
 * re-registered and browsing resumed.  A name collision picks the alternative
 * name.  mdns_free withdraws the service.
 */
#ifndef NET_MDNS_H
#define NET_MDNS_H

#include <stddef.h>
#include <stdint.h>

#define MDNS_TYPE "_blazefs._tcp"
#define MDNS_PROTOCOL 1
#define MDNS_MAX 64 /* discovered services kept */
#define MDNS_TAG_BYTES 16
#define MDNS_TAG_HEX (2 * MDNS_TAG_BYTES)
#define MDNS_HOST_MAX 80 /* "fe80::...%ifname" */

struct mdns;

typedef void mdns_found_fn(void *ctx, int slot, const char *host, int port);
typedef void mdns_lost_fn(void *ctx, int slot);

struct mdns_config {
	const uint8_t *key;   /* the members' tag key (netkey_tag_key): 32 bytes, copied */
	int port;             /* port to publish; <= 0: browse only */
	mdns_found_fn *found; /* may repeat for a slot when its address changes */
	mdns_lost_fn *lost;
	void *ctx;
};

/* Starts discovery.  Returns the state (the caller frees it with mdns_free),
 * or NULL with errno if out of memory.  A missing daemon is not an error. */
struct mdns *mdns_new(const struct mdns_config *cfg);

/* The fd to watch for input (an epoll fd of mdns's own).  Stays the same. */
int mdns_fd(const struct mdns *m);

/* Dispatches ready watches and due timeouts; reconnects when it is time. */
void mdns_run(struct mdns *m);

/* Shows the tag of a pending invite's tag key (32 bytes, copied) in j=, or
 * filler again if key is NULL.  Cheap when nothing changed. */
void mdns_set_invite(struct mdns *m, const uint8_t *key);

/* Withdraws the service and frees everything; found/lost are not called.
 * mdns_free(NULL) does nothing. */
void mdns_free(struct mdns *m);

/*
 * Blocking, for `blazefs join`: browses for up to timeout_ms and writes to
 * hosts[i] / ports[i] the services whose j= tag matches key (the invite's
 * tag key; it stops early, 500 ms after the first hit).  Returns how many (0
 * if none), or -1 if avahi cannot be reached (with a message on stderr).
 */
int mdns_find(const uint8_t key[32], int timeout_ms, char hosts[][MDNS_HOST_MAX], int *ports,
              int max);

/* ---- pure parts (unit-tested) ---- */

/* The hour number of a wall-clock time in seconds. */
uint64_t mdns_hour(uint64_t unix_seconds);

/* Writes the tag of key for hour as MDNS_TAG_HEX lowercase hex + NUL. */
void mdns_tag(char out[MDNS_TAG_HEX + 1], const uint8_t key[32], uint64_t hour);

/* Whether a TXT of n strings (each "key=value", len bytes) announces our
 * protocol and a t= tag of key for hour - 1, hour or hour + 1.  1 or 0. */
int mdns_txt_match(const char *const *txt, const size_t *len, size_t n, const uint8_t key[32],
                   uint64_t hour);

/* The same for the j= tag (an invite's).  1 or 0. */
int mdns_txt_match_invite(const char *const *txt, const size_t *len, size_t n,
                          const uint8_t key[32], uint64_t hour);

/* What one hour's announcement shows: the service name and the TXT strings. */
struct mdns_advert {
	char name[32];
	char v[16];
	char t[MDNS_TAG_HEX + 3];
	char j[MDNS_TAG_HEX + 3];
};

/* The announcement for hour under the members' tag key, the pending invite's
 * tag key (NULL: none) and the mount's random salt (32 bytes). */
void mdns_advert(struct mdns_advert *a, const uint8_t key[32], const uint8_t *invite,
                 const uint8_t salt[32], uint64_t hour);

#endif
