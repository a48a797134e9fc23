// locks_mirrored: a lock the program takes on a shadowed file (fcntl F_SETLK and F_SETLKW,
// F_OFD_SETLK, flock, lockf) is held on the follower's file too, so that the member that
// becomes the lead when the lead goes already holds it; let go of, it is let go of there
// too, and a close of one of two fds of an open drops the POSIX ones on both, as the
// kernel does on the lead's. Seen from a child that opens each member's file by its real
// path (outside the prefix) and tries the same lock without waiting. Before, locks were
// the lead's alone: the child got every one on the secondary. Locks a new image inherits
// are taken on the follower's file it is given. One the follower's file refuses (another
// process holds it there alone) is undone on the lead and fails.
#include "check.h"

#include <sys/file.h>
#include <sys/wait.h>

enum kind { POSIX, OFD, FLOCK };

/* Whether a child may take a write lock of `kind` on bytes 0-9 of the member file. */
static int child_may_lock(const char *path, enum kind kind)
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		if (fd < 0)
			_exit(3);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		int r = kind == FLOCK ? flock(fd, LOCK_EX | LOCK_NB) : fcntl(fd, kind == OFD ? F_OFD_SETLK : F_SETLK, &fl);
		_exit(r == 0 ? 0 : (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK) ? 1 : 2);
	}
	int st;
	CHECK_SYS(waitpid(pid, &st, 0));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
	return WEXITSTATUS(st) == 0;
}

static void expect(const char *vpath, enum kind kind, int held, int line)
{
	const char *members[] = { "primary", "secondary" };
	for (int i = 0; i < 2; i++) {
		if (child_may_lock(member_path(members[i], vpath), kind) == held) {
			fprintf(stderr, "line %d: lock kind %d on the %s's %s: %s\n", line, kind, members[i], vpath, held ? "not held" : "still held");
			exit(1);
		}
	}
}
#define EXPECT(path, kind, held) expect((path), (kind), (held), __LINE__)

int main(int argc, char **argv)
{
	const char *f = SHADOW "/f";
	if (argc > 1) {
		/* The image exec'd below: its inherited fd's locks are on the follower's file
		 * the shim opened for it at start-up. */
		EXPECT(f, POSIX, 1);
		EXPECT(f, FLOCK, 1);
		return 0;
	}
	int fd = CHECK_SYS(open(f, O_RDWR | O_CREAT, 0644));
	CHECK_EQ(write(fd, "0123456789abcdef", 16), 16);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };

	/* POSIX: taken, let go. */
	CHECK_SYS(fcntl(fd, F_SETLK, &fl));
	EXPECT(f, POSIX, 1);
	fl.l_type = F_UNLCK;
	CHECK_SYS(fcntl(fd, F_SETLK, &fl));
	EXPECT(f, POSIX, 0);

	/* A waiting one, from the position (the follower's fd has a position of its own). */
	CHECK_EQ(lseek(fd, 4, SEEK_SET), 4);
	struct flock cur = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_start = -4, .l_len = 10 };
	CHECK_SYS(fcntl(fd, F_SETLKW, &cur));
	EXPECT(f, POSIX, 1);

	/* A close of a second fd of the open lets every POSIX lock go, on both members. */
	int dup_fd = CHECK_SYS(dup(fd));
	CHECK_SYS(close(dup_fd));
	EXPECT(f, POSIX, 0);

	/* lockf, whose fcntl glibc makes with an internal call: 10 bytes from the position. */
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_SYS(lockf(fd, F_TLOCK, 10));
	EXPECT(f, POSIX, 1);
	CHECK_SYS(lockf(fd, F_ULOCK, 10));
	EXPECT(f, POSIX, 0);
	CHECK_SYS(lockf(fd, F_LOCK, 10));
	EXPECT(f, POSIX, 1);
	CHECK_SYS(lockf(fd, F_ULOCK, 10));

	/* Open file description locks. */
	fl.l_type = F_WRLCK;
	CHECK_SYS(fcntl(fd, F_OFD_SETLK, &fl));
	EXPECT(f, OFD, 1);
	fl.l_type = F_UNLCK;
	CHECK_SYS(fcntl(fd, F_OFD_SETLK, &fl));
	EXPECT(f, OFD, 0);
	fl.l_type = F_WRLCK;
	CHECK_SYS(fcntl(fd, F_OFD_SETLKW, &fl));
	EXPECT(f, OFD, 1);
	fl.l_type = F_UNLCK;
	CHECK_SYS(fcntl(fd, F_OFD_SETLK, &fl));

	/* flock, waiting and not. */
	CHECK_SYS(flock(fd, LOCK_EX | LOCK_NB));
	EXPECT(f, FLOCK, 1);
	CHECK_SYS(flock(fd, LOCK_UN));
	EXPECT(f, FLOCK, 0);
	CHECK_SYS(flock(fd, LOCK_EX));
	EXPECT(f, FLOCK, 1);
	CHECK_SYS(close(fd));
	EXPECT(f, FLOCK, 0);

	/* errno is the program's after each of them. */
	fd = CHECK_SYS(open(f, O_RDWR));
	errno = 0;
	CHECK_SYS(flock(fd, LOCK_SH));
	CHECK_EQ(lseek(fd, 100, SEEK_SET), 100);
	CHECK_SYS(lockf(fd, F_TLOCK, 0));
	fl.l_type = F_RDLCK;
	CHECK_SYS(fcntl(fd, F_OFD_SETLK, &fl));
	CHECK_EQ(errno, 0);
	CHECK_SYS(close(fd));

	/* A lock the lead grants and the follower's file refuses (another process holds it
	 * there alone: here a child that locked the member file itself, as a holder that
	 * moved with the lead and has not taken its locks again does) fails as it would on
	 * the follower, the lead's locks put back as they were: a read lock asked to become a
	 * write lock stays a read lock. */
	fd = CHECK_SYS(open(f, O_RDWR));
	struct flock rd = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	CHECK_SYS(fcntl(fd, F_SETLK, &rd));
	int go[2], ready[2];
	CHECK_SYS(pipe(go));
	CHECK_SYS(pipe(ready));
	pid_t other = CHECK_SYS(fork());
	if (other == 0) {
		int own = open(member_path("secondary", f), O_RDWR);
		struct flock theirs = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		char c;
		if (own < 0 || fcntl(own, F_SETLK, &theirs) != 0 || flock(own, LOCK_SH) != 0 || write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char c;
	CHECK_EQ(read(ready[0], &c, 1), 1);
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	errno = 0;
	CHECK_EQ(fcntl(fd, F_SETLK, &wr), -1);
	CHECK(errno == EAGAIN || errno == EACCES);
	CHECK_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_EQ(write(go[1], "g", 1), 1);
	wait_ok(other);
	/* Still a read lock on the lead's file: another's write lock is refused there, a read
	 * lock is not. */
	EXPECT(f, POSIX, 1);
	pid_t reader = CHECK_SYS(fork());
	if (reader == 0) {
		int own = open(member_path("primary", f), O_RDONLY);
		struct flock theirs = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		_exit(own >= 0 && fcntl(own, F_SETLK, &theirs) == 0 ? 0 : 1);
	}
	wait_ok(reader);
	/* And no flock left on the lead's file by the refused one. */
	EXPECT(f, FLOCK, 0);
	CHECK_SYS(close(fd));

	/* Locks a new image inherits (a POSIX one survives exec; a flock one is the
	 * description's) are held on the follower's file it gets too. */
	fd = CHECK_SYS(open(f, O_RDWR));
	CHECK_SYS(flock(fd, LOCK_EX));
	fl.l_type = F_WRLCK;
	CHECK_SYS(fcntl(fd, F_SETLK, &fl));
	execl("/proc/self/exe", argv[0], "inherited", (char *)NULL);
	check_fail(HERE, errno, "exec");
	return 1;
}
