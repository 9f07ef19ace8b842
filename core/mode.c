/* mode: this device's sync mode, a local setting; see mode.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/journal.h"
#include "core/mode.h"

#define MODE_KEY "sync_mode"

static const char *const mode_names[] = {"both", "send-only", "receive-only"};

enum mode
mode_get(struct journal *j)
{
	void *val = NULL;
	size_t len = 0;
	enum mode m = MODE_BOTH;

	if (journal_meta_get(j, MODE_KEY, &val, &len) == 0 && len == 1 &&
	    ((const unsigned char *)val)[0] <= MODE_RECEIVE_ONLY)
		m = (enum mode)((const unsigned char *)val)[0];
	free(val);
	return m;
}

int
mode_set(struct journal *j, enum mode m)
{
	unsigned char b = (unsigned char)m;

	if ((unsigned)m > MODE_RECEIVE_ONLY) {
		errno = EINVAL;
		return -1;
	}
	return journal_meta_put(j, MODE_KEY, &b, 1);
}

const char *
mode_name(enum mode m)
{
	return (unsigned)m <= MODE_RECEIVE_ONLY ? mode_names[m] : mode_names[0];
}

int
mode_parse(const char *s)
{
	for (int i = 0; i <= MODE_RECEIVE_ONLY; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return i;
	errno = EINVAL;
	return -1;
}
