//! Tagging: TagResource, UntagResource, ListTagsOfResource.
//!
//! Tags live in the table's catalog entry (`TableMeta::tags`, in insertion
//! order), so they are created, replaced and dropped with the table. Only
//! table ARNs can be tagged; index and stream ARNs are rejected as DynamoDB
//! rejects them. The same validation serves CreateTable's `Tags`.

use super::{abort_to_api, Store};
use crate::api::control_types::{
    ListTagsOfResourceInput, ListTagsOfResourceOutput, TagOut, TagResourceInput, UntagResourceInput,
};
use crate::api::types::Tag;
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult};
use crate::engine::Abort;

/// Most tags one table may carry.
pub const MAX_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;
const TAG_PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$";
const INVALID: &str = "One or more parameter values were invalid: ";

impl Store {
    pub(super) async fn tag_resource(&self, input: TagResourceInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if input.resource_arn.is_none() {
            v.null("resourceArn");
        }
        match &input.tags {
            None => v.null("tags"),
            Some(tags) if tags.is_empty() => v.push(
                "'[]'",
                "tags",
                "Member must have length greater than or equal to 1",
            ),
            Some(tags) => check_tag_members(tags, &mut v),
        }
        v.finish()?;
        let arn = input.resource_arn.unwrap_or_default();
        let name = table_of_arn(&arn)?;
        let tags: Vec<(String, String)> = input
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect();
        check_tag_rules(&tags)?;
        self.engine
            .write(move |ctx| {
                let Some(table) = ctx.table(&name) else {
                    return Err(Abort::Op(arn_not_found(&arn)));
                };
                let mut meta = (*table).clone();
                for (k, val) in &tags {
                    match meta.tags.iter_mut().find(|(key, _)| key == k) {
                        Some(existing) => existing.1 = val.clone(),
                        None => meta.tags.push((k.clone(), val.clone())),
                    }
                }
                if meta.tags.len() > MAX_TAGS {
                    return Err(Abort::Op(too_many_tags()));
                }
                ctx.put_table(meta)?;
                Ok(())
            })
            .await
            .map_err(abort_to_api)?;
        // DynamoDB answers TagResource and UntagResource with an empty body.
        Ok(Vec::new())
    }

    pub(super) async fn untag_resource(&self, input: UntagResourceInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if input.resource_arn.is_none() {
            v.null("resourceArn");
        }
        match &input.tag_keys {
            None => v.null("tagKeys"),
            Some(keys) => {
                for (i, k) in keys.iter().enumerate() {
                    check_len(
                        k,
                        1,
                        MAX_KEY_CHARS,
                        &format!("tagKeys.{}.member", i + 1),
                        &mut v,
                    );
                }
            }
        }
        v.finish()?;
        let arn = input.resource_arn.unwrap_or_default();
        let name = table_of_arn(&arn)?;
        let keys = input.tag_keys.unwrap_or_default();
        self.engine
            .write(move |ctx| {
                let Some(table) = ctx.table(&name) else {
                    return Err(Abort::Op(ApiError::resource_not_found()));
                };
                let mut meta = (*table).clone();
                let before = meta.tags.len();
                meta.tags.retain(|(k, _)| !keys.contains(k));
                if meta.tags.len() != before {
                    ctx.put_table(meta)?;
                }
                Ok(())
            })
            .await
            .map_err(abort_to_api)?;
        Ok(Vec::new())
    }

    pub(super) fn list_tags_of_resource(
        &self,
        input: ListTagsOfResourceInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if input.resource_arn.is_none() {
            v.null("resourceArn");
        }
        v.finish()?;
        let arn = input.resource_arn.unwrap_or_default();
        let name = table_of_arn(&arn)?;
        let table = self
            .engine
            .table(&name)
            .ok_or_else(|| arn_not_found(&arn))?;
        let tags: Vec<_> = table
            .tags
            .iter()
            .map(|(key, value)| TagOut { key, value })
            .collect();
        encode(&ListTagsOfResourceOutput { tags })
    }
}

/// Validate CreateTable's `Tags` (an empty list is allowed there).
pub(super) fn check_create_tags(tags: &[Tag]) -> ApiResult<Vec<(String, String)>> {
    let mut v = Violations::new();
    check_tag_members(tags, &mut v);
    v.finish()?;
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    check_tag_rules(&tags)?;
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, val) in tags {
        match merged.iter_mut().find(|(key, _)| *key == k) {
            Some(existing) => existing.1 = val,
            None => merged.push((k, val)),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    Ok(merged)
}

/// Member constraints of a `Tag` list, reported coral-style.
fn check_tag_members(tags: &[Tag], v: &mut Violations) {
    for (i, tag) in tags.iter().enumerate() {
        let path = format!("tags.{}.member", i + 1);
        match &tag.key {
            None => v.null(&format!("{path}.key")),
            Some(k) => check_len(k, 1, MAX_KEY_CHARS, &format!("{path}.key"), v),
        }
        match &tag.value {
            None => v.null(&format!("{path}.value")),
            Some(val) => check_len(val, 0, MAX_VALUE_CHARS, &format!("{path}.value"), v),
        }
    }
}

fn check_len(s: &str, min: usize, max: usize, path: &str, v: &mut Violations) {
    let n = s.chars().count();
    let quoted = format!("'{s}'");
    if n < min {
        v.push(
            &quoted,
            path,
            &format!("Member must have length greater than or equal to {min}"),
        );
    }
    if n > max {
        v.push(
            &quoted,
            path,
            &format!("Member must have length less than or equal to {max}"),
        );
    }
    if !s.chars().all(tag_char) {
        v.push(
            &quoted,
            path,
            &format!("Member must satisfy regular expression pattern: {TAG_PATTERN}"),
        );
    }
}

/// Letters, separators (spaces), numbers and `_ . : / = + - @`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// Rules beyond the member constraints: the reserved prefix and the count.
fn check_tag_rules(tags: &[(String, String)]) -> ApiResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    if tags.iter().any(|(k, _)| k.starts_with("aws:")) {
        return Err(ApiError::validation(format!(
            "{INVALID}Tag keys starting with 'aws:' are reserved for system use"
        )));
    }
    Ok(())
}

fn too_many_tags() -> ApiError {
    ApiError::validation(format!(
        "{INVALID}The number of tags on the resource exceeds the limit of {MAX_TAGS}"
    ))
}

/// TagResource's and ListTagsOfResource's answer for the ARN of a table
/// that does not exist (UntagResource gives the item operations' message).
fn arn_not_found(arn: &str) -> ApiError {
    ApiError::not_found(format!(
        "Requested resource not found: ResourceArn: {arn} not found"
    ))
}

/// The table name of a table ARN
/// (`arn:<partition>:dynamodb:<region>:<account>:table/<name>`).
///
/// Something that is not an ARN at all, and an ARN of another kind (an
/// index, a stream, another service), are ValidationExceptions.
fn table_of_arn(arn: &str) -> ApiResult<String> {
    if !arn.starts_with("arn:") {
        return Err(ApiError::validation(format!(
            "{INVALID}ARNs must start with 'arn:': {arn}"
        )));
    }
    let invalid = || {
        ApiError::validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, _region, _account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    if partition.is_empty() || *service != "dynamodb" {
        return Err(invalid());
    }
    let Some(name) = resource.strip_prefix("table/") else {
        return Err(invalid());
    };
    if !crate::api::validate::is_table_name(name) {
        return Err(invalid());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    #[test]
    fn table_arns_parse_and_others_are_rejected() {
        let ok = "arn:aws:dynamodb:us-east-1:000000000000:table/abc";
        assert_eq!(table_of_arn(ok).ok().as_deref(), Some("abc"));
        for bad in [
            "I_do_not_exist",
            "arn:not/a/good/format",
            "arn:aws:dynamodb:us-east-1:000000000000:table/abc/index/gsi",
            "arn:aws:dynamodb:us-east-1:000000000000:table/abc/stream/2020",
            "arn:aws:s3:::bucket",
        ] {
            let code = table_of_arn(bad).err().map(|e| e.code);
            assert_eq!(code, Some(ErrorCode::Validation), "{bad}");
        }
    }

    #[test]
    fn tag_characters_follow_dynamodb() {
        for good in ["dog", "a b", "x+-=._:/@", "незаконные", "１２"] {
            assert!(good.chars().all(tag_char), "{good}");
        }
        for bad in ["hi!", "d%g", "\"hello\"", "<>", "a|b"] {
            assert!(!bad.chars().all(tag_char), "{bad}");
        }
    }
}
