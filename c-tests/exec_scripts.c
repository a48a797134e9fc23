// exec_scripts: a `#!` script under the prefix gets its virtual path as $0 (so a script that
// writes next to itself writes both members), an interpreter under the prefix can be run
// (`#!/shadow/venv/bin/python3`), also through a PATH search and one script interpreting
// another; a program started from the prefix sees its virtual path in /proc/self/exe.
#include "check.h"

#include <limits.h>

static void run(char *const argv[])
{
	pid_t pid = CHECK_SYS(fork());
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	wait_ok(pid);
}

static void script(const char *path, const char *text)
{
	write_file(path, text);
	CHECK_SYS(chmod(path, 0755));
}

/* Copies a file through the shim. */
static void copy(const char *from, const char *to)
{
	size_t n;
	char *data = read_whole_file(from, &n);
	int fd = CHECK_SYS(open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755));
	write_all(fd, data, n);
	CHECK_SYS(close(fd));
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--exe") == 0) {
		char buf[PATH_MAX];
		ssize_t n = CHECK_SYS(readlink("/proc/self/exe", buf, sizeof buf - 1));
		buf[n] = '\0';
		CHECK_STREQ(buf, SHADOW "/bin/self");
		char *r = CHECK_PTR(realpath("/proc/self/exe", NULL));
		CHECK_STREQ(r, SHADOW "/bin/self");
		return 0;
	}
	CHECK_SYS(mkdir(SHADOW "/bin", 0755));
	script(SHADOW "/bin/s.sh", "#!/bin/sh\necho \"$0 $*\" > \"$(dirname \"$0\")/out\"\n");
	run((char *[]){ SHADOW "/bin/s.sh", "a", "b", NULL });
	EXPECT_FILE(SHADOW "/bin/out", SHADOW "/bin/s.sh a b\n");

	/* The interpreter itself under the prefix, with an argument. */
	copy("/bin/sh", SHADOW "/bin/sh");
	script(SHADOW "/bin/t.sh", "#!" SHADOW "/bin/sh -e\necho \"$0 $1\" > \"$(dirname \"$0\")/tout\"\n");
	run((char *[]){ SHADOW "/bin/t.sh", "x", NULL });
	EXPECT_FILE(SHADOW "/bin/tout", SHADOW "/bin/t.sh x\n");

	/* Found through PATH, relative to a cwd inside the prefix, and nested. */
	CHECK_SYS(setenv("PATH", SHADOW "/bin:/usr/bin:/bin", 1));
	run((char *[]){ "t.sh", "path", NULL });
	EXPECT_FILE(SHADOW "/bin/tout", SHADOW "/bin/t.sh path\n");
	CHECK_SYS(chdir(SHADOW "/bin"));
	run((char *[]){ "./s.sh", "rel", NULL });
	EXPECT_FILE(SHADOW "/bin/out", "./s.sh rel\n");
	script(SHADOW "/bin/interp", "#!/bin/sh\nexec /bin/sh \"$@\"\n");
	script(SHADOW "/bin/u.sh", "#!" SHADOW "/bin/interp\necho \"$0\" > uout\n");
	run((char *[]){ SHADOW "/bin/u.sh", NULL });
	EXPECT_FILE(SHADOW "/bin/uout", SHADOW "/bin/u.sh\n");

	/* A script that is not executable is refused as natively. */
	write_file(SHADOW "/bin/noexec.sh", "#!/bin/sh\ntrue\n");
	CHECK_ERR(execl(SHADOW "/bin/noexec.sh", "noexec.sh", (char *)NULL), EACCES);

	/* A Python script writing next to itself. */
	script(SHADOW "/bin/p.py", "#!/usr/bin/env python3\nimport os\nopen(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pyout'), 'w').write(__file__ + '\\n')\n");
	run((char *[]){ SHADOW "/bin/p.py", NULL });
	EXPECT_FILE(SHADOW "/bin/pyout", SHADOW "/bin/p.py\n");

	/* A program started from the prefix. */
	copy("/proc/self/exe", SHADOW "/bin/self");
	run((char *[]){ SHADOW "/bin/self", "--exe", NULL });
	return 0;
}
