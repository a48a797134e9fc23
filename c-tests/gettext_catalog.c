// gettext_catalog: a message catalog under the prefix is found by gettext, which reads it
// with glibc's own calls: bindtextdomain to a directory under the prefix binds the lead
// member's. Before, the catalog was not found and the message stayed untranslated (a
// program installed under the prefix, or bash's TEXTDOMAINDIR there). The catalog is a
// minimal .mo file, one message, written here.
#include "check.h"
#include <libintl.h>
#include <locale.h>
#include <stdint.h>

static void write_catalog(const char *path)
{
	uint32_t head[11] = {
		0x950412de, 0, 1, /* magic, revision, one message */
		28, 36,           /* originals' table, translations' table */
		0, 44,            /* no hash table */
		5, 44,            /* "Hello": length, offset */
		5, 50,            /* "Hallo" */
	};
	int fd = CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	write_all(fd, head, sizeof head);
	write_all(fd, "Hello\0Hallo\0", 12);
	CHECK_SYS(close(fd));
}

int main(void)
{
	CHECK_SYS(mkdir(SHADOW "/loc", 0755));
	CHECK_SYS(mkdir(SHADOW "/loc/de", 0755));
	CHECK_SYS(mkdir(SHADOW "/loc/de/LC_MESSAGES", 0755));
	write_catalog(SHADOW "/loc/de/LC_MESSAGES/greet.mo");

	CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL);
	CHECK_SYS(setenv("LANGUAGE", "de", 1));
	CHECK(bindtextdomain("greet", SHADOW "/loc") != NULL);
	CHECK_STREQ(dgettext("greet", "Hello"), "Hallo");

	/* From the cwd under the prefix, by a relative directory. */
	CHECK_SYS(chdir(SHADOW));
	CHECK(bindtextdomain("greet2", "loc") != NULL);
	CHECK_SYS(rename(SHADOW "/loc/de/LC_MESSAGES/greet.mo", SHADOW "/loc/de/LC_MESSAGES/greet2.mo"));
	CHECK_STREQ(dgettext("greet2", "Hello"), "Hallo");
	return 0;
}
