/* libFuzzer: JSON -> change.  Arbitrary bytes written as a record either are
 * refused with a reason and change nothing, or are stored: reads return them
 * exactly, the change they made decodes, and the canonical rendering is a
 * fixed point of parse + render, the same when made from the fields' value
 * texts.  The bytes as one value text: if told canonical, they are. */
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

/* What record_render_fields gives of o's fields (their value texts), or
 * NULL where a text is not canonical. */
static char *
render_from_texts(json_t *o, size_t *len)
{
	size_t n = json_object_size(o), i = 0;
	struct record_field *f = calloc(n ? n : 1, sizeof(*f));
	const char *k;
	json_t *v;
	char *r;

	if (f == NULL)
		abort();
	json_object_foreach (o, k, v) {
		f[i].name = k;
		if ((f[i].text = record_value_text(v)) == NULL)
			abort();
		f[i].len = strlen(f[i].text);
		i++;
	}
	/* In name order, as the journal hands them. */
	for (i = 1; i < n; i++)
		for (size_t m = i; m > 0 && strcmp(f[m - 1].name, f[m].name) > 0; m--) {
			struct record_field t = f[m];

			f[m] = f[m - 1];
			f[m - 1] = t;
		}
	r = record_render_fields(f, n, len);
	if (r == NULL && errno != EINVAL)
		abort();
	for (i = 0; i < n; i++)
		free((char *)f[i].text);
	free(f);
	return r;
}

/* A value text told canonical parses, is record_value_text's rendering of
 * what it parses to, and renders in a record as the parsed value does. */
static void
check_value_text(const char *t, size_t n)
{
	json_t *v, *o;
	char *s, *r1, *r2;
	size_t l1, l2;

	if (!record_value_canonical(t, n))
		return;
	if ((v = record_value_parse(t, n)) == NULL || (s = record_value_text(v)) == NULL ||
	    strlen(s) != n || memcmp(s, t, n) != 0)
		abort();
	if ((o = json_pack("{s:o}", "k", v)) == NULL || (r1 = record_render(o, &l1)) == NULL ||
	    (r2 = render_from_texts(o, &l2)) == NULL || l1 != l2 || memcmp(r1, r2, l1) != 0)
		abort();
	free(s);
	free(r1);
	free(r2);
	json_decref(o);
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
	free(s2);
	/* Rendered from the value texts (where all are canonical): the same. */
	if ((s2 = render_from_texts(o, &n2)) != NULL && (n1 != n2 || memcmp(s1, s2, n1) != 0))
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

	check_value_text((const char *)data, size);
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
