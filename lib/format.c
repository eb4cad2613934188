/*
 * A small printf engine.  Output goes through struct sink, which counts every
 * character but stores only what fits, so truncation needs no special case.
 */
#include "lib/format.h"

#include <stdint.h>

/* Widths and precisions are capped here: a hostile or buggy '*' argument
 * must not make one conversion pad for gigabytes. */
#define MAX_FIELD 4096

struct sink {
	char *buf;
	size_t size;	/* room in buf, including the NUL */
	size_t len;	/* characters produced so far, stored or not */
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void put_repeated(struct sink *s, char c, int count)
{
	while (count-- > 0)
		put(s, c);
}

/* One conversion's flags, width and precision. */
struct spec {
	int left;	/* '-': pad on the right */
	int zero;	/* '0': pad numbers with zeros */
	int plus;	/* '+': sign on positive numbers */
	int space;	/* ' ': space before positive numbers */
	int alt;	/* '#': 0x prefix, leading 0 for octal */
	int width;
	int precision;	/* -1 when not given */
};

static void put_padded(struct sink *s, const struct spec *sp,
		       const char *text, int len)
{
	if (!sp->left)
		put_repeated(s, ' ', sp->width - len);
	for (int i = 0; i < len; i++)
		put(s, text[i]);
	if (sp->left)
		put_repeated(s, ' ', sp->width - len);
}

static void put_string(struct sink *s, const struct spec *sp, const char *str)
{
	int len = 0;

	if (!str)
		str = "(null)";
	while (str[len] && (sp->precision < 0 || len < sp->precision))
		len++;
	put_padded(s, sp, str, len);
}

/*
 * Print an unsigned magnitude with an optional sign/prefix, following the C
 * rules: precision is the minimum digit count (and disables '0'), '0' pads
 * between prefix and digits, width pads the whole field.
 */
static void put_number(struct sink *s, const struct spec *sp,
		       unsigned long long value, unsigned base, int upper,
		       const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];	/* 2^64 in octal has 22 digits */
	int ndigits = 0;

	while (value) {
		tmp[ndigits++] = digits[value % base];
		value /= base;
	}
	/* "%.0d" of zero prints no digits at all, as C specifies. */
	if (ndigits == 0 && sp->precision != 0)
		tmp[ndigits++] = '0';

	int nzeros = sp->precision > ndigits ? sp->precision - ndigits : 0;
	/* '#' with octal: the first digit must be 0. */
	if (base == 8 && sp->alt && nzeros == 0 &&
	    (ndigits == 0 || tmp[ndigits - 1] != '0'))
		nzeros = 1;

	int prefix_len = 0;
	while (prefix[prefix_len])
		prefix_len++;

	int body = prefix_len + nzeros + ndigits;
	if (sp->zero && !sp->left && sp->precision < 0 && sp->width > body) {
		nzeros += sp->width - body;
		body = sp->width;
	}

	if (!sp->left)
		put_repeated(s, ' ', sp->width - body);
	for (int i = 0; i < prefix_len; i++)
		put(s, prefix[i]);
	put_repeated(s, '0', nzeros);
	while (ndigits)
		put(s, tmp[--ndigits]);
	if (sp->left)
		put_repeated(s, ' ', sp->width - body);
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

static unsigned long long take_unsigned(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR:	return (unsigned char)va_arg(*ap, unsigned int);
	case LEN_SHORT:	return (unsigned short)va_arg(*ap, unsigned int);
	case LEN_LONG:	return va_arg(*ap, unsigned long);
	case LEN_LLONG:	return va_arg(*ap, unsigned long long);
	case LEN_SIZE:	return va_arg(*ap, size_t);
	default:	return va_arg(*ap, unsigned int);
	}
}

static long long take_signed(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR:	return (signed char)va_arg(*ap, int);
	case LEN_SHORT:	return (short)va_arg(*ap, int);
	case LEN_LONG:	return va_arg(*ap, long);
	case LEN_LLONG:	return va_arg(*ap, long long);
	case LEN_SIZE:	return (long long)va_arg(*ap, size_t);
	default:	return va_arg(*ap, int);
	}
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parse flags, width, precision and length; returns the conversion char. */
static const char *parse_spec(const char *p, struct spec *sp,
			      enum length *len, va_list *ap)
{
	*sp = (struct spec){ .precision = -1 };
	for (;; p++) {
		if (*p == '-')		sp->left = 1;
		else if (*p == '0')	sp->zero = 1;
		else if (*p == '+')	sp->plus = 1;
		else if (*p == ' ')	sp->space = 1;
		else if (*p == '#')	sp->alt = 1;
		else			break;
	}
	if (*p == '*') {
		int w = va_arg(*ap, int);
		if (w < 0) {		/* a negative '*' width means '-' */
			sp->left = 1;
			/* -INT_MIN overflows; no sane width is that big. */
			w = w < -MAX_FIELD ? MAX_FIELD : -w;
		}
		sp->width = w > MAX_FIELD ? MAX_FIELD : w;
		p++;
	} else {
		while (is_digit(*p)) {
			sp->width = sp->width * 10 + (*p++ - '0');
			if (sp->width > MAX_FIELD)	/* and no int overflow */
				sp->width = MAX_FIELD;
		}
	}
	if (*p == '.') {
		p++;
		sp->precision = 0;
		if (*p == '*') {
			sp->precision = va_arg(*ap, int);
			if (sp->precision < 0)
				sp->precision = -1;
			else if (sp->precision > MAX_FIELD)
				sp->precision = MAX_FIELD;
			p++;
		} else {
			while (is_digit(*p)) {
				sp->precision = sp->precision * 10 + (*p++ - '0');
				if (sp->precision > MAX_FIELD)
					sp->precision = MAX_FIELD;
			}
		}
	}
	*len = LEN_INT;
	if (p[0] == 'h' && p[1] == 'h')		{ *len = LEN_CHAR;  p += 2; }
	else if (p[0] == 'h')			{ *len = LEN_SHORT; p += 1; }
	else if (p[0] == 'l' && p[1] == 'l')	{ *len = LEN_LLONG; p += 2; }
	else if (p[0] == 'l')			{ *len = LEN_LONG;  p += 1; }
	else if (p[0] == 'z')			{ *len = LEN_SIZE;  p += 1; }
	return p;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct sink s = { .buf = buf, .size = size, .len = 0 };
	va_list ap;

	va_copy(ap, ap_in);
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&s, *p);
			continue;
		}
		const char *start = p;
		struct spec sp;
		enum length len;
		p = parse_spec(p + 1, &sp, &len, &ap);

		switch (*p) {
		case 'd':
		case 'i': {
			long long v = take_signed(&ap, len);
			unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v
						       : (unsigned long long)v;
			const char *sign = v < 0 ? "-" : sp.plus ? "+" :
					   sp.space ? " " : "";
			put_number(&s, &sp, mag, 10, 0, sign);
			break;
		}
		case 'u':
			put_number(&s, &sp, take_unsigned(&ap, len), 10, 0, "");
			break;
		case 'o':
			put_number(&s, &sp, take_unsigned(&ap, len), 8, 0, "");
			break;
		case 'x':
		case 'X': {
			unsigned long long v = take_unsigned(&ap, len);
			const char *prefix = (sp.alt && v) ?
					     (*p == 'x' ? "0x" : "0X") : "";
			put_number(&s, &sp, v, 16, *p == 'X', prefix);
			break;
		}
		case 'p': {
			/* Always 0x and the full pointer width, unlike glibc. */
			struct spec psp = { .precision = 2 * (int)sizeof(void *),
					    .width = sp.width, .left = sp.left };
			put_number(&s, &psp, (uintptr_t)va_arg(ap, void *), 16, 0,
				   "0x");
			break;
		}
		case 's':
			put_string(&s, &sp, va_arg(ap, const char *));
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			sp.precision = -1;
			put_padded(&s, &sp, &c, 1);
			break;
		}
		case '%':
			put(&s, '%');
			break;
		default:
			/* Unknown conversion: print it as it stands, consume nothing. */
			for (const char *q = start; q <= p && *q; q++)
				put(&s, *q);
			if (!*p)
				p--;	/* the format ended inside the spec */
			break;
		}
	}
	va_end(ap);

	if (size > 0)
		buf[s.len < size ? s.len : size - 1] = '\0';
	return (int)s.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
