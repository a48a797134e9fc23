/* Linked statically (c-tests/Makefile): a program the loader runs without LD_PRELOAD, so
 * without the shim. `static_writer TEXT` writes TEXT to fd 3, which exec_without_shim.c
 * leaves open; `static_writer TEXT FILE` writes it to FILE, made by its relative path.
 * It fails (3) if it holds an fd on a member's file it was not given: the shim of the
 * image before must not hand a program that runs without it fds of its own (the
 * follower's files it keeps across exec for programs that run under it). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int holds_shim_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	struct dirent *e;
	int found = 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		char link[64], target[4096];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (fd <= 3 || fd == dirfd(d) || n < 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "/secondary/") || strstr(target, "/primary/")) {
			fprintf(stderr, "static_writer: fd %d on %s, which it was not given\n", fd, target);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		return 2;
	if (holds_shim_fds())
		return 3;
	int fd = argc == 3 ? open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644) : 3;
	return fd >= 0 && write(fd, argv[1], strlen(argv[1])) == (ssize_t)strlen(argv[1]) ? 0 : 1;
}
