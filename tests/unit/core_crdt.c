/*
 * The merge laws of core/crdt.c, without a database: replicas that apply the
 * same changes — in any order, with duplicates, or split between replicas
 * that then exchange what they have — hold byte-identical registers and
 * render every record identically.
 */
#include <errno.h>

#include "tests/unit/core_test.h"

#include "core/crdt.h"
#include "core/record.h"

#define NORIGINS 4
#define NCHANGES 24
#define NSCENARIOS 1000
#define NORDERS 8
#define MAXREGS 64
#define MAXSUP 256

static const char *const recs[] = {"r1", "r2"};
static const char *const fields[] = {
    NULL, "a", "b",
    "a-field-name-longer-than-one-hundred-bytes-so-that-its-register-key-holds-its-hash-"
    "instead-of-the-name"};
static const char *const values[] = {"1", "2", "\"x\"", "true", "[1,2]", "{\"k\":null}"};
/* Ties on purpose: priority decides first, then hlc, origin, seq. */
static const int64_t prio[NORIGINS + 1] = {0, 1, 0, 1, 2};

/* A fixed-seed generator (xorshift64): every run tests the same cases. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A register and its key. */
struct slot {
	uint8_t k[CRDT_KEY_MAX];
	size_t kl;
	struct crdt_reg r;
};

/* An in-memory replica: registers by key, superseded ids, arrived ids. */
struct replica {
	size_t nregs, nsup, narrived;
	struct slot regs[MAXREGS];
	struct {
		struct cid id;
		uint8_t k[CRDT_KEY_MAX];
		size_t kl;
	} sup[MAXSUP];
	struct cid arrived[NCHANGES];
};

static int
arrived(void *ctx, uint64_t origin, uint64_t seq)
{
	struct replica *x = ctx;

	for (size_t i = 0; i < x->narrived; i++)
		if (x->arrived[i].origin == origin && x->arrived[i].seq == seq)
			return 1;
	return 0;
}

static int
supersede(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *k, size_t kl)
{
	struct replica *x = ctx;

	for (size_t i = 0; i < x->nsup; i++)
		if (x->sup[i].id.origin == origin && x->sup[i].id.seq == seq &&
		    x->sup[i].kl == kl && memcmp(x->sup[i].k, k, kl) == 0)
			return 0;
	assert_true(x->nsup < MAXSUP);
	x->sup[x->nsup].id.origin = origin;
	x->sup[x->nsup].id.seq = seq;
	memcpy(x->sup[x->nsup].k, k, kl);
	x->sup[x->nsup++].kl = kl;
	return 0;
}

static int
take(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *k, size_t kl, int *found)
{
	struct replica *x = ctx;

	*found = 0;
	for (size_t i = 0; i < x->nsup; i++)
		if (x->sup[i].id.origin == origin && x->sup[i].id.seq == seq &&
		    x->sup[i].kl == kl && memcmp(x->sup[i].k, k, kl) == 0) {
			x->sup[i] = x->sup[--x->nsup];
			*found = 1;
			break;
		}
	return 0;
}

static int64_t
priority(void *ctx, uint64_t origin)
{
	(void)ctx;
	return prio[origin];
}

/* Sets field r->field of obj to the winner's value (markers set nothing). */
static int
render_field(json_t *obj, const struct crdt_reg *r)
{
	json_t *v;
	size_t w;

	if (r->field == NULL || r->n == 0)
		return 0;
	w = crdt_winner(r, priority, NULL);
	v = record_value_parse(r->e[w].value, r->e[w].vlen);
	return v == NULL || json_object_set_new(obj, r->field, v) != 0;
}

/* Applies c unless it has arrived already (as the journal's vv does). */
static void
apply(struct replica *x, const struct change *c)
{
	struct crdt_hooks h = {arrived, supersede, take, x};
	uint8_t k[CRDT_KEY_MAX];
	size_t kl, i, r;

	if (arrived(x, c->origin, c->seq))
		return;
	for (i = 0; i < c->nops; i++) {
		const struct op *op = &c->ops[i];

		kl = crdt_reg_key(k, op->coll, op->rec, op->field);
		for (r = 0; r < x->nregs; r++)
			if (x->regs[r].kl == kl && memcmp(x->regs[r].k, k, kl) == 0)
				break;
		if (r == x->nregs) {
			assert_true(r < MAXREGS);
			memcpy(x->regs[r].k, k, kl);
			x->regs[r].kl = kl;
			memset(&x->regs[r].r, 0, sizeof(x->regs[r].r));
			x->nregs++;
		}
		assert_int_equal(crdt_apply(&x->regs[r].r, k, kl, c, op, &h), 0);
		if (x->regs[r].r.n == 0) { /* an empty register is not stored */
			crdt_reg_clear(&x->regs[r].r);
			x->regs[r] = x->regs[--x->nregs];
		}
	}
	x->arrived[x->narrived].origin = c->origin;
	x->arrived[x->narrived++].seq = c->seq;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = memcmp(x->k, y->k, x->kl < y->kl ? x->kl : y->kl);

	return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

/* The replica as bytes: every register (key, encoding) in key order, then
 * every record rendered from its registers in key order. */
static char *
dump(struct replica *x, size_t *len)
{
	char *out = NULL, *text;
	size_t n = 0, i, r, tl;
	uint8_t *b, rk[CRDT_KEY_MAX];
	FILE *f = open_memstream(&out, &n);

	assert_non_null(f);
	qsort(x->regs, x->nregs, sizeof(x->regs[0]), key_cmp);
	for (i = 0; i < x->nregs; i++) {
		assert_int_equal(crdt_reg_encode(&x->regs[i].r, &b, &tl), 0);
		fwrite(x->regs[i].k, 1, x->regs[i].kl, f);
		fwrite(b, 1, tl, f);
		/* What counts as a conflict is the same on every replica too. */
		fputc(crdt_reg_conflict(&x->regs[i].r) ? 'C' : '-', f);
		free(b);
	}
	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		json_t *obj = json_object();
		size_t pl = crdt_record_key(rk, "c", recs[i]);
		int any = 0;

		rk[pl++] = 0;
		for (r = 0; r < x->nregs; r++) {
			if (x->regs[r].kl <= pl || memcmp(x->regs[r].k, rk, pl) != 0)
				continue;
			any = 1;
			assert_int_equal(render_field(obj, &x->regs[r].r), 0);
		}
		if (any) {
			assert_non_null(text = record_render(obj, &tl));
			fprintf(f, "%s:%s", recs[i], text);
			free(text);
		}
		json_decref(obj);
	}
	fclose(f);
	*len = n;
	return out;
}

static void
replica_clear(struct replica *x)
{
	for (size_t i = 0; i < x->nregs; i++)
		crdt_reg_clear(&x->regs[i].r);
	memset(x, 0, sizeof(*x));
}

/* NCHANGES changes from NORIGINS devices, each replacing some of the entries
 * its device could have seen (any earlier SET of the same register). */
static void
generate(struct change *cs, uint64_t *s)
{
	uint64_t next[NORIGINS + 1] = {0};
	struct cid over[NCHANGES];
	size_t i, p, nover;

	for (i = 0; i < NCHANGES; i++) {
		struct change *c = &cs[i];
		uint64_t o = rnd(s) % NORIGINS + 1;
		const char *rec = recs[rnd(s) % 2], *field = fields[rnd(s) % 4];
		int del = rnd(s) % 4 == 0;

		memset(c, 0, sizeof(*c));
		c->origin = o;
		c->seq = ++next[o];
		c->hlc = rnd(s) % 5 + 1; /* few values: ties between devices */
		for (nover = 0, p = 0; p < i; p++) {
			const struct op *q = &cs[p].ops[0];

			if (q->kind == OP_SET && strcmp(q->rec, rec) == 0 &&
			    (q->field == field ||
			     (q->field && field && strcmp(q->field, field) == 0)) &&
			    rnd(s) % 3 != 0) {
				over[nover].origin = cs[p].origin;
				over[nover++].seq = cs[p].seq;
			}
		}
		assert_int_equal(change_add(c, del ? OP_DEL : OP_SET, "c", rec, field,
		                            del     ? NULL
		                            : field ? values[rnd(s) % 6]
		                                    : "true",
		                            over, nover),
		                 0);
		/* Some changes touch two registers, as a write of a new record does. */
		if (field != NULL && !del && rnd(s) % 3 == 0)
			assert_int_equal(change_add(c, OP_SET, "c", rec, NULL, "true", NULL, 0), 0);
	}
}

/* Applies every change of cs, each one to three times, in a random order. */
static void
apply_shuffled(struct replica *x, const struct change *cs, uint64_t *s)
{
	size_t order[NCHANGES * 3], n = 0, i, k, t;

	for (i = 0; i < NCHANGES; i++)
		for (k = rnd(s) % 3 + 1; k > 0; k--)
			order[n++] = i;
	for (i = n - 1; i > 0; i--) {
		k = rnd(s) % (i + 1);
		t = order[i];
		order[i] = order[k];
		order[k] = t;
	}
	for (i = 0; i < n; i++)
		apply(x, &cs[order[i]]);
}

static void
test_any_order_with_duplicates_gives_identical_bytes(void **state)
{
	static struct replica ref, x, y;
	struct change cs[NCHANGES];
	uint64_t s = 0x9e3779b97f4a7c15;
	char *want, *got;
	size_t wl, gl, i, sc, o;

	(void)state;
	for (sc = 0; sc < NSCENARIOS; sc++) {
		generate(cs, &s);
		/* The reference: every change once, in the order they were made. */
		for (i = 0; i < NCHANGES; i++)
			apply(&ref, &cs[i]);
		want = dump(&ref, &wl);
		/* Commutative and idempotent: any order, duplicates included. */
		for (o = 0; o < NORDERS; o++) {
			apply_shuffled(&x, cs, &s);
			got = dump(&x, &gl);
			assert_int_equal(gl, wl);
			assert_memory_equal(got, want, wl);
			free(got);
			replica_clear(&x);
		}
		/* Associative: two replicas that each got part of the changes, then
		 * exchanged them in the order they applied them, agree. */
		for (i = 0; i < NCHANGES; i++)
			apply(rnd(&s) % 2 ? &x : &y, &cs[NCHANGES - 1 - i]);
		for (i = 0; i < y.narrived; i++)
			for (size_t c = 0; c < NCHANGES; c++)
				if (cs[c].origin == y.arrived[i].origin &&
				    cs[c].seq == y.arrived[i].seq)
					apply(&x, &cs[c]);
		for (i = 0; i < NCHANGES; i++)
			apply(&y, &cs[i]);
		got = dump(&x, &gl);
		assert_int_equal(gl, wl);
		assert_memory_equal(got, want, wl);
		free(got);
		got = dump(&y, &gl);
		assert_int_equal(gl, wl);
		assert_memory_equal(got, want, wl);
		free(got);
		free(want);
		replica_clear(&x);
		replica_clear(&y);
		replica_clear(&ref);
		for (i = 0; i < NCHANGES; i++)
			change_clear(&cs[i]);
	}
}

static void
test_register_encoding_round_trips(void **state)
{
	struct crdt_reg r = {0}, d, t;
	struct crdt_entry e[2] = {{9, 1, 5, "\"b\"", 3}, {2, 7, 5, "1", 1}};
	uint8_t *b, *b2;
	size_t n, n2;

	(void)state;
	r.field = strdup("f");
	r.n = 2;
	r.e = malloc(sizeof(e));
	memcpy(r.e, e, sizeof(e));
	r.e[0].value = strdup("\"b\"");
	r.e[1].value = strdup("1");
	assert_int_equal(crdt_reg_encode(&r, &b, &n), 0);
	assert_int_equal(r.e[0].origin, 2); /* sorted by id */
	assert_int_equal(crdt_reg_decode(b, n, &d), 0);
	assert_string_equal(d.field, "f");
	assert_int_equal(d.n, 2);
	assert_true(crdt_reg_conflict(&d));
	assert_int_equal(crdt_reg_find(&d, 9, 1), 1);
	assert_int_equal(crdt_reg_encode(&d, &b2, &n2), 0);
	assert_int_equal(n2, n);
	assert_memory_equal(b2, b, n);
	/* Truncated or overlong: EIO, nothing leaked. */
	assert_int_equal(crdt_reg_decode(b, n - 1, &t), EIO);
	assert_int_equal(t.n, 0);
	assert_int_equal(crdt_reg_decode(b, 3, &t), EIO);
	free(b);
	free(b2);
	crdt_reg_clear(&r);
	crdt_reg_clear(&d);
}

static void
test_equal_values_are_no_conflict(void **state)
{
	struct crdt_entry e[3] = {
	    {1, 5, 100, "{\"k\":1}", 7}, {2, 1, 50, "{\"k\":1}", 7}, {3, 1, 100, "{\"k\":1}", 7}};
	struct crdt_reg r = {"f", 3, e}, m = {NULL, 3, e};
	struct crdt_entry t;

	(void)state;
	/* Three devices wrote the same bytes: nothing to resolve. */
	assert_false(crdt_reg_conflict(&r));
	/* A marker's entries never are a conflict. */
	assert_false(crdt_reg_conflict(&m));
	/* One different value, in any position, is. */
	e[1].value = "{\"k\":2}";
	assert_true(crdt_reg_conflict(&r));
	t = e[0];
	e[0] = e[1];
	e[1] = t;
	assert_true(crdt_reg_conflict(&r));
	/* A prefix is not equal. */
	e[0].value = "{\"k\":1}";
	e[2].value = "{\"k\":1";
	e[2].vlen = 6;
	assert_true(crdt_reg_conflict(&r));
	/* One entry: no conflict. */
	r.n = 1;
	assert_false(crdt_reg_conflict(&r));
}

static void
test_winner_is_priority_then_hlc_origin_seq(void **state)
{
	struct crdt_entry e[3] = {{1, 5, 100, "1", 1}, {2, 1, 50, "2", 1}, {3, 1, 100, "3", 1}};
	struct crdt_reg r = {"f", 3, e};

	(void)state;
	/* Devices 1 and 3 share priority 1 and the hlc: the larger origin wins. */
	assert_int_equal(crdt_winner(&r, priority, NULL), 2);
	e[2].hlc = 99; /* then the later hlc */
	assert_int_equal(crdt_winner(&r, priority, NULL), 0);
	e[1].origin = 4; /* priority 2 beats any hlc */
	assert_int_equal(crdt_winner(&r, priority, NULL), 1);
	e[1].origin = 1; /* one device: the later seq */
	e[1].hlc = 100;
	e[1].seq = 9;
	assert_int_equal(crdt_winner(&r, priority, NULL), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_any_order_with_duplicates_gives_identical_bytes),
	    cmocka_unit_test(test_register_encoding_round_trips),
	    cmocka_unit_test(test_equal_values_are_no_conflict),
	    cmocka_unit_test(test_winner_is_priority_then_hlc_origin_seq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
