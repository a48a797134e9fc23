/* Linked statically (c-tests/Makefile): a program the loader runs without LD_PRELOAD, so
 * without the shim. Writes its argument to fd 3, which exec_without_shim.c leaves open. */
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	return argc == 2 && write(3, argv[1], strlen(argv[1])) == (ssize_t)strlen(argv[1]) ? 0 : 1;
}
