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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct journal *j;
static char dir[] = "/tmp/blazefs-fuzz-XXXXXX";

/* Removes the fuzzing database when libFuzzer exits. */
static void
cleanup(void)
{
	static const char *files[] = {"data.mdb", "data.mdb-lock", "wal"};
	char path[sizeof(dir) + 16];

	journal_close(j);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

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

	if (j == NULL) {
		if (mkdtemp(dir) == NULL || journal_create(dir, 1, dbid) != 0 ||
		    (j = journal_open(dir, JOURNAL_NOSYNC)) == NULL)
			abort();
		atexit(cleanup);
	}
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
