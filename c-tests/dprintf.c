// dprintf: formatted output straight to a shadowed fd, mixed with write().
#include "check.h"

int main(void)
{
	const char *path = SHADOW "/dprintf.txt";
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));

	CHECK_EQ(dprintf(fd, "%s=%d\n", "answer", 42), 10);
	write_str(fd, "raw\n");
	CHECK_EQ(dprintf(fd, "%05.1f|%-4s|%x\n", 3.14159, "ab", 255), 14);

	/* Longer than any internal buffer of dprintf. */
	char big[10000];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ(dprintf(fd, "%s\n", big), (int)sizeof big);
	CHECK_SYS(close(fd));

	size_t len;
	char *got = read_whole_file(path, &len);
	const char *head = "answer=42\nraw\n003.1|ab  |ff\n";
	CHECK_EQ(len, strlen(head) + sizeof big);
	CHECK(memcmp(got, head, strlen(head)) == 0);
	CHECK(memcmp(got + strlen(head), big, sizeof big - 1) == 0);
	CHECK_EQ(got[len - 1], '\n');
	return 0;
}
