/* dial: dial targets, backoff, listening and accepting; see dial.h. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "core/hlc.h"
#include "core/journal.h"
#include "net/conn.h"
#include "net/dial.h"
#include "net/join.h"
#include "net/mdns.h"
#include "net/net_int.h"
#include "net/netlog.h"
#include "net/peer.h"

/* Sets t to "HOST:PORT" (or "[V6]:PORT").  0, or -1 if it is not one. */
int
dial_target_set(struct target *t, const char *s)
{
	const char *c = strrchr(s, ':');

	if (c == NULL || c == s || (size_t)(c - s) >= sizeof(t->host) ||
	    strlen(c + 1) >= sizeof(t->port) || c[1] == '\0')
		return -1;
	/* [v6]:port */
	if (*s == '[' && c[-1] == ']')
		snprintf(t->host, sizeof(t->host), "%.*s", (int)(c - s - 2), s + 1);
	else
		snprintf(t->host, sizeof(t->host), "%.*s", (int)(c - s), s);
	snprintf(t->port, sizeof(t->port), "%s", c + 1);
	t->backoff = DIAL_BACKOFF_MIN_MS;
	return 0;
}

/* The remembered addresses as a malloc'd, NUL-terminated text ("" if none). */
static char *
remembered(struct journal *j)
{
	char *text;
	void *v;
	size_t len;

	if (journal_meta_get(j, DIAL_ADDRESSES_META, &v, &len))
		return strdup("");
	if ((text = malloc(len + 1)) != NULL) {
		memcpy(text, v, len);
		text[len] = '\0';
	}
	free(v);
	return text;
}

int
dial_targets(struct net *n, const char *const *peers, size_t npeers, int remember)
{
	char *known = remember ? remembered(n->j) : strdup(""), *line, *save = NULL;

	if (known == NULL ||
	    (n->targets = calloc(npeers + DIAL_REMEMBER_MAX + MDNS_MAX + RELAYLINK_MAX,
	                         sizeof(*n->targets))) == NULL) {
		syslog(LOG_INFO, "%s: cannot start the network: %s", n->db, strerror(errno));
		free(known);
		return -1;
	}
	for (size_t i = 0; i < npeers; i++) {
		if (dial_target_set(&n->targets[n->ntargets], peers[i])) {
			syslog(LOG_INFO, "bad peer address %s (want HOST:PORT)", peers[i]);
			free(known);
			errno = EINVAL;
			return -1;
		}
		n->ntargets++;
	}
	/* Where sessions ran before, unless given again. */
	for (line = strtok_r(known, "\n", &save);
	     line != NULL && n->ntargets < npeers + DIAL_REMEMBER_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		struct target *t = &n->targets[n->ntargets];
		size_t k;

		if (dial_target_set(t, line))
			continue;
		for (k = 0; k < n->ntargets; k++)
			if (!strcmp(n->targets[k].host, t->host) &&
			    !strcmp(n->targets[k].port, t->port))
				break;
		if (k < n->ntargets) {
			memset(t, 0, sizeof(*t));
			continue;
		}
		t->remembered = 1;
		n->ntargets++;
	}
	free(known);
	n->nstatic = n->ntargets;
	for (size_t i = 0; i < MDNS_MAX; i++) {
		n->targets[n->ntargets + i].mdns = 1;
		n->targets[n->ntargets + i].unused = 1;
	}
	n->ntargets += MDNS_MAX;
	/* The relays' slots (relaylink.c fills them). */
	n->relay_first = n->ntargets;
	for (size_t i = 0; i < RELAYLINK_MAX; i++)
		n->targets[n->ntargets + i].unused = 1;
	n->ntargets += RELAYLINK_MAX;
	return 0;
}

int
dial_remember(struct journal *j, const char *hostport)
{
	char *known = remembered(j), *out, *line, *save = NULL;
	size_t kept = 1;
	int rc;

	if (known == NULL || strchr(hostport, '\n') != NULL ||
	    (out = malloc(strlen(hostport) + strlen(known) + 2)) == NULL) {
		free(known);
		return -1;
	}
	/* This one first, then the others, without it. */
	strcpy(out, hostport);
	for (line = strtok_r(known, "\n", &save); line != NULL && kept < DIAL_REMEMBER_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, hostport) == 0)
			continue;
		strcat(out, "\n");
		strcat(out, line);
		kept++;
	}
	rc = journal_meta_put(j, DIAL_ADDRESSES_META, out, strlen(out));
	free(known);
	free(out);
	return rc;
}

void
dial_backoff(struct target *t)
{
	t->next = hlc_mono_ms() + t->backoff + randombytes_uniform((uint32_t)t->backoff / 2 + 1);
	t->backoff = t->backoff * 2 > DIAL_BACKOFF_MAX_MS ? DIAL_BACKOFF_MAX_MS : t->backoff * 2;
}

static void
dial(struct net *n, size_t ti)
{
	struct target *t = &n->targets[ti];
	struct addrinfo hints = {0}, *res = NULL;
	char addr[300];
	int fd;

	hints.ai_socktype = SOCK_STREAM;
	t->next = hlc_mono_ms() + t->backoff;
	if (getaddrinfo(t->host, t->port, &hints, &res) || res == NULL)
		goto fail;
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (connect(fd, res->ai_addr, res->ai_addrlen) && errno != EINPROGRESS) {
		close(fd);
		goto fail;
	}
	snprintf(addr, sizeof(addr), "%s:%s", t->host, t->port);
	if ((t->p = peer_add(n, fd, 1, (int)ti, addr, NULL)) == NULL)
		close(fd);
	freeaddrinfo(res);
	return;
fail:
	if (res)
		freeaddrinfo(res);
	dial_backoff(t);
}

/* Peers dialled here are newer than t: compare without subtracting. */
void
dial_tick(struct net *n, uint64_t t)
{
	for (size_t i = 0; i < n->ntargets; i++) {
		struct target *tg = &n->targets[i];

		if (tg->unused || tg->p != NULL || t < tg->next)
			continue;
		/* Already connected to that device the other way: no redial. */
		if (peer_connected(n, tg->device))
			tg->next = t + 1000;
		else
			dial(n, i);
	}
}

int
dial_listen(struct net *n, const char *addr, int port)
{
	struct addrinfo hints = {0}, *res = NULL;
	char ps[16];
	int fd = -1, one = 1;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &res) || res == NULL) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 64)) {
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	n->lfd = fd;
	snprintf(n->listen, sizeof(n->listen), "%s:%d", addr ? addr : "*", port);
	return 0;
}

void
dial_peer_text(const struct sockaddr_storage *ss, char *host, size_t hostlen, char *addr,
               size_t addrlen)
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;

	host[0] = '\0';
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &v4->sin_addr, host, (socklen_t)hostlen);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &v6->sin6_addr, host, (socklen_t)hostlen);
	snprintf(addr, addrlen, "%s:%u", host,
	         ss->ss_family == AF_INET6 ? ntohs(v6->sin6_port) : ntohs(v4->sin_port));
}

void
dial_accept(struct net *n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN], addr[80];
	uint8_t key[32], decoy[32], slot;
	struct peer *p;
	int fd, one = 1, join, st, kind;

	while ((fd = accept4(n->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	       0) {
		sl = sizeof(ss); /* for the next accept, whatever this one filled in */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		dial_peer_text(&ss, host, sizeof(host), addr, sizeof(addr));
		/* Full: accepted and closed at once, so that the kernel's backlog
		 * does not fill and members' connections still reach us. */
		if (!peer_admit(n, host)) {
			close(fd);
			netlog(NETLOG_ACCEPT, LOG_INFO,
			       "peer %s: refused: too many unauthenticated connections (%d, %d "
			       "per address)",
			       addr, NET_UNAUTH_MAX, NET_UNAUTH_PER_ADDR);
			continue;
		}
		/* A pending invite lets this connection join: a long code's with
		 * its psk, a short code's by CPace on its password. */
		st = join_invite_state(n->j, &kind, &slot, key);
		join = st == CONN_PAKE_OK && kind == JOIN_KIND_LONG;
		/* A long code with no long invite pending fails message 1 like a
		 * wrong one (a random psk): its dialler hears "refused", as before. */
		if (!join)
			randombytes_buf(decoy, sizeof(decoy));
		if ((p = peer_add(n, fd, 0, -1, addr, join ? key : decoy)) == NULL)
			close(fd);
		else if (conn_set_pake(p->c, join ? CONN_PAKE_REPLACED : st, slot, key,
		                       JOIN_PRS_LEN))
			peer_close(n, p, "failed");
		sodium_memzero(key, sizeof(key));
		sodium_memzero(decoy, sizeof(decoy));
	}
}

void
dial_found(void *ctx, int slot, const char *host, int port)
{
	struct net *n = ctx;
	struct target *t = &n->targets[n->nstatic + (size_t)slot];

	if (t->p != NULL) {
		t->p->target = -1; /* the address changed: a fresh target */
		t->p = NULL;
	}
	snprintf(t->host, sizeof(t->host), "%s", host);
	snprintf(t->port, sizeof(t->port), "%d", port);
	t->device = 0;
	t->next = 0;
	t->backoff = DIAL_BACKOFF_MIN_MS;
	t->unused = 0;
	n->status_dirty = 1;
}

void
dial_lost(void *ctx, int slot)
{
	struct net *n = ctx;
	struct target *t = &n->targets[n->nstatic + (size_t)slot];

	if (t->p != NULL)
		t->p->target = -1;
	t->p = NULL;
	t->device = 0;
	t->unused = 1;
	n->status_dirty = 1;
}
