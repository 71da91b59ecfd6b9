//! Users, groups, memberships, scope accesses and file accesses of the simulated Unique, driven
//! by the documents `Unique-AG/connectors`' `packages/unique-api` sends, and the dump of who can
//! read each file.

#![allow(clippy::unwrap_used)]

mod unique_support;

use sandbox::unique::{validate_document, SeedUser, UniqueService};
use serde_json::{json, Value};
use unique_support::*;

const LIST_USERS: &str = "query ListUsers($skip: Int!, $take: Int!, $where: UserWhereInput) {
  listUsers: paginatedUsers(skip: $skip, take: $take, where: $where) {
    totalCount
    nodes { id active companyId email }
  }
}";

const LIST_GROUPS: &str = "query ListGroups($where: GroupWhereInput!, $skip: Int!, $take: Int!) {
  listGroups: allGroups(where: $where, skip: $skip, take: $take) {
    id name externalId
    members { entityId }
  }
}";

const CREATE_GROUP: &str = "mutation CreateGroup($name: String!, $externalId: String!, $createdBy: String!) {
  createGroup(input: { name: $name, externalId: $externalId, createdBy: $createdBy }) { id name externalId }
}";

const UPDATE_GROUP: &str = "mutation UpdateGroup($groupId: String!, $name: String!) {
  updateGroup(id: $groupId, input: { name: $name }) { id name externalId }
}";

const DELETE_GROUP: &str = "mutation DeleteGroup($groupId: String!) {
  deleteGroup(id: $groupId) { id }
}";

const ADD_GROUP_MEMBERS: &str =
    "mutation AddGroupMembers($groupId: String!, $userIds: [String!]!) {
  addGroupMembers: createMemberships(groupId: $groupId, userIds: $userIds) { entityId groupId }
}";

const REMOVE_GROUP_MEMBER: &str =
    "mutation RemoveGroupMember($groupId: String!, $userId: String!) {
  removeGroupMember: deleteMemberships(groupIds: [$groupId], userId: $userId)
}";

const DELETE_SCOPE_ACCESSES: &str = "mutation DeleteScopeAccesses($scopeAccesses: [ScopeAccessChangeDto!]!, $scopeId: String!, $applyToSubScopes: Boolean, $skipFileAccessPropagation: Boolean) {
  deleteScopeAccesses(scopeAccesses: $scopeAccesses, scopeId: $scopeId, applyToSubScopes: $applyToSubScopes, skipFileAccessPropagation: $skipFileAccessPropagation)
}";

const ADD_ACCESSES: &str = "mutation CreateFileAccessesForContents($scopeId: String!, $fileAccesses: [FileAccessContentChangeDto!]!) {
  createFileAccessesForContents(scopeId: $scopeId, fileAccesses: $fileAccesses)
}";

const REMOVE_ACCESSES: &str = "mutation RemoveFileAccessesForContents($scopeId: String!, $fileAccesses: [FileAccessContentChangeDto!]!) {
  removeFileAccessesForContents(scopeId: $scopeId, fileAccesses: $fileAccesses)
}";

const PAGINATED_SCOPE_WITH_ACCESS: &str =
    "query PaginatedScope($skip: Int!, $take: Int!, $where: ScopeWhereInput!) {
  paginatedScope(skip: $skip, take: $take, where: $where) {
    nodes { id scopeAccess { entityId type entityType } }
  }
}";

impl Harness {
    async fn manage(&self, document: &str, variables: Value) -> Value {
        let (status, body) = self
            .post_graphql(&self.scope_management, document, variables)
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    async fn manage_error(&self, document: &str, variables: Value) -> Value {
        let (status, body) = self
            .post_graphql(&self.scope_management, document, variables)
            .await;
        assert_eq!(status, 200, "{body}");
        body["errors"][0].clone()
    }

    fn user(&self, email: &str) -> String {
        self.sim
            .seed_user(SeedUser {
                email: email.into(),
                ..SeedUser::default()
            })
            .unwrap()
            .id
    }

    /// Creates a group the way the connector would and returns its id.
    async fn create_group(&self, name: &str, external_id: &str) -> String {
        let variables =
            json!({"name": name, "externalId": external_id, "createdBy": "confluence-connector"});
        self.manage(CREATE_GROUP, variables).await["createGroup"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn file_access(&self, key: &str) -> Vec<String> {
        let data = self
            .ingest(
                PAGINATED_CONTENT,
                json!({"skip": 0, "take": 1, "where": {"key": {"in": [key]}}}),
            )
            .await;
        let mut list: Vec<String> =
            serde_json::from_value(data["paginatedContent"]["nodes"][0]["fileAccess"].clone())
                .unwrap();
        list.sort();
        list
    }
}

fn grant(entity: &str, kind: &str, access: &str) -> Value {
    json!({"accessType": access, "entityId": entity, "entityType": kind})
}

fn file_grant(content: &str, entity: &str, kind: &str, access: &str) -> Value {
    json!({"contentId": content, "accessType": access, "entityId": entity, "entityType": kind})
}

#[test]
fn package_documents_validate_against_their_service() {
    for document in [
        LIST_USERS,
        LIST_GROUPS,
        CREATE_GROUP,
        UPDATE_GROUP,
        DELETE_GROUP,
        ADD_GROUP_MEMBERS,
        REMOVE_GROUP_MEMBER,
        USER,
    ] {
        assert_eq!(
            validate_document(UniqueService::ScopeManagement, document),
            Ok(()),
            "{document}"
        );
        assert!(
            validate_document(UniqueService::Ingestion, document).is_err(),
            "{document} is not an ingestion document"
        );
    }
    for document in [
        DELETE_SCOPE_ACCESSES,
        ADD_ACCESSES,
        REMOVE_ACCESSES,
        PAGINATED_SCOPE_WITH_ACCESS,
    ] {
        assert_eq!(
            validate_document(UniqueService::Ingestion, document),
            Ok(()),
            "{document}"
        );
    }
}

#[tokio::test]
async fn users_are_listed_in_pages_and_found_by_email_case_insensitively() {
    let h = start_default().await;
    let alice = h.user("Alice@Example.com");
    h.sim
        .seed_user(SeedUser {
            email: "gone@example.com".into(),
            active: Some(false),
            ..SeedUser::default()
        })
        .unwrap();
    for n in 0..3 {
        h.user(&format!("user{n}@example.com"));
    }
    let active = json!({"active": {"equals": true}});
    let first = h
        .manage(LIST_USERS, json!({"skip": 0, "take": 3, "where": active}))
        .await;
    assert_eq!(
        first["listUsers"]["totalCount"], 5,
        "service user, alice, 3 more"
    );
    assert_eq!(first["listUsers"]["nodes"][0]["id"], "sandbox-user");
    assert_eq!(
        first["listUsers"]["nodes"][0]["companyId"],
        "sandbox-company"
    );
    assert_eq!(first["listUsers"]["nodes"][1]["email"], "Alice@Example.com");
    let rest = h
        .manage(LIST_USERS, json!({"skip": 3, "take": 3, "where": active}))
        .await;
    assert_eq!(rest["listUsers"]["nodes"].as_array().unwrap().len(), 2);

    let by_email = |email: &str, mode: Option<&str>| {
        let mut filter = json!({"equals": email});
        if let Some(mode) = mode {
            filter["mode"] = json!(mode);
        }
        json!({"skip": 0, "take": 1, "where": {"email": filter, "active": {"equals": true}}})
    };
    let found = h
        .manage(
            LIST_USERS,
            by_email("alice@example.COM", Some("insensitive")),
        )
        .await;
    assert_eq!(found["listUsers"]["nodes"][0]["id"], alice.as_str());
    let exact = h
        .manage(LIST_USERS, by_email("alice@example.COM", None))
        .await;
    assert_eq!(exact["listUsers"]["nodes"], json!([]));
    let inactive = h
        .manage(
            LIST_USERS,
            by_email("gone@example.com", Some("insensitive")),
        )
        .await;
    assert_eq!(
        inactive["listUsers"]["nodes"],
        json!([]),
        "only active users"
    );
}

#[tokio::test]
async fn groups_are_created_renamed_listed_by_external_id_prefix_and_deleted() {
    let h = start_default().await;
    let alice = h.user("alice@example.com");
    let bob = h.user("bob@example.com");
    let create = |name: &str, ext: &str| json!({"name": name, "externalId": ext, "createdBy": "confluence-connector"});
    let eng = h
        .manage(
            CREATE_GROUP,
            create("[CFC] Engineering", "confc:cloud:x:g1"),
        )
        .await["createGroup"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.manage(CREATE_GROUP, create("Other", "someone-else:1"))
        .await;
    let taken = h
        .manage_error(CREATE_GROUP, create("Again", "confc:cloud:x:g1"))
        .await;
    assert_eq!(taken["extensions"]["code"], "CONFLICT");

    let added = h
        .manage(
            ADD_GROUP_MEMBERS,
            json!({"groupId": eng, "userIds": [alice, bob]}),
        )
        .await;
    assert_eq!(
        added["addGroupMembers"][1],
        json!({"entityId": bob, "groupId": eng})
    );
    let unknown = h
        .manage_error(
            ADD_GROUP_MEMBERS,
            json!({"groupId": eng, "userIds": ["ghost"]}),
        )
        .await;
    assert_eq!(unknown["extensions"]["code"], "NOT_FOUND");
    let removed = h
        .manage(REMOVE_GROUP_MEMBER, json!({"groupId": eng, "userId": bob}))
        .await;
    assert_eq!(removed["removeGroupMember"], true);
    h.manage(UPDATE_GROUP, json!({"groupId": eng, "name": "[CFC] Eng"}))
        .await;

    let listed = h
        .manage(
            LIST_GROUPS,
            json!({"where": {"externalId": {"startsWith": "confc:cloud:x:"}}, "skip": 0, "take": 100}),
        )
        .await;
    assert_eq!(
        listed["listGroups"],
        json!([{"id": eng, "name": "[CFC] Eng", "externalId": "confc:cloud:x:g1", "members": [{"entityId": alice}]}])
    );

    h.manage(DELETE_GROUP, json!({"groupId": eng})).await;
    assert_eq!(
        h.sim.groups().len(),
        1,
        "only the other connector's group is left"
    );
    let missing = h.manage_error(DELETE_GROUP, json!({"groupId": eng})).await;
    assert_eq!(missing["extensions"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn a_new_file_inherits_its_scope_accesses_unless_registered_with_its_own() {
    let h = start_default().await;
    let space = h.root_scope("SP");
    let service = grant("sandbox-user", "USER", "MANAGE");
    h.ingest(
        CREATE_SCOPE_ACCESSES,
        json!({"scopeId": space, "scopeAccesses": [service], "applyToSubScopes": false, "skipFileAccessPropagation": true}),
    )
    .await;
    h.ingest_page("t/SP/1", &space, "<p>one</p>").await;
    assert_eq!(h.file_access("t/SP/1").await, ["u:sandbox-userM"]);

    let mut own = h.page_variables("t/SP/2", &space, 3);
    own["input"]["fileAccess"] = json!(["u:sandbox-userR", "u:sandbox-userW", "u:sandbox-userM"]);
    h.ingest(CONTENT_UPSERT, own).await;
    assert_eq!(
        h.file_access("t/SP/2").await,
        ["u:sandbox-userM", "u:sandbox-userR", "u:sandbox-userW"]
    );
    let mut bad = h.page_variables("t/SP/3", &space, 3);
    bad["input"]["fileAccess"] = json!(["x:nobody"]);
    let message = h.ingest_error(CONTENT_UPSERT, bad).await;
    assert!(message.contains("Invalid file access key"), "{message}");

    // A later scope grant with skipFileAccessPropagation reaches the scope, not the files.
    let reader = h.user("reader@example.com");
    h.ingest(
        CREATE_SCOPE_ACCESSES,
        json!({"scopeId": space, "scopeAccesses": [grant(&reader, "USER", "READ")], "skipFileAccessPropagation": true}),
    )
    .await;
    assert_eq!(h.file_access("t/SP/1").await, ["u:sandbox-userM"]);
    // Without it, the files get it too, and lose it again on removal.
    h.ingest(
        CREATE_SCOPE_ACCESSES,
        json!({"scopeId": space, "scopeAccesses": [grant(&reader, "USER", "READ")]}),
    )
    .await;
    assert!(h
        .file_access("t/SP/1")
        .await
        .contains(&format!("u:{reader}R")));
    h.ingest(
        DELETE_SCOPE_ACCESSES,
        json!({"scopeId": space, "scopeAccesses": [grant(&reader, "USER", "READ")], "applyToSubScopes": false}),
    )
    .await;
    assert_eq!(h.file_access("t/SP/1").await, ["u:sandbox-userM"]);
    let scope = h
        .ingest(
            PAGINATED_SCOPE_WITH_ACCESS,
            json!({"skip": 0, "take": 1, "where": {"id": {"equals": space}}}),
        )
        .await;
    assert_eq!(
        scope["paginatedScope"]["nodes"][0]["scopeAccess"],
        json!([{"entityId": "sandbox-user", "type": "MANAGE", "entityType": "USER"}])
    );
}

#[tokio::test]
async fn file_accesses_are_added_and_removed_per_content_all_or_nothing() {
    let h = start_default().await;
    let space = h.root_scope("SP");
    let other = h.root_scope("OTHER");
    let page = h.ingest_page("t/SP/1", &space, "<p>one</p>").await;
    let alice = h.user("alice@example.com");
    let group = h.create_group("G", "confc:g").await;

    let add = json!({"scopeId": space, "fileAccesses": [
        file_grant(&page, &alice, "USER", "READ"),
        file_grant(&page, &group, "GROUP", "READ"),
    ]});
    assert_eq!(
        h.ingest(ADD_ACCESSES, add).await["createFileAccessesForContents"],
        true
    );
    assert_eq!(
        h.file_access("t/SP/1").await,
        [format!("g:{group}R"), format!("u:{alice}R")]
    );

    for (scope, item, why) in [
        (
            &space,
            file_grant(&page, "ghost", "USER", "READ"),
            "unknown user",
        ),
        (
            &space,
            file_grant("cont_nope", &alice, "USER", "READ"),
            "unknown content",
        ),
        (
            &other,
            file_grant(&page, &alice, "USER", "WRITE"),
            "content of another scope",
        ),
    ] {
        let batch = json!({"scopeId": scope, "fileAccesses": [file_grant(&page, &alice, "USER", "MANAGE"), item]});
        let (_, body) = h.post_graphql(&h.ingestion, ADD_ACCESSES, batch).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{why}: {body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["response"]["statusCode"], 400,
            "{why}"
        );
    }
    assert!(
        !h.file_access("t/SP/1")
            .await
            .contains(&format!("u:{alice}M")),
        "a failed batch changes nothing"
    );

    let remove =
        json!({"scopeId": space, "fileAccesses": [file_grant(&page, &alice, "USER", "READ")]});
    assert_eq!(
        h.ingest(REMOVE_ACCESSES, remove).await["removeFileAccessesForContents"],
        true
    );
    assert_eq!(h.file_access("t/SP/1").await, [format!("g:{group}R")]);
}

#[tokio::test]
async fn the_readers_dump_resolves_groups_of_file_accesses_and_reports_scope_access_apart() {
    let h = start_default().await;
    let space = h.root_scope("SP");
    let page = h.ingest_page("t/SP/1", &space, "<p>one</p>").await;
    h.ingest_page("t/SP/2", &space, "<p>two</p>").await;
    let alice = h.user("alice@example.com");
    let bob = h.user("bob@example.com");
    let carol = h.user("carol@example.com");
    let group = h.create_group("G", "confc:g").await;
    h.manage(
        ADD_GROUP_MEMBERS,
        json!({"groupId": group, "userIds": [alice, bob]}),
    )
    .await;
    h.ingest(
        ADD_ACCESSES,
        json!({"scopeId": space, "fileAccesses": [file_grant(&page, &group, "GROUP", "READ")]}),
    )
    .await;
    h.ingest(
        CREATE_SCOPE_ACCESSES,
        json!({"scopeId": space, "scopeAccesses": [grant(&carol, "USER", "READ")], "skipFileAccessPropagation": true}),
    )
    .await;

    let dump: Value = h
        .http
        .get(format!("{}/readers?keyPrefix=t/SP/1", h.control))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let one = &dump[0];
    assert_eq!(dump.as_array().unwrap().len(), 1);
    let mut expected = vec![alice.clone(), bob.clone()];
    expected.sort();
    assert_eq!(one["readers"], json!(expected), "the group, resolved");
    assert!(
        one["viaScope"].as_array().unwrap().contains(&json!(carol)),
        "carol sees the folder, not the file: {one}"
    );
    assert!(!one["readers"].as_array().unwrap().contains(&json!(carol)));

    h.manage(DELETE_GROUP, json!({"groupId": group})).await;
    let after = h.sim.readers();
    assert!(after[0].readers.is_empty());
    assert_eq!(
        after[0].orphaned,
        [format!("g:{group}R")],
        "UN-15272: the access stays"
    );
    assert_eq!(
        h.file_access("t/SP/1").await,
        [format!("g:{group}R")],
        "still answered by the API"
    );
}

#[tokio::test]
async fn the_control_api_seeds_and_lists_users_and_groups() {
    let h = start_default().await;
    let res = h
        .http
        .post(format!("{}/users", h.control))
        .json(&json!({"id": "u-1", "email": "one@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let again = h
        .http
        .post(format!("{}/users", h.control))
        .json(&json!({"email": "ONE@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        400,
        "emails are unique, whatever their case"
    );
    let users: Value = h
        .http
        .get(format!("{}/users", h.control))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        users[1],
        json!({"id": "u-1", "email": "one@example.com", "active": true, "companyId": "sandbox-company", "displayName": "one@example.com"})
    );
    h.manage(
        CREATE_GROUP,
        json!({"name": "G", "externalId": "e", "createdBy": "c"}),
    )
    .await;
    let groups: Value = h
        .http
        .get(format!("{}/groups", h.control))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups[0]["externalId"], "e");
    assert_eq!(groups[0]["createdBy"], "c");

    h.http
        .post(format!("{}/reset", h.control))
        .send()
        .await
        .unwrap();
    assert_eq!(h.sim.users().len(), 1, "the service user survives a reset");
    assert!(h.sim.groups().is_empty());
}

#[tokio::test]
async fn me_answers_the_service_user_with_its_profile() {
    let h = start_default().await;
    let data = h
        .manage(
            "query Me { me { user { id email active companyId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["me"]["user"],
        json!({"id": "sandbox-user", "email": "sandbox-user@service.unique.sandbox", "active": true, "companyId": "sandbox-company"})
    );
}
