//! Partial failures the client absorbs: an attachment listing that answers 404 or 403 for one
//! page, an overloaded Cloud search (halved page size, listing restarted, nothing skipped), and
//! a Cloud app that lacks a scope.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use confluence_client::{ConfluenceApi, ConfluenceError};
use sandbox::common::FaultRule;
use sandbox::confluence::{CloudOAuthClient, SearchOverload};

#[tokio::test]
async fn a_page_whose_attachment_listing_is_gone_keeps_its_inline_list_and_is_marked() {
    // Page 1 has 30 attachments (more than the 25 inlined), page 2 too.
    let mut pages: Vec<_> = (1..=2)
        .map(|id| page(id, "SP", None, &["ai-ingest"]))
        .collect();
    pages[0].attachments = attachments_for(1, 30);
    pages[1].attachments = attachments_for(2, 30);
    let sb = spawn_sandbox(dataset(pages)).await;
    for (flavour, status, route) in [
        (Flavour::Cloud, 404, "/attachments"),
        (Flavour::DataCenter, 403, "/child/attachment"),
    ] {
        let rule = sb
            .faults
            .add_rule(FaultRule::failing_batch_id(flavour.service(), "1", status).on_route(route));
        let found = client_for(&sb, flavour)
            .discover_labelled_pages()
            .await
            .unwrap();
        let one = found.iter().find(|p| p.id == "1").unwrap();
        let two = found.iter().find(|p| p.id == "2").unwrap();
        assert!(one.attachments_incomplete, "{flavour:?}");
        assert_eq!(
            one.attachments.len(),
            25,
            "{flavour:?}: the inlined ones stay"
        );
        assert!(!two.attachments_incomplete, "{flavour:?}");
        assert_eq!(two.attachments.len(), 30, "{flavour:?}");
        sb.faults.remove_rule(rule);
    }
}

#[tokio::test]
async fn an_overloaded_search_halves_the_page_size_restarts_and_skips_nothing() {
    // 260 labelled pages: three pages of 100; the third fails until the size drops to 50.
    let pages: Vec<_> = (1..=260)
        .map(|id| page(id, "SP", None, &["ai-ingest"]))
        .collect();
    let sb = spawn_sandbox(dataset(pages)).await;
    sb.confluence
        .set_cloud_search_overload(Some(SearchOverload {
            max_limit_with_expand: 50,
            pass_first: 2,
        }));
    let client = client_for(&sb, Flavour::Cloud);
    let found = client.discover_labelled_pages().await.unwrap();
    let mut ids: Vec<u64> = found.iter().map(|p| p.id.parse().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=260).collect::<Vec<_>>(), "every page, once");
    assert_eq!(
        sb.confluence.cloud_search_overload().1,
        1,
        "one 500, no retries of it"
    );
    let searches: Vec<String> = sb
        .requests
        .records_for("cloud")
        .into_iter()
        .filter(|r| r.route.ends_with("content/search"))
        .map(|r| r.path_and_query)
        .collect();
    let limits: Vec<&str> = searches
        .iter()
        .map(|q| q.split("limit=").nth(1).unwrap().split('&').next().unwrap())
        .collect();
    // 100, 100, 100 (500) — then from the first page again at 50: six pages.
    assert_eq!(
        limits,
        ["100", "100", "100", "50", "50", "50", "50", "50", "50"]
    );
    // The size that worked is kept for the rest of the cycle: descendants ask for 50 at once.
    client.descendant_pages(&["1".to_owned()]).await.unwrap();
    let last = sb.requests.records_for("cloud").pop().unwrap();
    assert!(
        last.path_and_query.contains("limit=50"),
        "{}",
        last.path_and_query
    );
    // A new cycle (the next label search) starts from the full size again.
    sb.confluence.set_cloud_search_overload(None);
    sb.requests.reset();
    client.discover_labelled_pages().await.unwrap();
    let first = &sb.requests.records_for("cloud")[0];
    assert!(
        first.path_and_query.contains("limit=100"),
        "{}",
        first.path_and_query
    );
}

#[tokio::test]
async fn an_overload_at_the_floor_fails_the_listing_after_the_retries() {
    let sb = spawn_sandbox(dataset(
        (1..=30)
            .map(|id| page(id, "SP", None, &["ai-ingest"]))
            .collect(),
    ))
    .await;
    sb.confluence
        .set_cloud_search_overload(Some(SearchOverload {
            max_limit_with_expand: 10,
            pass_first: 0,
        }));
    let err = client_for(&sb, Flavour::Cloud)
        .discover_labelled_pages()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
}

#[tokio::test]
async fn a_missing_scope_is_named_not_blamed_on_the_credentials() {
    let sb = spawn_sandbox(dataset(vec![page(1, "SP", None, &["ai-ingest"])])).await;
    sb.confluence.set_cloud_client(CloudOAuthClient {
        id: "sandbox-client-id".into(),
        secret: "sandbox-client-secret".into(),
        scopes: vec!["search:confluence".into()],
    });
    let client = client_for(&sb, Flavour::Cloud);
    // The search is covered; reading bodies needs read:page:confluence.
    client.discover_labelled_pages().await.unwrap();
    let err = client.probe().await.unwrap_err();
    assert!(
        matches!(err, ConfluenceError::MissingScope { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("read:page:confluence"), "{err}");
    let token_posts = sb.requests.count_matching("cloud", "POST", "token");
    assert_eq!(token_posts, 1, "no refresh for a scope mismatch");
}
