/*
 * blazefs devices DB [--json]                 the members: id, name, role,
 *                                             priority, last seen, removed,
 *                                             flagged
 * blazefs devices DB remove ID                removes a member for good and
 *                                             rotates the content key
 * blazefs devices DB priority ID N            sets a member's priority
 * Changing members is an admin's (core/journal.h: trust); the change is
 * sealed and signed like any other and a running mount sends it on within
 * its next tick.  A removed device is refused by every member from then on
 * (its open sessions end within a keepalive interval).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/cli.h"
#include "core/change.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/seal.h"

#define DEVICES_USAGE "Usage: %s devices DB [--json | remove ID | priority ID N]\n"

static int
list(struct journal *j, int as_json)
{
	json_t *a = journal_members_json(j), *m;
	char self[DEVID_LEN + 1], *text;
	size_t i;

	if (a == NULL) {
		fprintf(stderr, "%s devices: %s\n", cli_prog, strerror(errno));
		return 1;
	}
	if (as_json) {
		text = json_dumps(a, JSON_INDENT(2));
		printf("%s\n", text ? text : "[]");
		free(text);
		json_decref(a);
		return 0;
	}
	change_devid(journal_self(j), self);
	printf("%-13s  %-20s  %-6s  %8s  %-16s  %s\n", "DEVICE", "NAME", "ROLE", "PRIORITY",
	       "LAST SEEN", "STATE");
	json_array_foreach (a, i, m) {
		const char *dev = json_string_value(json_object_get(m, "device"));
		time_t seen =
		    (time_t)(json_integer_value(json_object_get(m, "last_seen_ms")) / 1000);
		char when[32] = "never";

		if (strcmp(dev, self) == 0)
			snprintf(when, sizeof(when), "-");
		else if (seen > 0)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime(&seen));
		printf("%-13s  %-20.20s  %-6s  %8lld  %-16s  %s%s%s\n", dev,
		       json_string_value(json_object_get(m, "name")),
		       json_string_value(json_object_get(m, "role")),
		       (long long)json_integer_value(json_object_get(m, "priority")), when,
		       json_is_true(json_object_get(m, "removed")) ? "removed" : "member",
		       json_is_true(json_object_get(m, "equivocated"))
		           ? ", EQUIVOCATED (signed two changes with one id)"
		           : "",
		       strcmp(dev, self) == 0 ? " (this device)" : "");
	}
	json_decref(a);
	return 0;
}

/* Sets field of member dev's record to value (owned), sealed and signed. */
static int
change_member(struct journal *j, const char *db, const char *dev, const char *field, json_t *value)
{
	struct journal_crypto jc, none = {NULL, NULL, NULL};
	struct journal_member m;
	uint64_t origin;
	const char *why = NULL;
	char *buf = NULL, *text = NULL;
	struct seal *s = NULL;
	json_t *rec = NULL;
	size_t len;
	int rc = 1;

	if (change_devid_parse(dev, &origin) || journal_member(j, origin, &m)) {
		fprintf(stderr, "%s devices: %s is not a member of %s\n", cli_prog, dev, db);
		goto out;
	}
	if (origin == journal_self(j) && strcmp(field, "removed") == 0) {
		fprintf(
		    stderr,
		    "%s devices: a device does not remove itself: remove it from another admin\n",
		    cli_prog);
		goto out;
	}
	if (journal_read_record(j, ".devices", dev, &buf, &len) ||
	    (rec = json_loadb(buf, len, 0, NULL)) == NULL) {
		fprintf(stderr, "%s devices: %s: cannot read its record\n", cli_prog, dev);
		goto out;
	}
	json_object_set(rec, field, value);
	if ((text = json_dumps(rec, JSON_SORT_KEYS)) == NULL || (s = seal_load(db)) == NULL) {
		fprintf(stderr, "%s devices: %s: %s\n", cli_prog, db, strerror(errno));
		goto out;
	}
	seal_hooks(s, &jc);
	journal_set_crypto(j, &jc);
	/* A removal also rotates the content key: the removed device gets no
	 * box of the new one, so it cannot read what is written from now on. */
	if (journal_write_device(j, dev, text, &why) ||
	    (strcmp(field, "removed") == 0 && seal_rotate(s, j, db)) || journal_sync(j))
		fprintf(stderr, "%s devices: %s\n", cli_prog, why ? why : strerror(errno));
	else
		rc = 0;
	journal_set_crypto(j, &none);
out:
	seal_free(s);
	json_decref(rec);
	json_decref(value);
	free(buf);
	free(text);
	return rc;
}

int
cmd_devices(int argc, char **argv)
{
	struct journal *j;
	long long prio;
	char *end;
	int rc = 1;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
		        DEVICES_USAGE, cli_prog);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	if (sodium_init() < 0)
		return 1;
	if ((j = journal_open(argv[1], 0)) == NULL) {
		fprintf(stderr, "%s devices: %s: no blazefs database there (%s)\n", cli_prog,
		        argv[1], strerror(errno));
		return 1;
	}
	if (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0)) {
		rc = list(j, argc == 3);
	} else if (argc == 4 && strcmp(argv[2], "remove") == 0) {
		rc = change_member(j, argv[1], argv[3], "removed", json_true());
		if (rc == 0)
			printf("%s removed: every member refuses it from now on, and a new "
			       "content key it does not have seals what is written next\n",
			       argv[3]);
	} else if (argc == 5 && strcmp(argv[2], "priority") == 0) {
		prio = strtoll(argv[4], &end, 10);
		if (*argv[4] == '\0' || *end != '\0' || prio < -IDENTITY_PRIORITY_MAX ||
		    prio > IDENTITY_PRIORITY_MAX)
			fprintf(stderr, "%s devices: a priority is an integer from %d to %d\n",
			        cli_prog, -IDENTITY_PRIORITY_MAX, IDENTITY_PRIORITY_MAX);
		else
			rc = change_member(j, argv[1], argv[3], "priority", json_integer(prio));
	} else {
		fprintf(stderr, DEVICES_USAGE, cli_prog);
	}
	journal_close(j);
	return rc;
}
