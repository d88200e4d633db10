//! Creates the resources the functions use, from the same definitions the
//! code reads (`store::schema`): the table (stream on, indexes, TTL), the
//! attachments bucket (private, CORS for the app), the notification queue
//! with its dead-letter queue, and the SES sender identity. Used by tests,
//! `make dev` and the local gateway; `infra/template.yaml` declares the
//! same, and a test holds the two together. Every step is idempotent.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

use crate::store::schema;

/// How many times SQS hands a notification to the notifier before it goes
/// to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// The notifier's visibility timeout (≥ 6× its 30 s function timeout).
pub const QUEUE_VISIBILITY_SECONDS: u32 = 180;
/// Origins allowed to PUT/GET attachments from a browser, locally.
pub const LOCAL_CORS_ORIGINS: [&str; 2] = ["http://localhost:5173", "http://127.0.0.1:3000"];

#[derive(Debug, Clone)]
pub struct Names {
    pub table: String,
    pub bucket: String,
    pub queue: String,
    pub from_email: String,
}

impl Names {
    /// Names with a common prefix (tests give each test its own).
    pub fn with_prefix(prefix: &str) -> Self {
        let p = prefix.to_ascii_lowercase();
        Self {
            table: format!("{p}-table"),
            bucket: format!("{p}-attachments"),
            queue: format!("{p}-notifications"),
            from_email: "liaison@agency.example".into(),
        }
    }

    pub fn dead_letter_queue(&self) -> String {
        format!("{}-dlq", self.queue)
    }
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub stream_arn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("provisioning {step} failed: {message}")]
pub struct ProvisionError {
    step: &'static str,
    message: String,
}

fn fail<E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static>(
    step: &'static str,
) -> impl FnOnce(E) -> ProvisionError {
    move |e| ProvisionError {
        step,
        message: format!("{}", DisplayErrorContext(&e)),
    }
}

fn build_fail(
    step: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> ProvisionError {
    move |e| ProvisionError {
        step,
        message: e.to_string(),
    }
}

fn already_exists(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ResourceInUseException"
                | "BucketAlreadyOwnedByYou"
                | "BucketAlreadyExists"
                | "QueueAlreadyExists"
                | "AlreadyExistsException"
        )
    )
}

/// Whether the table gets its stream (as the template declares it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stream {
    /// New images, which `relay-messages` reads.
    #[default]
    On,
    /// None: for a harness that hands `relay-messages` its events itself
    /// (the bench). moto keeps every stream record in the table and copies
    /// the whole table for each item of a transaction, so writes slow down
    /// as records pile up; on DynamoDB a stream costs a writer nothing.
    Off,
}

/// The table: on-demand, stream with new images, the indexes of
/// `store::schema`, TTL on `expires_at`; the stream's ARN.
pub async fn table(
    db: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<Option<String>, ProvisionError> {
    table_with(db, name, Stream::On).await
}

/// [`table`], with or without its stream.
pub async fn table_with(
    db: &aws_sdk_dynamodb::Client,
    name: &str,
    stream: Stream,
) -> Result<Option<String>, ProvisionError> {
    let key = |attr: &str, kt: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(kt)
            .build()
            .map_err(build_fail("table key"))
    };
    let mut req = db
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(schema::PK, KeyType::Hash)?)
        .key_schema(key(schema::SK, KeyType::Range)?);
    if stream == Stream::On {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(schema::STREAM_VIEW))
                .build()
                .map_err(build_fail("stream"))?,
        );
    }
    for attr in schema::key_attributes() {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_fail("attribute"))?,
        );
    }
    for index in schema::INDEXES {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.pk, KeyType::Hash)?)
                .key_schema(key(index.sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_fail("index"))?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e) if already_exists(e.code()) => {}
        Err(e) => return Err(fail("CreateTable")(e)),
    }
    let ttl = db
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(schema::TTL_ATTRIBUTE)
                .build()
                .map_err(build_fail("ttl"))?,
        )
        .send()
        .await;
    match ttl {
        Ok(_) => {}
        // Already enabled: DynamoDB refuses to enable it twice.
        Err(e) if e.code() == Some("ValidationException") => {}
        Err(e) => return Err(fail("UpdateTimeToLive")(e)),
    }
    let described = db
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(fail("DescribeTable"))?;
    Ok(described.table.and_then(|t| t.latest_stream_arn))
}

/// The attachments bucket, private, with CORS so a browser on the app's
/// origin can PUT (whole files and parts, reading each part's `ETag`) and
/// GET through presigned URLs, and the template's lifecycle rules: uploads
/// still tagged pending expire, incomplete uploads in parts are aborted
/// (moto stores them without applying them; tests read them back).
pub async fn bucket(
    s3: &aws_sdk_s3::Client,
    name: &str,
    origins: &[&str],
) -> Result<(), ProvisionError> {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    match s3.create_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e) if already_exists(e.code()) => {}
        Err(e) => return Err(fail("CreateBucket")(e)),
    }
    let mut rule = CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_methods("GET")
        .allowed_headers("content-type")
        .allowed_headers("content-length")
        .allowed_headers("x-amz-tagging")
        .allowed_headers("if-none-match")
        .expose_headers("etag")
        .max_age_seconds(3000);
    for o in origins {
        rule = rule.allowed_origins(*o);
    }
    let cors = CorsConfiguration::builder()
        .cors_rules(rule.build().map_err(|e| ProvisionError {
            step: "cors",
            message: e.to_string(),
        })?)
        .build()
        .map_err(|e| ProvisionError {
            step: "cors",
            message: e.to_string(),
        })?;
    s3.put_bucket_cors()
        .bucket(name)
        .cors_configuration(cors)
        .send()
        .await
        .map_err(fail("PutBucketCors"))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(unbound_uploads_expire()?)
        .send()
        .await
        .map_err(fail("PutBucketLifecycleConfiguration"))?;
    Ok(())
}

/// The lifecycle rules the template gives the bucket: objects tagged
/// [`crate::attachments::PENDING_TAG`] expire after
/// [`crate::attachments::UNBOUND_EXPIRY_DAYS`], and uploads in parts left
/// incomplete are aborted after
/// [`crate::attachments::ABORT_INCOMPLETE_DAYS`].
fn unbound_uploads_expire(
) -> Result<aws_sdk_s3::types::BucketLifecycleConfiguration, ProvisionError> {
    use crate::attachments::{
        ABORT_INCOMPLETE_DAYS, ABORT_INCOMPLETE_RULE, PENDING_TAG_VALUE, STATE_TAG_KEY,
        UNBOUND_EXPIRY_DAYS, UNBOUND_EXPIRY_RULE,
    };
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
        LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, Tag,
    };
    let err = |e: aws_sdk_s3::error::BuildError| ProvisionError {
        step: "lifecycle",
        message: e.to_string(),
    };
    let rule = LifecycleRule::builder()
        .id(UNBOUND_EXPIRY_RULE)
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .tag(
                    Tag::builder()
                        .key(STATE_TAG_KEY)
                        .value(PENDING_TAG_VALUE)
                        .build()
                        .map_err(err)?,
                )
                .build(),
        )
        .expiration(
            LifecycleExpiration::builder()
                .days(UNBOUND_EXPIRY_DAYS)
                .build(),
        )
        .build()
        .map_err(err)?;
    // Uploads in parts never completed (a client that gave up): S3 keeps
    // their parts, billed and invisible, until aborted.
    let abort = LifecycleRule::builder()
        .id(ABORT_INCOMPLETE_RULE)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(ABORT_INCOMPLETE_DAYS)
                .build(),
        )
        .build()
        .map_err(err)?;
    BucketLifecycleConfiguration::builder()
        .rules(rule)
        .rules(abort)
        .build()
        .map_err(err)
}

/// The notification queue and its dead-letter queue, with redrive.
pub async fn queues(
    sqs: &aws_sdk_sqs::Client,
    names: &Names,
) -> Result<(String, String), ProvisionError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq_url = sqs
        .create_queue()
        .queue_name(names.dead_letter_queue())
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(fail("CreateQueue (dead letters)"))?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(fail("GetQueueAttributes"))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVE_COUNT}"}}"#);
    let queue_url = sqs
        .create_queue()
        .queue_name(&names.queue)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            QUEUE_VISIBILITY_SECONDS.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(fail("CreateQueue"))?
        .queue_url
        .unwrap_or_default();
    Ok((queue_url, dlq_url))
}

/// The SES sender identity (moto refuses to send from an unknown one).
pub async fn sender(ses: &aws_sdk_sesv2::Client, from: &str) -> Result<(), ProvisionError> {
    match ses
        .create_email_identity()
        .email_identity(from)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if already_exists(e.code()) => Ok(()),
        Err(e) => Err(fail("CreateEmailIdentity")(e)),
    }
}

/// Everything, for `make dev` and the tests.
pub async fn all(aws: &SdkConfig, names: &Names) -> Result<Provisioned, ProvisionError> {
    all_with(aws, names, Stream::On).await
}

/// [`all`], the table with or without its stream.
pub async fn all_with(
    aws: &SdkConfig,
    names: &Names,
    stream: Stream,
) -> Result<Provisioned, ProvisionError> {
    let stream_arn = table_with(&aws_sdk_dynamodb::Client::new(aws), &names.table, stream).await?;
    bucket(
        &crate::aws::s3_client(aws),
        &names.bucket,
        &LOCAL_CORS_ORIGINS,
    )
    .await?;
    let (queue_url, dead_letter_queue_url) = queues(&aws_sdk_sqs::Client::new(aws), names).await?;
    sender(&aws_sdk_sesv2::Client::new(aws), &names.from_email).await?;
    Ok(Provisioned {
        queue_url,
        dead_letter_queue_url,
        stream_arn,
    })
}
