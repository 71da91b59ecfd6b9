//! Confluence Cloud behind the gateway: tokens, CQL search and its cursors, caps, inline and v2
//! attachments, batched bodies, downloads through the media host, removed v1 paths.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::StatusCode;
use sandbox::confluence::{
    Attachment, AttachmentData, CloudSearchNextLink, ConfluenceConfig, GenerateSpec,
};
use sandbox::{spawn, SandboxConfig, SandboxHandle};
use serde_json::Value;

async fn spawn_sandbox(confluence: ConfluenceConfig) -> SandboxHandle {
    spawn(SandboxConfig {
        confluence,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn cloud_token(sb: &SandboxHandle) -> String {
    let res = client()
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(&serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get(sb: &SandboxHandle, token: &str, path_and_query: &str) -> (StatusCode, Value) {
    let res = client()
        .get(format!("{}{}", sb.urls.cloud_api, path_and_query))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const LABEL_CQL: &str = r#"((label="ai-ingest") OR (label="ai-ingest-all")) AND (space.type=global OR space.type=collaboration) AND type != attachment"#;

#[tokio::test]
async fn token_endpoint_issues_tokens_and_rejects_wrong_credentials() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let res = client()
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": "sandbox-client-id", "client_secret": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let res = client()
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["scope"]
        .as_str()
        .unwrap()
        .contains("read:page:confluence"));

    let (status, _) = get(
        &sb,
        "not-a-token",
        "/wiki/rest/api/content/search?cql=id%3D2001",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = client()
        .get(format!(
            "{}/wiki/rest/api/content/search?cql=id%3D2001",
            sb.urls.cloud_api
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_tokens_get_401() {
    let sb = spawn_sandbox(ConfluenceConfig {
        token_ttl: Duration::from_millis(300),
        ..ConfluenceConfig::default()
    })
    .await;
    let token = cloud_token(&sb).await;
    let (status, _) = get(&sb, &token, "/wiki/rest/api/content/search?cql=id%3D2001").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = get(&sb, &token, "/wiki/rest/api/content/search?cql=id%3D2001").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The gateway's own shape, not Confluence's `statusCode`.
    assert_eq!(
        body,
        serde_json::json!({"code": 401, "message": "Unauthorized"})
    );

    let fresh = cloud_token(&sb).await;
    sb.confluence.expire_tokens();
    let (status, _) = get(&sb, &fresh, "/wiki/rest/api/content/search?cql=id%3D2001").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn label_search_pages_with_cursors_and_ignores_start() {
    let sb = spawn_sandbox(ConfluenceConfig {
        dataset: GenerateSpec {
            seed: 3,
            spaces: 4,
            pages_per_space: 40,
            single_ratio: 0.5,
            ..GenerateSpec::default()
        }
        .generate(),
        ..ConfluenceConfig::default()
    })
    .await;
    let token = cloud_token(&sb).await;
    let expected: Vec<String> = sb
        .confluence
        .dataset()
        .content
        .iter()
        .filter(|c| {
            let space = sb
                .confluence
                .dataset()
                .spaces
                .into_iter()
                .find(|s| s.key == c.space)
                .unwrap();
            let t = format!("{:?}", space.space_type);
            (t == "Global" || t == "Collaboration")
                && c.labels
                    .iter()
                    .any(|l| l == "ai-ingest" || l == "ai-ingest-all")
        })
        .map(|c| c.id.clone())
        .collect();
    assert!(expected.len() > 12, "dataset too small: {}", expected.len());

    let mut url = format!(
        "/wiki/rest/api/content/search?cql={}&expand=metadata.labels,version,space&limit=5&start=0",
        enc(LABEL_CQL)
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = get(&sb, &token, &url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        assert_eq!(body["limit"], 5);
        let results = body["results"].as_array().unwrap();
        assert_eq!(body["size"], results.len());
        assert_eq!(body["_links"]["context"], "/wiki");
        assert_eq!(
            body["_links"]["base"],
            format!("{}/wiki", sb.urls.cloud_site)
        );
        for r in results {
            assert!(r["metadata"]["labels"]["results"].is_array());
            assert!(r["version"]["when"].as_str().unwrap().ends_with('Z'));
            assert!(r["space"]["key"].is_string());
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match body["_links"]["next"].as_str() {
            Some(next) => {
                // Cloud's shape: relative to the site's `/wiki` base, without `expand`.
                assert!(
                    next.starts_with("/rest/api/content/search?next=true&cursor="),
                    "{next}"
                );
                assert!(next.contains("&limit=5&start="), "{next}");
                assert!(next.contains("&cql="), "{next}");
                assert!(!next.contains("expand="), "{next}");
                // The API root + the link, with the expansions put back (the client's rule).
                url = format!("{next}&expand=metadata.labels,version,space");
                // `start` must not move a cursor chain.
                url = url.replace("&start=", "&start=9999");
            }
            None => break,
        }
    }
    assert!(pages >= 3);
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn search_limit_is_capped_lower_with_body_expansion() {
    let sb = spawn_sandbox(ConfluenceConfig {
        dataset: GenerateSpec {
            seed: 1,
            spaces: 1,
            pages_per_space: 300,
            max_attachments_per_page: 0,
            ..GenerateSpec::default()
        }
        .generate(),
        ..ConfluenceConfig::default()
    })
    .await;
    let token = cloud_token(&sb).await;
    let cql = enc("space=GEN0 AND type=page");
    let (_, body) = get(
        &sb,
        &token,
        &format!("/wiki/rest/api/content/search?cql={cql}&limit=1000"),
    )
    .await;
    assert_eq!(body["limit"], 250);
    assert_eq!(body["size"], 250);
    assert!(body["_links"]["next"].is_string());
    let (_, body) = get(
        &sb,
        &token,
        &format!("/wiki/rest/api/content/search?cql={cql}&limit=250&expand=body.storage,version"),
    )
    .await;
    assert_eq!(body["limit"], 50);
    assert_eq!(body["size"], 50);
    assert!(body["results"][0]["body"]["storage"]["value"]
        .as_str()
        .unwrap()
        .contains("<p>"));
    assert_eq!(
        body["results"][0]["body"]["storage"]["representation"],
        "storage"
    );
    let (_, body) = get(
        &sb,
        &token,
        &format!("/wiki/rest/api/content/search?cql={cql}"),
    )
    .await;
    assert_eq!(body["limit"], 25, "default limit");
}

fn att(title: &str) -> Attachment {
    Attachment {
        id: String::new(),
        title: title.into(),
        media_type: "text/plain".into(),
        version: 1,
        when: sandbox::confluence::default_when(),
        data: AttachmentData::Text(format!("content of {title}")),
    }
}

#[tokio::test]
async fn inline_attachments_are_capped_at_25_with_size_limit_and_next() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let mut ids = Vec::new();
    for n in [0usize, 24, 25, 26, 300] {
        let id = sb
            .confluence
            .add_page("ENG", None, &format!("Page with {n}"), &["many"])
            .unwrap();
        for i in 0..n {
            sb.confluence
                .add_attachment(&id, att(&format!("f{i}.txt")))
                .unwrap();
        }
        ids.push((n, id));
    }
    let expand = "metadata.labels,version,space,children.attachment,children.attachment.version,children.attachment.extensions";
    for (n, id) in ids {
        let (status, body) = get(
            &sb,
            &token,
            &format!("/wiki/rest/api/content/search?cql=id%3D{id}&expand={expand}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let list = &body["results"][0]["children"]["attachment"];
        assert_eq!(list["limit"], 25, "n={n}");
        assert_eq!(list["start"], 0);
        assert_eq!(list["size"], n.min(25), "n={n}");
        assert_eq!(list["results"].as_array().unwrap().len(), n.min(25));
        assert_eq!(
            list["_links"]["next"].is_string(),
            n > 25,
            "n={n}: {}",
            list["_links"]
        );
        if n > 0 {
            let first = &list["results"][0];
            assert!(first["id"].as_str().unwrap().starts_with("att"));
            assert_eq!(first["extensions"]["mediaType"], "text/plain");
            assert!(first["extensions"]["fileSize"].as_u64().unwrap() > 0);
            assert!(first["version"]["when"].is_string());
            assert!(first["_links"]["download"]
                .as_str()
                .unwrap()
                .starts_with(&format!("/download/attachments/{id}/")));
        }
    }
}

#[tokio::test]
async fn v2_attachments_page_with_cursors() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let id = sb
        .confluence
        .add_page("ENG", None, "Many files", &[])
        .unwrap();
    for i in 0..120 {
        sb.confluence
            .add_attachment(&id, att(&format!("f{i}.txt")))
            .unwrap();
    }
    let mut url = format!("/wiki/api/v2/pages/{id}/attachments?limit=50");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let res = client()
            .get(format!("{}{url}", sb.urls.cloud_api))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let link = res
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = res.json().await.unwrap();
        pages += 1;
        for a in body["results"].as_array().unwrap() {
            assert_eq!(a["pageId"], id.as_str());
            assert_eq!(a["mediaType"], "text/plain");
            assert!(a["fileSize"].as_u64().unwrap() > 0);
            assert!(a["downloadLink"].is_string());
            assert!(a["version"]["createdAt"].is_string());
            seen.push(a["id"].as_str().unwrap().to_owned());
        }
        match body["_links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("/wiki/api/v2/pages/{id}/attachments?")));
                assert!(link.unwrap().contains(&format!("<{next}>; rel=\"next\"")));
                url = next.trim_start_matches("/wiki").to_owned();
                url = format!("/wiki{url}");
            }
            None => {
                assert!(link.is_none());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 120);

    let (status, body) = get(
        &sb,
        &token,
        &format!("/wiki/api/v2/pages/{id}/attachments?limit=251"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["status"], 400);
    let (status, _) = get(&sb, &token, "/wiki/api/v2/pages/2103/attachments").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a blog post is not a page");
}

#[tokio::test]
async fn v2_pages_return_bodies_in_batches() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    // Repeated and comma-separated ids are both accepted; non-pages are left out.
    let (status, body) = get(
        &sb,
        &token,
        "/wiki/api/v2/pages?id=2001,2002&id=2003&id=2103&id=2006&body-format=storage&limit=250",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    let ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["2001", "2002", "2003"]);
    let page = &results[1];
    assert_eq!(page["status"], "current");
    assert_eq!(page["spaceId"], "1001");
    assert_eq!(page["parentId"], "2001");
    assert_eq!(page["version"]["number"], 1);
    assert!(page["version"]["createdAt"].is_string());
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    assert!(page["body"]["storage"]["value"]
        .as_str()
        .unwrap()
        .contains("Architecture"));
    assert_eq!(
        page["_links"]["webui"],
        "/spaces/ENG/pages/2002/Architecture"
    );

    let (_, body) = get(
        &sb,
        &token,
        "/wiki/api/v2/blogposts?id=2103&body-format=storage",
    )
    .await;
    assert_eq!(body["results"][0]["title"], "Team News");

    // Batches page with cursors too.
    let (_, body) = get(&sb, &token, "/wiki/api/v2/pages?id=2001,2002,2003&limit=2").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(body["results"][0]["body"], serde_json::json!({}));
    let next = body["_links"]["next"].as_str().unwrap();
    let (_, body) = get(&sb, &token, next.trim_start_matches("")).await;
    assert_eq!(body["results"][0]["id"], "2003");
    assert!(body["_links"]["next"].is_null());

    let many: Vec<String> = (0..251).map(|i| (10_000 + i).to_string()).collect();
    let (status, _) = get(
        &sb,
        &token,
        &format!("/wiki/api/v2/pages?id={}", many.join(",")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn download_redirects_to_media_which_rejects_authorization() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let res = client()
        .get(format!(
            "{}/wiki/rest/api/content/2001/child/attachment/att3001/download",
            sb.urls.cloud_api
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&sb.urls.media), "{location}");
    assert!(location.contains("token="));

    let leaked = client()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(leaked.status(), StatusCode::BAD_REQUEST);

    let ok = client().get(&location).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["content-type"], "text/plain");
    assert_eq!(ok.headers()["content-length"], "12");
    assert_eq!(ok.text().await.unwrap(), "plain notes\n");

    let tampered = location.replace("token=", "token=1");
    assert_eq!(
        client().get(&tampered).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // A default reqwest client follows the redirect and drops Authorization across origins.
    let followed = reqwest::Client::new()
        .get(format!(
            "{}/wiki/rest/api/content/2001/child/attachment/att3001/download",
            sb.urls.cloud_api
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), StatusCode::OK);
    assert_eq!(sb.requests.count_matching("media", "GET", "/binary"), 3 + 1);
    let media = sb.requests.records_for("media");
    assert!(!media.last().unwrap().had_authorization);
}

#[tokio::test]
async fn removed_v1_paths_answer_410() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    for path in [
        "/wiki/rest/api/content/2001?expand=body.storage",
        "/wiki/rest/api/content/2001/child/attachment?limit=50",
        "/wiki/rest/api/space",
        "/wiki/rest/api/space/ENG",
        "/wiki/rest/api/content?spaceKey=ENG&title=Architecture&type=page",
    ] {
        let (status, body) = get(&sb, &token, path).await;
        assert_eq!(status, StatusCode::GONE, "{path}");
        assert_eq!(body["statusCode"], 410);
    }
}

#[tokio::test]
async fn legacy_title_lookup_can_be_enabled() {
    let sb = spawn_sandbox(ConfluenceConfig {
        cloud_legacy_content_listing: true,
        ..ConfluenceConfig::default()
    })
    .await;
    let token = cloud_token(&sb).await;
    let (status, body) = get(
        &sb,
        &token,
        "/wiki/rest/api/content?spaceKey=ENG&title=Architecture&type=page&expand=version",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["id"], "2002");
}

#[tokio::test]
async fn unknown_cql_is_a_400_naming_the_problem() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let cql = enc(r#"label="a" AND lastmodified > "2024-01-01""#);
    let (status, body) = get(
        &sb,
        &token,
        &format!("/wiki/rest/api/content/search?cql={cql}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("lastmodified"),
        "{body}"
    );

    // Escaped quotes inside a label work; the label with quotes is found.
    let cql = enc(r#"label="say \"hi\"""#);
    let (status, body) = get(
        &sb,
        &token,
        &format!("/wiki/rest/api/content/search?cql={cql}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["id"], "2102");
}

#[tokio::test]
async fn ancestor_search_returns_every_depth_and_web_links_use_plus() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let cql = enc("ancestor IN (2001) AND type != attachment");
    let (_, body) = get(
        &sb,
        &token,
        &format!("/wiki/rest/api/content/search?cql={cql}&limit=100"),
    )
    .await;
    let ids: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2002", "2003", "2004", "2006", "2007", "2008"]);
    let types: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"folder") && types.contains(&"database") && types.contains(&"whiteboard")
    );
    let storage = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "2003")
        .unwrap();
    assert_eq!(
        storage["_links"]["webui"],
        "/spaces/ENG/pages/2003/Storage+Layer"
    );
}

#[tokio::test]
async fn v2_single_page_and_spaces() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let (status, page) = get(&sb, &token, "/wiki/api/v2/pages/2002?body-format=storage").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["title"], "Architecture");
    assert_eq!(
        page["_links"]["base"],
        format!("{}/wiki", sb.urls.cloud_site)
    );
    let (status, _) = get(&sb, &token, "/wiki/api/v2/pages/2103").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a blog post is not a page");
    let (_, spaces) = get(&sb, &token, "/wiki/api/v2/spaces?keys=ENG,KB").await;
    let keys: Vec<&str> = spaces["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["ENG", "KB"]);
    assert_eq!(spaces["results"][1]["type"], "knowledge_base");
    assert_eq!(spaces["results"][0]["homepageId"], "2001");
    let (_, first) = get(&sb, &token, "/wiki/api/v2/spaces?limit=3").await;
    assert_eq!(first["results"].as_array().unwrap().len(), 3);
    let (_, rest) = get(&sb, &token, first["_links"]["next"].as_str().unwrap()).await;
    assert_eq!(rest["results"][0]["key"], "~alice");
}

#[tokio::test]
async fn id_batches_with_bodies_page_by_cursor() {
    let sb = spawn_sandbox(ConfluenceConfig {
        dataset: GenerateSpec {
            seed: 4,
            spaces: 2,
            pages_per_space: 60,
            ..GenerateSpec::default()
        }
        .generate(),
        ..ConfluenceConfig::default()
    })
    .await;
    let token = cloud_token(&sb).await;
    let ids: Vec<String> = sb
        .confluence
        .dataset()
        .content
        .iter()
        .filter(|c| c.content_type == sandbox::confluence::ContentType::Page)
        .map(|c| c.id.clone())
        .take(80)
        .collect();
    let cql = enc(&format!("id in ({}) AND type != attachment", ids.join(",")));
    let mut url =
        format!("/wiki/rest/api/content/search?cql={cql}&expand=body.storage,version&limit=250");
    let mut seen = Vec::new();
    loop {
        let (status, body) = get(&sb, &token, &url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["limit"], 50);
        for r in body["results"].as_array().unwrap() {
            assert!(r["body"]["storage"]["value"].is_string());
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match body["_links"]["next"].as_str() {
            // Cloud's link carries no `expand`: the follower puts it back.
            Some(next) => url = format!("{next}&expand=body.storage,version"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(
        sb.requests.count_matching("cloud", "GET", "content/search"),
        2
    );
}

#[tokio::test]
async fn changing_limit_within_a_cursor_chain_is_refused() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let (_, body) = get(
        &sb,
        &token,
        "/wiki/rest/api/content/search?cql=type%3Dpage&limit=3",
    )
    .await;
    let next = body["_links"]["next"]
        .as_str()
        .unwrap()
        .replace("limit=3", "limit=5");
    let (status, body) = get(&sb, &token, &next).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("limit changed"),
        "{body}"
    );
}

#[tokio::test]
async fn a_next_link_without_expand_answers_without_expansions() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let (_, body) = get(
        &sb,
        &token,
        "/wiki/rest/api/content/search?cql=type%3Dpage&limit=3&expand=version,space",
    )
    .await;
    assert!(body["results"][0]["version"]["number"].is_number());
    let next = body["_links"]["next"].as_str().unwrap();
    // Followed as given (the gateway serves it without `/wiki` too): the page comes back bare.
    let (status, body) = get(&sb, &token, next).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["size"], 3);
    assert!(body["results"][0]["version"].is_null(), "{body}");
    assert!(body["results"][0]["space"].is_null(), "{body}");
}

#[tokio::test]
async fn the_next_link_shape_switches_in_process_and_through_the_control_api() {
    let sb = spawn_sandbox(ConfluenceConfig {
        cloud_search_next_link: CloudSearchNextLink::WikiWithExpand,
        ..ConfluenceConfig::default()
    })
    .await;
    let token = cloud_token(&sb).await;
    let first = "/wiki/rest/api/content/search?cql=type%3Dpage&limit=3&expand=version";
    let next_of = |body: Value| body["_links"]["next"].as_str().unwrap().to_owned();
    let next = next_of(get(&sb, &token, first).await.1);
    assert!(
        next.starts_with("/wiki/rest/api/content/search?next=true&cursor="),
        "{next}"
    );
    assert!(next.contains("expand=version"), "{next}");
    let (status, body) = get(&sb, &token, &next).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["results"][0]["version"]["number"].is_number());

    let control = format!(
        "{}/_sandbox/confluence/cloud-search-next-link",
        sb.urls.control
    );
    let shown: Value = client()
        .get(&control)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["shape"], "wiki_with_expand");
    let res = client()
        .put(&control)
        .json(&serde_json::json!({"shape": "as_cloud"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        sb.confluence.cloud_search_next_link(),
        CloudSearchNextLink::AsCloud
    );
    let next = next_of(get(&sb, &token, first).await.1);
    assert!(
        next.starts_with("/rest/api/content/search?next=true"),
        "{next}"
    );
    assert!(!next.contains("expand"), "{next}");
    let res = client()
        .put(&control)
        .json(&serde_json::json!({"shape": "sideways"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    sb.confluence
        .set_cloud_search_next_link(CloudSearchNextLink::WikiWithExpand);
    assert!(next_of(get(&sb, &token, first).await.1).contains("expand=version"));
}

/// The answer shapes of the real routes: v1 `content/search` is a `ContentArray` (no
/// `cqlQuery`, `searchDuration` or `totalSize`, which belong to `/rest/api/search`); the
/// gateway refuses in `{code, message}`; Confluence behind it in `{statusCode, message}` (v1)
/// or `{errors: […]}` (v2).
#[tokio::test]
async fn answers_and_errors_have_the_real_shapes_per_route() {
    let sb = spawn_sandbox(ConfluenceConfig::default()).await;
    let token = cloud_token(&sb).await;
    let (_, body) = get(
        &sb,
        &token,
        "/wiki/rest/api/content/search?cql=type%3Dpage&limit=2",
    )
    .await;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["_links", "limit", "results", "size", "start"]);

    let (status, body) = get(&sb, "not-a-token", "/wiki/api/v2/pages?id=2001").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], 401);
    assert!(body.get("statusCode").is_none(), "{body}");

    let (status, body) = get(&sb, &token, "/wiki/rest/api/space").await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["statusCode"], 410);

    let (status, body) = get(&sb, &token, "/wiki/api/v2/pages?limit=999").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["status"], 400);
}
