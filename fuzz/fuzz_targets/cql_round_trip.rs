//! CQL escaping round trip: queries built by confluence-client's CQL builder from arbitrary
//! labels, space keys, titles and content ids are sent the way the client sends them (the
//! `encodeURIComponent`-style query parameter), decoded the way the sandbox decodes them, and
//! parsed by the sandbox's independent CQL parser.
//!
//! Asserts: the query survives the query string unchanged; it parses; the parsed tree is exactly
//! the intended one, each value equal to its input (so no value can end, widen or alter the
//! query).
//!
//! Input: fields separated by 0xFF (never part of UTF-8), each decoded lossily:
//! `single label ⟨FF⟩ all label ⟨FF⟩ space key ⟨FF⟩ title ⟨FF⟩ space types ⟨FF⟩ id ⟨FF⟩ id …`,
//! the space types separated by 0xFE; with none given, a subset of the known types is used.

#![no_main]

use confluence_client::fuzzing;
use libfuzzer_sys::fuzz_target;
use sandbox::confluence::{parse_cql, CqlExpr, CqlField};

fn eq(field: CqlField, value: &str, negated: bool) -> CqlExpr {
    CqlExpr::Equals {
        field,
        value: value.to_owned(),
        negated,
    }
}

fn and(a: CqlExpr, b: CqlExpr) -> CqlExpr {
    CqlExpr::And(Box::new(a), Box::new(b))
}

fn or(a: CqlExpr, b: CqlExpr) -> CqlExpr {
    CqlExpr::Or(Box::new(a), Box::new(b))
}

/// Sends `cql` as the client does and reads it back as the sandbox does.
fn over_the_wire(cql: &str) -> String {
    let query = format!(
        "cql={}&expand=metadata.labels&limit=100",
        http_transport::encode_uri_component(cql)
    );
    let decoded: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let cql_values: Vec<&str> = decoded
        .iter()
        .filter(|(k, _)| k == "cql")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cql_values.len(), 1, "one cql parameter in {query}");
    assert_eq!(cql_values[0], cql, "cql altered in transit: {query}");
    cql_values[0].to_owned()
}

fn parsed(cql: &str) -> CqlExpr {
    let received = over_the_wire(cql);
    match parse_cql(&received) {
        Ok(expr) => expr,
        Err(e) => panic!("the builder wrote CQL the parser rejects: {cql:?}: {e}"),
    }
}

/// The space types operators configure; used when the input names none.
const SPACE_TYPES: [&str; 4] = ["global", "collaboration", "knowledge_base", "personal"];

fuzz_target!(|data: &[u8]| {
    let raw: Vec<&[u8]> = data.split(|b| *b == 0xFF).collect();
    let lossy = |f: &[u8]| String::from_utf8_lossy(f).into_owned();
    let field = |i: usize, default: &str| raw.get(i).map_or_else(|| default.into(), |f| lossy(f));
    let single = field(0, "ai-ingest");
    let all = field(1, "ai-ingest-all");
    let space_key = field(2, "SP");
    let title = field(3, "Title");
    // Any text: the tenant config admits only known types, the client's own config any
    // `[a-z_]+` (CQL words such as `or` and `in` included), and the builder must hold for both.
    let mut types: Vec<String> = match raw.get(4) {
        Some(f) if !f.is_empty() => f.split(|b| *b == 0xFE).map(lossy).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        let mask = data.len() % 15 + 1;
        types = SPACE_TYPES
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, t)| (*t).to_owned())
            .collect();
    }
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let id_fields: Vec<String> = raw.iter().skip(5).map(|f| lossy(f)).collect();
    let ids: Vec<&str> = id_fields.iter().map(String::as_str).collect();

    // Label search.
    let cql = fuzzing::cql_labelled_pages(&single, &all, &types);
    let space_filter = types
        .iter()
        .map(|t| eq(CqlField::SpaceType, t, false))
        .reduce(or)
        .expect("at least one space type");
    let expected = and(
        and(
            or(
                eq(CqlField::Label, &single, false),
                eq(CqlField::Label, &all, false),
            ),
            space_filter,
        ),
        eq(CqlField::Type, "attachment", true),
    );
    let expr = parsed(&cql);
    assert_eq!(expr, expected, "label query {cql:?}");

    // Title lookup.
    let cql = fuzzing::cql_page_by_title(&space_key, &title);
    let expected = and(
        and(
            eq(CqlField::SpaceKey, &space_key, false),
            eq(CqlField::Title, &title, false),
        ),
        eq(CqlField::Type, "page", false),
    );
    assert_eq!(parsed(&cql), expected, "title query {cql:?}");

    // Descendants and body batches: the client never sends an empty id list.
    if !ids.is_empty() {
        let values: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
        let cql = fuzzing::cql_descendants(&ids);
        let expected = and(
            CqlExpr::In {
                field: CqlField::Ancestor,
                values: values.clone(),
                negated: false,
            },
            eq(CqlField::Type, "attachment", true),
        );
        assert_eq!(parsed(&cql), expected, "descendant query {cql:?}");
        let cql = fuzzing::cql_by_ids(&ids);
        let expected = CqlExpr::In {
            field: CqlField::Id,
            values,
            negated: false,
        };
        assert_eq!(parsed(&cql), expected, "id batch query {cql:?}");
    }
});
