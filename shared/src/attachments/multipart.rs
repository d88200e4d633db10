//! Multipart uploads: large files (videos, ZIP) go to S3 in parts, each
//! PUT straight from the client through a presigned `UploadPart` URL, so a
//! dropped connection costs one part, not the file.
//!
//! The object key, type and pending tag are fixed when the upload is
//! created ([`Attachments::create_multipart`]); each part URL signs the
//! part's exact length, so S3 takes no part longer or shorter than the plan
//! ([`super::PartPlan`]) says, and the assembled object has the declared
//! size. Only this role completes or aborts an upload, so — as with the
//! write-once single PUT — nobody can replace the object once it exists:
//! after completion the upload id is gone and its part URLs fail.
//!
//! The client keeps the parts' ETags and sends them to complete: the local
//! S3's `ListParts` answer is not readable by the Rust SDK, and a client
//! that resumes after a crash knows which parts it finished anyway. An
//! upload never completed is aborted by the bucket's
//! `AbortIncompleteMultipartUpload` rule after a day; a completed one never
//! sent expires like any pending upload (it carries the pending tag).

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{presign_config, Attachments, Link, S3Error, PENDING_TAG};
use crate::domain::Timestamp;

/// The id of the bucket's rule that aborts multipart uploads left
/// incomplete (the template says the same).
pub const ABORT_INCOMPLETE_RULE: &str = "abort-incomplete-multipart-uploads";
/// After how many days an incomplete multipart upload is aborted.
pub const ABORT_INCOMPLETE_DAYS: i32 = 1;

/// One finished part, as the client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedPart {
    pub number: u64,
    pub etag: String,
}

/// What completing an upload came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The object exists (now, or already from an earlier completion).
    Completed,
    /// S3 refused the parts as listed (its error code: `InvalidPart`,
    /// `InvalidPartOrder`, `EntityTooSmall`); nothing changed.
    PartsInvalid(String),
    /// No such upload and no object: it was aborted.
    Gone,
}

fn no_such_upload<E: ProvideErrorMetadata>(e: &E, status: Option<u16>) -> bool {
    e.code() == Some("NoSuchUpload") || (e.code().is_none() && status == Some(404))
}

impl Attachments {
    /// Starts a multipart upload of `key` with its type and the pending
    /// tag (CreateMultipartUpload); its upload id.
    pub async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, S3Error> {
        let out = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .tagging(PENDING_TAG)
            .send()
            .await
            .map_err(|e| S3Error::sdk("CreateMultipartUpload", &e))?;
        out.upload_id().map(str::to_owned).ok_or_else(|| S3Error {
            op: "CreateMultipartUpload",
            message: "no upload id in the answer".into(),
        })
    }

    /// A PUT of part `number` (`len` bytes, signed) for 15 minutes.
    /// Computed locally: no round trip.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u64,
        len: u64,
    ) -> Result<Link, S3Error> {
        let req = self
            .s3
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(i32::try_from(number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .presigned(presign_config()?)
            .await
            .map_err(|e| S3Error::sdk("presign UploadPart", &e))?;
        Ok(Link {
            url: req.uri().to_owned(),
            headers: Vec::new(),
            expires_at: Timestamp::now().plus_seconds(super::LINK_LIFETIME.as_secs() as i64),
        })
    }

    /// Assembles the listed parts (CompleteMultipartUpload). Completing an
    /// upload that is already complete answers [`Completion::Completed`]
    /// when the object is there.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[FinishedPart],
    ) -> Result<Completion, S3Error> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(i32::try_from(p.number).unwrap_or(i32::MAX))
                            .e_tag(&p.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        match self
            .s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .send()
            .await
        {
            Ok(_) => Ok(Completion::Completed),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                match e.code() {
                    Some(code @ ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall")) => {
                        Ok(Completion::PartsInvalid(code.to_owned()))
                    }
                    _ if no_such_upload(&e, status) => match self.stored(key).await? {
                        Some(_) => Ok(Completion::Completed),
                        None => Ok(Completion::Gone),
                    },
                    _ => Err(S3Error::sdk("CompleteMultipartUpload", &e)),
                }
            }
        }
    }

    /// Aborts an upload (AbortMultipartUpload): its parts are deleted.
    /// One already completed or aborted is fine.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        match self
            .s3
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if no_such_upload(&e, e.raw_response().map(|r| r.status().as_u16())) => Ok(()),
            Err(e) => Err(S3Error::sdk("AbortMultipartUpload", &e)),
        }
    }

    /// Deletes an unsent upload's object (DeleteObject; none is fine).
    pub async fn delete_upload(&self, key: &str) -> Result<(), S3Error> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| S3Error::sdk("DeleteObject", &e))?;
        Ok(())
    }
}
