/* Linked statically (c-tests/Makefile): a program the loader runs without LD_PRELOAD, so
 * without the shim. `static_writer TEXT` writes TEXT to fd 3, which exec_without_shim.c
 * leaves open; `static_writer TEXT FILE` writes it to FILE, made by its relative path. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		return 2;
	int fd = argc == 3 ? open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644) : 3;
	return fd >= 0 && write(fd, argv[1], strlen(argv[1])) == (ssize_t)strlen(argv[1]) ? 0 : 1;
}
