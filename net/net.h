/*
 * net: the network thread (DESIGN §5), the one public face of net/ for the
 * mount.  One thread, one epoll loop (net.c): the listening socket, peer
 * connections, a 100 ms tick for timers, and an eventfd that the journal's
 * local-commit hook writes.  It both serves and dials; the work is in:
 *   peer.c    connections: socket <-> conn <-> session, backpressure (a peer
 *             whose output exceeds NET_OUT_MAX gets nothing more from the
 *             journal until it drains, and is not read from past
 *             NET_IN_STOP), slots (strangers' handshakes have their own,
 *             net_int.h), duplicates (of two connections to
 *             one device, the one dialled by the lower device id stays),
 *             keepalive PING every NET_PING_MS, no bytes for NET_SILENT_MS or
 *             no whole message for NET_DEAD_MS drops
 *   sync.c    the per-peer session, pure: HELLO both ways, then each side
 *             streams what the other lacks and pushes new changes live
 *   dial.c    --peer and mDNS targets, redialled with exponential backoff and
 *             jitter; listening and accepting
 *   join.c    both halves of a join (Noise_XXpsk0 with the pending invite),
 *             the short code (join.h)
 *   cpace.c   CPace over ristretto255, pure (the short code's PAKE)
 *   status.c  the status object: DB/peers.json and net_status()
 *   netlog.c  peer text cleaned for logs, peer-caused lines rate-limited
 *
 * net_start also installs the seal hooks (DB/content.key) on the journal,
 * and reads DB/network.key (netkey.h): a database without it (made by an
 * older blazefs) does not start.
 * The journal stays the caller's; call net_stop() before closing it (one
 * network per journal: the journal has one set of hooks).  net_status() is
 * the only call another thread may make while the network runs.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct journal;
struct net;

#define NET_DEFAULT_PORT 7717
/* A PING goes out after NET_PING_MS with nothing sent, so a live peer's bytes
 * arrive at least that often; a peer we read from whose bytes stop for
 * NET_SILENT_MS is a silently dead link (a path that stopped forwarding) and
 * is dropped, so sync moves to another path within 3 s.  A peer that sends
 * bytes but no whole message for NET_DEAD_MS (a stream cut mid-frame, a
 * trickle) is dropped too; a slow link that carries a large message keeps
 * sending bytes and is kept. */
#define NET_PING_MS 700
#define NET_SILENT_MS 2500
#define NET_DEAD_MS 10000
#define NET_MEMBER_CHECK_MS 3000 /* a removed device's session ends within this */
#define NET_OUT_MAX (1024 * 1024)
#define NET_MAX_PEERS 64

struct net_config {
	const char *db;           /* database directory: keys, peers.json */
	const char *listen_addr;  /* NULL: all addresses */
	int listen_port;          /* 0: NET_DEFAULT_PORT (if free); -1: do not listen */
	const char *const *peers; /* HOST:PORT to dial */
	size_t npeers;
	int no_mdns;       /* 1: no mDNS publishing or browsing */
	int no_remembered; /* 1: do not dial the addresses remembered (dial.h),
	                    * which stand in for peers when there are none */
};

/* Parses "[ADDR:]PORT" into a malloc'd *addr (NULL if none) and *port.  0 or -1. */
int net_parse_listen(const char *arg, char **addr, int *port);

/*
 * Loads the keys, installs the seal hooks and starts the thread.  Returns the
 * network, which the caller hands to net_stop(), or NULL with errno (and one
 * log line, written where the failure was found; the journal is left without
 * hooks).
 */
struct net *net_start(struct journal *j, const struct net_config *cfg);

/* Stops the thread, closes every connection, removes the hooks, removes
 * DB/peers.json and frees n.  net_stop(NULL) does nothing. */
void net_stop(struct net *n);

/*
 * A snapshot of the network's status (the object status.h describes, as
 * DB/peers.json holds it): a new reference the caller json_decref's, or NULL
 * with errno (EINVAL for a NULL n).  Any thread may call it while the
 * network runs.
 */
json_t *net_status(struct net *n);

/* The status the running mount of database db last wrote (a new reference),
 * or NULL if no mount of db runs.  For other processes (`blazefs status`,
 * `blazefs invite`). */
json_t *net_status_load(const char *db);

#endif
