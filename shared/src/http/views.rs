//! Response bodies that need more than the domain value: a message with a
//! fresh download link on each attachment.

use serde::Serialize;

use crate::attachments::{object_key, Attachments};
use crate::domain::{AttachmentId, Message, ScanState, Timestamp};
use crate::error::ApiError;

/// An attachment as responses show it: its scan state, and a download
/// link only once the scan found it clean.
#[derive(Debug, Serialize)]
struct AttachmentView<'a> {
    id: AttachmentId,
    filename: &'a str,
    content_type: &'a str,
    size: u64,
    scan: ScanState,
    #[serde(skip_serializing_if = "Option::is_none")]
    download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    download_url_expires_at: Option<Timestamp>,
}

/// A message as responses show it: each attachment with its scan state and,
/// if clean, a fresh presigned download link (computed locally, no round
/// trip).
pub async fn message_view(
    attachments: &Attachments,
    m: &Message,
) -> Result<serde_json::Value, ApiError> {
    let mut files = Vec::with_capacity(m.attachments.len());
    for a in &m.attachments {
        let link = if a.scan.is_clean() {
            Some(
                attachments
                    .presign_download(&object_key(&m.thread_id, a), &a.filename, &a.content_type)
                    .await?,
            )
        } else {
            None
        };
        let (download_url, download_url_expires_at) = match link {
            Some(l) => (Some(l.url), Some(l.expires_at)),
            None => (None, None),
        };
        files.push(AttachmentView {
            id: a.id,
            filename: &a.filename,
            content_type: &a.content_type,
            size: a.size,
            scan: a.scan,
            download_url,
            download_url_expires_at,
        });
    }
    let not_serialisable = |e: serde_json::Error| {
        tracing::error!(error = %e, "message view not serialisable");
        ApiError::internal()
    };
    let mut view = serde_json::to_value(m).map_err(not_serialisable)?;
    view["attachments"] = serde_json::to_value(files).map_err(not_serialisable)?;
    Ok(view)
}
