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
        let Some(scanned) = Scanned::of(s.as_bytes()) else {
            return Err(invalid());
        };
        let Some(digits) = scanned.significant else {
            return Ok(Number::zero());
        };
        if digits.magnitude > MAX_MAGNITUDE {
            return Err(NumberError::Overflow);
        }
        if digits.magnitude < MIN_MAGNITUDE {
            return Err(NumberError::Underflow);
        }
        if digits.count > MAX_DIGITS as usize {
            return Err(NumberError::TooPrecise);
        }
        let mantissa = digits
            .digits
            .iter()
            .filter(|b| b.is_ascii_digit())
            .fold(0u128, |m, b| m * 10 + u128::from(b - b'0'));
        let exponent = i32::try_from(digits.exponent).map_err(|_| NumberError::Overflow)?;
        Ok(Number {
            negative: scanned.negative,
            mantissa,
            exponent,
        })
    }

    /// [`Number::size`] of the number `text` writes, read off the text
    /// without building the number (an item's size is computed on every
    /// read). `None` if `text` is not a number; limits are not checked.
    pub fn size_of_text(text: &[u8]) -> Option<usize> {
        let scanned = Scanned::of(text)?;
        Some(match scanned.significant {
            None => 1,
            Some(d) => size_from_places(scanned.negative, d.magnitude, d.exponent),
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
        size_from_places(self.negative, self.magnitude(), i64::from(self.exponent))
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
/// [`Number::size`] of a non-zero number whose leading significant digit
/// has place value 10^`magnitude` and whose last one 10^`exponent`.
fn size_from_places(negative: bool, magnitude: i64, exponent: i64) -> usize {
    let pairs = magnitude.div_euclid(2) - exponent.div_euclid(2) + 1;
    // `pairs` is between 1 and 20 for numbers within the limits.
    1 + usize::try_from(pairs).unwrap_or(0) + usize::from(negative)
}

/// A number's text taken apart: its sign and where its significant digits
/// are, without building the number.
struct Scanned<'a> {
    negative: bool,
    /// `None` for zero.
    significant: Option<Significant<'a>>,
}

struct Significant<'a> {
    /// The text from the first to the last non-zero digit (a decimal point
    /// between them included).
    digits: &'a [u8],
    /// How many digits that is, from the first to the last non-zero one.
    count: usize,
    /// Place value (power of ten) of the first significant digit.
    magnitude: i64,
    /// Place value of the last significant digit.
    exponent: i64,
}

impl<'a> Scanned<'a> {
    /// `None` if `bytes` is not in DynamoDB's number syntax (see
    /// [`Number::parse`]).
    fn of(bytes: &'a [u8]) -> Option<Scanned<'a>> {
        let (negative, rest) = match bytes.split_first() {
            Some((b'-', tail)) => (true, tail),
            Some((b'+', tail)) => (false, tail),
            _ => (false, bytes),
        };
        let (int_digits, after_int) = split_digits(rest);
        let (frac_digits, after) = match after_int.split_first() {
            Some((b'.', tail)) => split_digits(tail),
            _ => (&after_int[..0], after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return None;
        }
        let written_exponent = match after.split_first() {
            None => 0,
            Some((b'e' | b'E', tail)) => parse_exponent(tail)?,
            Some(_) => return None,
        };
        // Digit `i` of the integer and fraction digits taken together has
        // place value 10^(int_len - 1 - i) before the written exponent.
        let digit = |i: usize| {
            if i < int_digits.len() {
                int_digits[i]
            } else {
                frac_digits[i - int_digits.len()]
            }
        };
        let total = int_digits.len() + frac_digits.len();
        let Some(first) = (0..total).find(|&i| digit(i) != b'0') else {
            return Some(Scanned {
                negative,
                significant: None,
            });
        };
        let last = (first..total)
            .rev()
            .find(|&i| digit(i) != b'0')
            .unwrap_or(first);
        let place = |i: usize| -> i64 {
            to_i64(int_digits.len())
                .saturating_sub(to_i64(i))
                .saturating_sub(1)
                .saturating_add(written_exponent)
        };
        // Positions in `rest`: fraction digits sit one past the point.
        let at = |i: usize| if i < int_digits.len() { i } else { i + 1 };
        Some(Scanned {
            negative,
            significant: Some(Significant {
                digits: &rest[at(first)..=at(last)],
                count: last - first + 1,
                magnitude: place(first),
                exponent: place(last),
            }),
        })
    }
}

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
        self.text_pieces(|piece| f.write_str(piece))
    }
}

impl Number {
    /// Append the canonical text (what `Display` writes) to `out`, without
    /// the formatting machinery: numbers are written for every item stored
    /// and every key a cache looks up.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        let _ = self.text_pieces(|piece| {
            out.extend_from_slice(piece.as_bytes());
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// The canonical text, handed to `put` in pieces (so without a heap
    /// allocation); stops at `put`'s first error.
    fn text_pieces<E>(&self, mut put: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        if self.is_zero() {
            return put("0");
        }
        let mut buf = [0u8; MANTISSA_DIGITS_MAX];
        let digits = decimal_digits(self.mantissa, &mut buf);
        if self.negative {
            put("-")?;
        }
        match usize::try_from(self.exponent) {
            Ok(zeros) => {
                put(digits)?;
                put_zeros(&mut put, zeros)
            }
            Err(_) => {
                let fraction = self.exponent.unsigned_abs() as usize;
                if digits.len() > fraction {
                    let (int_part, frac_part) = digits.split_at(digits.len() - fraction);
                    put(int_part)?;
                    put(".")?;
                    put(frac_part)
                } else {
                    put("0.")?;
                    put_zeros(&mut put, fraction - digits.len())?;
                    put(digits)
                }
            }
        }
    }
}

/// The most decimal digits a `u128` has.
const MANTISSA_DIGITS_MAX: usize = 39;

/// `n` in decimal, written into the end of `buf`.
fn decimal_digits(n: u128, buf: &mut [u8; MANTISSA_DIGITS_MAX]) -> &str {
    let mut at = buf.len();
    let mut push = |digit: u8| {
        at -= 1;
        buf[at] = b'0' + digit;
    };
    // The low digits of a mantissa over 64 bits, until the rest fits: 64-bit
    // division is much cheaper, and most mantissas fit from the start.
    let mut large = n;
    let mut small = loop {
        match u64::try_from(large) {
            Ok(small) => break small,
            Err(_) => {
                push((large % 10) as u8);
                large /= 10;
            }
        }
    };
    loop {
        push((small % 10) as u8);
        small /= 10;
        if small == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

fn put_zeros<E>(put: &mut impl FnMut(&str) -> Result<(), E>, mut n: usize) -> Result<(), E> {
    const ZEROS: &str = "00000000000000000000000000000000";
    while n > 0 {
        let run = n.min(ZEROS.len());
        put(&ZEROS[..run])?;
        n -= run;
    }
    Ok(())
}

impl FromStr for Number {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<Number, NumberError> {
        Number::parse(s)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
