/*
 * blazefs mount DB MNT [-f] [-o FUSEOPT]: serves the database over FUSE.
 * In the background, the command returns only once the mount serves and the
 * network has started, or exits non-zero with the reason on stderr: the
 * daemon's log lines go to the waiting parent through a pipe until it is
 * ready (then a NUL byte says so and the pipe closes).  The journal is opened
 * after the fork, because LMDB must not cross one.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <mntent.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	"       [--peer HOST:PORT]... [--no-mdns] [--offline] [--log-file PATH]\n"                 \
	"       (default: listen on port 7717; --offline: no listening, dialling or mDNS)\n"

/* The write end of the pipe to the waiting parent, until the mount is
 * ready (-1 in the foreground and after); the --log-file (-1: none). */
static int ready_fd = -1, log_fd = -1;

/* Tells the waiting parent that the mount serves: it exits 0.  The log goes
 * to syslog and the --log-file, if any, from now on. */
static void
ready(void)
{
	int null;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, "", 1) != 1) {
		/* the parent is gone: nobody to tell */
	}
	closelog();
	openlog("blazefs", LOG_PID | (log_fd >= 0 ? LOG_PERROR : 0), LOG_DAEMON);
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(log_fd >= 0 ? log_fd : null, STDERR_FILENO);
		close(null);
	}
	close(ready_fd);
	ready_fd = -1;
}

/*
 * Forks: the child returns 0 and goes on in a new session, its stderr (and
 * so the log) to the parent.  The parent exits 0, silently, once the child
 * is ready; if the pipe closes first, it prints what the child logged (the
 * reason) and exits with the child's status (1 if it is gone).
 */
static int
background(void)
{
	char buf[16384], *nul;
	size_t have = 0;
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		close(fds[0]);
		ready_fd = fds[1];
		dup2(ready_fd, STDERR_FILENO);
		if (setsid() < 0 || chdir("/"))
			return -1;
		return 0;
	}
	close(fds[1]);
	/* What does not fit is the end of a long log: the first lines say why. */
	while ((n = read(fds[0], buf + have, sizeof(buf) - have)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		if ((nul = memchr(buf + have, '\0', (size_t)n)) != NULL) {
			/* Ready: what it logged so far belongs in the log file. */
			if (log_fd >= 0 && write(log_fd, buf, (size_t)(nul - buf)) < 0) {
				/* the daemon logs on, there or not: it serves */
			}
			_exit(0);
		}
		have += (size_t)n;
		if (have == sizeof(buf)) {
			fwrite(buf, 1, have, stderr);
			have = 0;
		}
	}
	fwrite(buf, 1, have, stderr);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		_exit(WEXITSTATUS(status));
	_exit(1);
}

/* 1 if directory mnt has entries besides . and .., else 0. */
static int
nonempty(const char *mnt)
{
	struct dirent *e;
	DIR *d;
	int any = 0;

	if ((d = opendir(mnt)) == NULL)
		return 0;
	while (!any && (e = readdir(d)) != NULL)
		any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return any;
}

/* Takes "nonempty" out of the -o list opts, in place (libfuse 3 has no
 * such option): 1 if it was there. */
static int
take_nonempty(char *opts)
{
	char *in, *out = opts, *tok, *save = NULL;
	int found = 0;

	if (opts == NULL || (in = strdup(opts)) == NULL)
		return 0;
	for (tok = strtok_r(in, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "nonempty") == 0) {
			found = 1;
			continue;
		}
		out += sprintf(out, "%s%s", out == opts ? "" : ",", tok);
	}
	*out = '\0';
	free(in);
	return found;
}

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

/* Where DB is mounted other than at MNT (our own mount, made already), in
 * WHERE; 0 if nowhere. */
static int
mounted_elsewhere(const char *db, const char *mnt, char *where, size_t size)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && (m = getmntent(f)) != NULL)
		if (strncmp(m->mnt_fsname, "blazefs:", 8) == 0 &&
		    strcmp(m->mnt_fsname + 8, db) == 0 && strcmp(m->mnt_dir, mnt) != 0) {
			snprintf(where, size, "%s", m->mnt_dir);
			found = 1;
		}
	endmntent(f);
	return found;
}

/* Opens DB for the mount at MNT.  A database held by a mount that is no
 * longer in the mount table is one shutting down (umount returns before its
 * daemon has closed the journal): `umount; mount` waits for it, up to
 * UNMOUNT_WAIT_MS, rather than failing. */
#define UNMOUNT_WAIT_MS 5000
static struct journal *
open_for_mount(const char *db, const char *mnt)
{
	char where[PATH_MAX] = "";
	struct journal *j;

	for (int waited = 0;; waited += 20) {
		if ((j = journal_open(db, JOURNAL_BATCH)) != NULL || errno != EBUSY)
			break;
		if (waited >= UNMOUNT_WAIT_MS || mounted_elsewhere(db, mnt, where, sizeof(where)))
			break;
		usleep(20 * 1000);
	}
	if (j == NULL && errno == EBUSY)
		fs_log("%s: cannot open the database: it is mounted already%s%s", db,
		       where[0] ? " at " : " (its daemon has not exited)", where);
	else if (j == NULL)
		fs_log("%s: cannot open the database: %s", db, strerror(errno));
	return j;
}

/* Serves the mounted session at MNT until unmounted or signalled. */
static int
serve(struct fuse_session *se, struct fs *fs, const char *db, const char *mnt,
      struct net_config *net)
{
	struct journal *j;
	struct net *n;
	int rc = 1;

	if ((j = open_for_mount(db, mnt)) == NULL)
		return 1;
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
	if (journal_recover(j)) {
		fs_log("%s: cannot apply the writes left by a crash: %s", db, strerror(errno));
	} else {
		ready();
		if (fs_loop(se, j) == 0)
			rc = 0;
	}
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
	char db[PATH_MAX], mntbuf[PATH_MAX], *opts = NULL, *base = NULL;
	const char *mnt;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	struct journal *j;
	struct fs *fs = NULL;
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'L'},   {"no-listen", no_argument, NULL, 'N'},
	    {"peer", required_argument, NULL, 'p'},     {"no-mdns", no_argument, NULL, 'M'},
	    {"log-file", required_argument, NULL, 'l'}, {"offline", no_argument, NULL, 'O'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
	struct net_config net = {0};
	const char **peers = NULL;
	char *laddr = NULL;
	int c, foreground = 0, offline = 0, rc = 1;

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
		case 'O':
			/* Airplane mode: no listening, no dialling, no mDNS. */
			net.listen_port = -1;
			net.no_mdns = 1;
			net.no_remembered = 1;
			offline = 1;
			break;
		case 'l':
			if (log_fd >= 0)
				close(log_fd);
			if ((log_fd = open(optarg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			                   0600)) < 0) {
				fprintf(stderr, "%s mount: --log-file %s: %s\n", cli_prog, optarg,
				        strerror(errno));
				goto out;
			}
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
	if (optind != argc - 2 || (offline && net.npeers > 0)) {
		fprintf(stderr, USAGE, cli_prog);
		goto out;
	}
	/* Absolute: the daemon leaves the working directory, and must still
	 * find its mountpoint to unmount it if it fails. */
	if (realpath(argv[optind + 1], mntbuf) == NULL) {
		if (check_mountpoint(argv[optind + 1]) == 0) /* says why, if it can */
			fprintf(stderr, "%s mount: %s: %s\n", cli_prog, argv[optind + 1],
			        strerror(errno));
		goto out;
	}
	mnt = mntbuf;
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
	/* Files there would be hidden while mounted, as if gone. */
	if (!take_nonempty(opts) && nonempty(mnt)) {
		fprintf(stderr,
		        "%s mount: %s is not empty (its files would be hidden): use an empty "
		        "directory, or -o nonempty\n",
		        cli_prog, mnt);
		goto out;
	}
	if (opts != NULL && opts[0] == '\0') {
		free(opts);
		opts = NULL;
	}
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
	if (!foreground && background()) {
		fprintf(stderr, "%s mount: cannot go to the background: %s\n", cli_prog,
		        strerror(errno));
		goto out_unmount;
	}
	/* The log reaches the waiting parent (or with -f the terminal, or the
	 * --log-file). */
	if (foreground && log_fd >= 0)
		dup2(log_fd, STDERR_FILENO);
	closelog();
	openlog("blazefs", LOG_PID | LOG_PERROR, LOG_DAEMON);
	rc = serve(se, fs, db, mnt, &net);
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
