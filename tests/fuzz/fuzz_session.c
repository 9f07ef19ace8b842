/*
 * libFuzzer: a sync session (net/sync) over a real journal, fed arbitrary
 * messages once the peer's HELLO has opened it.  The input is a sequence of
 * u16 big-endian length | message.  The session never crashes, never reads
 * out of bounds, and everything it sends is a well-formed message.  The
 * journal has a trust root, so received changes meet the trust checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/journal.h"
#include "net/msg.h"
#include "net/sync.h"
#include "tests/fuzz/fuzz_db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SELF 1
#define PEER 2

static struct journal *j;
static struct sync_config cfg;

/* What the session sends must parse as a message. */
static int
check_out(void *ctx, const uint8_t *m, size_t len)
{
	(void)ctx;
	if (msg_type(m, len) < 0)
		abort();
	return 0;
}

static void
setup(void)
{
	const char *why;

	j = fuzz_db_open(SELF, cfg.dbid);
	/* Something to stream, so pumps have work. */
	if (journal_write_record(j, "c", "r", "{\"a\": 1}", 8, &why))
		abort();
	/* With a trust root (the peer, a fixed key): every change received
	 * goes through the membership and signature checks. */
	{
		uint8_t seed[32] = {7}, pk[32], sk[64], box[32] = {9};

		crypto_sign_seed_keypair(pk, sk, seed);
		if (journal_set_root(j, PEER, pk, box))
			abort();
	}
	cfg.j = j;
	cfg.self = SELF;
	snprintf(cfg.name, sizeof(cfg.name), "fuzz");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_hello h = {0};
	struct sync *s;
	uint8_t *m;
	size_t len, off = 0;

	if (j == NULL)
		setup();
	/* Half the inputs run as the network does (gossip: the peer pulls with
	 * WANTs, we announce and route); the rest as a bare session. */
	cfg.gossip = (int)(size & 1);
	if ((s = sync_new(&cfg, PEER, "fuzz", check_out, NULL)) == NULL || sync_start(s))
		abort();
	h.protocol = MSG_PROTOCOL;
	h.device = PEER;
	if (msg_hello_encode(&h, &m, &len))
		abort();
	if (sync_recv(s, m, len) != SYNC_SESSION)
		abort();
	free(m);
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (n > size - off)
			n = size - off;
		if (sync_recv(s, data + off, n) < 0)
			break;
		off += n;
		if (sync_pump(s) < 0)
			abort();
		if (cfg.gossip) {
			struct vv mine = {0, NULL};

			if (journal_vv(j, &mine) || sync_announce(s, &mine) || sync_want(s, &mine))
				abort();
			vv_clear(&mine);
		}
	}
	sync_free(s);
	return 0;
}
