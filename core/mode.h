/*
 * mode: this device's sync mode (README "Choices", sync modes), a
 * database-local setting (journal meta "sync_mode", never synced):
 *   both          the default: changes go out and come in;
 *   send-only     this device's changes go out; others' are not applied here
 *                 (peers are asked for nothing; what they have is ignored);
 *   receive-only  others' changes are applied; records are read-only through
 *                 the mount (EROFS) and nothing made here is ever sent.
 * A running mount reads it again within a second of a change (blazefs mode).
 */
#ifndef CORE_MODE_H
#define CORE_MODE_H

struct journal;

enum mode { MODE_BOTH = 0, MODE_SEND_ONLY = 1, MODE_RECEIVE_ONLY = 2 };

/* The mode stored in j: MODE_BOTH if none is, or it cannot be read. */
enum mode mode_get(struct journal *j);

/* Stores m in j.  0 or -1 with errno (EINVAL for an unknown mode). */
int mode_set(struct journal *j, enum mode m);

/* "both", "send-only" or "receive-only" ("both" for anything else). */
const char *mode_name(enum mode m);

/* The mode named s, or -1 (EINVAL) for an unknown name. */
int mode_parse(const char *s);

#endif
