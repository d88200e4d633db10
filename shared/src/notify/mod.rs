//! E-mail on every reply: who gets told, what one e-mail covers, sending
//! through SES, and never twice.
//!
//! A notification job names one new message. For each person on the other
//! side of the thread, the notifier gathers every message from the other
//! side that they have neither read nor been e-mailed about (so messages
//! that arrived during the delay go out together, oldest first), claims
//! them, sends one e-mail, and completes the claims (with SES's message id),
//! one recipient at a time: one address SES refuses for good is recorded as
//! rejected and does not hold up the others.
//!
//! Every e-mail can be answered: its `Reply-To` is the recipient's reply
//! address for the thread (`reply+{key}@{reply domain}`, a key bound to
//! the thread, the person and their address: `store::replies`), reused
//! while it has more than a third of its life left, else minted anew and
//! written with the claim; it answers the previous e-mail of the thread to
//! that person (`In-Reply-To`/`References`, from SES's message id recorded
//! with the completion); times read in the person's zone.
//!
//! Who gets e-mail is decided when the job runs, from the settings of now
//! (read in the same BatchGetItem as the inbox rows: no extra round trip):
//! a person who muted the thread or set their preference to `off` gets
//! nothing, and nothing is claimed or recorded for them; under
//! `urgent_only` only urgent messages are due (so a coalesced e-mail holds
//! every due urgent one, and nothing else); messages at or before
//! `InboxRow::read_for_email()` (the furthest they ever read, even if they
//! marked the thread unread since) are never e-mailed. Every e-mail
//! carries `List-Id` and RFC 8058 one-click `List-Unsubscribe` (a mute
//! token standing for the recipient's reply key), and its footer links to
//! muting the thread and to the preferences.

pub mod email;

use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use serde::{Deserialize, Serialize};

use std::time::{Duration, Instant};

use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::operation::send_email::SendEmailError;

use crate::domain::{
    AccountId, EmailPreference, Message, MessageId, Person, Role, ThreadId, TimeZone, Timestamp,
    UserId,
};
use crate::reply::key::UNSUBSCRIBE_PREFIX;
use crate::reply::ReplyKey;
use crate::store::{Completion, InboxRow, ReplyKeyRecord, Store, StoreError, ThreadMail};

pub use email::{
    newest_author, preferences_url, render, to_mime, Email, FooterLinks, ListHeaders, ReplyTo,
    MUTE_LINE, PREFERENCES_LINE, REPLY_LINE,
};

/// The queue message: which new message to tell people about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub account_id: String,
    pub thread_id: String,
    pub message_id: String,
    pub author_role: Role,
}

/// A job with its ids checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedJob {
    pub account: AccountId,
    pub thread: ThreadId,
    pub message: MessageId,
    pub author_role: Role,
}

impl Job {
    /// `None` for anything that is not a job this code wrote.
    pub fn parse(body: &str) -> Option<CheckedJob> {
        let job: Job = serde_json::from_str(body).ok()?;
        Some(CheckedJob {
            account: AccountId::parse(job.account_id).ok()?,
            thread: ThreadId::parse(&job.thread_id).ok()?,
            message: MessageId::parse(&job.message_id).ok()?,
            author_role: job.author_role,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// SES did not take an e-mail, for a reason that may pass (the code
    /// only: SES error messages can quote addresses).
    #[error("ses SendEmail failed: {code}")]
    Ses { code: String, affects: Affects },
    #[error("e-mail could not be built: {0}")]
    Build(String),
    #[error("notification claims kept changing")]
    Contention,
    /// Some recipient's e-mail is being sent by another delivery (a live
    /// claim): this job is not done until that one is settled.
    #[error("another delivery is still sending some of these e-mails")]
    InFlight,
    /// Too little of the invocation is left to send and record one more
    /// e-mail: the rest is left for the retry.
    #[error("out of time for this invocation")]
    OutOfTime,
}

/// Whose e-mail a failure concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affects {
    /// Every e-mail would fail now (throttling, a paused account, an
    /// outage, a timeout): stop, and let the retry do who is left.
    Everyone,
    /// Only this recipient's e-mail is known to fail: go on with the others.
    Recipient,
}

impl NotifyError {
    /// Whether the job should stop here rather than go on with the next
    /// recipient.
    pub fn stops_the_job(&self) -> bool {
        !matches!(
            self,
            NotifyError::Ses {
                affects: Affects::Recipient,
                ..
            } | NotifyError::Build(_)
        )
    }
}

/// SES v2 `SendEmail` error codes that refuse this e-mail to this
/// recipient for good: retrying the same e-mail cannot succeed, so the
/// notification is recorded as rejected, logged and counted, and the other
/// recipients are not held up.
///
/// - `MessageRejected`: SES will not send this message to this address (in
///   the sandbox: the address is not verified; or the content is refused).
/// - `BadRequestException`: the request is invalid. Ours is the same for
///   every recipient but the address, so this is SES refusing the address
///   ("Illegal address", "Missing final '@domain'", a non-ASCII local part).
/// - `InvalidParameterValue`: the SES v1 spelling of the same, which some
///   SES-compatible endpoints still answer.
///
/// Every other failure is retried: throttling (`TooManyRequestsException`),
/// quotas (`LimitExceededException`), account state
/// (`SendingPausedException`, `AccountSuspendedException`,
/// `MailFromDomainNotVerifiedException`), configuration (`NotFoundException`),
/// 5xx, timeouts and network errors concern every recipient and stop the
/// job; an unknown code is retried for that recipient alone, and lands in
/// the dead-letter queue if it never passes.
///
/// An address on the account-level suppression list is not an error:
/// `SendEmail` accepts it, SES drops it and publishes a bounce event.
/// Telling people about those needs SES event publishing (not set up yet).
pub const PERMANENT_SES_ERRORS: &[&str] = &[
    "MessageRejected",
    "BadRequestException",
    "InvalidParameterValue",
];

/// SES v2 error codes that mean no e-mail can go out now, to anyone.
const SERVICE_WIDE_SES_ERRORS: &[&str] = &[
    "TooManyRequestsException",
    "LimitExceededException",
    "SendingPausedException",
    "AccountSuspendedException",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",
    "Throttling",
    "ThrottlingException",
];

/// Why SES did not take one e-mail.
#[derive(Debug)]
pub enum SendFailure {
    /// For good, for this recipient (a code of [`PERMANENT_SES_ERRORS`]).
    Rejected { code: String },
    /// Maybe not next time, and SES certainly did not send it: a 4xx
    /// refusal (throttling included), a request that never left (it could
    /// not be built, no connection was made). The claims are freed.
    Failed(NotifyError),
    /// Maybe not next time, and SES may have sent it: a 5xx, a timeout, a
    /// connection lost or a response unreadable after the request went
    /// out. The claims are kept until their lease runs out (see
    /// `Notifier::notify_person`).
    Unclear(NotifyError),
}
/// The log field (`fields.notification` in Lambda's JSON log format) and
/// value that mark a recipient SES refused for good; the template's metric
/// filter counts them.
pub const REJECTED_LOG_FIELD: &str = "notification";
pub const REJECTED_LOG_VALUE: &str = "rejected";

/// Logs a permanent rejection: the user id and SES's code, never the
/// address. `notification = "rejected"` is what the metric filter counts.
/// At ERROR: the template lets operators set `LogLevel=ERROR`, and the
/// metric filter and alarm must still see these.
pub fn log_rejection(thread: &ThreadId, recipient: &UserId, ses_error: &str, messages: usize) {
    tracing::error!(
        notification = REJECTED_LOG_VALUE,
        thread_id = %thread,
        recipient_id = %recipient,
        ses_error,
        messages,
        "SES refused the notification e-mail for good; recorded, not retried"
    );
}

/// Sends e-mails as raw MIME through SES v2.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub ses: aws_sdk_sesv2::Client,
    pub from: String,
    pub app_url: String,
    /// The API's public base URL: one-click unsubscribe links
    /// (`{api_url}/unsubscribe/{token}`).
    pub api_url: String,
}

impl Mailer {
    /// The `Message-ID` (without angle brackets) SES gave the e-mail it
    /// answered `id` for: `{id}@email.amazonses.com` in us-east-1,
    /// `{id}@{region}.amazonses.com` elsewhere.
    pub fn ses_message_id(&self, id: &str) -> String {
        match self.ses.config().region().map(|r| r.as_ref()) {
            None | Some("us-east-1") => format!("{id}@email.amazonses.com"),
            Some(region) => format!("{id}@{region}.amazonses.com"),
        }
    }

    /// Sends one e-mail; SES's message id.
    pub async fn send(&self, email: &Email) -> Result<String, SendFailure> {
        let build = |e: String| SendFailure::Failed(NotifyError::Build(e));
        let raw = to_mime(email, &self.from).map_err(|e| build(e.to_string()))?;
        let content = EmailContent::builder()
            .raw(
                RawMessage::builder()
                    .data(Blob::new(raw))
                    .build()
                    .map_err(|e| build(e.to_string()))?,
            )
            .build();
        let out = self
            .ses
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to.email).build())
            .content(content)
            .send()
            .await
            .map_err(|e| classify(e, &self.from))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// What a failed `SendEmail` means (see [`PERMANENT_SES_ERRORS`]). SES
/// error messages can quote addresses: only the code is kept (the text is
/// read by [`names_the_sender`], never logged or stored).
///
/// The SES client makes one attempt per call (notify-reply's `main.rs`):
/// an SDK retry would send the e-mail again inside one call. Whether SES
/// may have accepted it decides what happens to the claims:
///
/// - a service error with a 4xx status (429 included), a request that
///   could not be built, a connection that was never made (refused, DNS,
///   connect timeout): SES did not send it, [`SendFailure::Failed`];
/// - a 5xx, an attempt or operation timeout, a connection lost or a
///   response unreadable after the request was written, anything else:
///   SES may have sent it, [`SendFailure::Unclear`].
fn classify(
    e: aws_sdk_sesv2::error::SdkError<SendEmailError, HttpResponse>,
    from: &str,
) -> SendFailure {
    use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
    let ses = |code: &str, affects: Affects| NotifyError::Ses {
        code: code.to_owned(),
        affects,
    };
    let everyone = |code: &str| SendFailure::Failed(ses(code, Affects::Everyone));
    let unclear = |code: &str| SendFailure::Unclear(ses(code, Affects::Everyone));
    match &e {
        SdkError::ServiceError(s) => {
            let code = s.err().meta().code().unwrap_or("service error");
            let status = s.raw().status().as_u16();
            if status >= 500 {
                unclear(code)
            } else if PERMANENT_SES_ERRORS.contains(&code) {
                if names_the_sender(s.err().message().unwrap_or(""), from) {
                    // The sender is the problem (an unverified From
                    // address or domain, the sandbox): every e-mail
                    // fails, none is this recipient's fault.
                    everyone(code)
                } else {
                    SendFailure::Rejected {
                        code: code.to_owned(),
                    }
                }
            } else if status == 429 || SERVICE_WIDE_SES_ERRORS.contains(&code) {
                everyone(code)
            } else {
                SendFailure::Failed(ses(code, Affects::Recipient))
            }
        }
        SdkError::ConstructionFailure(_) => everyone("request not built"),
        SdkError::DispatchFailure(d) if never_connected(d) => everyone("connect failure"),
        SdkError::DispatchFailure(_) => unclear("dispatch failure"),
        SdkError::TimeoutError(_) => unclear("timeout"),
        SdkError::ResponseError(_) => unclear("unreadable response"),
        _ => unclear("request failed"),
    }
}

/// Whether a dispatch failure happened before any byte of the request
/// reached SES: the connection was never made (hyper's connect error:
/// refused, unreachable, TLS handshake, connect timeout) or the name did
/// not resolve.
fn never_connected(d: &aws_smithy_runtime_api::client::result::DispatchFailure) -> bool {
    let Some(connector) = d.as_connector_error() else {
        return false;
    };
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(connector);
    while let Some(err) = next {
        if err
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|h| h.is_connect())
            || err
                .downcast_ref::<aws_smithy_runtime_api::client::dns::ResolveDnsError>()
                .is_some()
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// Whether SES's error text names our sender: the From address, or its
/// domain as an identity of its own (not as the end of some other
/// address). SES answers `MessageRejected` also for an unverified sender
/// ("Email address is not verified. The following identities failed the
/// check in region ...: <identities>"), which is not the recipient's fault.
fn names_the_sender(text: &str, from: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let from = from.to_ascii_lowercase();
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => from[a + 1..b].trim(),
        _ => from.trim(),
    };
    if address.is_empty() {
        return false;
    }
    if text.contains(address) {
        return true;
    }
    let Some((_, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let identity = |c: char| c.is_ascii_alphanumeric() || "@.-_+".contains(c);
    text.match_indices(domain).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + domain.len()..].chars().next();
        !before.is_some_and(identity)
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    })
}

/// How much of an invocation one more recipient needs: an SES send (one
/// attempt, bounded by its client's timeouts) and the completion write
/// ([`COMPLETE_ATTEMPTS`](crate::store::COMPLETE_ATTEMPTS) tries, each
/// bounded by the DynamoDB client's timeouts); notify-reply's `main.rs`
/// sets those timeouts so both fit in this. With less left the job stops
/// before claiming, so a Lambda timeout rarely falls between SES accepting
/// and the record of it.
pub const TIME_FOR_ONE_RECIPIENT: Duration = Duration::from_secs(10);

/// One person to e-mail, with what the e-mail needs to know of them.
struct Recipient<'a> {
    person: &'a Person,
    /// Their time zone (their own, else the account's; `None`: UTC).
    zone: Option<&'a TimeZone>,
    /// Their e-mail state in this thread (`None`: never e-mailed there).
    mail: Option<&'a ThreadMail>,
}

pub struct Notifier {
    pub store: Store,
    pub mailer: Mailer,
    /// Reply addresses: every e-mail's `Reply-To` (see `crate::reply`).
    pub reply: crate::reply::ReplySettings,
}

/// What happened for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivered {
    /// Nothing due (read, or settled already).
    Nothing,
    Sent,
    Rejected,
}

/// [`Delivered`], and whether some of the recipient's messages were left
/// to another delivery that holds a live claim on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PersonOutcome {
    delivered: Delivered,
    in_flight: bool,
}

/// What a job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// E-mails SES accepted.
    pub sent: usize,
    /// Recipients SES refused for good (recorded, not retried).
    pub rejected: usize,
}

impl Notifier {
    /// Handles one job. Each recipient is sent to and recorded on their
    /// own: one SES refuses for good is recorded as rejected and the others
    /// still get their e-mail. An error means some recipient is left (the
    /// retry does only them: everyone settled is skipped). Claims are
    /// released when SES certainly did not send; they are kept when it may
    /// have (see [`SendFailure::Unclear`]), and when another delivery holds
    /// a live claim on someone's messages the job fails too
    /// ([`NotifyError::InFlight`]): the retry, after SQS's visibility
    /// timeout (longer than the lease), finds them settled or takes the
    /// claim over, so a delivery that died before SES loses no e-mail.
    pub async fn process(&self, job: &CheckedJob) -> Result<Report, NotifyError> {
        self.process_until(job, None).await
    }

    /// [`process`](Self::process), stopping before a recipient when less
    /// than [`TIME_FOR_ONE_RECIPIENT`] is left before `deadline`.
    pub async fn process_until(
        &self,
        job: &CheckedJob,
        deadline: Option<Instant>,
    ) -> Result<Report, NotifyError> {
        let out_of_time = || {
            deadline.is_some_and(|d| {
                d.saturating_duration_since(Instant::now()) < TIME_FOR_ONE_RECIPIENT
            })
        };
        if out_of_time() {
            return Err(NotifyError::OutOfTime);
        }
        let Some((record, profile)) = self.store.notify_context(&job.account, &job.thread).await?
        else {
            tracing::warn!(thread_id = %job.thread, "notification for a thread that does not exist");
            return Ok(Report::default());
        };
        let side = job.author_role.other();
        // People on the other side who are (still) in the account and the thread.
        let recipients: Vec<_> = profile
            .people_on(side)
            .iter()
            .filter(|p| {
                record
                    .participants
                    .iter()
                    .any(|(u, r)| *u == p.id && *r == side)
            })
            .collect();
        if recipients.is_empty() {
            return Ok(Report::default());
        }
        let ids: Vec<_> = recipients.iter().map(|p| &p.id).collect();
        // Inbox rows (muted, read positions), each person's e-mail state in
        // the thread (reply key, last e-mail) and e-mail preference: one
        // read, so what is sent follows the settings of now.
        let rows = self.store.recipient_rows(&job.thread, &ids).await?;
        let mail_state = &rows.mail;
        let wanted =
            |row: &InboxRow| !row.muted && rows.preference(&row.user) != EmailPreference::Off;
        let oldest_read = rows
            .inbox
            .iter()
            .filter(|r| wanted(r))
            .map(InboxRow::read_for_email)
            .min()
            .flatten();
        // Read once, and only if someone is to be e-mailed.
        let mut recent_cache = None;
        let mut report = Report::default();
        let mut left_over = None;
        let mut in_flight = false;
        for person in recipients {
            let Some(row) = rows.inbox.iter().find(|r| r.user == person.id) else {
                continue;
            };
            let preference = rows.preference(&person.id);
            if !wanted(row) {
                // Nothing claimed or recorded: settings apply to what is
                // sent from now on, and the in-app unread state is theirs.
                tracing::info!(
                    thread_id = %job.thread,
                    recipient_id = %person.id,
                    skipped = if row.muted { "muted" } else { "off" },
                    "not e-mailed: the person asked for no e-mail here"
                );
                continue;
            }
            if recent_cache.is_none() {
                recent_cache = Some(self.store.messages_after(&job.thread, oldest_read).await?);
            }
            let Some(recent) = &recent_cache else {
                continue;
            };
            // Everything they have not read (nor read before marking the
            // thread unread) from the other side, that their preference
            // e-mails: under `urgent_only` every urgent one, and only those.
            let read = row.read_for_email();
            let unread: Vec<_> = recent
                .iter()
                .filter(|m| {
                    m.author.role != side
                        && read.is_none_or(|p| m.id > p)
                        && preference.emails(m.urgent)
                })
                .collect();
            if unread.is_empty() {
                continue;
            }
            if out_of_time() {
                // Recipients settled so far stay settled; the retry does
                // the rest.
                return Err(NotifyError::OutOfTime);
            }
            let recipient = Recipient {
                person,
                zone: profile.time_zone_of(person),
                mail: mail_state.get(&person.id),
            };
            match self
                .notify_person(job, &record.thread, &recipient, &unread)
                .await
            {
                Ok(outcome) => {
                    in_flight |= outcome.in_flight;
                    match outcome.delivered {
                        Delivered::Sent => report.sent += 1,
                        Delivered::Rejected => report.rejected += 1,
                        Delivered::Nothing => {}
                    }
                }
                Err(e) if e.stops_the_job() => return Err(e),
                Err(e) => {
                    // This recipient alone: the others still get theirs,
                    // and the retry does only this one.
                    tracing::warn!(error = %e, thread_id = %job.thread, recipient_id = %person.id, "notification e-mail failed; will retry this recipient");
                    left_over = Some(e);
                }
            }
        }
        match left_over {
            Some(e) => Err(e),
            None if in_flight => {
                tracing::info!(thread_id = %job.thread, sent = report.sent, "another delivery holds a claim; retrying the job after it");
                Err(NotifyError::InFlight)
            }
            None => Ok(report),
        }
    }

    /// The reply key for `to` in the job's thread: the one issued before,
    /// while it still verifies, was issued to their current address and
    /// has more than a third of its life left; else a new one, with the
    /// row to write (old keys keep answering until they expire).
    fn reply_key_for(
        &self,
        job: &CheckedJob,
        to: &Recipient<'_>,
        now: Timestamp,
    ) -> (ReplyKey, Option<ReplyKeyRecord>) {
        let ttl = self.reply.key_ttl.as_secs() as i64;
        let now = now.unix_seconds();
        let reusable = to.mail.and_then(|m| {
            let key = self.reply.keys.verify(m.reply_key.as_deref()?).ok()?;
            let left = m.reply_key_expires_at? - now;
            let same_address = m.reply_address.as_deref() == Some(to.person.email.as_str());
            (same_address && left * 3 > ttl).then_some(key)
        });
        if let Some(key) = reusable {
            return (key, None);
        }
        let key = self.reply.keys.mint();
        let record = ReplyKeyRecord {
            key: key.clone(),
            account: job.account.clone(),
            thread: job.thread.clone(),
            user: to.person.id.clone(),
            address: to.person.email.clone(),
            expires_at: now + ttl,
        };
        (key, Some(record))
    }

    /// The list headers of an e-mail to the holder of `reply_key`: the
    /// thread's `List-Id`, and one-click unsubscribe with the mute token
    /// that stands for the key (bound to the thread and the person, purpose
    /// "mute", expiring with the key). `None` only if the key's secret is
    /// gone (it was just verified or minted): the e-mail still goes out,
    /// without them.
    fn list_headers(
        &self,
        job: &CheckedJob,
        thread: &crate::domain::Thread,
        reply_key: &ReplyKey,
    ) -> Option<ListHeaders> {
        let token = match self.reply.keys.mute_token(reply_key) {
            Ok(token) => token,
            Err(e) => {
                tracing::error!(error = %e, thread_id = %job.thread, "no mute token for a reply key; e-mailing without List-Unsubscribe");
                return None;
            }
        };
        let domain = &self.reply.domain;
        Some(ListHeaders {
            name: thread.scope.label.clone(),
            id: format!("{}.{domain}", job.thread),
            unsubscribe_url: format!(
                "{}/unsubscribe/{token}",
                self.mailer.api_url.trim_end_matches('/')
            ),
            unsubscribe_address: format!("{UNSUBSCRIBE_PREFIX}{token}@{domain}"),
        })
    }

    /// Claims, sends and records one recipient's e-mail about `unread`.
    async fn notify_person(
        &self,
        job: &CheckedJob,
        thread: &crate::domain::Thread,
        to: &Recipient<'_>,
        unread: &[&Message],
    ) -> Result<PersonOutcome, NotifyError> {
        let person = to.person;
        let (reply_key, issue) = self.reply_key_for(job, to, Timestamp::now());
        let unread_ids: Vec<MessageId> = unread.iter().map(|m| m.id).collect();
        let mut attempts = 0;
        let mut in_flight;
        let (due, due_ids) = loop {
            attempts += 1;
            let states = self
                .store
                .notification_states(&person.id, &unread_ids)
                .await?;
            // Sent, rejected, or being sent by another delivery (theirs to
            // finish; but should that one die before SES, only a retry of
            // this job brings them back: see `in_flight`).
            in_flight = states
                .values()
                .any(|s| *s == crate::store::NotificationState::Sending);
            let due: Vec<Message> = unread
                .iter()
                .filter(|m| !states.contains_key(&m.id))
                .map(|m| (*m).clone())
                .collect();
            if due.is_empty() {
                return Ok(PersonOutcome {
                    delivered: Delivered::Nothing,
                    in_flight,
                });
            }
            let due_ids: Vec<MessageId> = due.iter().map(|m| m.id).collect();
            // A new key is written with the claim: it exists before SES
            // sees its address.
            if self
                .store
                .claim_notifications_issuing(&person.id, &due_ids, issue.as_ref())
                .await?
            {
                break (due, due_ids);
            }
            if attempts >= 5 {
                return Err(NotifyError::Contention);
            }
        };
        let list = self.list_headers(job, thread, &reply_key);
        let mut mail = render(
            person,
            to.zone,
            thread,
            &due,
            &self.mailer.app_url,
            FooterLinks {
                mute: list.as_ref().map(|l| l.unsubscribe_url.as_str()),
            },
        );
        mail.list = list;
        mail.reply_to = Some(ReplyTo {
            name: format!("{} via Liaison", newest_author(&due)),
            address: reply_key.address(&self.reply.domain),
        });
        mail.in_reply_to = to
            .mail
            .and_then(|m| m.last_email_id.as_deref())
            .map(|id| self.mailer.ses_message_id(id));
        let outcome = match self.mailer.send(&mail).await {
            Ok(ses_message_id) => Completion::Sent { ses_message_id },
            Err(SendFailure::Rejected { code }) => Completion::Rejected { ses_error: code },
            Err(SendFailure::Failed(e)) => {
                // SES certainly did not send it: free the claims, so the
                // retry need not wait for the lease.
                self.store
                    .release_notifications(&person.id, &due_ids)
                    .await?;
                return Err(e);
            }
            Err(SendFailure::Unclear(e)) => {
                // SES may have accepted it: the claims are KEPT. Within
                // their lease (CLAIM_LEASE_SECONDS, 120 s) no delivery
                // sends these messages to this person; the job fails, and
                // SQS redelivers it after its visibility timeout (180 s,
                // longer than the lease), which takes the claims over and
                // sends once more. So an unclear answer costs this person
                // at most one duplicate, and only if SES had in fact
                // accepted: the same window as a crash below.
                tracing::warn!(error = %e, thread_id = %job.thread, recipient_id = %person.id, "SES's answer is unclear; claim kept until its lease runs out");
                return Err(e);
            }
        };
        // SES has decided. From here to the completion landing is the one
        // window DynamoDB cannot close (SES takes no idempotency token and
        // cannot join a transaction): the write is retried (bounded, with
        // backoff) at once, recipient by recipient, and the job stops
        // before a recipient when the invocation is nearly out of time. If
        // the process still dies here (a Lambda timeout, a crash) or
        // DynamoDB refuses every attempt, the claims stay `sending` and
        // are NOT released: within their lease (CLAIM_LEASE_SECONDS) no
        // delivery sends them again; after it, the redelivered job (SQS
        // brings it back after its visibility timeout, which is longer)
        // or a later message's job takes them over and e-mails this person
        // about these messages a second time.
        //
        // The whole window, then: SES accepted the e-mail and no record of
        // it landed, because the function died (or DynamoDB refused every
        // completion attempt) between SES's answer and the write, or
        // because SES's answer itself was unclear (a 5xx, a timeout, a
        // connection lost after the request went out: the claims are kept,
        // above). In both the claims stay `sending`; once their 120 s
        // lease has run out, the next delivery sends this person these
        // messages once more. At most one duplicate per such event, never
        // within the lease, and never for a refusal SES answered clearly.
        if let Err(e) = self
            .store
            .complete_notifications(&job.thread, &person.id, &due_ids, &outcome)
            .await
        {
            if let Completion::Sent { ses_message_id } = &outcome {
                tracing::error!(
                    error = %e,
                    thread_id = %job.thread,
                    recipient_id = %person.id,
                    ses_message_id,
                    "SES accepted a notification but recording it failed; a retry after the lease may send it again"
                );
            }
            return Err(e.into());
        }
        match outcome {
            Completion::Sent { ses_message_id } => {
                tracing::info!(
                    thread_id = %job.thread,
                    recipient_id = %person.id,
                    messages = due.len(),
                    ses_message_id,
                    new_reply_key = issue.is_some(),
                    "notification e-mailed"
                );
                Ok(PersonOutcome {
                    delivered: Delivered::Sent,
                    in_flight,
                })
            }
            Completion::Rejected { ses_error } => {
                log_rejection(&job.thread, &person.id, &ses_error, due.len());
                Ok(PersonOutcome {
                    delivered: Delivered::Rejected,
                    in_flight,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sesv2::error::{ErrorMetadata, SdkError};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    const FROM: &str = "notify@liaison.example";

    fn refusal(status: u16, code: &str) -> SendFailure {
        refusal_saying(status, code, "refused")
    }

    fn refusal_saying(status: u16, code: &str, text: &str) -> SendFailure {
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::empty(),
        );
        let err =
            SendEmailError::generic(ErrorMetadata::builder().code(code).message(text).build());
        classify(SdkError::service_error(err, raw), FROM)
    }

    fn affects(f: &SendFailure) -> Option<Affects> {
        match f {
            SendFailure::Failed(NotifyError::Ses { affects, .. }) => Some(*affects),
            _ => None,
        }
    }

    #[test]
    fn ses_message_ids_carry_the_regions_domain() {
        let mailer = |region: &'static str| Mailer {
            ses: aws_sdk_sesv2::Client::from_conf(
                aws_sdk_sesv2::Config::builder()
                    .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
                    .region(aws_sdk_sesv2::config::Region::new(region))
                    .build(),
            ),
            from: FROM.into(),
            app_url: "https://app".into(),
            api_url: "https://api".into(),
        };
        assert_eq!(
            mailer("us-east-1").ses_message_id("0100abc"),
            "0100abc@email.amazonses.com"
        );
        assert_eq!(
            mailer("eu-west-1").ses_message_id("0102abc"),
            "0102abc@eu-west-1.amazonses.com"
        );
    }

    #[test]
    fn ses_errors_are_classed_by_code() {
        for code in PERMANENT_SES_ERRORS {
            assert!(
                matches!(refusal(400, code), SendFailure::Rejected { code: c } if c == *code),
                "{code}"
            );
        }
        for (status, code) in [
            (429, "TooManyRequestsException"),
            (400, "LimitExceededException"),
            (400, "SendingPausedException"),
            (400, "AccountSuspendedException"),
            (400, "MailFromDomainNotVerifiedException"),
            (404, "NotFoundException"),
            (429, "SomethingNew"),
        ] {
            assert!(
                matches!(refusal(status, code), SendFailure::Failed(_)),
                "{code}: SES did not send it, the claims are freed"
            );
            assert_eq!(
                affects(&refusal(status, code)),
                Some(Affects::Everyone),
                "{code}"
            );
        }
        let unknown = refusal(400, "SomethingNewException");
        assert_eq!(affects(&unknown), Some(Affects::Recipient));
        let SendFailure::Failed(e) = unknown else {
            panic!("retried")
        };
        assert!(!e.stops_the_job());
        assert!(NotifyError::OutOfTime.stops_the_job());
    }

    #[test]
    fn a_5xx_or_a_lost_answer_is_unclear_and_stops_the_job() {
        for (status, code) in [
            (500, "InternalFailure"),
            (503, "ServiceUnavailable"),
            (502, "MessageRejected"),
        ] {
            let SendFailure::Unclear(e) = refusal(status, code) else {
                panic!("{code} should be unclear")
            };
            assert!(e.stops_the_job());
        }
        let timeout: SdkError<SendEmailError, HttpResponse> =
            SdkError::timeout_error("attempt timed out");
        assert!(matches!(classify(timeout, FROM), SendFailure::Unclear(_)));
        let lost: SdkError<SendEmailError, HttpResponse> = SdkError::dispatch_failure(
            aws_smithy_runtime_api::client::result::ConnectorError::io("connection reset".into()),
        );
        assert!(matches!(classify(lost, FROM), SendFailure::Unclear(_)));
        let unbuilt: SdkError<SendEmailError, HttpResponse> =
            SdkError::construction_failure("no region");
        assert!(matches!(classify(unbuilt, FROM), SendFailure::Failed(_)));
    }

    #[test]
    fn a_refusal_naming_the_sender_concerns_everyone() {
        for text in [
            "Email address is not verified. The following identities failed the check in region EU-WEST-1: notify@liaison.example",
            "Email address is not verified. The following identities failed the check in region EU-WEST-1: NOTIFY@Liaison.Example, chris@acme.example",
            "Domain liaison.example is not verified.",
            "Identity <liaison.example> is not verified",
        ] {
            assert_eq!(
                affects(&refusal_saying(400, "MessageRejected", text)),
                Some(Affects::Everyone),
                "{text}"
            );
        }
        for text in [
            "Email address is not verified. The following identities failed the check in region EU-WEST-1: chris@acme.example",
            "Illegal address",
            "someone@liaison.example is not verified",
            "",
        ] {
            assert!(
                matches!(refusal_saying(400, "MessageRejected", text), SendFailure::Rejected { .. }),
                "{text}"
            );
        }
        assert!(names_the_sender(
            "failed: notify@liaison.example",
            "Liaison <notify@liaison.example>"
        ));
    }
}
