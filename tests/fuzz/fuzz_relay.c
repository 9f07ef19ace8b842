/*
 * libFuzzer: what a blind relay decodes from untrusted bytes (net/relay.h):
 * a roster (from a pairing or a member), a WELCOME's relays, an invite's box
 * (what a joiner fetches from it), the records of
 * its store as read back from disk (rstore_parse, and rstore_open over an
 * arbitrary changes.log next to a valid roster), and change blobs a member
 * sends (rstore_add).  None of it crashes or reads out of bounds; a store
 * opened from arbitrary bytes holds only blobs its roster's members signed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/journal.h"
#include "net/msg.h"
#include "net/relayjoin.h"
#include "net/roster.h"
#include "net/rstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static uint8_t roster[ROSTER_FIXED_BYTES + ROSTER_ENTRY_BYTES];

/* The store's directory goes when the fuzzer exits. */
static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return;
}

/* One member, an admin, that signs its own roster. */
static void
setup(void)
{
	uint8_t box_pk[32], box_sk[32], sign_pk[32], sign_sk[64], *p = roster, nk[32] = {9};

	if (sodium_init() < 0)
		abort();
	crypto_box_keypair(box_pk, box_sk);
	crypto_sign_keypair(sign_pk, sign_sk);
	memcpy(p, ROSTER_MAGIC, 4);
	memset(p + 4, 7, 32);
	be64(p + 36, 1);
	be64(p + 44, journal_key_origin(box_pk));
	be32(p + 52, 1);
	p += 56;
	be64(p, journal_key_origin(box_pk));
	p[8] = JOURNAL_ADMIN;
	memcpy(p + 9, sign_pk, 32);
	memcpy(p + 41, box_pk, 32);
	crypto_sign_detached(roster + sizeof(roster) - 64, NULL, roster, sizeof(roster) - 64,
	                     sign_sk);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_relay.%d", (int)getpid());
	if (rstore_create(dir, nk, roster, sizeof(roster)))
		abort();
	atexit(teardown);
}

static int
count_cb(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	(void)origin, (void)seq, (void)blob;
	*(size_t *)ctx += len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct roster r;
	struct msg_relays rel;
	struct rstore *s;
	struct vv none = {0, NULL};
	const uint8_t *blob;
	size_t blen, used, off = 0, total = 0;
	char path[128];
	FILE *f;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (roster_decode(data, size, &r) == 0)
		roster_clear(&r);
	msg_welcome_decode_relays(data, size, NULL, &rel);
	{
		/* A box from the relay (it never opens without the code's key). */
		static const uint8_t psk[32] = {5};
		uint8_t keys[RELAYJOIN_KEYS], inviter[32];
		struct msg_welcome w;

		if (relayjoin_open(data, size, psk, keys, inviter, &w, &rel) == 0)
			abort();
	}
	while (off < size && rstore_parse(data + off, size - off, &blob, &blen, &used) == 1) {
		if (blob < data || blob + blen > data + size)
			abort();
		off += used;
	}
	/* The bytes as the store's log, read back. */
	snprintf(path, sizeof(path), "%s/changes.log", dir);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	if ((s = rstore_open(dir, 1 << 20)) != NULL) {
		/* Unsigned bytes never pass: the log is cut to nothing. */
		if (rstore_bytes(s) != 0)
			abort();
		rstore_missing(s, &none, 1 << 20, count_cb, &total);
		/* The bytes as a blob a member sends. */
		rstore_add(s, data, size);
		rstore_close(s);
	}
	return 0;
}
