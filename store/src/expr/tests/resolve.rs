//! Resolution: the attribute maps, undefined and unused references, and
//! the type checks DynamoDB makes on request values.

use super::*;

#[test]
fn attribute_maps_are_validated_before_expressions() {
    let empty_names: HashMap<String, String> = HashMap::new();
    let empty_values: HashMap<String, AttributeValue> = HashMap::new();
    assert_eq!(
        Resolver::new(Some(&empty_names), None)
            .err()
            .map(|e| e.0)
            .as_deref(),
        Some("ExpressionAttributeNames must not be empty")
    );
    assert_eq!(
        Resolver::new(None, Some(&empty_values))
            .err()
            .map(|e| e.0)
            .as_deref(),
        Some("ExpressionAttributeValues must not be empty")
    );
    assert_eq!(
        err(req(&[("n", "x")], &[]).resolver().map(|_| ())),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"n\""
    );
    assert_eq!(
        err(vals(&[("v", n(1))]).resolver().map(|_| ())),
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\""
    );
    assert!(err(req(&[("#name", "")], &[]).resolver().map(|_| ())).contains("Empty attribute name"));
    let long = "x".repeat(65536);
    assert!(err(req(&[("#name", long.as_str())], &[]).resolver().map(|_| ())).contains("65536"));
    assert!(err(vals(&[(":v", AttributeValue::Ss(vec![]))])
        .resolver()
        .map(|_| ()))
    .contains("may not be empty"));
}

#[test]
fn undefined_and_unused_references() {
    assert_eq!(
        err(none().condition("#x = :v")),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
    );
    assert_eq!(
        err(none().update("SET attr1 = :v")),
        "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :v"
    );
    assert_eq!(
        err(vals(&[(":v", n(1)), (":unused", n(2))]).update("SET attr1 = :v")),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}"
    );
    assert_eq!(
        err(req(&[("#unused", "x"), ("#a", "y")], &[(":v", n(1))]).update("SET #a = :v")),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"
    );
    // Usage counts across all of a request's expressions.
    let r = req(&[("#a", "a"), ("#b", "b")], &[(":v", n(1)), (":w", n(2))]);
    let mut res = r.resolver().unwrap_or_else(|e| panic!("{e}"));
    assert!(res.update("SET #a = :v").is_ok());
    assert!(res.condition("#b = :w").is_ok());
    assert!(res.finish().is_ok());
}

#[test]
fn undefined_references_are_reported_before_arity_errors() {
    assert_eq!(
        err(none().condition("begins_with(a) AND #x = :v")),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
    );
    assert_eq!(
        err(vals(&[(":v", n(1))]).condition("size(a, a) = :v")),
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"
    );
    assert_eq!(
        err(vals(&[(":a", l(vec![]))]).update("SET a = list_append(:a)")),
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1"
    );
}

#[test]
fn operand_types_known_from_the_request_are_checked() {
    let cases: Vec<Case> = vec![
        ("a < :v", vec![(":v", l(vec![n(1)]))], "Incorrect operand type for operator or function; operator or function: <, operand type: L"),
        (":v >= a", vec![(":v", m(&[]))], "Incorrect operand type for operator or function; operator or function: >=, operand type: M"),
        ("begins_with(a, :v)", vec![(":v", n(3))], "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ("size(:v) > :w", vec![(":v", n(123)), (":w", n(1))], "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
        ("size(size(a)) > :w", vec![(":w", n(1))], "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
        ("attribute_exists(:v)", vec![(":v", n(3))], "Operator or function requires a document path; operator or function: attribute_exists"),
        ("attribute_type(a, :t)", vec![(":t", s("DOG"))], "Invalid attribute type name found; type: DOG, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
        ("attribute_type(a, :t)", vec![(":t", n(1))], "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"),
        ("a BETWEEN :x AND :y", vec![(":x", n(2)), (":y", n(1))], "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}"),
        ("a BETWEEN :x AND :y", vec![(":x", n(1)), (":y", s("a"))], "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}"),
        ("a BETWEEN :x AND :y", vec![(":x", l(vec![])), (":y", l(vec![]))], "Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: L"),
    ];
    for (text, values, msg) in cases {
        assert_eq!(
            err(vals(&values).condition(text)),
            format!("Invalid ConditionExpression: {msg}"),
            "{text}"
        );
    }
    assert!(err(none().condition("attribute_type(a, b)")).contains("attribute_type"));
}

#[test]
fn operands_of_a_comparison_must_be_distinct_paths() {
    assert_eq!(
        err(none().condition("contains(a, a)")),
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a]"
    );
    assert!(err(none().condition("a.b[1] = a.b[1]"))
        .contains("operator: =, first operand: [a, b, [1]]"));
    assert!(none().condition("a = b").is_ok());
}

#[test]
fn in_takes_at_most_one_hundred_operands() {
    let names99: Vec<String> = (0..99).map(|i| format!(":v{i}")).collect();
    let values: Vec<(&str, AttributeValue)> = names99.iter().map(|k| (k.as_str(), n(1))).collect();
    let r = vals(&values);
    assert!(r
        .condition(&format!("a IN ({})", names99.join(",")))
        .is_ok());
    let names100: Vec<String> = (0..100).map(|i| format!(":v{i}")).collect();
    let values: Vec<(&str, AttributeValue)> = names100.iter().map(|k| (k.as_str(), n(1))).collect();
    assert!(err(vals(&values).condition(&format!("a IN ({})", names100.join(",")))).contains("IN"));
    assert!(parse_err(Kind::Condition, "a IN ()").contains("Syntax error"));
}
