//! Tests of the exact decimal `Number`: examples from DynamoDB's documented
//! behaviour (property tests are in `proptests.rs`).

use super::*;

pub(super) fn num(s: &str) -> Number {
    Number::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

pub(super) fn key(n: &Number) -> Vec<u8> {
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
