/*
 * Wildcard matching for policy patterns. Iterative, with one remembered star: when a
 * later literal fails, only the most recent `*` needs to take one more character,
 * because everything before it is already matched by the shortest possible prefix.
 * That bounds the work to O(pattern * subject) even for "*a*a*a*...b" against a long
 * run of 'a', where naive recursive backtracking is exponential.
 */
#include "policy_int.h"

/* Length of the code point at s[i]: `?` is one character, not one byte. Invalid or
 * truncated sequences count byte by byte so matching never reads past len. */
static size_t glob__cp_len(const char *s, size_t i, size_t len)
{
    uint8_t c = (uint8_t)s[i];
    size_t need = c >= 0xF0 && c <= 0xF7 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (c >= 0xF8 || need > len - i - 1)
        return 1;
    for (size_t k = 1; k <= need; k++)
        if (((uint8_t)s[i + k] & 0xC0) != 0x80)
            return 1;
    return need + 1;
}

static uint8_t glob__fold(uint8_t c, bool fold)
{
    return fold && c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

static bool glob__lit_eq(const struct iotc_policy__item *it, uint8_t c, bool fold)
{
    if (it->kind != IOTC_POLICY__LIT && it->kind != IOTC_POLICY__VLIT)
        return false;
    return glob__fold(it->c, fold) == glob__fold(c, fold);
}

bool iotc_policy__glob(const struct iotc_policy__item *items, size_t n, const char *s, size_t len, bool fold)
{
    size_t p = 0, t = 0;
    size_t star_p = 0, star_t = 0;
    bool have_star = false;

    while (t < len) {
        if (p < n && items[p].kind == IOTC_POLICY__STAR) {
            have_star = true;
            star_p = ++p;
            star_t = t;
            continue;
        }
        if (p < n && items[p].kind == IOTC_POLICY__QMARK) {
            p++;
            t += glob__cp_len(s, t, len);
            continue;
        }
        if (p < n && glob__lit_eq(&items[p], (uint8_t)s[t], fold)) {
            p++;
            t++;
            continue;
        }
        if (!have_star)
            return false;
        /* The last star swallows one more character and the rest is retried. */
        star_t += glob__cp_len(s, star_t, len);
        p = star_p;
        t = star_t;
    }
    while (p < n && items[p].kind == IOTC_POLICY__STAR)
        p++;
    return p == n;
}
