//! `Number`: DynamoDB's exact decimal number type.
//!
//! Owns the textual syntax DynamoDB accepts for `N` values, the limits it
//! enforces (at most 38 significant digits, magnitude from 1E-130 up to
//! 9.9999999999999999999999999999999999999E+125, or zero), the canonical text
//! it returns, exact addition and subtraction, the item-size contribution of a
//! number, and an order-preserving byte encoding for keys. It does not know
//! about JSON, attribute values or tables; the wire error (`ValidationException`
//! plus message) is built from [`NumberError`]'s `Display` elsewhere.
//!
//! Representation and invariants: a value is `±mantissa × 10^exponent` where
//!
//! * zero is exactly `{ negative: false, mantissa: 0, exponent: 0 }` (so `-0`
//!   is `0`);
//! * otherwise `mantissa` has no trailing decimal zeros and at most 38 digits,
//!   and the magnitude (`exponent + digits - 1`, the power of ten of the
//!   leading digit) lies in `-130..=125`.
//!
//! Because every value has exactly one representation, the derived
//! `PartialEq`/`Hash` are numeric equality (`1`, `1.0` and `10E-1` are equal
//! and hash alike), and `Ord` is implemented numerically to match.
//!
//! No binary floating point is used anywhere: every operation is exact or
//! fails with DynamoDB's error.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Most significant digits a number may carry.
const MAX_DIGITS: u32 = 38;
/// Largest allowed power of ten of the leading digit.
const MAX_MAGNITUDE: i64 = 125;
/// Smallest allowed power of ten of the leading digit.
const MIN_MAGNITUDE: i64 = -130;
/// Exponents written in the input are clamped to this size while parsing, so
/// that adding digit positions to them can never overflow an `i64`; anything
/// this large is far outside the allowed range anyway.
const EXPONENT_CLAMP: i64 = 1 << 60;

/// `POW10[i] == 10^i` for `i` in `0..=38`; `10^38 < 2^127` fits a `u128`.
const POW10: [u128; 39] = pow10_table();
/// `10^38`: one past the largest mantissa, and the radix of [`Wide`].
const TEN_POW_38: u128 = POW10[38];

const fn pow10_table() -> [u128; 39] {
    let mut table = [1u128; 39];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
}

/// Key-encoding tags, one per sign class. They are part of the on-disk key
/// format: never renumber them.
const KEY_TAG_NEGATIVE: u8 = 0x01;
const KEY_TAG_ZERO: u8 = 0x02;
const KEY_TAG_POSITIVE: u8 = 0x03;
/// Ends the digit pairs of a positive number (digit pairs encode as 1..=100).
const KEY_END_POSITIVE: u8 = 0x00;

/// Why a number was rejected. `Display` is DynamoDB's `ValidationException`
/// message, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// The text is not a number in DynamoDB's syntax. DynamoDB echoes the
    /// offending text after a colon, except for the empty string, where the
    /// message stops after "value".
    #[error("The parameter cannot be converted to a numeric value{}", echo_input(.input))]
    Invalid { input: String },
    /// The magnitude is above 9.99…E+125. DynamoDB also reports this for an
    /// addition or subtraction whose exact result needs more than 38 digits.
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )]
    Overflow,
    /// The magnitude is below 1E-130 (and the number is not zero).
    #[error(
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    )]
    Underflow,
    /// More than 38 digits between the first and last non-zero digit.
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooPrecise,
}

fn echo_input(input: &str) -> String {
    if input.is_empty() {
        String::new()
    } else {
        format!(": {input}")
    }
}

/// An exact decimal number within DynamoDB's limits; see the module docs for
/// the invariants that make the derived equality and hash numeric.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    mantissa: u128,
    exponent: i32,
}

impl Number {
    /// Parses DynamoDB's number syntax and enforces its limits.
    ///
    /// Accepted: an optional `+` or `-`, then digits with an optional decimal
    /// point (at least one digit on either side of it: `1`, `1.`, `.5`,
    /// `001.50`), then optionally `e` or `E`, an optional sign and at least
    /// one digit. Nothing else — no whitespace, `Infinity`, `NaN`, hex or
    /// digit separators. Leading and trailing zeros are not significant, and a
    /// zero is accepted whatever its written exponent (DynamoDB rejects `0e126`
    /// yet accepts `0.0e126`; like Alternator, we treat that as DynamoDB's bug).
    ///
    /// Limits are checked in DynamoDB's order: overflow, then underflow, then
    /// the 38-digit precision.
    pub fn parse(s: &str) -> Result<Number, NumberError> {
        let invalid = || NumberError::Invalid {
            input: s.to_owned(),
        };
        let bytes = s.as_bytes();
        let (negative, rest) = match bytes.split_first() {
            Some((b'-', tail)) => (true, tail),
            Some((b'+', tail)) => (false, tail),
            _ => (false, bytes),
        };
        let (int_digits, rest) = split_digits(rest);
        let (frac_digits, rest) = match rest.split_first() {
            Some((b'.', tail)) => split_digits(tail),
            _ => (&rest[..0], rest),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid());
        }
        let written_exponent = match rest.split_first() {
            None => 0,
            Some((b'e' | b'E', tail)) => parse_exponent(tail).ok_or_else(invalid)?,
            Some(_) => return Err(invalid()),
        };

        // Digit `i` of the integer and fraction digits taken together has
        // place value 10^(int_len - 1 - i) before the written exponent.
        let digits = || int_digits.iter().chain(frac_digits).map(|b| b - b'0');
        let Some(first) = digits().position(|d| d != 0) else {
            return Ok(Number::zero());
        };
        let total = int_digits.len() + frac_digits.len();
        let last = total - 1 - digits().rev().position(|d| d != 0).unwrap_or(0);
        let place = |i: usize| -> i64 {
            to_i64(int_digits.len())
                .saturating_sub(to_i64(i))
                .saturating_sub(1)
                .saturating_add(written_exponent)
        };

        let magnitude = place(first);
        if magnitude > MAX_MAGNITUDE {
            return Err(NumberError::Overflow);
        }
        if magnitude < MIN_MAGNITUDE {
            return Err(NumberError::Underflow);
        }
        if last - first >= MAX_DIGITS as usize {
            return Err(NumberError::TooPrecise);
        }
        let mantissa = digits()
            .skip(first)
            .take(last - first + 1)
            .fold(0u128, |m, d| m * 10 + u128::from(d));
        let exponent = i32::try_from(place(last)).map_err(|_| NumberError::Overflow)?;
        Ok(Number {
            negative,
            mantissa,
            exponent,
        })
    }

    /// The exact value of an `i64`.
    pub fn from_i64(v: i64) -> Number {
        // Any i64 has at most 19 digits, far inside every limit.
        normalize(v < 0, u128::from(v.unsigned_abs()), 0).unwrap_or_else(|_| Number::zero())
    }

    pub const fn zero() -> Number {
        Number {
            negative: false,
            mantissa: 0,
            exponent: 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// True for values below zero; zero itself is never negative.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Exact `self + other`.
    ///
    /// A result above the range, or one that would need more than 38
    /// significant digits, is [`NumberError::Overflow`]: DynamoDB reports the
    /// overflow message for both (Alternator's
    /// `test_update_expression_plus_imprecise` notes it for `1e50 - 1`). A
    /// non-zero result below 1E-130, possible only when two 38-digit operands
    /// nearly cancel (`1.0000000000000000000000000000000000001E-130 - 1E-130`),
    /// is [`NumberError::Underflow`].
    pub fn checked_add(&self, other: &Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Ok(self.clone());
        }
        if self.is_zero() {
            return Ok(other.clone());
        }
        let (high, low) = if self.exponent >= other.exponent {
            (self, other)
        } else {
            (other, self)
        };
        // `shift` is how far `high` sits above `low`'s last digit. Past 38 the
        // sum needs more than 38 digits: its last non-zero digit is `low`'s
        // last digit, and its leading digit is at least 38 places above it.
        let shift = u32::try_from(i64::from(high.exponent) - i64::from(low.exponent))
            .map_err(|_| NumberError::Overflow)?;
        if shift > MAX_DIGITS {
            return Err(NumberError::Overflow);
        }
        let x = Wide::shifted(high.mantissa, shift);
        let y = low.mantissa;
        let (negative, sum) = if high.negative == low.negative {
            (high.negative, x.add(y))
        } else {
            match x.cmp_narrow(y) {
                Ordering::Greater => (high.negative, x.sub(y)),
                Ordering::Less => (low.negative, Wide::narrow(y - x.lo)),
                Ordering::Equal => return Ok(Number::zero()),
            }
        };
        // `to_mantissa` leaves fewer than 39 digits, so `normalize` can only
        // fail on the range, never on precision.
        let (mantissa, extra_exponent) = sum.to_mantissa().ok_or(NumberError::Overflow)?;
        normalize(negative, mantissa, i64::from(low.exponent) + extra_exponent)
    }

    /// Exact `self - other`, with the same errors as [`Number::checked_add`].
    pub fn checked_sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.checked_add(&other.negated())
    }

    /// Bytes this number adds to an item's size.
    ///
    /// DynamoDB documents the size as roughly one byte per two significant
    /// digits plus one. The exact rule used here (dynalite's, which it
    /// calibrated against DynamoDB's consumed capacity) counts base-100 digits:
    /// the significant digits grouped in pairs aligned on the decimal point
    /// (`12.3456` is `12|34|56`, three pairs; `1.5` is `01|50`, two), plus one
    /// byte, plus one more byte for a negative number. Zero is one byte.
    pub fn size(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let pairs = self.magnitude().div_euclid(2) - i64::from(self.exponent).div_euclid(2) + 1;
        // `pairs` is between 1 and 20 by the invariants.
        1 + usize::try_from(pairs).unwrap_or(0) + usize::from(self.negative)
    }

    /// Appends the key encoding of this number to `out`.
    ///
    /// Format (part of the on-disk key format; never change it):
    ///
    /// * zero: the single byte `0x02`;
    /// * positive: `0x03`, then one byte `magnitude + 130` (0..=255, the power
    ///   of ten of the leading digit), then the significant digits read as a
    ///   fraction `0.d1d2d3…`, two at a time, each pair `p` (0..=99) as the
    ///   byte `p + 1`, an odd last digit padded with a `0`, then `0x00`;
    /// * negative: `0x01`, then the positive encoding of its absolute value
    ///   (without the tag) with every byte inverted (`!b`), so the end marker
    ///   is `0xFF`.
    ///
    /// Equal numbers encode identically, and `memcmp` order is numeric order:
    /// the tag orders by sign; for positives a larger magnitude wins, then the
    /// digit pairs compare like the digits, and when one digit sequence is a
    /// prefix of the other the shorter one (the smaller number) ends in `0x00`
    /// where the longer has a pair byte (≥ 1). Inverting every byte reverses
    /// all of this for negatives. The encoding is self-delimiting: pair bytes
    /// never equal the end marker, so two encodings always differ at or before
    /// the end of the shorter one, and bytes appended after an encoding never
    /// affect how two numbers compare.
    pub fn encode_key(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(KEY_TAG_ZERO);
            return;
        }
        out.push(if self.negative {
            KEY_TAG_NEGATIVE
        } else {
            KEY_TAG_POSITIVE
        });
        let start = out.len();
        // The invariants keep this within 0..=255.
        out.push(u8::try_from(self.magnitude() - MIN_MAGNITUDE).unwrap_or(u8::MAX));
        let mut digits = self.scaled_mantissa();
        let mut unit = POW10[36];
        while digits != 0 {
            let pair = digits / unit;
            digits %= unit;
            unit /= 100;
            // `pair` is below 100.
            out.push(u8::try_from(pair + 1).unwrap_or(u8::MAX));
        }
        out.push(KEY_END_POSITIVE);
        if self.negative {
            for b in &mut out[start..] {
                *b = !*b;
            }
        }
    }

    /// Reads one number written by [`Number::encode_key`] from the front of
    /// `input`, returning it and the bytes after it; `None` if the bytes are
    /// not a valid encoding.
    pub fn decode_key(input: &[u8]) -> Option<(Number, &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let negative = match tag {
            KEY_TAG_ZERO => return Some((Number::zero(), rest)),
            KEY_TAG_NEGATIVE => true,
            KEY_TAG_POSITIVE => false,
            _ => return None,
        };
        let byte = |b: u8| if negative { !b } else { b };
        let (&magnitude_byte, mut rest) = rest.split_first()?;
        let magnitude = i64::from(byte(magnitude_byte)) + MIN_MAGNITUDE;
        let mut mantissa: u128 = 0;
        let mut digits: i64 = 0;
        loop {
            let (&b, tail) = rest.split_first()?;
            rest = tail;
            let b = byte(b);
            if b == KEY_END_POSITIVE {
                break;
            }
            if !(1..=100).contains(&b) || digits >= i64::from(MAX_DIGITS) {
                return None;
            }
            mantissa = mantissa * 100 + u128::from(b - 1);
            digits += 2;
        }
        let number = normalize(negative, mantissa, magnitude + 1 - digits).ok()?;
        // Only the canonical encoding of a number is accepted (not, say, a
        // leading or trailing zero digit pair), so that decoding is the exact
        // inverse of encoding.
        let consumed = input.len() - rest.len();
        let mut canonical = Vec::with_capacity(consumed);
        number.encode_key(&mut canonical);
        (canonical[..] == input[..consumed]).then_some((number, rest))
    }

    /// The power of ten of the leading digit; meaningless for zero.
    fn magnitude(&self) -> i64 {
        i64::from(self.exponent) + i64::from(digit_count(self.mantissa)) - 1
    }

    /// The mantissa padded with zeros to exactly 38 digits.
    fn scaled_mantissa(&self) -> u128 {
        let pad = MAX_DIGITS.saturating_sub(digit_count(self.mantissa));
        self.mantissa * POW10[pad as usize]
    }

    fn negated(&self) -> Number {
        Number {
            negative: !self.negative && !self.is_zero(),
            ..self.clone()
        }
    }

    /// -1, 0 or 1.
    fn signum(&self) -> i8 {
        match (self.is_zero(), self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }
}

/// Builds a number from any mantissa and exponent, stripping trailing zeros
/// and checking the limits.
fn normalize(negative: bool, mut mantissa: u128, mut exponent: i64) -> Result<Number, NumberError> {
    if mantissa == 0 {
        return Ok(Number::zero());
    }
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exponent += 1;
    }
    let digits = digit_count(mantissa);
    let magnitude = exponent + i64::from(digits) - 1;
    if magnitude > MAX_MAGNITUDE {
        return Err(NumberError::Overflow);
    }
    if magnitude < MIN_MAGNITUDE {
        return Err(NumberError::Underflow);
    }
    if digits > MAX_DIGITS {
        return Err(NumberError::TooPrecise);
    }
    Ok(Number {
        negative,
        mantissa,
        exponent: i32::try_from(exponent).map_err(|_| NumberError::Overflow)?,
    })
}

/// Number of decimal digits of a non-zero value (1 for zero).
fn digit_count(m: u128) -> u32 {
    m.checked_ilog10().map_or(1, |l| l + 1)
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    s.split_at(n)
}

/// The exponent after `e`: optional sign, then one or more digits, then the
/// end of the input. Huge values saturate at ±[`EXPONENT_CLAMP`].
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', tail)) => (true, tail),
        Some((b'+', tail)) => (false, tail),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0i64, |v, b| {
        v.saturating_mul(10)
            .saturating_add(i64::from(b - b'0'))
            .min(EXPONENT_CLAMP)
    });
    Some(if negative { -value } else { value })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A non-negative integer `hi × 10^38 + lo` with `lo < 10^38`: wide enough for
/// an aligned sum of two 38-digit mantissas that sit up to 38 places apart.
#[derive(Clone, Copy)]
struct Wide {
    hi: u128,
    lo: u128,
}

impl Wide {
    fn narrow(lo: u128) -> Wide {
        Wide { hi: 0, lo }
    }

    /// `m × 10^shift` for `m < 10^38`, `shift <= 38`.
    fn shifted(m: u128, shift: u32) -> Wide {
        let split = POW10[(MAX_DIGITS - shift) as usize];
        Wide {
            hi: m / split,
            lo: (m % split) * POW10[shift as usize],
        }
    }

    /// `self + y` for `y < 10^38`. `lo + y < 2 × 10^38 < 2^128`.
    fn add(self, y: u128) -> Wide {
        let lo = self.lo + y;
        if lo >= TEN_POW_38 {
            Wide {
                hi: self.hi + 1,
                lo: lo - TEN_POW_38,
            }
        } else {
            Wide { hi: self.hi, lo }
        }
    }

    /// `self - y` for `y < self`.
    fn sub(self, y: u128) -> Wide {
        if self.lo >= y {
            Wide {
                hi: self.hi,
                lo: self.lo - y,
            }
        } else {
            Wide {
                hi: self.hi - 1,
                lo: self.lo + TEN_POW_38 - y,
            }
        }
    }

    fn cmp_narrow(self, y: u128) -> Ordering {
        if self.hi > 0 {
            Ordering::Greater
        } else {
            self.lo.cmp(&y)
        }
    }

    /// `(m, e)` with `self == m × 10^e` and `m < 10^38`, if the value has at
    /// most 38 significant digits (`m` may still end in zeros).
    fn to_mantissa(self) -> Option<(u128, i64)> {
        if self.hi == 0 {
            return Some((self.lo, 0));
        }
        if self.lo == 0 {
            return Some((self.hi, 38));
        }
        let zeros = decimal_trailing_zeros(self.lo);
        // Dividing by 10^zeros leaves hi × 10^(38 - zeros) + lo / 10^zeros,
        // which must stay below 10^38.
        if self.hi >= POW10[zeros as usize] {
            return None;
        }
        let m = self.hi * POW10[(MAX_DIGITS - zeros) as usize] + self.lo / POW10[zeros as usize];
        (m < TEN_POW_38).then_some((m, i64::from(zeros)))
    }
}

/// Trailing decimal zeros of a non-zero value.
fn decimal_trailing_zeros(mut m: u128) -> u32 {
    let mut zeros = 0;
    while m != 0 && m.is_multiple_of(10) {
        m /= 10;
        zeros += 1;
    }
    zeros
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let by_sign = self.signum().cmp(&other.signum());
        if by_sign != Ordering::Equal || self.is_zero() {
            return by_sign;
        }
        let by_magnitude = self
            .magnitude()
            .cmp(&other.magnitude())
            .then_with(|| self.scaled_mantissa().cmp(&other.scaled_mantissa()));
        if self.negative {
            by_magnitude.reverse()
        } else {
            by_magnitude
        }
    }
}

/// DynamoDB's canonical text: plain positional notation, never scientific,
/// with no leading zeros before the first integer digit (but a `0` before a
/// leading decimal point), no trailing fractional zeros, no decimal point for
/// integers, no `+`, and `0` for zero. So `1.0` is `1`, `1e3` is `1000`,
/// `.5` is `0.5`, `1E+100` is `1` followed by 100 zeros and `1E-130` is `0.`,
/// 129 zeros and `1`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let digits = self.mantissa.to_string();
        let mut out = String::with_capacity(digits.len() + 135);
        if self.negative {
            out.push('-');
        }
        match usize::try_from(self.exponent) {
            Ok(zeros) => {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', zeros));
            }
            Err(_) => {
                let fraction = self.exponent.unsigned_abs() as usize;
                if digits.len() > fraction {
                    let (int_part, frac_part) = digits.split_at(digits.len() - fraction);
                    out.push_str(int_part);
                    out.push('.');
                    out.push_str(frac_part);
                } else {
                    out.push_str("0.");
                    out.extend(std::iter::repeat_n('0', fraction - digits.len()));
                    out.push_str(&digits);
                }
            }
        }
        f.write_str(&out)
    }
}

impl FromStr for Number {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<Number, NumberError> {
        Number::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn key(n: &Number) -> Vec<u8> {
        let mut out = Vec::new();
        n.encode_key(&mut out);
        out
    }

    const OVERFLOW: &str =
        "Number overflow. Attempting to store a number with magnitude larger than supported range";
    const UNDERFLOW: &str =
        "Number underflow. Attempting to store a number with magnitude smaller than supported range";
    const TOO_PRECISE: &str = "Attempting to store more than 38 significant digits in a Number";

    #[test]
    fn canonical_text_matches_dynamodb_normalization() {
        // Cases from Alternator's test_number_output_normalization, which
        // documents what DynamoDB returns, plus range edges from dynalite.
        let cases: &[(&str, &str)] = &[
            ("1", "1"),
            ("123", "123"),
            ("-5", "-5"),
            ("0", "0"),
            ("10", "10"),
            ("1000", "1000"),
            ("007", "7"),
            ("001.23", "1.23"),
            ("00", "0"),
            ("+3", "3"),
            ("+0", "0"),
            ("+1.5", "1.5"),
            ("1.0", "1"),
            ("1.00", "1"),
            ("1.10", "1.1"),
            ("100.000", "100"),
            ("0.0", "0"),
            ("0.10", "0.1"),
            ("1e3", "1000"),
            ("1E3", "1000"),
            ("1e+3", "1000"),
            ("1E+3", "1000"),
            ("5e1", "50"),
            ("-3e2", "-300"),
            ("1.5e2", "150"),
            ("1.23e4", "12300"),
            ("1e-3", "0.001"),
            ("5e-1", "0.5"),
            ("123e-2", "1.23"),
            ("1.23e-1", "0.123"),
            ("1.0e3", "1000"),
            ("1.00e2", "100"),
            ("1.0e-1", "0.1"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("0e5", "0"),
            ("0.0e3", "0"),
            ("0e-5", "0"),
            (".5", "0.5"),
            (".123", "0.123"),
            ("-.5", "-0.5"),
            ("1e20", "100000000000000000000"),
            ("9.9e10", "99000000000"),
            ("1e-20", "0.00000000000000000001"),
            ("3.14159", "3.14159"),
            ("-273.15", "-273.15"),
            ("0.001", "0.001"),
            ("0.00001", "0.00001"),
            ("1.", "1"),
            ("-15.789e6", "-15789000"),
            ("-0015.789e6", "-15789000"),
            (
                "0000012345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
            ),
            (
                "-00001.23456789012345678901234567890123456780000",
                "-1.2345678901234567890123456789012345678",
            ),
            ("1e0000000000000000000000000000000000000000003", "1000"),
        ];
        for (input, expected) in cases {
            assert_eq!(num(input).to_string(), *expected, "input {input:?}");
        }
        assert_eq!(num("1E+100").to_string(), format!("1{}", "0".repeat(100)));
        assert_eq!(num("1e125").to_string(), format!("1{}", "0".repeat(125)));
        assert_eq!(
            num("0009.99999999999999999999999999999999999990000e125").to_string(),
            format!("{}{}", "9".repeat(38), "0".repeat(88))
        );
        assert_eq!(
            num("-0001.000e-130").to_string(),
            format!("-0.{}1", "0".repeat(129))
        );
    }

    #[test]
    fn accepts_dynamodb_syntax_variants() {
        for s in [
            "3",
            "-7.1234",
            "-17e5",
            "-17.4E37",
            "+3",
            ".123",
            "0001.23",
            "1e+5",
            "1.",
            "-1.",
            "+.5",
            "1E-5",
            "0e126",
            "0.0e126",
            "0e-131",
            "00000",
            "-0e999999999999999999999",
        ] {
            assert!(Number::parse(s).is_ok(), "{s:?} should parse");
        }
    }

    #[test]
    fn rejects_non_numbers_with_the_input_echoed() {
        for s in [
            "abc",
            "1e",
            "--1",
            " 1",
            "1 ",
            "0x10",
            "Infinity",
            "-Infinity",
            "NaN",
            "-NaN",
            "dog",
            "-dog",
            ".",
            "-",
            "+",
            "+-1",
            "-+1",
            "1e+",
            "1e-",
            "e5",
            ".e5",
            "1.2.3",
            "1e5.5",
            "1e5e5",
            "1_000",
            "1,5",
            "١",
            "\u{0}",
            "1e 5",
            "++1",
            "1..2",
            "inf",
        ] {
            let err = Number::parse(s).expect_err(s);
            assert_eq!(
                err,
                NumberError::Invalid {
                    input: s.to_owned()
                }
            );
            assert_eq!(
                err.to_string(),
                format!("The parameter cannot be converted to a numeric value: {s}")
            );
        }
    }

    #[test]
    fn empty_string_error_has_no_colon() {
        assert_eq!(
            Number::parse("").map_err(|e| e.to_string()),
            Err("The parameter cannot be converted to a numeric value".to_owned())
        );
    }

    #[test]
    fn range_and_precision_errors_use_dynamodb_messages() {
        let cases: &[(&str, &str)] = &[
            ("1e126", OVERFLOW),
            ("-1e126", OVERFLOW),
            ("11e125", OVERFLOW),
            ("10e125", OVERFLOW),
            ("0.1e127", OVERFLOW),
            ("1.0e100000000", OVERFLOW),
            ("1e99999999999999999999999999", OVERFLOW),
            ("1e-131", UNDERFLOW),
            ("-1e-131", UNDERFLOW),
            ("0.9e-130", UNDERFLOW),
            ("10e-132", UNDERFLOW),
            ("1e-99999999999999999999999999", UNDERFLOW),
            ("123456789012345678901234567890123456789", TOO_PRECISE),
            ("-1.23456789012345678901234567890123456789", TOO_PRECISE),
            ("3.14159265358979323846264338327950288419", TOO_PRECISE),
            ("314159265358979323846.264338327950288419", TOO_PRECISE),
            ("314159265358979323846264338327950288419e30", TOO_PRECISE),
            ("1.00000000000000000000000000000000000001", TOO_PRECISE),
            // Range is checked before precision.
            ("123456789012345678901234567890123456789e200", OVERFLOW),
            ("123456789012345678901234567890123456789e-200", UNDERFLOW),
        ];
        for (input, message) in cases {
            let err = Number::parse(input).expect_err(input);
            assert_eq!(err.to_string(), *message, "input {input:?}");
        }
    }

    #[test]
    fn accepts_the_documented_range_edges() {
        for s in [
            "1e125",
            "9.9999999999999999999999999999999999999E+125",
            "-9.9999999999999999999999999999999999999E+125",
            "1E-130",
            "-1E-130",
            "9.99999999e125",
            "3.1415926535897932384626433832795028841",
            "314159265358979323846.26433832795028841",
            "31415926535897932384626433832795028841e30",
            "1.0000000000000000000000000000000000000000000000000000",
            "0.1e126",
        ] {
            let n = num(s);
            assert_eq!(num(&n.to_string()), n, "{s:?}");
        }
    }

    #[test]
    fn equal_values_are_equal_and_hash_alike() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |n: &Number| {
            let mut h = DefaultHasher::new();
            n.hash(&mut h);
            h.finish()
        };
        let one = num("1");
        for s in ["1.0", "10E-1", "+1", "0001.000", ".1e1", "100e-2"] {
            assert_eq!(num(s), one, "{s:?}");
            assert_eq!(hash(&num(s)), hash(&one), "{s:?}");
            assert_eq!(num(s).cmp(&one), Ordering::Equal);
            assert_eq!(key(&num(s)), key(&one));
        }
        assert_eq!(num("-0"), Number::zero());
        assert!(!num("-0").is_negative());
        assert!(num("-0.0e5").is_zero());
    }

    #[test]
    fn from_i64_is_exact() {
        for v in [0, 1, -1, 10, -10, 1234500, i64::MAX, i64::MIN] {
            assert_eq!(Number::from_i64(v).to_string(), v.to_string());
            assert_eq!(Number::from_i64(v), num(&v.to_string()));
        }
    }

    #[test]
    fn sign_predicates() {
        assert!(Number::zero().is_zero());
        assert!(!Number::zero().is_negative());
        assert!(num("-1e-130").is_negative());
        assert!(!num("1e-130").is_negative());
        assert!(!num("1e-130").is_zero());
    }

    #[test]
    fn arithmetic_examples() {
        let nines = "9".repeat(38);
        let cases: Vec<(&str, &str, String, String)> = vec![
            (
                "1",
                "1e22",
                format!("1{}1", "0".repeat(21)),
                format!("-{}", "9".repeat(22)),
            ),
            (
                "9e125",
                "9e124",
                format!("99{}", "0".repeat(124)),
                format!("81{}", "0".repeat(124)),
            ),
            ("0.1", "0.2", "0.3".into(), "-0.1".into()),
            ("1.5", "-1.5", "0".into(), "3".into()),
            ("-7", "3", "-4".into(), "-10".into()),
            ("0", "-2.5", "-2.5".into(), "2.5".into()),
            ("1e50", "1e50", format!("2{}", "0".repeat(50)), "0".into()),
            (
                &nines,
                "1",
                format!("1{}", "0".repeat(38)),
                format!("{}8", "9".repeat(37)),
            ),
            (
                "1e37",
                "-1",
                "9".repeat(37),
                format!("1{}1", "0".repeat(36)),
            ),
            (
                "1e-130",
                "1e-130",
                format!("0.{}2", "0".repeat(129)),
                "0".into(),
            ),
        ];
        for (a, b, sum, diff) in cases {
            let (a, b) = (num(a), num(b));
            assert_eq!(
                a.checked_add(&b).map(|n| n.to_string()),
                Ok(sum),
                "{a} + {b}"
            );
            assert_eq!(
                a.checked_sub(&b).map(|n| n.to_string()),
                Ok(diff),
                "{a} - {b}"
            );
        }
    }

    #[test]
    fn arithmetic_errors_are_overflow() {
        // DynamoDB reports the overflow message both for out-of-range results
        // and for results needing more than 38 digits.
        let cases: &[(&str, &str, bool)] = &[
            ("9e125", "9e125", true),
            ("9e125", "-9e125", false),
            ("1e50", "1", true),
            ("1e50", "1", false),
            ("1e100", "1", true),
            ("1e-130", "1", true),
            ("99999999999999999999999999999999999999", "0.1", true),
            ("9.9999999999999999999999999999999999999E+125", "1e88", true),
            (
                "-9.9999999999999999999999999999999999999E+125",
                "1e88",
                false,
            ),
        ];
        // Operands 38 places apart fit only when they cancel to 38 digits.
        let nines = num(&"9".repeat(38));
        assert_eq!(num("1e38").checked_sub(&nines), Ok(num("1")));
        assert_eq!(num("1e38").checked_add(&nines), Err(NumberError::Overflow));
        assert_eq!(num("1e39").checked_sub(&nines), Err(NumberError::Overflow));
        let almost_one = "1.0000000000000000000000000000000000001e-130";
        assert_eq!(
            num(almost_one).checked_sub(&num("1e-130")),
            Err(NumberError::Underflow)
        );
        for (a, b, add) in cases {
            let (a, b) = (num(a), num(b));
            let result = if *add {
                a.checked_add(&b)
            } else {
                a.checked_sub(&b)
            };
            assert_eq!(result, Err(NumberError::Overflow), "{a} {b} add={add}");
        }
    }

    #[test]
    fn size_examples() {
        let cases: &[(&str, usize)] = &[
            ("0", 1),
            ("1", 2),
            ("-1", 3),
            ("12", 2),
            ("123", 3),
            ("12.3456", 4),
            ("1.5", 3),
            ("0.5", 2),
            ("0.05", 2),
            ("0.005", 2),
            ("1e125", 2),
            ("1e-130", 2),
            ("12345678901234567890123456789012345678", 20),
            ("1.2345678901234567890123456789012345678", 21),
            ("-1.2345678901234567890123456789012345678", 22),
        ];
        for (input, size) in cases {
            assert_eq!(num(input).size(), *size, "{input:?}");
        }
    }

    #[test]
    fn size_matches_dynalite_formula_everywhere() {
        // dynalite: 1 + ceil(n/2) + (n even and leading exponent even ? 1 : 0)
        // + (negative ? 1 : 0), where n counts significant digits.
        for n in 1..=38u32 {
            let mantissa = (0..n).fold(0u128, |m, _| m * 10 + 1);
            for magnitude in MIN_MAGNITUDE..=MAX_MAGNITUDE {
                let exponent = magnitude - i64::from(n) + 1;
                for negative in [false, true] {
                    let number = normalize(negative, mantissa, exponent)
                        .unwrap_or_else(|e| panic!("{n} {magnitude}: {e}"));
                    let n = n as usize;
                    let expected = 1
                        + n.div_ceil(2)
                        + usize::from(n.is_multiple_of(2) && magnitude % 2 == 0)
                        + usize::from(negative);
                    assert_eq!(number.size(), expected, "{number}");
                }
            }
        }
    }

    #[test]
    fn key_encoding_examples() {
        assert_eq!(key(&Number::zero()), [0x02]);
        assert_eq!(key(&num("1")), [0x03, 130, 11, 0x00]);
        assert_eq!(key(&num("12.34")), [0x03, 131, 13, 35, 0x00]);
        assert_eq!(key(&num("-1")), [0x01, !130u8, !11u8, 0xFF]);
        assert_eq!(key(&num("1e-130")), [0x03, 0, 11, 0x00]);
        assert_eq!(key(&num("1e125")), [0x03, 255, 11, 0x00]);
        let ordered = [
            "-9.9999999999999999999999999999999999999E+125",
            "-1e125",
            "-1234.5",
            "-123",
            "-12.3",
            "-1.0000000000000000000000000000000000001",
            "-1",
            "-0.99",
            "-1e-130",
            "0",
            "1e-130",
            "0.5",
            "0.51",
            "1",
            "1.01",
            "1.1",
            "10",
            "12",
            "12.0000001",
            "1e125",
            "9.9999999999999999999999999999999999999E+125",
        ];
        for pair in ordered.windows(2) {
            let (a, b) = (num(pair[0]), num(pair[1]));
            assert!(a < b, "{a} < {b}");
            assert!(key(&a) < key(&b), "key({a}) < key({b})");
        }
    }

    #[test]
    fn decode_key_rejects_garbage() {
        for bytes in [
            &[][..],
            &[0x00],
            &[0x04],
            &[0x03],
            &[0x03, 130],
            &[0x03, 130, 0x00],
            &[0x03, 130, 1, 0x00],
            &[0x03, 130, 101, 0x00],
            &[0x03, 130, 11],
            &[0x01, 130, 11, 0x00],
        ] {
            assert_eq!(Number::decode_key(bytes), None, "{bytes:?}");
        }
        // A trailing zero digit pair is not canonical.
        assert_eq!(Number::decode_key(&[0x03, 130, 11, 1, 0x00]), None);
        let mut too_long = vec![0x03, 130];
        too_long.extend([12u8; 20]);
        too_long.push(0x00);
        assert_eq!(Number::decode_key(&too_long), None);
    }

    // ---- reference arithmetic on decimal digit strings, for the properties ----

    /// An exact value as sign, decimal digits (most significant first) and a
    /// power of ten: independent of the implementation under test.
    #[derive(Clone, Debug)]
    struct Exact {
        negative: bool,
        digits: Vec<u8>,
        exponent: i64,
    }

    impl Exact {
        fn of(n: &Number) -> Exact {
            Exact {
                negative: n.negative,
                digits: n.mantissa.to_string().bytes().map(|b| b - b'0').collect(),
                exponent: i64::from(n.exponent),
            }
        }

        /// Digits scaled so that the value is `digits × 10^to`.
        fn scaled(&self, to: i64) -> Vec<u8> {
            let mut d = self.digits.clone();
            d.resize(
                d.len() + usize::try_from(self.exponent - to).unwrap_or(0),
                0,
            );
            d
        }

        fn is_zero(&self) -> bool {
            self.digits.iter().all(|&d| d == 0)
        }
    }

    fn trim(mut d: Vec<u8>) -> Vec<u8> {
        let lead = d.iter().take_while(|&&x| x == 0).count();
        d.drain(..lead);
        d
    }

    fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
        let (a, b) = (trim(a.to_vec()), trim(b.to_vec()));
        a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
    }

    fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut carry = 0;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 || j > 0 || carry > 0 {
            let x = if i > 0 {
                i -= 1;
                a[i]
            } else {
                0
            };
            let y = if j > 0 {
                j -= 1;
                b[j]
            } else {
                0
            };
            let s = x + y + carry;
            out.push(s % 10);
            carry = s / 10;
        }
        out.reverse();
        out
    }

    /// `a - b` for `a >= b`.
    fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut borrow = 0i8;
        let mut j = b.len();
        for i in (0..a.len()).rev() {
            let y = if j > 0 {
                j -= 1;
                b[j] as i8
            } else {
                0
            };
            let mut s = a[i] as i8 - y - borrow;
            borrow = i8::from(s < 0);
            if s < 0 {
                s += 10;
            }
            out.push(s as u8);
        }
        out.reverse();
        out
    }

    fn exact_cmp(a: &Exact, b: &Exact) -> Ordering {
        let sign = |x: &Exact| {
            if x.is_zero() {
                0
            } else if x.negative {
                -1
            } else {
                1
            }
        };
        let by_sign = sign(a).cmp(&sign(b));
        if by_sign != Ordering::Equal || sign(a) == 0 {
            return by_sign;
        }
        let to = a.exponent.min(b.exponent);
        let by_magnitude = cmp_digits(&a.scaled(to), &b.scaled(to));
        if a.negative {
            by_magnitude.reverse()
        } else {
            by_magnitude
        }
    }

    fn exact_add(a: &Exact, b: &Exact) -> Exact {
        let to = a.exponent.min(b.exponent);
        let (x, y) = (a.scaled(to), b.scaled(to));
        let (negative, digits) = if a.negative == b.negative {
            (a.negative, add_digits(&x, &y))
        } else if cmp_digits(&x, &y) != Ordering::Less {
            (a.negative, sub_digits(&x, &y))
        } else {
            (b.negative, sub_digits(&y, &x))
        };
        Exact {
            negative,
            digits,
            exponent: to,
        }
    }

    /// What parsing an exact value must give: its canonical text, or the
    /// error DynamoDB reports for it (range before precision).
    fn expected_parse(e: &Exact) -> Result<String, NumberError> {
        let digits = trim(e.digits.clone());
        if digits.is_empty() {
            return Ok("0".to_owned());
        }
        let zeros = digits.iter().rev().take_while(|&&d| d == 0).count();
        let sig = &digits[..digits.len() - zeros];
        let exponent = e.exponent + zeros as i64;
        let magnitude = exponent + sig.len() as i64 - 1;
        if magnitude > MAX_MAGNITUDE {
            return Err(NumberError::Overflow);
        }
        if magnitude < MIN_MAGNITUDE {
            return Err(NumberError::Underflow);
        }
        if sig.len() > 38 {
            return Err(NumberError::TooPrecise);
        }
        let s: String = sig.iter().map(|d| char::from(b'0' + d)).collect();
        let body = if exponent >= 0 {
            format!("{s}{}", "0".repeat(exponent as usize))
        } else {
            let frac = (-exponent) as usize;
            if s.len() > frac {
                format!("{}.{}", &s[..s.len() - frac], &s[s.len() - frac..])
            } else {
                format!("0.{}{s}", "0".repeat(frac - s.len()))
            }
        };
        Ok(if e.negative { format!("-{body}") } else { body })
    }

    /// What an addition with this exact result must give: too many digits
    /// is reported as overflow, as DynamoDB does.
    fn expected_sum(e: &Exact) -> Result<String, NumberError> {
        match expected_parse(e) {
            Err(NumberError::TooPrecise) => Err(NumberError::Overflow),
            other => other,
        }
    }

    // ---- strategies ----

    /// Valid numbers spread over the whole range.
    fn any_number() -> impl Strategy<Value = Number> {
        (
            any::<bool>(),
            1usize..=38,
            any::<u128>(),
            MIN_MAGNITUDE..=MAX_MAGNITUDE,
        )
            .prop_map(|(negative, n, raw, magnitude)| {
                let mantissa = raw % POW10[n];
                let mantissa = if mantissa == 0 { 1 } else { mantissa };
                let exponent = magnitude - i64::from(digit_count(mantissa)) + 1;
                normalize(negative, mantissa, exponent)
                    .unwrap_or_else(|e| panic!("{mantissa}e{exponent}: {e}"))
            })
    }

    /// Numbers near one another, so that sums often fit and carries, borrows
    /// and cancellations happen; also zero and the range edges.
    fn clustered_number() -> impl Strategy<Value = Number> {
        prop_oneof![
            (any::<bool>(), 0u128..1000, -4i64..4).prop_map(|(neg, m, e)| {
                normalize(neg, m, e).unwrap_or_else(|err| panic!("{m}e{e}: {err}"))
            }),
            (any::<bool>(), 1usize..=38, any::<u128>(), -40i64..40).prop_map(|(neg, n, raw, e)| {
                let m = raw % POW10[n];
                normalize(neg, m, e).unwrap_or_else(|err| panic!("{m}e{e}: {err}"))
            }),
            (any::<bool>(), 1usize..=37, any::<u128>()).prop_map(|(neg, n, raw)| {
                // 38 digits, mostly nines, at the top and bottom of the range.
                let m = TEN_POW_38 - 1 - raw % POW10[n];
                normalize(neg, m, if n % 2 == 0 { 88 } else { -167 })
                    .unwrap_or_else(|err| panic!("{m}: {err}"))
            }),
            any_number(),
        ]
    }

    /// Pairs whose digits line up: `b` is `a`'s mantissa shifted `k` places
    /// (up to 38) plus or minus a little, with either sign, so that `a + b`
    /// and `a - b` carry, borrow across the 10^38 boundary and cancel down
    /// to the last digit.
    fn aligned_pair() -> impl Strategy<Value = (Number, Number)> {
        (
            clustered_number(),
            0usize..=38,
            0u128..1000,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(a, k, d, down, flip)| {
                let b = a
                    .mantissa
                    .checked_mul(POW10[k])
                    .and_then(|m| {
                        if down {
                            m.checked_sub(d)
                        } else {
                            m.checked_add(d)
                        }
                    })
                    .and_then(|m| {
                        let exponent = i64::from(a.exponent) - k as i64;
                        normalize(a.negative != flip, m, exponent).ok()
                    })
                    .unwrap_or_else(|| a.clone());
                (a, b)
            })
    }

    fn any_pair() -> impl Strategy<Value = (Number, Number)> {
        prop_oneof![(clustered_number(), clustered_number()), aligned_pair()]
    }

    /// Textual forms of numbers with random signs, leading/trailing zeros,
    /// decimal point placement and exponent spelling, with the exact value
    /// they denote.
    fn written_number() -> impl Strategy<Value = (String, Exact)> {
        (
            prop_oneof![Just(""), Just("+"), Just("-")],
            0usize..4,
            proptest::collection::vec(0u8..10, 0..45),
            0usize..46,
            0usize..4,
            prop_oneof![Just('e'), Just('E')],
            prop_oneof![Just(""), Just("+"), Just("-")],
            0i64..200,
            any::<bool>(),
        )
            .prop_filter_map(
                "needs a digit",
                |(sign, lead, body, point, trail, e, esign, exp, with_exp)| {
                    let mut digits = vec![0u8; lead];
                    digits.extend(&body);
                    digits.resize(digits.len() + trail, 0);
                    if digits.is_empty() {
                        return None;
                    }
                    let point = point.min(digits.len());
                    let text_digits: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
                    let (int, frac) = text_digits.split_at(point);
                    let mut text = format!("{sign}{int}");
                    if !frac.is_empty() || point == digits.len() && point % 2 == 1 {
                        text.push('.');
                        text.push_str(frac);
                    }
                    let written_exp = if esign == "-" { -exp } else { exp };
                    if with_exp {
                        text.push_str(&format!("{e}{esign}{exp}"));
                    }
                    let exponent =
                        if with_exp { written_exp } else { 0 } - (digits.len() - point) as i64;
                    Some((
                        text,
                        Exact {
                            negative: sign == "-",
                            digits,
                            exponent,
                        },
                    ))
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn display_then_parse_is_identity(n in any_number()) {
            let text = n.to_string();
            let back = num(&text);
            prop_assert_eq!(&back, &n);
            prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn parse_agrees_with_the_written_value((text, exact) in written_number()) {
            let parsed = Number::parse(&text);
            prop_assert_eq!(
                parsed.as_ref().map(|n| n.to_string()).map_err(Clone::clone),
                expected_parse(&exact),
                "{}", text
            );
            if let Ok(n) = parsed {
                prop_assert_eq!(num(&n.to_string()), n);
            }
        }

        #[test]
        fn ord_agrees_with_exact_values(a in clustered_number(), b in clustered_number()) {
            prop_assert_eq!(a.cmp(&b), exact_cmp(&Exact::of(&a), &Exact::of(&b)));
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
        }

        #[test]
        fn key_order_is_numeric_order(
            a in clustered_number(),
            b in clustered_number(),
            sa in proptest::collection::vec(any::<u8>(), 0..4),
            sb in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let (ka, kb) = (key(&a), key(&b));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(a == b, ka == kb);
            // Self-delimiting: trailing bytes never change the order of
            // different numbers.
            let mut xa = ka.clone();
            xa.extend(&sa);
            let mut xb = kb.clone();
            xb.extend(&sb);
            if a != b {
                prop_assert_eq!(xa.cmp(&xb), a.cmp(&b));
            }
            let decoded = Number::decode_key(&xa);
            prop_assert_eq!(decoded, Some((a.clone(), &sa[..])));
        }

        #[test]
        fn add_and_sub_agree_with_reference((a, b) in any_pair()) {
            let (ea, eb) = (Exact::of(&a), Exact::of(&b));
            let sum = a.checked_add(&b).map(|n| n.to_string());
            prop_assert_eq!(sum, expected_sum(&exact_add(&ea, &eb)), "{} + {}", a, b);
            let neg_b = Exact { negative: !eb.negative, ..eb.clone() };
            let diff = a.checked_sub(&b).map(|n| n.to_string());
            prop_assert_eq!(diff, expected_sum(&exact_add(&ea, &neg_b)), "{} - {}", a, b);
        }

        #[test]
        fn size_is_about_half_the_digits(n in any_number()) {
            let digits = digit_count(n.mantissa) as usize;
            let size = n.size();
            prop_assert!(size >= 1 + digits.div_ceil(2) + usize::from(n.is_negative()));
            prop_assert!(size <= 2 + digits.div_ceil(2) + usize::from(n.is_negative()));
        }
    }
}
