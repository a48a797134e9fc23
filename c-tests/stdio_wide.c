// stdio_wide: wide-character stdio on streams of shadowed files, and the fopen/fdopen
// details glibc's own streams have. The shim's streams are fopencookie streams, which
// glibc keeps byte-oriented without wide buffers: putwc, putwchar (std::wcout with stdout
// redirected under the prefix) and fgetwc crashed the program (SIGSEGV), fputws and
// fwprintf failed and wrote nothing, fwide answered -1, "ccs=UTF-8" was dropped.
// fdopen(fd, "a") did not set O_APPEND (the next write landed at the fd's position),
// fdopen with a mode the fd's access refuses succeeded, and ftell right after
// fopen(path, "a") answered 0, not the file's size.
#include "check.h"

#include <locale.h>
#include <wchar.h>

int main(void)
{
	CHECK_PTR(setlocale(LC_ALL, "C.UTF-8"));

	// Output: each wide call, in the locale's encoding.
	FILE *f = CHECK_PTR(fopen(SHADOW "/w", "w"));
	CHECK_EQ(fwide(f, 0), 0);
	CHECK_EQ(putwc(L'\u00e9', f), (wint_t)L'\u00e9');
	CHECK_EQ(fputwc(L'\u20ac', f), (wint_t)L'\u20ac');
	CHECK(fputws(L" caf\u00e9", f) >= 0);
	CHECK_EQ(fwprintf(f, L" %d %ls %s\n", 42, L"\u00fc", "x"), 8);
	CHECK_EQ(fwide(f, 0), 1);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(member_path("secondary", SHADOW "/w"), "\xc3\xa9\xe2\x82\xac caf\xc3\xa9 42 \xc3\xbc x\n");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/w");

	// A charset given in the mode.
	setlocale(LC_ALL, "C");
	f = CHECK_PTR(fopen(SHADOW "/ccs", "w,ccs=UTF-8"));
	CHECK_EQ(fwide(f, 0), 1);
	CHECK(fputws(L"\u00e9t\u00e9\n", f) >= 0);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(member_path("secondary", SHADOW "/ccs"), "\xc3\xa9t\xc3\xa9\n");
	setlocale(LC_ALL, "C.UTF-8");

	// stdout redirected under the prefix: putwchar and wprintf.
	CHECK_PTR(freopen(SHADOW "/out", "w", stdout));
	CHECK_EQ(putwchar(L'\u00e0'), (wint_t)L'\u00e0');
	CHECK_EQ(wprintf(L"%ls\n", L"-ok"), 4);
	CHECK_SYS(fflush(stdout));
	CHECK_SYS(fsync(1)); // the follower's queued copy too, under write-behind
	EXPECT_FILE(member_path("secondary", SHADOW "/out"), "\xc3\xa0-ok\n");

	// Input on a read-write stream: fgetwc, ungetwc, fgetws.
	f = CHECK_PTR(fopen(SHADOW "/w", "r+"));
	CHECK_EQ(fgetwc(f), (wint_t)L'\u00e9');
	CHECK_EQ(ungetwc(L'\u00e9', f), (wint_t)L'\u00e9');
	CHECK_EQ(getwc(f), (wint_t)L'\u00e9');
	wchar_t line[32];
	CHECK_PTR(fgetws(line, 32, f));
	CHECK(wcscmp(line, L"\u20ac caf\u00e9 42 \u00fc x\n") == 0);
	CHECK_EQ(fgetwc(f), WEOF);
	// A seek drops what was pushed back; room for the terminator alone reads "".
	rewind(f);
	CHECK_EQ(ungetwc(L'Z', f), (wint_t)L'Z');
	rewind(f);
	CHECK_EQ(fgetwc(f), (wint_t)L'\u00e9');
	line[0] = L'q';
	CHECK(fgetws(line, 1, f) == line && line[0] == 0);
	CHECK_SYS(fclose(f));

	// A charset the shim does not convert is refused, never written as another.
	errno = 0;
	CHECK(fopen(SHADOW "/latin", "w,ccs=ISO-8859-1") == NULL && errno == EINVAL);

	// fopen "a": the stream starts at the end.
	f = CHECK_PTR(fopen(SHADOW "/w", "a"));
	CHECK_EQ(ftell(f), (long)file_size(member_path("primary", SHADOW "/w")));
	CHECK_SYS(fclose(f));

	// fdopen "a" sets O_APPEND; a mode the fd's access refuses is EINVAL.
	int fd = CHECK_SYS(open(SHADOW "/a", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_str(fd, "abc");
	CHECK_SYS(lseek(fd, 0, SEEK_SET));
	errno = 0;
	CHECK(fdopen(fd, "r") == NULL && errno == EINVAL);
	errno = 0;
	CHECK(fdopen(fd, "r+") == NULL && errno == EINVAL);
	f = CHECK_PTR(fdopen(fd, "a"));
	CHECK(fcntl(fd, F_GETFL) & O_APPEND);
	CHECK(fputs("X", f) >= 0);
	CHECK_SYS(fclose(f));
	EXPECT_FILE(member_path("secondary", SHADOW "/a"), "abcX");
	EXPECT_SAME_ON_MEMBERS(SHADOW "/a");
	return 0;
}
