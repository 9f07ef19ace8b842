/*
 * cli: the `blazefs` command — one file per subcommand, each exporting
 * cmd_<name>(argc, argv) with argv[0] the subcommand's name.  A subcommand
 * returns the process exit status and prints its own errors.
 */
#ifndef BLAZEFS_CLI_H
#define BLAZEFS_CLI_H

extern const char *cli_prog; /* argv[0] of the process, for messages */

/* The database behind mountpoint mnt (malloc'd), or NULL if mnt is not a
 * blazefs mount (cli/status.c). */
char *cli_db_of_mount(const char *mnt);

#define BLAZEFS_VERSION "0.3.0" /* this release: signed changes, protocol with XXpsk0 */

int cmd_init(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_invite(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_devices(int argc, char **argv);
/* Shows or sets the sync mode (cli/mode.c). */
int cmd_mode(int argc, char **argv);
/* log, export, import, conflicts, resolve (cli/history.c), by argv[0]. */
int cmd_history(int argc, char **argv);
/* relay init, relay DIR --listen, relay add (cli/relay.c). */
int cmd_relay(int argc, char **argv);

#endif
