//! AWS Signature Version 4 for DynamoDB JSON requests (DynamoDB and DynamoDB
//! Streams operations alike: both sign with the service name `dynamodb`), so
//! the bench can drive, and the proxy forward to, endpoints that check
//! signatures.
//!
//! Signs `POST /` with the headers the client sends (`content-type`,
//! `host`, `x-amz-date`, `x-amz-target`, and `x-amz-security-token` when
//! there is a session token) and the SHA-256 of the body. The signing key is
//! derived once per day. Only the signature is here; this module does not
//! read credentials from anywhere but its caller.

use std::fmt::Write as _;
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::calendar::DateTime;

/// Credentials and scope.
#[derive(Debug)]
pub struct Signer {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    region: String,
    service: String,
    /// (yyyymmdd, signing key) of the last day signed.
    key_cache: Mutex<Option<(String, Vec<u8>)>>,
}

/// The headers to add to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
    pub security_token: Option<String>,
}

impl Signer {
    pub fn new(
        access_key: String,
        secret_key: String,
        session_token: Option<String>,
        region: String,
    ) -> Signer {
        Signer {
            access_key,
            secret_key,
            session_token,
            region,
            service: "dynamodb".into(),
            key_cache: Mutex::new(None),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Sign a DynamoDB request at `amz_date` (`yyyymmddThhmmssZ`).
    pub fn sign(&self, host: &str, target: &str, body: &[u8], amz_date: &str) -> Signed {
        let date = &amz_date[..amz_date.len().min(8)];
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", "application/x-amz-json-1.0"),
            ("host", host),
            ("x-amz-date", amz_date),
            ("x-amz-target", target),
        ];
        if let Some(token) = &self.session_token {
            headers.push(("x-amz-security-token", token));
        }
        headers.sort();
        let signed_headers = headers
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(";");
        let mut canonical = String::from("POST\n/\n\n");
        for (k, v) in &headers {
            let _ = writeln!(canonical, "{k}:{}", v.trim());
        }
        let _ = write!(
            canonical,
            "\n{signed_headers}\n{}",
            hex(&Sha256::digest(body))
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let key = self.signing_key(date);
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        Signed {
            amz_date: amz_date.to_owned(),
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.access_key
            ),
            security_token: self.session_token.clone(),
        }
    }

    fn signing_key(&self, date: &str) -> Vec<u8> {
        let mut cache = self.key_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((d, key)) = cache.as_ref() {
            if d == date {
                return key.clone();
            }
        }
        let key = signing_key(&self.secret_key, date, &self.region, &self.service);
        *cache = Some((date.to_owned(), key.clone()));
        key
    }
}

/// The key that signs requests of one day, region and service.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The region of an AWS DynamoDB endpoint host: `dynamodb.<region>.amazonaws.com`
/// (also `streams.dynamodb.<region>...` and the `.amazonaws.com.cn`
/// partition). `None` for any other host (a local store, Alternator, moto).
pub fn aws_region_of_host(host: &str) -> Option<String> {
    let host = host.strip_prefix("streams.").unwrap_or(host);
    let rest = host.strip_prefix("dynamodb.")?;
    let (region, domain) = rest.split_once('.')?;
    let aws = domain == "amazonaws.com" || domain == "amazonaws.com.cn";
    (aws && !region.is_empty()).then(|| region.to_owned())
}

/// `yyyymmddThhmmssZ` for a Unix time in seconds (UTC).
pub fn amz_date(unix_seconds: u64) -> String {
    let t = DateTime::from_unix_seconds(unix_seconds);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The current time as `yyyymmddThhmmssZ`.
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    amz_date(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"TableName":"t"}"#;
    const TARGET: &str = "DynamoDB_20120810.DescribeTable";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    // Expected values computed with botocore's SigV4Auth for the same
    // request, credentials and time.
    #[test]
    fn signature_matches_the_reference_implementation() {
        let s = Signer::new(
            "AKIDEXAMPLE".into(),
            SECRET.into(),
            None,
            "us-west-2".into(),
        );
        let signed = s.sign(
            "dynamodb.us-west-2.amazonaws.com",
            TARGET,
            BODY,
            "20261124T113517Z",
        );
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-west-2/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=c04a8918226b0d4e81f891dea4745661bb5ee36734500b611c6dd2746e44f59f"
        );
    }

    #[test]
    fn session_token_is_signed() {
        let s = Signer::new(
            "AKIDEXAMPLE".into(),
            SECRET.into(),
            Some("SESSIONTOKEN".into()),
            "us-east-1".into(),
        );
        let signed = s.sign("127.0.0.1:8001", TARGET, BODY, "20261124T113517Z");
        assert!(signed.authorization.ends_with(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=08db789e5e24aca72634798536b49b16f9684c6de69c814a4e4d2632be805839"
        ));
        assert_eq!(signed.security_token.as_deref(), Some("SESSIONTOKEN"));
    }

    #[test]
    fn region_comes_from_aws_hosts_only() {
        assert_eq!(
            aws_region_of_host("dynamodb.eu-west-3.amazonaws.com").as_deref(),
            Some("eu-west-3")
        );
        assert_eq!(
            aws_region_of_host("streams.dynamodb.us-west-2.amazonaws.com").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(aws_region_of_host("127.0.0.1"), None);
        assert_eq!(aws_region_of_host("dynamodb.example.com"), None);
    }

    #[test]
    fn amz_date_formats_utc() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    }
}
