/*
 * netlog: what the network logs about its peers, made safe to log.  Peer
 * text (names from HELLO and JOIN, anything else from the wire) goes through
 * netlog_clean before any log line holds it: control characters, invalid
 * UTF-8 and the Unicode line and direction controls become '?', and the text
 * is cut to NETLOG_TEXT_MAX bytes, so a peer cannot forge or hide log lines.
 * Lines a peer can cause at will (a connection refused, closed, a change
 * refused) go through netlog(), which lets NETLOG_BURST lines of one kind
 * through per NETLOG_WINDOW_MS and then counts: the next line after the
 * window (or netlog_tick) says how many were suppressed.  One garbage
 * connection still gives one line; a flood gives a few per 10 s.
 *
 * Thread safety: the rate state is global and guarded by a mutex (every
 * network thread of a process shares it).
 */
#ifndef NET_NETLOG_H
#define NET_NETLOG_H

#include <stddef.h>
#include <stdint.h>

#define NETLOG_TEXT_MAX 64
#define NETLOG_BURST 10
#define NETLOG_WINDOW_MS 10000

/* The kinds of line that are rate-limited, each on its own. */
enum netlog_kind {
	NETLOG_PEER,   /* a connection closed, refused or timed out */
	NETLOG_ACCEPT, /* an inbound connection refused: the unauthenticated cap */
	NETLOG_CHANGE, /* a remote change refused: forged or corrupt (or failed) */
	/* ... refused for another cause: each cause has its own budget, so a
	 * flood of one does not hide another */
	NETLOG_NOT_MEMBER,
	NETLOG_OWN_ORIGIN,
	NETLOG_NO_AUTHORITY,
	NETLOG_SESSION, /* a session opened */
	NETLOG_KINDS
};

/*
 * Copies src (NUL-terminated, or its first len bytes if shorter) into dst
 * (size bytes, NUL-terminated): printable ASCII and valid UTF-8 pass, every
 * other byte or character becomes '?', and at most
 * min(size - 1, NETLOG_TEXT_MAX) bytes are kept (never a split character).
 * Returns dst.
 */
char *netlog_clean(char *dst, size_t size, const char *src, size_t len);

/* syslog(prio, fmt, ...) unless NETLOG_BURST lines of this kind went in
 * the current window; then counted, and reported by the next line let
 * through or by netlog_tick. */
void netlog(enum netlog_kind kind, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports windows that ended with lines suppressed (call every tick). */
void netlog_tick(void);

#endif
