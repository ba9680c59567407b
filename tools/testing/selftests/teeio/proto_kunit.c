// SPDX-License-Identifier: GPL-2.0
/*
 * Loads the protocol library's KUnit module and checks, from userspace, that
 * it came up, that its suites ran in this kernel and passed, and that it
 * unloads cleanly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "teeio_test_util.h"

#define MODULE_NAME "teeio_proto_kunit"
#define KUNIT_DIR "/sys/kernel/debug/kunit/"

/* Suites the module must register, and the fewest cases each must run. */
static const struct {
	const char *name;
	int min_cases;
} suites[] = {
	{ "teeio_proto_accept", 6 },
	{ "teeio_proto_doe", 4 },
	{ "teeio_proto_ide_km", 4 },
	{ "teeio_proto_kernel_abi", 2 },
	{ "teeio_proto_spdm", 7 },
	{ "teeio_proto_tdi_state", 8 },
	{ "teeio_proto_tdisp", 13 },
	{ "teeio_proto_tdisp_report", 5 },
	{ "teeio_proto_wire", 2 },
};

FIXTURE(proto_kunit) {
	char results[16384];
};

FIXTURE_SETUP(proto_kunit)
{
	int ret = teeio_load_module(MODULE_NAME);

	if (ret == -EEXIST) {
		ASSERT_EQ(0, teeio_unload_module(MODULE_NAME));
		ret = teeio_load_module(MODULE_NAME);
	}
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(proto_kunit)
{
	teeio_unload_module(MODULE_NAME);
}

TEST_F(proto_kunit, module_is_live)
{
	char state[32];

	ASSERT_LT(0, teeio_read_file("/sys/module/" MODULE_NAME "/initstate",
				     state, sizeof(state)));
	EXPECT_STREQ("live\n", state);
}

TEST_F(proto_kunit, suites_ran_and_passed)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		char path[256], *line, *save;
		int cases_ok = 0, cases_failed = 0, suite_ok = 0;

		snprintf(path, sizeof(path), KUNIT_DIR "%s/results", suites[i].name);
		ASSERT_LT(0, teeio_read_file(path, self->results, sizeof(self->results)))
			TH_LOG("no KUnit results for suite %s", suites[i].name);

		/* Cases are indented; the suite's own result is not. */
		for (line = strtok_r(self->results, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *body = line + strspn(line, " ");

			if (body == line) {
				if (!strncmp(line, "ok ", 3))
					suite_ok = 1;
				continue;
			}
			if (!strncmp(body, "ok ", 3))
				cases_ok++;
			else if (!strncmp(body, "not ok ", 7))
				cases_failed++;
		}
		EXPECT_EQ(0, cases_failed) TH_LOG("suite %s", suites[i].name);
		EXPECT_LE(suites[i].min_cases, cases_ok) TH_LOG("suite %s", suites[i].name);
		EXPECT_EQ(1, suite_ok) TH_LOG("suite %s", suites[i].name);
	}
}

TEST_F(proto_kunit, second_load_is_eexist)
{
	EXPECT_EQ(-EEXIST, teeio_load_module(MODULE_NAME));
}

TEST(unload_removes_module_and_suites)
{
	struct stat st;

	ASSERT_EQ(0, teeio_load_module(MODULE_NAME));
	ASSERT_EQ(0, stat(KUNIT_DIR "teeio_proto_tdisp", &st));
	ASSERT_EQ(0, teeio_unload_module(MODULE_NAME));
	EXPECT_EQ(-1, stat("/sys/module/" MODULE_NAME, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(KUNIT_DIR "teeio_proto_tdisp", &st));
	EXPECT_EQ(-ENOENT, teeio_unload_module(MODULE_NAME));
}

TEST_HARNESS_MAIN
