//! Attachments: what may be uploaded, and S3 — presigned uploads and
//! downloads, and the check that an upload is what was declared. Bytes go
//! straight between the client and S3; no Lambda ever carries them.

mod policy;

use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;

pub use policy::{check_upload, Upload};

use crate::domain::{AccountId, AttachmentId, ThreadId, Timestamp};

/// How long presigned upload and download links live.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The tag every upload carries until a message binds it; the bucket's
/// lifecycle rule deletes objects still tagged pending after two days.
pub const PENDING_TAG: &str = "liaison-state=pending";
/// The tag a bound upload carries instead.
pub const BOUND_TAG_VALUE: &str = "bound";
pub const STATE_TAG_KEY: &str = "liaison-state";

/// A presigned request: where and how to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: Timestamp,
}

/// What S3 holds under an attachment's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    pub content_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("s3 {op} failed: {message}")]
pub struct S3Error {
    op: &'static str,
    message: String,
}

impl From<S3Error> for crate::ApiError {
    fn from(e: S3Error) -> Self {
        tracing::error!(error = %e, "attachment storage failure");
        crate::ApiError::internal()
    }
}

/// The attachments bucket.
#[derive(Debug, Clone)]
pub struct Attachments {
    s3: Client,
    bucket: String,
}

/// The object key: the server's, never the caller's file name.
pub fn object_key(account: &AccountId, thread: &ThreadId, id: &AttachmentId) -> String {
    format!("{account}/{thread}/{id}")
}

fn presign_config() -> Result<PresigningConfig, S3Error> {
    PresigningConfig::expires_in(LINK_LIFETIME).map_err(|e| S3Error {
        op: "presign",
        message: e.to_string(),
    })
}

/// `attachment; filename*=UTF-8''…` (RFC 6266/8187), with an ASCII
/// fallback name for old clients.
pub fn content_disposition(filename: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    format!(
        "attachment; filename*=UTF-8''{}",
        utf8_percent_encode(filename, ATTR_CHAR)
    )
}

impl Attachments {
    pub fn new(s3: Client, bucket: impl Into<String>) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
        }
    }

    /// The bucket named by `LIAISON_BUCKET`.
    pub fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(
            crate::attachments_s3_client(aws),
            crate::config::bucket_name()?,
        ))
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A PUT that S3 accepts only with exactly this type and length (both
    /// signed), for 15 minutes. Computed locally: no round trip.
    pub async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
    ) -> Result<Link, S3Error> {
        let req = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .tagging(PENDING_TAG)
            .presigned(presign_config()?)
            .await
            .map_err(|e| S3Error {
                op: "presign PutObject",
                message: format!("{}", DisplayErrorContext(&e)),
            })?;
        let mut headers: Vec<(String, String)> = req
            .headers()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        headers.sort();
        Ok(Link {
            url: req.uri().to_owned(),
            headers,
            expires_at: Timestamp::now().plus_seconds(LINK_LIFETIME.as_secs() as i64),
        })
    }

    /// A GET that downloads as an attachment under its original name.
    pub async fn presign_download(
        &self,
        key: &str,
        filename: &str,
        content_type: &str,
    ) -> Result<Link, S3Error> {
        let req = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(filename))
            .response_content_type(content_type)
            .presigned(presign_config()?)
            .await
            .map_err(|e| S3Error {
                op: "presign GetObject",
                message: format!("{}", DisplayErrorContext(&e)),
            })?;
        Ok(Link {
            url: req.uri().to_owned(),
            headers: Vec::new(),
            expires_at: Timestamp::now().plus_seconds(LINK_LIFETIME.as_secs() as i64),
        })
    }

    /// What was uploaded under `key`, if anything (HeadObject).
    pub async fn stored(&self, key: &str) -> Result<Option<Stored>, S3Error> {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(Stored {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                content_type: out.content_type().map(str::to_owned),
            })),
            Err(e) => {
                let not_found = e
                    .as_service_error()
                    .map(|s| s.is_not_found())
                    .unwrap_or(false)
                    || e.code() == Some("NotFound")
                    || e.raw_response().map(|r| r.status().as_u16()) == Some(404);
                if not_found {
                    Ok(None)
                } else {
                    Err(S3Error {
                        op: "HeadObject",
                        message: format!("{}", DisplayErrorContext(&e)),
                    })
                }
            }
        }
    }

    /// Marks an upload as bound to a message, so the lifecycle rule that
    /// deletes abandoned uploads leaves it alone. Idempotent.
    pub async fn mark_bound(&self, key: &str) -> Result<(), S3Error> {
        use aws_sdk_s3::types::{Tag, Tagging};
        let tagging = Tagging::builder()
            .tag_set(
                Tag::builder()
                    .key(STATE_TAG_KEY)
                    .value(BOUND_TAG_VALUE)
                    .build()
                    .map_err(|e| S3Error {
                        op: "PutObjectTagging",
                        message: e.to_string(),
                    })?,
            )
            .build()
            .map_err(|e| S3Error {
                op: "PutObjectTagging",
                message: e.to_string(),
            })?;
        self.s3
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| S3Error {
                op: "PutObjectTagging",
                message: format!("{}", DisplayErrorContext(&e)),
            })?;
        Ok(())
    }
}

impl Attachments {
    /// A message as responses show it: each attachment with a fresh
    /// presigned download link (computed locally, no round trip).
    pub async fn message_view(
        &self,
        account: &AccountId,
        m: &crate::domain::Message,
    ) -> Result<serde_json::Value, S3Error> {
        let mut files = Vec::with_capacity(m.attachments.len());
        for a in &m.attachments {
            let link = self
                .presign_download(
                    &object_key(account, &m.thread_id, &a.id),
                    &a.filename,
                    &a.content_type,
                )
                .await?;
            files.push(serde_json::json!({
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "download_url": link.url,
                "download_url_expires_at": link.expires_at,
            }));
        }
        let mut view = serde_json::to_value(m).map_err(|e| S3Error {
            op: "serialize",
            message: e.to_string(),
        })?;
        view["attachments"] = serde_json::Value::Array(files);
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_escapes_everything_but_attr_chars() {
        assert_eq!(
            content_disposition("hook v2 (final).png"),
            "attachment; filename*=UTF-8''hook%20v2%20%28final%29.png"
        );
        assert_eq!(
            content_disposition("café\".pdf"),
            "attachment; filename*=UTF-8''caf%C3%A9%22.pdf"
        );
    }
}
