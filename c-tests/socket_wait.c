// socket_wait: connect, sendto and sendmsg to an AF_UNIX socket named under the prefix
// wait while its backlog or queue is full. Before, the shim made that wait inside itself,
// holding its fork lock and cancellation off: a fork in another thread waited for ever,
// and so did the pthread_join of a thread cancelled while it waited. Now the name is
// turned into the lead's inside the shim and the call made outside: each wait below lets
// a fork through, ends at a cancellation request, and a handler without SA_RESTART ends
// it with EINTR, as natively.
// timeout: 60
#define _GNU_SOURCE
#include "check.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

static struct sockaddr_un stream_name = { .sun_family = AF_UNIX, .sun_path = SHADOW "/stream" };
static struct sockaddr_un dgram_name = { .sun_family = AF_UNIX, .sun_path = SHADOW "/dgram" };
static int dgram_sender;

enum wait { CONNECT, SENDTO, SENDMSG };

static void *waiter(void *arg)
{
	long r = -1;
	switch ((enum wait)(long)arg) {
	case CONNECT: {
		int c = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
		r = connect(c, (struct sockaddr *)&stream_name, sizeof stream_name);
		break;
	}
	case SENDTO:
		r = sendto(dgram_sender, "x", 1, 0, (struct sockaddr *)&dgram_name, sizeof dgram_name);
		break;
	case SENDMSG: {
		struct iovec io = { "y", 1 };
		struct msghdr m = { .msg_name = &dgram_name, .msg_namelen = sizeof dgram_name, .msg_iov = &io, .msg_iovlen = 1 };
		r = sendmsg(dgram_sender, &m, 0);
		break;
	}
	}
	return (void *)r;
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	int listener = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK_SYS(bind(listener, (struct sockaddr *)&stream_name, sizeof stream_name));
	CHECK_SYS(listen(listener, 0));
	/* The backlog full: the next blocking connect waits. */
	for (;;) {
		int c = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
		if (connect(c, (struct sockaddr *)&stream_name, sizeof stream_name) == -1) {
			CHECK(errno == EAGAIN);
			break;
		}
	}
	int receiver = CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM, 0));
	CHECK_SYS(bind(receiver, (struct sockaddr *)&dgram_name, sizeof dgram_name));
	dgram_sender = CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM, 0));
	/* The receiver's queue full: the next blocking send waits. */
	while (sendto(dgram_sender, "q", 1, MSG_DONTWAIT, (struct sockaddr *)&dgram_name, sizeof dgram_name) == 1)
		;
	CHECK(errno == EAGAIN);

	for (long w = CONNECT; w <= SENDMSG; w++) {
		pthread_t t;
		void *got;
		CHECK(pthread_create(&t, NULL, waiter, (void *)w) == 0);
		usleep(100 * 1000);
		pid_t pid = CHECK_SYS(fork());
		if (pid == 0)
			_exit(0);
		wait_ok(pid);
		CHECK(pthread_cancel(t) == 0);
		CHECK(pthread_join(t, &got) == 0);
		if (got != PTHREAD_CANCELED)
			check_fail(HERE, 0, "wait %ld: the thread was not cancelled", w);
	}

	struct sigaction sa = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
	for (long w = CONNECT; w <= SENDMSG; w++) {
		alarm(1);
		CHECK_EQ((long)waiter((void *)w), -1L);
		CHECK(errno == EINTR);
	}

	/* The names are the lead's and the follower's nodes, as bind made them. */
	struct stat st;
	CHECK_SYS(stat(member_path("secondary", SHADOW "/stream"), &st));
	CHECK(S_ISSOCK(st.st_mode));
	return 0;
}
