/*
 * X-Amz-Date and the credential scope date. Validated by hand (no strptime: it
 * accepts spaces, signs and short fields) and converted without timegm() so the
 * result never depends on the process time zone.
 */
#include "sigv4_int.h"
#include "common/err.h"

static bool date__digits(const char *s, size_t n, int *v)
{
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

static int date__days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long long date__days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool date__ymd(const char *s, int *y, int *m, int *d)
{
    if (!date__digits(s, 4, y) || !date__digits(s + 4, 2, m) || !date__digits(s + 6, 2, d))
        return false;
    return *m >= 1 && *m <= 12 && *d >= 1 && *d <= date__days_in_month(*y, *m);
}

bool iotc_sigv4__date8_valid(const char *s, size_t n)
{
    int y, m, d;
    return n == 8 && date__ymd(s, &y, &m, &d);
}

int iotc_sigv4__amz_date_parse(const char *s, time_t *t)
{
    int y, mo, d, h, mi, se;
    /* every index below is < 16 and s has 16 characters before the NUL */
    for (size_t i = 0; i < 16; i++)
        if (s[i] == '\0')
            return IOTC_ERR_MALFORMED;
    if (s[16] != '\0' || s[8] != 'T' || s[15] != 'Z')
        return IOTC_ERR_MALFORMED;
    if (!date__ymd(s, &y, &mo, &d) || !date__digits(s + 9, 2, &h) ||
        !date__digits(s + 11, 2, &mi) || !date__digits(s + 13, 2, &se))
        return IOTC_ERR_MALFORMED;
    if (h > 23 || mi > 59 || se > 59)
        return IOTC_ERR_MALFORMED;
    long long secs = date__days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + se;
    if (sizeof(time_t) < 8 && (secs > 0x7FFFFFFFLL || secs < 0))
        return IOTC_ERR_MALFORMED;
    *t = (time_t)secs;
    return IOTC_OK;
}
