/*
 * net: the network thread (DESIGN §5).  One thread, one epoll loop: the
 * listening socket, peer connections, a 100 ms tick for timers, and an
 * eventfd that the journal's local-commit hook writes.  Both serves and
 * dials; HELLO both ways, then each side streams what the other lacks
 * (journal_missing, batches of at most MSG_BATCH_BYTES, remembering per peer
 * what it has or was sent so nothing goes twice), then pushes new local and
 * forwarded changes live.  Keepalive PING every NET_PING_MS, a peer silent for
 * NET_DEAD_MS is dropped; static peers are redialled with exponential backoff
 * and jitter.  Two connections to one device: the one dialled by the lower
 * device id stays.  A peer whose output exceeds NET_OUT_MAX gets nothing more
 * from the journal until it drains (backpressure).
 *
 * net_start also installs the seal hooks (DB/content.key) on the journal and
 * answers joins (Noise_XXpsk3) for the pending `blazefs invite`.  The thread
 * rewrites DB/peers.json (for `blazefs status`) once a second.
 *
 * The journal stays the caller's; call net_stop() before closing it (one
 * network per journal: the journal has one set of hooks).
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct journal;
struct net;

#define NET_DEFAULT_PORT 7717
#define NET_PING_MS 3000
#define NET_DEAD_MS 10000
#define NET_OUT_MAX (1024 * 1024)
#define NET_MAX_PEERS 64

struct net_config {
	const char *db;           /* database directory: keys, peers.json */
	const char *listen_addr;  /* NULL: all addresses */
	int listen_port;          /* 0: NET_DEFAULT_PORT (if free); -1: do not listen */
	const char *const *peers; /* HOST:PORT to dial */
	size_t npeers;
	int no_mdns; /* 1: no mDNS publishing or browsing */
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
 * with errno.  Any thread may call it while the network runs.
 */
json_t *net_status(struct net *n);

/* The status the running mount of database db last wrote (a new reference),
 * or NULL if no mount of db runs.  For other processes (`blazefs status`,
 * `blazefs invite`). */
json_t *net_status_load(const char *db);

#endif
