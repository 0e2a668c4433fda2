//! Updates: SET/REMOVE/ADD/DELETE semantics, path rules and messages, and
//! the shaping of UPDATED_OLD/UPDATED_NEW.

use super::*;

#[test]
fn set_and_remove_nested_paths() {
    let old = item(&[
        ("p", s("k")),
        ("a", m(&[("b", n(1))])),
        ("l", l(vec![n(1), n(2), n(3)])),
    ]);
    let new = vals(&[(":v", s("z"))]).apply("SET a.c = :v, l[1] = :v REMOVE a.b, l[0]", &old);
    let want = item(&[
        ("p", s("k")),
        ("a", m(&[("c", s("z"))])),
        ("l", l(vec![s("z"), n(3)])),
    ]);
    assert_eq!(new, Ok(want));
}

#[test]
fn right_hand_sides_read_the_old_item() {
    let old = item(&[("p", s("k")), ("a", s("hello"))]);
    assert_eq!(
        vals(&[(":v", n(4))]).apply("SET x = :v, y = x", &old),
        Err(
            "The provided expression refers to an attribute that does not exist in the item"
                .to_string()
        )
    );
    assert_eq!(
        none().apply("REMOVE a SET b = a", &old),
        Ok(item(&[("p", s("k")), ("b", s("hello"))]))
    );
    assert_eq!(none().apply("SET a = a", &old), Ok(old.clone()));
    assert!(none().apply("SET z = z", &old).is_err());
}

#[test]
fn overlapping_and_conflicting_paths_are_rejected() {
    for text in [
        "SET a = :v, a.b = :v",
        "SET a.b.c = :v, a.b = :v",
        "SET a[1][1] = :v, a[1] = :v",
        "REMOVE a SET a = :v",
    ] {
        assert!(
            err(vals(&[(":v", n(1))]).update(text)).contains("Two document paths overlap"),
            "{text}"
        );
    }
    assert_eq!(
        err(vals(&[(":v", n(1))]).update("SET a = :v REMOVE a")),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"
    );
    assert_eq!(
        err(vals(&[(":v", n(1))]).update("SET a.b.c = :v, a.b[2] = :v")),
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b, c], path two: [a, b, [2]]"
    );
    assert!(vals(&[(":v", n(1))])
        .update("SET a.b = :v, a.c.d = :v, b.x = :v REMOVE a.x, b.y")
        .is_ok());
}

#[test]
fn list_indexes_refer_to_the_original_list() {
    let old = item(&[
        ("p", s("k")),
        ("a", l(vec![n(2), n(3), n(4), n(5), n(6), n(7)])),
    ]);
    let want = item(&[("p", s("k")), ("a", l(vec![n(2), n(4), n(17), n(6), n(7)]))]);
    assert_eq!(
        vals(&[(":v", n(17))]).apply("REMOVE a[1] SET a[3] = :v", &old),
        Ok(want.clone())
    );
    assert_eq!(
        vals(&[(":v", n(17))]).apply("SET a[3] = :v REMOVE a[1]", &old),
        Ok(want)
    );
    let three = item(&[
        ("p", s("k")),
        ("a", l(vec![s("one"), s("two"), s("three")])),
    ]);
    let r = vals(&[
        (":a", s("a1")),
        (":b", s("a2")),
        (":c", s("a3")),
        (":d", s("a4")),
    ]);
    let got = r.apply("SET a[84] = :a, a[37] = :b, a[17] = :c, a[50] = :d", &three);
    let want = item(&[
        ("p", s("k")),
        (
            "a",
            l(vec![
                s("one"),
                s("two"),
                s("three"),
                s("a3"),
                s("a2"),
                s("a4"),
                s("a1"),
            ]),
        ),
    ]);
    assert_eq!(got, Ok(want));
    assert_eq!(
        none()
            .apply("REMOVE a[17], a[0]", &three)
            .map(|i| i["a"].clone()),
        Ok(l(vec![s("two"), s("three")]))
    );
}

#[test]
fn nested_paths_need_an_existing_parent() {
    let old = item(&[
        ("p", s("k")),
        ("a", s("hello")),
        ("b", l(vec![s("hi")])),
        ("m", m(&[("x", n(3))])),
    ]);
    let invalid =
        "The document path provided in the update expression is invalid for update".to_string();
    for text in [
        "SET a.c = :v",
        "SET b.c = :v",
        "SET c.c = :v",
        "SET a[0] = :v",
        "SET q[0] = :v",
    ] {
        assert_eq!(
            vals(&[(":v", n(7))]).apply(text, &old),
            Err(invalid.clone()),
            "{text}"
        );
    }
    for text in ["REMOVE a.c", "REMOVE c.c", "REMOVE a[0]"] {
        assert_eq!(none().apply(text, &old), Err(invalid.clone()), "{text}");
    }
    // Missing leaves are ignored, and so are nested paths of an absent item.
    assert_eq!(none().apply("REMOVE m.y, b[7], c", &old), Ok(old.clone()));
    let absent = item(&[("p", s("k"))]);
    assert_eq!(
        none().apply("REMOVE x.y, z[0]", &absent),
        Ok(absent.clone())
    );
    assert_eq!(none().apply("REMOVE x.y", &Item::new()), Ok(Item::new()));
}

#[test]
fn arithmetic_and_functions_in_set() {
    let old = item(&[("p", s("k")), ("a", n(42)), ("l", l(vec![s("hi"), n(2)]))]);
    let seven = vals(&[(":val", n(7))]);
    assert_eq!(
        seven
            .apply("SET a = a + :val", &old)
            .map(|i| i["a"].clone()),
        Ok(n(49))
    );
    assert_eq!(
        seven
            .apply("SET a = :val - a", &old)
            .map(|i| i["a"].clone()),
        Ok(n(-35))
    );
    assert!(seven.apply("SET b = b + :val", &old).is_err());
    let got = vals(&[(":val", n(3)), (":zero", n(0))])
        .apply("SET b = if_not_exists(b, :zero) + :val", &old);
    assert_eq!(got.map(|i| i["b"].clone()), Ok(n(3)));
    let one = vals(&[(":one", l(vec![n(1)]))]);
    let got = one.apply(
        "SET l = list_append(:one, l), m = list_append(l, :one)",
        &old,
    );
    let got = got.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got["l"], l(vec![n(1), s("hi"), n(2)]));
    assert_eq!(got["m"], l(vec![s("hi"), n(2), n(1)]));
    let incorrect =
        Err("An operand in the update expression has an incorrect data type".to_string());
    assert_eq!(one.apply("SET z = list_append(a, :one)", &old), incorrect);
    assert_eq!(
        vals(&[(":v", n(1))]).apply("SET z = l + :v", &old),
        incorrect
    );
    let big = vals(&[(":big", nd("9.9999999999999999999999999999999999999E+125"))]);
    assert_eq!(
        big.apply("SET z = :big + :big", &old),
        Err("Number overflow. Attempting to store a number with magnitude larger than supported range".to_string())
    );
}

#[test]
fn update_operand_types_known_from_the_request_are_checked() {
    let cases: Vec<Case> = vec![
        ("SET b = :a + :b", vec![(":a", s("dog")), (":b", n(3))], "Incorrect operand type for operator or function; operator or function: +, operand type: S"),
        ("SET a = list_append(:a, :b)", vec![(":a", l(vec![])), (":b", s("hi"))], "Incorrect operand type for operator or function; operator or function: list_append, operand type: S"),
        ("SET a = list_append(list_append(:a, :a), :a)", vec![(":a", l(vec![]))], "The function is not allowed to be used this way in an expression; function: list_append"),
        ("SET b = if_not_exists(:a, :b)", vec![(":a", n(1)), (":b", n(2))], "Operator or function requires a document path; operator or function: if_not_exists"),
        ("ADD a :v", vec![(":v", s("hello"))], "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
        ("ADD a :v", vec![(":v", l(vec![n(3)]))], "Incorrect operand type for operator or function; operator: ADD, operand type: LIST"),
        ("DELETE a :v", vec![(":v", n(3))], "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"),
    ];
    for (text, values, msg) in cases {
        assert_eq!(
            err(vals(&values).update(text)),
            format!("Invalid UpdateExpression: {msg}"),
            "{text}"
        );
    }
    // An undefined value wins over the path check that would follow.
    assert!(
        err(vals(&[(":b", n(1))]).update("SET b = if_not_exists(:a, :b)"))
            .contains("attribute value: :a")
    );
    assert!(vals(&[(":a", l(vec![])), (":b", l(vec![]))])
        .update("SET a = list_append(if_not_exists(a, :a), :b)")
        .is_ok());
}

#[test]
fn add_and_delete_numbers_and_sets() {
    let old = item(&[
        ("p", s("k")),
        ("a", n(3)),
        ("b", s("hi")),
        ("s", ss(&["dog", "cat", "mouse"])),
    ]);
    let up = |text: &str, v: AttributeValue| vals(&[(":v", v)]).apply(text, &old);
    assert_eq!(up("ADD a :v", n(4)).map(|i| i["a"].clone()), Ok(n(7)));
    assert_eq!(
        up("ADD fresh :v", n(8)).map(|i| i["fresh"].clone()),
        Ok(n(8))
    );
    assert_eq!(
        up("ADD s :v", ss(&["pig", "cat"])).map(|i| i["s"].clone()),
        Ok(ss(&["dog", "cat", "mouse", "pig"]))
    );
    assert_eq!(
        up("ADD t :v", ss(&["x"])).map(|i| i["t"].clone()),
        Ok(ss(&["x"]))
    );
    let incorrect =
        Err("An operand in the update expression has an incorrect data type".to_string());
    assert_eq!(up("ADD b :v", n(1)), incorrect);
    assert_eq!(up("ADD s :v", ns(&[1])), incorrect);
    assert_eq!(
        up("DELETE s :v", ss(&["cat", "mouse", "pig"])).map(|i| i["s"].clone()),
        Ok(ss(&["dog"]))
    );
    assert_eq!(
        up("DELETE s :v", ss(&["dog", "cat", "mouse"])).map(|i| i.contains_key("s")),
        Ok(false)
    );
    assert_eq!(up("DELETE nothing :v", ss(&["dog"])), Ok(old.clone()));
    assert_eq!(up("DELETE b :v", ss(&["hi"])), incorrect);
    let absent = item(&[("p", s("k"))]);
    assert_eq!(
        vals(&[(":v", n(8))]).apply("ADD x.y :v", &absent),
        Err(
            "The document path provided in the update expression is invalid for update".to_string()
        )
    );
}

#[test]
fn key_attributes_cannot_be_updated() {
    let u = vals(&[(":v", s("x"))])
        .update("SET p = :v")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        u.apply(&Item::new(), &["p", "c"]).err().map(|e| e.0).as_deref(),
        Some("One or more parameter values were invalid: Cannot update attribute p. This attribute is part of the key")
    );
    let u = vals(&[(":v", s("x"))])
        .update("SET c.x = :v")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(u
        .check_keys(&["p", "c"])
        .err()
        .is_some_and(|e| e.0.contains("Key attributes must be scalars")));
}

#[test]
fn updated_part_is_shaped_like_a_projection_of_the_touched_paths() {
    let r = vals(&[(":val", n(8)), (":val2", s("dog"))]);
    let u = r
        .update("SET a.c[1] = :val, a.b = :val2")
        .unwrap_or_else(|e| panic!("{e}"));
    let old = item(&[
        ("p", s("k")),
        ("a", m(&[("b", s("yo")), ("c", l(vec![n(1), n(7), n(3)]))])),
        ("d", s("cat")),
    ]);
    assert_eq!(
        u.updated_part(&old),
        item(&[("a", m(&[("b", s("yo")), ("c", l(vec![n(7)]))]))])
    );
    let removed = none()
        .update("REMOVE a.c[1], a.c[3]")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        removed.updated_part(&old),
        item(&[("a", m(&[("c", l(vec![n(7)]))]))])
    );
    let appended = vals(&[(":v", n(70))])
        .update("SET a.c[100] = :v")
        .unwrap_or_else(|e| panic!("{e}"));
    let new = appended
        .apply(&old, &["p"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(appended.updated_part(&new).is_empty());
}

#[test]
fn delete_needs_an_existing_parent_like_remove() {
    let old = item(&[
        ("p", s("k")),
        ("a", s("hello")),
        ("m", m(&[("x", ss(&["q"]))])),
    ]);
    let r = vals(&[(":v", ss(&["q"]))]);
    assert_eq!(
        r.apply("DELETE a.b :v", &old),
        Err(
            "The document path provided in the update expression is invalid for update".to_string()
        )
    );
    assert_eq!(r.apply("DELETE m.y :v", &old), Ok(old.clone()));
    assert_eq!(
        r.apply("DELETE m.x :v", &old).map(|i| i["m"].clone()),
        Ok(m(&[]))
    );
}
