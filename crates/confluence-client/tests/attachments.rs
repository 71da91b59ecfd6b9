//! Attachments against the sandbox, both flavours: every count around the inline cap of 25
//! (0, 24, 25, 26, 300), and downloads (Cloud through the media redirect, which must not see our
//! credentials).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use confluence_client::{ConfluenceApi, Page};

const COUNTS: [usize; 5] = [0, 24, 25, 26, 300];

fn page_with(page_id: u64, count: usize) -> sandbox::confluence::Content {
    let mut p = page(page_id, "SP", None, &["ai-ingest"]);
    p.attachments = attachments_for(page_id, count);
    p
}

fn by_id(pages: &[Page], id: u64) -> &Page {
    pages.iter().find(|p| p.id == id.to_string()).unwrap()
}

#[tokio::test]
async fn every_attachment_count_around_the_inline_cap_is_complete_on_both_flavours() {
    let content: Vec<_> = COUNTS
        .iter()
        .enumerate()
        .map(|(i, n)| page_with(10 + i as u64, *n))
        .collect();
    let sb = spawn_sandbox_with(dataset(content), |c| {
        c.confluence.dc_context_path = "/confluence".into();
    })
    .await;

    for flavour in BOTH {
        sb.requests.reset();
        let pages = client_for(&sb, flavour)
            .discover_labelled_pages()
            .await
            .unwrap();
        for (i, n) in COUNTS.iter().enumerate() {
            let page_id = 10 + i as u64;
            let page = by_id(&pages, page_id);
            let expected: Vec<String> = attachments_for(page_id, *n)
                .into_iter()
                .map(|a| a.id)
                .collect();
            let got: Vec<String> = page.attachments.iter().map(|a| a.id.clone()).collect();
            assert_eq!(got, expected, "{flavour:?}, {n} attachments");
            if let Some(first) = page.attachments.first() {
                assert_eq!(first.media_type, "application/pdf");
                assert_eq!(
                    first.file_size,
                    attachment_text(&first.id).len() as u64,
                    "{flavour:?}"
                );
                assert!(first.version_when.is_some());
                assert!(!first.download_path.is_empty());
            }
        }
        match flavour {
            Flavour::Cloud => {
                // Pages with 25, 26 and 300 inline-capped lists: one v2 listing each, two for
                // 300 (limit 250). Pages with 0 or 24 trigger nothing.
                assert_eq!(
                    sb.requests
                        .count_matching("cloud", "GET", "/api/v2/pages/{id}/attachments"),
                    4
                );
            }
            Flavour::DataCenter => {
                // Following `_links.next` (25 per page): 1 for 26 attachments, 11 for 300 plus
                // one past the end, since past 200 Data Center keeps a `next` on the last page
                // (CONFSERVER-95396) and only a page with nothing new ends the listing; a full
                // list of exactly 25 has no `next` on DC, so nothing more is asked.
                assert_eq!(
                    sb.requests.count_matching("dc", "GET", "child/attachment"),
                    13
                );
            }
        }
    }
    assert_only_gets_and_token_posts(&sb);
}

#[tokio::test]
async fn no_attachment_expansion_or_completion_when_attachments_are_disabled() {
    let sb = spawn_sandbox(dataset(vec![page_with(1, 30)])).await;
    for flavour in BOTH {
        sb.requests.reset();
        let mut config = config_for(&sb, flavour);
        config.attachments_enabled = false;
        let pages = client(config).discover_labelled_pages().await.unwrap();
        assert!(pages[0].attachments.is_empty());
        assert_eq!(pages[0].inline_attachments, None);
        let records = requests(&sb, flavour.service());
        assert!(records
            .iter()
            .all(|(_, _, q)| !q.contains("children.attachment")));
        assert_eq!(
            sb.requests
                .count_matching(flavour.service(), "GET", "content/search"),
            1
        );
        assert_eq!(
            sb.requests
                .count_matching(flavour.service(), "GET", "attachments"),
            0
        );
    }
}

#[tokio::test]
async fn blog_post_attachments_past_the_cap_come_from_the_blogposts_listing_on_cloud() {
    let mut blog = content(
        3,
        sandbox::confluence::ContentType::Blogpost,
        "SP",
        None,
        &["ai-ingest"],
    );
    blog.attachments = attachments_for(3, 27);
    let sb = spawn_sandbox(dataset(vec![blog])).await;
    let pages = client_for(&sb, Flavour::Cloud)
        .discover_labelled_pages()
        .await
        .unwrap();
    assert_eq!(pages[0].attachments.len(), 27);
    assert_eq!(
        sb.requests
            .count_matching("cloud", "GET", "/api/v2/blogposts/{id}/attachments"),
        1
    );
}

#[tokio::test]
async fn cloud_download_follows_the_media_redirect_without_sending_credentials_there() {
    let sb = spawn_sandbox(dataset(vec![page_with(1, 2)])).await;
    let client = client_for(&sb, Flavour::Cloud);
    let pages = client.discover_labelled_pages().await.unwrap();
    let att = &pages[0].attachments[1];
    sb.requests.reset();

    let download = client
        .download_attachment("1", &att.id, &att.download_path)
        .await
        .unwrap();
    assert_eq!(
        collect_stream(download.stream).await,
        attachment_text(&att.id).into_bytes()
    );

    let gateway = sb.requests.records_for("cloud");
    assert_eq!(gateway.len(), 1);
    assert!(gateway[0]
        .route
        .ends_with("/child/attachment/{att}/download"));
    assert!(gateway[0].had_authorization);
    let media = sb.requests.records_for("media");
    assert_eq!(media.len(), 1);
    assert!(
        !media[0].had_authorization,
        "Authorization leaked to the media origin"
    );
    assert_eq!(media[0].status, 200);
}

#[tokio::test]
async fn data_center_download_uses_the_download_link_with_credentials() {
    let sb = spawn_sandbox_with(dataset(vec![page_with(1, 2)]), |c| {
        c.confluence.dc_context_path = "/confluence".into();
    })
    .await;
    for auth in [dc_oauth(), dc_pat(), dc_basic()] {
        let client = client(dc_config(&sb, auth));
        let pages = client.discover_labelled_pages().await.unwrap();
        let att = &pages[0].attachments[0];
        assert!(att.download_path.starts_with("/download/attachments/1/"));
        sb.requests.reset();
        let download = client
            .download_attachment("1", &att.id, &att.download_path)
            .await
            .unwrap();
        assert_eq!(
            download.content_length,
            Some(attachment_text(&att.id).len() as u64)
        );
        assert_eq!(
            collect_stream(download.stream).await,
            attachment_text(&att.id).into_bytes()
        );
        let records = sb.requests.records_for("dc");
        assert_eq!(records.len(), 1);
        assert!(records[0].had_authorization);
        assert!(records[0]
            .path_and_query
            .starts_with("/confluence/download/attachments/1/"));
    }
}

#[tokio::test]
async fn attachment_web_urls_match_the_reference() {
    let sb = spawn_sandbox(dataset(vec![])).await;
    let cloud = client_for(&sb, Flavour::Cloud);
    assert_eq!(
        cloud.attachment_web_url("100", "att200", "report (final).pdf"),
        format!(
            "{}/wiki/pages/viewpageattachments.action?pageId=100&preview=%2F100%2F200%2Freport%20(final).pdf",
            sb.urls.cloud_site
        )
    );
    let dc = client_for(&sb, Flavour::DataCenter);
    assert_eq!(
        dc.attachment_web_url("100", "att200", "report.pdf"),
        format!(
            "{}/pages/viewpageattachments.action?pageId=100&preview=%2F100%2Fatt200%2Freport.pdf",
            sb.urls.dc_base
        )
    );
}

#[tokio::test]
async fn a_large_attachment_streams_the_same_bytes_on_both_flavours() {
    use futures::StreamExt;
    use sha2::{Digest, Sha256};

    const SIZE: u64 = 6 * 1024 * 1024;
    let mut p = page(1, "SP", None, &["ai-ingest"]);
    let mut big = attachment("att77", "big.pdf", "application/pdf");
    big.data = sandbox::confluence::AttachmentData::Generated {
        seed: 7,
        size: SIZE,
    };
    p.attachments = vec![big];
    let sb = spawn_sandbox(dataset(vec![p])).await;

    let mut digests = Vec::new();
    for flavour in BOTH {
        let client = client_for(&sb, flavour);
        let pages = client.discover_labelled_pages().await.unwrap();
        let att = &pages[0].attachments[0];
        assert_eq!(att.file_size, SIZE);
        let mut download = client
            .download_attachment("1", &att.id, &att.download_path)
            .await
            .unwrap();
        let (mut len, mut chunks, mut hasher) = (0u64, 0usize, Sha256::new());
        while let Some(chunk) = download.stream.next().await {
            let chunk = chunk.unwrap();
            len += chunk.len() as u64;
            chunks += 1;
            hasher.update(&chunk);
        }
        assert_eq!(len, SIZE, "{flavour:?}");
        assert!(chunks > 1, "{flavour:?}: streamed, not one buffer");
        digests.push(hasher.finalize());
    }
    assert_eq!(digests[0], digests[1]);
}

#[tokio::test]
async fn data_center_attachments_past_the_inline_cap_carry_their_version() {
    let sb = spawn_sandbox(dataset(vec![page_with(1, 30)])).await;
    // A new upload of the 28th attachment, the page itself untouched.
    sb.confluence
        .update_attachment("att1027", sandbox::confluence::AttachmentUpdate::default())
        .unwrap();
    let pages = client_for(&sb, Flavour::DataCenter)
        .discover_labelled_pages()
        .await
        .unwrap();
    let attachments = &pages[0].attachments;
    assert_eq!(attachments.len(), 30);
    assert!(attachments.iter().all(|a| a.version_when.is_some()));
    // The re-upload is visible without a page edit: its version time is its own.
    let unchanged = attachments[26].version_when.clone();
    assert!(attachments
        .iter()
        .enumerate()
        .all(|(i, a)| (i == 27) != (a.version_when == unchanged)));
    let listing: Vec<String> = requests(&sb, "dc")
        .into_iter()
        .filter(|(_, route, _)| route.ends_with("child/attachment"))
        .map(|(_, _, path_and_query)| path_and_query)
        .collect();
    assert_eq!(
        listing,
        ["/rest/api/content/1/child/attachment?limit=25&start=25&expand=version"]
    );
}

#[tokio::test]
async fn a_data_center_listing_that_never_ends_yields_each_attachment_once() {
    use sandbox::confluence::{DcQuirks, PastEnd};
    let sb = spawn_sandbox(dataset(vec![page_with(1, 60)])).await;
    let expected: Vec<String> = attachments_for(1, 60).into_iter().map(|a| a.id).collect();
    for past_end in [PastEnd::RepeatTail, PastEnd::EmptyPages] {
        // Past 30 items the last page keeps a `next`, and so does every page after it.
        sb.confluence.set_dc_quirks(DcQuirks {
            past_end,
            past_end_after: 30,
            ..DcQuirks::default()
        });
        sb.requests.reset();
        let pages = client_for(&sb, Flavour::DataCenter)
            .discover_labelled_pages()
            .await
            .unwrap();
        let got: Vec<String> = pages[0].attachments.iter().map(|a| a.id.clone()).collect();
        assert_eq!(got, expected, "{past_end:?}");
        // Pages at 25 and 50, then one that brings nothing new.
        assert_eq!(
            sb.requests.count_matching("dc", "GET", "child/attachment"),
            3,
            "{past_end:?}"
        );
    }
}
