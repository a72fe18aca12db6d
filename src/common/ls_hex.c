/* ls_hex.c - hex encoding (see ls_hex.h). */
#include "ls_hex.h"

#include <string.h>

#include "logshare.h"

void ls_hex_encode(const unsigned char *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

int ls_hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ls_hex_decode(const char *hex, unsigned char *out, size_t out_len)
{
    if (!hex || strlen(hex) != 2 * out_len)
        return LOGSHARE_EINVAL;
    for (size_t i = 0; i < out_len; i++) {
        int hi = ls_hex_digit_value(hex[2 * i]), lo = ls_hex_digit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return LOGSHARE_EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
