/* The `blazefs` command: dispatches to one subcommand from a flat table. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char *cli_prog = "blazefs";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} commands[] = {
    {"init", cmd_init, "DB [--name NAME] [--priority N]"},
    {"mount", cmd_mount,
     "DB MNT [-f] [-o FUSEOPT] [--listen [ADDR:]PORT | --no-listen] [--peer HOST:PORT]... "
     "[--no-mdns] [--offline] [--log-file PATH]"},
    {"invite", cmd_invite,
     "DB [--ttl SECONDS] [--address HOST:PORT] [--priority N] [--admin] [--long] [--wait]"},
    {"join", cmd_join, "DB CODE [--peer HOST:PORT] [--name NAME]"},
    {"devices", cmd_devices, "DB [remove ID | priority ID N]"},
    {"mode", cmd_mode, "DB|MNT [both | send-only | receive-only]"},
    {"status", cmd_status, "[--json | --watch] DB|MNT"},
    {"log", cmd_history, "DB|MNT [COLLECTION[/ID]] [--json]"},
    {"export", cmd_history, "DB|MNT > dump.jsonl"},
    {"import", cmd_history, "DB|MNT < dump.jsonl"},
    {"conflicts", cmd_history, "DB|MNT [--json]"},
    {"relay", cmd_relay,
     "init DIR | DIR --listen [ADDR:]PORT [-f] [--quota BYTES] | add DB HOST:PORT"},
    {"resolve", cmd_history, "MNT/COLLECTION/ID.json FIELD --keep DEVICE | --value JSON"},
};

static void
usage(FILE *f)
{
	fprintf(f, "Usage: %s COMMAND [ARGS]   (any command takes --version)\n", cli_prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s %s\n", cli_prog, commands[i].name, commands[i].usage);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	/* --version, anywhere: every command answers it the same way. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", cli_prog, BLAZEFS_VERSION);
			return 0;
		}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", cli_prog, argv[1]);
	usage(stderr);
	return 1;
}
