/*
 * record: a record is one JSON object; its top-level keys are fields.  This
 * module parses what a user wrote (strictly), renders records canonically and
 * validates names.  Pure functions over bytes; jansson values are owned by the
 * caller (json_decref).
 */
#ifndef BLAZEFS_RECORD_H
#define BLAZEFS_RECORD_H

#include <stddef.h>
#include <jansson.h>

#define RECORD_MAX_BYTES (1024 * 1024) /* the largest record file accepted */
#define RECORD_MAX_DEPTH 64            /* nesting of arrays and objects */
#define NAME_MAX_BYTES 200             /* collection and record names */

/*
 * Parses buf as a record: a JSON object, valid UTF-8, no duplicate keys, no
 * nesting deeper than RECORD_MAX_DEPTH, integers within int64, at most
 * RECORD_MAX_BYTES.  Returns the object, or NULL with errno = EINVAL (EFBIG for
 * size) and *why set to a static or thread-local message.
 */
json_t *record_parse(const char *buf, size_t len, const char **why);

/*
 * Renders obj canonically: 2-space indent, keys sorted by bytes, UTF-8,
 * trailing newline.  Returns a malloc'd NUL-terminated string (length in *len)
 * or NULL with errno.
 */
char *record_render(const json_t *obj, size_t *len);

/* The canonical compact text of one JSON value (malloc'd), or NULL. */
char *record_value_text(const json_t *v);

/* Parses a canonical value text (any JSON value); NULL if it is not JSON. */
json_t *record_value_parse(const char *text, size_t len);

/*
 * 1 if text is exactly what record_value_text renders of the value it parses
 * to, told without parsing: such a text always parses.  Texts with a real
 * number, an escaped object key or nesting deeper than RECORD_MAX_DEPTH are
 * never told canonical here (0: parse them to know).
 */
int record_value_canonical(const char *text, size_t len);

/* A field of a record: its name and the text of its value. */
struct record_field {
	const char *name, *text;
	size_t len; /* of text */
};

/*
 * record_render of the object of the n fields f (sorted by name, strcmp, no
 * repeats), without building it: NULL with errno EINVAL if they are not
 * sorted or a text is not canonical (record_value_canonical: render the
 * parsed object then), ENOMEM.
 */
char *record_render_fields(const struct record_field *f, size_t n, size_t *len);

/*
 * Returns 0 if name (len bytes) is a valid collection or record name: valid
 * UTF-8, 1..NAME_MAX_BYTES bytes, no '/', no NUL, not starting with '.'.
 * Otherwise -1 with errno ENAMETOOLONG or EINVAL.
 */
int record_name_valid(const char *name, size_t len);

/*
 * If fname is "<id>.json" with a valid id, copies the id into id (which has
 * room for NAME_MAX_BYTES + 1) and returns 0; otherwise -1 (a scratch name).
 */
int record_file_id(const char *fname, char *id);

#endif
