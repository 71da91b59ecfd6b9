//! The JSON of users, groups and restrictions, as the v1 API and the `restrictions` expansion
//! render them.

use serde_json::{json, Map, Value};

use super::{AccountStatus, DcEmailVisibility, Group, RestrictionOperation, User};
use crate::confluence::model::Content;
use crate::confluence::sim::Flavour;
use crate::confluence::view::View;
use crate::confluence::web::query_string;

/// Subjects (users, groups) one restriction lists per page, inline in a search expansion or
/// in one `byOperation` answer; more come with `start`/`limit`.
pub(crate) const RESTRICTION_SUBJECTS_PAGE: usize = 100;
/// Operations a user may perform, as `expand=operations` lists them: empty for deactivated and
/// deleted accounts (the only status signal v1 gives, CONFCLOUD-69909).
pub(crate) fn user_operations(u: &User) -> Value {
    if u.status == AccountStatus::Active {
        json!([
            {"operation": "use", "targetType": "application"},
            {"operation": "create", "targetType": "page"},
        ])
    } else {
        json!([])
    }
}

/// A Cloud v1 user (`type: known`). No status field: a deactivated account only shows as
/// `<name> (Unlicensed)` and an empty `operations` expansion; a deleted one as "Former user".
pub(crate) fn cloud_user_v1(view: &View<'_>, u: &User, with_operations: bool) -> Value {
    let display = match u.status {
        AccountStatus::Active => u.display_name.clone(),
        AccountStatus::Inactive => format!("{} (Unlicensed)", u.display_name),
        AccountStatus::Closed => "Former user".to_owned(),
    };
    let email = match (&u.email, u.email_visible, u.status) {
        (Some(e), true, AccountStatus::Active | AccountStatus::Inactive) => e.clone(),
        _ => String::new(),
    };
    let mut v = json!({
        "type": "known",
        "accountId": u.account_id,
        "accountType": u.account_type.as_str(),
        "email": email,
        "publicName": display,
        "profilePicture": {
            "path": format!("/wiki/aa-avatar/{}", u.account_id),
            "width": 48, "height": 48, "isDefault": true,
        },
        "displayName": display,
        "isExternalCollaborator": false,
        "isGuest": false,
        "_expandable": {"operations": "", "personalSpace": ""},
        "_links": {"self": format!("{}/rest/api/user?accountId={}", view.base(), u.account_id)},
    });
    if with_operations {
        v["operations"] = user_operations(u);
        if let Some(e) = v["_expandable"].as_object_mut() {
            e.remove("operations");
        }
    }
    v
}

/// A Data Center user. DC answers no status and no email unless `details.personal` is
/// expanded; the email then follows the site's visibility setting.
pub(crate) fn dc_user_v1(
    view: &View<'_>,
    u: &User,
    email_visibility: Option<DcEmailVisibility>,
) -> Value {
    let mut v = json!({
        "type": "known",
        "username": u.dc_username(),
        "userKey": u.account_id,
        "profilePicture": {
            "path": "/images/icons/profilepics/default.svg",
            "width": 48, "height": 48, "isDefault": true,
        },
        "displayName": u.display_name,
        "_links": {"self": format!("{}/rest/api/user?key={}", view.base(), u.account_id)},
        "_expandable": {"status": "", "details": ""},
    });
    if let Some(visibility) = email_visibility {
        let email = match (&u.email, visibility) {
            (Some(e), DcEmailVisibility::Public) => e.clone(),
            (Some(e), DcEmailVisibility::Masked) => e.replace('@', " at ").replace('.', " dot "),
            _ => String::new(),
        };
        v["details"] = json!({"personal": {"email": email, "phone": "", "im": "", "website": ""}, "business": {}});
        if let Some(e) = v["_expandable"].as_object_mut() {
            e.remove("details");
        }
    }
    v
}

pub(crate) fn user_v1(view: &View<'_>, u: &User) -> Value {
    match view.flavour {
        Flavour::Cloud => cloud_user_v1(view, u, false),
        Flavour::DataCenter => dc_user_v1(view, u, None),
    }
}

pub(crate) fn group_v1(view: &View<'_>, g: &Group) -> Value {
    match view.flavour {
        Flavour::Cloud => json!({
            "type": "group",
            "name": g.name,
            "id": g.cloud_id(),
            "_links": {"self": format!("{}/rest/api/group/by-id?id={}", view.base(), g.cloud_id())},
        }),
        Flavour::DataCenter => json!({
            "type": "group",
            "name": g.name,
            "_links": {"self": format!("{}/rest/api/group/{}", view.base(), g.name)},
        }),
    }
}

/// Which subject lists of a restriction to expand.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Subjects {
    pub(crate) user: bool,
    pub(crate) group: bool,
}

/// One `ContentRestriction`: the operation and, when expanded, one page of its users and
/// groups (`start`/`limit` page each list; `_links.next` when more follow).
pub(crate) fn restriction_v1(
    view: &View<'_>,
    content: &Content,
    op: RestrictionOperation,
    subjects: Subjects,
    start: usize,
    limit: usize,
) -> Value {
    let access = &view.store.access;
    let entry = access.restriction(&content.id, op);
    let self_path = format!(
        "/rest/api/content/{}/restriction/byOperation/{}",
        content.id,
        op.as_str()
    );
    let page = |items: Vec<Value>, expand: &str| {
        let total = items.len();
        let window: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
        let mut links = Map::new();
        if start + window.len() < total {
            links.insert(
                "next".into(),
                json!(format!(
                    "{self_path}?{}",
                    query_string(&[
                        ("expand", expand.to_owned()),
                        ("limit", limit.to_string()),
                        ("start", (start + limit).to_string()),
                    ])
                )),
            );
        }
        json!({"results": window, "start": start, "limit": limit, "size": window.len(), "_links": links})
    };
    let users = || -> Vec<Value> {
        entry.map_or_else(Vec::new, |r| {
            let known = r.users.iter().filter_map(|u| access.user(u));
            known.map(|u| user_v1(view, u)).collect()
        })
    };
    let groups = || -> Vec<Value> {
        entry.map_or_else(Vec::new, |r| {
            let known = r.groups.iter().filter_map(|g| access.group(g));
            known.map(|g| group_v1(view, g)).collect()
        })
    };
    let mut restrictions = Map::new();
    let mut expandable = Map::new();
    let mut list = |kind: &str, expanded: bool, items: &dyn Fn() -> Vec<Value>| {
        if expanded {
            restrictions.insert(kind.into(), page(items(), &format!("restrictions.{kind}")));
        } else {
            expandable.insert(kind.into(), json!(format!("{self_path}/{kind}")));
        }
    };
    list("user", subjects.user, &users);
    list("group", subjects.group, &groups);
    if !expandable.is_empty() {
        restrictions.insert("_expandable".into(), Value::Object(expandable));
    }
    json!({
        "operation": op.as_str(),
        "restrictions": restrictions,
        "_expandable": {"content": format!("/rest/api/content/{}", content.id)},
        "_links": {"self": format!("{}{self_path}", view.base())},
    })
}

/// The `restrictions` object of a v1 content when the search asked for
/// `restrictions.<op>.restrictions.<user|group>` (the first page of subjects inline).
pub(crate) fn restrictions_expansion(
    view: &View<'_>,
    content: &Content,
    requested: &[String],
) -> Value {
    let mut out = Map::new();
    let mut expandable = Map::new();
    for op in [RestrictionOperation::Read, RestrictionOperation::Update] {
        let prefix = format!("restrictions.{}", op.as_str());
        let wants = |what: &str| {
            requested
                .iter()
                .any(|e| e == &format!("{prefix}.restrictions.{what}"))
        };
        let subjects = Subjects {
            user: wants("user"),
            group: wants("group"),
        };
        if subjects.user || subjects.group || requested.iter().any(|e| e == &prefix) {
            out.insert(
                op.as_str().into(),
                restriction_v1(view, content, op, subjects, 0, RESTRICTION_SUBJECTS_PAGE),
            );
        } else {
            expandable.insert(
                op.as_str().into(),
                json!(format!(
                    "/rest/api/content/{}/restriction/byOperation/{}",
                    content.id,
                    op.as_str()
                )),
            );
        }
    }
    if !expandable.is_empty() {
        out.insert("_expandable".into(), Value::Object(expandable));
    }
    out.insert(
        "_links".into(),
        json!({"self": format!("{}/rest/api/content/{}/restriction/byOperation", view.base(), content.id)}),
    );
    Value::Object(out)
}
