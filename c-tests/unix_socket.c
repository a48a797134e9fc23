// unix_socket: an AF_UNIX socket bound to a name under the prefix is created on the lead,
// with a socket node on the follower (so chmod, rename and unlink of it reach both);
// connect and sendto reach it; a name that does not fit is ENAMETOOLONG. The names the
// kernel gives back (getsockname, getpeername, accept, recvfrom, recvmsg) are the program's
// own, never a member's path. sendmmsg to names under the prefix reaches them too (it was
// given to the kernel as it was: ENOENT).
#include "check.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t addr(struct sockaddr_un *un, const char *path)
{
	memset(un, 0, sizeof *un);
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

int main(void)
{
	struct sockaddr_un un;
	socklen_t len;
	CHECK_SYS(mkdir(SHADOW "/run", 0755));

	/* Absolute name, stream socket. */
	int srv = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	len = addr(&un, SHADOW "/run/srv.sock");
	CHECK_SYS(bind(srv, (struct sockaddr *)&un, len));
	CHECK_SYS(listen(srv, 1));
	CHECK(S_ISSOCK(xstat(SHADOW "/run/srv.sock").st_mode));
	CHECK(S_ISSOCK(xstat(member_path("secondary", SHADOW "/run/srv.sock")).st_mode));
	int cli = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_SYS(connect(cli, (struct sockaddr *)&un, len));
	int acc = CHECK_SYS(accept(srv, NULL, NULL));
	CHECK_EQ(write(cli, "hi", 2), 2);
	char buf[4] = { 0 };
	CHECK_EQ(read(acc, buf, 2), 2);
	CHECK_STREQ(buf, "hi");

	struct sockaddr_un got;
	socklen_t glen = sizeof got;
	CHECK_SYS(getsockname(srv, (struct sockaddr *)&got, &glen));
	CHECK_STREQ(got.sun_path, SHADOW "/run/srv.sock");
	CHECK_EQ(glen, offsetof(struct sockaddr_un, sun_path) + strlen(SHADOW "/run/srv.sock") + 1);
	glen = sizeof got;
	CHECK_SYS(getpeername(cli, (struct sockaddr *)&got, &glen));
	CHECK_STREQ(got.sun_path, SHADOW "/run/srv.sock");
	/* A peer bound to a name of its own, seen by accept. */
	int named = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	len = addr(&un, SHADOW "/run/cli.sock");
	CHECK_SYS(bind(named, (struct sockaddr *)&un, len));
	len = addr(&un, SHADOW "/run/srv.sock");
	CHECK_SYS(connect(named, (struct sockaddr *)&un, len));
	glen = sizeof got;
	int acc2 = CHECK_SYS(accept4(srv, (struct sockaddr *)&got, &glen, SOCK_CLOEXEC));
	CHECK_STREQ(got.sun_path, SHADOW "/run/cli.sock");
	/* A buffer too small for the name: truncated by the kernel, length the whole name's. */
	char small[offsetof(struct sockaddr_un, sun_path) + 4];
	glen = sizeof small;
	CHECK_SYS(getpeername(acc2, (struct sockaddr *)small, &glen));
	CHECK(glen > sizeof small);

	/* Relative name from a cwd inside the prefix, datagram socket, sendto. */
	CHECK_SYS(chdir(SHADOW "/run"));
	int dg = CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM, 0));
	len = addr(&un, "dg.sock");
	CHECK_SYS(bind(dg, (struct sockaddr *)&un, len));
	CHECK(S_ISSOCK(xstat(member_path("secondary", SHADOW "/run/dg.sock")).st_mode));
	int snd = CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM, 0));
	len = addr(&un, SHADOW "/run/dg.sock");
	CHECK_EQ(sendto(snd, "dg", 2, 0, (struct sockaddr *)&un, len), 2);
	CHECK_EQ(recv(dg, buf, sizeof buf, 0), 2);
	/* A relative name comes back as it was bound. */
	glen = sizeof got;
	CHECK_SYS(getsockname(dg, (struct sockaddr *)&got, &glen));
	CHECK_STREQ(got.sun_path, "dg.sock");
	/* The sender's name, by recvfrom and recvmsg. */
	len = addr(&un, SHADOW "/run/snd.sock");
	CHECK_SYS(bind(snd, (struct sockaddr *)&un, len));
	len = addr(&un, SHADOW "/run/dg.sock");
	CHECK_EQ(sendto(snd, "d2", 2, 0, (struct sockaddr *)&un, len), 2);
	glen = sizeof got;
	CHECK_EQ(recvfrom(dg, buf, sizeof buf, 0, (struct sockaddr *)&got, &glen), 2);
	CHECK_STREQ(got.sun_path, SHADOW "/run/snd.sock");
	CHECK_EQ(sendto(snd, "d3", 2, 0, (struct sockaddr *)&un, len), 2);
	memset(&got, 0, sizeof got);
	struct iovec iov = { buf, sizeof buf };
	struct msghdr msg = { .msg_name = &got, .msg_namelen = sizeof got, .msg_iov = &iov, .msg_iovlen = 1 };
	CHECK_EQ(recvmsg(dg, &msg, 0), 2);
	CHECK_STREQ(got.sun_path, SHADOW "/run/snd.sock");
	CHECK_EQ(msg.msg_namelen, offsetof(struct sockaddr_un, sun_path) + strlen(SHADOW "/run/snd.sock") + 1);

	/* sendmmsg to names under the prefix, absolute and relative, and to none (connected). */
	struct sockaddr_un to[2];
	socklen_t tolen[2] = { addr(&to[0], SHADOW "/run/dg.sock"), addr(&to[1], "dg.sock") };
	struct iovec parts[3] = { { "m1", 2 }, { "m2", 2 }, { "m3", 2 } };
	struct mmsghdr mm[3];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		mm[i].msg_hdr.msg_iov = &parts[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	for (int i = 0; i < 2; i++) {
		mm[i].msg_hdr.msg_name = &to[i];
		mm[i].msg_hdr.msg_namelen = tolen[i];
	}
	mm[2].msg_hdr.msg_name = &to[0];
	mm[2].msg_hdr.msg_namelen = tolen[0];
	errno = 0;
	CHECK_EQ(sendmmsg(snd, mm, 3, 0), 3);
	CHECK_EQ(errno, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(mm[i].msg_len, 2);
		memset(buf, 0, sizeof buf);
		CHECK_EQ(recv(dg, buf, sizeof buf, 0), 2);
		char want[3] = { 'm', '1' + i, 0 };
		CHECK_STREQ(buf, want);
	}
	/* The first message refused: its error, as natively. */
	struct sockaddr_un none;
	mm[0].msg_hdr.msg_name = &none;
	mm[0].msg_hdr.msg_namelen = addr(&none, SHADOW "/run/nobody.sock");
	CHECK_ERR(sendmmsg(snd, mm, 3, 0), ENOENT);
	/* A later one refused: the count sent before it, errno untouched. */
	mm[0].msg_hdr.msg_name = &to[0];
	mm[0].msg_hdr.msg_namelen = tolen[0];
	mm[1].msg_hdr.msg_name = &none;
	mm[1].msg_hdr.msg_namelen = addr(&none, SHADOW "/run/nobody.sock");
	errno = 0;
	CHECK_EQ(sendmmsg(snd, mm, 3, 0), 1);
	CHECK_EQ(errno, 0);
	CHECK_EQ(recv(dg, buf, sizeof buf, 0), 2);

	/* The namespace stays identical. */
	CHECK_SYS(chmod("dg.sock", 0600));
	CHECK_SYS(rename("dg.sock", "renamed.sock"));
	CHECK_EQ(xstat(member_path("secondary", SHADOW "/run/renamed.sock")).st_mode & 07777, 0600);
	CHECK_SYS(unlink(SHADOW "/run/srv.sock"));

	/* A name that does not fit once it names the member. */
	char longname[100];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK_SYS(chdir("/"));
	char full[108];
	snprintf(full, sizeof full, "%s/%s", SHADOW, longname);
	int s2 = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	len = addr(&un, full);
	CHECK_ERR(bind(s2, (struct sockaddr *)&un, len), ENAMETOOLONG);
	return 0;
}
