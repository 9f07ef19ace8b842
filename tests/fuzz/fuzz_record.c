/* libFuzzer: JSON -> change.  Arbitrary bytes written as a record either are
 * refused with a reason and change nothing, or are stored: reads return them
 * exactly, the change they made decodes, and the canonical rendering is a
 * fixed point of parse + render. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/journal.h"
#include "core/record.h"
#include "tests/fuzz/fuzz_db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct journal *j;

static void
check_canonical(const char *buf, size_t len)
{
	const char *why;
	json_t *o = record_parse(buf, len, &why), *o2;
	char *s1, *s2;
	size_t n1, n2;

	if (o == NULL)
		abort();
	s1 = record_render(o, &n1);
	if ((o2 = record_parse(s1, n1, &why)) == NULL)
		abort();
	s2 = record_render(o2, &n2);
	if (n1 != n2 || memcmp(s1, s2, n1) != 0)
		abort();
	free(s1);
	free(s2);
	json_decref(o);
	json_decref(o2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t dbid[32];
	struct change *c;
	struct vv v, v2;
	const char *why;
	uint8_t *blob;
	size_t len, blen;
	char *buf;

	j = fuzz_db_open(1, dbid);
	if (journal_vv(j, &v) != 0)
		abort();
	if (journal_write_record(j, "fuzz", "r", (const char *)data, size, &why) != 0) {
		if (why == NULL || (errno != EINVAL && errno != EFBIG))
			abort();
		if (journal_vv(j, &v2) != 0 || vv_get(&v, 1) != vv_get(&v2, 1))
			abort(); /* refused, yet something was journalled */
		vv_clear(&v);
		vv_clear(&v2);
		return 0;
	}
	if (journal_read_record(j, "fuzz", "r", &buf, &len) != 0 || len != size ||
	    memcmp(buf, data, size) != 0)
		abort();
	free(buf);
	check_canonical((const char *)data, size);
	if (journal_vv(j, &v2) != 0)
		abort();
	if (vv_get(&v2, 1) != vv_get(&v, 1)) {
		if (journal_get_change(j, 1, vv_get(&v2, 1), &blob, &blen) != 0 ||
		    change_decode(blob, blen, &c) != 0)
			abort();
		change_free(c);
		free(blob);
	}
	vv_clear(&v);
	vv_clear(&v2);
	return 0;
}
