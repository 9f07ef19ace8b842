#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/record.h"

/* Depth of nested arrays and objects below v (v itself counts one). */
static int
record_depth(const json_t *v, int limit)
{
	int d, max = 0;
	size_t i;
	const char *k;
	json_t *x;

	if (limit < 0)
		return 1;
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, x) {
			d = record_depth(x, limit - 1);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach (v, i, x) {
			d = record_depth(x, limit - 1);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	return 0;
}

json_t *
record_parse(const char *buf, size_t len, const char **why)
{
	static __thread char msg[200];
	json_error_t e;
	json_t *v;

	*why = NULL;
	if (len > RECORD_MAX_BYTES) {
		*why = "record larger than 1 MiB";
		errno = EFBIG;
		return NULL;
	}
	/* Duplicate keys are refused: silently keeping one would lose the other. */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	if (v == NULL) {
		snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", e.line,
		         e.column, e.text);
		*why = msg;
		errno = EINVAL;
		return NULL;
	}
	if (!json_is_object(v)) {
		*why = "a record must be a JSON object";
		goto bad;
	}
	if (record_depth(v, RECORD_MAX_DEPTH) > RECORD_MAX_DEPTH) {
		*why = "nesting deeper than 64 levels";
		goto bad;
	}
	return v;
bad:
	json_decref(v);
	errno = EINVAL;
	return NULL;
}

/* A growable output buffer for the canonical emitter. */
struct out {
	char *p;
	size_t len, cap;
	int err;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	char *p;
	size_t cap;

	if (o->err)
		return;
	if (o->len + n + 2 > o->cap) {
		cap = o->cap ? o->cap : 256;
		while (o->len + n + 2 > cap)
			cap *= 2;
		if ((p = realloc(o->p, cap)) == NULL) {
			o->err = 1;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[7] = "\\u00";
	size_t i, run = 0;

	out_add(o, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = NULL;

		if (c == '"')
			e = "\\\"";
		else if (c == '\\')
			e = "\\\\";
		else if (c == '\n')
			e = "\\n";
		else if (c == '\t')
			e = "\\t";
		else if (c == '\r')
			e = "\\r";
		else if (c == '\b')
			e = "\\b";
		else if (c == '\f')
			e = "\\f";
		else if (c < 0x20) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc[6] = '\0';
			e = esc;
		}
		if (e == NULL)
			continue;
		out_add(o, s + run, i - run);
		out_add(o, e, strlen(e));
		run = i + 1;
	}
	out_add(o, s + run, n - run);
	out_add(o, "\"", 1);
}

/* The shortest text that reads back as exactly d, always with a '.' or 'e'. */
static void
out_real(struct out *o, double d)
{
	char b[40];
	int p;

	for (p = 1; p <= 17; p++) {
		snprintf(b, sizeof(b), "%.*g", p, d);
		if (strtod(b, NULL) == d)
			break;
	}
	if (strpbrk(b, ".eEn") == NULL)
		strcat(b, ".0");
	out_add(o, b, strlen(b));
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
out_indent(struct out *o, int indent, int level)
{
	int i;

	if (indent < 0)
		return;
	out_add(o, "\n", 1);
	for (i = 0; i < indent * level; i++)
		out_add(o, " ", 1);
}

/* Emits v; indent < 0 is compact.  Object keys are sorted by bytes. */
static void
out_value(struct out *o, const json_t *v, int indent, int level)
{
	char b[32];
	const char **keys;
	const char *k;
	json_t *x;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		n = json_object_size(v);
		if (n == 0) {
			out_add(o, "{}", 2);
			break;
		}
		if ((keys = malloc(n * sizeof(*keys))) == NULL) {
			o->err = 1;
			break;
		}
		i = 0;
		json_object_foreach ((json_t *)v, k, x)
			keys[i++] = k;
		qsort(keys, n, sizeof(*keys), key_cmp);
		out_add(o, "{", 1);
		for (i = 0; i < n; i++) {
			if (i > 0)
				out_add(o, ",", 1);
			out_indent(o, indent, level + 1);
			out_str(o, keys[i], strlen(keys[i]));
			out_add(o, indent < 0 ? ":" : ": ", indent < 0 ? 1 : 2);
			out_value(o, json_object_get(v, keys[i]), indent, level + 1);
		}
		free(keys);
		out_indent(o, indent, level);
		out_add(o, "}", 1);
		break;
	case JSON_ARRAY:
		n = json_array_size(v);
		if (n == 0) {
			out_add(o, "[]", 2);
			break;
		}
		out_add(o, "[", 1);
		for (i = 0; i < n; i++) {
			if (i > 0)
				out_add(o, ",", 1);
			out_indent(o, indent, level + 1);
			out_value(o, json_array_get(v, i), indent, level + 1);
		}
		out_indent(o, indent, level);
		out_add(o, "]", 1);
		break;
	case JSON_STRING:
		out_str(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		out_add(o, b, strlen(b));
		break;
	case JSON_REAL:
		out_real(o, json_real_value(v));
		break;
	case JSON_TRUE:
		out_add(o, "true", 4);
		break;
	case JSON_FALSE:
		out_add(o, "false", 5);
		break;
	case JSON_NULL:
		out_add(o, "null", 4);
		break;
	}
}

static char *
out_finish(struct out *o, size_t *len)
{
	if (o->err || o->p == NULL) {
		free(o->p);
		errno = ENOMEM;
		return NULL;
	}
	if (len != NULL)
		*len = o->len;
	return o->p;
}

char *
record_render(const json_t *obj, size_t *len)
{
	struct out o = {0};

	out_value(&o, obj, 2, 0);
	out_add(&o, "\n", 1);
	return out_finish(&o, len);
}

char *
record_value_text(const json_t *v)
{
	struct out o = {0};

	out_value(&o, v, -1, 0);
	return out_finish(&o, NULL);
}

json_t *
record_value_parse(const char *text, size_t len)
{
	json_error_t e;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);

	if (v == NULL)
		errno = EINVAL;
	return v;
}

static int record_utf8_valid(const unsigned char *s, size_t len);

/*
 * A reader of canonical value texts (record_value_text's output): it checks
 * that the text at c->i is one and, if c->o is set, writes it re-indented as
 * out_value(indent 2) would at that level.  Reals and escaped object keys
 * are left to jansson (-1), like anything else that is not canonical.
 */
struct canon {
	const char *s;
	size_t n, i;
	struct out *o; /* NULL: check only */
};

static void
canon_emit(struct canon *c, const char *p, size_t n)
{
	if (c->o != NULL)
		out_add(c->o, p, n);
}

static void
canon_indent(struct canon *c, int level)
{
	if (c->o != NULL)
		out_indent(c->o, 2, level);
}

static int
canon_hex(char x)
{
	return x >= '0' && x <= '9' ? x - '0' : x >= 'a' && x <= 'f' ? x - 'a' + 10 : -1;
}

/* A string as out_str writes it; *esc: it has an escape. */
static int
canon_string(struct canon *c, int *esc)
{
	size_t i = c->i + 1, start = c->i;
	int hi, lo;

	*esc = 0;
	if (c->i >= c->n || c->s[c->i] != '"')
		return -1;
	for (; i < c->n && c->s[i] != '"'; i++) {
		if ((unsigned char)c->s[i] < 0x20)
			return -1;
		if (c->s[i] != '\\')
			continue;
		*esc = 1;
		if (++i >= c->n)
			return -1;
		if (strchr("\"\\ntrbf", c->s[i]) != NULL && c->s[i] != '\0')
			continue;
		/* \u00xx: only for the controls without a short form, not NUL. */
		if (c->s[i] != 'u' || c->n - i < 5 || c->s[i + 1] != '0' || c->s[i + 2] != '0' ||
		    (hi = canon_hex(c->s[i + 3])) < 0 || hi > 1 ||
		    (lo = canon_hex(c->s[i + 4])) < 0 || hi * 16 + lo == 0 ||
		    strchr("\n\t\r\b\f", hi * 16 + lo) != NULL)
			return -1;
		i += 4;
	}
	if (i >= c->n ||
	    record_utf8_valid((const unsigned char *)c->s + start + 1, i - start - 1) != 0)
		return -1;
	c->i = i + 1;
	canon_emit(c, c->s + start, c->i - start);
	return 0;
}

/* An integer as "%lld" writes it, at most 18 digits (always in range). */
static int
canon_integer(struct canon *c)
{
	size_t start = c->i, digits;

	if (c->s[c->i] == '-')
		c->i++;
	for (digits = 0; c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9'; c->i++)
		digits++;
	if (digits == 0 || digits > 18 ||
	    (c->s[c->i - digits] == '0' && (digits > 1 || start < c->i - 1)))
		return -1;
	canon_emit(c, c->s + start, c->i - start);
	return 0;
}

static int canon_value(struct canon *c, int level);

/* An array or object: '[' or '{' at c->i. */
static int
canon_container(struct canon *c, int level)
{
	char open = c->s[c->i], close = open == '[' ? ']' : '}';
	const char *prev = NULL, *key;
	size_t plen = 0, klen, m;
	int esc, d;

	if (level >= RECORD_MAX_DEPTH)
		return -1;
	if (++c->i < c->n && c->s[c->i] == close) {
		c->i++;
		canon_emit(c, open == '[' ? "[]" : "{}", 2);
		return 0;
	}
	canon_emit(c, &open, 1);
	for (;;) {
		canon_indent(c, level + 1);
		if (open == '{') {
			/* Keys in strcmp order, no repeats. */
			key = c->s + c->i + 1;
			if (canon_string(c, &esc) || esc)
				return -1;
			klen = (size_t)(c->s + c->i - 1 - key);
			m = plen < klen ? plen : klen;
			if (prev != NULL &&
			    ((d = memcmp(prev, key, m)) > 0 || (d == 0 && plen >= klen)))
				return -1;
			prev = key;
			plen = klen;
			if (c->i >= c->n || c->s[c->i++] != ':')
				return -1;
			canon_emit(c, ": ", 2);
		}
		if (canon_value(c, level + 1) || c->i >= c->n)
			return -1;
		if (c->s[c->i] == close)
			break;
		if (c->s[c->i++] != ',')
			return -1;
		canon_emit(c, ",", 1);
	}
	c->i++;
	canon_indent(c, level);
	canon_emit(c, &close, 1);
	return 0;
}

static int
canon_value(struct canon *c, int level)
{
	static const char *const words[] = {"true", "false", "null"};
	int esc;

	if (c->i >= c->n)
		return -1;
	switch (c->s[c->i]) {
	case '"':
		return canon_string(c, &esc);
	case '[':
	case '{':
		return canon_container(c, level);
	case 't':
	case 'f':
	case 'n':
		for (size_t k = 0; k < 3; k++) {
			size_t l = strlen(words[k]);

			if (c->n - c->i >= l && memcmp(c->s + c->i, words[k], l) == 0) {
				canon_emit(c, words[k], l);
				c->i += l;
				return 0;
			}
		}
		return -1;
	default:
		return canon_integer(c);
	}
}

int
record_value_canonical(const char *text, size_t len)
{
	struct canon c = {text, len, 0, NULL};

	return canon_value(&c, 0) == 0 && c.i == len;
}

char *
record_render_fields(const struct record_field *f, size_t n, size_t *len)
{
	struct out o = {0};
	size_t i;

	out_add(&o, "{", 1);
	for (i = 0; i < n; i++) {
		struct canon c = {f[i].text, f[i].len, 0, &o};

		if (i > 0 && strcmp(f[i - 1].name, f[i].name) >= 0) {
			free(o.p);
			errno = EINVAL;
			return NULL;
		}
		if (i > 0)
			out_add(&o, ",", 1);
		out_indent(&o, 2, 1);
		out_str(&o, f[i].name, strlen(f[i].name));
		out_add(&o, ": ", 2);
		if (canon_value(&c, 1) || c.i != c.n) {
			free(o.p);
			errno = EINVAL;
			return NULL;
		}
	}
	if (n > 0)
		out_indent(&o, 2, 0);
	out_add(&o, "}\n", 2);
	return out_finish(&o, len);
}

/* Returns 0 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
static int
record_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned int cp, min;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return -1;
		}
		if (len - i <= n)
			return -1;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += n + 1;
	}
	return 0;
}

int
record_name_valid(const char *name, size_t len)
{
	if (len > NAME_MAX_BYTES) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (len == 0 || name[0] == '.' || memchr(name, '/', len) != NULL ||
	    memchr(name, '\0', len) != NULL ||
	    record_utf8_valid((const unsigned char *)name, len) != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
record_file_id(const char *fname, char *id)
{
	size_t n = strlen(fname);

	if (n <= 5 || strcmp(fname + n - 5, ".json") != 0)
		return -1;
	n -= 5;
	if (record_name_valid(fname, n) != 0)
		return -1;
	memcpy(id, fname, n);
	id[n] = '\0';
	return 0;
}
