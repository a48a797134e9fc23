// unix_socket_long_names: AF_UNIX sockets bound under the prefix whose member path is too
// long for an address (108 bytes), though the virtual name is not. The shim binds them
// through /proc/thread-self/fd/ (the member's root, or for a name too long that way too,
// the socket's own directory). The program sees only virtual names: getsockname,
// getpeername, accept and recvfrom turn both forms back. Before, they returned the /proc
// form (helper-55, CPython's test_socket with members at a long path), and a bind through
// the socket's own directory failed ENOENT: the directory's fd was closed before the bind
// was made (natively the 96-byte name binds).
#include "check.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static struct sockaddr_un address(const char *path, socklen_t *len)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	CHECK(strlen(path) < sizeof un.sun_path);
	strcpy(un.sun_path, path);
	*len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
	return un;
}

static void expect_name(const struct sockaddr_un *un, socklen_t len, const char *want)
{
	CHECK(len > offsetof(struct sockaddr_un, sun_path));
	CHECK_STREQ(un->sun_path, want);
}

static void stream_round(const char *path)
{
	socklen_t len;
	struct sockaddr_un un = address(path, &len);
	int server = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_SYS(bind(server, (struct sockaddr *)&un, len));
	CHECK_SYS(listen(server, 1));
	struct sockaddr_un got;
	socklen_t got_len = sizeof got;
	CHECK_SYS(getsockname(server, (struct sockaddr *)&got, &got_len));
	expect_name(&got, got_len, path);

	int client = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_SYS(connect(client, (struct sockaddr *)&got, got_len));
	got_len = sizeof got;
	CHECK_SYS(getpeername(client, (struct sockaddr *)&got, &got_len));
	expect_name(&got, got_len, path);
	int accepted = CHECK_SYS(accept(server, NULL, NULL));
	got_len = sizeof got;
	CHECK_SYS(getsockname(accepted, (struct sockaddr *)&got, &got_len));
	expect_name(&got, got_len, path);
	CHECK_SYS(close(accepted));
	CHECK_SYS(close(client));
	CHECK_SYS(close(server));
}

int main(void)
{
	/* Through the member's root: a member path of 108 bytes or more. */
	char *root_form = xasprintf(SHADOW "/%s.sock", "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu");
	CHECK(strlen(member_path("primary", root_form)) >= 108);
	stream_round(root_form);

	/* A datagram's sender, named so too. */
	char *sender_name = xasprintf(SHADOW "/%s.dg", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
	char *receiver_name = xasprintf(SHADOW "/%s.dg", "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww");
	socklen_t len;
	struct sockaddr_un s = address(sender_name, &len), r;
	int sender = CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM, 0));
	CHECK_SYS(bind(sender, (struct sockaddr *)&s, len));
	r = address(receiver_name, &len);
	int receiver = CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM, 0));
	CHECK_SYS(bind(receiver, (struct sockaddr *)&r, len));
	CHECK_EQ(sendto(sender, "x", 1, 0, (struct sockaddr *)&r, len), 1);
	struct sockaddr_un from;
	socklen_t from_len = sizeof from;
	char byte;
	CHECK_EQ(recvfrom(receiver, &byte, 1, 0, (struct sockaddr *)&from, &from_len), 1);
	expect_name(&from, from_len, sender_name);

	/* Too long through the root as well: through the socket's own directory. */
	CHECK_SYS(mkdir(SHADOW "/dddddddddddddddddddddddddddddddddddddddd", 0755));
	CHECK_SYS(mkdir(SHADOW "/dddddddddddddddddddddddddddddddddddddddd/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 0755));
	char *deep = SHADOW "/dddddddddddddddddddddddddddddddddddddddd/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee/s.sock";
	CHECK(strlen("/proc/thread-self/fd/1024/") + strlen(deep) - strlen(SHADOW "/") >= 108);
	stream_round(deep);
	return 0;
}
