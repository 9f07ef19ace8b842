/* node: the inode table, two tsearch trees over the same nodes. */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "fs/node.h"

static int
cmp_ino(const void *a, const void *b)
{
	const struct fs_node *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int
cmp_name(const void *a, const void *b)
{
	const struct fs_node *x = a, *y = b;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
node_free(void *p)
{
	struct fs_node *n = p;

	free(n->name);
	free(n->buf);
	free(n->base);
	free(n);
}

static void
noop(void *p)
{
	(void)p;
}

int
fs_node_init(struct fs_table *t)
{
	struct fs_node *root;

	memset(t, 0, sizeof(*t));
	if (pthread_mutex_init(&t->lock, NULL))
		return -1;
	if ((root = calloc(1, sizeof(*root))) == NULL)
		return -1;
	root->ino = FUSE_ROOT_ID;
	root->kind = FS_ROOT;
	root->nlookup = 1; /* the kernel never forgets the root */
	if ((root->name = strdup("")) == NULL || tsearch(root, &t->by_ino, cmp_ino) == NULL) {
		node_free(root);
		return -1;
	}
	t->next_ino = FUSE_ROOT_ID + 1;
	return 0;
}

void
fs_node_fini(struct fs_table *t)
{
	tdestroy(t->by_name, noop);
	tdestroy(t->by_ino, node_free);
	t->by_name = t->by_ino = NULL;
	pthread_mutex_destroy(&t->lock);
}

static struct fs_node *
get_locked(struct fs_table *t, fuse_ino_t ino)
{
	struct fs_node key = {.ino = ino};
	void **p = tfind(&key, &t->by_ino, cmp_ino);

	return p ? *p : NULL;
}

static struct fs_node *
find_locked(struct fs_table *t, fuse_ino_t parent, const char *name)
{
	struct fs_node key = {.parent = parent, .name = (char *)name};
	void **p = tfind(&key, &t->by_name, cmp_name);

	return p ? *p : NULL;
}

struct fs_node *
fs_node_get(struct fs_table *t, fuse_ino_t ino)
{
	struct fs_node *n;

	pthread_mutex_lock(&t->lock);
	n = get_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct fs_node *
fs_node_find(struct fs_table *t, fuse_ino_t parent, const char *name)
{
	struct fs_node *n;

	pthread_mutex_lock(&t->lock);
	n = find_locked(t, parent, name);
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void
unname_locked(struct fs_table *t, struct fs_node *n)
{
	if (n->indexed) {
		tdelete(n, &t->by_name, cmp_name);
		n->indexed = 0;
	}
}

static void
maybe_free_locked(struct fs_table *t, struct fs_node *n)
{
	if (n->nlookup > 0 || n->nopen > 0 || n->ino == FUSE_ROOT_ID)
		return;
	unname_locked(t, n);
	tdelete(n, &t->by_ino, cmp_ino);
	node_free(n);
}

struct fs_node *
fs_node_lookup(struct fs_table *t, fuse_ino_t parent, const char *name, enum fs_kind kind)
{
	struct fs_node *n;

	pthread_mutex_lock(&t->lock);
	if ((n = find_locked(t, parent, name)) != NULL) {
		n->kind = kind;
		n->nlookup++;
		goto done;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto done;
	n->kind = kind;
	n->parent = parent;
	n->nlookup = 1;
	n->ino = t->next_ino++;
	if ((n->name = strdup(name)) == NULL || tsearch(n, &t->by_ino, cmp_ino) == NULL) {
		node_free(n);
		n = NULL;
		goto done;
	}
	if (tsearch(n, &t->by_name, cmp_name) == NULL) {
		tdelete(n, &t->by_ino, cmp_ino);
		node_free(n);
		n = NULL;
		goto done;
	}
	n->indexed = 1;
done:
	pthread_mutex_unlock(&t->lock);
	return n;
}

void
fs_node_unname(struct fs_table *t, struct fs_node *n)
{
	pthread_mutex_lock(&t->lock);
	unname_locked(t, n);
	pthread_mutex_unlock(&t->lock);
}

int
fs_node_rename(struct fs_table *t, struct fs_node *n, fuse_ino_t parent, const char *name)
{
	struct fs_node *old;
	char *copy;
	int rc = -1;

	if ((copy = strdup(name)) == NULL)
		return -1;
	pthread_mutex_lock(&t->lock);
	if ((old = find_locked(t, parent, name)) != NULL && old != n)
		unname_locked(t, old);
	unname_locked(t, n);
	free(n->name);
	n->name = copy;
	n->parent = parent;
	if (tsearch(n, &t->by_name, cmp_name) != NULL) {
		n->indexed = 1;
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void
fs_node_forget(struct fs_table *t, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_node *n;

	pthread_mutex_lock(&t->lock);
	if ((n = get_locked(t, ino)) != NULL) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		maybe_free_locked(t, n);
	}
	pthread_mutex_unlock(&t->lock);
}

fuse_ino_t
fs_node_stale(struct fs_table *t, fuse_ino_t parent, const char *name)
{
	struct fs_node *n;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&t->lock);
	if ((n = find_locked(t, parent, name)) != NULL) {
		n->cached_version = 0;
		ino = n->ino;
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void
fs_node_touch(struct fs_table *t, fuse_ino_t ino)
{
	struct fs_node *n;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&t->lock);
	if ((n = get_locked(t, ino)) != NULL)
		n->dtime = now;
	pthread_mutex_unlock(&t->lock);
}

void
fs_node_release(struct fs_table *t, struct fs_node *n)
{
	pthread_mutex_lock(&t->lock);
	maybe_free_locked(t, n);
	pthread_mutex_unlock(&t->lock);
}
