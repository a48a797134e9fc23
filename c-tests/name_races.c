// name_races: processes removing names while others create them again, by open(O_CREAT),
// open(O_CREAT|O_EXCL) and rename onto them, opening files others are replacing, with no
// locking of their own. Natively each name ends as one of them left it; both members must
// end the same way (before, a removal that reached the follower after another's creation
// there took the new file away on the follower only, and an open could find the old file
// on the lead and the new one on the follower). Each round also sets a name's times and
// removes one by remove(3), which looks at the entry before it removes it. Members
// compared by run.sh.
// timeout: 180
#include "check.h"
#include <sched.h>
#include <utime.h>

#define WORKERS 3
#define ROUNDS 1000

static pthread_barrier_t *together;

static void make(const char *name, const char *tag)
{
	int fd = CHECK_SYS(open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_all(fd, tag, strlen(tag));
	CHECK_SYS(close(fd));
}

static void gone(const char *name)
{
	while (access(name, F_OK) == 0)
		sched_yield();
	CHECK(errno == ENOENT);
}

/* Round i: one worker removes names the round's creator made before it began, while the
 * creator makes them again as soon as they are gone (from the lead: the remover's removal
 * may still be on its way to the follower), by O_CREAT, by an O_EXCL loop, and by a rename
 * onto the name. Each round has names of its own, so a divergence in any round stays to be
 * seen. */
static void remover_and_creator(int id)
{
	char tag[32], tmp[32], x[32], y[32], z[32];
	snprintf(tag, sizeof tag, "worker %d\n", id);
	snprintf(tmp, sizeof tmp, "tmp-%d", id);
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(x, sizeof x, "x-%d", i);
		snprintf(y, sizeof y, "y-%d", i);
		snprintf(z, sizeof z, "z-%d", i);
		int creator = i % WORKERS == id, remover = (i + 1) % WORKERS == id;
		if (creator) {
			make(x, "old\n");
			make(y, "old\n");
			make(z, "old\n");
			make(tmp, tag);
		}
		pthread_barrier_wait(together);
		if (remover) {
			CHECK_SYS(unlink(x));
			CHECK_SYS(unlink(y));
			CHECK_SYS(unlink(z));
		} else if (creator) {
			gone(x);
			make(x, tag);
			gone(y);
			CHECK_SYS(rename(tmp, y));
			int fd;
			while ((fd = open(z, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0)
				CHECK(errno == EEXIST);
			write_all(fd, tag, strlen(tag));
			CHECK_SYS(close(fd));
		}
	}
}

/* Round i: every worker removes and creates the same name, opens it (finding another's
 * file, or one about to be removed) and writes its own bytes of it, and renames its own
 * file onto a second name the others also rename onto. Natively each name ends with one
 * worker's file; the members must end with the same one. (Two writers of the same bytes of
 * one file are not ordered across processes: README.) */
static void all_at_one_name(int id)
{
	char tag[16], tmp[32], x[32], y[32];
	memset(tag, ' ', sizeof tag);
	snprintf(tag, sizeof tag - 1, "worker %d", id);
	tag[sizeof tag - 1] = '\n';
	snprintf(tmp, sizeof tmp, "tmp-%d", id);
	for (int i = 0; i < ROUNDS; i++) {
		snprintf(x, sizeof x, "all-x-%d", i);
		snprintf(y, sizeof y, "all-y-%d", i);
		make(tmp, tag);
		pthread_barrier_wait(together);
		if (unlink(x) < 0)
			CHECK(errno == ENOENT);
		int fd = CHECK_SYS(open(x, O_WRONLY | O_CREAT, 0644));
		CHECK_EQ(pwrite(fd, tag, sizeof tag, id * (off_t)sizeof tag), (ssize_t)sizeof tag);
		CHECK_SYS(close(fd));
		/* The lead's times of whichever file x is, copied to the follower's x. */
		if (utime(x, NULL) < 0)
			CHECK(errno == ENOENT);
		CHECK_SYS(rename(tmp, y));
		/* remove(3) looks whether y is a directory first. */
		if (id == 0 && remove(y) < 0)
			CHECK(errno == ENOENT);
	}
}

static void worker(int id)
{
	remover_and_creator(id);
	all_at_one_name(id);
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/d", 0755));
	CHECK_SYS(chdir(SHADOW "/d"));
	run_workers(WORKERS, worker, &together);
	return 0;
}
