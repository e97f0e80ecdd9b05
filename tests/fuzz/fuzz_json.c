/*
 * Fuzz target: the JSON reader and gomem diff, which reads saved summaries
 * that could be any file. Each input is parsed (gm_json_parse), then
 * compared, as summary B, with a small but complete summary A, and as A
 * with itself, in text and in JSON (gomem_diff_summaries): members missing
 * or of the wrong type, odd numbers, deep or wide trees, strange names.
 * The seeds (corpus/fuzz_json/) are summaries cut down to a few nodes.
 */
#include "fuzz.h"
#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char summary_a[] =
    "{\"schema\": \"gomem/summary/v1\", \"target\": {\"source\": \"core\", \"exe\": \"a/exe\", "
    "\"core\": \"a/core\", \"pid\": 7, \"go_version\": \"go1.26.8\", \"core_kind\": "
    "\"kernel\"}, \"vsz_bytes\": 1000, \"rss_bytes\": 100, \"memstats\": {\"HeapAlloc\": 64, "
    "\"NextGC\": 18446744073709551615}, \"heap\": {\"spans\": {\"in_use\": 2}, \"objects\": 3}, "
    "\"classes\": [{\"class\": 0, \"object_size\": 0, \"spans\": 1, \"objects\": 1, "
    "\"object_bytes\": 40960, \"free_slots\": 0, \"free_slot_bytes\": 0, \"tail_waste_bytes\": "
    "0}, {\"class\": 2, \"object_size\": 16, \"spans\": 1, \"objects\": 2, \"object_bytes\": 32, "
    "\"free_slots\": 510, \"free_slot_bytes\": 8160, \"tail_waste_bytes\": 0}], \"breakdown\": "
    "{\"name\": \"process\", \"vsz_bytes\": 1000, \"rss_bytes\": 100, \"children\": [{\"name\": "
    "\"Go heap\", \"vsz_bytes\": 600, \"rss_bytes\": 60, \"children\": []}, {\"name\": "
    "\"unknown\", \"vsz_bytes\": 400, \"rss_bytes\": null, \"children\": []}]}, \"warnings\": "
    "[\"a warning\"]}";

static void diff(const char *a, const char *b)
{
	for (int json = 0; json < 2; json++) {
		char *out = NULL;
		struct gomem_error *err = gomem_diff_summaries(a, b, json, &out);
		if (err && !gomem_error_message(err)[0])
			fz_die("diff", "an error without a message");
		if (!err && !out)
			fz_die("diff", "no output and no error");
		gomem_error_destroy(err);
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct gm_json *v = NULL;
	struct gomem_error *err = gm_json_parse(text, size, "input", &v);
	gomem_error_destroy(err);
	gm_json_destroy(v);
	/* The diff reads NUL-terminated texts: a NUL inside ends the input there. */
	diff(summary_a, text);
	diff(text, summary_a);
	diff(text, text);
	free(text);
	return 0;
}
