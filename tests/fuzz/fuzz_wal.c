/* libFuzzer: the wal decoder never crashes or reads outside its input, and
 * every entry of the current format it accepts encodes back to the very
 * same bytes. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/wal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wal_entry e;
	size_t off = 0, start, n;
	uint8_t *enc;
	int i;

	for (start = off; wal_next(data, size, &off, &e); start = off) {
		if (off <= start || off > size)
			abort();
		if (e.op == WAL_NONE)
			continue;
		for (i = 0; i < e.nargs; i++)
			if ((const uint8_t *)e.arg[i].p < data + start ||
			    (const uint8_t *)e.arg[i].p + e.arg[i].n > data + off)
				abort();
		/* An old-format entry (txn 0) is decoded, never encoded. */
		if (e.txn == 0)
			continue;
		if (wal_encode(e.op, e.txn, e.arg, e.nargs, &enc, &n) != 0)
			abort();
		/* Only bytes past a 4th argument (ignored) may differ. */
		if (n == off - start ? memcmp(enc, data + start, n) != 0 : e.nargs != WAL_MAX_ARGS)
			abort();
		free(enc);
	}
	return 0;
}
