/*
 * net_int: what the network thread's own files share, and nothing outside
 * net/ includes: the network (struct net, owned by net.c), its connections
 * (struct peer, made and freed by peer.c) and its dial targets (struct
 * target, kept by dial.c).  All of it is touched by the network thread only,
 * except the status snapshot, which status_lock guards.
 */
#ifndef NET_NET_INT_H
#define NET_NET_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "net/net.h"
#include "net/relaylink.h"
#include "net/sync.h"

#define NET_TICK_MS 100
/*
 * Limits that hold under attack (README "Choices").  Connections not yet
 * authenticated that others made to us (a stranger can make those at will)
 * get NET_UNAUTH_MAX slots of their own, at most NET_UNAUTH_PER_ADDR from one
 * address, and NET_HANDSHAKE_MS to finish the handshake (one on a LAN takes a
 * few ms); beyond that an accepted socket is closed at once.  Members'
 * sessions and our own dials share the other NET_MAX_PEERS slots, which
 * strangers never hold.  A peer whose queued output passes NET_IN_STOP is not
 * read from until it drains (our replies to it are bounded), and PONGs are
 * dropped while its output is over NET_OUT_MAX (it has data coming anyway).
 */
#define NET_HANDSHAKE_MS 3000
#define NET_UNAUTH_MAX 16
#define NET_UNAUTH_PER_ADDR 4
#define NET_SLOTS (NET_MAX_PEERS + NET_UNAUTH_MAX)
#define NET_READ_BYTES (256 * 1024) /* a read from a peer sending changes */
#define NET_READ_OTHER 65536        /* a read from any other peer */
#define NET_HOLD_MSGS 8             /* CHANGES messages applied together: half a window */
#define NET_IN_STOP (2 * NET_OUT_MAX + MSG_MAX)
#define CLOCK_LOGGED_MAX 64

/* A connection's life; the names in peers.json are status.c's. */
enum peer_state { PEER_CONNECTING, PEER_HANDSHAKE, PEER_OPEN, PEER_SYNC };

struct peer {
	int fd;
	struct conn *c;
	struct sync *s; /* from PEER_OPEN on, for a member (not a join) */
	enum peer_state state;
	int dialled; /* we dialled it */
	int target;  /* index of the target dialled, or -1 */
	int closing; /* close once the output is written */
	int bulk;    /* its last read was mostly changes: read NET_READ_BYTES */
	int want_out, want_in;
	char addr[80];
	char host[72]; /* addr without the port: the per-address limit */
	uint64_t since, last_rx, last_tx;
	uint64_t last_bytes; /* ms: any bytes last read (last_rx: a whole message) */
	uint64_t checked;    /* membership last checked (a removal ends the session) */
	/* Changes received a second, smoothed (status.c), from the count at
	 * rate_ms. */
	uint64_t rate_ms, rate_n;
	double rate;
	int rated; /* a whole interval was measured */
};

struct target {
	char host[256], port[16];
	struct peer *p;   /* the live connection dialled for it */
	uint64_t device;  /* learned from HELLO; 0 until then */
	uint64_t next;    /* ms: next dial */
	uint64_t backoff; /* ms */
	int mdns;         /* a slot for a service mDNS found (not a --peer) */
	int remembered;   /* an address a session ran on before (dial_remember) */
	int unused;       /* an mDNS slot nothing fills now: not dialled */
};

struct net {
	struct journal *j;
	char db[PATH_MAX];
	struct sync_config sc;   /* this device, as every session presents it */
	uint8_t *priv;           /* sodium_malloc'd static secret key */
	uint8_t *netkeys;        /* sodium_malloc'd: the network psk, the mDNS tag key (netkey.h) */
	uint64_t last_invite;    /* ms: the pending invite last looked up for mDNS */
	uint64_t stranger_log;   /* ms: when a stranger's dial was last logged */
	unsigned long strangers; /* strangers' dials not logged since */
	struct seal *seal;
	int ep, evfd, lfd;
	char listen[300];
	pthread_t thread;
	int stop;
	struct peer *peers[NET_SLOTS];
	struct target *targets;
	size_t ntargets; /* the --peer ones, then MDNS_MAX slots for mDNS */
	size_t nstatic;
	struct mdns *mdns; /* NULL: --no-mdns */
	uint64_t last_status;
	uint64_t mode_checked;   /* ms: the sync mode (sc.mode) last read (peer.c) */
	uint64_t session_opened; /* ms: a settling pause last began (gossip.c) */
	int keys_failed;         /* seal_refresh failed (logged once) */
	int status_dirty;        /* a peer came or went: rewrite peers.json at the next tick */
	/* clock.c: devices whose skew was logged (once, again if it moves by
	 * more than the bound), those whose changes came too far ahead (once),
	 * the last run */
	uint64_t clock_logged[CLOCK_LOGGED_MAX], clock_ahead_logged[CLOCK_LOGGED_MAX];
	int64_t clock_logged_skew[CLOCK_LOGGED_MAX];
	size_t nclock_logged, nclock_ahead_logged;
	uint64_t clock_last;
	/* relaylink.c: the relays admins recorded, dialled from the
	 * RELAYLINK_MAX target slots from relay_first (after mDNS's) */
	struct relaylink relays[RELAYLINK_MAX];
	size_t nrelays, relay_first;
	uint64_t relays_checked;
	uint8_t roster_hash[32]; /* of the members in the last roster sent */
	pthread_mutex_t status_lock;
	json_t *status; /* protected by status_lock: what peers.json last said */
	/* peer.c: a read from a peer, and the CHANGES messages of it held to be
	 * applied in one transaction (copied: a message conn_poll returns lives
	 * until its next call) */
	uint8_t rbuf[NET_READ_BYTES];
	struct {
		uint8_t *buf;
		size_t len, cap, n;
		size_t off[NET_HOLD_MSGS], mlen[NET_HOLD_MSGS];
	} hold;
};

#endif
