/* Prints memstats.HeapAlloc of `gomem summary --json` on EXE CORE, through the installed
 * library: the smallest program that uses gomem.h (tests/install/run.sh builds it). */
#include <gomem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct gomem_target *t;
	char *json;
	const char *args[] = {"--json"};
	struct gomem_error *err = argc == 3 ? gomem_target_open_core(argv[1], argv[2], &t) : NULL;
	if (argc != 3 || err || (err = gomem_run(t, "summary", 1, args, &json, NULL))) {
		fprintf(stderr, "%s\n",
			err ? gomem_error_message(err) : "usage: hello_gomem EXE CORE");
		return 2;
	}
	const char *m = strstr(json, "\"memstats\":"), *h = m ? strstr(m, "\"HeapAlloc\":") : NULL;
	if (!h)
		return 1;
	printf("%llu\n", strtoull(h + strlen("\"HeapAlloc\":"), NULL, 10));
	gomem_free(json);
	gomem_target_destroy(t);
	return 0;
}
