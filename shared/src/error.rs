//! `problem+json` (RFC 9457) errors with the stable `code`s of API.md.

use http::StatusCode;
use serde::Serialize;

use crate::domain::FieldError;

/// What went wrong, in the caller's terms. Internal causes are logged where
/// they happen and never reach the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, title: &'static str, detail: String) -> Self {
        Self {
            status,
            code,
            title,
            detail,
            errors: Vec::new(),
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Unauthenticated",
            "The request carries no usable identity.".into(),
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            "No such resource.".into(),
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            errors,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Validation failed",
                detail,
            )
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "Malformed JSON",
            detail.into(),
        )
    }

    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            detail.into(),
        )
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            detail.into(),
        )
    }

    pub fn idempotency_conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            "Idempotency conflict",
            "This client_message_id was already used for a different message in this thread."
                .into(),
        )
    }

    pub fn too_many_attachments(max: usize) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_attachments",
            "Too many attachments",
            format!("A message carries at most {max} attachments."),
        )
    }

    pub fn attachment_not_uploaded(id: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_not_uploaded",
            "Attachment not uploaded",
            format!(
                "Attachment {id} is not an uploaded, unsent attachment of yours in this thread."
            ),
        )
    }

    pub fn attachment_mismatch(id: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_mismatch",
            "Attachment mismatch",
            format!(
                "The uploaded object for attachment {id} does not have the declared size and type."
            ),
        )
    }

    /// The file was not scanned for malware yet: no download until it is
    /// (a few seconds to minutes after its upload).
    pub fn attachment_not_scanned(id: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "attachment_not_scanned",
            "Attachment not scanned yet",
            format!("Attachment {id} is still being scanned for malware. Try again in a moment."),
        )
    }

    /// The malware scan found a threat in the file: it is never served.
    pub fn attachment_infected(id: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "attachment_infected",
            "Attachment infected",
            format!("The malware scan found a threat in attachment {id}; it cannot be downloaded."),
        )
    }

    /// The file's bytes are not of its declared type (content sniffing);
    /// the upload was deleted. `field` is `attachment_ids[i]`.
    pub fn attachment_content_mismatch(field: String, id: &str, declared: &str) -> Self {
        Self {
            errors: vec![FieldError::new(
                field,
                format!("is not a {declared} file; the upload was deleted"),
            )],
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "attachment_mismatch",
                "Attachment mismatch",
                format!(
                    "The bytes of attachment {id} are not a {declared} file, as declared. The \
                     upload was deleted: upload the file again with its true type."
                ),
            )
        }
    }

    /// A file over the single-PUT limit: it takes a multipart upload.
    pub fn use_multipart_upload(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self {
            errors: vec![FieldError::new("size", detail.clone())],
            ..Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "use_multipart_upload",
                "Use a multipart upload",
                detail,
            )
        }
    }

    /// S3 refused to assemble the parts as listed (a wrong ETag, a
    /// missing or too small part) or they do not add up to the declared
    /// size; nothing was completed.
    pub fn upload_parts_invalid(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            errors: vec![FieldError::new("parts", message.clone())],
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upload_parts_invalid",
                "Upload parts invalid",
                format!(
                    "The upload was not completed: {message}. Upload the parts again (ask for \
                     fresh part URLs) and complete it with every part's ETag."
                ),
            )
        }
    }

    /// The upload is in a sent message: it can no longer be discarded.
    pub fn attachment_already_sent(id: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "attachment_already_sent",
            "Attachment already sent",
            format!("Attachment {id} is in a sent message and stays while the message exists."),
        )
    }

    /// The upload is too close to (or past) its expiry to be sent: it must
    /// be uploaded again.
    pub fn attachment_expired(id: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_expired",
            "Attachment expired",
            format!(
                "Attachment {id} was uploaded too long ago to be sent. Upload the file again \
                 and send the new attachment."
            ),
        )
    }

    /// A person's unsent uploads from today reached the cap (count or
    /// bytes); sending or the next UTC day frees room.
    pub fn too_many_pending_uploads(max_uploads: u64, max_bytes: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_pending_uploads",
            "Too many pending uploads",
            format!(
                "You have presigned {max_uploads} uploads or {} GiB today that are not in a \
                 sent message yet. Send them, or wait until 00:00 UTC.",
                max_bytes / (1024 * 1024 * 1024)
            ),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            "This path does not accept this method.".into(),
        )
    }

    /// AWS kept refusing (e.g. transaction conflicts under heavy contention);
    /// nothing was written and the caller may retry.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "The request could not be completed right now; nothing was changed. Retry shortly."
                .into(),
        )
    }

    /// An unexpected failure. Log the cause before calling this.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "Something went wrong on our side.".into(),
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&Problem {
            kind: "about:blank",
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
            errors: &self.errors,
        })
        .unwrap_or_else(|_| {
            r#"{"type":"about:blank","title":"Internal error","status":500,"code":"internal"}"#
                .to_owned()
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_names_fields() {
        let e = ApiError::field("scope.kind", "is required");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["status"], 400);
        assert_eq!(v["code"], "validation_failed");
        assert_eq!(v["type"], "about:blank");
        assert_eq!(v["errors"][0]["field"], "scope.kind");
    }

    #[test]
    fn internal_problem_has_no_errors_member() {
        let v: serde_json::Value = serde_json::from_str(&ApiError::internal().to_json()).unwrap();
        assert_eq!(v["code"], "internal");
        assert!(v.get("errors").is_none());
    }
}
