/*
 * workload: the file operations `make bench` times, run against a directory
 * (the backing filesystem, a FUSE passthrough, or a blazefs collection).
 *   workload DIR N write|stat|read|ls
 * Prints the phase's wall time in seconds.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *path)
{
	perror(path);
	fprintf(stderr, "workload: %s failed\n", what);
	exit(1);
}

int
main(int argc, char **argv)
{
	char path[4096], body[256], buf[4096];
	const char *dir, *phase;
	struct dirent *de;
	struct stat st;
	double t0;
	int i, n, fd, len, seen = 0;
	DIR *d;

	if (argc != 4) {
		fprintf(stderr, "usage: workload DIR N write|stat|read|ls\n");
		return 2;
	}
	dir = argv[1];
	n = atoi(argv[2]);
	phase = argv[3];
	t0 = now();
	for (i = 0; i < n && strcmp(phase, "ls") != 0; i++) {
		snprintf(path, sizeof(path), "%s/r%05d.json", dir, i);
		if (strcmp(phase, "write") == 0) {
			/* ~200 bytes of JSON, one record */
			len =
			    snprintf(body, sizeof(body),
			             "{\"id\": %d, \"title\": \"benchmark record number %05d\", "
			             "\"owner\": \"someone@example.org\", \"tags\": [\"a\", \"b\", "
			             "\"c\"], \"done\": false, \"note\": \"padding to two hundred "
			             "bytes....\"}\n",
			             i, i);
			if ((fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644)) < 0)
				die("open", path);
			if (write(fd, body, (size_t)len) != len)
				die("write", path);
			if (close(fd) != 0)
				die("close", path);
		} else if (strcmp(phase, "stat") == 0) {
			if (stat(path, &st) != 0)
				die("stat", path);
		} else if (strcmp(phase, "read") == 0) {
			if ((fd = open(path, O_RDONLY)) < 0)
				die("open", path);
			if (read(fd, buf, sizeof(buf)) <= 0)
				die("read", path);
			close(fd);
		} else {
			fprintf(stderr, "workload: unknown phase %s\n", phase);
			return 2;
		}
	}
	if (strcmp(phase, "ls") == 0) {
		/* what `ls -l` does: readdir, then lstat each entry */
		if ((d = opendir(dir)) == NULL)
			die("opendir", dir);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (lstat(path, &st) != 0)
				die("lstat", path);
			seen++;
		}
		closedir(d);
		if (seen != n) {
			fprintf(stderr, "workload: listed %d of %d\n", seen, n);
			return 1;
		}
	}
	printf("%.6f\n", now() - t0);
	return 0;
}
