//! Loading many items at once, built by the store's own item builders:
//! the bench's scaling table and the tests seed accounts of thousands of
//! threads with it (creating each through the API would take minutes on
//! the local AWS). Not for the functions: behind the `provision` feature.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::items::message_item;
use super::{Item, Store, StoreError};
use crate::domain::{AccountId, Message};

pub use super::threads::thread_items;

/// A reply key's row as the notifier stores it.
pub fn reply_key_items(record: &super::replies::ReplyKeyRecord) -> Item {
    super::replies::reply_key_item(record, crate::domain::Timestamp::now())
}

/// A message as a send stores it.
pub fn message_items(message: &Message, account: &AccountId) -> Item {
    message_item(message, account.as_str())
}

impl Store {
    /// Puts `items` with BatchWriteItem, `parallel` batches of 25 at a time.
    pub async fn put_all(&self, items: Vec<Item>, parallel: usize) -> Result<(), StoreError> {
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| StoreError::Corrupt {
                        key: "seed".into(),
                        what: format!("put request: {e}"),
                    })
            })
            .collect::<Result<_, _>>()?;
        let per_task = requests.len().div_ceil(parallel.max(1)).max(25);
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in requests.chunks(per_task) {
            let store = self.clone();
            let chunk = chunk.to_vec();
            tasks.spawn(async move { store.batch_write(chunk).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| StoreError::Corrupt {
                key: "seed".into(),
                what: format!("seeding task: {e}"),
            })??;
        }
        Ok(())
    }
}

/// Someone in a seeded account: id, name, side.
#[derive(Debug, Clone)]
pub struct SeedPerson {
    pub id: crate::domain::UserId,
    pub name: String,
    pub role: crate::domain::Role,
}

/// The `n`th seeded thread of `account` (a creative scope of its own,
/// `cl_seed › cp_seed › cr_s{n}`) with `people` in it, last active at
/// `at`. With `last_from`, its newest message came from that side (so it
/// is unread for everyone on the other side). The items `create_thread`
/// (and a send's inbox updates) would have left.
pub fn seeded_thread(
    account: &AccountId,
    people: &[SeedPerson],
    n: usize,
    at: crate::domain::Timestamp,
    last_from: Option<crate::domain::Role>,
) -> Result<Vec<Item>, crate::domain::IdError> {
    use crate::domain::{
        Author, CampaignId, ClientId, CreativeId, LabeledScope, LastMessage, MessageId, Role,
        Scope, Thread, ThreadId,
    };
    let scope = Scope::Creative {
        client: ClientId::parse("cl_seed")?,
        campaign: CampaignId::parse("cp_seed")?,
        creative: CreativeId::parse(format!("cr_s{n}"))?,
    };
    let scope_key = scope.key();
    let id = ThreadId::for_scope(account, &scope_key);
    let label = format!("Cut {n}");
    let author = last_from.and_then(|r| people.iter().find(|p| p.role == r));
    let message = MessageId::new();
    let thread = Thread {
        id,
        account_id: account.clone(),
        scope: LabeledScope::new(scope, &["Seed client", "Seed campaign", &label]),
        created_at: at,
        created_by: people[0].id.clone(),
        last_activity_at: at,
        last_message: author.map(|a| LastMessage {
            id: message,
            author: Author {
                id: a.id.clone(),
                name: a.name.clone(),
                role: a.role,
            },
            preview: "Here is the new cut with the revised hook: can you check the \
                      first three seconds before Friday?"
                .to_owned(),
            urgent: false,
        }),
        message_count: u64::from(author.is_some()),
        unread: false,
        muted: false,
    };
    let record = super::ThreadRecord {
        thread,
        last_client_message: (last_from == Some(Role::Client)).then_some(message),
        last_manager_message: (last_from == Some(Role::Manager)).then_some(message),
        participants: people.iter().map(|p| (p.id.clone(), p.role)).collect(),
        names: people
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect(),
    };
    Ok(thread_items(&record, &scope_key))
}
