/* mdns: avahi discovery over our own AvahiPoll; see mdns.h. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/timeval.h>
#include <avahi-common/watch.h>
#include <sodium.h>

#include "core/hlc.h"
#include "net/mdns.h"

#define RETRY_MS 2000 /* reconnect to a daemon that went away */
#define RESOLVE_RETRY_MS 5000

/* ---- pure parts ---- */

uint64_t
mdns_hour(uint64_t unix_seconds)
{
	return unix_seconds / 3600;
}

void
mdns_tag(char out[MDNS_TAG_HEX + 1], const uint8_t key[32], uint64_t hour)
{
	static const char pfx[] = "blazefs/mdns/";
	uint8_t in[sizeof(pfx) - 1 + 8], h[MDNS_TAG_BYTES];

	memcpy(in, pfx, sizeof(pfx) - 1);
	for (int i = 0; i < 8; i++)
		in[sizeof(pfx) - 1 + i] = (uint8_t)(hour >> (56 - 8 * i));
	crypto_generichash(h, sizeof(h), in, sizeof(in), key, 32);
	sodium_bin2hex(out, MDNS_TAG_HEX + 1, h, sizeof(h));
}

/* Whether field ("t=" or "j=") of the TXT holds a tag of key for hour +-1. */
static int
txt_match_field(const char *const *txt, const size_t *len, size_t n, const uint8_t key[32],
                uint64_t hour, const char *field)
{
	char want[MDNS_TAG_HEX + 1], v[16];
	const char *tag = NULL;
	int proto = 0, ok = 0;

	for (size_t i = 0; i < n; i++) {
		if (len[i] == 2 + MDNS_TAG_HEX && memcmp(txt[i], field, 2) == 0)
			tag = txt[i] + 2;
		else if (len[i] > 2 && len[i] < sizeof(v) && memcmp(txt[i], "v=", 2) == 0) {
			snprintf(v, sizeof(v), "%.*s", (int)len[i] - 2, txt[i] + 2);
			proto = strcmp(v, "1") == 0 ? 1 : -1;
		}
	}
	if (tag == NULL || proto != MDNS_PROTOCOL)
		return 0;
	for (uint64_t h = hour ? hour - 1 : 0; h <= hour + 1; h++) {
		mdns_tag(want, key, h);
		ok |= sodium_memcmp(want, tag, MDNS_TAG_HEX) == 0;
	}
	return ok;
}

int
mdns_txt_match(const char *const *txt, const size_t *len, size_t n, const uint8_t key[32],
               uint64_t hour)
{
	return txt_match_field(txt, len, n, key, hour, "t=");
}

int
mdns_txt_match_invite(const char *const *txt, const size_t *len, size_t n, const uint8_t key[32],
                      uint64_t hour)
{
	return txt_match_field(txt, len, n, key, hour, "j=");
}

void
mdns_advert(struct mdns_advert *a, const uint8_t key[32], const uint8_t *invite,
            const uint8_t salt[32], uint64_t hour)
{
	char h[MDNS_TAG_HEX + 1];

	/* The name and the filler are tags under a per-mount random salt: fresh
	 * every hour, the same within one (a re-announce changes nothing), and
	 * unrelated from one hour to the next for anyone without the salt. */
	mdns_tag(h, salt, 2 * hour);
	snprintf(a->name, sizeof(a->name), "blazefs-%.8s", h);
	snprintf(a->v, sizeof(a->v), "v=%d", MDNS_PROTOCOL);
	memcpy(a->t, "t=", 2);
	mdns_tag(a->t + 2, key, hour);
	/* j= is always there, so an announcement does not tell whether an
	 * invite is pending: the invite's tag, or filler of the same shape. */
	memcpy(a->j, "j=", 2);
	mdns_tag(a->j + 2, invite ? invite : salt, invite ? hour : 2 * hour + 1);
}

/* ---- AvahiPoll over an inner epoll ---- */

/* A watch registers a dup of its fd: libdbus watches one socket twice (in and
 * out) and epoll refuses the same fd twice, but not two fds of one file. */
struct AvahiWatch {
	struct mdns *m;
	int fd, dupfd, dead;
	AvahiWatchEvent events, revents;
	AvahiWatchCallback cb;
	void *ud;
	AvahiWatch *next;
};

struct AvahiTimeout {
	struct mdns *m;
	int enabled, dead;
	struct timeval tv;
	AvahiTimeoutCallback cb;
	void *ud;
	AvahiTimeout *next;
};

struct entry {
	int used, matched;
	AvahiIfIndex iface;
	AvahiProtocol proto;
	char name[AVAHI_LABEL_MAX];
	char domain[AVAHI_DOMAIN_NAME_MAX];
	AvahiServiceResolver *r;
	uint64_t retry; /* ms: recreate the resolver after a failure */
	char host[MDNS_HOST_MAX];
	int port;
};

struct mdns {
	AvahiPoll api;
	int ep;
	AvahiWatch *watches;
	AvahiTimeout *timeouts;
	AvahiClient *client;
	AvahiEntryGroup *group;
	AvahiServiceBrowser *browser;
	char *name;         /* avahi_malloc'd service name */
	uint8_t key[32];    /* the members' tag key */
	uint8_t salt[32];   /* random per mount: the hourly name and filler */
	uint8_t invite[32]; /* the pending invite's tag key, if has_invite */
	int has_invite;
	int port;
	uint64_t hour;    /* of the published tag */
	uint64_t restart; /* ms: when to recreate a failed client; 0: none due */
	int warned, full_warned;
	mdns_found_fn *found;
	mdns_lost_fn *lost;
	void *ctx;
	struct entry e[MDNS_MAX];
};

/* BLAZEFS_TEST_HOUR_SECONDS (a test knob) shortens the "hour" of this
 * process's tags and names, so a test sees a retag in seconds. */
static uint64_t
hour_now(void)
{
	const char *e = getenv("BLAZEFS_TEST_HOUR_SECONDS");
	long len = e ? strtol(e, NULL, 10) : 0;

	if (len > 0)
		return (uint64_t)time(NULL) / (uint64_t)len;
	return mdns_hour((uint64_t)time(NULL));
}

static uint32_t
to_epoll(AvahiWatchEvent e)
{
	return ((e & AVAHI_WATCH_IN) ? EPOLLIN : 0) | ((e & AVAHI_WATCH_OUT) ? EPOLLOUT : 0);
}

static AvahiWatchEvent
from_epoll(uint32_t e)
{
	return ((e & EPOLLIN) ? AVAHI_WATCH_IN : 0) | ((e & EPOLLOUT) ? AVAHI_WATCH_OUT : 0) |
	       ((e & EPOLLERR) ? AVAHI_WATCH_ERR : 0) | ((e & EPOLLHUP) ? AVAHI_WATCH_HUP : 0);
}

static AvahiWatch *
w_new(const AvahiPoll *api, int fd, AvahiWatchEvent events, AvahiWatchCallback cb, void *ud)
{
	struct mdns *m = api->userdata;
	struct epoll_event ev = {0};
	AvahiWatch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		goto err0;
	ev.events = to_epoll(events);
	ev.data.ptr = w;
	if (epoll_ctl(m->ep, EPOLL_CTL_ADD, w->dupfd, &ev))
		goto err1;
	w->m = m;
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->ud = ud;
	w->next = m->watches;
	m->watches = w;
	return w;
err1:
	close(w->dupfd);
err0:
	free(w);
	return NULL;
}

static void
w_update(AvahiWatch *w, AvahiWatchEvent events)
{
	struct epoll_event ev = {0};

	w->events = events;
	ev.events = to_epoll(events);
	ev.data.ptr = w;
	epoll_ctl(w->m->ep, EPOLL_CTL_MOD, w->dupfd, &ev);
}

static AvahiWatchEvent
w_get_events(AvahiWatch *w)
{
	return w->revents;
}

/* Freed for real at the end of mdns_run: a callback may free another watch. */
static void
w_free(AvahiWatch *w)
{
	epoll_ctl(w->m->ep, EPOLL_CTL_DEL, w->dupfd, NULL);
	close(w->dupfd);
	w->dupfd = -1;
	w->dead = 1;
}

static void
t_set(AvahiTimeout *t, const struct timeval *tv)
{
	t->enabled = tv != NULL;
	if (tv != NULL)
		t->tv = *tv;
}

static AvahiTimeout *
t_new(const AvahiPoll *api, const struct timeval *tv, AvahiTimeoutCallback cb, void *ud)
{
	struct mdns *m = api->userdata;
	AvahiTimeout *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->m = m;
	t_set(t, tv);
	t->cb = cb;
	t->ud = ud;
	t->next = m->timeouts;
	m->timeouts = t;
	return t;
}

static void
t_update(AvahiTimeout *t, const struct timeval *tv)
{
	t_set(t, tv);
}

static void
t_free(AvahiTimeout *t)
{
	t->dead = 1;
	t->enabled = 0;
}

static void
reap(struct mdns *m)
{
	AvahiWatch **wp = &m->watches, *w;
	AvahiTimeout **tp = &m->timeouts, *t;

	while ((w = *wp) != NULL) {
		if (w->dead) {
			*wp = w->next;
			free(w);
		} else
			wp = &w->next;
	}
	while ((t = *tp) != NULL) {
		if (t->dead) {
			*tp = t->next;
			free(t);
		} else
			tp = &t->next;
	}
}

/* One pass over ready watches and due timeouts.  Returns how many ran. */
static int
dispatch(struct mdns *m)
{
	struct epoll_event evs[16];
	int n, ran = 0;

	n = epoll_wait(m->ep, evs, 16, 0);
	for (int i = 0; i < n; i++) {
		AvahiWatch *w = evs[i].data.ptr;

		if (w->dead)
			continue;
		w->revents = from_epoll(evs[i].events);
		w->cb(w, w->fd, w->revents, w->ud);
		w->revents = 0;
		ran++;
	}
	/* New timeouts go to the head: a pass sees each at most once. */
	for (AvahiTimeout *t = m->timeouts; t != NULL; t = t->next) {
		if (t->dead || !t->enabled || avahi_age(&t->tv) < 0)
			continue;
		t->enabled = 0; /* one shot until updated */
		t->cb(t, t->ud);
		ran++;
	}
	return ran;
}

/* ---- the table of discovered services ---- */

static void
entry_lose(struct mdns *m, int i)
{
	struct entry *e = &m->e[i];

	if (e->matched && m->lost)
		m->lost(m->ctx, i);
	e->matched = 0;
}

static void
entry_clear(struct mdns *m, int i)
{
	struct entry *e = &m->e[i];

	entry_lose(m, i);
	if (e->r)
		avahi_service_resolver_free(e->r);
	memset(e, 0, sizeof(*e));
}

static void
address_text(char *out, size_t len, const AvahiAddress *a, AvahiIfIndex iface)
{
	char ifname[IF_NAMESIZE], s[AVAHI_ADDRESS_STR_MAX];

	avahi_address_snprint(s, sizeof(s), a);
	/* A link-local v6 address means nothing without its interface. */
	if (a->proto == AVAHI_PROTO_INET6 && a->data.ipv6.address[0] == 0xfe &&
	    (a->data.ipv6.address[1] & 0xc0) == 0x80 && if_indextoname((unsigned)iface, ifname))
		snprintf(out, len, "%s%%%s", s, ifname);
	else
		snprintf(out, len, "%s", s);
}

/* The TXT list as arrays for mdns_txt_match; at most 16 strings looked at. */
static int
txt_match(AvahiStringList *txt, const uint8_t key[32], int invite)
{
	const char *s[16];
	size_t len[16], n = 0;

	for (; txt != NULL && n < 16; txt = avahi_string_list_get_next(txt)) {
		s[n] = (const char *)avahi_string_list_get_text(txt);
		len[n++] = avahi_string_list_get_size(txt);
	}
	if (invite)
		return mdns_txt_match_invite(s, len, n, key, hour_now());
	return mdns_txt_match(s, len, n, key, hour_now());
}

static void
resolve_cb(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
           AvahiResolverEvent event, const char *name, const char *type, const char *domain,
           const char *host_name, const AvahiAddress *a, uint16_t port, AvahiStringList *txt,
           AvahiLookupResultFlags flags, void *ud)
{
	struct mdns *m = ud;
	char host[MDNS_HOST_MAX];
	int i;

	(void)iface, (void)proto, (void)name, (void)type, (void)domain, (void)host_name;
	(void)flags;
	for (i = 0; i < MDNS_MAX && m->e[i].r != r; i++)
		;
	if (i == MDNS_MAX)
		return;
	if (event != AVAHI_RESOLVER_FOUND) {
		/* Gone quiet or a daemon error: forget it, try again later. */
		entry_lose(m, i);
		avahi_service_resolver_free(r);
		m->e[i].r = NULL;
		m->e[i].retry = hlc_mono_ms() + RESOLVE_RETRY_MS;
		return;
	}
	if (!txt_match(txt, m->key, 0) || port == 0) {
		entry_lose(m, i); /* a stranger, or a member whose tag went stale */
		return;
	}
	address_text(host, sizeof(host), a, m->e[i].iface);
	if (m->e[i].matched && m->e[i].port == port && strcmp(m->e[i].host, host) == 0)
		return;
	snprintf(m->e[i].host, sizeof(m->e[i].host), "%s", host);
	m->e[i].port = port;
	m->e[i].matched = 1;
	syslog(LOG_INFO, "mDNS: found a member at %s port %u", host, port);
	if (m->found)
		m->found(m->ctx, i, host, port);
}

static int
resolve(struct mdns *m, int i)
{
	struct entry *e = &m->e[i];

	/* The address of the family the service was seen over: with either
	 * family, avahi answers with whichever of the host's A and AAAA
	 * records it holds first, and a device listening on an IPv4 address
	 * is not reached at its link-local IPv6 one. */
	e->r = avahi_service_resolver_new(m->client, e->iface, e->proto, e->name, MDNS_TYPE,
	                                  e->domain, e->proto, 0, resolve_cb, m);
	if (e->r == NULL)
		e->retry = hlc_mono_ms() + RESOLVE_RETRY_MS;
	return e->r ? 0 : -1;
}

/* A free slot, or one holding a non-member (strangers must not crowd members out). */
static int
slot_for_new(struct mdns *m)
{
	for (int i = 0; i < MDNS_MAX; i++)
		if (!m->e[i].used)
			return i;
	for (int i = 0; i < MDNS_MAX; i++)
		if (!m->e[i].matched && m->e[i].r != NULL) {
			entry_clear(m, i);
			return i;
		}
	return -1;
}

static void
browse_cb(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto, AvahiBrowserEvent event,
          const char *name, const char *type, const char *domain, AvahiLookupResultFlags flags,
          void *ud)
{
	struct mdns *m = ud;
	int i;

	(void)b, (void)type;
	if (event == AVAHI_BROWSER_FAILURE) {
		syslog(LOG_WARNING, "mDNS: browsing failed: %s",
		       avahi_strerror(avahi_client_errno(m->client)));
		return;
	}
	if (event != AVAHI_BROWSER_NEW && event != AVAHI_BROWSER_REMOVE)
		return;
	for (i = 0; i < MDNS_MAX; i++) {
		struct entry *e = &m->e[i];

		if (e->used && e->iface == iface && e->proto == proto &&
		    strcmp(e->name, name) == 0 && strcmp(e->domain, domain) == 0)
			break;
	}
	if (event == AVAHI_BROWSER_REMOVE) {
		if (i < MDNS_MAX)
			entry_clear(m, i);
		return;
	}
	/* This process's own service is not a peer. */
	if (i < MDNS_MAX || (flags & AVAHI_LOOKUP_RESULT_OUR_OWN) ||
	    ((flags & AVAHI_LOOKUP_RESULT_LOCAL) && m->name && strcmp(name, m->name) == 0))
		return;
	if ((i = slot_for_new(m)) < 0) {
		if (!m->full_warned++)
			syslog(LOG_WARNING, "mDNS: more than %d services seen: ignoring new ones",
			       MDNS_MAX);
		return;
	}
	m->e[i].used = 1;
	m->e[i].iface = iface;
	m->e[i].proto = proto;
	snprintf(m->e[i].name, sizeof(m->e[i].name), "%s", name);
	snprintf(m->e[i].domain, sizeof(m->e[i].domain), "%s", domain);
	resolve(m, i);
}

/* ---- publishing ---- */

static int publish(struct mdns *m);

static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *ud)
{
	struct mdns *m = ud;
	char *alt;

	if (state == AVAHI_ENTRY_GROUP_ESTABLISHED) {
		syslog(LOG_INFO, "mDNS: announcing \"%s\" on port %d", m->name, m->port);
	} else if (state == AVAHI_ENTRY_GROUP_COLLISION) {
		if ((alt = avahi_alternative_service_name(m->name)) == NULL)
			return;
		avahi_free(m->name);
		m->name = alt;
		avahi_entry_group_reset(g);
		publish(m);
	} else if (state == AVAHI_ENTRY_GROUP_FAILURE) {
		syslog(LOG_WARNING, "mDNS: cannot announce: %s",
		       avahi_strerror(avahi_client_errno(m->client)));
	}
}

/* Adds the service to the (empty) group and commits it. */
static int
publish(struct mdns *m)
{
	struct mdns_advert a;
	char *name;
	int rc;

	if (m->port <= 0)
		return 0;
	if (m->group == NULL && (m->group = avahi_entry_group_new(m->client, group_cb, m)) == NULL)
		goto err;
	/* A new hour, a new name: nothing links it to the last one. */
	if (m->hour != hour_now() || m->name == NULL) {
		m->hour = hour_now();
		mdns_advert(&a, m->key, NULL, m->salt, m->hour);
		if ((name = avahi_strdup(a.name)) == NULL)
			goto err;
		avahi_free(m->name);
		m->name = name;
	}
	mdns_advert(&a, m->key, m->has_invite ? m->invite : NULL, m->salt, m->hour);
	for (int tries = 0; tries < 16; tries++) {
		rc = avahi_entry_group_add_service(m->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
		                                   m->name, MDNS_TYPE, NULL, NULL,
		                                   (uint16_t)m->port, a.v, a.t, a.j, NULL);
		if (rc != AVAHI_ERR_COLLISION)
			break;
		char *alt = avahi_alternative_service_name(m->name);

		if (alt == NULL)
			break;
		avahi_free(m->name);
		m->name = alt;
	}
	if (rc < 0 || avahi_entry_group_commit(m->group) < 0)
		goto err;
	return 0;
err:
	syslog(LOG_WARNING, "mDNS: cannot announce: %s",
	       avahi_strerror(avahi_client_errno(m->client)));
	return -1;
}

/*
 * The hour turned: withdraw the service and announce it anew under a new
 * name with the new tags (updating the TXT under the old name would link
 * the hours).  Members see the old one go and the new one come, and dial it;
 * the open connection stays (dial.c keeps one connection per device).
 */
static void
retag(struct mdns *m)
{
	if (m->group == NULL || m->hour == hour_now())
		return;
	avahi_entry_group_reset(m->group);
	publish(m);
}

void
mdns_set_invite(struct mdns *m, const uint8_t *key)
{
	struct mdns_advert a;

	if ((key == NULL && !m->has_invite) ||
	    (key != NULL && m->has_invite && sodium_memcmp(key, m->invite, 32) == 0))
		return;
	m->has_invite = key != NULL;
	if (key != NULL)
		memcpy(m->invite, key, 32);
	else
		sodium_memzero(m->invite, sizeof(m->invite));
	if (m->group == NULL || m->name == NULL || avahi_entry_group_is_empty(m->group))
		return; /* publish() puts it in */
	mdns_advert(&a, m->key, m->has_invite ? m->invite : NULL, m->salt, m->hour);
	avahi_entry_group_update_service_txt(m->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
	                                     m->name, MDNS_TYPE, NULL, a.v, a.t, a.j, NULL);
}

/* ---- the client ---- */

/* Drops what lives on the daemon's side (browser, resolvers, group). */
static void
teardown(struct mdns *m)
{
	for (int i = 0; i < MDNS_MAX; i++)
		if (m->e[i].used)
			entry_clear(m, i);
	if (m->browser) {
		avahi_service_browser_free(m->browser);
		m->browser = NULL;
	}
	if (m->group) {
		avahi_entry_group_free(m->group);
		m->group = NULL;
	}
}

static void
client_cb(AvahiClient *c, AvahiClientState state, void *ud)
{
	struct mdns *m = ud;

	m->client = c; /* called from inside avahi_client_new already */
	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		if (m->warned)
			syslog(LOG_INFO, "mDNS: avahi daemon reachable: discovery on");
		m->warned = 0;
		if (m->browser == NULL && (m->browser = avahi_service_browser_new(
		                               c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, MDNS_TYPE,
		                               NULL, 0, browse_cb, m)) == NULL)
			syslog(LOG_WARNING, "mDNS: cannot browse: %s",
			       avahi_strerror(avahi_client_errno(c)));
		if (m->group == NULL || avahi_entry_group_is_empty(m->group))
			publish(m);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		/* The host name changes: announce again once running. */
		if (m->group)
			avahi_entry_group_reset(m->group);
		break;
	case AVAHI_CLIENT_CONNECTING:
		teardown(m);
		if (!m->warned++)
			syslog(LOG_WARNING,
			       "mDNS: no avahi daemon running: discovery off until one "
			       "starts (static --peer still works)");
		break;
	case AVAHI_CLIENT_FAILURE:
		teardown(m);
		if (!m->warned++)
			syslog(LOG_WARNING,
			       "mDNS: avahi failed (%s): discovery off, retrying "
			       "(static --peer still works)",
			       avahi_strerror(avahi_client_errno(c)));
		m->restart = hlc_mono_ms() + RETRY_MS; /* freed outside its own callback */
		break;
	}
}

static void
client_start(struct mdns *m)
{
	int err = 0;

	m->restart = 0;
	m->client = avahi_client_new(&m->api, AVAHI_CLIENT_NO_FAIL, client_cb, m, &err);
	if (m->client == NULL) {
		if (!m->warned++)
			syslog(LOG_WARNING,
			       "mDNS: cannot reach avahi (%s): discovery off, retrying "
			       "(static --peer still works)",
			       avahi_strerror(err));
		m->restart = hlc_mono_ms() + RETRY_MS;
	}
}

static void
client_stop(struct mdns *m)
{
	teardown(m);
	if (m->client) {
		avahi_client_free(m->client);
		m->client = NULL;
	}
}

struct mdns *
mdns_new(const struct mdns_config *cfg)
{
	struct mdns *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto err0;
	/* The name comes from a random salt per mount and the hour (publish):
	 * nothing stable about the device on the wire. */
	randombytes_buf(m->salt, sizeof(m->salt));
	memcpy(m->key, cfg->key, 32);
	m->port = cfg->port;
	m->found = cfg->found;
	m->lost = cfg->lost;
	m->ctx = cfg->ctx;
	m->api.userdata = m;
	m->api.watch_new = w_new;
	m->api.watch_update = w_update;
	m->api.watch_get_events = w_get_events;
	m->api.watch_free = w_free;
	m->api.timeout_new = t_new;
	m->api.timeout_update = t_update;
	m->api.timeout_free = t_free;
	client_start(m);
	return m;
err0:
	free(m);
	return NULL;
}

int
mdns_fd(const struct mdns *m)
{
	return m->ep;
}

void
mdns_run(struct mdns *m)
{
	uint64_t t = hlc_mono_ms();

	/* Bounded: a callback re-arming a zero timeout must not spin us. */
	for (int pass = 0; pass < 8 && dispatch(m) > 0; pass++)
		;
	if (m->restart && t >= m->restart) {
		client_stop(m);
		client_start(m);
	}
	if (m->client && avahi_client_get_state(m->client) == AVAHI_CLIENT_S_RUNNING) {
		retag(m);
		for (int i = 0; i < MDNS_MAX; i++)
			if (m->e[i].used && m->e[i].r == NULL && t >= m->e[i].retry)
				resolve(m, i);
	}
	reap(m);
}

void
mdns_free(struct mdns *m)
{
	if (m == NULL)
		return;
	m->found = NULL;
	m->lost = NULL;
	client_stop(m); /* freeing the group withdraws the service */
	for (AvahiWatch *w = m->watches; w != NULL; w = w->next)
		if (!w->dead)
			w_free(w);
	for (AvahiTimeout *t = m->timeouts; t != NULL; t = t->next)
		t->dead = 1;
	reap(m);
	avahi_free(m->name);
	close(m->ep);
	sodium_memzero(m, sizeof(*m));
	free(m);
}

/* ---- blocking lookup for join ---- */

struct find {
	AvahiSimplePoll *sp;
	AvahiClient *c;
	const uint8_t *key;
	char (*hosts)[MDNS_HOST_MAX];
	int *ports, n, max, failed;
	uint64_t first;
};

static void
find_resolve_cb(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
                AvahiResolverEvent event, const char *name, const char *type, const char *domain,
                const char *host_name, const AvahiAddress *a, uint16_t port, AvahiStringList *txt,
                AvahiLookupResultFlags flags, void *ud)
{
	struct find *f = ud;
	char host[MDNS_HOST_MAX];

	(void)proto, (void)name, (void)type, (void)domain, (void)host_name, (void)flags;
	if (event != AVAHI_RESOLVER_FOUND) {
		avahi_service_resolver_free(r);
		return;
	}
	/* A resolver that found no match stays: the inviter shows the invite's
	 * tag up to a moment after `invite`, so this host's avahi may first
	 * answer with the TXT from before, and the resolver fires again when
	 * the new one arrives.  avahi_client_free frees what is left. */
	if (f->n < f->max && port != 0 && txt_match(txt, f->key, 1)) {
		address_text(host, sizeof(host), a, iface);
		for (int i = 0; i < f->n; i++)
			if (f->ports[i] == port && strcmp(f->hosts[i], host) == 0)
				return;
		snprintf(f->hosts[f->n], MDNS_HOST_MAX, "%s", host);
		f->ports[f->n++] = port;
		if (f->first == 0)
			f->first = hlc_mono_ms();
	}
}

static void
find_browse_cb(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
               AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
               AvahiLookupResultFlags flags, void *ud)
{
	struct find *f = ud;

	(void)b, (void)flags;
	if (event == AVAHI_BROWSER_NEW)
		avahi_service_resolver_new(f->c, iface, proto, name, type, domain, proto, 0,
		                           find_resolve_cb, f); /* as in resolve() */
	else if (event == AVAHI_BROWSER_FAILURE)
		f->failed = 1;
}

static void
find_client_cb(AvahiClient *c, AvahiClientState state, void *ud)
{
	struct find *f = ud;

	(void)c;
	if (state == AVAHI_CLIENT_FAILURE)
		f->failed = 1;
}

int
mdns_find(const uint8_t key[32], int timeout_ms, char hosts[][MDNS_HOST_MAX], int *ports, int max)
{
	struct find f = {0};
	AvahiServiceBrowser *b = NULL;
	uint64_t end = hlc_mono_ms() + (uint64_t)timeout_ms;
	int err = 0, rc = -1;

	f.key = key;
	f.hosts = hosts;
	f.ports = ports;
	f.max = max;
	if ((f.sp = avahi_simple_poll_new()) == NULL)
		return -1;
	f.c = avahi_client_new(avahi_simple_poll_get(f.sp), 0, find_client_cb, &f, &err);
	if (f.c == NULL) {
		fprintf(stderr, "mDNS: cannot reach the avahi daemon: %s\n", avahi_strerror(err));
		goto out;
	}
	b = avahi_service_browser_new(f.c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, MDNS_TYPE, NULL, 0,
	                              find_browse_cb, &f);
	if (b == NULL) {
		fprintf(stderr, "mDNS: cannot browse: %s\n",
		        avahi_strerror(avahi_client_errno(f.c)));
		goto out;
	}
	while (!f.failed && hlc_mono_ms() < end &&
	       (f.first == 0 || hlc_mono_ms() < f.first + 500) && f.n < max)
		if (avahi_simple_poll_iterate(f.sp, 100) != 0)
			break;
	if (f.failed && f.n == 0)
		fprintf(stderr, "mDNS: avahi failed: %s\n",
		        avahi_strerror(avahi_client_errno(f.c)));
	else
		rc = f.n;
out:
	if (b)
		avahi_service_browser_free(b);
	if (f.c)
		avahi_client_free(f.c); /* frees the resolvers still running */
	avahi_simple_poll_free(f.sp);
	return rc;
}
