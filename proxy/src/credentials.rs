//! The proxy's own AWS credentials and region, for re-signing what it
//! forwards to a foreign upstream.
//!
//! The chain, first match wins (the AWS SDKs' order, minus what needs a
//! network call or a token cache):
//!
//! 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 2. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default
//!    `~/.aws/credentials`), section `[<profile>]`;
//! 3. the shared config file (`AWS_CONFIG_FILE`, default `~/.aws/config`),
//!    section `[profile <profile>]` (`[default]` for the default profile),
//!
//! where the profile is `AWS_PROFILE`, default `default`.
//!
//! Not supported: EC2/ECS instance metadata (IMDS), SSO, web identity
//! tokens, `credential_process`, `role_arn` assume-role chains. A profile
//! that only has those yields no credentials, and the proxy forwards
//! requests unsigned (with a warning for AWS upstreams).
//!
//! The region: the upstream host's (`dynamodb.<region>.amazonaws.com`),
//! else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` in the
//! config file, else `us-east-1`.
//!
//! Everything is read once, at start-up: credentials that rotate (session
//! tokens) need a restart.
//!
//! Without credentials, the proxy's own calls to an upstream that is not AWS
//! are signed with [`PLACEHOLDER`].

use std::collections::BTreeMap;

/// The key pair (access key ID, secret) the proxy signs its own calls with
/// when it has no credentials and the upstream is not AWS: emulators
/// (moto, DynamoDB Local, LocalStack, Dynoxide) require a SigV4 header but
/// accept any key. Letters only, which DynamoDB Local requires of an access
/// key ID. DynamoDB Local without `-sharedDb` keeps one database per access
/// key and region: run it with `-sharedDb`, or give the proxy the clients'
/// key, so that the proxy sees the clients' tables.
pub const PLACEHOLDER: (&str, &str) = ("ferrodynproxy", "ferrodynproxy");
use std::path::{Path, PathBuf};

/// Where the proxy's credentials come from.
#[derive(Debug, Clone, Default)]
pub enum Setting {
    /// The chain above, read at start-up.
    #[default]
    FromEnvironment,
    /// These credentials (tests, embedding applications).
    Static(Credentials),
    /// Never re-sign: forward the client's headers as they are.
    Unsigned,
}

/// One set of static credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    // Secrets stay out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where the credentials were found (logged at start-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    CredentialsFile(PathBuf),
    ConfigFile(PathBuf),
}

/// What the chain resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub credentials: Option<(Credentials, Source)>,
    /// The region from the environment or the profile, if any (the
    /// upstream host's region takes precedence over it; see [`region`]).
    pub region: Option<String>,
}

/// Resolve credentials and region from the process environment and the
/// shared files.
pub fn resolve() -> Resolved {
    resolve_with(&|name| std::env::var(name).ok())
}

/// [`resolve`] with an explicit environment (tests).
pub fn resolve_with(env: &dyn Fn(&str) -> Option<String>) -> Resolved {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let home = var("HOME").map(PathBuf::from);
    let file = |var_name: &str, default: &str| {
        var(var_name)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_file = file("AWS_CONFIG_FILE", "config");
    // The config file names profiles `[profile x]`, except `[default]`.
    let config_section = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    let config = config_file
        .as_deref()
        .and_then(|p| read_section(p, &config_section));

    let from_env = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => Some((
            Credentials {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            },
            Source::Environment,
        )),
        _ => None,
    };
    let credentials = from_env
        .or_else(|| {
            let path = credentials_file?;
            let section = read_section(&path, &profile)?;
            Some((from_section(&section)?, Source::CredentialsFile(path)))
        })
        .or_else(|| {
            let path = config_file?;
            Some((from_section(config.as_ref()?)?, Source::ConfigFile(path)))
        });
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| config.as_ref()?.get("region").cloned());
    Resolved {
        credentials,
        region,
    }
}

/// The signing region for an upstream at `host`: AWS hosts carry theirs;
/// otherwise `configured` (environment, profile), else `us-east-1`.
pub fn region(host: &str, configured: Option<&str>) -> String {
    ferrodyn_store::auth::sigv4::aws_region_of_host(host)
        .or_else(|| configured.map(str::to_owned))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

fn from_section(section: &BTreeMap<String, String>) -> Option<Credentials> {
    Some(Credentials {
        access_key_id: section.get("aws_access_key_id")?.clone(),
        secret_access_key: section.get("aws_secret_access_key")?.clone(),
        session_token: section.get("aws_session_token").cloned(),
    })
}

/// The `key = value` pairs of `[section]` in an INI-style AWS file; `None`
/// if the file or the section is missing. Unreadable files count as
/// missing: the chain goes on to the next source, as the SDKs do.
fn read_section(path: &Path, section: &str) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_section(&text, section)
}

fn parse_section(text: &str, section: &str) -> Option<BTreeMap<String, String>> {
    let mut found = None::<BTreeMap<String, String>>;
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            // `[profile  x]` and `[ x ]` are accepted, as the SDKs do.
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            in_section = name == section;
            if in_section {
                found.get_or_insert_with(BTreeMap::new);
            }
            continue;
        }
        if !in_section {
            continue;
        }
        if let (Some(map), Some((k, v))) = (found.as_mut(), line.split_once('=')) {
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn dir(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("ferrodyn-creds-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        Dir(p)
    }

    #[test]
    fn environment_comes_first() {
        let r = resolve_with(&env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "SECRET"),
            ("AWS_SESSION_TOKEN", "TOKEN"),
            ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("HOME", "/nonexistent"),
        ]));
        let (c, source) = r.credentials.expect("credentials");
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.session_token.as_deref(), Some("TOKEN"));
        assert_eq!(source, Source::Environment);
        assert_eq!(r.region.as_deref(), Some("eu-central-1"));
        assert!(!format!("{c:?}").contains("SECRET"));
    }

    #[test]
    fn profiles_come_from_the_shared_files() {
        let d = dir("files");
        let creds = d.0.join("credentials");
        let config = d.0.join("config");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n\
             [work]\n# comment\naws_access_key_id=WORK\naws_secret_access_key=worksecret\n",
        )
        .expect("write");
        std::fs::write(
            &config,
            "[default]\nregion = us-west-1\n[profile work]\nregion = ap-south-1\n\
             [profile cfgonly]\naws_access_key_id = CFG\naws_secret_access_key = cfgsecret\n",
        )
        .expect("write");
        let files = [
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                creds.to_str().expect("utf-8"),
            ),
            ("AWS_CONFIG_FILE", config.to_str().expect("utf-8")),
        ];
        let with = |profile: Option<&'static str>| {
            let mut vars = files.to_vec();
            if let Some(p) = profile {
                vars.push(("AWS_PROFILE", p));
            }
            let lookup = env(&vars);
            resolve_with(&lookup)
        };
        let r = with(None);
        assert_eq!(r.credentials.expect("default").0.access_key_id, "DEF");
        assert_eq!(r.region.as_deref(), Some("us-west-1"));
        let r = with(Some("work"));
        let (c, source) = r.credentials.expect("work");
        assert_eq!(c.access_key_id, "WORK");
        assert_eq!(source, Source::CredentialsFile(creds.clone()));
        assert_eq!(r.region.as_deref(), Some("ap-south-1"));
        let r = with(Some("cfgonly"));
        let (c, source) = r.credentials.expect("config file");
        assert_eq!(c.access_key_id, "CFG");
        assert_eq!(source, Source::ConfigFile(config.clone()));
        assert_eq!(with(Some("missing")).credentials, None);
    }

    #[test]
    fn region_prefers_the_aws_host() {
        assert_eq!(
            region("dynamodb.eu-west-1.amazonaws.com", Some("us-west-2")),
            "eu-west-1"
        );
        assert_eq!(region("127.0.0.1", Some("us-west-2")), "us-west-2");
        assert_eq!(region("alternator.local", None), "us-east-1");
    }
}
