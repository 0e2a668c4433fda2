//! The command-line flags of the front end, shared by both binaries: the
//! browser policy, the limits and TLS (see [`super::browser`],
//! [`super::limits`] and [`super::tls`] for what they do).

use std::path::PathBuf;
use std::time::Duration;

use super::{CorsPolicy, Limits, ServeOptions, Tls, TlsError};
use crate::auth::verify::Verifier;
use crate::faults::{FaultSpec, Faults};

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Browser origins allowed to call (CORS), comma-separated, e.g.
    /// http://localhost:3000; `*` allows every origin; `none` allows none.
    /// Default: none without --credentials (a request carrying an Origin
    /// header is refused); every origin with --credentials, as DynamoDB
    /// (each call must then be signed anyway).
    #[arg(
        long = "cors-origin",
        env = "FERRODYN_CORS_ORIGIN",
        value_delimiter = ','
    )]
    pub cors_origin: Vec<String>,
    /// Host names a loopback listener accepts besides localhost and IP
    /// literals (a defence against DNS rebinding), comma-separated.
    #[arg(
        long = "allowed-host",
        env = "FERRODYN_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_host: Vec<String>,
    /// Open connections at most; one more makes the oldest close (at once
    /// if idle).
    #[arg(long, env = "FERRODYN_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    pub max_connections: usize,
    /// Requests handled at once at most; more are answered with
    /// ThrottlingException, which SDKs retry.
    #[arg(long, env = "FERRODYN_MAX_IN_FLIGHT", default_value_t = Limits::default().max_in_flight)]
    pub max_in_flight: usize,
    /// Seconds a client has to send a request's headers; also how long a
    /// keep-alive connection may stay idle.
    #[arg(long, env = "FERRODYN_HEADER_TIMEOUT_SECS", default_value_t = Limits::default().header_timeout.as_secs())]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, env = "FERRODYN_BODY_TIMEOUT_SECS", default_value_t = Limits::default().body_timeout.as_secs())]
    pub body_timeout_secs: u64,
    /// Seconds shutdown waits for requests in flight.
    #[arg(long, env = "FERRODYN_SHUTDOWN_GRACE_SECS", default_value_t = Limits::default().shutdown_grace.as_secs())]
    pub shutdown_grace_secs: u64,
    /// Access key ids (of --credentials) allowed to read the change feed,
    /// which carries the old and new images of every table's writes,
    /// comma-separated. Default: every key of --credentials.
    #[arg(
        long = "feed-access-keys",
        env = "FERRODYN_FEED_ACCESS_KEYS",
        value_delimiter = ','
    )]
    pub feed_access_keys: Vec<String>,
    /// Inject a fault (repeatable), e.g.
    /// `op=GetItem,table=T,error=ThrottlingException,probability=0.3,duration=60s`;
    /// keys: op, table, error (ThrottlingException,
    /// ProvisionedThroughputExceededException, InternalServerError,
    /// ServiceUnavailable, RequestLimitExceeded), latency (e.g. 200ms),
    /// pause=feed (GetChanges and GetRecords hand out nothing new),
    /// probability (0 to 1), duration (e.g. 60s), count.
    #[arg(long = "fault", value_parser = FaultSpec::parse_flag)]
    pub fault: Vec<FaultSpec>,
    /// Serve https: the certificate chain (PEM, the server's certificate
    /// first, then intermediates), on every listener of this process.
    /// Requires --tls-key.
    #[arg(long, env = "FERRODYN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "FERRODYN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl ServeArgs {
    /// The front end's options, with `auth` from `--credentials`; fails
    /// when the TLS certificate or key cannot be used.
    pub fn options(&self, auth: Option<Verifier>) -> Result<ServeOptions, TlsError> {
        let keys: Vec<String> = self
            .feed_access_keys
            .iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        let auth = match auth {
            Some(v) if !keys.is_empty() => Some(v.with_feed_readers(keys)),
            None if !keys.is_empty() => {
                tracing::warn!(
                    "--feed-access-keys has no effect without --credentials: the change feed is open to every client"
                );
                None
            }
            other => other,
        };
        // Each --fault was checked when parsed (FaultSpec::parse_flag).
        let faults = Faults::new();
        for spec in &self.fault {
            if let Err(e) = faults.add(spec.clone()) {
                tracing::warn!(error = %e, "--fault ignored");
            }
        }
        if faults.is_active() {
            tracing::warn!(faults = self.fault.len(), "fault injection is on");
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::from_pem_files(cert, key)?),
            // clap requires both or neither.
            _ => None,
        };
        Ok(ServeOptions {
            auth,
            faults,
            stats: Default::default(),
            cors: (!self.cors_origin.is_empty()).then(|| CorsPolicy::parse(&self.cors_origin)),
            allowed_hosts: self.allowed_host.clone(),
            limits: Limits {
                max_connections: self.max_connections,
                max_in_flight: self.max_in_flight,
                header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
                body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
                shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            },
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn fault_flags_repeat_and_bad_ones_are_refused() {
        let cli = Cli::try_parse_from([
            "ferrodyn",
            "--fault",
            "op=GetItem,table=T,error=ThrottlingException,probability=0.3,duration=60s",
            "--fault",
            "latency=20ms",
        ])
        .expect("valid flags");
        let options = cli.serve.options(None).expect("options");
        assert!(options.faults.is_active());
        assert_eq!(options.faults.list().len(), 2);
        assert!(!Cli::try_parse_from(["ferrodyn"])
            .expect("no flags")
            .serve
            .options(None)
            .expect("options")
            .faults
            .is_active());
        for bad in [
            "error=Nope",
            "op=GetItem",
            "pause=feed,op=Scan",
            "latency=1x",
        ] {
            assert!(
                Cli::try_parse_from(["ferrodyn", "--fault", bad]).is_err(),
                "{bad}"
            );
        }
    }
}
