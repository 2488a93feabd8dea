/*
 * test_escape.c - urg_escape(): what a terminal or a log may receive from
 * a peer's text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "urg_guest.h"

static void expect(const char *in, size_t len, const char *keep, const char *want)
{
    char out[256];
    size_t n = urg_escape(in, len, keep, out, sizeof(out));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_controls_escaped(void **state)
{
    (void)state;
    expect("\x1b[2J", 4, NULL, "\\x1b[2J");
    expect("a\x07" "b\x7f" "c", 5, NULL, "a\\x07b\\x7fc");
    expect("x\0y", 3, NULL, "x\\x00y");
    expect("line\r\n\tend", 10, NULL, "line\\x0d\\x0a\\x09end");
    /* keep lets chosen C0 controls through, never ESC unless listed */
    expect("line\r\n\tend\x1b", 11, "\n\t", "line\\x0d\n\tend\\x1b");
    /* C1 controls: U+0080..U+009F, a CSI among them */
    expect("\xc2\x9b" "31m", 5, NULL, "\\xc2\\x9b31m");
    expect("\xc2\x80\xc2\x9f", 4, NULL, "\\xc2\\x80\\xc2\\x9f");
}

static void test_utf8_checked(void **state)
{
    (void)state;
    /* well-formed: passed unchanged */
    expect("caf\xc3\xa9", 5, NULL, "caf\xc3\xa9");
    expect("\xc2\xa0", 2, NULL, "\xc2\xa0");             /* U+00A0, the first after C1 */
    expect("\xe2\x82\xac", 3, NULL, "\xe2\x82\xac");     /* euro sign */
    expect("\xf0\x9f\x98\x80", 4, NULL, "\xf0\x9f\x98\x80"); /* an emoji */
    expect("\xf4\x8f\xbf\xbf", 4, NULL, "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    /* ill-formed: every byte escaped */
    expect("\xc0\xaf", 2, NULL, "\\xc0\\xaf");            /* overlong '/' */
    expect("\xe0\x80\xaf", 3, NULL, "\\xe0\\x80\\xaf");   /* overlong */
    expect("\xed\xa0\x80", 3, NULL, "\\xed\\xa0\\x80");   /* a surrogate */
    expect("\xf4\x90\x80\x80", 4, NULL, "\\xf4\\x90\\x80\\x80"); /* over U+10FFFF */
    expect("\xf5\x80", 2, NULL, "\\xf5\\x80");
    expect("\x80x", 2, NULL, "\\x80x");                   /* a lone continuation */
    expect("ab\xe2\x82", 4, NULL, "ab\\xe2\\x82");        /* cut at the end */
    expect("\xe2\x82" "A", 3, NULL, "\\xe2\\x82" "A");    /* cut in the middle */
}

static void test_bounded_output(void **state)
{
    char out[8];
    size_t n;
    (void)state;
    /* snprintf semantics: the whole length is returned, and the output is
     * cut only between units (never inside an escape or a character). */
    n = urg_escape("ab\x1b" "cd", 5, NULL, out, sizeof(out));
    assert_int_equal(n, 8);
    assert_string_equal(out, "ab\\x1bc");
    n = urg_escape("abcd\x1b", 5, NULL, out, sizeof(out));
    assert_int_equal(n, 8);
    assert_string_equal(out, "abcd");
    n = urg_escape("abcdef\xc3\xa9", 8, NULL, out, sizeof(out));
    assert_int_equal(n, 8);
    assert_string_equal(out, "abcdef");
    n = urg_escape("\x1b\x1b\x1b", 3, NULL, NULL, 0);
    assert_int_equal(n, 12);
    n = urg_escape("", 0, NULL, out, sizeof(out));
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
}

/* Units, for text that comes in pieces: a cut character is told apart
 * from an ill-formed one. */
static void test_units(void **state)
{
    (void)state;
    assert_int_equal(urg_escape_unit("a", 1, NULL), 1);
    assert_int_equal(urg_escape_unit("\n", 1, NULL), 0);
    assert_int_equal(urg_escape_unit("\n", 1, "\n\t"), 1);
    assert_int_equal(urg_escape_unit("\x1b", 1, "\n\t"), 0);
    assert_int_equal(urg_escape_unit("\xc3\xa9", 2, NULL), 2);
    assert_int_equal(urg_escape_unit("\xc3", 1, NULL), -1);          /* cut */
    assert_int_equal(urg_escape_unit("\xf0\x9f\x98", 3, NULL), -1);
    assert_int_equal(urg_escape_unit("\xf0\x9f\x98\x80", 4, NULL), 4);
    assert_int_equal(urg_escape_unit("\xe0\x80", 2, NULL), 0);      /* overlong, not cut */
    assert_int_equal(urg_escape_unit("\xc2", 1, NULL), -1);          /* could be U+00A0.. */
    assert_int_equal(urg_escape_unit("\xc2\x9b", 2, NULL), 0);      /* a C1 control */
    assert_int_equal(urg_escape_unit("\x80", 1, NULL), 0);
}

/* Every one of the 65,536 two-byte inputs: the output never holds a
 * control, DEL or a C1 control, and is well-formed UTF-8 (checked by
 * escaping it again: it must come back unchanged). */
static void test_all_two_byte_inputs(void **state)
{
    char out[16], again[32];
    (void)state;
    for (unsigned v = 0; v < 65536; v++) {
        uint8_t in[2] = { (uint8_t)(v >> 8), (uint8_t)v };
        size_t n = urg_escape(in, 2, NULL, out, sizeof(out));
        assert_true(n <= 8);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = (uint8_t)out[i];
            assert_true(c >= 0x20 && c != 0x7f);
            assert_false(c == 0xc2 && i + 1 < n && (uint8_t)out[i + 1] < 0xa0);
        }
        assert_int_equal(urg_escape(out, n, NULL, again, sizeof(again)), n);
        assert_memory_equal(out, again, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controls_escaped),
        cmocka_unit_test(test_utf8_checked),
        cmocka_unit_test(test_bounded_output),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_all_two_byte_inputs),
    };
    return cmocka_run_group_tests_name("escape", tests, NULL, NULL);
}
