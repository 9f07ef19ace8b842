/*
 * peer: the network's connections (struct peer in net_int.h).  A peer is a
 * socket, its conn (Noise and framing, conn.h) and, once the remote proved to
 * be a member, its sync session (sync.h); or, for a join, the inviter's half
 * of it (join.h).  peer.c moves bytes between the socket and the conn, runs
 * what arrives through the session, keeps the epoll interest in step with the
 * output, and closes: of two connections to one device, the one dialled by
 * the lower device id stays.  A peer whose output exceeds NET_OUT_MAX gets
 * nothing more from the journal until it drains (backpressure).
 *
 * Ownership: peer_add puts the peer in n->peers and takes fd; peer_close
 * takes it out, closes fd and frees everything.  Network thread only.
 */
#ifndef NET_PEER_H
#define NET_PEER_H

#include <stdint.h>

struct net;
struct peer;

/*
 * A connection on fd (non-blocking), dialled by us or accepted, for target
 * index target (-1: none), from addr ("HOST:PORT", for logs, status and the
 * per-address limit).  A join psk (NULL: none) lets an accepted connection
 * join.  NULL on failure, or if the slots for its kind are full (fd stays the
 * caller's).
 */
struct peer *peer_add(struct net *n, int fd, int dialled, int target, const char *addr,
                      const uint8_t *psk);

/* 1 if an inbound connection from host (an address without port) may have
 * an unauthenticated slot now (NET_UNAUTH_MAX, NET_UNAUTH_PER_ADDR), else 0. */
int peer_admit(const struct net *n, const char *host);

/* Closes p and frees it; why (NULL: quietly) goes to the log.  A target it
 * was dialled for is redialled after its backoff. */
void peer_close(struct net *n, struct peer *p, const char *why);

/* 1 if p is still open (an earlier event may have closed it), else 0. */
int peer_live(const struct net *n, const struct peer *p);

/* The peer's device id once its session is open, else 0. */
uint64_t peer_device(const struct peer *p);

/* 1 if a session with device is open (and not closing), else 0. */
int peer_connected(const struct net *n, uint64_t device);

/* The socket is readable: reads and runs what came; *applied is set if a
 * change new here arrived (the other peers get it next). */
void peer_readable(struct net *n, struct peer *p, int *applied);

/* The socket is writable: finishes a connect, writes, streams. */
void peer_writable(struct net *n, struct peer *p);

/* Streams to every peer what it lacks and writes it out. */
void peer_pump_all(struct net *n);

/* Timers at time t (ms): handshakes that take too long, peers silent for
 * NET_SILENT_MS (no bytes) or NET_DEAD_MS (no whole message), keepalive PINGs
 * every NET_PING_MS. */
void peer_tick(struct net *n, uint64_t t);

#endif
