#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/unit/core_test.h"

#include "core/hlc.h"
#include "core/journal.h"
#include "core/record.h"
#include "core/wal.h"

#define NREPLICAS 3

/* A database in a fresh directory, for device `self`. */
struct db {
	char *dir;
	struct journal *j;
};

static void
db_open(struct db *d, uint64_t self)
{
	uint8_t dbid[32] = {1};

	d->dir = test_tmpdir();
	assert_int_equal(journal_create(d->dir, self, dbid), 0);
	assert_non_null(d->j = journal_open(d->dir, JOURNAL_NOSYNC));
}

static void
db_close(struct db *d)
{
	journal_close(d->j);
	test_rmdir(d->dir);
}

static void
put(struct journal *j, const char *coll, const char *rec, const char *json)
{
	const char *why = NULL;

	if (journal_write_record(j, coll, rec, json, strlen(json), &why) != 0)
		fail_msg("write %s/%s: %s (%s)", coll, rec, strerror(errno), why ? why : "");
}

static char *
get(struct journal *j, const char *coll, const char *rec)
{
	char *buf;
	size_t len;

	if (journal_read_record(j, coll, rec, &buf, &len) != 0)
		return NULL;
	return buf;
}

static void
expect(struct journal *j, const char *coll, const char *rec, const char *want)
{
	char *got = get(j, coll, rec);

	if (want == NULL) {
		assert_null(got);
		assert_int_equal(errno, ENOENT);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Copies every change of `from` that `to` lacks, in journal order. */
struct copy_ctx {
	struct journal *to;
	int applied;
};

static int
copy_one(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct copy_ctx *c = ctx;
	int rc = journal_apply_remote(c->to, blob, len);

	(void)origin;
	(void)seq;
	assert_true(rc == 0 || rc == 1 || rc == 2);
	c->applied += rc == 0;
	return 0;
}

static int
sync_one_way(struct journal *from, struct journal *to)
{
	struct copy_ctx c = {to, 0};
	struct vv have;

	assert_int_equal(journal_vv(to, &have), 0);
	assert_true(journal_missing(from, &have, SIZE_MAX, copy_one, &c) >= 0);
	vv_clear(&have);
	return c.applied;
}

static void
sync_pair(struct journal *a, struct journal *b)
{
	while (sync_one_way(a, b) + sync_one_way(b, a) > 0)
		;
}

static void
test_write_read_and_read_your_writes(void **state)
{
	struct journal_stat st;
	struct vv v;
	struct db d;

	(void)state;
	db_open(&d, 1);
	put(d.j, "bugs", "b-1", "{\"title\":\"crash\",\"n\":1}");
	/* Exactly the bytes written, not the canonical form. */
	expect(d.j, "bugs", "b-1", "{\"title\":\"crash\",\"n\":1}");
	assert_int_equal(journal_stat_record(d.j, "bugs", "b-1", &st), 0);
	assert_int_equal(st.size, strlen("{\"title\":\"crash\",\"n\":1}"));
	assert_true(st.mtime_ms > 1600000000000ULL);
	assert_int_equal(journal_col_exists(d.j, "bugs"), 1);
	/* An unchanged write (even reformatted) makes no change... */
	put(d.j, "bugs", "b-1", "{ \"n\": 1, \"title\": \"crash\" }");
	assert_int_equal(journal_vv(d.j, &v), 0);
	assert_int_equal(vv_get(&v, 1), 1);
	vv_clear(&v);
	/* ...but reads return what was written last. */
	expect(d.j, "bugs", "b-1", "{ \"n\": 1, \"title\": \"crash\" }");
	put(d.j, "bugs", "b-1", "{\"n\": 2}");
	assert_int_equal(journal_vv(d.j, &v), 0);
	assert_int_equal(vv_get(&v, 1), 2);
	vv_clear(&v);
	db_close(&d);
}

static void
test_bad_input_changes_nothing(void **state)
{
	const char *bad[] = {"{\"a\":", "[1]", "{\"a\":1,\"a\":2}", "{\"s\":\"\xff\"}", "null"};
	const char *why;
	struct vv v;
	struct db d;
	size_t i;

	(void)state;
	db_open(&d, 1);
	put(d.j, "bugs", "b-1", "{\"a\":1}");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    journal_write_record(d.j, "bugs", "b-1", bad[i], strlen(bad[i]), &why), -1);
		assert_int_equal(errno, EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(journal_write_record(d.j, "bugs", ".x", "{}", 2, &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(journal_mkcol(d.j, "a/b"), -1);
	assert_int_equal(errno, EINVAL);
	expect(d.j, "bugs", "b-1", "{\"a\":1}");
	assert_int_equal(journal_vv(d.j, &v), 0);
	assert_int_equal(vv_get(&v, 1), 1);
	vv_clear(&v);
	/* A corrupt remote change is refused and changes nothing. */
	/* A valid header (origin 5, seq 1) followed by garbage. */
	assert_int_equal(journal_apply_remote(d.j,
	                                      (const uint8_t *)"\x01\0\0\0\0\0\0\0\x05"
	                                                       "\0\0\0\0\0\0\0\x01garbage",
	                                      24),
	                 -1);
	assert_int_equal(errno, EINVAL);
	expect(d.j, "bugs", "b-1", "{\"a\":1}");
	db_close(&d);
}

static void
test_rejects_are_kept_until_replaced(void **state)
{
	char *buf, *why, *all;
	size_t len;
	struct db d;

	(void)state;
	db_open(&d, 1);
	put(d.j, "bugs", "b-1", "{\"a\":1}");
	assert_int_equal(journal_reject_put(d.j, "bugs", "b-1", "invalid JSON", "{oops", 5), 0);
	assert_int_equal(journal_reject_get(d.j, "bugs", "b-1", &buf, &len, &why), 0);
	assert_string_equal(buf, "{oops");
	assert_string_equal(why, "invalid JSON");
	free(buf);
	free(why);
	all = journal_rejects_json(d.j);
	assert_non_null(strstr(all, "\"record\": \"b-1\""));
	free(all);
	put(d.j, "bugs", "b-1", "{\"a\":2}"); /* a valid write clears it */
	assert_int_equal(journal_reject_get(d.j, "bugs", "b-1", &buf, &len, &why), -1);
	assert_int_equal(errno, ENOENT);
	db_close(&d);
}

/* Two replicas that have synced record r. */
static void
pair_with(struct db *a, struct db *b, const char *json)
{
	db_open(a, 1);
	db_open(b, 2);
	put(a->j, "c", "r", json);
	sync_pair(a->j, b->j);
}

static void
test_long_field_names(void **state)
{
	char json[512], name[160];
	struct db a, b;

	(void)state;
	/* Names longer than fit in an LMDB key are hashed there; two that share
	 * a long prefix stay apart. */
	memset(name, 'f', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(json, sizeof(json), "{\n  \"%sA\": 1,\n  \"%sB\": 2\n}\n", name, name);
	pair_with(&a, &b, json);
	expect(b.j, "c", "r", json);
	snprintf(json, sizeof(json), "{\n  \"%sB\": 3\n}\n", name);
	put(b.j, "c", "r", json);
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", json);
	db_close(&a);
	db_close(&b);
}

static void
test_collections(void **state)
{
	struct db d;

	(void)state;
	db_open(&d, 1);
	assert_int_equal(journal_col_exists(d.j, "notes"), 0);
	assert_int_equal(journal_mkcol(d.j, "notes"), 0);
	assert_int_equal(journal_col_exists(d.j, "notes"), 1);
	assert_int_equal(journal_mkcol(d.j, "notes"), -1);
	assert_int_equal(errno, EEXIST);
	put(d.j, "notes", "n1", "{}"); /* empty-object records exist */
	expect(d.j, "notes", "n1", "{}");
	assert_int_equal(journal_rmcol(d.j, "notes"), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(journal_delete_record(d.j, "notes", "n1"), 0);
	expect(d.j, "notes", "n1", NULL);
	assert_int_equal(journal_delete_record(d.j, "notes", "n1"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(journal_rmcol(d.j, "notes"), 0);
	assert_int_equal(journal_col_exists(d.j, "notes"), 0);
	/* The first record of a collection creates it. */
	put(d.j, "fresh", "r", "{\"x\":true}");
	assert_int_equal(journal_col_exists(d.j, "fresh"), 1);
	db_close(&d);
}

static void
test_rename(void **state)
{
	struct db d;

	(void)state;
	db_open(&d, 1);
	put(d.j, "a", "r1", "{\"x\": 1}");
	put(d.j, "a", "r2", "{\"y\": 2}");
	assert_int_equal(journal_rename_record(d.j, "a", "r1", "a", "r2"), 0);
	expect(d.j, "a", "r1", NULL);
	expect(d.j, "a", "r2", "{\"x\": 1}"); /* the bytes travel with the rename */
	assert_int_equal(journal_rename_record(d.j, "a", "r2", "b", "r3"), 0);
	expect(d.j, "b", "r3", "{\"x\": 1}");
	assert_int_equal(journal_col_exists(d.j, "b"), 1);
	assert_int_equal(journal_rename_record(d.j, "a", "nope", "a", "r9"), -1);
	assert_int_equal(errno, ENOENT);
	db_close(&d);
}

static void
test_concurrent_edits_of_different_fields_both_survive(void **state)
{
	struct db a, b;

	(void)state;
	pair_with(&a, &b, "{\"x\":0,\"y\":0}");
	put(a.j, "c", "r", "{\"x\":1,\"y\":0}");
	put(b.j, "c", "r", "{\"x\":0,\"y\":2}");
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", "{\n  \"x\": 1,\n  \"y\": 2\n}\n");
	expect(b.j, "c", "r", "{\n  \"x\": 1,\n  \"y\": 2\n}\n");
	db_close(&a);
	db_close(&b);
}

static void
test_concurrent_edits_of_one_field_conflict(void **state)
{
	struct db a, b;
	char *ca, *cb, *ra, *rb;

	(void)state;
	pair_with(&a, &b, "{\"x\":0}");
	/* Canonical bytes, so read-your-writes does not mask the comparison. */
	put(a.j, "c", "r", "{\n  \"x\": \"from a\"\n}\n");
	put(b.j, "c", "r", "{\n  \"x\": \"from b\"\n}\n");
	sync_pair(a.j, b.j);
	ra = get(a.j, "c", "r");
	rb = get(b.j, "c", "r");
	assert_string_equal(ra, rb); /* the same winner everywhere */
	ca = journal_conflicts_json(a.j, NULL, NULL);
	cb = journal_conflicts_json(b.j, "c", "r");
	assert_string_equal(ca, cb);
	/* The loser stays visible. */
	assert_non_null(strstr(ca, "from a"));
	assert_non_null(strstr(ca, "from b"));
	free(ca);
	free(cb);
	/* A later write of the field replaces both. */
	put(b.j, "c", "r", "{\"x\":\"settled\"}");
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", "{\n  \"x\": \"settled\"\n}\n");
	ca = journal_conflicts_json(a.j, NULL, NULL);
	assert_string_equal(ca, "[]");
	free(ca);
	free(ra);
	free(rb);
	db_close(&a);
	db_close(&b);
}

/* Settling a conflict to the value shown is a change (a plain write of
 * that value is none), and replaces every entry on both replicas. */
static void
test_settle_field_to_the_shown_value(void **state)
{
	struct db a, b;
	char *ca, *shown;
	const char *v;

	(void)state;
	pair_with(&a, &b, "{\"x\":0}");
	put(a.j, "c", "r", "{\n  \"x\": \"from a\"\n}\n");
	put(b.j, "c", "r", "{\n  \"x\": \"from b\"\n}\n");
	sync_pair(a.j, b.j);
	shown = get(a.j, "c", "r");
	v = strstr(shown, "from a") ? "\"from a\"" : "\"from b\"";
	/* Writing back what shows leaves the conflict listed. */
	put(a.j, "c", "r", shown);
	ca = journal_conflicts_json(a.j, NULL, NULL);
	assert_string_not_equal(ca, "[]");
	free(ca);
	assert_int_equal(journal_settle_field(a.j, "c", "r", "x", v), 0);
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", shown);
	expect(b.j, "c", "r", shown);
	ca = journal_conflicts_json(a.j, NULL, NULL);
	assert_string_equal(ca, "[]");
	free(ca);
	ca = journal_conflicts_json(b.j, NULL, NULL);
	assert_string_equal(ca, "[]");
	free(ca);
	/* Not a record, not JSON: refused. */
	assert_int_equal(journal_settle_field(a.j, "c", "nope", "x", "1"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(journal_settle_field(a.j, "c", "r", "x", "{bad"), -1);
	assert_int_equal(errno, EINVAL);
	free(shown);
	db_close(&a);
	db_close(&b);
}

static void
test_equal_concurrent_values_are_no_conflict(void **state)
{
	struct db a, b, c;
	char id[DEVID_LEN + 1], *ca, *cb;
	const char *why;
	uint64_t nc, nr, nf;

	(void)state;
	pair_with(&a, &b, "{\"x\":0}");
	db_open(&c, 3);
	sync_pair(a.j, c.j);
	/* Two devices write the same value concurrently (a user's record and a
	 * device record written by the inviter and by the device itself). */
	put(a.j, "c", "r", "{\"x\": \"same\"}");
	put(b.j, "c", "r", "{\n  \"x\": \"same\"\n}\n");
	change_devid(7, id);
	assert_int_equal(journal_write_device(a.j, id, "{\"name\":\"d\",\"priority\":0}", &why), 0);
	assert_int_equal(journal_write_device(b.j, id, "{\"priority\": 0, \"name\": \"d\"}", &why),
	                 0);
	sync_pair(a.j, b.j);
	expect(b.j, "c", "r", "{\n  \"x\": \"same\"\n}\n");
	ca = journal_conflicts_json(a.j, NULL, NULL);
	cb = journal_conflicts_json(b.j, NULL, NULL);
	assert_string_equal(ca, "[]");
	assert_string_equal(cb, "[]");
	free(ca);
	free(cb);
	assert_int_equal(journal_counts(a.j, &nc, &nr, &nf), 0);
	assert_int_equal(nf, 0);
	assert_int_equal(journal_counts(b.j, &nc, &nr, &nf), 0);
	assert_int_equal(nf, 0);
	/* The equal entries are kept: a third concurrent, different value is a
	 * conflict of all three, listed identically everywhere. */
	put(c.j, "c", "r", "{\"x\":\"other\"}");
	sync_pair(a.j, c.j);
	sync_pair(b.j, c.j);
	sync_pair(a.j, b.j);
	ca = journal_conflicts_json(a.j, NULL, NULL);
	cb = journal_conflicts_json(c.j, NULL, NULL);
	assert_string_equal(ca, cb);
	assert_non_null(strstr(ca, "other"));
	assert_int_equal(journal_counts(a.j, &nc, &nr, &nf), 0);
	assert_int_equal(nf, 1);
	{
		json_t *arr = json_loads(ca, 0, NULL);

		assert_non_null(arr);
		assert_int_equal(json_array_size(arr), 1);
		assert_int_equal(
		    json_array_size(json_object_get(json_array_get(arr, 0), "entries")), 3);
		json_decref(arr);
	}
	free(ca);
	free(cb);
	db_close(&a);
	db_close(&b);
	db_close(&c);
}

/* A change of origin 9, seq, setting c/r x to value at hlc, encoded. */
static void
remote_change(uint64_t seq, uint64_t hlc, const char *value, uint8_t **blob, size_t *len)
{
	struct change c = {0};
	struct cid prev = {9, seq - 1};

	c.origin = 9;
	c.seq = seq;
	c.hlc = hlc;
	/* Each replaces the one before: a device's own edits in turn. */
	assert_int_equal(change_add(&c, OP_SET, "c", "r", NULL, "true", &prev, seq > 1), 0);
	assert_int_equal(change_add(&c, OP_SET, "c", "r", "x", value, &prev, seq > 1), 0);
	assert_int_equal(change_encode(&c, blob, len), 0);
	change_clear(&c);
}

static void
test_clock_far_ahead_is_reported_and_shows_no_future_mtime(void **state)
{
	struct journal_stat st;
	struct db d;
	uint8_t *blob;
	size_t len;
	uint64_t now = hlc_wall_ms();
	char dev[DEVID_LEN + 1], *text;
	json_t *o;

	(void)state;
	db_open(&d, 1);
	change_devid(9, dev);
	/* A change an hour ahead of this device's clock: applied as it is. */
	remote_change(1, hlc_from_ms(now + 3600000), "\"far\"", &blob, &len);
	assert_int_equal(journal_apply_remote(d.j, blob, len), 0);
	free(blob);
	expect(d.j, "c", "r", "{\n  \"x\": \"far\"\n}\n");
	/* Its mtime here is not in the future. */
	assert_int_equal(journal_stat_record(d.j, "c", "r", &st), 0);
	assert_true(st.mtime_ms <= hlc_wall_ms());
	assert_true(st.mtime_ms + 60000 > now);
	/* Reported. */
	assert_non_null(o = journal_clock_json(d.j));
	assert_int_equal(json_array_size(json_object_get(o, "changes_ahead")), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(o, "changes_ahead"), 0), "device")),
	                    dev);
	assert_true(json_integer_value(json_object_get(
	                json_array_get(json_object_get(o, "changes_ahead"), 0), "ahead_ms")) >
	            3500000);
	json_decref(o);
	/* Our own clock was not dragged: a local write stamps near the wall. */
	remote_change(2, hlc_from_ms(now), "\"near\"", &blob, &len);
	assert_int_equal(journal_apply_remote(d.j, blob, len), 0);
	free(blob);
	/* That device's clock is fine again: no longer listed. */
	assert_non_null(o = journal_clock_json(d.j));
	assert_int_equal(json_array_size(json_object_get(o, "changes_ahead")), 0);
	json_decref(o);
	put(d.j, "c", "r2", "{\"y\": 1}");
	{
		struct change *c;

		assert_int_equal(journal_get_change(d.j, 1, 1, &blob, &len), 0);
		assert_int_equal(change_decode(blob, len, &c), 0);
		assert_true(c->hlc < hlc_from_ms(hlc_wall_ms() + 2000));
		change_free(c);
		free(blob);
	}
	/* The offset the network sets is kept across a reopen, and stamps move
	 * back by it (the mtime shown adds it back: this device's own time). */
	assert_int_equal(journal_set_clock_offset(d.j, 3600000), 0);
	journal_close(d.j);
	assert_non_null(d.j = journal_open(d.dir, JOURNAL_NOSYNC));
	assert_true(journal_clock_offset(d.j) == 3600000);
	put(d.j, "c", "r3", "{\"y\": 1}");
	assert_int_equal(journal_stat_record(d.j, "c", "r3", &st), 0);
	assert_true(st.mtime_ms + 60000 > hlc_wall_ms());
	assert_true(st.mtime_ms <= hlc_wall_ms());
	text = journal_conflicts_json(d.j, NULL, NULL);
	assert_string_equal(text, "[]");
	free(text);
	db_close(&d);
}

static void
test_priority_wins_concurrent_conflicts(void **state)
{
	char id[DEVID_LEN + 1], prio[64];
	struct db a, b;

	(void)state;
	pair_with(&a, &b, "{\"x\":0}");
	change_devid(1, id);
	snprintf(prio, sizeof(prio), "{\"priority\": 5}");
	/* Device 1 (a) is the "server": it wins even with the older clock. */
	{
		const char *why;
		assert_int_equal(journal_write_device(b.j, id, prio, &why), 0);
	}
	sync_pair(a.j, b.j);
	put(a.j, "c", "r", "{\n  \"x\": \"a, earlier\"\n}\n");
	put(b.j, "c", "r", "{\n  \"x\": \"b, later\"\n}\n");
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", "{\n  \"x\": \"a, earlier\"\n}\n");
	expect(b.j, "c", "r", "{\n  \"x\": \"a, earlier\"\n}\n");
	/* The internal device records are not counted as the user's. */
	{
		uint64_t nc, nr, nf;

		assert_int_equal(journal_counts(a.j, &nc, &nr, &nf), 0);
		assert_int_equal(nc, 1);
		assert_int_equal(nr, 1);
		assert_int_equal(nf, 1);
	}
	db_close(&a);
	db_close(&b);
}

/* An editor on b read base; a's change arrives; then the editor saves. */
static void
edit(struct journal *j, const char *base, const char *json)
{
	const char *why;

	if (journal_edit_record(j, "c", "r", base, strlen(base), json, strlen(json), &why))
		fail_msg("edit: %s (%s)", strerror(errno), why ? why : "");
}

static void
test_edit_keeps_changes_made_while_open(void **state)
{
	const char *base = "{\"x\":0,\"y\":0}";
	struct db a, b;
	char *conf;
	struct vv v;

	(void)state;
	pair_with(&a, &b, base);
	/* Another field changed meanwhile: both edits stay. */
	put(a.j, "c", "r", "{\"x\":1,\"y\":0}");
	sync_pair(a.j, b.j);
	edit(b.j, base, "{\"x\":0,\"y\":2}");
	expect(b.j, "c", "r", "{\n  \"x\": 1,\n  \"y\": 2\n}\n");
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", "{\n  \"x\": 1,\n  \"y\": 2\n}\n");
	/* The same field changed meanwhile: a conflict, nothing lost. */
	base = "{\n  \"x\": 1,\n  \"y\": 2\n}\n";
	put(a.j, "c", "r", "{\"x\":\"a\",\"y\":2}");
	sync_pair(a.j, b.j);
	edit(b.j, base, "{\"x\":\"b\",\"y\":2}");
	sync_pair(a.j, b.j);
	conf = journal_conflicts_json(a.j, "c", "r");
	assert_non_null(strstr(conf, "\"a\""));
	assert_non_null(strstr(conf, "\"b\""));
	free(conf);
	/* Saving unchanged bytes over a record deleted meanwhile changes nothing. */
	base = "{\n  \"x\": \"b\",\n  \"y\": 2\n}\n";
	put(b.j, "c", "r", base);
	sync_pair(a.j, b.j);
	assert_int_equal(journal_delete_record(a.j, "c", "r"), 0);
	sync_pair(a.j, b.j);
	assert_int_equal(journal_vv(b.j, &v), 0);
	edit(b.j, base, base);
	expect(b.j, "c", "r", NULL);
	{
		struct vv v2;

		assert_int_equal(journal_vv(b.j, &v2), 0);
		assert_int_equal(vv_get(&v2, 2), vv_get(&v, 2));
		vv_clear(&v2);
	}
	vv_clear(&v);
	/* An edit of it brings back what the editor changed. */
	edit(b.j, base, "{\"x\":\"b\",\"y\":3}");
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", "{\n  \"y\": 3\n}\n");
	db_close(&a);
	db_close(&b);
}

static void
test_delete_vs_concurrent_edit_keeps_the_edit(void **state)
{
	struct db a, b;

	(void)state;
	pair_with(&a, &b, "{\"x\":0,\"y\":0}");
	assert_int_equal(journal_delete_record(a.j, "c", "r"), 0);
	put(b.j, "c", "r", "{\"x\":0,\"y\":\"edited\"}");
	sync_pair(a.j, b.j);
	expect(a.j, "c", "r", "{\n  \"y\": \"edited\"\n}\n");
	expect(b.j, "c", "r", "{\n  \"y\": \"edited\"\n}\n");
	db_close(&a);
	db_close(&b);
}

/* Remote changes are reported to the observer, local ones are not. */
static int observed;
static void
observer(void *ctx, const char *coll, const char *rec)
{
	(void)ctx;
	if (strcmp(coll, "c") == 0 && strcmp(rec, "r") == 0)
		observed++;
}

static void
test_observer_and_gaps(void **state)
{
	struct db a, b;
	uint8_t *blob;
	size_t len;

	(void)state;
	db_open(&a, 1);
	db_open(&b, 2);
	journal_set_observer(b.j, observer, NULL);
	put(a.j, "c", "r", "{\"v\":1}");
	put(a.j, "c", "r", "{\"v\":2}");
	assert_int_equal(journal_get_change(a.j, 1, 2, &blob, &len), 0);
	assert_int_equal(journal_apply_remote(b.j, blob, len), 2); /* seq 1 missing */
	free(blob);
	assert_int_equal(journal_get_change(a.j, 1, 1, &blob, &len), 0);
	assert_int_equal(journal_apply_remote(b.j, blob, len), 0);
	assert_int_equal(journal_apply_remote(b.j, blob, len), 1); /* duplicate */
	free(blob);
	assert_int_equal(observed, 1);
	sync_pair(a.j, b.j);
	assert_int_equal(observed, 2);
	expect(b.j, "c", "r", "{\n  \"v\": 2\n}\n");
	db_close(&a);
	db_close(&b);
}

static void
test_apply_batch_results(void **state)
{
	const uint8_t *blobs[5];
	uint8_t *b1, *b2, *b3, bad[30];
	size_t lens[5], l1, l2, l3;
	int results[5];
	struct db a, b;

	(void)state;
	db_open(&a, 1);
	db_open(&b, 2);
	put(a.j, "c", "r1", "{\"v\":1}");
	put(a.j, "c", "r2", "{\"v\":2}");
	put(a.j, "c", "r3", "{\"v\":3}");
	assert_int_equal(journal_get_change(a.j, 1, 1, &b1, &l1), 0);
	assert_int_equal(journal_get_change(a.j, 1, 2, &b2, &l2), 0);
	assert_int_equal(journal_get_change(a.j, 1, 3, &b3, &l3), 0);
	/* seq 3 before 2 is a gap; 1 twice is a duplicate; a forged one is
	 * refused alone, and the rest still applies in one transaction. */
	memcpy(bad, b2, 17);
	memset(bad + 17, 0xee, sizeof(bad) - 17);
	blobs[0] = b1, lens[0] = l1;
	blobs[1] = b3, lens[1] = l3;
	blobs[2] = b1, lens[2] = l1;
	blobs[3] = bad, lens[3] = sizeof(bad);
	blobs[4] = b2, lens[4] = l2;
	assert_int_equal(journal_apply_batch(b.j, blobs, lens, 5, results), 0);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], 2);
	assert_int_equal(results[2], 1);
	assert_int_equal(results[3], -1);
	assert_int_equal(results[4], 0);
	expect(b.j, "c", "r2", "{\n  \"v\": 2\n}\n");
	expect(b.j, "c", "r3", NULL);
	free(b1);
	free(b2);
	free(b3);
	db_close(&a);
	db_close(&b);
}

/* Collects (origin, seq) handed out by journal_missing. */
struct ids {
	size_t n;
	uint64_t o[64], s[64];
};

static int
collect(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct ids *ids = ctx;

	(void)blob;
	(void)len;
	assert_true(ids->n < 64);
	ids->o[ids->n] = origin;
	ids->s[ids->n++] = seq;
	return 0;
}

static void
test_missing_returns_exactly_what_lacks(void **state)
{
	struct vv have = {0};
	struct ids ids = {0};
	struct db a, b;
	char rec[16];
	int i;

	(void)state;
	db_open(&a, 1);
	db_open(&b, 2);
	for (i = 0; i < 5; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		put(a.j, "c", rec, "{}");
		put(b.j, "c", rec, "{\"b\":1}");
	}
	sync_pair(a.j, b.j);
	vv_set(&have, 1, 3);
	vv_set(&have, 2, 5);
	assert_int_equal(journal_missing(a.j, &have, SIZE_MAX, collect, &ids), 2);
	assert_int_equal(ids.n, 2);
	assert_int_equal(ids.o[0], 1);
	assert_int_equal(ids.s[0], 4);
	assert_int_equal(ids.s[1], 5);
	/* A byte budget hands out at least one change, then stops. */
	ids.n = 0;
	vv_clear(&have);
	assert_int_equal(journal_missing(a.j, &have, 1, collect, &ids), 1);
	assert_int_equal(ids.s[0], 1);
	db_close(&a);
	db_close(&b);
}

/* ---- property: any delivery order, with duplicates, converges ---- */

static uint64_t rng;
static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Everything a replica shows: collections, records and conflicts. */
struct dump {
	struct journal *j;
	char *out;
	size_t len;
};

static void
dump_add(struct dump *d, const char *s)
{
	size_t n = strlen(s);

	d->out = realloc(d->out, d->len + n + 1);
	memcpy(d->out + d->len, s, n + 1);
	d->len += n;
}

static char *cur_coll;
static int
dump_rec(void *ctx, const char *name)
{
	struct dump *d = ctx;
	char *b = get(d->j, cur_coll, name);

	assert_non_null(b);
	dump_add(d, name);
	dump_add(d, "=");
	dump_add(d, b);
	free(b);
	return 0;
}

static int
dump_col(void *ctx, const char *name)
{
	struct dump *d = ctx;

	dump_add(d, "[");
	dump_add(d, name);
	dump_add(d, "]\n");
	cur_coll = strdup(name);
	assert_int_equal(journal_list_records(d->j, name, "", dump_rec, d), 0);
	free(cur_coll);
	return 0;
}

static char *
dump(struct journal *j)
{
	struct dump d = {j, NULL, 0};
	char *c;

	dump_add(&d, "");
	assert_int_equal(journal_list_cols(j, "", dump_col, &d), 0);
	c = journal_conflicts_json(j, NULL, NULL);
	dump_add(&d, c);
	free(c);
	return d.out;
}

/* A random local action on replica j. */
static void
random_action(struct journal *j)
{
	static const char *colls[] = {"c1", "c2"}, *recs[] = {"r1", "r2", "r3"};
	static const char *fields[] = {"a", "b", "c", "d"};
	const char *coll = colls[rnd() % 2], *rec = recs[rnd() % 3];
	json_t *o;
	char *s;
	size_t len, i;
	int k = rnd() % 10;

	if (k == 0) {
		journal_delete_record(j, coll, rec);
		return;
	}
	if (k == 1) {
		journal_rmcol(j, coll);
		return;
	}
	if (k == 2) {
		journal_mkcol(j, coll);
		return;
	}
	/* Edit: start from what is there, change a random field or two. */
	s = get(j, coll, rec);
	o = s ? json_loads(s, 0, NULL) : json_object();
	free(s);
	for (i = 0; i < 1 + rnd() % 2; i++) {
		if (rnd() % 4 == 0)
			json_object_del(o, fields[rnd() % 4]);
		else
			json_object_set_new(o, fields[rnd() % 4], json_integer(rnd() % 5));
	}
	s = record_render(o, &len);
	put(j, coll, rec, s);
	free(s);
	json_decref(o);
}

/* Delivers one random change of any replica to replica `to`. */
static void
random_delivery(struct db *r, int to)
{
	int from = rnd() % NREPLICAS;
	struct vv v;
	uint64_t top, seq;
	uint8_t *blob;
	size_t len;

	assert_int_equal(journal_vv(r[from].j, &v), 0);
	if (v.n == 0) {
		vv_clear(&v);
		return;
	}
	top = v.e[rnd() % v.n].seq;
	seq = 1 + rnd() % top;
	if (journal_get_change(r[from].j, v.e[rnd() % v.n].origin, seq, &blob, &len) == 0) {
		int rc = journal_apply_remote(r[to].j, blob, len);

		assert_true(rc >= 0);
		free(blob);
	}
	vv_clear(&v);
}

static void
test_property_any_order_converges(void **state)
{
	struct db r[NREPLICAS];
	char *d0, *d;
	int seed, i, k, step;

	(void)state;
	for (seed = 1; seed <= 150; seed++) {
		rng = 0x9e3779b97f4a7c15ULL * (uint64_t)seed;
		for (i = 0; i < NREPLICAS; i++)
			db_open(&r[i], (uint64_t)(i + 1) * 0x1111);
		for (step = 0; step < 120; step++) {
			i = rnd() % NREPLICAS;
			if (rnd() % 3 == 0)
				random_action(r[i].j);
			else
				for (k = 0; k < 3; k++)
					random_delivery(r, i);
		}
		for (i = 0; i < NREPLICAS; i++)
			for (k = 0; k < NREPLICAS; k++)
				if (i != k)
					sync_pair(r[i].j, r[k].j);
		d0 = dump(r[0].j);
		for (i = 1; i < NREPLICAS; i++) {
			d = dump(r[i].j);
			if (strcmp(d0, d) != 0) {
				FILE *f = fopen("/tmp/blazefs-property-0.txt", "w");

				fputs(d0, f);
				fclose(f);
				f = fopen("/tmp/blazefs-property-1.txt", "w");
				fputs(d, f);
				fclose(f);
				fail_msg(
				    "seed %d: replica %d differs (see /tmp/blazefs-property-*.txt)",
				    seed, i);
			}
			free(d);
		}
		free(d0);
		for (i = 0; i < NREPLICAS; i++)
			db_close(&r[i]);
	}
}

static int
count_cb(void *ctx, const char *name)
{
	static char last[64];

	(void)name;
	assert_true(strcmp(last, name) < 0 || (*(long *)ctx) == 0);
	snprintf(last, sizeof(last), "%s", name);
	(*(long *)ctx)++;
	return 0;
}

static void
test_100k_records_reopen_identical(void **state)
{
	char rec[32], json[128], *before, *after;
	uint64_t nc, nr, nf;
	long n = 0;
	struct db d;
	int i;

	(void)state;
	db_open(&d, 1);
	for (i = 0; i < 100000; i++) {
		snprintf(rec, sizeof(rec), "r%06d", i);
		snprintf(json, sizeof(json), "{\"i\":%d,\"name\":\"record %d\"}", i, i);
		put(d.j, "big", rec, json);
	}
	assert_int_equal(journal_list_records(d.j, "big", "", count_cb, &n), 0);
	assert_int_equal(n, 100000);
	before = get(d.j, "big", "r054321");
	journal_close(d.j);
	assert_non_null(d.j = journal_open(d.dir, 0));
	after = get(d.j, "big", "r054321");
	assert_string_equal(before, after);
	assert_string_equal(after, "{\"i\":54321,\"name\":\"record 54321\"}");
	assert_int_equal(journal_counts(d.j, &nc, &nr, &nf), 0);
	assert_int_equal(nr, 100000);
	assert_int_equal(nc, 1);
	/* Listing resumes after a name without loading what came before. */
	n = 0;
	assert_int_equal(journal_list_records(d.j, "big", "r099990", count_cb, &n), 0);
	assert_int_equal(n, 9);
	free(before);
	free(after);
	db_close(&d);
}

static void
test_map_grows_when_full(void **state)
{
	char rec[32], json[2048];
	struct db d;
	int i;

	(void)state;
	journal_set_initial_mapsize(256 * 1024);
	db_open(&d, 1);
	memset(json, 'x', sizeof(json));
	memcpy(json, "{\"pad\":\"", 8);
	memcpy(json + sizeof(json) - 3, "\"}", 3);
	for (i = 0; i < 2000; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		put(d.j, "c", rec, json);
	}
	expect(d.j, "c", "r1999", json);
	/* The same inside a batch: it is committed, the map grows, it goes on. */
	journal_close(d.j);
	journal_set_initial_mapsize(256 * 1024);
	assert_non_null(d.j = journal_open(d.dir, JOURNAL_BATCH | JOURNAL_NOSYNC));
	for (i = 2000; i < 4000; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		put(d.j, "c", rec, json);
	}
	expect(d.j, "c", "r3999", json);
	expect(d.j, "c", "r5", json);
	db_close(&d);
	journal_set_initial_mapsize(0);
}

/* KiB of this process's mappings of the database (smaps' Rss). */
static long
map_rss_kb(void)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	long kb, sum = 0;
	int in = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');

		/* A mapping's line, not one of its "Name: value" lines. */
		if (sp != NULL && sp > line && sp[-1] != ':')
			in = strstr(line, "/data.mdb") != NULL;
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			sum += kb;
	}
	fclose(f);
	return sum;
}

static void
test_map_pages_leave_the_process(void **state)
{
	char rec[32], json[1024], *buf;
	struct db d;
	size_t len;
	int i;

	(void)state;
	db_open(&d, 1);
	memset(json, 'x', sizeof(json));
	memcpy(json, "{\"pad\":\"", 8);
	memcpy(json + sizeof(json) - 3, "\"}", 3);
	for (i = 0; i < 3000; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		put(d.j, "c", rec, json);
	}
	/* Reading every record maps the pages that hold them... */
	for (i = 0; i < 3000; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		assert_int_equal(journal_read_record(d.j, "c", rec, &buf, &len), 0);
		free(buf);
	}
	assert_true(map_rss_kb() > 2048);
	/* ...and once they are past the limit the next commit drops them from
	 * the process (it looks every 50 ms at most), nothing lost. */
	journal_set_map_rss_max(512 * 1024);
	usleep(60 * 1000);
	put(d.j, "c", "last", json);
	assert_true(map_rss_kb() < 512);
	expect(d.j, "c", "r1234", json);
	/* The same from a reader's side: a listing maps them again. */
	for (i = 0; i < 3000; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		assert_int_equal(journal_read_record(d.j, "c", rec, &buf, &len), 0);
		free(buf);
	}
	assert_true(map_rss_kb() > 2048);
	usleep(60 * 1000);
	journal_trim(d.j);
	assert_true(map_rss_kb() < 512);
	db_close(&d);
	journal_set_map_rss_max(0);
}

static void
test_batch_reads_see_writes_at_once(void **state)
{
	uint8_t dbid[32] = {1};
	struct journal *j;
	struct vv v;
	char *dir = test_tmpdir();

	(void)state;
	assert_int_equal(journal_create(dir, 1, dbid), 0);
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH));
	assert_int_equal(journal_batch_due(j), -1);
	put(j, "c", "r", "{\"a\":1}");
	expect(j, "c", "r", "{\"a\":1}");
	assert_int_equal(journal_col_exists(j, "c"), 1);
	assert_true(journal_batch_due(j) >= 0);
	/* The network side sees only committed changes. */
	assert_int_equal(journal_vv(j, &v), 0);
	assert_int_equal(vv_get(&v, 1), 0);
	vv_clear(&v);
	assert_int_equal(journal_flush(j), 0);
	assert_int_equal(journal_batch_due(j), -1);
	assert_int_equal(journal_vv(j, &v), 0);
	assert_int_equal(vv_get(&v, 1), 1);
	vv_clear(&v);
	/* A failed write inside a batch leaves the batch's other writes. */
	put(j, "c", "r2", "{\"b\":2}");
	assert_int_equal(journal_mkcol(j, "c"), -1);
	expect(j, "c", "r2", "{\"b\":2}");
	journal_close(j);
	test_rmdir(dir);
}

/* The ops logged in dir/wal, as letters (WAL_* bytes), in order. */
static void
wal_ops(const char *dir, char *ops, size_t max)
{
	char path[512];
	uint8_t buf[1 << 16];
	struct wal_entry e;
	size_t n = 0, off = 0, k = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/wal", dir);
	if ((f = fopen(path, "rb")) != NULL) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
	}
	while (k + 1 < max && wal_next(buf, n, &off, &e))
		ops[k++] = (char)e.op;
	ops[k] = '\0';
}

/* A close is one call: the write, or the rejected bytes kept, in one wal
 * entry; the stat comes back with it. */
static void
test_save_record_keeps_or_clears_rejects_in_one_call(void **state)
{
	uint8_t dbid[32] = {1};
	struct journal_stat st, st2;
	struct journal *j;
	const char *why;
	char ops[16], *buf, *reason, *big;
	size_t len;
	char *dir = test_tmpdir();

	(void)state;
	assert_int_equal(journal_create(dir, 1, dbid), 0);
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH | JOURNAL_NOSYNC));
	/* Rejected: kept with its reason, the record untouched. */
	assert_int_equal(journal_save_record(j, "c", "r", NULL, 0, "{oops", 5, &why, &st), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(why);
	assert_int_equal(st.version, 0);
	assert_int_equal(journal_reject_get(j, "c", "r", &buf, &len, &reason), 0);
	assert_string_equal(buf, "{oops");
	assert_string_equal(reason, why);
	free(buf);
	free(reason);
	assert_int_equal(journal_stat_record(j, "c", "r", &st), -1);
	wal_ops(dir, ops, sizeof(ops));
	assert_string_equal(ops, "J");
	/* Saved: the reject is gone in the same entry, the stat is the read's. */
	assert_int_equal(journal_save_record(j, "c", "r", NULL, 0, "{\"a\": 1}", 8, &why, &st), 0);
	assert_null(why);
	assert_int_equal(journal_stat_record(j, "c", "r", &st2), 0);
	assert_int_equal(st.size, 8);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_true(st.version != 0);
	assert_int_equal(journal_reject_get(j, "c", "r", &buf, &len, &reason), -1);
	assert_int_equal(errno, ENOENT);
	wal_ops(dir, ops, sizeof(ops));
	assert_string_equal(ops, "JW");
	/* An edit from a base: one entry again, a newer version. */
	assert_int_equal(
	    journal_save_record(j, "c", "r", "{\"a\": 1}", 8, "{\"a\": 2}", 8, &why, &st2), 0);
	assert_true(st2.version > st.version);
	expect(j, "c", "r", "{\"a\": 2}");
	wal_ops(dir, ops, sizeof(ops));
	assert_string_equal(ops, "JWE");
	/* Too big: EFBIG, kept; the record keeps its state. */
	big = malloc(RECORD_MAX_BYTES + 2);
	memset(big, ' ', RECORD_MAX_BYTES + 1);
	big[RECORD_MAX_BYTES + 1] = '\0';
	assert_int_equal(
	    journal_save_record(j, "c", "r", NULL, 0, big, RECORD_MAX_BYTES + 1, &why, &st), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(journal_reject_get(j, "c", "r", &buf, &len, &reason), 0);
	assert_int_equal(len, RECORD_MAX_BYTES + 1);
	free(buf);
	free(reason);
	free(big);
	expect(j, "c", "r", "{\"a\": 2}");
	assert_int_equal(journal_flush(j), 0);
	wal_ops(dir, ops, sizeof(ops));
	assert_string_equal(ops, "");
	journal_close(j);
	test_rmdir(dir);
}

/* Stand-in seal hooks: a marker after the header, checked on open. */
static int
fake_seal(void *ctx, const uint8_t *in, size_t len, const uint8_t *prev, uint8_t **out,
          size_t *outlen)
{
	(void)ctx;
	(void)prev;
	*out = malloc(len + 6);
	memcpy(*out, in, 17);
	memcpy(*out + 17, "SEALED", 6);
	memcpy(*out + 23, in + 17, len - 17);
	*outlen = len + 6;
	return 0;
}

static int
fake_open(void *ctx, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	(void)ctx;
	if (len < 23 || memcmp(in + 17, "SEALED", 6) != 0)
		return -1;
	*out = malloc(len - 6);
	memcpy(*out, in, 17);
	memcpy(*out + 17, in + 23, len - 23);
	*outlen = len - 6;
	return 0;
}

static void
test_batch_survives_kill_9(void **state)
{
	uint8_t dbid[32] = {1};
	char *dir = test_tmpdir(), rec[16], json[64], *buf, *why;
	struct journal *j;
	size_t len;
	pid_t pid;
	int status, i;

	(void)state;
	assert_int_equal(journal_create(dir, 1, dbid), 0);
	if ((pid = fork()) == 0) {
		/* The child writes, then dies without committing its batch. */
		if ((j = journal_open(dir, JOURNAL_BATCH)) == NULL)
			_exit(1);
		for (i = 0; i < 300; i++) {
			const char *w;

			snprintf(rec, sizeof(rec), "r%d", i);
			snprintf(json, sizeof(json), "{\"i\": %d}", i);
			if (journal_write_record(j, "c", rec, json, strlen(json), &w))
				_exit(1);
			if (i % 50 == 0 && journal_flush(j))
				_exit(1);
		}
		journal_delete_record(j, "c", "r7");
		journal_reject_put(j, "c", "r8", "invalid JSON", "{oops", 5);
		kill(getpid(), SIGKILL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	/* Another process committing meanwhile does not make the wal stale. */
	assert_non_null(j = journal_open(dir, 0));
	assert_int_equal(journal_meta_put(j, "note", "x", 1), 0);
	journal_close(j);
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH));
	{
		struct journal_crypto hooks = {fake_seal, fake_open, NULL};

		journal_set_crypto(j, &hooks);
	}
	assert_int_equal(journal_recover(j), 0);
	/* The recovered writes are sealed like any other. */
	{
		struct vv v;
		uint8_t *blob;
		size_t blen;

		assert_int_equal(journal_vv(j, &v), 0);
		assert_int_equal(journal_get_change(j, 1, vv_get(&v, 1), &blob, &blen), 0);
		assert_memory_equal(blob + 17, "SEALED", 6);
		free(blob);
		vv_clear(&v);
	}
	for (i = 0; i < 300; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		snprintf(json, sizeof(json), "{\"i\": %d}", i);
		expect(j, "c", rec, i == 7 ? NULL : json);
	}
	assert_int_equal(journal_reject_get(j, "c", "r8", &buf, &len, &why), 0);
	assert_string_equal(buf, "{oops");
	free(buf);
	free(why);
	/* A second mount of the same database is refused while one runs. */
	if ((pid = fork()) == 0)
		_exit(journal_open(dir, JOURNAL_BATCH) == NULL && errno == EBUSY ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	journal_close(j);
	/* Replaying is idempotent: the changes were made once. */
	assert_non_null(j = journal_open(dir, 0));
	{
		struct vv v;

		assert_int_equal(journal_vv(j, &v), 0);
		assert_int_equal(vv_get(&v, 1), 301);
		vv_clear(&v);
	}
	journal_close(j);
	test_rmdir(dir);
}

/* The bytes of dir/wal (malloc'd; *n 0 if absent). */
static uint8_t *
wal_bytes(const char *dir, size_t *n)
{
	char path[512];
	uint8_t *b = malloc(1 << 16);
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "%s/wal", dir);
	if ((f = fopen(path, "rb")) != NULL) {
		*n = fread(b, 1, 1 << 16, f);
		fclose(f);
	}
	return b;
}

static void
wal_put_bytes(const char *dir, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/wal", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static uint64_t
own_seq(struct journal *j)
{
	struct vv v;
	uint64_t s;

	assert_int_equal(journal_vv(j, &v), 0);
	s = vv_get(&v, journal_self(j));
	vv_clear(&v);
	return s;
}

/* A stale wal (its emptying never reached the disk, a later sync did) beside
 * a newer database applies nothing: no older write over a synced one (D2),
 * no new change minted. */
static void
test_stale_wal_rolls_nothing_back(void **state)
{
	uint8_t dbid[32] = {1}, *old;
	struct journal *j;
	size_t n;
	char *dir = test_tmpdir();

	(void)state;
	assert_int_equal(journal_create(dir, 1, dbid), 0);
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH));
	put(j, "c", "A", "{\"a\": 1}");
	put(j, "c", "B", "{\"b\": 1}");
	old = wal_bytes(dir, &n);
	assert_true(n > 0);
	assert_int_equal(journal_flush(j), 0);
	put(j, "c", "A", "{\"a\": 2}");
	journal_delete_record(j, "c", "B");
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(own_seq(j), 4);
	journal_close(j);
	/* The old wal back beside the newer database. */
	wal_put_bytes(dir, old, n);
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH));
	assert_int_equal(journal_recover(j), 0);
	expect(j, "c", "A", "{\"a\": 2}");
	expect(j, "c", "B", NULL);
	assert_int_equal(own_seq(j), 4);
	journal_close(j);
	/* The same after a kill -9 between the commit and the emptying: the wal
	 * of the committed batch is skipped, the newer entries applied. */
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH));
	put(j, "c", "A", "{\"a\": 3}");
	free(old);
	old = wal_bytes(dir, &n);
	assert_int_equal(journal_flush(j), 0);
	put(j, "c", "C", "{\"c\": 1}");
	{
		uint8_t *now;
		size_t m;

		now = wal_bytes(dir, &m);
		old = realloc(old, n + m);
		memcpy(old + n, now, m);
		n += m;
		free(now);
	}
	journal_close(j);
	wal_put_bytes(dir, old, n);
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH));
	assert_int_equal(journal_recover(j), 0);
	expect(j, "c", "A", "{\"a\": 3}");
	expect(j, "c", "C", "{\"c\": 1}");
	assert_int_equal(own_seq(j), 6);
	journal_close(j);
	free(old);
	test_rmdir(dir);
}

/* A wal of the format before txn ids (left by an older version after a
 * kill -9) is applied as that version would have. */
static void
test_old_format_wal_is_applied(void **state)
{
	uint8_t dbid[32] = {1}, e[128], *p;
	const char *args[3] = {"c", "old", "{\"o\": 1}"};
	struct wal_entry we;
	struct journal *j;
	size_t n, off = 0;
	char *dir = test_tmpdir();
	int i;

	(void)state;
	/* u32 body length | BLAKE2b-128 of body | body (op, then u32 + bytes). */
	p = e + 20;
	*p++ = WAL_WRITE;
	for (i = 0; i < 3; i++) {
		size_t l = strlen(args[i]);

		p[0] = 0, p[1] = 0, p[2] = 0, p[3] = (uint8_t)l;
		memcpy(p + 4, args[i], l);
		p += 4 + l;
	}
	n = (size_t)(p - e);
	e[0] = 0, e[1] = 0, e[2] = 0, e[3] = (uint8_t)(n - 20);
	crypto_generichash(e + 4, 16, e + 20, n - 20, NULL, 0);
	assert_int_equal(wal_next(e, n, &off, &we), 1);
	assert_int_equal(we.op, WAL_WRITE);
	assert_int_equal(we.txn, 0);
	assert_int_equal(off, n);
	assert_int_equal(journal_create(dir, 1, dbid), 0);
	wal_put_bytes(dir, e, n);
	assert_non_null(j = journal_open(dir, JOURNAL_BATCH));
	assert_int_equal(journal_recover(j), 0);
	expect(j, "c", "old", "{\"o\": 1}");
	assert_int_equal(own_seq(j), 1);
	journal_close(j);
	test_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read_and_read_your_writes),
	    cmocka_unit_test(test_bad_input_changes_nothing),
	    cmocka_unit_test(test_rejects_are_kept_until_replaced),
	    cmocka_unit_test(test_collections),
	    cmocka_unit_test(test_long_field_names),
	    cmocka_unit_test(test_rename),
	    cmocka_unit_test(test_concurrent_edits_of_different_fields_both_survive),
	    cmocka_unit_test(test_concurrent_edits_of_one_field_conflict),
	    cmocka_unit_test(test_priority_wins_concurrent_conflicts),
	    cmocka_unit_test(test_delete_vs_concurrent_edit_keeps_the_edit),
	    cmocka_unit_test(test_edit_keeps_changes_made_while_open),
	    cmocka_unit_test(test_observer_and_gaps),
	    cmocka_unit_test(test_missing_returns_exactly_what_lacks),
	    cmocka_unit_test(test_apply_batch_results),
	    cmocka_unit_test(test_property_any_order_converges),
	    cmocka_unit_test(test_equal_concurrent_values_are_no_conflict),
	    cmocka_unit_test(test_settle_field_to_the_shown_value),
	    cmocka_unit_test(test_clock_far_ahead_is_reported_and_shows_no_future_mtime),
	    cmocka_unit_test(test_100k_records_reopen_identical),
	    cmocka_unit_test(test_map_grows_when_full),
	    cmocka_unit_test(test_map_pages_leave_the_process),
	    cmocka_unit_test(test_batch_reads_see_writes_at_once),
	    cmocka_unit_test(test_batch_survives_kill_9),
	    cmocka_unit_test(test_save_record_keeps_or_clears_rejects_in_one_call),
	    cmocka_unit_test(test_stale_wal_rolls_nothing_back),
	    cmocka_unit_test(test_old_format_wal_is_applied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
