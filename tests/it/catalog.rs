//! `GET /catalog`.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn clients_see_their_catalog_without_archived_entries() {
    let w = World::new().await;
    let body = w
        .call(&client("u_chris", "acc_acme"), "GET", "/catalog", None)
        .await
        .expect(200);
    assert_eq!(
        body,
        json!({"account": {"id": "acc_acme", "name": "Acme Beauty"}, "clients": [
            {"id": "cl_glow", "name": "Glow Serum", "campaigns": [
                {"id": "cp_spring", "name": "Spring launch", "creatives": [
                    {"id": "cr_hook2", "name": "Hook v2"}]}]},
            {"id": "cl_tonic", "name": "Night Tonic", "campaigns": [
                {"id": "cp_launch", "name": "Launch", "creatives": [
                    {"id": "cr_teaser", "name": "Teaser"}]}]}]})
    );
    // Naming their own account is the same.
    let same = w
        .call(
            &client("u_chris", "acc_acme"),
            "GET",
            "/catalog?account_id=acc_acme",
            None,
        )
        .await
        .expect(200);
    assert_eq!(same, body);
}

#[tokio::test]
async fn managers_name_an_assigned_account() {
    let w = World::new().await;
    let dana = manager("u_dana");
    let body = w
        .call(&dana, "GET", "/catalog?account_id=acc_acme", None)
        .await
        .expect(200);
    assert_eq!(body["account"]["id"], "acc_acme");
    let err = w
        .call(&dana, "GET", "/catalog", None)
        .await
        .problem(400, "validation_failed");
    assert_eq!(err["errors"][0]["field"], "account_id");
}

#[tokio::test]
async fn other_accounts_are_not_found() {
    let w = World::new().await;
    for (who, path) in [
        (
            client("u_chris", "acc_acme"),
            "/catalog?account_id=acc_beta",
        ),
        (manager("u_dana"), "/catalog?account_id=acc_beta"),
        (client("u_bea", "acc_beta"), "/catalog?account_id=acc_acme"),
        // A valid token for an account the directory does not know.
        (client("u_ghost", "acc_ghost"), "/catalog"),
    ] {
        w.call(&who, "GET", path, None)
            .await
            .problem(404, "not_found");
    }
    w.call(&nobody(), "GET", "/catalog", None)
        .await
        .problem(401, "unauthenticated");
}
