//! Wire model of contributor insights: UpdateContributorInsights,
//! DescribeContributorInsights, ListContributorInsights, and the report the
//! store's admin endpoint serves at `/insights`.
//!
//! Inputs keep enumerated members as strings so that an unknown value is
//! the ValidationException DynamoDB answers, not a SerializationException;
//! the operation turns them into the enums below.

use serde::{Deserialize, Serialize};

pub use crate::model::table::InsightsMode as ContributorInsightsMode;
use crate::model::value::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContributorInsightsAction {
    Enable,
    Disable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContributorInsightsStatus {
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Failed,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateContributorInsightsInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub contributor_insights_action: Option<String>,
    pub contributor_insights_mode: Option<String>,
}

/// UpdateContributorInsights answers with the members of a listing's
/// summary, in the same order.
pub type UpdateContributorInsightsOutput = ContributorInsightsSummary;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeContributorInsightsInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailureException {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeContributorInsightsOutput {
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributor_insights_rule_list: Option<Vec<String>>,
    pub contributor_insights_status: ContributorInsightsStatus,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_date_time: Option<f64>,
    /// Never set: enabling insights in Ferrodyn cannot fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_exception: Option<FailureException>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributor_insights_mode: Option<ContributorInsightsMode>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListContributorInsightsInput {
    pub table_name: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

/// One table's or index's insights, as ListContributorInsights lists them
/// and UpdateContributorInsights answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContributorInsightsSummary {
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    pub contributor_insights_status: ContributorInsightsStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributor_insights_mode: Option<ContributorInsightsMode>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListContributorInsightsOutput {
    pub contributor_insights_summaries: Vec<ContributorInsightsSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DynamoDB's four rules per table or index, by the code in their names
/// (`DynamoDBContributorInsights-<code>-<resource>-<created>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InsightsRule {
    /// Most accessed partition keys.
    #[serde(rename = "PKC")]
    PartitionAccessed = 0,
    /// Most throttled partition keys.
    #[serde(rename = "PKT")]
    PartitionThrottled = 1,
    /// Most accessed partition + sort keys.
    #[serde(rename = "SKC")]
    ItemAccessed = 2,
    /// Most throttled partition + sort keys.
    #[serde(rename = "SKT")]
    ItemThrottled = 3,
}

impl InsightsRule {
    pub const ALL: [InsightsRule; 4] = [
        InsightsRule::PartitionAccessed,
        InsightsRule::PartitionThrottled,
        InsightsRule::ItemAccessed,
        InsightsRule::ItemThrottled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            InsightsRule::PartitionAccessed => "PKC",
            InsightsRule::PartitionThrottled => "PKT",
            InsightsRule::ItemAccessed => "SKC",
            InsightsRule::ItemThrottled => "SKT",
        }
    }

    /// By code (`PKC`, `PKT`, `SKC`, `SKT`) or by full rule name.
    pub fn parse(text: &str) -> Option<InsightsRule> {
        let code = text
            .strip_prefix("DynamoDBContributorInsights-")
            .map_or(text, |rest| rest.get(..3).unwrap_or(rest));
        InsightsRule::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the rule counts partition + sort keys.
    pub fn sort_key(self) -> bool {
        matches!(
            self,
            InsightsRule::ItemAccessed | InsightsRule::ItemThrottled
        )
    }

    /// Whether the rule counts throttled requests (else accesses).
    pub fn throttled(self) -> bool {
        matches!(
            self,
            InsightsRule::PartitionThrottled | InsightsRule::ItemThrottled
        )
    }

    /// The rule's name for `resource` (table, or `table-index`), created at
    /// `created_ms`.
    pub fn name(self, resource: &str, created_ms: u64) -> String {
        format!(
            "DynamoDBContributorInsights-{}-{resource}-{created_ms}",
            self.code()
        )
    }
}

/// One key of a rule's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HotKeyReport {
    pub key: Item,
    /// Throughput units consumed (access rules) or throttled requests
    /// (throttle rules) counted for the key: an upper bound.
    pub count: u64,
    /// How much `count` may overstate the truth.
    pub error: u64,
}

/// One rule's ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleReport {
    pub rule: InsightsRule,
    /// Everything counted by the rule over the period.
    pub total: u64,
    /// Heaviest first.
    pub keys: Vec<HotKeyReport>,
}

/// A rule's ranking, named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedRuleReport {
    pub rule_name: String,
    #[serde(flatten)]
    pub report: RuleReport,
}

/// What `/insights?table=T[&index=I][&rule=R][&top=N]` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightsReport {
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index_name: Option<String>,
    pub contributor_insights_mode: ContributorInsightsMode,
    pub rules: Vec<NamedRuleReport>,
}
