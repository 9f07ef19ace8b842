/*
 * netproxy: a small TCP proxy for the tests (there is no netem here).
 *
 *   netproxy LISTEN_PORT TARGET_HOST:TARGET_PORT [--rate BYTES_PER_S]
 *
 * Listens on 127.0.0.1:LISTEN_PORT and forwards every accepted connection to
 * the target, both ways.  --rate caps each direction of each connection with
 * a token bucket (a bandwidth-limited link).  SIGUSR1 makes the proxy go
 * silent: nothing more is read or forwarded either way, but no socket is
 * closed (a silently dead link); new connections are accepted and held, also
 * silent.  SIGUSR2 resumes.  SIGTERM/SIGINT end it.  It prints "ready" on
 * stdout once listening.  One thread, poll(); tests only.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NP_MAX 64
#define NP_BUF 65536

/* One direction of a connection: bytes read from `from` waiting for `to`. */
struct np_dir {
	int from, to;
	uint8_t buf[NP_BUF];
	size_t len, off;
	double tokens;
	int eof;
};

struct np_conn {
	struct np_dir d[2];
	int used;
};

static volatile sig_atomic_t np_silent, np_stop;
static struct np_conn np_conns[NP_MAX];

static void
np_signal(int sig)
{
	if (sig == SIGUSR1)
		np_silent = 1;
	else if (sig == SIGUSR2)
		np_silent = 0;
	else
		np_stop = 1;
}

static double
np_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
np_dial(const char *host, const char *port)
{
	struct addrinfo hints = {0}, *ai;
	int fd;

	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai))
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void
np_close(struct np_conn *c)
{
	close(c->d[0].from);
	close(c->d[0].to);
	c->used = 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = {0};
	struct sigaction act = {0};
	char host[256], *colon;
	double rate = 0, last;
	int lfd, one = 1;

	if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--rate") == 0)) {
		fprintf(stderr, "usage: netproxy LISTEN_PORT TARGET_HOST:TARGET_PORT "
		                "[--rate BYTES_PER_S]\n");
		return 2;
	}
	if (argc == 5)
		rate = atof(argv[4]);
	snprintf(host, sizeof(host), "%s", argv[2]);
	if ((colon = strrchr(host, ':')) == NULL) {
		fprintf(stderr, "netproxy: target must be HOST:PORT\n");
		return 2;
	}
	*colon = '\0';
	act.sa_handler = np_signal;
	sigaction(SIGUSR1, &act, NULL);
	sigaction(SIGUSR2, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16)) {
		perror("netproxy: listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	last = np_now();
	while (!np_stop) {
		struct pollfd pf[1 + 2 * NP_MAX];
		struct np_dir *owner[1 + 2 * NP_MAX];
		size_t n = 0;
		double t = np_now(), dt = t - last;

		last = t;
		pf[n].fd = lfd;
		pf[n].events = POLLIN;
		owner[n++] = NULL;
		for (int i = 0; i < NP_MAX; i++) {
			for (int k = 0; k < 2 && np_conns[i].used; k++) {
				struct np_dir *d = &np_conns[i].d[k];

				/* Tokens for at most 0.1 s of idle: bursts stay small. */
				d->tokens += rate * dt;
				if (d->tokens > rate / 10 + 1)
					d->tokens = rate / 10 + 1;
				if (np_silent)
					continue;
				/* Out of tokens: wait for the clock, not the socket. */
				if (d->len > d->off && rate > 0 && d->tokens < 1)
					continue;
				pf[n].fd = d->len > d->off ? d->to : d->from;
				pf[n].events = d->len > d->off ? POLLOUT : (d->eof ? 0 : POLLIN);
				owner[n++] = d;
			}
		}
		if (poll(pf, n, 10) < 0 && errno != EINTR)
			break;
		if (pf[0].revents & POLLIN) {
			int cfd = accept(lfd, NULL, NULL), tfd;
			int i;

			for (i = 0; i < NP_MAX && np_conns[i].used; i++)
				;
			if (cfd >= 0 && (i == NP_MAX || (tfd = np_dial(host, colon + 1)) < 0)) {
				close(cfd);
			} else if (cfd >= 0) {
				struct np_conn *c = &np_conns[i];

				memset(c, 0, sizeof(*c));
				c->used = 1;
				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				c->d[0].from = cfd;
				c->d[0].to = tfd;
				c->d[1].from = tfd;
				c->d[1].to = cfd;
			}
		}
		for (size_t k = 1; k < n && !np_silent; k++) {
			struct np_dir *d = owner[k];
			ssize_t r;

			if (pf[k].revents == 0)
				continue;
			if (d->len > d->off) {
				size_t want = d->len - d->off;

				if (rate > 0 && want > d->tokens)
					want = d->tokens > 0 ? (size_t)d->tokens : 0;
				if (want == 0)
					continue;
				r = send(d->to, d->buf + d->off, want, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (r > 0) {
					d->off += (size_t)r;
					d->tokens -= (double)r;
					if (d->off == d->len)
						d->off = d->len = 0;
				} else if (r < 0 && errno != EAGAIN) {
					d->eof = 2;
				}
			} else {
				r = recv(d->from, d->buf, sizeof(d->buf), MSG_DONTWAIT);
				if (r > 0)
					d->len = (size_t)r;
				else if (r == 0 || errno != EAGAIN)
					d->eof = 1;
			}
		}
		/* A connection ends when either side ends and what it sent is out. */
		for (int i = 0; i < NP_MAX; i++) {
			struct np_conn *c = &np_conns[i];

			if (!c->used || np_silent)
				continue;
			for (int k = 0; k < 2; k++)
				if (c->d[k].eof == 2 ||
				    (c->d[k].eof && c->d[k].len == c->d[k].off)) {
					np_close(c);
					break;
				}
		}
	}
	for (int i = 0; i < NP_MAX; i++)
		if (np_conns[i].used)
			np_close(&np_conns[i]);
	close(lfd);
	return 0;
}
