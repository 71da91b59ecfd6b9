//! The one place where CQL is written. Every string value goes through [`quote`], so a label or a
//! title containing `"` or `\` can neither break the query nor widen it (the reference connector
//! inserts labels verbatim).

use std::fmt::Write as _;

/// A CQL string literal: `"` and `\` escaped with a backslash, the whole value in double quotes.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A content id inside `IN (…)`: Confluence ids are decimal numbers and go in bare, as the
/// reference sends them; anything else is quoted so that it cannot alter the query.
fn id_literal(id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        id.to_owned()
    } else {
        quote(id)
    }
}

fn id_list<S: AsRef<str>>(ids: &[S]) -> String {
    let mut out = String::new();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id_literal(id.as_ref()));
    }
    out
}

/// CQL's reserved words: as a bare value they are syntax, not text, so they must be quoted.
const RESERVED_WORDS: [&str; 41] = [
    "after", "and", "as", "avg", "before", "begin", "by", "commit", "contains", "count",
    "distinct", "else", "empty", "end", "explain", "from", "having", "if", "in", "inner", "insert",
    "into", "is", "isnull", "left", "like", "limit", "max", "min", "not", "null", "or", "order",
    "outer", "right", "select", "sum", "then", "was", "where", "update",
];

/// A space type: bare like the reference's (`space.type=global`) when it is a plain word
/// (`[a-z_]+`, which the config requires) that CQL does not reserve, else quoted — the config
/// admits `or` or `in`, and written bare they would change or break the query.
fn space_type_literal(space_type: &str) -> String {
    let plain = !space_type.is_empty()
        && space_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
        && !RESERVED_WORDS.contains(&space_type);
    if plain {
        space_type.to_owned()
    } else {
        quote(space_type)
    }
}

/// `space.type=a` for one type (unparenthesised, as the reference sends it on Data Center), or
/// `(space.type=a OR space.type=b …)` for several.
fn space_type_filter<S: AsRef<str>>(space_types: &[S]) -> String {
    match space_types {
        [single] => format!("space.type={}", space_type_literal(single.as_ref())),
        many => {
            let mut out = String::from("(");
            for (i, t) in many.iter().enumerate() {
                if i > 0 {
                    out.push_str(" OR ");
                }
                let _ = write!(out, "space.type={}", space_type_literal(t.as_ref()));
            }
            out.push(')');
            out
        }
    }
}

/// Pages carrying either ingest label in a space of an allowed type. `type != attachment` keeps
/// attachments (child content) out of the hits; they come through `expand=children.attachment`.
pub(crate) fn labelled_pages<S: AsRef<str>>(
    single_label: &str,
    all_label: &str,
    space_types: &[S],
) -> String {
    format!(
        "((label={}) OR (label={})) AND {} AND type != attachment",
        quote(single_label),
        quote(all_label),
        space_type_filter(space_types)
    )
}

/// Every descendant, at any depth, of the given roots. No label and no space-type filter: a
/// subtree label takes the whole subtree.
pub(crate) fn descendants<S: AsRef<str>>(root_ids: &[S]) -> String {
    format!("ancestor IN ({}) AND type != attachment", id_list(root_ids))
}

/// The given content ids (Data Center batched body fetch).
pub(crate) fn by_ids<S: AsRef<str>>(ids: &[S]) -> String {
    format!("id in ({})", id_list(ids))
}

/// One page by space key and exact title. Both flavours look titles up this way: the v1
/// `content?spaceKey=…&title=…` listing answers 410 behind the Cloud gateway, and Data Center
/// administrators often block it (403), while CQL search works on both.
pub(crate) fn page_by_title(space_key: &str, title: &str) -> String {
    format!(
        "space={} AND title={} AND type=page",
        quote(space_key),
        quote(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUD_TYPES: [&str; 3] = ["global", "collaboration", "knowledge_base"];

    #[test]
    fn quote_escapes_quotes_and_backslashes() {
        assert_eq!(quote("plain"), r#""plain""#);
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote(r"a\b"), r#""a\\b""#);
        assert_eq!(quote(r#"\""#), r#""\\\"""#);
    }

    #[test]
    fn label_search_on_cloud_ors_every_configured_space_type() {
        insta::assert_snapshot!(
            labelled_pages("ai-ingest", "ai-ingest-all", &CLOUD_TYPES),
            @r#"((label="ai-ingest") OR (label="ai-ingest-all")) AND (space.type=global OR space.type=collaboration OR space.type=knowledge_base) AND type != attachment"#
        );
    }

    #[test]
    fn label_search_with_the_reference_cloud_types() {
        insta::assert_snapshot!(
            labelled_pages("ai-ingest", "ai-ingest-all", &["global", "collaboration"]),
            @r#"((label="ai-ingest") OR (label="ai-ingest-all")) AND (space.type=global OR space.type=collaboration) AND type != attachment"#
        );
    }

    #[test]
    fn label_search_on_data_center_has_an_unparenthesised_global_filter() {
        let cql = labelled_pages("ai-ingest", "ai-ingest-all", &["global"]);
        assert!(cql.contains(" AND space.type=global AND "));
        insta::assert_snapshot!(
            cql,
            @r#"((label="ai-ingest") OR (label="ai-ingest-all")) AND space.type=global AND type != attachment"#
        );
    }

    #[test]
    fn label_search_escapes_hostile_labels() {
        insta::assert_snapshot!(
            labelled_pages(r#"x") OR (label="y"#, r"back\slash", &["global"]),
            @r#"((label="x\") OR (label=\"y") OR (label="back\\slash")) AND space.type=global AND type != attachment"#
        );
    }

    #[test]
    fn space_types_that_cql_reserves_are_quoted() {
        insta::assert_snapshot!(
            labelled_pages("a", "b", &["global", "or", "in", "not"]),
            @r#"((label="a") OR (label="b")) AND (space.type=global OR space.type="or" OR space.type="in" OR space.type="not") AND type != attachment"#
        );
        insta::assert_snapshot!(
            labelled_pages("a", "b", &["and"]),
            @r#"((label="a") OR (label="b")) AND space.type="and" AND type != attachment"#
        );
    }

    #[test]
    fn descendants_lists_bare_numeric_ids() {
        insta::assert_snapshot!(descendants(&["42"]), @"ancestor IN (42) AND type != attachment");
        insta::assert_snapshot!(
            descendants(&["10", "20"]),
            @"ancestor IN (10,20) AND type != attachment"
        );
    }

    #[test]
    fn non_numeric_ids_are_quoted_not_injected() {
        insta::assert_snapshot!(
            descendants(&["1) OR (2"]),
            @r#"ancestor IN ("1) OR (2") AND type != attachment"#
        );
    }

    #[test]
    fn body_batch_query_lists_ids() {
        insta::assert_snapshot!(by_ids(&["1", "2", "3"]), @"id in (1,2,3)");
    }

    #[test]
    fn title_lookup_quotes_space_and_title() {
        insta::assert_snapshot!(
            page_by_title("TST SPACE", r#"Page With "Quotes" & Stuff"#),
            @r#"space="TST SPACE" AND title="Page With \"Quotes\" & Stuff" AND type=page"#
        );
    }
}
