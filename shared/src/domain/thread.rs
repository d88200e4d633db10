use super::{
    AccountId, ClientMessageId, LabeledScope, MessageBody, MessageId, Role, ThreadId, Timestamp,
    UserId,
};

/// Who wrote a message, as responses show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Author {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

/// The newest message of a thread, as thread listings show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastMessage {
    pub id: MessageId,
    pub author: Author,
    /// The first [`PREVIEW_CHARS`] characters of the body.
    pub preview: String,
    pub urgent: bool,
}

/// How many characters of a body a preview shows.
pub const PREVIEW_CHARS: usize = 140;

/// A thread as one person sees it (`unread` is theirs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Thread {
    pub id: ThreadId,
    pub account_id: AccountId,
    pub scope: LabeledScope,
    pub created_at: Timestamp,
    pub created_by: UserId,
    pub last_activity_at: Timestamp,
    pub last_message: Option<LastMessage>,
    pub message_count: u64,
    pub unread: bool,
}

/// A file attached to a message (the download link is added per response).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachmentRef {
    pub id: super::AttachmentId,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    pub id: MessageId,
    pub thread_id: ThreadId,
    pub client_message_id: ClientMessageId,
    pub author: Author,
    pub body: MessageBody,
    pub urgent: bool,
    pub attachments: Vec<AttachmentRef>,
    pub created_at: Timestamp,
}
