//! Permissions in the simulated Confluence, both flavours: space permissions, restrictions
//! (endpoints and search expansions), groups, members and users with their real shapes and
//! paging; the client identity that makes restricted content answer 404 or vanish from
//! searches; mutations that change access without touching versions; and the ground truth.
#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use sandbox::confluence::access::{
    AccessModel, AccessSpec, CloudAnonymousPrincipal, DatasetFile, DcEmailVisibility, Group,
    PermissionsConfig, RestrictionOperation, SpacePermission, User,
};
use sandbox::confluence::{ConfluenceConfig, GenerateSpec};
use sandbox::{spawn, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

const ALICE: &str = "712020:aaaa0001";
const BOB: &str = "712020:aaaa0002";
const CAROL: &str = "712020:aaaa0003";
const BOT: &str = "557058:bot00001";
const SVC: &str = "712020:svc00001";

fn example() -> DatasetFile {
    DatasetFile::from_yaml(include_str!("../datasets/example.yaml")).unwrap()
}

/// The example dataset with its permissions, the client reading everything unless `client`.
async fn sandbox_with(client: Option<&str>, permissions: PermissionsConfig) -> SandboxHandle {
    let mut file = example();
    file.access.client_account = client.map(str::to_owned);
    spawn(SandboxConfig {
        confluence: ConfluenceConfig {
            dataset: file.dataset,
            access: file.access,
            permissions,
            ..ConfluenceConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn sandbox(client: Option<&str>) -> SandboxHandle {
    sandbox_with(client, PermissionsConfig::default()).await
}

async fn cloud_token(sb: &SandboxHandle) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn cloud(sb: &SandboxHandle, path: &str) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let token = cloud_token(sb).await;
    let res = reqwest::Client::new()
        .get(format!("{}{path}", sb.urls.cloud_api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

async fn dc_with(sb: &SandboxHandle, bearer: &str, path: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(format!("{}{path}", sb.urls.dc_base))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn dc(sb: &SandboxHandle, path: &str) -> (StatusCode, Value) {
    dc_with(sb, "sandbox-pat", path).await
}

fn control(sb: &SandboxHandle, path: &str) -> String {
    format!("{}/_sandbox/confluence{path}", sb.urls.control)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The search result with this id.
fn result<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

fn ids(results: &Value) -> Vec<String> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

// ---- Cloud space permissions --------------------------------------------------------------

#[tokio::test]
async fn cloud_space_permissions_list_every_assignment_with_cursor_pages() {
    let sb = sandbox(None).await;
    let (status, body, headers) = cloud(&sb, "/wiki/api/v2/spaces/1001/permissions?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let engineering = example().access.group("engineering").unwrap().cloud_id();
    assert_eq!(
        body["results"],
        json!([
            {"id": "1", "principal": {"type": "group", "id": engineering}, "operation": {"key": "read", "targetType": "space"}},
            {"id": "2", "principal": {"type": "group", "id": engineering}, "operation": {"key": "create", "targetType": "page"}},
        ])
    );
    let next = body["_links"]["next"].as_str().unwrap();
    assert!(
        next.starts_with("/wiki/api/v2/spaces/1001/permissions?"),
        "{next}"
    );
    assert!(headers["link"].to_str().unwrap().contains("rel=\"next\""));
    let (_, second, _) = cloud(&sb, next).await;
    assert_eq!(
        second["results"],
        json!([{"id": "3", "principal": {"type": "user", "id": BOT}, "operation": {"key": "read", "targetType": "space"}}])
    );
    assert!(second["_links"].get("next").is_none());

    let (status, _, _) = cloud(&sb, "/wiki/api/v2/spaces/4242/permissions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = cloud(&sb, "/wiki/api/v2/spaces/1001/permissions?limit=251").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn cloud_anonymous_access_is_a_user_named_anonymous_or_its_own_type() {
    let sb = sandbox(None).await;
    let (_, body, _) = cloud(&sb, "/wiki/api/v2/spaces/1002/permissions").await;
    let principals: Vec<&Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["principal"])
        .collect();
    assert!(
        principals.contains(&&json!({"type": "user", "id": "anonymous"})),
        "{body}"
    );

    let sb = sandbox_with(
        None,
        PermissionsConfig {
            cloud_anonymous_principal: CloudAnonymousPrincipal::AnonymousType,
            ..PermissionsConfig::default()
        },
    )
    .await;
    let (_, body, _) = cloud(&sb, "/wiki/api/v2/spaces/1002/permissions").await;
    let principals: Vec<&Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["principal"])
        .collect();
    assert!(
        principals.contains(&&json!({"type": "anonymous"})),
        "{body}"
    );
}

// ---- restrictions -------------------------------------------------------------------------

#[tokio::test]
async fn cloud_read_restriction_lists_users_and_groups_when_expanded() {
    let sb = sandbox(None).await;
    let (status, body, _) = cloud(
        &sb,
        "/wiki/rest/api/content/2001/restriction/byOperation/read?expand=restrictions.user,restrictions.group",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["operation"], "read");
    let users = &body["restrictions"]["user"];
    assert_eq!(
        (
            users["start"].clone(),
            users["limit"].clone(),
            users["size"].clone()
        ),
        (json!(0), json!(100), json!(1))
    );
    assert_eq!(users["results"][0]["accountId"], ALICE);
    assert_eq!(users["results"][0]["type"], "known");
    let groups = &body["restrictions"]["group"];
    assert_eq!(groups["results"][0]["name"], "engineering");
    assert_eq!(
        groups["results"][0]["id"],
        "7b1e7c3a-0000-4000-8000-000000000001"
    );

    let (_, plain, _) = cloud(
        &sb,
        "/wiki/rest/api/content/2001/restriction/byOperation/read",
    )
    .await;
    assert!(plain["restrictions"].get("user").is_none());
    assert!(plain["restrictions"]["_expandable"]["user"].is_string());

    let (_, none, _) = cloud(
        &sb,
        "/wiki/rest/api/content/2003/restriction/byOperation/read?expand=restrictions.user,restrictions.group",
    )
    .await;
    assert_eq!(
        none["restrictions"]["user"]["size"], 0,
        "a folder without its own restriction"
    );

    let (_, all, _) = cloud(
        &sb,
        "/wiki/rest/api/content/2101/restriction/byOperation?expand=update.restrictions.user",
    )
    .await;
    assert_eq!(all["read"]["operation"], "read");
    assert_eq!(
        all["update"]["restrictions"]["user"]["results"][0]["accountId"],
        ALICE
    );

    let (status, _, _) = cloud(
        &sb,
        "/wiki/rest/api/content/9999/restriction/byOperation/read",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = cloud(
        &sb,
        "/wiki/rest/api/content/2001/restriction/byOperation/fly",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn restriction_subjects_come_in_pages_of_100() {
    let sb = sandbox(None).await;
    let accounts: Vec<String> = (0..130).map(|n| format!("712020:many{n:04}")).collect();
    for a in &accounts {
        sb.confluence
            .add_user(User::person(a, a, &format!("{a}@example.com")))
            .unwrap();
    }
    sb.confluence
        .set_restriction("2002", RestrictionOperation::Read, accounts.clone(), vec![])
        .unwrap();
    let base = "/wiki/rest/api/content/2002/restriction/byOperation/read?expand=restrictions.user";
    let (_, first, _) = cloud(&sb, base).await;
    let users = &first["restrictions"]["user"];
    assert_eq!(users["size"], 100);
    let next = users["_links"]["next"].as_str().unwrap();
    assert!(next.contains("start=100"), "{next}");
    let (_, second, _) = cloud(&sb, &format!("/wiki{next}")).await;
    assert_eq!(second["restrictions"]["user"]["size"], 30);
    assert!(second["restrictions"]["user"]["_links"]
        .get("next")
        .is_none());
}

#[tokio::test]
async fn search_expands_read_restrictions_and_ancestors_on_both_flavours() {
    let sb = sandbox(None).await;
    let expand =
        "restrictions.read.restrictions.user,restrictions.read.restrictions.group,ancestors";
    let cql = enc("space=ENG and type=page");
    let (status, body, _) = cloud(
        &sb,
        &format!("/wiki/rest/api/content/search?cql={cql}&expand={expand}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = result(&body, "2002");
    assert_eq!(page["ancestors"][0]["id"], "2001");
    let read = &page["restrictions"]["read"];
    assert_eq!(read["operation"], "read");
    assert_eq!(
        read["restrictions"]["user"]["results"][0]["accountId"],
        ALICE
    );
    assert_eq!(read["restrictions"]["group"]["size"], 0);
    assert!(page["restrictions"]["_expandable"]["update"].is_string());

    let (status, body) = dc(
        &sb,
        &format!("/rest/api/content/search?cql={cql}&expand={expand}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let home = result(&body, "2001");
    let read = &home["restrictions"]["read"]["restrictions"];
    assert_eq!(read["user"]["results"][0]["userKey"], ALICE);
    assert_eq!(read["user"]["results"][0]["username"], "alice");
    assert_eq!(
        read["group"]["results"][0],
        json!({"type": "group", "name": "engineering", "_links": read["group"]["results"][0]["_links"]})
    );
    assert!(
        read["group"]["results"][0].get("id").is_none(),
        "DC groups have names only"
    );

    let (_, plain, _) = cloud(&sb, &format!("/wiki/rest/api/content/search?cql={cql}")).await;
    assert!(plain["results"][0].get("restrictions").is_none());
    assert!(
        plain["results"][0]["_expandable"]
            .get("restrictions")
            .is_none(),
        "unchanged default shape"
    );
}

#[tokio::test]
async fn cloud_v1_restriction_endpoints_can_answer_410_like_other_removed_v1_paths() {
    let sb = sandbox_with(
        None,
        PermissionsConfig {
            cloud_v1_restrictions_gone: true,
            ..PermissionsConfig::default()
        },
    )
    .await;
    let (status, _, _) = cloud(
        &sb,
        "/wiki/rest/api/content/2001/restriction/byOperation/read",
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    let (status, _) = dc(&sb, "/rest/api/content/2001/restriction/byOperation/read").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "Data Center is not behind the gateway"
    );
}

// ---- groups and users ---------------------------------------------------------------------

#[tokio::test]
async fn cloud_groups_members_and_users_show_hidden_emails_bots_and_deactivated_accounts() {
    let sb = sandbox(None).await;
    let (_, groups, _) = cloud(&sb, "/wiki/rest/api/group").await;
    let names: Vec<&str> = groups["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["confluence-users", "contractors", "engineering"],
        "alphabetical"
    );
    assert_eq!(groups["limit"], 200);

    let engineering = "7b1e7c3a-0000-4000-8000-000000000001";
    let (_, members, _) = cloud(
        &sb,
        &format!("/wiki/rest/api/group/{engineering}/membersByGroupId?limit=2&expand=operations"),
    )
    .await;
    assert_eq!(members["size"], 2);
    assert_eq!(members["results"][0]["accountId"], ALICE);
    assert_eq!(members["results"][0]["email"], "alice@example.com");
    assert_eq!(members["results"][1]["email"], "", "bob hid his email");
    assert!(!members["results"][0]["operations"]
        .as_array()
        .unwrap()
        .is_empty());
    let next = members["_links"]["next"].as_str().unwrap();
    let (_, rest, _) = cloud(&sb, &format!("/wiki{next}")).await;
    assert_eq!(ids_of_accounts(&rest), [SVC]);

    let contractors = example().access.group("contractors").unwrap().cloud_id();
    let (_, members, _) = cloud(
        &sb,
        &format!("/wiki/rest/api/group/{contractors}/membersByGroupId?expand=operations"),
    )
    .await;
    let carol = &members["results"][0];
    assert_eq!(carol["displayName"], "Carol Contractor (Unlicensed)");
    assert_eq!(carol["operations"], json!([]), "deactivated: no operations");

    let everyone = example()
        .access
        .group("confluence-users")
        .unwrap()
        .cloud_id();
    let (_, members, _) = cloud(
        &sb,
        &format!("/wiki/rest/api/group/{everyone}/membersByGroupId"),
    )
    .await;
    assert_eq!(
        ids_of_accounts(&members),
        [ALICE, BOB, CAROL, SVC],
        "people, not bots"
    );

    let (status, _, _) = cloud(
        &sb,
        &format!("/wiki/rest/api/group/{engineering}/membersByGroupId?limit=201"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "documented: limit above 200 is a 400"
    );
    let (status, _, _) = cloud(&sb, "/wiki/rest/api/group/nope/membersByGroupId").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, bot, _) = cloud(&sb, &format!("/wiki/rest/api/user?accountId={}", enc(BOT))).await;
    assert_eq!(
        (bot["accountType"].as_str(), bot["email"].as_str()),
        (Some("app"), Some(""))
    );
    let (_, bulk, _) = cloud(
        &sb,
        &format!(
            "/wiki/rest/api/user/bulk?accountId={}&accountId={}&accountId=ghost",
            enc(ALICE),
            enc(CAROL)
        ),
    )
    .await;
    assert_eq!(ids_of_accounts(&bulk), [ALICE, CAROL]);

    let token = cloud_token(&sb).await;
    let v2: Value = reqwest::Client::new()
        .post(format!("{}/wiki/api/v2/users-bulk", sb.urls.cloud_api))
        .bearer_auth(token)
        .json(&json!({"accountIds": [CAROL, BOB]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v2["results"][0]["accountStatus"], "inactive");
    assert_eq!(v2["results"][1]["email"], "");
}

fn ids_of_accounts(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["accountId"].as_str().unwrap().to_owned())
        .collect()
}

// ---- Data Center --------------------------------------------------------------------------

#[tokio::test]
async fn dc_space_permissions_are_one_array_from_9_1_and_missing_before() {
    let sb = sandbox(None).await;
    let (status, body) = dc(&sb, "/rest/api/space/TEAM/permissions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!([
            {"operation": {"targetType": "space", "operationKey": "read"}, "subject": {"type": "group", "name": "confluence-users", "displayName": "confluence-users"}, "spaceKey": "TEAM", "spaceId": 1002},
            {"operation": {"targetType": "space", "operationKey": "read"}, "subject": {"type": "anonymous", "displayName": "Anonymous"}, "spaceKey": "TEAM", "spaceId": 1002},
        ])
    );
    let (_, eng) = dc(&sb, "/rest/api/space/ENG/permissions").await;
    assert_eq!(
        eng[2]["subject"],
        json!({"type": "user", "userKey": BOT, "displayName": "CI Bot"})
    );
    let (status, _) = dc(&sb, "/rest/api/space/NOPE/permissions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let old = sandbox_with(
        None,
        PermissionsConfig {
            dc_version: "9.0.3".into(),
            ..PermissionsConfig::default()
        },
    )
    .await;
    let (status, _) = dc(&old, "/rest/api/space/TEAM/permissions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let manifest: Value = reqwest::Client::new()
        .get(format!("{}/rest/applinks/1.0/manifest", old.urls.dc_base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            manifest["version"].as_str(),
            manifest["buildNumber"].as_u64()
        ),
        (Some("9.0.3"), Some(9003))
    );
}

async fn dc_oauth_token(sb: &SandboxHandle) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/rest/oauth2/latest/token", sb.urls.dc_base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
            ("scope", "READ"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn dc_refuses_oauth_tokens_on_permission_resources_but_not_on_search_expansions() {
    let sb = sandbox(None).await;
    let token = dc_oauth_token(&sb).await;
    for path in [
        "/rest/api/space/ENG/permissions",
        "/rest/api/content/2001/restriction/byOperation/read",
        "/rest/api/group",
        "/rest/api/group/engineering/member",
        "/rest/api/user?username=alice",
    ] {
        let (status, _) = dc_with(&sb, &token, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, _) = dc(&sb, path).await;
        assert_eq!(status, StatusCode::OK, "{path} with the PAT");
    }
    let (status, body) = dc_with(
        &sb,
        &token,
        &format!(
            "/rest/api/content/search?cql={}&expand=restrictions.read.restrictions.group",
            enc("id=2001")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["results"][0]["restrictions"]["read"]["restrictions"]["group"]["size"],
        1
    );

    let open = sandbox_with(
        None,
        PermissionsConfig {
            dc_oauth_permission_reads_forbidden: false,
            ..PermissionsConfig::default()
        },
    )
    .await;
    let token = dc_oauth_token(&open).await;
    let (status, _) = dc_with(&open, &token, "/rest/api/group").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn dc_groups_members_and_users_by_name_with_the_site_email_setting() {
    let sb = sandbox(None).await;
    let (_, members) = dc(
        &sb,
        "/rest/api/group/engineering/member?limit=2&expand=details.personal",
    )
    .await;
    assert_eq!(members["size"], 2);
    assert_eq!(members["results"][0]["username"], "alice");
    assert_eq!(
        members["results"][0]["details"]["personal"]["email"],
        "alice@example.com"
    );
    assert_eq!(
        members["results"][1]["details"]["personal"]["email"], "bob@example.com",
        "Cloud's per-user privacy does not exist on DC"
    );
    assert!(members["_links"]["next"]
        .as_str()
        .unwrap()
        .starts_with("/rest/api/group/engineering/member?"));
    let (_, user) = dc(&sb, &format!("/rest/api/user?key={}", enc(CAROL))).await;
    assert_eq!(user["username"], "carol");
    assert_eq!(
        user["displayName"], "Carol Contractor",
        "DC shows no status"
    );
    assert!(user.get("details").is_none());
    let (status, _) = dc(&sb, "/rest/api/group/nope/member").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for (visibility, expected) in [
        (DcEmailVisibility::Masked, "alice at example dot com"),
        (DcEmailVisibility::AdminsOnly, ""),
    ] {
        let sb = sandbox_with(
            None,
            PermissionsConfig {
                dc_email_visibility: visibility,
                ..PermissionsConfig::default()
            },
        )
        .await;
        let (_, user) = dc(&sb, "/rest/api/user?username=alice&expand=details.personal").await;
        assert_eq!(user["details"]["personal"]["email"], expected);
    }
}

// ---- the client identity ------------------------------------------------------------------

#[tokio::test]
async fn a_client_without_access_does_not_find_restricted_content_in_searches() {
    // bob can view ENG (engineering) and is in 2001's restriction through engineering, but
    // not in 2002's (alice only).
    let sb = sandbox(Some(BOB)).await;
    let cql = enc("space=ENG");
    let (_, body, _) = cloud(&sb, &format!("/wiki/rest/api/content/search?cql={cql}")).await;
    assert_eq!(
        ids(&body["results"]),
        ["2001", "2003"],
        "2002 is restricted to alice"
    );
    // Data Center has no folders, so 2003 is not there at all.
    let (_, body) = dc(&sb, &format!("/rest/api/content/search?cql={cql}")).await;
    assert_eq!(ids(&body["results"]), ["2001"]);
    let (_, body, _) = cloud(&sb, "/wiki/api/v2/pages?id=2001,2002,2101").await;
    assert_eq!(ids(&body["results"]), ["2001", "2101"]);
    let (_, spaces, _) = cloud(&sb, "/wiki/api/v2/spaces").await;
    assert_eq!(spaces["results"].as_array().unwrap().len(), 2);

    // carol is deactivated: she reads nothing.
    sb.confluence.set_client_account(Some(CAROL)).unwrap();
    let (_, body, _) = cloud(
        &sb,
        &format!("/wiki/rest/api/content/search?cql={}", enc("type=page")),
    )
    .await;
    assert_eq!(body["size"], 0);
}

#[tokio::test]
async fn restricted_content_answers_404_on_v2_and_v1_by_id() {
    let sb = sandbox(Some(BOB)).await;
    for path in [
        "/wiki/api/v2/pages/2002",
        "/wiki/api/v2/pages/2002/attachments",
        "/wiki/rest/api/content/2002/restriction/byOperation/read",
    ] {
        let (status, _, _) = cloud(&sb, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _, _) = cloud(&sb, "/wiki/api/v2/pages/2001").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/rest/api/content/2002",
        "/rest/api/content/2002/child/attachment",
        "/rest/api/content/2002/restriction/byOperation",
        "/download/attachments/2001/notes.txt",
    ] {
        let (status, _) = dc(&sb, path).await;
        let expected = if path.starts_with("/download") {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, expected, "{path}");
    }
    sb.confluence.set_client_account(Some(BOT)).unwrap();
    let (status, _, _) = cloud(
        &sb,
        "/wiki/rest/api/content/2001/child/attachment/att3001/download",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the bot cannot pass 2001's restriction"
    );
    let (status, _, _) = cloud(&sb, "/wiki/api/v2/spaces/1002/permissions").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "TEAM is open to anonymous users, so to the bot"
    );

    let strict = sandbox_with(
        Some(BOB),
        PermissionsConfig {
            v1_restricted_status: 403,
            ..PermissionsConfig::default()
        },
    )
    .await;
    let (status, _) = dc(&strict, "/rest/api/content/2002").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

// ---- mutations, ground truth, control API -------------------------------------------------

#[tokio::test]
async fn access_changes_through_the_control_api_are_seen_at_once_and_leave_versions_alone() {
    let sb = sandbox(None).await;
    let http = reqwest::Client::new();
    let readers = |sb: &SandboxHandle| {
        let url = control(sb, "/access/readers");
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let before = readers(&sb).await;
    assert_eq!(
        before["2002"],
        json!({"users": [ALICE], "anonymous": false})
    );
    assert_eq!(before["2001"]["users"], json!([ALICE, BOB, SVC]));
    assert_eq!(
        before["2101"],
        json!({"users": [ALICE, BOB, SVC], "anonymous": true}),
        "edit restriction only"
    );

    let res = http
        .put(control(&sb, "/content/2002/restrictions"))
        .json(&json!({"users": [BOB]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(readers(&sb).await["2002"]["users"], json!([BOB]));

    let res = http
        .delete(control(
            &sb,
            &format!("/access/groups/engineering/members/{}", enc(BOB)),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        readers(&sb).await["2002"]["users"],
        json!([]),
        "bob lost ENG"
    );
    http.put(control(
        &sb,
        &format!("/access/groups/engineering/members/{}", enc(BOB)),
    ))
    .send()
    .await
    .unwrap();
    http.delete(control(&sb, "/content/2002/restrictions"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        readers(&sb).await["2002"]["users"],
        json!([ALICE, BOB, SVC])
    );

    let res = http
        .put(control(&sb, "/access/spaces/ENG/permissions"))
        .json(&json!([{"anonymous": true}]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        readers(&sb).await["2003"],
        json!({"users": [], "anonymous": false}),
        "below 2001's restriction"
    );

    let res = http
        .patch(control(&sb, &format!("/access/users/{}", enc(ALICE))))
        .json(&json!({"status": "inactive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .put(control(&sb, "/access/client"))
        .json(&json!({"accountId": "ghost"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    for id in ["2001", "2002", "2003"] {
        assert_eq!(
            sb.confluence.content(id).unwrap().version,
            example().dataset.content_by_id(id).unwrap().version
        );
        assert_eq!(
            sb.confluence.content(id).unwrap().when,
            example().dataset.content_by_id(id).unwrap().when
        );
    }
}

#[tokio::test]
async fn the_dataset_file_round_trips_with_its_permissions_through_the_control_api() {
    let sb = sandbox(None).await;
    let yaml = reqwest::get(control(&sb, "/dataset?format=yaml"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("spacePermissions:"), "{yaml}");
    let file = DatasetFile::from_yaml(&yaml).unwrap();
    let served = AccessModel {
        client_account: None,
        ..example().access
    };
    assert_eq!(file.access, served);

    let mut access: AccessModel = file.access.clone();
    access.groups.push(Group {
        name: "auditors".into(),
        id: String::new(),
        members: vec![ALICE.into()],
        all_users: false,
    });
    access
        .space_permissions
        .push(SpacePermission::group_reads("TEAM", "auditors"));
    let res = reqwest::Client::new()
        .put(control(&sb, "/access"))
        .json(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(sb.confluence.access(), access);

    let res = reqwest::Client::new()
        .put(control(&sb, "/dataset"))
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(sb.confluence.access(), served);
}

#[tokio::test]
async fn the_generator_builds_the_bench_tenant_with_permissions() {
    let spec = GenerateSpec {
        seed: 3,
        spaces: 20,
        pages_per_space: 500,
        max_attachments_per_page: 0,
        blogposts_per_space: 0,
        paragraphs: 1,
        access: AccessSpec {
            users: 2000,
            groups: 200,
            restricted_ratio: 0.05,
            ..AccessSpec::default()
        },
        ..GenerateSpec::default()
    };
    let sb = spawn(SandboxConfig::default()).await.unwrap();
    let res = reqwest::Client::new()
        .post(control(&sb, "/generate"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let access = sb.confluence.access();
    assert_eq!(access.users.len(), 2002, "2,000 people and 2 bots");
    assert_eq!(
        access.groups.len(),
        201,
        "200 groups and the all-users group"
    );
    let read = access
        .restrictions
        .iter()
        .filter(|r| r.operation == RestrictionOperation::Read)
        .count();
    assert_eq!(read, 500, "5 % of 10,000 pages");
    let readers = sb.confluence.readers();
    assert_eq!(readers.len(), 10_000);
    assert!(readers.values().filter(|r| !r.users.is_empty()).count() > 9_000);
}

#[tokio::test]
async fn permission_modes_switch_through_the_control_api() {
    let sb = sandbox(None).await;
    let http = reqwest::Client::new();
    let config: Value = http
        .get(control(&sb, "/access/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["dc_version"], "9.2.0");
    let res = http
        .put(control(&sb, "/access/config"))
        .json(&json!({"dc_version": "9.0.3", "v1_restricted_status": 403}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = dc(&sb, "/rest/api/space/ENG/permissions").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "now below 9.1");
    assert_eq!(sb.confluence.permissions_config().v1_restricted_status, 403);
    assert!(
        sb.confluence
            .permissions_config()
            .dc_oauth_permission_reads_forbidden,
        "fields left out take their defaults"
    );
}

/// Kills the server if an assertion fails before the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_loads_the_permission_model_from_the_dataset_and_modes_from_a_file() {
    use std::io::{BufRead, BufReader};
    let modes = std::env::temp_dir().join(format!("permsb-modes-{}.yaml", std::process::id()));
    std::fs::write(
        &modes,
        "dc_version: 8.5.16\ncloud_anonymous_principal: anonymous_type\n",
    )
    .unwrap();
    let dataset = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/example.yaml");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_confluence-sandbox"))
        .args(["serve", "--dataset", dataset, "--permissions-config"])
        .arg(&modes)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(guard.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = std::fs::remove_file(&modes);
    let urls: Value = serde_json::from_str(&line).unwrap();
    let control = urls["control"].as_str().unwrap();
    let access: Value = reqwest::get(format!("{control}/_sandbox/confluence/access"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(access["clientAccount"], SVC);
    let manifest: Value = reqwest::Client::new()
        .get(format!(
            "{}/rest/applinks/1.0/manifest",
            urls["dc_base"].as_str().unwrap()
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["version"], "8.5.16");
    let config: Value = reqwest::get(format!("{control}/_sandbox/confluence/access/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["cloud_anonymous_principal"], "anonymous_type");
}
