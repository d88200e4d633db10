//! Typed domain values: parse, don't validate. Nothing past the edge holds
//! an unchecked string.

mod directory;
mod ids;
mod message;
mod preferences;
mod principal;
mod scan;
mod scope;
mod text;
mod thread;
mod time;

pub use directory::{
    parse_directory, AccountProfile, CatalogEntry, DirectoryAccount, Link, Person, MAX_LINKS,
    MAX_LINK_LABEL_CHARS, MAX_LINK_URL_LEN, MAX_PEOPLE_PER_ACCOUNT,
};
pub use ids::{
    AccountId, AttachmentId, CampaignId, ClientId, CreativeId, IdError, MessageId, ThreadId, UserId,
};
pub use message::{
    BodyError, ClientMessageId, ClientMessageIdError, MessageBody, BODY_MAX_CHARS, MAX_ATTACHMENTS,
};
pub use preferences::{EmailPreference, UnknownPreference};
pub use principal::{Principal, Role, UnknownRole};
pub use scan::{ScanState, UnknownScanState};
pub use scope::{LabeledScope, Scope, ScopeKind};
pub use text::{clean_line, is_clean_line, is_invisible_format};
pub use thread::{
    scope_links, AttachmentRef, Author, KeyLayout, LastMessage, LinkLevel, Message, ScopeLink,
    Thread, ThreadView, PREVIEW_CHARS,
};
pub use time::{TimeZone, TimeZoneError, Timestamp, TimestampError};

/// One problem with one input field, as `problem+json` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
