//! Every request the clients send, as the sandbox received it (path and query), snapshotted: a
//! change in what we send to Confluence shows up as a reviewed diff.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use confluence_client::{ConfluenceApi, ContentRef};

async fn exercise(sb: &sandbox::SandboxHandle, flavour: Flavour) -> String {
    sb.requests.reset();
    let client = client_for(sb, flavour);
    client.resolve_instance_id().await.unwrap();
    let pages = client.discover_labelled_pages().await.unwrap();
    client.descendant_pages(&["1".to_owned()]).await.unwrap();
    let refs: Vec<ContentRef> = pages.iter().map(ContentRef::from).collect();
    client.page_bodies(&refs).await.unwrap();
    client
        .page_attachments_by_title("SP", "Title \"2\" & more")
        .await
        .unwrap();
    let page = pages.iter().find(|p| p.id == "1").unwrap();
    let att = &page.attachments[0];
    let download = client
        .download_attachment(&page.id, &att.id, &att.download_path)
        .await
        .unwrap();
    collect_stream(download.stream).await;
    // The whole run — token, discovery, descendants, bodies, attachment listings, title lookup
    // and the download (with its media hop on Cloud) — sent nothing but GET and the token POST.
    assert_only_gets_and_token_posts(sb);
    let token_posts = sb
        .requests
        .records()
        .into_iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(token_posts, 1, "{flavour:?}: exactly one token POST");
    if flavour == Flavour::Cloud {
        assert_eq!(sb.requests.count_service("media"), 1, "the media hop");
    }
    sb.requests
        .records_for(flavour.service())
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path_and_query))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn requests_sent_to_confluence() {
    let mut root = page(1, "SP", None, &["ai-ingest-all"]);
    root.attachments = attachments_for(1, 26);
    let mut second = page(2, "SP", None, &["ai-ingest"]);
    second.title = "Title \"2\" & more".into();
    let blog = content(
        3,
        sandbox::confluence::ContentType::Blogpost,
        "SP",
        None,
        &["ai-ingest"],
    );
    let child = page(4, "SP", Some(1), &[]);
    let sb = spawn_sandbox(dataset(vec![root, second, blog, child])).await;

    insta::assert_snapshot!("cloud", exercise(&sb, Flavour::Cloud).await);
    insta::assert_snapshot!("data_center", exercise(&sb, Flavour::DataCenter).await);
}
