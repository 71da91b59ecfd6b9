//! Discovery against the sandbox, both flavours: label search with pagination, descendants in
//! batches of 100 roots, batched bodies, and the web URLs of what was found.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use common::*;
use confluence_client::{ConfluenceApi, ContentRef, ContentType, InstanceType};
use sandbox::confluence::{ContentType as SbType, SpaceType};

const SINGLE: &str = "ai-ingest";
const ALL: &str = "ai-ingest-all";

#[tokio::test]
async fn label_search_follows_every_result_page_even_when_the_server_caps_the_limit() {
    let mut content = Vec::new();
    for id in 1..=130 {
        content.push(page(id, "SP", None, &[SINGLE]));
    }
    for id in 131..=140 {
        content.push(page(id, "SP", None, &["other"]));
    }
    let sb = spawn_sandbox_with(dataset(content), |c| {
        // Fewer than the 100 we ask for: the client must follow the links, not count.
        c.confluence.limits.cloud_search = 40;
        c.confluence.limits.dc_search_with_expand = 40;
        // DC `next` links are relative to the context path.
        c.confluence.dc_context_path = "/confluence".into();
    })
    .await;
    for flavour in BOTH {
        sb.requests.reset();
        let pages = client_for(&sb, flavour)
            .discover_labelled_pages()
            .await
            .unwrap();
        let ids: HashSet<&str> = pages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(pages.len(), 130, "{flavour:?}");
        assert_eq!(ids.len(), 130, "{flavour:?}");
        assert!(pages.iter().all(|p| p.has_label(SINGLE)));
        assert_eq!(
            sb.requests
                .count_matching(flavour.service(), "GET", "content/search"),
            4,
            "{flavour:?}: ⌈130/40⌉ search pages"
        );
    }
    assert_only_gets_and_token_posts(&sb);
}

#[tokio::test]
async fn label_search_respects_space_types_per_flavour() {
    let mut ds = dataset(vec![
        page(1, "SP", None, &[SINGLE]),
        page(2, "COL", None, &[SINGLE]),
        page(3, "KB", None, &[ALL]),
        page(4, "~me", None, &[SINGLE]),
    ]);
    ds.spaces.push(space("2", "COL", SpaceType::Collaboration));
    ds.spaces.push(space("3", "KB", SpaceType::KnowledgeBase));
    ds.spaces.push(space("4", "~me", SpaceType::Personal));
    let sb = spawn_sandbox(ds).await;

    let ids = |pages: Vec<confluence_client::Page>| {
        let mut ids: Vec<String> = pages.into_iter().map(|p| p.id).collect();
        ids.sort();
        ids
    };
    let cloud = client_for(&sb, Flavour::Cloud);
    assert_eq!(
        ids(cloud.discover_labelled_pages().await.unwrap()),
        ["1", "2", "3"]
    );
    // Data Center reports every non-personal space as global.
    let dc = client_for(&sb, Flavour::DataCenter);
    assert_eq!(
        ids(dc.discover_labelled_pages().await.unwrap()),
        ["1", "2", "3"]
    );

    let mut only_global = cloud_config(&sb);
    only_global.space_types = Some(vec!["global".into()]);
    assert_eq!(
        ids(client(only_global).discover_labelled_pages().await.unwrap()),
        ["1"]
    );
}

#[tokio::test]
async fn discovered_pages_carry_space_version_labels_and_web_urls() {
    let mut blog = content(7, SbType::Blogpost, "SP", None, &[SINGLE, "eng"]);
    blog.title = "News & (notes)".into();
    let sb = spawn_sandbox(dataset(vec![page(5, "SP", None, &[ALL]), blog])).await;
    for flavour in BOTH {
        let client = client_for(&sb, flavour);
        let pages = client.discover_labelled_pages().await.unwrap();
        assert_eq!(pages.len(), 2);
        let blog = pages.iter().find(|p| p.id == "7").unwrap();
        assert_eq!(blog.content_type, ContentType::Blogpost);
        assert_eq!(blog.title, "News & (notes)");
        assert_eq!(blog.space.id, "98304");
        assert_eq!(blog.space.key, "SP");
        assert_eq!(blog.space.name, "Space SP");
        assert!(!blog.version_when.is_empty());
        assert!(blog.has_label("eng"));
        let page = pages.iter().find(|p| p.id == "5").unwrap();
        let url = client.page_web_url(page);
        match flavour {
            Flavour::Cloud => {
                assert_eq!(url, format!("{}/wiki{}", sb.urls.cloud_site, page.webui));
            }
            Flavour::DataCenter => assert_eq!(
                url,
                format!("{}/pages/viewpage.action?pageId=5", sb.urls.dc_base)
            ),
        }
    }
}

#[tokio::test]
async fn descendants_are_queried_in_batches_of_100_roots_and_deduplicated() {
    // Root 1 has 150 child roots, each with one child: the grandchildren under roots 101..150 are
    // found by the batch holding root 1 *and* by the batch holding their parent.
    let mut content = vec![page(1, "SP", None, &[ALL])];
    for i in 0..150 {
        content.push(page(1000 + i, "SP", Some(1), &[ALL]));
        content.push(page(5000 + i, "SP", Some(1000 + i), &[]));
    }
    let sb = spawn_sandbox(dataset(content)).await;
    let mut roots = vec!["1".to_owned()];
    roots.extend((0..150).map(|i| (1000 + i).to_string()));

    for flavour in BOTH {
        sb.requests.reset();
        let client = client_for(&sb, flavour);
        let pages = client.descendant_pages(&roots).await.unwrap();
        let ids: HashSet<&str> = pages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), pages.len(), "{flavour:?}: duplicates returned");
        assert_eq!(
            pages.len(),
            300,
            "{flavour:?}: 150 child roots + 150 grandchildren"
        );

        let first_requests: Vec<String> = requests(&sb, flavour.service())
            .into_iter()
            .filter(|(_, route, q)| {
                route.ends_with("content/search") && !q.contains("cursor=") && !q.contains("start=")
            })
            .map(|(_, _, q)| q)
            .collect();
        assert_eq!(
            first_requests.len(),
            2,
            "{flavour:?}: two batches (100 + 51 roots)"
        );
        for q in &first_requests {
            assert!(q.contains("cql=ancestor%20IN%20("), "{q}");
            assert!(q.contains("limit=100"), "{q}");
        }
        assert!(client.descendant_pages(&[]).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn bodies_are_fetched_in_batches_not_one_request_per_page() {
    let mut content: Vec<_> = (1..=120)
        .map(|id| page(id, "SP", None, &[SINGLE]))
        .collect();
    content.push(sandbox_blog(500));
    let sb = spawn_sandbox(dataset(content)).await;
    let mut wanted: Vec<ContentRef> = (1..=120)
        .map(|id| ContentRef {
            id: id.to_string(),
            content_type: ContentType::Page,
        })
        .collect();
    wanted.push(ContentRef {
        id: "500".into(),
        content_type: ContentType::Blogpost,
    });
    // Deleted meanwhile: simply absent.
    wanted.push(ContentRef {
        id: "99999".into(),
        content_type: ContentType::Page,
    });

    for flavour in BOTH {
        sb.requests.reset();
        let mut config = config_for(&sb, flavour);
        config.body_batch_size = Some(50);
        let bodies = client(config).page_bodies(&wanted).await.unwrap();
        assert_eq!(bodies.len(), 121, "{flavour:?}");
        let seven = bodies.iter().find(|b| b.id == "7").unwrap();
        assert_eq!(seven.storage.as_deref(), Some("<p>Body of 7</p>"));
        assert!(seven.version_when.is_some());
        assert!(bodies.iter().any(|b| b.id == "500"));
        assert!(!bodies.iter().any(|b| b.id == "99999"));
        match flavour {
            Flavour::Cloud => {
                assert_eq!(seven.labels, None);
                // ⌈121/50⌉ page batches + 1 blog post batch.
                assert_eq!(
                    sb.requests.count_matching("cloud", "GET", "/api/v2/pages"),
                    3
                );
                assert_eq!(
                    sb.requests
                        .count_matching("cloud", "GET", "/api/v2/blogposts"),
                    1
                );
            }
            Flavour::DataCenter => {
                assert_eq!(seven.labels.as_deref(), Some(&[SINGLE.to_owned()][..]));
                // 122 ids in batches of 50 (the server's body cap is 50 too).
                assert_eq!(sb.requests.count_matching("dc", "GET", "content/search"), 3);
            }
        }
    }
}

#[tokio::test]
async fn default_body_batches_use_the_largest_size_the_api_allows() {
    let content: Vec<_> = (1..=120)
        .map(|id| page(id, "SP", None, &[SINGLE]))
        .collect();
    let sb = spawn_sandbox(dataset(content)).await;
    let wanted: Vec<ContentRef> = (1..=120)
        .map(|id| ContentRef {
            id: id.to_string(),
            content_type: ContentType::Page,
        })
        .collect();
    let bodies = client_for(&sb, Flavour::Cloud)
        .page_bodies(&wanted)
        .await
        .unwrap();
    assert_eq!(bodies.len(), 120);
    assert_eq!(
        sb.requests.count_matching("cloud", "GET", "/api/v2/pages"),
        1
    );

    sb.requests.reset();
    let bodies = client_for(&sb, Flavour::DataCenter)
        .page_bodies(&wanted)
        .await
        .unwrap();
    assert_eq!(bodies.len(), 120);
    // Batches of 100 ids; the server gives at most 50 bodies per page: 2 + 1 requests.
    assert_eq!(sb.requests.count_matching("dc", "GET", "content/search"), 3);
}

#[tokio::test]
async fn instance_ids_come_from_config_on_cloud_and_the_unauthenticated_manifest_on_dc() {
    let sb = spawn_sandbox(dataset(vec![])).await;
    let cloud = client_for(&sb, Flavour::Cloud);
    let id = cloud.resolve_instance_id().await.unwrap();
    assert_eq!(id.instance_type, InstanceType::Cloud);
    assert_eq!(id.id, sb.urls.cloud_id);
    assert_eq!(
        sb.requests.count_service("cloud"),
        0,
        "no HTTP for the Cloud id"
    );

    for auth in [dc_oauth(), dc_pat(), dc_basic()] {
        sb.requests.reset();
        let dc = client(dc_config(&sb, auth));
        let id = dc.resolve_instance_id().await.unwrap();
        assert_eq!(id.instance_type, InstanceType::DataCenter);
        assert_eq!(id.id, "5d1a3f0e-5a1d-4b0c-9a8e-5a4db0c0ffee");
        let records = sb.requests.records_for("dc");
        assert_eq!(records.len(), 1, "no token fetched for the manifest");
        assert!(!records[0].had_authorization);
    }
}

#[tokio::test]
async fn every_data_center_auth_mode_can_search() {
    let sb = spawn_sandbox(dataset(vec![page(1, "SP", None, &[SINGLE])])).await;
    for auth in [dc_oauth(), dc_pat(), dc_basic()] {
        let pages = client(dc_config(&sb, auth))
            .discover_labelled_pages()
            .await
            .unwrap();
        assert_eq!(pages.len(), 1);
    }
    // The sandbox only issues DC tokens to form requests with `scope=READ`.
    assert_eq!(
        sb.requests
            .count_matching("dc", "POST", "/rest/oauth2/latest/token"),
        1
    );
    assert_only_gets_and_token_posts(&sb);
}

#[tokio::test]
async fn title_lookup_finds_the_page_and_all_its_attachments() {
    let mut target = page(40, "SP", None, &[]);
    target.title = r#"Page With "Quotes" & Stuff"#.into();
    target.attachments = attachments_for(40, 30);
    let sb = spawn_sandbox(dataset(vec![target, page(41, "SP", None, &[])])).await;
    for flavour in BOTH {
        let client = client_for(&sb, flavour);
        let found = client
            .page_attachments_by_title("SP", r#"Page With "Quotes" & Stuff"#)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.page_id, "40");
        assert_eq!(found.attachments.len(), 30, "{flavour:?}");
        assert!(client
            .page_attachments_by_title("SP", "No such page")
            .await
            .unwrap()
            .is_none());
    }
    let mut disabled = cloud_config(&sb);
    disabled.attachments_enabled = false;
    sb.requests.reset();
    assert!(client(disabled)
        .page_attachments_by_title("SP", "Title 41")
        .await
        .unwrap()
        .is_none());
    assert_eq!(sb.requests.count_service("cloud"), 0);
}

#[tokio::test]
async fn probe_runs_one_small_search() {
    let sb = spawn_sandbox(dataset(vec![page(1, "SP", None, &[SINGLE])])).await;
    for flavour in BOTH {
        client_for(&sb, flavour).probe().await.unwrap();
        assert_eq!(
            sb.requests
                .count_matching(flavour.service(), "GET", "content/search"),
            1
        );
        if flavour == Flavour::Cloud {
            assert_eq!(
                sb.requests.count_matching("cloud", "GET", "/api/v2/pages"),
                1
            );
        }
    }
}

fn sandbox_blog(id: u64) -> sandbox::confluence::Content {
    content(id, SbType::Blogpost, "SP", None, &[SINGLE])
}

/// The engine holds the client behind an `Arc` and drives it from spawned tasks, generically.
async fn discover_in_a_task<C: ConfluenceApi + 'static>(
    client: std::sync::Arc<C>,
) -> Vec<confluence_client::Page> {
    tokio::spawn(async move { client.discover_labelled_pages().await.unwrap() })
        .await
        .unwrap()
}

#[tokio::test]
async fn client_futures_are_send_and_usable_from_spawned_tasks() {
    let sb = spawn_sandbox(dataset(vec![page(1, "SP", None, &[SINGLE])])).await;
    for flavour in BOTH {
        let client = std::sync::Arc::new(client_for(&sb, flavour));
        assert_eq!(discover_in_a_task(client).await.len(), 1);
    }
}
