/*
 * gossip: which peer each origin's changes are pulled from (README "Gossip"),
 * so that each change crosses each link about once.  Pull by version vector:
 * every peer announces its vector (an ACK) whenever it grows; this device
 * asks each protocol-3 peer, with a WANT, for a disjoint set of origins:
 *   - an origin whose device is a peer here comes from that device itself
 *     (it has all of it first: in a full mesh every change crosses each link
 *     exactly once, straight from where it was made);
 *   - any other origin comes from the one peer that has the most of it,
 *     kept while no other has more; ties go to the peer with the fewest
 *     origins so far, so a device catching up pulls disjoint parts from
 *     every peer at once (by origin);
 *   - a peer that goes (a dead link is dropped within 3 s) loses its
 *     origins at the next tick to the others, who stream from what this
 *     device announced: nothing is lost, nothing sent twice.
 * A send-only device pulls nothing.  Peers older than protocol 3 are asked
 * for nothing and stream everything, as before.  Network thread only.
 */
#ifndef NET_GOSSIP_H
#define NET_GOSSIP_H

struct net;

/* Announces this device's vector to every peer whose copy is stale and
 * (re)assigns every origin to one peer, sending the WANTs that changed.
 * Called every tick and when a session opens.  Errors close that peer's
 * connection at its next send (logged there). */
void gossip_route(struct net *n);

/* A session opened: origins wait GOSSIP_SETTLE_MS before going to a peer
 * other than their own device (the others may be a moment away), at most
 * once per GOSSIP_SETTLE_EVERY_MS, so a peer reconnecting in a loop cannot
 * hold relaying back. */
void gossip_note_session(struct net *n);

#endif
