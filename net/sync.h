/*
 * sync: one peer's sync session as a pure state machine (DESIGN §5): sync
 * messages in, messages and events out; no sockets, no clock, no epoll.
 * Created once a connection is authenticated (Noise done, the remote a
 * member), it sends HELLO; on the peer's HELLO the session is open and each
 * side streams what the other lacks, batch by batch (sync_pump), remembering
 * what the peer has or was sent so nothing goes twice.  Changes received are
 * applied to the journal in one transaction per batch and acknowledged; a gap
 * in what arrived answers with a HELLO, from which the sender restarts.
 *
 * The journal is reached through core/journal.h only.  Messages leave
 * through the send callback given to sync_new (the caller queues them on the
 * connection); the caller decides when to pump (backpressure), when to ping,
 * and what to do with a new session (a duplicate connection, say).
 *
 * Ownership: struct sync_config is the caller's and must outlive every sync
 * made with it; sync_free(NULL) does nothing.
 */
#ifndef NET_SYNC_H
#define NET_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "core/journal.h"
#include "net/msg.h"

/* What this side says about itself, the same for every peer. */
struct sync_config {
	struct journal *j;
	uint64_t self;    /* this device's id */
	uint8_t dbid[32]; /* the database both sides must share */
	char name[MSG_NAME_MAX + 1];
	/* The wall clock in ms, sent in HELLO and read when the peer's comes
	 * (the session itself reads no clock); NULL: sent as unknown. */
	uint64_t (*wall)(void);
	/* This device's sync mode (core/mode.h), kept current by the caller:
	 * send-only applies nothing received, receive-only sends nothing of its
	 * own origin.  A change of mode takes a sync_start on each session. */
	int mode;
	/* 1 (the network, net/gossip.c): peers pull, so a protocol-3 peer is
	 * streamed only the origins its WANT names, nothing before its first;
	 * 0: every peer is streamed all it lacks (flooding, protocol 2). */
	int gossip;
};

/* Queues message m (len bytes, the callee copies) for the peer.  0 or -1. */
typedef int sync_send_fn(void *ctx, const uint8_t *m, size_t len);

/* What sync_recv reports (or'ed together). */
enum sync_event {
	SYNC_APPLIED = 1, /* a received change was new here: push it to other peers */
	SYNC_SESSION = 2  /* the first HELLO arrived: the session is open */
};

struct sync;

/*
 * A session with the peer whose Noise static key proved device id remote (a
 * HELLO claiming another id is refused); addr names it in log lines (copied).
 * Messages go out through send(ctx, ...).  NULL with errno.
 */
struct sync *sync_new(const struct sync_config *cfg, uint64_t remote, const char *addr,
                      sync_send_fn *send, void *ctx);

/* Frees s (NULL: nothing). */
void sync_free(struct sync *s);

/*
 * The peer is a blind relay (relay.h): it forwards changes it cannot read,
 * so one this journal refuses (a member's over-size record, say) is its
 * origin's fault, not the relay's.  It is logged and that origin's changes
 * are skipped for the rest of the session (no gap reported for them), which
 * goes on for the others instead of closing.
 */
void sync_set_blind(struct sync *s);

/* Sends this side's HELLO.  0 or -1. */
int sync_start(struct sync *s);

/*
 * Runs one received message m through the session.  Returns the events it
 * caused (enum sync_event, 0 if none), or -1 with errno if the peer broke the
 * protocol (EPROTO, EBADMSG) or the journal failed: close the connection.
 */
int sync_recv(struct sync *s, const uint8_t *m, size_t len);

/* sync_recv of nmsgs CHANGES messages in a row, applied in one transaction
 * (a device catching up commits, and syncs, once for several). */
int sync_recv_changes(struct sync *s, const uint8_t *const *ms, const size_t *lens, size_t nmsgs);

/* Sends the next batch of changes the peer lacks.  1 if one went, 0 if there
 * is nothing to send (or no session yet), -1 on error. */
int sync_pump(struct sync *s);

/*
 * Protocol >= 3 (net/gossip.c decides): asks the peer to stream us only the
 * origins in origins (seqs: what we have of each), if that differs from what
 * we last asked.  Nothing for an older peer or before the session.  0 or -1.
 */
int sync_want(struct sync *s, const struct vv *origins);

/* Protocol >= 3: tells the peer what we have (an ACK), if it changed since
 * we last did.  0 or -1. */
int sync_announce(struct sync *s, const struct vv *mine);

/*
 * Takes in what the peer said it has of origins that have become members
 * here since (its HELLO, ACKs or WANT named them before): they count as
 * what it has from now on, so they are pulled from it.  0 or -1 (ENOMEM).
 */
int sync_adopt(struct sync *s);

/* 1 while origins our WANTs dropped may still be on their way from the peer
 * (until the PONG to the PING sent after that WANT). */
int sync_draining(const struct sync *s);
/* 1 if origin is one of those. */
int sync_dropped(const struct sync *s, uint64_t origin);

/* 1 if our last WANT to the peer named origin. */
int sync_pulls(const struct sync *s, uint64_t origin);

/* The peer's protocol (its HELLO's; 0 before). */
uint16_t sync_protocol(const struct sync *s);

/* Sends a PING (a keepalive; sync_want sends one too).  0 or -1. */
int sync_ping(struct sync *s);

/* 1 once the peer's HELLO has arrived (the session is open), else 0. */
int sync_in_session(const struct sync *s);

/* The peer's device id and name (from its HELLO; 0 and "" before). */
uint64_t sync_device(const struct sync *s);
const char *sync_name(const struct sync *s);

/* What the peer is known to have: its HELLO, ACKs and the changes it sent. */
const struct vv *sync_acked(const struct sync *s);

/*
 * How far the peer's wall clock is ahead of ours (negative: behind), in ms,
 * as its HELLO said (latency aside).  1 with *ms set, or 0 if unknown (no
 * HELLO yet, or a protocol-1 peer).
 */
int sync_skew(const struct sync *s, int64_t *ms);

/* How many changes were sent to and received from the peer. */
uint64_t sync_changes_out(const struct sync *s);
uint64_t sync_changes_in(const struct sync *s);
/* The sealed bytes of the changes received from the peer (its catch-up's
 * progress in bytes). */
uint64_t sync_bytes_in(const struct sync *s);

#endif
