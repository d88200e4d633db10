//! A person's e-mail preference: `PREFS#{user} / PREFS` (`email`,
//! `updated_at`); no item means the default, `all`.

use super::attr::{n, s, Item, Reader};
use super::keys;
use super::{Store, StoreError};
use crate::domain::{EmailPreference, Timestamp, UserId};

/// The preference an item stores (for reads that batch it with others).
pub(in crate::store) fn read_preference(item: &Item) -> Result<EmailPreference, StoreError> {
    let r = Reader::new(item);
    r.parse("email", EmailPreference::parse)
}

impl Store {
    /// The person's e-mail preference (`all` until they set another): one
    /// GetItem.
    pub async fn preferences(&self, user: &UserId) -> Result<EmailPreference, StoreError> {
        self.get(keys::preferences(user))
            .await?
            .as_ref()
            .map(read_preference)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Stores the person's e-mail preference: one PutItem (the last write
    /// wins; it is the whole item).
    pub async fn set_preferences(
        &self,
        user: &UserId,
        email: EmailPreference,
    ) -> Result<EmailPreference, StoreError> {
        let mut item = keys::preferences(user);
        item.insert("type".into(), s("preferences"));
        item.insert("email".into(), s(email.as_str()));
        item.insert("updated_at".into(), n(Timestamp::now().unix_millis()));
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::aws("PutItem", e))?;
        Ok(email)
    }
}
