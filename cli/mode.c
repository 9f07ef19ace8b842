/*
 * `blazefs mode DB|MNT [both|send-only|receive-only]`: shows or sets this
 * device's sync mode (core/mode.h), a setting of this database copy alone.
 * A running mount picks a new mode up within a second, and restarts its
 * sessions so that peers send again from what this device really has.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "core/journal.h"
#include "core/mode.h"

#define MODE_USAGE                                                                                 \
	"Usage: %s mode DB|MNT [both | send-only | receive-only]\n"                                \
	"  both          changes go out and come in (the default)\n"                               \
	"  send-only     this device's changes go out; others' are not applied here\n"             \
	"  receive-only  others' changes come in; the mount is read-only (EROFS) and\n"            \
	"                nothing made here is sent\n"

int
cmd_mode(int argc, char **argv)
{
	struct journal *j;
	char *db;
	int m = 0, rc = 1;

	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		int help = argc == 2 && strcmp(argv[1], "--help") == 0;

		fprintf(help ? stdout : stderr, MODE_USAGE, cli_prog);
		return help ? 0 : 1;
	}
	if (argc == 3 && (m = mode_parse(argv[2])) < 0) {
		fprintf(stderr, "%s mode: unknown mode '%s'\n" MODE_USAGE, cli_prog, argv[2],
		        cli_prog);
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	/* A mountpoint stands for the database mounted there. */
	if ((db = cli_db_of_mount(argv[1])) == NULL && (db = strdup(argv[1])) == NULL)
		return 1;
	if ((j = journal_open(db, 0)) == NULL) {
		fprintf(stderr, "%s mode: %s: no blazefs database there (%s)\n", cli_prog, db,
		        strerror(errno));
		free(db);
		return 1;
	}
	if (argc == 2) {
		printf("%s\n", mode_name(mode_get(j)));
		rc = 0;
	} else if (mode_set(j, (enum mode)m)) {
		fprintf(stderr, "%s mode: %s: cannot store the mode: %s\n", cli_prog, db,
		        strerror(errno));
	} else {
		printf("%s: mode %s\n", db, mode_name((enum mode)m));
		rc = 0;
	}
	journal_close(j);
	free(db);
	return rc;
}
