/* libFuzzer: the register decoder never crashes or reads outside its input;
 * what it accepts encodes to a normal form that decodes and encodes to the
 * very same bytes, and its winner is one of its entries. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crdt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t
prio(void *ctx, uint64_t origin)
{
	(void)ctx;
	return (int64_t)(origin % 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crdt_reg r, r2;
	uint8_t *a, *b;
	size_t al, bl;

	if (crdt_reg_decode(data, size, &r) != 0)
		return 0;
	if (r.n > 0 && crdt_winner(&r, prio, NULL) >= r.n)
		abort();
	if (crdt_reg_encode(&r, &a, &al) != 0 || crdt_reg_decode(a, al, &r2) != 0 ||
	    crdt_reg_encode(&r2, &b, &bl) != 0 || al != bl || memcmp(a, b, al) != 0 || r2.n != r.n)
		abort();
	free(a);
	free(b);
	crdt_reg_clear(&r);
	crdt_reg_clear(&r2);
	return 0;
}
