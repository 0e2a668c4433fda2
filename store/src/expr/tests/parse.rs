//! Parsing: DynamoDB's syntax errors, limits, precedence, reserved words and
//! function placement.

use super::*;

#[test]
fn syntax_errors_show_the_token_and_its_neighbours() {
    let cases = [
        (
            Kind::Update,
            "SET a",
            r#"Syntax error; token: "<EOF>", near: "SET a""#,
        ),
        (
            Kind::Update,
            "INVALID SYNTAX HERE",
            r#"Syntax error; token: "INVALID", near: "INVALID SYNTAX""#,
        ),
        (
            Kind::Projection,
            "!!",
            r#"Syntax error; token: "!", near: "!!""#,
        ),
        (
            Kind::Update,
            "SET _123 = :v",
            r#"Syntax error; token: "_", near: "SET _123""#,
        ),
        (
            Kind::Update,
            "SET MyStr = myNum + 1",
            r#"Syntax error; token: "1", near: "+ 1""#,
        ),
        (
            Kind::Update,
            "SET MyStr = myNum Mystr2 myNum2",
            r#"Syntax error; token: "Mystr2", near: "myNum Mystr2 myNum2""#,
        ),
        (
            Kind::Update,
            "SET MyStr = my Num",
            r#"Syntax error; token: "Num", near: "my Num""#,
        ),
        (
            Kind::Update,
            "ADD hits : incr",
            r#"Syntax error; token: ":", near: "hits : incr""#,
        ),
        (
            Kind::Condition,
            "foo",
            r#"Syntax error; token: "<EOF>", near: "foo""#,
        ),
    ];
    for (kind, text, msg) in cases {
        assert_eq!(
            parse_err(kind, text),
            format!("Invalid {}: {msg}", kind.label()),
            "{text}"
        );
    }
}

#[test]
fn names_and_references_follow_dynamodb_token_rules() {
    for ok in [
        "SET Alpha_Numeric_123 = :v",
        "SET A123_ = :v",
        "SET #123a = :_",
        "SET #_ = :123",
        "set b=:v",
    ] {
        assert!(parse(Kind::Update, ok).is_ok(), "{ok}");
    }
    for bad in [
        "SET _abc = :v",
        "SET 123a = :v",
        "SET hi-there = :v",
        "SET hi$there = :v",
        "SET # = :v",
        "SET a = :",
        "SET :a = :b",
        "SET a[:x] = :v",
        "SET a[#x] = :v",
        "SET a = _f(b)",
        "SET a = :hi!there",
        "HELLO b = :v",
    ] {
        assert!(
            parse_err(Kind::Update, bad).contains("Syntax error"),
            "{bad}"
        );
    }
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    let Ok(ast) = parse(Kind::Condition, "NOT a = :a AND b = :b OR c = :c") else {
        panic!("no parse")
    };
    let Ast::Condition(c) = &*ast else {
        panic!("not a condition")
    };
    assert_eq!(c.to_string(), "NOT a = :a AND b = :b OR c = :c");
    let it = item(&[("a", n(1)), ("b", n(2))]);
    let r = vals(&[(":a", n(1)), (":b", n(2)), (":c", n(3))]);
    // (NOT a=1 AND b=2) OR c=3: false OR false.
    assert_eq!(r.check("NOT a = :a AND b = :b OR c = :c", &it), Ok(false));
    assert_eq!(r.check("NOT (a = :a AND b = :c) OR c = :b", &it), Ok(true));
    assert_eq!(r.check("b = :b oR c = :c aNd a = :a", &it), Ok(true));
}

#[test]
fn redundant_parentheses_are_rejected_but_single_ones_allowed() {
    let r = vals(&[(":p", s("x"))]);
    let it = item(&[("p", s("y"))]);
    for ok in [
        "(p <> :p)",
        "((p <> :p) AND p <> :p)",
        "(p) <> :p",
        "p <> (:p)",
        "(size(p)) > (:p)",
    ] {
        assert!(r.check(ok, &it).is_ok(), "{ok}");
    }
    for bad in ["((p <> :p))", "((p)) <> :p", "p <> ((:p))"] {
        assert_eq!(
            err(r.check(bad, &it)),
            "Invalid ConditionExpression: The expression has redundant parentheses;",
            "{bad}"
        );
    }
    let k = KeyNames {
        partition: vec!["p".into()],
        sort: vec!["c".into()],
    };
    let kr = vals(&[(":p", s("x")), (":c", n(3))]);
    let mut res = kr.resolver().unwrap_or_else(|e| panic!("{e}"));
    assert!(res.key_condition("((c=:c) AND (p=:p))", &k).is_ok());
}

#[test]
fn length_limits_and_empty_expressions() {
    let at_limit = format!("a{} = :v", " ".repeat(4090));
    assert_eq!(at_limit.len(), 4096);
    assert!(parse(Kind::Condition, &at_limit).is_ok());
    let over = format!("a {} = :v", " ".repeat(4090));
    assert_eq!(
        parse_err(Kind::Condition, &over),
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097"
    );
    let crash = format!("a<b {}{}", "and (a<b ".repeat(20000), ")".repeat(20000));
    assert!(parse_err(Kind::Condition, &crash).contains("expression size: 200004"));
    assert_eq!(
        parse_err(Kind::Update, ""),
        "Invalid UpdateExpression: The expression can not be empty;"
    );
    assert_eq!(
        parse_err(Kind::KeyCondition, "  "),
        "Invalid KeyConditionExpression: The expression can not be empty;"
    );
}

#[test]
fn deeply_nested_inputs_fail_cleanly() {
    for text in [
        "(".repeat(4096),
        "(((".to_string(),
        format!("{}a<b{}", "(".repeat(2046), ")".repeat(2046)),
        format!("{}a<b", "not ".repeat(1000)),
        format!("a < {}b{}", "size(".repeat(680), ")".repeat(680)),
        format!("{}a[0]{}", "size(".repeat(900), ")".repeat(900)),
    ] {
        assert!(parse_err(Kind::Condition, &text).starts_with("Invalid ConditionExpression: "));
    }
    let ok = format!("a<b {}{}", "or (a<b ".repeat(149), ")".repeat(149));
    assert!(parse(Kind::Condition, &ok).is_ok());
    assert_eq!(
        parse_err(Kind::Condition, &format!("a<b {}{}", "or (a<b ".repeat(454), ")".repeat(454))),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    assert_eq!(
        parse_err(
            Kind::Condition,
            &format!("a < {}b{}", "f(".repeat(1355), ")".repeat(1355))
        ),
        "Invalid ConditionExpression: Invalid function name; function: f"
    );
    assert_eq!(
        parse_err(
            Kind::Update,
            &format!("SET a = {}b{}", "(".repeat(300), ")".repeat(300))
        ),
        "Invalid UpdateExpression: The expression has redundant parentheses;"
    );
}

#[test]
fn function_names_and_placement() {
    let cases = [
        (Kind::Condition, "size(a)", "The function is not allowed to be used this way in an expression; function: size"),
        (Kind::Condition, "attribute_exists(a) < :v", "The function is not allowed to be used this way in an expression; function: attribute_exists"),
        (Kind::Condition, "if_not_exists(a, a) = :v", "The function is not allowed in a condition expression; function: if_not_exists"),
        (Kind::Filter, "list_append(s, :v) = :v", "The function is not allowed in a condition expression; function: list_append"),
        (Kind::Filter, "dog(s, :v)", "Invalid function name; function: dog"),
        (Kind::Update, "SET a = attribute_exists(b)", "The function is not allowed in an update expression; function: attribute_exists"),
        (Kind::Update, "SET a = LIST_APPEND(:a, :b)", "Invalid function name; function: LIST_APPEND"),
        (Kind::Update, "SET a = f123_hi(b,c,d)", "Invalid function name; function: f123_hi"),
    ];
    for (kind, text, msg) in cases {
        assert_eq!(
            parse_err(kind, text),
            format!("Invalid {}: {msg}", kind.label()),
            "{text}"
        );
    }
}

#[test]
fn reserved_words_need_name_references() {
    assert_eq!(
        parse_err(Kind::Projection, "a, name"),
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    );
    assert_eq!(
        parse_err(Kind::Update, "SET a.Status = :v"),
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Status"
    );
    // Grammar keywords are syntax errors where they are tokens.
    assert!(parse_err(Kind::Update, "SET set = :v").contains("Syntax error"));
    assert!(parse_err(Kind::Condition, "and = :v").contains("Syntax error"));
    assert!(parse_err(Kind::Update, "SET and = :v").contains("reserved keyword: and"));
    let r = req(&[("#n", "and")], &[(":v", n(1))]);
    assert_eq!(r.check("#n = :v", &item(&[("and", n(1))])), Ok(true));
}

#[test]
fn paths_are_limited_to_32_levels_and_int32_indexes() {
    let ok = format!("a{}", ".b".repeat(31));
    assert!(parse(Kind::Projection, &ok).is_ok());
    assert_eq!(
        parse_err(Kind::Projection, &format!("a{}", ".b".repeat(32))),
        "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
    assert_eq!(
        parse_err(Kind::Projection, "a[99999999999999]"),
        "Invalid ProjectionExpression: List index is not within the allowable range; index: [99999999999999]"
    );
    assert!(parse_err(Kind::Projection, "a[-1]").contains("Syntax error"));
    assert!(parse_err(Kind::Projection, "a[]").contains("Syntax error"));
}

#[test]
fn update_sections_are_used_at_most_once() {
    assert_eq!(
        parse_err(Kind::Update, "SET a = :v REMOVE a SET b = :v"),
        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
    );
    let Ok(a) = parse(
        Kind::Update,
        "remove a[1] set b = if_not_exists(b, :z) + :one add c :s delete d :t",
    ) else {
        panic!("no parse")
    };
    assert_eq!(
        a.to_string(),
        "REMOVE a[1] SET b = if_not_exists(b, :z) + :one ADD c :s DELETE d :t"
    );
    assert!(parse_err(Kind::Update, "SET b = :a + :b + :c").contains("Syntax error"));
    assert!(parse_err(Kind::Update, "SET c = if_not_exists(c, :a+:b)").contains("Syntax error"));
    assert!(parse(Kind::Update, "SET b = (:a + :b), c = (:a) - b").is_ok());
}

#[test]
fn parenthesised_operands_and_set_values() {
    let r = vals(&[(":a", n(1)), (":b", n(2))]);
    let old = item(&[("p", s("k")), ("x", n(5))]);
    assert_eq!(
        r.apply("SET y = (:a + :b), z = (x) - :a", &old)
            .map(|i| (i["y"].clone(), i["z"].clone())),
        Ok((n(3), n(4)))
    );
    assert!(parse_err(Kind::Update, "SET y = ((:a + :b))").starts_with("Invalid UpdateExpression"));
    assert_eq!(
        parse_err(Kind::Condition, "dog(a)"),
        "Invalid ConditionExpression: Invalid function name; function: dog"
    );
}
