//! Request authentication shared by every Ferrodyn component that talks to
//! a DynamoDB-API endpoint: the proxy re-signs what it forwards, the bench
//! signs what it sends. The store itself does not check signatures.
//!
//! * [`sigv4`] — AWS Signature Version 4 for DynamoDB JSON requests.

pub mod sigv4;
