//! Account-level operations that describe the service rather than a table:
//! DescribeLimits and DescribeEndpoints.
//!
//! Ferrodyn enforces no account capacity, so DescribeLimits reports
//! DynamoDB's default quotas, which is what SDK helpers that size their
//! requests expect to see.

use super::Store;
use crate::api::control_types::{DescribeEndpointsOutput, DescribeLimitsOutput, Endpoint};
use crate::api::{encode, ApiResult};

/// How long clients may cache the DescribeEndpoints answer, as DynamoDB says.
const ENDPOINT_CACHE_MINUTES: u64 = 1440;

impl Store {
    pub(super) fn describe_limits(&self) -> ApiResult<Vec<u8>> {
        encode(&DescribeLimitsOutput {
            account_max_read_capacity_units: 80000,
            account_max_write_capacity_units: 80000,
            table_max_read_capacity_units: 40000,
            table_max_write_capacity_units: 40000,
        })
    }

    /// One endpoint: the address the client used to reach us (its `Host`
    /// header), so a client that follows it comes back here.
    pub fn describe_endpoints(&self, host: &str) -> ApiResult<Vec<u8>> {
        encode(&DescribeEndpointsOutput {
            endpoints: [Endpoint {
                address: host,
                cache_period_in_minutes: ENDPOINT_CACHE_MINUTES,
            }],
        })
    }
}
