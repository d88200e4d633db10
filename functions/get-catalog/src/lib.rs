//! `GET /catalog` — what the new-thread picker offers: the account's
//! clients, their campaigns and creatives, without archived entries, each
//! with its context links (always an array).

use lambda_http::{Body, Request, Response};
use liaison::access::{member_of, requested_account};
use liaison::domain::{CatalogEntry, Link};
use liaison::http::{self, ApiResult};
use liaison::store::Store;
use liaison::ApiError;
use serde::Serialize;

pub struct App {
    pub store: Store,
}

#[derive(Serialize)]
struct Named<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Creative<'a> {
    id: &'a str,
    name: &'a str,
    links: &'a [Link],
}

#[derive(Serialize)]
struct Campaign<'a> {
    id: &'a str,
    name: &'a str,
    links: &'a [Link],
    creatives: Vec<Creative<'a>>,
}

#[derive(Serialize)]
struct Client<'a> {
    id: &'a str,
    name: &'a str,
    links: &'a [Link],
    campaigns: Vec<Campaign<'a>>,
}

#[derive(Serialize)]
struct Catalog<'a> {
    account: Named<'a>,
    clients: Vec<Client<'a>>,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::respond(catalog(app, &req).await)
}

async fn catalog(app: &App, req: &Request) -> ApiResult<Response<Body>> {
    let caller = http::principal(req)?;
    let account = requested_account(&caller, http::query_param(req, "account_id"), true)?
        .ok_or_else(|| ApiError::field("account_id", "is required"))?;
    let snapshot = app.store.account(&account).await?;
    let profile = member_of(snapshot.profile, &caller)?;
    let body = Catalog {
        account: Named {
            id: profile.id.as_str(),
            name: &profile.name,
        },
        clients: tree(&snapshot.catalog),
    };
    Ok(http::json(200, &body))
}

/// Entries arrive in key order (client, its campaigns, their creatives), so
/// each entry's parent is already in the tree. Archived entries, and
/// everything under them, are left out.
fn tree(entries: &[CatalogEntry]) -> Vec<Client<'_>> {
    let mut clients: Vec<Client<'_>> = Vec::new();
    for e in entries.iter().filter(|e| !e.archived) {
        match (&e.campaign, &e.creative) {
            (None, _) => clients.push(Client {
                id: e.client.as_str(),
                name: &e.name,
                links: &e.links,
                campaigns: Vec::new(),
            }),
            (Some(cp), None) => {
                if let Some(c) = clients.iter_mut().find(|c| c.id == e.client.as_str()) {
                    c.campaigns.push(Campaign {
                        id: cp.as_str(),
                        name: &e.name,
                        links: &e.links,
                        creatives: Vec::new(),
                    });
                }
            }
            (Some(cp), Some(cr)) => {
                if let Some(campaign) = clients
                    .iter_mut()
                    .find(|c| c.id == e.client.as_str())
                    .and_then(|c| c.campaigns.iter_mut().find(|p| p.id == cp.as_str()))
                {
                    campaign.creatives.push(Creative {
                        id: cr.as_str(),
                        name: &e.name,
                        links: &e.links,
                    });
                }
            }
        }
    }
    clients
}
