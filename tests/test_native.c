/* test_native.c -- the temporary key names of huge values (native.h).
 *
 * Checked: the cluster hash slot against the values Redis documents for
 * CLUSTER KEYSLOT; a temporary name starts with "rdbsync:tmp:{", lies in
 * the slot of its key for keys with a hash tag, without one, with '{' or
 * '}' but no usable tag, and the empty key; two names for one key differ.
 */
#include "rdb/encode.h"
#include "src/native.h"
#include "tests/test.h"

int main(void) {
    test_eq_uint("native.slot.somekey", 11058, nativeKeySlot("somekey", 7));
    test_eq_uint("native.slot.tag", 2515, nativeKeySlot("foo{hash_tag}", 13));
    test_eq_uint("native.slot.tag_same", 2515, nativeKeySlot("bar{hash_tag}", 13));
    static const char *keys[] = {"k", "k:rdbsync-tmp", "{user1}:big", "a{}b", "a}b", "}", "{}x}", "x{y}z",
                                 "{{a}}", "", "rdbsync:tmp:{k}:1:2"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
        TEST(test_fmt("native.tmp_name.%zu", i)) {
            rdbBuf a = {0}, b = {0};
            size_t kl = strlen(keys[i]);
            if (!CHECK(nativeTmpName(keys[i], kl, &a) == 0 && nativeTmpName(keys[i], kl, &b) == 0)) continue;
            CHECK(a.len > 13 && memcmp(a.p, "rdbsync:tmp:{", 13) == 0);
            CHECK_EQ_INT((int)nativeKeySlot(keys[i], kl), (int)nativeKeySlot((const char *)a.p, a.len));
            CHECK(a.len != b.len || memcmp(a.p, b.p, a.len) != 0);
            rdbBufFree(&a);
            rdbBufFree(&b);
        }
    }
    return test_report();
}
