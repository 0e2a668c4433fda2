//! Evaluating conditions: DynamoDB's comparison and function semantics.

use super::*;
use bytes::Bytes;

fn every_type() -> Vec<AttributeValue> {
    vec![
        n(1),
        s("hello"),
        AttributeValue::Bool(true),
        b(b"xyz"),
        AttributeValue::Null,
        l(vec![s("hello"), n(42)]),
        m(&[("hello", s("world"))]),
        ss(&["hello", "world"]),
        ns(&[1, 2, 3]),
        AttributeValue::Bs(vec![Bytes::from_static(b"xyz")]),
    ]
}

#[test]
fn equality_holds_only_within_a_type() {
    for (i, x) in every_type().into_iter().enumerate() {
        for (j, y) in every_type().into_iter().enumerate() {
            let it = item(&[("a", x.clone())]);
            assert_eq!(
                vals(&[(":v", y)]).check("a = :v", &it),
                Ok(i == j),
                "{i} {j}"
            );
        }
    }
    let it = item(&[("a", ss(&["cat", "dog"])), ("x", nd("1.50"))]);
    assert_eq!(
        vals(&[(":v", ss(&["dog", "cat"]))]).check("a = :v", &it),
        Ok(true)
    );
    assert_eq!(vals(&[(":v", nd("1.5"))]).check("x = :v", &it), Ok(true));
}

#[test]
fn missing_attributes_are_unequal_to_everything() {
    let it = item(&[("a", n(1))]);
    let r = vals(&[(":v", n(1))]);
    assert_eq!(r.check("q = :v", &it), Ok(false));
    assert_eq!(r.check("q <> :v", &it), Ok(true));
    assert_eq!(none().check("q <> z", &it), Ok(true));
    for op in ["<", "<=", ">", ">="] {
        assert_eq!(none().check(&format!("q {op} z"), &it), Ok(false));
        assert_eq!(r.check(&format!(":v {op} q"), &it), Ok(false));
    }
    assert_eq!(none().check("q between z and x", &it), Ok(false));
    assert_eq!(r.check("q IN (:v)", &it), Ok(false));
}

#[test]
fn ordering_is_false_across_types_and_for_unordered_item_values() {
    let it = item(&[("a", n(1)), ("x", l(vec![n(1)])), ("c", b(&[127]))]);
    assert_eq!(vals(&[(":v", s("17"))]).check("a < :v", &it), Ok(false));
    assert_eq!(vals(&[(":v", n(1))]).check("x < :v", &it), Ok(false));
    // Binary is compared as unsigned bytes.
    assert_eq!(vals(&[(":v", b(&[128]))]).check("c < :v", &it), Ok(true));
    assert_eq!(
        vals(&[(":lo", b(&[126])), (":hi", b(&[128]))]).check("c BETWEEN :lo AND :hi", &it),
        Ok(true)
    );
}

#[test]
fn functions_evaluate_like_dynamodb() {
    let it = item(&[
        ("a", s("hello")),
        ("b", ns(&[2, 4, 7])),
        ("c", l(vec![n(2), s("dog"), n(7)])),
        ("d", b(b"hi there")),
        ("e", m(&[("x", n(2)), ("y", m(&[("m", n(3))]))])),
        ("f", n(5)),
        ("g", AttributeValue::Bool(true)),
    ]);
    let t = |text: &str, values: &[(&str, AttributeValue)]| vals(values).check(text, &it);
    assert_eq!(t("size(a) = :v", &[(":v", n(5))]), Ok(true));
    assert_eq!(t("size(b) = :v", &[(":v", n(3))]), Ok(true));
    assert_eq!(t("size(c) = :v", &[(":v", n(3))]), Ok(true));
    assert_eq!(t("size(d) = :v", &[(":v", n(8))]), Ok(true));
    assert_eq!(t("size(e) = :v", &[(":v", n(2))]), Ok(true));
    assert_eq!(t("size(f) = :v", &[(":v", n(1))]), Ok(false));
    assert_eq!(t("size(g) = :v", &[(":v", n(1))]), Ok(false));
    assert_eq!(t("size(a) = f", &[]), Ok(true));
    assert_eq!(
        t("size(:x) >= :v", &[(":x", s("abc")), (":v", n(2))]),
        Ok(true)
    );
    assert_eq!(t("contains(a, :v)", &[(":v", s("ell"))]), Ok(true));
    assert_eq!(t("contains(b, :v)", &[(":v", n(4))]), Ok(true));
    assert_eq!(t("contains(c, :v)", &[(":v", s("dog"))]), Ok(true));
    assert_eq!(t("contains(d, :v)", &[(":v", b(b"here"))]), Ok(true));
    assert_eq!(t("contains(d, :v)", &[(":v", ns(&[1]))]), Ok(false));
    assert_eq!(t("begins_with(a, :v)", &[(":v", s("he"))]), Ok(true));
    assert_eq!(t("begins_with(:v, a)", &[(":v", s("hellohi"))]), Ok(true));
    assert_eq!(t("begins_with(f, :v)", &[(":v", s("5"))]), Ok(false));
    assert_eq!(t("attribute_type(b, :t)", &[(":t", s("NS"))]), Ok(true));
    assert_eq!(
        t("attribute_type(:v, :t)", &[(":v", n(0)), (":t", s("N"))]),
        Ok(true)
    );
    assert_eq!(
        t(
            "attribute_exists(e.y.m) AND attribute_not_exists(e.y.z)",
            &[]
        ),
        Ok(true)
    );
    assert_eq!(t("e.x < c[2] AND c[1] = :v", &[(":v", s("dog"))]), Ok(true));
    assert_eq!(t("e.q < c[100]", &[]), Ok(false));
    assert_eq!(
        t("f IN (:x, :y)", &[(":x", s("dog")), (":y", n(5))]),
        Ok(true)
    );
}

#[test]
fn condition_lists_the_attributes_it_reads() {
    let c = none()
        .condition("a.b = c OR attribute_exists(d[1]) AND NOT size(e) < f")
        .unwrap_or_else(|e| panic!("{e}"));
    let attrs: Vec<&str> = c.attributes().into_iter().collect();
    assert_eq!(attrs, ["a", "c", "d", "e", "f"]);
    assert_eq!(
        key_in_filter_error("c", false).0,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: c"
    );
}
