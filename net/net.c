/* net: the network thread; see net.h. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/hlc.h"
#include "core/journal.h"
#include "net/clock.h"
#include "net/dial.h"
#include "net/identity.h"
#include "net/join.h"
#include "net/mdns.h"
#include "net/netkey.h"
#include "net/net.h"
#include "net/net_int.h"
#include "net/netlog.h"
#include "net/peer.h"
#include "net/seal.h"
#include "net/status.h"

int
net_parse_listen(const char *arg, char **addr, int *port)
{
	const char *colon = strrchr(arg, ':'), *p = colon ? colon + 1 : arg;
	char *end;
	long n;

	*addr = NULL;
	n = strtol(p, &end, 10);
	if (*p == '\0' || *end != '\0' || n < 1 || n > 65535) {
		errno = EINVAL;
		return -1;
	}
	if (colon != NULL && colon != arg && (*addr = strndup(arg, (size_t)(colon - arg))) == NULL)
		return -1;
	*port = (int)n;
	return 0;
}

/* ---- the loop ---- */

/* Timers: dials due, peers' timeouts and pings, avahi, the status. */
static void
tick(struct net *n)
{
	uint64_t t = hlc_mono_ms();

	relaylink_refresh(n, t);
	dial_tick(n, t);
	peer_tick(n, t);
	clock_tick(n);
	netlog_tick();
	if (n->mdns)
		mdns_run(n->mdns); /* avahi's timeouts */
	if (n->mdns && t - n->last_invite >= 250) {
		/* `blazefs invite` writes the invite: show its tag while it is
		 * pending, so the joiner finds us without the network key. */
		uint8_t key[32];
		int pending = join_invite_tag(n->j, key);

		n->last_invite = t;
		mdns_set_invite(n->mdns, pending ? key : NULL);
		sodium_memzero(key, sizeof(key));
	}
	if (n->status_dirty || t - n->last_status >= 1000) {
		/* Content keys handed to this device, or made by a removal. */
		if (t - n->last_status >= 1000 && seal_refresh(n->seal, n->j, n->db) < 0 &&
		    !n->keys_failed) {
			syslog(LOG_ERR, "content keys: cannot take in new keys: %s",
			       strerror(errno));
			n->keys_failed = 1;
		}
		n->last_status = t;
		n->status_dirty = 0;
		status_update(n);
	}
}

static void *
loop(void *arg)
{
	struct net *n = arg;
	struct epoll_event evs[32];
	uint64_t last_tick = 0, v;
	int nev, applied;

	while (!__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE)) {
		nev = epoll_wait(n->ep, evs, 32, NET_TICK_MS);
		applied = 0;
		for (int i = 0; i < nev; i++) {
			void *ptr = evs[i].data.ptr;

			if (ptr == &n->evfd) {
				if (read(n->evfd, &v, sizeof(v)) < 0) {
					/* nothing to do: the counter was already read */
				}
				applied = 1;
			} else if (ptr == &n->lfd) {
				dial_accept(n);
			} else if (ptr == &n->mdns) {
				mdns_run(n->mdns);
			} else {
				struct peer *p = ptr;

				/* p may have been closed by an earlier event in this batch. */
				if (!peer_live(n, p))
					continue;
				if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
					peer_readable(n, p, &applied);
				if (peer_live(n, p) && (evs[i].events & EPOLLOUT))
					peer_writable(n, p);
			}
		}
		if (applied)
			peer_pump_all(n);
		if (hlc_mono_ms() - last_tick >= NET_TICK_MS) {
			last_tick = hlc_mono_ms();
			tick(n);
			peer_pump_all(n); /* retries what backpressure or a gap held back */
		}
	}
	return NULL;
}

static void
local_hook(void *ctx)
{
	struct net *n = ctx;
	uint64_t one = 1;

	if (write(n->evfd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: a wake-up is pending anyway */
	}
}

/* ---- starting and stopping ---- */

/* The network psk and the mDNS tag key, from DB/network.key.  0 or -1 (logged). */
static int
load_netkeys(struct net *n, const char *db)
{
	uint8_t key[NETKEY_LEN];

	if ((n->netkeys = sodium_malloc(64)) == NULL) {
		syslog(LOG_INFO, "%s: cannot start the network: %s", db, strerror(errno));
		return -1;
	}
	if (netkey_read(db, key)) {
		if (errno == ENOENT)
			syslog(LOG_ERR,
			       "%s: no " NETKEY_FILE ": this database was made by an older "
			       "blazefs; re-create it (init or join a new one, copy the files in)",
			       db);
		else
			syslog(LOG_ERR, "%s: cannot read " NETKEY_FILE ": %s", db, strerror(errno));
		return -1;
	}
	netkey_psk(n->netkeys, key);
	netkey_tag_key(n->netkeys + 32, key);
	sodium_memzero(key, sizeof(key));
	return 0;
}

static int
start_mdns(struct net *n, int port)
{
	struct mdns_config mc = {n->netkeys + 32, port, dial_found, dial_lost, n};
	struct epoll_event ev = {0};

	if ((n->mdns = mdns_new(&mc)) == NULL)
		return -1;
	ev.events = EPOLLIN;
	ev.data.ptr = &n->mdns;
	return epoll_ctl(n->ep, EPOLL_CTL_ADD, mdns_fd(n->mdns), &ev);
}

static void
net_free(struct net *n)
{
	mdns_free(n->mdns); /* withdraws the service */
	for (size_t i = 0; i < NET_SLOTS; i++)
		if (n->peers[i])
			peer_close(n, n->peers[i], NULL);
	if (n->lfd >= 0)
		close(n->lfd);
	if (n->evfd >= 0)
		close(n->evfd);
	if (n->ep >= 0)
		close(n->ep);
	free(n->targets);
	seal_free(n->seal);
	if (n->priv)
		sodium_free(n->priv);
	if (n->netkeys)
		sodium_free(n->netkeys);
	json_decref(n->status);
	pthread_mutex_destroy(&n->status_lock);
	free(n->hold.buf);
	free(n);
}

struct net *
net_start(struct journal *j, const struct net_config *cfg)
{
	struct journal_member root;
	struct journal_crypto jc, none = {NULL, NULL, NULL};
	struct epoll_event ev = {0};
	uint8_t pub[32];
	struct net *n;
	void *v;
	size_t len;
	int port = -1, saved;

	if (sodium_init() < 0) {
		errno = EIO;
		syslog(LOG_INFO, "%s: cannot start the network: libsodium does not initialise",
		       cfg->db);
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		syslog(LOG_INFO, "%s: cannot start the network: %s", cfg->db, strerror(errno));
		return NULL;
	}
	n->ep = n->evfd = n->lfd = -1;
	pthread_mutex_init(&n->status_lock, NULL);
	n->j = j;
	snprintf(n->db, sizeof(n->db), "%s", cfg->db);
	n->sc.j = j;
	n->sc.self = journal_self(j);
	n->sc.wall = hlc_wall_ms;
	n->sc.gossip = 1; /* peers pull each origin from one source (gossip.c) */
	journal_dbid(j, n->sc.dbid);
	snprintf(n->sc.name, sizeof(n->sc.name), "blazefs");
	if (journal_meta_get(j, "name", &v, &len) == 0) {
		snprintf(n->sc.name, sizeof(n->sc.name), "%.*s",
		         (int)(len < MSG_NAME_MAX ? len : MSG_NAME_MAX), (char *)v);
		free(v);
	}
	if ((n->priv = sodium_malloc(32)) == NULL || identity_load(cfg->db, n->priv, pub)) {
		syslog(LOG_INFO, "%s: cannot read the device key: %s", cfg->db, strerror(errno));
		goto err;
	}
	if (journal_root(j, &root)) {
		syslog(LOG_ERR,
		       "%s: made by an older blazefs (its changes are not signed): re-create it "
		       "with this version",
		       cfg->db);
		goto err;
	}
	/* Keys handed to this device while it was down are taken in now. */
	if ((n->seal = seal_load(cfg->db)) == NULL || seal_refresh(n->seal, j, cfg->db) < 0) {
		syslog(LOG_INFO, "%s: cannot read the content keys: %s", cfg->db, strerror(errno));
		goto err;
	}
	if (load_netkeys(n, cfg->db))
		goto err; /* logged */
	if ((n->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (n->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		goto err_log;
	ev.events = EPOLLIN;
	ev.data.ptr = &n->evfd;
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->evfd, &ev))
		goto err_log;
	if (cfg->listen_port >= 0) {
		port = cfg->listen_port ? cfg->listen_port : NET_DEFAULT_PORT;
		if (dial_listen(n, cfg->listen_addr, port)) {
			syslog(LOG_INFO, "cannot listen on %s:%d: %s%s",
			       cfg->listen_addr ? cfg->listen_addr : "*", port, strerror(errno),
			       cfg->listen_port ? "" : " (dialling only; give --listen PORT)");
			/* Only an explicit --listen is a must. */
			if (cfg->listen_port)
				goto err;
			snprintf(n->listen, sizeof(n->listen), "none");
		} else {
			ev.events = EPOLLIN;
			ev.data.ptr = &n->lfd;
			if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->lfd, &ev))
				goto err_log;
		}
	} else {
		snprintf(n->listen, sizeof(n->listen), "none");
	}
	if (dial_targets(n, cfg->peers, cfg->npeers, !cfg->no_remembered && cfg->npeers == 0))
		goto err; /* logged */
	relaylink_refresh(n, 0);
	if (!cfg->no_mdns && start_mdns(n, n->lfd >= 0 ? port : -1))
		goto err_log;
	status_update(n); /* before the thread: `blazefs invite` can read it at once */
	/* The hooks go in last, and come out again if the thread does not
	 * start: the journal must never keep pointers into a freed net. */
	seal_hooks(n->seal, &jc);
	journal_set_crypto(j, &jc);
	journal_set_local_hook(j, local_hook, n);
	if ((errno = pthread_create(&n->thread, NULL, loop, n)) != 0) {
		journal_set_local_hook(j, NULL, NULL);
		journal_set_crypto(j, &none);
		goto err_log;
	}
	syslog(LOG_INFO, "network up: listening on %s, %zu static peer(s)%s", n->listen, n->nstatic,
	       n->mdns ? ", mDNS discovery" : "");
	return n;
err_log:
	syslog(LOG_INFO, "%s: cannot start the network: %s", cfg->db, strerror(errno));
err:
	saved = errno;
	net_free(n);
	errno = saved;
	return NULL;
}

void
net_stop(struct net *n)
{
	struct journal_crypto none = {NULL, NULL, NULL};

	if (n == NULL)
		return;
	__atomic_store_n(&n->stop, 1, __ATOMIC_RELEASE);
	local_hook(n);
	pthread_join(n->thread, NULL);
	journal_set_local_hook(n->j, NULL, NULL);
	journal_set_crypto(n->j, &none);
	status_remove(n);
	net_free(n);
}

json_t *
net_status(struct net *n)
{
	json_t *o;

	if (n == NULL) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&n->status_lock);
	o = json_deep_copy(n->status);
	pthread_mutex_unlock(&n->status_lock);
	if (o == NULL)
		errno = ENOMEM;
	return o;
}

json_t *
net_status_load(const char *db)
{
	return status_load(db);
}
