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
