//! Reading and writing DynamoDB attribute values with errors that say which
//! item and attribute was wrong.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{keys, schema, StoreError};

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

/// Typed reads from one item.
pub struct Reader<'a> {
    item: &'a Item,
}

impl<'a> Reader<'a> {
    pub fn new(item: &'a Item) -> Self {
        Self { item }
    }

    fn key(&self) -> String {
        let get = |k: &str| match self.item.get(k) {
            Some(AttributeValue::S(v)) => v.as_str(),
            _ => "?",
        };
        format!("{}/{}", get(schema::PK), get(schema::SK))
    }

    /// What the item is, by its key.
    pub fn kind(&self) -> Result<keys::Kind, StoreError> {
        Ok(keys::kind(self.s(schema::PK)?, self.s(schema::SK)?))
    }

    pub fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            key: self.key(),
            what: what.into(),
        }
    }

    pub fn opt_s(&self, name: &str) -> Result<Option<&'a str>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(self.corrupt(format!("{name} is not a string"))),
        }
    }

    pub fn s(&self, name: &str) -> Result<&'a str, StoreError> {
        self.opt_s(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    pub fn opt_n(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| self.corrupt(format!("{name} is not an integer"))),
            Some(_) => Err(self.corrupt(format!("{name} is not a number"))),
        }
    }

    pub fn n(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_n(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(default),
            Some(AttributeValue::Bool(v)) => Ok(*v),
            Some(_) => Err(self.corrupt(format!("{name} is not a boolean"))),
        }
    }

    pub fn opt_map(&self, name: &str) -> Result<Option<&'a Item>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::M(m)) => Ok(Some(m)),
            Some(_) => Err(self.corrupt(format!("{name} is not a map"))),
        }
    }

    pub fn list(&self, name: &str) -> Result<&'a [AttributeValue], StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(&[]),
            Some(AttributeValue::L(l)) => Ok(l),
            Some(_) => Err(self.corrupt(format!("{name} is not a list"))),
        }
    }

    /// Parses a string attribute with a domain parser.
    pub fn parse<T, E: std::fmt::Display>(
        &self,
        name: &str,
        f: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let raw = self.s(name)?;
        f(raw).map_err(|e| self.corrupt(format!("{name} {e}")))
    }

    /// Parses a string attribute that may be absent.
    pub fn opt_parse<T, E: std::fmt::Display>(
        &self,
        name: &str,
        f: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_s(name)?
            .map(|raw| f(raw).map_err(|e| self.corrupt(format!("{name} {e}"))))
            .transpose()
    }
}
