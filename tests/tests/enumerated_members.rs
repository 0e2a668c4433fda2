//! Enumerated request members (Select, ConditionalOperator,
//! ReturnConsumedCapacity, BillingMode, StreamViewType, ...) outside their
//! value sets: DynamoDB's validation texts, listed with the request's other
//! violations in the operation's member order, sent without the SDK (which
//! would refuse some of them before sending).

use ferrodyn_tests::{create_table, raw_error, TestStore};

fn validation(message: &str) -> (String, String) {
    ("ValidationException".to_owned(), message.to_owned())
}

/// Enumerated members outside their value sets, among other violations:
/// each is listed with DynamoDB's value set, in the operation's order.
#[tokio::test(flavor = "multi_thread")]
async fn enumerated_members_outside_their_sets_are_listed_with_the_others() {
    let server = TestStore::start().await;
    create_table(&server.client(), "orders").await;
    let cases = [
        (
            "Query",
            r#"{"TableName": "orders", "Select": "some", "ConditionalOperator": "xor",
                "ReturnConsumedCapacity": "all", "IndexName": "ab"}"#,
            "4 validation errors detected: Value 'some' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]; \
             Value 'ab' at 'indexName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value 'all' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; \
             Value 'xor' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]",
        ),
        (
            "Scan",
            r#"{"TableName": "a;", "Select": "some", "ConditionalOperator": "xor",
                "ReturnConsumedCapacity": "all", "Segment": -1}"#,
            "6 validation errors detected: Value 'some' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]; \
             Value 'all' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; \
             Value 'a;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value 'a;' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value 'xor' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]; \
             Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0",
        ),
        (
            "DeleteItem",
            r#"{"TableName": "orders", "Key": {"p": {"S": "k"}}, "ConditionalOperator": "xor",
                "ReturnConsumedCapacity": "all", "ReturnValuesOnConditionCheckFailure": "x"}"#,
            "3 validation errors detected: Value 'all' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; \
             Value 'xor' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]; \
             Value 'x' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
        ),
        (
            "CreateTable",
            r#"{"TableName": "tbl1", "BillingMode": "FREE", "TableClass": "GOLD",
                "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
                "ProvisionedThroughput": {"ReadCapacityUnits": 0},
                "StreamSpecification": {"StreamViewType": "ALL"}}"#,
            "7 validation errors detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null; \
             Value 'FREE' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]; \
             Value 'GOLD' at 'tableClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, STANDARD_INFREQUENT_ACCESS]; \
             Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value null at 'provisionedThroughput.writeCapacityUnits' failed to satisfy constraint: Member must not be null; \
             Value null at 'streamSpecification.streamEnabled' failed to satisfy constraint: Member must not be null; \
             Value 'ALL' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]",
        ),
        (
            "UpdateTable",
            r#"{"TableName": "orders", "BillingMode": "FREE", "TableClass": "GOLD",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "ALL"},
                "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "X"}]}"#,
            "4 validation errors detected: Value 'FREE' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]; \
             Value 'GOLD' at 'tableClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, STANDARD_INFREQUENT_ACCESS]; \
             Value 'ALL' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]; \
             Value 'X' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
        ),
        (
            "RestoreTableFromBackup",
            r#"{"TargetTableName": "a", "BackupArn": "", "BillingModeOverride": "FREE"}"#,
            "3 validation errors detected: Value 'a' at 'targetTableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value '' at 'backupArn' failed to satisfy constraint: Member must have length greater than or equal to 37; \
             Value 'FREE' at 'billingModeOverride' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
        ),
        (
            "RestoreTableToPointInTime",
            r#"{"SourceTableName": "orders", "TargetTableName": "a",
                "BillingModeOverride": "FREE"}"#,
            "2 validation errors detected: Value 'a' at 'targetTableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value 'FREE' at 'billingModeOverride' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
        ),
        (
            "BatchGetItem",
            r#"{"RequestItems": {"orders": {"Keys": [{"p": {"S": "k"}}]}},
                "ReturnConsumedCapacity": "all"}"#,
            "1 validation error detected: Value 'all' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
        ),
        // Valid values the request's other members do not allow.
        (
            "Query",
            r#"{"TableName": "orders", "Select": "ALL_ATTRIBUTES", "ProjectionExpression": "a",
                "KeyConditionExpression": "p = :p", "ExpressionAttributeValues": {":p": {"S": "k"}}}"#,
            "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
        ),
        (
            "Scan",
            r#"{"TableName": "orders", "Select": "ALL_PROJECTED_ATTRIBUTES"}"#,
            "ALL_PROJECTED_ATTRIBUTES can be used only when Scanning using an IndexName",
        ),
        (
            "Scan",
            r#"{"TableName": "orders", "Select": "COUNT", "AttributesToGet": ["a"]}"#,
            "Cannot specify the AttributesToGet when choosing to get only the Count",
        ),
        (
            "Scan",
            r#"{"TableName": "orders", "Select": "SPECIFIC_ATTRIBUTES"}"#,
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        ),
        (
            "Scan",
            r#"{"TableName": "orders", "ConditionalOperator": "AND"}"#,
            "ConditionalOperator cannot be used without Filter or Expected",
        ),
        (
            "PutItem",
            r#"{"TableName": "orders", "Item": {"p": {"S": "k"}}, "ConditionalOperator": "OR",
                "Expected": {"a": {"Exists": false}}}"#,
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        ),
    ];
    for (op, body, message) in cases {
        let got = raw_error(server.addr, op, body).await;
        assert_eq!(got, validation(message), "{op}");
    }
}
