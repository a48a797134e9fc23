// name_lock_dead_holder: a process killed while it held a name's lock (see the shim's
// names.rs) must not hold up the others for ever. The test writes into the lock word of a
// name's stripe in the set's registry the id of a thread that has exited and been waited
// for, of one that is a zombie (killed, its parent not yet waiting: the parent may want
// the name first), and its own (an exec from another thread gives the new image the id of
// the main thread it killed), then creates, renames and removes that name: each must go
// ahead.
// timeout: 60
#include "check.h"
#include <stdint.h>
#include <sys/mman.h>

/* The registry's layout (shadow_core::state::registry): the name locks follow the slots. */
#define SLOTS 16384
#define SLOT_SIZE 64
#define HEADER 64
#define NAME_LOCKS (HEADER + SLOTS * SLOT_SIZE)
#define NAME_STRIPES 4096
#define WAITING 0x80000000u

/* FNV-1a of the name's path relative to the members' roots, as the shim hashes it. */
static unsigned stripe(const char *rel)
{
	uint32_t h = 0x811c9dc5u;
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
		h = (h ^ *p) * 0x01000193u;
	return h % NAME_STRIPES;
}

static volatile uint32_t *words;

static void held_by_the_dead(const char *rel, uint32_t flags)
{
	pid_t dead = CHECK_SYS(fork());
	if (dead == 0)
		_exit(0);
	wait_ok(dead);
	words[stripe(rel)] = (uint32_t)dead | flags;
}

/* A zombie until the caller waits for it. */
static pid_t held_by_a_zombie(const char *rel)
{
	pid_t zombie = CHECK_SYS(fork());
	if (zombie == 0)
		_exit(0);
	char *stat = xasprintf("/proc/%d/stat", (int)zombie);
	for (;;) {
		size_t n;
		char *text = read_whole_file(stat, &n);
		if (strstr(strrchr(text, ')'), " Z "))
			break;
		usleep(1000);
	}
	words[stripe(rel)] = (uint32_t)zombie;
	return zombie;
}

int main(void)
{
	/* The shim made the registry when it started. */
	char *path = xasprintf("%s/state/registry", test_tmp());
	int fd = CHECK_SYS(open(path, O_RDWR));
	size_t len = NAME_LOCKS + NAME_STRIPES * 4;
	char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	words = (volatile uint32_t *)(map + NAME_LOCKS);

	held_by_the_dead("x", 0);
	int f = CHECK_SYS(open(SHADOW "/x", O_WRONLY | O_CREAT, 0644));
	write_all(f, "x\n", 2);
	CHECK_SYS(close(f));
	CHECK_EQ(words[stripe("x")], 0);

	held_by_the_dead("y", WAITING);
	CHECK_SYS(rename(SHADOW "/x", SHADOW "/y"));
	held_by_the_dead("y", 0);
	CHECK_SYS(unlink(SHADOW "/y"));
	held_by_the_dead("d", 0);
	CHECK_SYS(mkdir(SHADOW "/d", 0755));

	pid_t zombie = held_by_a_zombie("z");
	f = CHECK_SYS(open(SHADOW "/z", O_WRONLY | O_CREAT, 0644));
	CHECK_SYS(close(f));
	wait_ok(zombie);
	words[stripe("z")] = (uint32_t)getpid() | WAITING;
	CHECK_SYS(unlink(SHADOW "/z"));
	EXPECT_MISSING(SHADOW "/y");
	return 0;
}
