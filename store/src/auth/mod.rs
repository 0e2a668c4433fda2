//! Request authentication shared by every Ferrodyn component that talks to
//! a DynamoDB-API endpoint: the proxy re-signs what it forwards, the bench
//! signs what it sends; a server started with credentials checks the
//! signatures it receives.
//!
//! * [`sigv4`] — AWS Signature Version 4 for DynamoDB JSON requests.
//! * [`verify`] — checking incoming signatures, with DynamoDB's errors.

pub mod sigv4;
pub mod verify;
