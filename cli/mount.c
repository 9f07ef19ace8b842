/*
 * blazefs mount DB MNT [-f] [-o FUSEOPT]: serves the database over FUSE.
 * Everything that can fail for a user reason is checked before the process
 * daemonizes, so the exit status says whether the mount worked; the journal is
 * opened after fuse_daemonize() because LMDB must not cross a fork.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "fs/fs.h"
#include "fs/loop.h"
#include "net/net.h"

#define USAGE                                                                                      \
	"Usage: %s mount DB MNT [-f] [-o FUSEOPT] [--listen [ADDR:]PORT | --no-listen]\n"          \
	"       [--peer HOST:PORT]... [--no-mdns]   (default: listen on port 7717)\n"

/* Checks that mnt is a directory nothing is mounted on.  Returns 0 or -1. */
static int
check_mountpoint(const char *mnt)
{
	struct stat st, up;
	char parent[PATH_MAX];

	if (stat(mnt, &st)) {
		if (errno == ENOENT)
			fprintf(stderr, "%s mount: mountpoint %s does not exist\n", cli_prog, mnt);
		else if (errno == ENOTCONN)
			fprintf(stderr, "%s mount: %s is a dead mount: run fusermount3 -u %s\n",
			        cli_prog, mnt, mnt);
		else
			fprintf(stderr, "%s mount: %s: %s\n", cli_prog, mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s mount: mountpoint %s is not a directory\n", cli_prog, mnt);
		return -1;
	}
	if ((size_t)snprintf(parent, sizeof(parent), "%s/..", mnt) < sizeof(parent) &&
	    stat(parent, &up) == 0 && (up.st_dev != st.st_dev || up.st_ino == st.st_ino)) {
		fprintf(stderr, "%s mount: %s is busy: something is already mounted there\n",
		        cli_prog, mnt);
		return -1;
	}
	return 0;
}

/* "fsname=blazefs:DB,subtype=blazefs,default_permissions" with DB's commas
 * and backslashes escaped for the option parser. */
static char *
base_options(const char *db)
{
	static const char head[] = "fsname=blazefs:",
	                  tail[] = ",subtype=blazefs,default_permissions";
	char *s, *p;

	if ((s = malloc(sizeof(head) + 2 * strlen(db) + sizeof(tail))) == NULL)
		return NULL;
	p = stpcpy(s, head);
	for (; *db; db++) {
		if (*db == ',' || *db == '\\')
			*p++ = '\\';
		*p++ = *db;
	}
	strcpy(p, tail);
	return s;
}

/* The network's status for .blazefs/peers and .blazefs/status (ctx is the
 * struct net).  A new reference, or NULL. */
static json_t *
net_status_of(void *ctx)
{
	return net_status(ctx);
}

/* Says once, at mount, what the journal's clock found at open: a saved
 * clock beyond the bound (not carried forward), an offset kept from a
 * measure against the peers. */
static void
log_clock(struct journal *j, const char *db)
{
	json_t *c = journal_clock_json(j);
	long long d, off;

	if (c == NULL)
		return;
	d = (long long)json_integer_value(json_object_get(c, "saved_clock_dropped_ms"));
	off = (long long)json_integer_value(json_object_get(c, "offset_ms"));
	if (d != 0)
		fs_log("%s: the saved clock was %lld s ahead of the wall clock (more than the %d s "
		       "bound): not carried forward",
		       db, d / 1000, HLC_MAX_DRIFT_MS / 1000);
	if (off != 0)
		fs_log("%s: this device's clock was %lld s ahead of its peers': changes are "
		       "stamped that far back until they say otherwise",
		       db, off / 1000);
	json_decref(c);
}

/* Serves the mounted session until unmounted or signalled. */
static int
serve(struct fuse_session *se, struct fs *fs, const char *db, struct net_config *net)
{
	struct journal *j;
	struct net *n;
	int rc = 1;

	if ((j = journal_open(db, JOURNAL_BATCH)) == NULL) {
		fs_log("%s: cannot open the database: %s", db,
		       errno == EBUSY ? "it is mounted already" : strerror(errno));
		return 1;
	}
	log_clock(j, db);
	/* fs observes remote changes: attached before the network thread that
	 * makes them starts. */
	if (fs_attach(fs, j, se)) {
		fs_log("%s: cannot open the scratch directory: %s", db, strerror(errno));
		goto err0;
	}
	/* The network installs the seal hooks: before any local write. */
	net->db = db;
	if ((n = net_start(j, net)) == NULL) /* net_start logged why */
		goto err0;
	fs_set_status_source(fs, net_status_of, n);
	/* Writes a crash left in the wal, sealed now that the hooks are in. */
	if (journal_recover(j))
		fs_log("%s: cannot apply the writes left by a crash: %s", db, strerror(errno));
	else if (fs_loop(se, j) == 0)
		rc = 0;
	fs_set_status_source(fs, NULL, NULL);
	net_stop(n);
	journal_set_observer(j, NULL, NULL);
	if (journal_sync(j))
		fs_log("%s: final sync failed: %s", db, strerror(errno));
	journal_close(j);
	return rc;

err0:
	journal_set_observer(j, NULL, NULL);
	journal_close(j);
	return 1;
}

int
cmd_mount(int argc, char **argv)
{
	char db[PATH_MAX], *opts = NULL, *base = NULL;
	const char *mnt;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct journal *j;
	struct fs *fs = NULL;
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'L'}, {"no-listen", no_argument, NULL, 'N'},
	    {"peer", required_argument, NULL, 'p'},   {"no-mdns", no_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	struct net_config net = {0};
	const char **peers = NULL;
	char *laddr = NULL;
	int c, foreground = 0, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fo:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			free(laddr);
			if (net_parse_listen(optarg, &laddr, &net.listen_port)) {
				fprintf(stderr, "%s mount: --listen %s: want [ADDR:]PORT\n",
				        cli_prog, optarg);
				goto out;
			}
			net.listen_addr = laddr;
			break;
		case 'N':
			net.listen_port = -1;
			break;
		case 'p': {
			const char **more = realloc(peers, (net.npeers + 1) * sizeof(*peers));

			if (more == NULL) {
				perror(cli_prog);
				goto out;
			}
			peers = more;
			peers[net.npeers++] = optarg;
			net.peers = peers;
			break;
		}
		case 'M':
			net.no_mdns = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'o': {
			char *more;

			if (asprintf(&more, "%s%s%s", opts ? opts : "", opts ? "," : "", optarg) <
			    0) {
				perror(cli_prog);
				goto out;
			}
			free(opts);
			opts = more;
			break;
		}
		case 'h':
			printf(USAGE, cli_prog);
			rc = 0;
			goto out;
		default:
			fprintf(stderr, USAGE, cli_prog);
			goto out;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, USAGE, cli_prog);
		goto out;
	}
	mnt = argv[optind + 1];
	if (realpath(argv[optind], db) == NULL || (j = journal_open(db, JOURNAL_RDONLY)) == NULL) {
		fprintf(stderr,
		        "%s mount: %s: no blazefs database there (%s); create one with "
		        "'%s init %s'\n",
		        cli_prog, argv[optind], strerror(errno), cli_prog, argv[optind]);
		goto out;
	}
	journal_close(j);
	if (check_mountpoint(mnt))
		goto out;
	if (access("/dev/fuse", R_OK | W_OK)) {
		fprintf(stderr, "%s mount: cannot use /dev/fuse (%s): is the fuse module loaded?\n",
		        cli_prog, strerror(errno));
		goto out;
	}
	if ((base = base_options(db)) == NULL || fuse_opt_add_arg(&args, cli_prog) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, base) ||
	    (opts && (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, opts))) ||
	    (fs = fs_new(db)) == NULL) {
		perror(cli_prog);
		goto out;
	}
	openlog("blazefs", LOG_PID | (foreground ? LOG_PERROR : 0), LOG_DAEMON);
	if ((se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs)) == NULL)
		goto out;
	if (fuse_set_signal_handlers(se))
		goto out;
	if (fuse_session_mount(se, mnt)) {
		fprintf(stderr, "%s mount: cannot mount on %s\n", cli_prog, mnt);
		goto out_signals;
	}
	if (fuse_daemonize(foreground)) {
		fs_log("cannot daemonize");
		goto out_unmount;
	}
	rc = serve(se, fs, db, &net);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fs_free(fs);
	fuse_opt_free_args(&args);
	free(base);
	free(opts);
	free(peers);
	free(laddr);
	return rc;
}
