//! Reading landed objects from S3 (`s3://BUCKET/PREFIX`, the layout Firehose writes) through the
//! AWS SDK's standard chain (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials). The invariant:
//! every object under the prefix is read, in key order, whole — a listing is followed through all
//! its pages — and a failure is classified once (`pipeline::retry::classify_aws`) into retryable
//! or not, never skipped.

use aws_sdk_s3::error::ProvideErrorMetadata;

use super::ReportError;
use super::load::Loaded;
use crate::pipeline::retry::{FailureClass, classify_aws};

fn failed<E>(operation: String, e: &aws_sdk_s3::error::SdkError<E>) -> ReportError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    ReportError::S3 {
        operation,
        message: crate::telemetry::error_chain(e),
        retryable: classify_aws(e.code(), status) != FailureClass::Fatal,
    }
}

/// An S3 client from the standard chain. A custom endpoint (`AWS_ENDPOINT_URL[_S3]`: moto,
/// MinIO, LocalStack) is addressed path-style, as those servers expect.
pub async fn client() -> aws_sdk_s3::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let custom =
        std::env::var_os("AWS_ENDPOINT_URL").is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(custom).build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// Every key under `prefix`, sorted (folder markers ending in `/` left out).
pub async fn keys(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, ReportError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| failed(format!("ListObjectsV2 s3://{bucket}/{prefix}"), &e))?;
        keys.extend(
            page.contents().iter().filter_map(|o| o.key()).filter(|k| !k.ends_with('/')).map(str::to_string),
        );
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    keys.sort();
    Ok(keys)
}

/// Reads every object under the prefix.
pub async fn read(bucket: &str, prefix: &str) -> Result<Loaded, ReportError> {
    let client = client().await;
    let mut loaded = Loaded::default();
    for key in keys(&client, bucket, prefix).await? {
        let what = || format!("GetObject s3://{bucket}/{key}");
        let object =
            client.get_object().bucket(bucket).key(&key).send().await.map_err(|e| failed(what(), &e))?;
        let body = object.body.collect().await.map_err(|e| ReportError::S3 {
            operation: what(),
            message: crate::telemetry::error_chain(&e),
            retryable: true,
        })?;
        loaded.add_object(&key, &body.into_bytes());
    }
    Ok(loaded.finish())
}
