/*
 * dial: where the network's connections come from.  Targets (struct target
 * in net_int.h) are the --peer addresses, then MDNS_MAX slots that mDNS
 * fills (dial_found) and empties (dial_lost); each is dialled
 * (non-blocking) while it has no connection, with exponential backoff and
 * jitter between attempts, unless a session with its device runs the other
 * way.  Accepting is here too: an accepted connection may join with the
 * pending invite's psk.
 *
 * Ownership: n->targets is allocated by dial_targets and freed by net.c;
 * sockets go to peer_add.  Network thread only.
 */
#ifndef NET_DIAL_H
#define NET_DIAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DIAL_BACKOFF_MIN_MS 250
#define DIAL_BACKOFF_MAX_MS 30000

struct journal;
struct net;
struct target;

/* Fills n->targets from the HOST:PORT (or [V6]:PORT) strings in peers, then
 * (if remember) the addresses remembered in the journal not already there,
 * then the mDNS slots.  0, or -1 with errno (and a log line; EINVAL: a bad
 * address). */
int dial_targets(struct net *n, const char *const *peers, size_t npeers, int remember);

/* Points t at "HOST:PORT" (or "[V6]:PORT").  0, or -1 if malformed. */
int dial_target_set(struct target *t, const char *s);

/*
 * Remembers "HOST:PORT" (journal meta DIAL_ADDRESSES_META: newline-separated,
 * the most recent first, at most DIAL_REMEMBER_MAX), so a later mount dials
 * it with no --peer and no mDNS: where a join reached its inviter, and where
 * a dialled session ran.  0 or -1.
 */
int dial_remember(struct journal *j, const char *hostport);

#define DIAL_ADDRESSES_META "addresses"
#define DIAL_REMEMBER_MAX 16

/* The next attempt on t after a failed one: later, by a backoff that grows
 * while attempts fail, with jitter to spread redials. */
void dial_backoff(struct target *t);

/* Dials every target that is due at time t (ms). */
void dial_tick(struct net *n, uint64_t t);

/* Listens on addr (NULL: all) and port: n->lfd and n->listen.  0 or -1. */
int dial_listen(struct net *n, const char *addr, int port);

/* Accepts every pending connection on n->lfd. */
void dial_accept(struct net *n);

/* An accepted connection's address as text: host alone (the per-address
 * limit) and "host:port" (logs, status).  Any thread. */
void dial_peer_text(const struct sockaddr_storage *ss, char *host, size_t hostlen, char *addr,
                    size_t addrlen);

/* mDNS callbacks (mdns.h): a service found fills its slot's target (a fresh
 * one if the address changed); a lost one empties it (its connection, if any,
 * lives on and ends by itself if the peer is gone).  ctx is the net. */
void dial_found(void *ctx, int slot, const char *host, int port);
void dial_lost(void *ctx, int slot);

#endif
