use super::{
    AccountId, CatalogEntry, ClientMessageId, LabeledScope, MessageBody, MessageId, Role, Scope,
    ThreadId, Timestamp, UserId,
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

/// A thread as one person sees it (`unread` and `muted` are theirs).
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
    /// The person gets no e-mail about this thread.
    pub muted: bool,
}

/// Which entry of a thread's scope a link belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkLevel {
    Client,
    Campaign,
    Creative,
}

/// A context link of a thread's scope (the persona, the brief, the video).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScopeLink {
    pub label: String,
    pub url: String,
    pub level: LinkLevel,
}

/// The links of the scope's client, campaign and creative, in that order
/// (each entry's in the directory's order), from the catalog entries given
/// (others are ignored; an entry not among them adds none).
pub fn scope_links(scope: &Scope, catalog: &[CatalogEntry]) -> Vec<ScopeLink> {
    let Some(client) = scope.client() else {
        return Vec::new();
    };
    let levels = [
        (LinkLevel::Client, None, None),
        (LinkLevel::Campaign, scope.campaign(), None),
        (LinkLevel::Creative, scope.campaign(), scope.creative()),
    ];
    let mut out = Vec::new();
    for (level, campaign, creative) in levels {
        if level != LinkLevel::Client && campaign.is_none()
            || level == LinkLevel::Creative && creative.is_none()
        {
            break;
        }
        let entry = catalog.iter().find(|e| {
            &e.client == client
                && e.campaign.as_ref() == campaign
                && e.creative.as_ref() == creative
        });
        out.extend(entry.into_iter().flat_map(|e| &e.links).map(|l| ScopeLink {
            label: l.label.clone(),
            url: l.url.clone(),
            level,
        }));
    }
    out
}

/// One thread as its own view shows it (`GET /threads/{id}`, the open
/// answer): the thread and its scope's context links.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ThreadView {
    #[serde(flatten)]
    pub thread: Thread,
    pub links: Vec<ScopeLink>,
}

impl ThreadView {
    /// `catalog`: the scope's entries (more are fine).
    pub fn new(thread: Thread, catalog: &[CatalogEntry]) -> Self {
        let links = scope_links(&thread.scope.scope, catalog);
        Self { thread, links }
    }
}

/// A file attached to a message (the download link is added per response).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachmentRef {
    pub id: super::AttachmentId,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// The malware scan's state (see [`super::ScanState`]).
    pub scan: super::ScanState,
    /// Where its object is in the bucket (never shown).
    #[serde(skip)]
    pub key: KeyLayout,
}

/// Which layout an attachment's object key follows
/// (`liaison::attachments::object_key` spells them out). Stored with the
/// attachment's record and with each entry of the message that lists it;
/// an item without it was written before the layout changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KeyLayout {
    /// `t/{thread}/{attachment}`: every file stored since presigning
    /// became one round trip for everyone (the key needs nothing a
    /// manager's token lacks).
    #[default]
    Thread,
    /// `{account}/{thread}/{attachment}`: files stored before; the account
    /// is the thread's, kept on the items that name such a file.
    Account(AccountId),
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
