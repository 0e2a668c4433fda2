//! Target (a): the wire decoder. A generated request, damaged as a JSON
//! tree and then as bytes, is decoded into every typed input; each decode
//! must succeed or fail with a ValidationException or a
//! SerializationException, and never panic.

use ferrodyn_store::api::{self, control_types, feed, streams, types, ApiResult, ErrorCode};
use serde::de::DeserializeOwned;

use crate::mutate;
use crate::requests::{request, OPERATIONS};
use crate::rng::Rng;
use crate::runner::{show_bytes, Case, Target};

pub struct Wire;

fn check<T: DeserializeOwned>(name: &str, body: &[u8], case: &mut Case) {
    let result: ApiResult<T> = api::decode(body);
    case.accepted |= result.is_ok();
    if let Err(e) = result {
        if !matches!(e.code, ErrorCode::Validation | ErrorCode::Serialization) {
            case.fail(format!(
                "{name}: decode failed with {}: {}",
                e.code.as_str(),
                e.message
            ));
        } else if e.body().is_empty() {
            case.fail(format!("{name}: empty error body"));
        }
    }
}

macro_rules! decode_all {
    ($body:expr, $case:expr, $($ty:path),* $(,)?) => {
        $( check::<$ty>(stringify!($ty), $body, $case); )*
    };
}

/// The bytes of one case.
pub fn input(rng: &mut Rng) -> Vec<u8> {
    let op = *rng.pick(&OPERATIONS);
    let mut v = request(rng, op);
    if rng.one_in(2) {
        for _ in 0..1 + rng.below(3) {
            mutate::json(rng, &mut v);
        }
    }
    let mut body = serde_json::to_vec(&v).unwrap_or_default();
    if rng.one_in(2) {
        mutate::bytes(rng, &mut body);
    }
    body
}

impl Target for Wire {
    fn name(&self) -> &'static str {
        "wire"
    }

    async fn run_case(&mut self, rng: &mut Rng) -> Case {
        let body = input(rng);
        let mut case = Case::new(show_bytes(&body));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut c = Case::default();
            decode_all!(
                &body,
                &mut c,
                types::CreateTableInput,
                types::TableNameInput,
                types::ListTablesInput,
                types::UpdateTableInput,
                types::PutItemInput,
                types::GetItemInput,
                types::DeleteItemInput,
                types::UpdateItemInput,
                types::QueryInput,
                types::ScanInput,
                types::BatchGetItemInput,
                types::BatchWriteItemInput,
                types::TransactWriteItemsInput,
                types::TransactGetItemsInput,
                control_types::TagResourceInput,
                control_types::UntagResourceInput,
                control_types::ListTagsOfResourceInput,
                control_types::UpdateTimeToLiveInput,
                streams::ListStreamsInput,
                streams::DescribeStreamInput,
                streams::GetShardIteratorInput,
                streams::GetRecordsInput,
                feed::GetChangesInput,
            );
            c
        }));
        match caught {
            Ok(Case {
                problem: Some(problem),
                ..
            }) => case.fail(problem),
            Ok(c) => case.accepted = c.accepted,
            // The runner reports the panic with its message and place.
            Err(_) => {}
        }
        case
    }
}
