//! Property tests of numbers: parsing, printing, ordering, key encoding and
//! arithmetic against a reference on decimal digit strings.

use super::tests::{key, num};
use super::*;
use proptest::prelude::*;

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
    fn written_text_is_the_displayed_text(n in any_number()) {
        let mut out = b"x".to_vec();
        n.write_text(&mut out);
        let shown = n.to_string();
        prop_assert_eq!(&out[1..], shown.as_bytes());
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
    fn size_of_text_is_the_size_of_the_parsed_number((text, _) in written_number()) {
        if let Ok(n) = Number::parse(&text) {
            prop_assert_eq!(Number::size_of_text(text.as_bytes()), Some(n.size()), "{}", text);
            let canonical = n.to_string();
            prop_assert_eq!(Number::size_of_text(canonical.as_bytes()), Some(n.size()), "{}", canonical);
        }
    }

    #[test]
    fn size_is_about_half_the_digits(n in any_number()) {
        let digits = digit_count(n.mantissa) as usize;
        let size = n.size();
        prop_assert!(size >= 1 + digits.div_ceil(2) + usize::from(n.is_negative()));
        prop_assert!(size <= 2 + digits.div_ceil(2) + usize::from(n.is_negative()));
    }
}
