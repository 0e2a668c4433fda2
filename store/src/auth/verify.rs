//! Checking SigV4 signatures on incoming requests, as DynamoDB does, for a
//! server started with a set of credentials (`--credentials`). Without
//! credentials nothing is checked (the default: a local database).
//!
//! The checks, in DynamoDB's order (each failure is DynamoDB's error):
//! 1. an `Authorization` header must be present
//!    (`MissingAuthenticationTokenException`) and well formed, with an
//!    `X-Amz-Date` (`IncompleteSignatureException`);
//! 2. the date must be within 5 minutes of the server's clock
//!    (`InvalidSignatureException`: "Signature expired" / "Signature not
//!    yet current") — before the key is looked up;
//! 3. `host` must be among the signed headers, and so must `x-amz-target`
//!    when the request has one (`InvalidSignatureException`);
//! 4. the access key must be known (`UnrecognizedClientException`);
//! 5. the signature must match the canonical request recomputed from what
//!    arrived (`InvalidSignatureException`).
//!
//! Steps 1–4 need no body: the front end runs them before reading it
//! ([`Verifier::verify_head`]), so an unauthenticated client cannot make
//! the server read 16 MB first. A signature naming more than 64 headers, or
//! one header twice, cannot match (no signer does that) and is refused
//! before the canonical request is built.
//!
//! Canonical headers follow the SigV4 rules: names lower-cased, the values
//! of repeated headers joined with commas, surrounding whitespace trimmed
//! and inner runs of spaces collapsed. The payload hash is over the body
//! bytes as sent (compressed, if they were). Any region in the credential
//! scope is accepted: a Ferrodyn server belongs to no region.

use std::collections::HashMap;
use std::fmt::Write as _;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use super::sigv4::{amz_date, hex, signing_key};
use crate::api::{ApiError, ErrorCode};
use crate::calendar::days_from_civil;

/// How far a request's date may be from the server's clock.
const MAX_SKEW_SECS: u64 = 5 * 60;

/// Most headers a signature may cover (see `Authorization::parse`).
const MAX_SIGNED_HEADERS: usize = 64;

const SIGNATURE_MISMATCH: &str =
    "The request signature we calculated does not match the signature you provided. \
     Check your AWS Secret Access Key and signing method. Consult the service \
     documentation for details.";

/// Access key id → secret access key, and which keys may read the change
/// feed.
#[derive(Clone, Default)]
pub struct Verifier {
    secrets: HashMap<String, String>,
    /// Keys allowed to call the change feed (it hands out the old and new
    /// images of every table); `None`: every key.
    feed_readers: Option<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for Verifier {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("access_keys", &self.secrets.keys().collect::<Vec<_>>())
            .field("feed_readers", &self.feed_readers)
            .finish()
    }
}

/// Why a credentials list does not parse.
#[derive(Debug, thiserror::Error)]
#[error("credentials must be ACCESS_KEY_ID:SECRET_ACCESS_KEY pairs separated by commas")]
pub struct CredentialsError;

impl Verifier {
    /// From `id:secret[,id:secret...]`.
    pub fn parse(list: &str) -> Result<Verifier, CredentialsError> {
        let mut secrets = HashMap::new();
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, secret) = pair.split_once(':').ok_or(CredentialsError)?;
            if id.is_empty() || secret.is_empty() {
                return Err(CredentialsError);
            }
            secrets.insert(id.to_owned(), secret.to_owned());
        }
        if secrets.is_empty() {
            return Err(CredentialsError);
        }
        Ok(Verifier {
            secrets,
            feed_readers: None,
        })
    }

    /// Allow only `keys` (access key ids) to read the change feed.
    pub fn with_feed_readers<I: IntoIterator<Item = String>>(mut self, keys: I) -> Verifier {
        self.feed_readers = Some(keys.into_iter().collect());
        self
    }

    /// Whether an HTTP Basic `Authorization` header names one of the key
    /// pairs (`Basic base64(id:secret)`): how the admin endpoints' readers
    /// (Prometheus' `basic_auth`, curl's `-u`) authenticate.
    pub fn allows_basic(&self, authorization: Option<&http::HeaderValue>) -> bool {
        use base64::Engine as _;
        let Some(encoded) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some((id, secret)) = std::str::from_utf8(&decoded)
            .ok()
            .and_then(|t| t.split_once(':'))
        else {
            return false;
        };
        self.secrets
            .get(id)
            .is_some_and(|known| constant_time_eq(known.as_bytes(), secret.as_bytes()))
    }

    /// Check one request (`now` in Unix seconds).
    pub fn verify(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(), ApiError> {
        self.verify_head(headers, now)?
            .verify_body(method, uri, headers, body)
    }

    /// The checks that need no body — all but the signature itself — so a
    /// request that cannot be authenticated is refused before its body (up
    /// to 16 MB) is read. The signature is checked with
    /// [`SignedHead::verify_body`].
    pub fn verify_head<'h>(
        &self,
        headers: &'h HeaderMap,
        now: u64,
    ) -> Result<SignedHead<'h>, ApiError> {
        let Some(authorization) = headers.get(http::header::AUTHORIZATION) else {
            return Err(ApiError::new(
                ErrorCode::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            ));
        };
        let auth = Authorization::parse(authorization.to_str().unwrap_or_default())?;
        let Some(date) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignature,
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ));
        };
        let Some(signed_at) = parse_amz_date(date) else {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignature,
                format!("Date must be in ISO-8601 'basic format'. Got '{date}'."),
            ));
        };
        if signed_at + MAX_SKEW_SECS < now {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                format!(
                    "Signature expired: {date} is now earlier than {} ({} - 5 min.)",
                    amz_date(now - MAX_SKEW_SECS),
                    amz_date(now)
                ),
            ));
        }
        if signed_at > now + MAX_SKEW_SECS {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                format!(
                    "Signature not yet current: {date} is still later than {} ({} + 5 min.)",
                    amz_date(now + MAX_SKEW_SECS),
                    amz_date(now)
                ),
            ));
        }
        // The host and the operation must be signed: a signature that does
        // not cover them could be replayed against another server or turned
        // into another operation.
        if !auth.signed_headers.iter().any(|h| h == "host") {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        if headers.contains_key("x-amz-target")
            && !auth.signed_headers.iter().any(|h| h == "x-amz-target")
        {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        let Some(secret) = self.secrets.get(auth.access_key) else {
            return Err(ApiError::new(
                ErrorCode::UnrecognizedClient,
                "The security token included in the request is invalid.",
            ));
        };
        let reads_feed = self
            .feed_readers
            .as_ref()
            .is_none_or(|keys| keys.contains(auth.access_key));
        Ok(SignedHead {
            auth,
            date: date.to_owned(),
            secret: secret.clone(),
            reads_feed,
        })
    }
}

/// A request whose signature header passed every check but the signature
/// (see [`Verifier::verify_head`]).
pub struct SignedHead<'h> {
    auth: Authorization<'h>,
    date: String,
    secret: String,
    reads_feed: bool,
}

impl SignedHead<'_> {
    /// The access key id the request is signed with.
    pub fn access_key(&self) -> &str {
        self.auth.access_key
    }

    /// Whether this key may read the change feed.
    pub fn may_read_feed(&self) -> bool {
        self.reads_feed
    }

    /// Check the signature over the request as it arrived, `body` as sent.
    pub fn verify_body(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let (auth, date, secret) = (&self.auth, &self.date, &self.secret);
        let canonical = canonical_request(method, uri, headers, &auth.signed_headers, body);
        let scope = format!(
            "{}/{}/{}/aws4_request",
            auth.date, auth.region, auth.service
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let key = signing_key(secret, auth.date, auth.region, auth.service);
        let expected = hex(&super::sigv4::hmac(&key, to_sign.as_bytes()));
        if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                SIGNATURE_MISMATCH,
            ));
        }
        Ok(())
    }
}

/// The parts of `AWS4-HMAC-SHA256 Credential=id/date/region/service/aws4_request,
/// SignedHeaders=a;b, Signature=hex` (commas and spaces between parts are
/// both accepted, as DynamoDB accepts them).
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<String>,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(value: &'a str) -> Result<Authorization<'a>, ApiError> {
        let value = value.trim();
        let Some(rest) = value.strip_prefix("AWS4-HMAC-SHA256") else {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignature,
                format!("Authorization header is not a supported signature: '{value}'"),
            ));
        };
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest
            .split([',', ' '])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let mut missing = Vec::new();
        if credential.is_none() {
            missing.push("Authorization header requires 'Credential' parameter.");
        }
        if signature.is_none() {
            missing.push("Authorization header requires 'Signature' parameter.");
        }
        if signed.is_none() {
            missing.push("Authorization header requires 'SignedHeaders' parameter.");
        }
        let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature)
        else {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignature,
                format!("{} Authorization={value}", missing.join(" ")),
            ));
        };
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key, date, region, service, "aws4_request"] = parts[..] else {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignature,
                format!(
                    "Credential should be scoped to a valid region, service and termination \
                     ('aws4_request'). Got '{credential}'."
                ),
            ));
        };
        let signed_headers: Vec<String> =
            signed.split(';').map(|h| h.to_ascii_lowercase()).collect();
        // Each entry copies every value of its header into the canonical
        // request: a list naming headers again and again would make it
        // arbitrarily large. No signer repeats a header or signs dozens.
        let mut seen = std::collections::HashSet::new();
        if signed_headers.len() > MAX_SIGNED_HEADERS
            || !signed_headers.iter().all(|h| seen.insert(h.as_str()))
        {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                SIGNATURE_MISMATCH,
            ));
        }
        Ok(Authorization {
            access_key,
            date,
            region,
            service,
            signed_headers,
            signature,
        })
    }
}

fn canonical_request(
    method: &http::Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    signed_headers: &[String],
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(512);
    let _ = write!(out, "{}\n{}\n", method.as_str(), uri.path());
    // Query parameters sorted by name then value; DynamoDB requests carry
    // none, but a signed request may.
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|q| !q.is_empty())
        .collect();
    query.sort_unstable();
    out.push_str(&query.join("&"));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| trim_all(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let _ = writeln!(out, "{name}:{}", values.join(","));
    }
    let _ = write!(
        out,
        "\n{}\n{}",
        signed_headers.join(";"),
        hex(&Sha256::digest(body))
    );
    out
}

/// Trim and collapse runs of spaces into one (SigV4's "Trimall").
fn trim_all(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `yyyymmddThhmmssZ` → Unix seconds.
fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(60);
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::Signer;

    const NOW: u64 = 1_795_530_000;

    fn signed_request(secret: &str, at: u64) -> (HeaderMap, Vec<u8>) {
        let body = br#"{"TableName":"t"}"#.to_vec();
        let signer = Signer::new("AKID".into(), secret.into(), None, "us-east-1".into());
        let date = amz_date(at);
        let target = "DynamoDB_20120810.DescribeTable";
        let signed = signer.sign("localhost:8000", target, &body, &date);
        let mut h = HeaderMap::new();
        let mut put = |k: &'static str, v: &str| {
            h.append(k, http::HeaderValue::from_str(v).expect("header value"));
        };
        put("host", "localhost:8000");
        put("content-type", "application/x-amz-json-1.0");
        put("x-amz-date", &date);
        put("x-amz-target", target);
        put("authorization", &signed.authorization);
        (h, body)
    }

    fn check(v: &Verifier, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
        v.verify(
            &http::Method::POST,
            &http::Uri::from_static("/"),
            headers,
            body,
            NOW,
        )
    }

    #[test]
    fn dates_round_trip() {
        for t in [0, 951_782_400, NOW, 4_102_444_800] {
            assert_eq!(parse_amz_date(&amz_date(t)), Some(t));
        }
        assert_eq!(parse_amz_date("2026-11-24T00:00:00Z"), None);
    }

    #[test]
    fn a_correct_signature_passes_and_tampering_fails() {
        let v = Verifier::parse("AKID:secret").expect("credentials");
        let (mut headers, body) = signed_request("secret", NOW - 10);
        check(&v, &headers, &body).expect("valid signature");
        // Whitespace in signed header values does not matter.
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("  application/x-amz-json-1.0  "),
        );
        check(&v, &headers, &body).expect("trimmed values");
        let err = check(&v, &headers, b"{}").expect_err("body changed");
        assert_eq!(err.code, ErrorCode::InvalidSignature);
        let (headers, body) = signed_request("wrong", NOW);
        let err = check(&v, &headers, &body).expect_err("wrong secret");
        assert_eq!(err.code, ErrorCode::InvalidSignature);
    }

    #[test]
    fn errors_come_in_dynamodb_order() {
        let v = Verifier::parse("other:secret").expect("credentials");
        let (headers, body) = signed_request("secret", NOW - 3600);
        let err = check(&v, &headers, &body).expect_err("expired");
        assert_eq!(err.code, ErrorCode::InvalidSignature);
        assert!(
            err.message.starts_with("Signature expired: "),
            "{}",
            err.message
        );
        let (headers, body) = signed_request("secret", NOW + 3600);
        let err = check(&v, &headers, &body).expect_err("future");
        assert!(err.message.starts_with("Signature not yet current: "));
        let (headers, body) = signed_request("secret", NOW);
        let err = check(&v, &headers, &body).expect_err("unknown key");
        assert_eq!(err.code, ErrorCode::UnrecognizedClient);
        let err = check(&v, &HeaderMap::new(), &body).expect_err("unsigned");
        assert_eq!(err.code, ErrorCode::MissingAuthenticationToken);
    }

    #[test]
    fn signed_header_lists_that_repeat_or_run_long_are_refused_unread() {
        let many: Vec<String> = (0..65).map(|i| format!("x-h{i}")).collect();
        for signed in [
            "host;x-amz-date;host".to_owned(),
            format!("host;{}", many.join(";")),
        ] {
            let value = format!(
                "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders={signed}, Signature=00"
            );
            let e = Authorization::parse(&value).err().expect("refused");
            assert_eq!(e.code, ErrorCode::InvalidSignature);
        }
        let ok = "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00";
        assert!(Authorization::parse(ok).is_ok());
    }

    #[test]
    fn basic_credentials_are_checked_against_the_key_pairs() {
        let v = Verifier::parse("alice:secret").expect("list");
        let header = |s: &'static str| http::HeaderValue::from_static(s);
        // alice:secret, alice:wrong, bob:secret
        assert!(v.allows_basic(Some(&header("Basic YWxpY2U6c2VjcmV0"))));
        assert!(!v.allows_basic(Some(&header("Basic YWxpY2U6d3Jvbmc="))));
        assert!(!v.allows_basic(Some(&header("Basic Ym9iOnNlY3JldA=="))));
        assert!(!v.allows_basic(Some(&header("Bearer x"))));
        assert!(!v.allows_basic(None));
    }

    #[test]
    fn credentials_lists_parse() {
        assert!(Verifier::parse("a:b, c:d").is_ok());
        assert!(Verifier::parse("").is_err());
        assert!(Verifier::parse("nocolon").is_err());
        assert!(Verifier::parse("a:").is_err());
    }
}
