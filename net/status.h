/*
 * status: what the network reports about itself.  One JSON object, the
 * shape `blazefs status` and `.blazefs/peers` show:
 *   {"listen": "ADDR:PORT" | "none", "pid": N, "pending": N,
 *    "peers": [{"device", "name", "address", "direction": "in"|"out",
 *               "source": "incoming"|"static"|"mdns",
 *               "state": "connecting"|"handshake"|"authenticated"|"syncing",
 *               "changes_sent", "changes_received", "bytes_queued",
 *               "acked": {devid: seq}, "pending": N}],
 *    "discovered": [{"address", "port", "device", "connected"}]}
 * where pending counts the changes this device holds that a peer lacks (the
 * top-level one: the most any syncing peer lacks).  The network thread
 * rebuilds it at least once a second and whenever a peer comes or goes,
 * writes it to DB/peers.json for other processes, and keeps it as the
 * snapshot net_status() copies (under n->status_lock).
 */
#ifndef NET_STATUS_H
#define NET_STATUS_H

#include <jansson.h>

struct net;

/* Rebuilds the status: DB/peers.json and the snapshot.  Network thread (or
 * before it starts). */
void status_update(struct net *n);

/* Removes DB/peers.json (the mount is going away). */
void status_remove(const struct net *n);

/* DB/peers.json of the mount of db that runs now (a new reference), or NULL
 * if none runs (no file, or its process is gone). */
json_t *status_load(const char *db);

#endif
