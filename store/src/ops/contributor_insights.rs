//! Contributor insights: UpdateContributorInsights,
//! DescribeContributorInsights, ListContributorInsights, and the report the
//! admin endpoint serves.
//!
//! Whether insights are enabled (and in which mode, since when) is kept in
//! the catalog with the table or GSI, so it survives a restart and goes
//! with the table; the counts live in [`crate::telemetry::insights`] and
//! start empty after a restart. Enabling takes effect at once: the update
//! answers ENABLING (or DISABLING) as DynamoDB does, and a describe right
//! after it answers ENABLED (DISABLED).

use std::sync::Arc;

use base64::Engine as _;

use super::{abort_to_api, Store};
use crate::api::insights::{
    ContributorInsightsAction, ContributorInsightsMode, ContributorInsightsStatus,
    ContributorInsightsSummary, DescribeContributorInsightsInput,
    DescribeContributorInsightsOutput, InsightsReport, InsightsRule, ListContributorInsightsInput,
    ListContributorInsightsOutput, NamedRuleReport, UpdateContributorInsightsInput,
    UpdateContributorInsightsOutput,
};
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult};
use crate::engine::{Abort, Engine};
use crate::model::key::KeySchema;
use crate::model::table::{InsightsMeta, TableMeta};
use crate::telemetry::{Telemetry, Tracker};

/// ListContributorInsights' largest (and default) page.
const MAX_RESULTS: i64 = 100;

const ACTIONS: &[&str] = &["ENABLE", "DISABLE"];
const MODES: &[&str] = &["ACCESSED_AND_THROTTLED_KEYS", "THROTTLED_KEYS"];

impl Store {
    pub(super) async fn update_contributor_insights(
        &self,
        input: UpdateContributorInsightsInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.table_name_or_arn(input.table_name.as_deref(), "tableName");
        if let Some(index) = input.index_name.as_deref() {
            v.table_name(Some(index), "indexName");
        }
        match input.contributor_insights_action.as_deref() {
            None => v.null("contributorInsightsAction"),
            action => v.one_of(action, "contributorInsightsAction", ACTIONS),
        }
        v.one_of(
            input.contributor_insights_mode.as_deref(),
            "contributorInsightsMode",
            MODES,
        );
        v.finish()?;
        let name = input.table_name.clone().unwrap_or_default();
        let index = input.index_name.clone();
        let action = match input.contributor_insights_action.as_deref() {
            Some("DISABLE") => ContributorInsightsAction::Disable,
            _ => ContributorInsightsAction::Enable,
        };
        let mode = match input.contributor_insights_mode.as_deref() {
            Some("THROTTLED_KEYS") => ContributorInsightsMode::ThrottledKeys,
            _ => ContributorInsightsMode::AccessedAndThrottledKeys,
        };
        let now = self.engine.clock().now_ms();
        let (job_name, job_index) = (name.clone(), index.clone());
        let (setting, key) = self
            .engine
            .write(move |ctx| {
                let Some(table) = ctx.table(&job_name) else {
                    return Err(Abort::Op(ApiError::table_not_found(&job_name)));
                };
                let mut meta = (*table).clone();
                let (slot, key) =
                    insights_slot(&mut meta, job_index.as_deref()).map_err(Abort::Op)?;
                let key = key.clone();
                match action {
                    ContributorInsightsAction::Enable => {
                        // Rules are re-created (and re-named) only when the
                        // mode changes or insights were off.
                        let created = match slot.as_ref() {
                            Some(m) if m.enabled && m.mode == mode => m.rules_created_ms,
                            _ => now,
                        };
                        *slot = Some(InsightsMeta {
                            enabled: true,
                            mode,
                            updated_ms: now,
                            rules_created_ms: created,
                        });
                    }
                    ContributorInsightsAction::Disable => {
                        if let Some(m) = slot.as_mut() {
                            m.enabled = false;
                            m.updated_ms = now;
                        }
                    }
                }
                let setting = slot.clone();
                ctx.put_table(meta)?;
                Ok((setting, key))
            })
            .await
            .map_err(abort_to_api)?;
        let insights = &self.telemetry.insights;
        let status = match &setting {
            Some(m) if m.enabled => {
                insights.enable(&name, index.as_deref(), Tracker::new(m.mode, &key, now));
                ContributorInsightsStatus::Enabling
            }
            _ => {
                insights.disable(&name, index.as_deref());
                ContributorInsightsStatus::Disabling
            }
        };
        encode(&UpdateContributorInsightsOutput {
            table_name: name,
            index_name: index,
            contributor_insights_status: status,
            contributor_insights_mode: setting.map(|m| m.mode),
        })
    }

    pub(super) fn describe_contributor_insights(
        &self,
        input: DescribeContributorInsightsInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.table_name_or_arn(input.table_name.as_deref(), "tableName");
        if let Some(index) = input.index_name.as_deref() {
            v.table_name(Some(index), "indexName");
        }
        v.finish()?;
        let name = input.table_name.unwrap_or_default();
        let meta = self
            .engine
            .table(&name)
            .ok_or_else(|| ApiError::table_not_found(&name))?;
        let (setting, key) = insights_of(&meta, input.index_name.as_deref())?;
        let enabled = setting.filter(|m| m.enabled);
        let resource = match &input.index_name {
            None => name.clone(),
            Some(i) => format!("{name}-{i}"),
        };
        let rules = enabled.map(|m| {
            let tracker = Tracker::new(m.mode, key, 0);
            tracker
                .rules()
                .map(|r| r.name(&resource, m.rules_created_ms))
                .collect()
        });
        encode(&DescribeContributorInsightsOutput {
            table_name: name,
            index_name: input.index_name,
            contributor_insights_rule_list: rules,
            contributor_insights_status: status_of(setting),
            last_update_date_time: setting.map(|m| m.updated_ms as f64 / 1000.0),
            failure_exception: None,
            contributor_insights_mode: enabled.map(|m| m.mode),
        })
    }

    pub(super) fn list_contributor_insights(
        &self,
        input: ListContributorInsightsInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if let Some(name) = input.table_name.as_deref() {
            v.table_name_or_arn(Some(name), "tableName");
        }
        if let Some(n) = input.max_results {
            if n > MAX_RESULTS {
                v.push(
                    &format!("'{n}'"),
                    "maxResults",
                    "Member must have value less than or equal to 100",
                );
            }
        }
        v.finish()?;
        let limit = match input.max_results {
            Some(n) if n >= 1 => n as usize,
            _ => MAX_RESULTS as usize,
        };
        let tables: Vec<Arc<TableMeta>> = match input.table_name.as_deref() {
            Some(name) => vec![self
                .engine
                .table(name)
                .ok_or_else(|| ApiError::table_not_found(name))?],
            None => {
                let mut all = self.engine.tables();
                all.sort_by(|a, b| a.name.cmp(&b.name));
                all
            }
        };
        let after = input.next_token.as_deref().map(decode_token).transpose()?;
        let mut entries = tables.iter().flat_map(|t| {
            std::iter::once((t.name.as_str(), None, t.contributor_insights.as_ref())).chain(
                t.global_indexes.iter().map(|i| {
                    (
                        t.name.as_str(),
                        Some(i.name.as_str()),
                        i.contributor_insights.as_ref(),
                    )
                }),
            )
        });
        let mut page = Vec::new();
        let mut next_token = None;
        for (table, index, setting) in entries.by_ref() {
            if let Some((t, i)) = &after {
                if (table, index.unwrap_or("")) <= (t.as_str(), i.as_str()) {
                    continue;
                }
            }
            if page.len() == limit {
                next_token = page.last().map(|s: &ContributorInsightsSummary| {
                    token(&s.table_name, s.index_name.as_deref())
                });
                break;
            }
            page.push(ContributorInsightsSummary {
                table_name: table.to_owned(),
                index_name: index.map(str::to_owned),
                contributor_insights_status: status_of(setting),
                contributor_insights_mode: setting.filter(|m| m.enabled).map(|m| m.mode),
            });
        }
        encode(&ListContributorInsightsOutput {
            contributor_insights_summaries: page,
            next_token,
        })
    }

    /// The ranked keys of `table` (`index`: one of its GSIs) for `rule`
    /// (every rule it keeps if `None`), `top` per rule. `None` if insights
    /// are not enabled there.
    pub fn insights_report(
        &self,
        table: &str,
        index: Option<&str>,
        rule: Option<InsightsRule>,
        top: usize,
    ) -> Option<InsightsReport> {
        let tracker = self.telemetry.insights.tracker(table, index)?;
        let meta = self.engine.table(table)?;
        let (setting, _) = insights_of(&meta, index).ok()?;
        let created = setting.map_or(0, |m| m.rules_created_ms);
        let resource = match index {
            None => table.to_owned(),
            Some(i) => format!("{table}-{i}"),
        };
        let now = self.telemetry.now_ms();
        let rules = tracker
            .rules()
            .filter(|r| match rule {
                None => true,
                Some(want) => want == *r,
            })
            .filter_map(|r| {
                Some(NamedRuleReport {
                    rule_name: r.name(&resource, created),
                    report: tracker.report(r, top, now)?,
                })
            })
            .collect();
        Some(InsightsReport {
            table_name: table.to_owned(),
            index_name: index.map(str::to_owned),
            contributor_insights_mode: tracker.mode(),
            rules,
        })
    }
}

/// Start tracking every table and GSI whose insights the catalog says are
/// enabled (at open).
pub(super) fn load(engine: &Engine, telemetry: &Telemetry) {
    let now = engine.clock().now_ms();
    for meta in engine.tables() {
        if let Some(m) = meta.contributor_insights.as_ref().filter(|m| m.enabled) {
            let tracker = Tracker::new(m.mode, &meta.key, now);
            telemetry.insights.enable(&meta.name, None, tracker);
        }
        for index in &meta.global_indexes {
            if let Some(m) = index.contributor_insights.as_ref().filter(|m| m.enabled) {
                let tracker = Tracker::new(m.mode, &index.key, now);
                telemetry
                    .insights
                    .enable(&meta.name, Some(&index.name), tracker);
            }
        }
    }
}

fn status_of(setting: Option<&InsightsMeta>) -> ContributorInsightsStatus {
    match setting {
        Some(m) if m.enabled => ContributorInsightsStatus::Enabled,
        _ => ContributorInsightsStatus::Disabled,
    }
}

fn index_not_found(table: &str, index: &str) -> ApiError {
    ApiError::not_found(format!(
        "Requested resource not found: Index: {index} not found for table: {table}"
    ))
}

/// The insights setting of `meta` or of its GSI `index`, and its key.
fn insights_of<'a>(
    meta: &'a TableMeta,
    index: Option<&str>,
) -> ApiResult<(Option<&'a InsightsMeta>, &'a KeySchema)> {
    match index {
        None => Ok((meta.contributor_insights.as_ref(), &meta.key)),
        Some(i) => meta
            .global_indexes
            .iter()
            .find(|g| g.name == i)
            .map(|g| (g.contributor_insights.as_ref(), &g.key))
            .ok_or_else(|| index_not_found(&meta.name, i)),
    }
}

/// The same, to change it.
fn insights_slot<'a>(
    meta: &'a mut TableMeta,
    index: Option<&str>,
) -> ApiResult<(&'a mut Option<InsightsMeta>, &'a KeySchema)> {
    match index {
        None => Ok((&mut meta.contributor_insights, &meta.key)),
        Some(i) => {
            let table = meta.name.clone();
            meta.global_indexes
                .iter_mut()
                .find(|g| g.name == i)
                .map(|g| (&mut g.contributor_insights, &g.key))
                .ok_or_else(|| index_not_found(&table, i))
        }
    }
}

/// NextToken: the last entry returned, `table` NUL `index`, in base64.
fn token(table: &str, index: Option<&str>) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{table}\0{}", index.unwrap_or("")))
}

fn decode_token(text: &str) -> ApiResult<(String, String)> {
    let invalid = || ApiError::validation("Invalid NextToken");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (t, i) = text.split_once('\0').ok_or_else(invalid)?;
    Ok((t.to_owned(), i.to_owned()))
}
