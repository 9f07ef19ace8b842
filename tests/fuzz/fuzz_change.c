/* libFuzzer: the change decoder never crashes, and what it accepts
 * re-encodes to the very same bytes (but for the version: both versions
 * encode alike, and encoding writes the current one). */
#include <stdlib.h>
#include <string.h>

#include "core/change.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct change *c;
	uint8_t *buf;
	size_t len;

	if (change_decode(data, size, &c) != 0)
		return 0;
	if (change_encode(c, &buf, &len) != 0 || len != size || buf[0] != CHANGE_VERSION ||
	    memcmp(buf + 1, data + 1, size - 1) != 0)
		abort();
	free(buf);
	change_free(c);
	return 0;
}
