/* netlog: safe and rate-limited log lines about peers; see netlog.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "core/hlc.h"
#include "net/netlog.h"

static const char *const kind_names[NETLOG_KINDS] = {
    "peer connection", "refused inbound connection", "refused change", "session"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t start; /* ms: the window's start */
	unsigned lines, suppressed;
} rate[NETLOG_KINDS];

/* The length of the UTF-8 character at s (n bytes left), 0 if it is
 * invalid; *show is 0 for a control or a line or direction control (one '?'
 * stands for the whole character). */
static size_t
utf8_ok(const unsigned char *s, size_t n, int *show)
{
	uint32_t c;
	size_t len, i;

	*show = 1;
	if (s[0] >= 0x20 && s[0] < 0x7f)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond Unicode */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	/* C1 controls, line/paragraph separators, bidi embeddings and isolates */
	if (c < 0xa0 || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f || c == 0xfeff)
		*show = 0;
	return len;
}

char *
netlog_clean(char *dst, size_t size, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t cap = size - 1 < NETLOG_TEXT_MAX ? size - 1 : NETLOG_TEXT_MAX;
	size_t i = 0, o = 0, k;
	int show;

	if (size == 0)
		return dst;
	len = strnlen(src, len);
	while (i < len) {
		k = utf8_ok(s + i, len - i, &show);
		if (o + (k && show ? k : 1) > cap)
			break;
		if (k == 0 || !show) {
			dst[o++] = '?';
			i += k ? k : 1;
		} else {
			memcpy(dst + o, s + i, k);
			o += k;
			i += k;
		}
	}
	dst[o] = '\0';
	return dst;
}

/* Under lock: ends kind's window if it is over, reporting what it held back. */
static void
window_roll(int kind, uint64_t t)
{
	if (t - rate[kind].start < NETLOG_WINDOW_MS)
		return;
	if (rate[kind].suppressed > 0)
		syslog(LOG_INFO, "... %u more %s line(s) suppressed in %d s", rate[kind].suppressed,
		       kind_names[kind], NETLOG_WINDOW_MS / 1000);
	rate[kind].start = t;
	rate[kind].lines = rate[kind].suppressed = 0;
}

void
netlog(enum netlog_kind kind, int prio, const char *fmt, ...)
{
	uint64_t t = hlc_mono_ms();
	va_list ap;
	int show;

	pthread_mutex_lock(&lock);
	window_roll(kind, t);
	show = rate[kind].lines < NETLOG_BURST;
	if (show)
		rate[kind].lines++;
	else
		rate[kind].suppressed++;
	if (show) {
		va_start(ap, fmt);
		vsyslog(prio, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&lock);
}

void
netlog_tick(void)
{
	uint64_t t = hlc_mono_ms();

	pthread_mutex_lock(&lock);
	for (int k = 0; k < NETLOG_KINDS; k++)
		if (rate[k].suppressed > 0)
			window_roll(k, t);
	pthread_mutex_unlock(&lock);
}
