// exit_while_threads_write: a child process whose threads keep creating, writing, renaming
// and appending to files under the prefix ends by exit() from main, by exit() from one of
// the writing threads, and by _exit() from a signal handler. The process's end lets the
// hooks the other threads are in finish and starts no new one, so no thread is ended
// between the lead's and the follower's part of a change: the members are identical and
// no crash is recorded (run.sh runs `shadowctl verify` and checks the history, where the
// next program reports one). Before (helper-49), 3 runs of 3: files on one member only,
// mtimes apart, and recover due after a clean exit.
// timeout: 60
#include "check.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

static int how;
static const char *dir;

static void leave_in_handler(int sig)
{
	(void)sig;
	_exit(0);
}

static void *writer(void *arg)
{
	long id = (long)arg;
	char buf[4096];
	memset(buf, 'a' + (int)id, sizeof buf);
	char *log = xasprintf("%s/log%ld", dir, id);
	FILE *f = CHECK_PTR(fopen(log, "w"));
	for (long n = 0;; n++) {
		char *p = xasprintf("%s/w%ld_%ld", dir, id, n % 5);
		char *q = xasprintf("%s/r%ld_%ld", dir, id, n % 5);
		int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		for (int i = 0; i < 8 && fd >= 0; i++)
			(void)!write(fd, buf, sizeof buf);
		if (fd >= 0)
			close(fd);
		rename(p, q);
		fprintf(f, "line %ld\n", n);
		free(p);
		free(q);
		if (how == 1 && id == 0 && n == 200)
			exit(0);
	}
	return NULL;
}

/* Runs the writers in a child that ends as `how` says. */
static void run(int way, const char *name)
{
	how = way;
	dir = xasprintf(SHADOW "/%s", name);
	CHECK_SYS(mkdir(dir, 0755));
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		signal(SIGALRM, leave_in_handler);
		pthread_t t[6];
		for (long i = 0; i < 6; i++)
			pthread_create(&t[i], NULL, writer, (void *)i);
		if (way == 0) {
			usleep(100000);
			exit(0);
		}
		if (way == 2) {
			struct itimerval it = { { 0, 0 }, { 0, 100000 } };
			setitimer(ITIMER_REAL, &it, NULL);
		}
		for (;;)
			pause();
	}
	int status;
	CHECK_SYS(waitpid(pid, &status, 0));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Every name on both members, with the same bytes. */
	for (int m = 0; m < 2; m++) {
		char *here = member_path(m ? "secondary" : "primary", dir);
		char *there = member_path(m ? "primary" : "secondary", dir);
		DIR *d = CHECK_PTR(opendir(here));
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char *other = xasprintf("%s/%s", there, e->d_name);
			struct stat st;
			if (stat(other, &st) != 0)
				check_fail(HERE, 0, "%s/%s is on one member only", dir, e->d_name);
			free(other);
			char *v = xasprintf("%s/%s", dir, e->d_name);
			EXPECT_SAME_ON_MEMBERS(v);
			free(v);
		}
		closedir(d);
	}
}

int main(void)
{
	run(0, "exit-from-main");
	run(1, "exit-from-a-writer");
	run(2, "_exit-in-a-handler");
	return 0;
}
