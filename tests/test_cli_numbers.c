/* The command-line tool's parsers of user strings (cli/util.c): whole-string integers and reals
 * in a range, and lists such as "0-9,12". The CLI is an executable, not part of the library, so
 * its helpers are compiled into this test directly. Their complaints go to stderr, which the
 * cases below do not check. */
#include <limits.h>

#include "testutil.h"
#include "../cli/util.c"

static void test_numbers(void **state) {
    (void)state;
    long v = 0;
    double d = 0;
    assert_true(cli_parse_int("--n", "42", 0, 100, &v) && v == 42);
    assert_false(cli_parse_int("--n", "42x", 0, 100, &v));
    assert_false(cli_parse_int("--n", "", 0, 100, &v));
    assert_false(cli_parse_int("--n", "101", 0, 100, &v));
    assert_false(cli_parse_int("--n", "99999999999999999999", LONG_MIN, LONG_MAX, &v));
    assert_true(cli_parse_double("--x", "1e-4", 0, 1, &d) && d == 1e-4);
    assert_false(cli_parse_double("--x", "nan", 0, 1, &d));
    assert_false(cli_parse_double("--x", "inf", 0, 1e300, &d));
}

static void test_lists(void **state) {
    (void)state;
    long out[16];
    assert_int_equal(cli_parse_int_list("--classes", "0-2,5", 0, 9, out, 16), 4);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[3], 5);
    assert_int_equal(cli_parse_int_list("--classes", "0-9", 0, 9, out, 4), -1); /* more than max */
    assert_int_equal(cli_parse_int_list("--classes", "3-1", 0, 9, out, 16), -1);
    assert_int_equal(cli_parse_int_list("--classes", "1,,2", 0, 9, out, 16), -1);
    assert_int_equal(cli_parse_int_list("--classes", "", 0, 9, out, 16), -1);
}

/* Found by fuzzing (tests/fixtures/fuzz-regressions/cli_numbers_long_max): a range ending at
 * the upper bound LONG_MAX made the loop step past it, a signed overflow (undefined behaviour;
 * in practice the list went on with LONG_MIN). No command uses that bound today (the largest is
 * 2^31 - 1 for --seeds), but the helper takes any. */
static void test_list_at_long_max(void **state) {
    (void)state;
    long out[4] = {0, 0, 0, 0};
    assert_int_equal(cli_parse_int_list("--seeds", "9223372036854775807", 0, LONG_MAX, out, 2), 1);
    assert_true(out[0] == LONG_MAX);
    assert_int_equal(cli_parse_int_list("--seeds", "9223372036854775806-9223372036854775807", 0, LONG_MAX, out, 4), 2);
    assert_true(out[0] == LONG_MAX - 1 && out[1] == LONG_MAX);
    assert_int_equal(cli_parse_int_list("--seeds", "-9223372036854775808", LONG_MIN, LONG_MAX, out, 4), 1);
    assert_true(out[0] == LONG_MIN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_list_at_long_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
