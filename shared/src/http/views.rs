//! Response bodies that need more than the domain value: a message with a
//! fresh download link on each attachment.

use serde::Serialize;

use crate::attachments::{object_key, Attachments};
use crate::domain::{AccountId, AttachmentId, Message, Timestamp};
use crate::error::ApiError;

/// An attachment as responses show it.
#[derive(Debug, Serialize)]
struct AttachmentView<'a> {
    id: AttachmentId,
    filename: &'a str,
    content_type: &'a str,
    size: u64,
    download_url: String,
    download_url_expires_at: Timestamp,
}

/// A message as responses show it: each attachment with a fresh presigned
/// download link (computed locally, no round trip).
pub async fn message_view(
    attachments: &Attachments,
    account: &AccountId,
    m: &Message,
) -> Result<serde_json::Value, ApiError> {
    let mut files = Vec::with_capacity(m.attachments.len());
    for a in &m.attachments {
        let link = attachments
            .presign_download(
                &object_key(account, &m.thread_id, &a.id),
                &a.filename,
                &a.content_type,
            )
            .await?;
        files.push(AttachmentView {
            id: a.id,
            filename: &a.filename,
            content_type: &a.content_type,
            size: a.size,
            download_url: link.url,
            download_url_expires_at: link.expires_at,
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
