// scm_rights: a shadowed fd passed to another process over a socket (SCM_RIGHTS, by
// sendmsg/recvmsg, sendmmsg/recvmmsg and the raw system calls) is mirrored there too, and
// both processes' writes through the one file description land at the same offsets on
// both members.
// timeout: 120
#include "check.h"

#include <sys/socket.h>
#include <sys/syscall.h>

#define LINES 3000

/* how: 0 sendmsg/recvmsg, 1 sendmmsg/recvmmsg, 2 syscall(SYS_sendmsg/SYS_recvmsg). */
static void send_fd(int sock, int fd, int how)
{
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (how == 1) {
		struct mmsghdr mm = { .msg_hdr = m };
		CHECK_EQ(sendmmsg(sock, &mm, 1, 0), 1);
	} else {
		CHECK_EQ(how == 0 ? sendmsg(sock, &m, 0) : syscall(SYS_sendmsg, sock, &m, 0), 1);
	}
}

static int recv_fd(int sock, int how)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	if (how == 1) {
		struct mmsghdr mm = { .msg_hdr = m };
		CHECK_EQ(recvmmsg(sock, &mm, 1, 0, NULL), 1);
		m = mm.msg_hdr;
	} else {
		CHECK_EQ(how == 0 ? recvmsg(sock, &m, 0) : syscall(SYS_recvmsg, sock, &m, 0), 1);
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	CHECK(c && c->cmsg_type == SCM_RIGHTS);
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

static void write_lines(int fd, const char *who)
{
	for (int i = 0; i < LINES; i++) {
		char line[64];
		int n = snprintf(line, sizeof line, "%s-line-%d\n", who, i);
		CHECK_EQ(write(fd, line, n), n);
	}
}

static void pass_and_write(int how)
{
	char *path = xasprintf(SHADOW "/passed-%d.log", how);
	int sv[2];
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	/* The child exists before the file is opened: it gets the fd only through the socket. */
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		close(sv[0]);
		int fd = recv_fd(sv[1], how);
		write_lines(fd, "child");
		CHECK_SYS(close(fd));
		exit(0);
	}
	close(sv[1]);
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	send_fd(sv[0], fd, how);
	write_lines(fd, "parent");
	wait_ok(pid);
	CHECK_SYS(close(fd));
	close(sv[0]);

	expect_two_writers(path, LINES);
	free(path);
}

int main(void)
{
	for (int how = 0; how < 3; how++)
		pass_and_write(how);
	return 0;
}
