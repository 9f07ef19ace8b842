/* status: the network's status object and DB/peers.json; see status.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "core/mode.h"
#include "net/clock.h"
#include "net/conn.h"
#include "net/net_int.h"
#include "net/peer.h"
#include "net/status.h"
#include "net/sync.h"

#define STATUS_FILE "peers.json"

/* How many changes we hold that v lacks. */
static json_int_t
count_behind(const struct vv *mine, const struct vv *v)
{
	json_int_t n = 0;

	for (size_t i = 0; i < mine->n; i++)
		if (mine->e[i].seq > vv_get(v, mine->e[i].origin))
			n += (json_int_t)(mine->e[i].seq - vv_get(v, mine->e[i].origin));
	return n;
}

/* How a peer came: it dialled us, a --peer, an address remembered from an
 * earlier session or join, or an mDNS discovery. */
static const char *
source(const struct net *n, const struct peer *p)
{
	if (!p->dialled)
		return "incoming";
	if (p->target < 0 || n->targets[p->target].mdns)
		return "mdns";
	return n->targets[p->target].remembered ? "remembered" : "static";
}

static json_t *
vv_object(const struct vv *v)
{
	json_t *o = json_object();
	char dev[DEVID_LEN + 1];

	for (size_t i = 0; i < v->n; i++) {
		change_devid(v->e[i].origin, dev);
		json_object_set_new(o, dev, json_integer((json_int_t)v->e[i].seq));
	}
	return o;
}

/* Updates p's receive rate: changes a second over the last second or more,
 * smoothed; a second with nothing received shows 0 (a stalled link) at once. */
static void
update_rate(struct peer *p, uint64_t now)
{
	uint64_t got = p->s ? sync_changes_in(p->s) : 0;
	double inst;

	if (p->rate_ms == 0 || got < p->rate_n) {
		p->rate_ms = now;
		p->rate_n = got;
		return;
	}
	if (now - p->rate_ms < 1000)
		return;
	inst = (double)(got - p->rate_n) * 1000.0 / (double)(now - p->rate_ms);
	p->rate = p->rated && inst > 0 ? 0.5 * p->rate + 0.5 * inst : inst;
	p->rated = 1;
	p->rate_ms = now;
	p->rate_n = got;
}

static json_t *
peer_entry(const struct net *n, struct peer *p, const struct vv *mine, json_int_t *behind)
{
	static const char *states[] = {"connecting", "handshake", "authenticated", "syncing"};
	static const struct vv none = {0, NULL};
	char dev[DEVID_LEN + 1];
	const struct vv *acked = p->s ? sync_acked(p->s) : &none;
	uint64_t device = peer_device(p);
	const uint8_t *b;
	int64_t skew;
	json_t *e;

	change_devid(device, dev);
	e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "device", device ? dev : "", "name",
	              p->s ? sync_name(p->s) : "", "address", p->addr, "direction",
	              p->dialled ? "out" : "in", "changes_sent",
	              (json_int_t)(p->s ? sync_changes_out(p->s) : 0), "changes_received",
	              (json_int_t)(p->s ? sync_changes_in(p->s) : 0), "bytes_queued",
	              (json_int_t)conn_out(p->c, &b));
	json_object_set_new(e, "state", json_string(states[p->state]));
	update_rate(p, hlc_mono_ms());
	/* Absent until a second has been measured. */
	if (p->rated)
		json_object_set_new(e, "rate_received", json_integer((json_int_t)(p->rate + 0.5)));
	json_object_set_new(e, "bytes_received",
	                    json_integer((json_int_t)(p->s ? sync_bytes_in(p->s) : 0)));
	/* The cipher both ends negotiated (conn.h); "" before it is known. */
	json_object_set_new(e, "suite", json_string(conn_suite_name(conn_suite(p->c))));
	/* How it came: it dialled us, a --peer, or an mDNS discovery. */
	json_object_set_new(e, "source", json_string(source(n, p)));
	json_object_set_new(e, "acked", vv_object(acked));
	/* Its wall clock less ours, as its HELLO said (absent: unknown). */
	if (p->s != NULL && sync_skew(p->s, &skew))
		json_object_set_new(e, "clock_skew_ms", json_integer((json_int_t)skew));
	/* Changes this peer still lacks, as far as we know. */
	*behind = count_behind(mine, acked);
	json_object_set_new(e, "pending", json_integer(*behind));
	/* What it has that we lack, as its HELLO and ACKs said. */
	json_object_set_new(e, "lacking", json_integer(count_behind(acked, mine)));
	return e;
}

static json_t *
status_build(struct net *n)
{
	char dev[DEVID_LEN + 1];
	json_t *o = json_object(), *a = json_array();
	struct vv mine = {0, NULL};
	json_int_t pending = 0, behind, ignored = 0, lacking;

	if (journal_vv(n->j, &mine))
		vv_clear(&mine);
	for (size_t i = 0; i < NET_SLOTS; i++) {
		struct peer *p = n->peers[i];

		if (p == NULL)
			continue;
		json_array_append_new(a, peer_entry(n, p, &mine, &behind));
		lacking = p->s ? count_behind(sync_acked(p->s), &mine) : 0;
		if (p->state == PEER_SYNC && lacking > ignored)
			ignored = lacking;
		if (p->state == PEER_SYNC && behind > pending)
			pending = behind;
	}
	vv_clear(&mine);
	json_object_set_new(o, "pending", json_integer(pending));
	/* Send-only: what peers have that this device does not apply. */
	json_object_set_new(o, "mode", json_string(mode_name((enum mode)n->sc.mode)));
	json_object_set_new(o, "ignored", json_integer(n->sc.mode == MODE_SEND_ONLY ? ignored : 0));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "listen", json_string(n->listen));
	json_object_set_new(o, "peers", a);
	if ((a = clock_json(n)) != NULL)
		json_object_set_new(o, "clock", a);
	a = json_array();
	for (size_t i = n->nstatic; i < n->relay_first; i++) {
		const struct target *t = &n->targets[i];

		if (t->unused)
			continue;
		change_devid(t->device, dev);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b}", "address", t->host,
		                                   "port", t->port, "device", t->device ? dev : "",
		                                   "connected", t->p != NULL));
	}
	json_object_set_new(o, "discovered", a);
	/* What this device dials: --peer addresses and remembered ones. */
	a = json_array();
	for (size_t i = 0; i < n->nstatic; i++) {
		const struct target *t = &n->targets[i];

		change_devid(t->device, dev);
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:s, s:s, s:b}", "address", t->host, "port", t->port,
		                 "source", t->remembered ? "remembered" : "static", "device",
		                 t->device ? dev : "", "connected", t->p != NULL));
	}
	json_object_set_new(o, "dialling", a);
	/* The blind relays the database is paired with (relaylink.h). */
	a = json_array();
	for (size_t i = 0; i < n->nrelays; i++)
		json_array_append_new(a, json_pack("{s:s, s:b}", "address", n->relays[i].addr,
		                                   "connected", relaylink_connected(n, i)));
	json_object_set_new(o, "relays", a);
	return o;
}

void
status_update(struct net *n)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32];
	json_t *o = status_build(n), *old;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/" STATUS_FILE, n->db);
	snprintf(tmp, sizeof(tmp), "%s/." STATUS_FILE ".tmp", n->db);
	/* 0600: it lists the peers' addresses and names (fchmod: an old
	 * temporary file keeps its mode through O_TRUNC). */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0) {
		ok = fchmod(fd, 0600) == 0 &&
		     json_dumpfd(o, fd, JSON_INDENT(2) | JSON_SORT_KEYS) == 0;
		if (close(fd) == 0 && ok)
			rename(tmp, path);
	}
	pthread_mutex_lock(&n->status_lock);
	old = n->status;
	n->status = o;
	pthread_mutex_unlock(&n->status_lock);
	json_decref(old);
}

void
status_remove(const struct net *n)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/" STATUS_FILE, n->db);
	unlink(path);
}

/* 1 unless /proc says pid runs another program than blazefs, or is a
 * zombie (killed, not yet reaped by its parent). */
static int
is_blazefs(pid_t pid)
{
	char path[64], line[128] = "", *close;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 1;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	/* "pid (comm) state ..." */
	close = strrchr(line, ')');
	return strstr(line, "(blazefs)") != NULL && close != NULL && close[1] == ' ' &&
	       close[2] != 'Z';
}

json_t *
status_load(const char *db)
{
	char path[PATH_MAX + 16];
	json_t *o;
	json_int_t pid;

	snprintf(path, sizeof(path), "%s/" STATUS_FILE, db);
	if ((o = json_load_file(path, 0, NULL)) == NULL)
		return NULL;
	pid = json_integer_value(json_object_get(o, "pid"));
	/* A mount killed with -9 leaves the file: its pid is gone, or is now
	 * another program's. */
	if (pid <= 0 || (kill((pid_t)pid, 0) && errno == ESRCH) || !is_blazefs((pid_t)pid)) {
		json_decref(o);
		return NULL;
	}
	return o;
}
