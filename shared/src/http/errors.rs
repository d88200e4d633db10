//! Where the core's own errors become problems (`problem+json`): the store's,
//! the bucket's and the upload policy's. Failures of AWS are logged here,
//! once, and answered without detail.

use crate::attachments::{S3Error, UploadError};
use crate::error::ApiError;
use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Contention => {
                tracing::warn!(error = %err, "giving up after transaction conflicts");
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl From<S3Error> for ApiError {
    fn from(e: S3Error) -> Self {
        tracing::error!(error = %e, "attachment storage failure");
        ApiError::internal()
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::UnsupportedType { .. } => ApiError::unsupported_media_type(e.to_string()),
            UploadError::TooLarge { .. } => ApiError::payload_too_large(e.to_string()),
            UploadError::UseMultipart { .. } => ApiError::use_multipart_upload(e.to_string()),
            UploadError::Field { field, message } => ApiError::field(field, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachments::check_upload;

    #[test]
    fn upload_refusals_keep_their_documented_codes_and_fields() {
        let e: ApiError = check_upload("a.png", "text/html", 1).unwrap_err().into();
        assert_eq!((e.status.as_u16(), e.code), (415, "unsupported_media_type"));
        let e: ApiError = check_upload("a.png", "image/png", 1 << 40)
            .unwrap_err()
            .into();
        assert_eq!((e.status.as_u16(), e.code), (413, "payload_too_large"));
        let e: ApiError = check_upload("a.jpg", "image/png", 1).unwrap_err().into();
        assert_eq!((e.status.as_u16(), e.code), (400, "validation_failed"));
        assert_eq!(e.errors[0].field, "filename");
        let e: ApiError = check_upload("a.png", "image/png", 0).unwrap_err().into();
        assert_eq!(e.errors[0].field, "size");
        let e: ApiError = crate::attachments::check_single_put("a.mp4", "video/mp4", 1 << 30)
            .unwrap_err()
            .into();
        assert_eq!((e.status.as_u16(), e.code), (413, "use_multipart_upload"));
        assert_eq!(e.errors[0].field, "size");
        assert!(
            e.detail.contains("/threads/{thread_id}/uploads"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn contention_is_unavailable_and_other_store_failures_internal() {
        let e: ApiError = StoreError::Contention.into();
        assert_eq!(e.status.as_u16(), 503);
        let e: ApiError = StoreError::Corrupt {
            key: "k".into(),
            what: "w".into(),
        }
        .into();
        assert_eq!(e.status.as_u16(), 500);
    }
}
