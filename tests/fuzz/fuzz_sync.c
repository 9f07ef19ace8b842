/* libFuzzer: the sync message decoders never crash or read out of bounds,
 * and what they accept re-encodes to the very same bytes. */
#include <stdlib.h>
#include <string.h>

#include "net/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same(uint8_t *buf, size_t len, const uint8_t *data, size_t size)
{
	if (len != size || memcmp(buf, data, size) != 0)
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_hello h;
	struct msg_buf b;
	struct vv v;
	const uint8_t *blob;
	struct msg_welcome w;
	uint8_t *buf, spk[32];
	char name[MSG_NAME_MAX + 1];
	size_t len, off = 0, blen;

	switch (msg_type(data, size)) {
	case MSG_HELLO:
		if (msg_hello_decode(data, size, &h) == 0) {
			if (msg_hello_encode(&h, &buf, &len))
				abort();
			same(buf, len, data, size);
			vv_clear(&h.vv);
		}
		break;
	case MSG_ACK:
		if (msg_ack_decode(data, size, &v) == 0) {
			if (msg_ack_encode(&v, &buf, &len))
				abort();
			same(buf, len, data, size);
			vv_clear(&v);
		}
		break;
	case MSG_WANT:
		if (msg_want_decode(data, size, &v) == 0) {
			if (msg_want_encode(&v, &buf, &len))
				abort();
			same(buf, len, data, size);
			vv_clear(&v);
		}
		break;
	case MSG_CHANGES:
		if (msg_changes_check(data, size) >= 0) {
			if (msg_changes_init(&b))
				abort();
			while (msg_changes_next(data, size, &off, &blob, &blen) == 1)
				if (msg_changes_add(&b, blob, blen))
					abort();
			same(b.p, b.len, data, size);
		}
		break;
	case MSG_JOIN:
		if (msg_join_decode(data, size, name, spk) == 0) {
			if (msg_join_encode(name, spk, &buf, &len))
				abort();
			same(buf, len, data, size);
		}
		break;
	case MSG_WELCOME:
		if (msg_welcome_decode(data, size, &w) == 0) {
			if (msg_welcome_encode(&w, &buf, &len))
				abort();
			same(buf, len, data, size);
		}
		break;
	default:
		break;
	}
	return 0;
}
