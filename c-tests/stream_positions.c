// A stream on a shadowed file keeps its place as glibc's own file stream does, and each
// sequence here gives under the prefix exactly what it gives on a plain file outside it
// (run first, as the reference). Found by helper-48, all silent before:
// - a write made while the stream held read-ahead (an fseek that read a block, on a "w+"
//   or "r+" stream), then fseek(SEEK_CUR) or ftell: the shim's fopencookie stream counted
//   from the place before the write (glibc's cookie write does not move the stream's
//   offset), so a header patched field by field came out "HDR:123333000,0000;" and the
//   next getc read the bytes just written;
// - freopen of one of the shim's write-only streams into a mode that reads ("r+", also
//   with a NULL path): every read failed, and the next write went over the file's start;
// - modes whose "+" comes after two letters ("rbe+", "wbe+", "abe+"): the stream could
//   not write, or not read;
// - an fseek inside the buffer read the block again and left the fd at the block's start
//   (glibc's cookie streams forget their place at every seek and tell): a raw write on
//   fileno() landed elsewhere, and ftell after an ungetc of another byte answered
//   otherwise.
#include "check.h"

/* Appends one observation to `log`. */
static void note(char *log, size_t size, const char *fmt, ...)
{
	size_t used = strlen(log);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(log + used, size - used, fmt, ap);
	va_end(ap);
}

/* What `path` holds: its first `n` bytes, and where the bytes that are not `fill` are. */
static void note_file(char *log, size_t size, const char *path, char fill)
{
	char buf[10000];
	int fd = CHECK_SYS(open(path, O_RDONLY));
	ssize_t n = CHECK_SYS(read(fd, buf, sizeof buf));
	CHECK_SYS(close(fd));
	note(log, size, " [%zd bytes:", n);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != fill)
			note(log, size, " %zd=%c", i, buf[i]);
	note(log, size, "]");
}

static void make_dots(const char *path)
{
	char dots[10000];
	memset(dots, '.', sizeof dots);
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ(write(fd, dots, sizeof dots), (ssize_t)sizeof dots);
	CHECK_SYS(close(fd));
}

/* Every sequence, in directory `dir`, observed into `log`. */
static void sequences(const char *dir, char *log, size_t size)
{
	char p[512];
	FILE *f;
	int c;

	/* A header patched field by field after its body is written. */
	const char *patch_modes[] = { "w+", "w", "r+" };
	for (int m = 0; m < 3; m++) {
		snprintf(p, sizeof p, "%s/hdr%d", dir, m);
		if (m == 2)
			make_dots(p);
		f = CHECK_PTR(fopen(p, patch_modes[m]));
		fputs("HDR:0000,0000,0000;", f);
		for (int i = 0; i < 10; i++)
			fputs("body-body-", f);
		fseek(f, 4, SEEK_SET);
		fputs("1111", f);
		fseek(f, 1, SEEK_CUR);
		fputs("2222", f);
		fseek(f, 1, SEEK_CUR);
		fputs("3333", f);
		note(log, size, "\n%s: ftell %ld", patch_modes[m], ftell(f));
		CHECK_SYS(fclose(f));
		note_file(log, size, p, '.');
	}

	/* Written with read-ahead in the buffer, then the seek ISO C asks for before a read. */
	snprintf(p, sizeof p, "%s/rec", dir);
	make_dots(p);
	f = CHECK_PTR(fopen(p, "r+"));
	getc(f);
	fseek(f, 100, SEEK_SET);
	fputs("REC", f);
	fseek(f, 0, SEEK_CUR);
	note(log, size, "\nrec: ftell %ld", ftell(f));
	c = getc(f);
	note(log, size, " getc %c", c);
	fseek(f, 0, SEEK_CUR);
	fputs("X", f);
	fseek(f, 200, SEEK_SET);
	fputs("REC2", f);
	fseek(f, 10, SEEK_CUR);
	fputs("Y", f);
	fgetpos(f, &(fpos_t){ 0 });
	note(log, size, " ftell %ld", ftell(f));
	rewind(f);
	c = getc(f);
	note(log, size, " after rewind getc %c ftell %ld", c, ftell(f));
	CHECK_SYS(fclose(f));
	note_file(log, size, p, '.');

	/* A seek inside the buffer moves the stream's pointers alone: the fd stays where the
	 * block's read left it, and a raw write on it lands there. Then ungetc of another
	 * byte (a backup area), ftell, fgetpos and fsetpos, fseeko and ftello. */
	snprintf(p, sizeof p, "%s/inbuf", dir);
	make_dots(p);
	f = CHECK_PTR(fopen(p, "r+"));
	fseek(f, 10, SEEK_SET);
	getc(f);
	fseek(f, 50, SEEK_SET);
	note(log, size, "\ninbuf: fd at %ld", (long)lseek(fileno(f), 0, SEEK_CUR));
	CHECK_EQ(write(fileno(f), "RAW", 3), 3);
	note(log, size, " ftell %ld", ftell(f));
	c = getc(f);
	ungetc('U', f);
	note(log, size, " getc %c, after ungetc ftell %ld", c, ftell(f));
	fpos_t pos;
	CHECK_SYS(fgetpos(f, &pos));
	fseek(f, 0, SEEK_END);
	CHECK_SYS(fsetpos(f, &pos));
	c = getc(f);
	note(log, size, " fsetpos then getc %c ftell %ld", c, ftell(f));
	fseeko(f, -5, SEEK_CUR);
	note(log, size, " ftello %ld fd at %ld", (long)ftello(f), (long)lseek(fileno(f), 0, SEEK_CUR));
	CHECK_SYS(fclose(f));
	note_file(log, size, p, '.');

	/* Unbuffered: a long fread, getc, ungetc of another byte, ftell. */
	snprintf(p, sizeof p, "%s/unbuffered", dir);
	make_dots(p);
	f = CHECK_PTR(fopen(p, "r+"));
	setvbuf(f, NULL, _IONBF, 0);
	char chunk[5000];
	size_t got = fread(chunk, 1, sizeof chunk, f);
	c = getc(f);
	ungetc('U', f);
	note(log, size, "\nunbuffered: fread %zu getc %c ftell %ld", got, c, ftell(f));
	CHECK_SYS(fclose(f));

	/* A write-only stream reopened to read and write, by name and with a NULL path. */
	for (int by_name = 0; by_name < 2; by_name++) {
		char line[64] = "";
		snprintf(p, sizeof p, "%s/reopened%d", dir, by_name);
		f = CHECK_PTR(fopen(p, "w"));
		fputs("first\nsecond\n", f);
		f = CHECK_PTR(freopen(by_name ? p : NULL, "r+", f));
		const char *got = fgets(line, sizeof line, f) ? line : "(null)\n";
		note(log, size, "\nreopened r+: fgets %s", got);
		note(log, size, "error %d ftell %ld", ferror(f), ftell(f));
		fseek(f, 0, SEEK_CUR);
		fputs("SECOND", f);
		CHECK_SYS(fclose(f));
		note_file(log, size, p, '\0');
	}
	/* And one that reads and writes reopened write-only: reads fail. */
	snprintf(p, sizeof p, "%s/narrowed", dir);
	f = CHECK_PTR(fopen(p, "w+"));
	fputs("abc", f);
	f = CHECK_PTR(freopen(NULL, "w", f));
	c = getc(f);
	note(log, size, "\nnarrowed: getc %d error %d", c, ferror(f) != 0);
	clearerr(f);
	fputs("def", f);
	CHECK_SYS(fclose(f));
	note_file(log, size, p, '\0');

	/* A '+' after two flag letters. */
	const char *spelled[] = { "rbe+", "wbe+", "abe+", "r+be", "wb+" };
	for (int m = 0; m < 5; m++) {
		snprintf(p, sizeof p, "%s/spelled%d", dir, m);
		write_file(p, "XY");
		f = CHECK_PTR(fopen(p, spelled[m]));
		size_t wrote = fwrite("ab", 1, 2, f);
		rewind(f);
		c = getc(f);
		note(log, size, "\n%s: fwrite %zu getc %d", spelled[m], wrote, c);
		CHECK_SYS(fclose(f));
		note_file(log, size, p, '\0');
	}
}

int main(void)
{
	static char native[16384], shadowed[16384];
	sequences(test_tmp(), native, sizeof native);
	sequences(SHADOW, shadowed, sizeof shadowed);
	CHECK_STREQ(shadowed, native);
	const char *names[] = { "hdr0", "hdr1", "hdr2", "rec", "inbuf", "reopened0", "reopened1", "narrowed", "spelled0", "spelled1", "spelled2", "spelled3", "spelled4" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *p = xasprintf(SHADOW "/%s", names[i]);
		EXPECT_SAME_ON_MEMBERS(p);
		free(p);
	}
	return 0;
}
