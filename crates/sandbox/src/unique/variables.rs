//! "Variables in allowed positions" (GraphQL spec §5.8.5), checked by the sandbox itself.
//!
//! async-graphql 7.2 ships the rule but it does not fire (a `$scopeId: Int!` passed to a
//! `String!` argument validates), and a client that declares a wrong variable type is exactly
//! the bug the sandbox must catch, since the real service rejects such a document. The schema's
//! argument and input-field types are read once through introspection, then every variable use
//! in a document is compared with its declaration.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, OperationType, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::Value;

const VARIABLE_MARKER: &str = "\u{0}$";
use serde_json::Value as Json;

/// A field's type and its arguments' types.
type FieldTypes = (String, HashMap<String, String>);

/// Field and input-field types of one schema, as type strings (`[String!]!`).
#[derive(Debug, Default)]
pub(crate) struct TypeMap {
    query: String,
    mutation: Option<String>,
    /// type → field → (field type, argument → type)
    fields: HashMap<String, HashMap<String, FieldTypes>>,
    /// input type → field → type
    input_fields: HashMap<String, HashMap<String, String>>,
}

pub(crate) const INTROSPECTION: &str = "{ __schema { queryType { name } mutationType { name }
  types { name kind
    fields(includeDeprecated: true) { name type { ...T } args { name type { ...T } } }
    inputFields { name type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

fn type_string(t: &Json) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_string(&t["ofType"])),
        Some("LIST") => format!("[{}]", type_string(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or_default().to_owned(),
    }
}

impl TypeMap {
    /// Builds the map from the `data` of [`INTROSPECTION`].
    pub fn from_introspection(data: &Json) -> Self {
        let schema = &data["__schema"];
        let mut map = TypeMap {
            query: schema["queryType"]["name"]
                .as_str()
                .unwrap_or("Query")
                .to_owned(),
            mutation: schema["mutationType"]["name"].as_str().map(str::to_owned),
            ..TypeMap::default()
        };
        for ty in schema["types"].as_array().into_iter().flatten() {
            let name = ty["name"].as_str().unwrap_or_default().to_owned();
            if let Some(fields) = ty["fields"].as_array() {
                let entry = map.fields.entry(name.clone()).or_default();
                for f in fields {
                    let args = f["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            (
                                a["name"].as_str().unwrap_or_default().to_owned(),
                                type_string(&a["type"]),
                            )
                        })
                        .collect();
                    entry.insert(
                        f["name"].as_str().unwrap_or_default().to_owned(),
                        (type_string(&f["type"]), args),
                    );
                }
            }
            if let Some(inputs) = ty["inputFields"].as_array() {
                let entry = map.input_fields.entry(name).or_default();
                for f in inputs {
                    entry.insert(
                        f["name"].as_str().unwrap_or_default().to_owned(),
                        type_string(&f["type"]),
                    );
                }
            }
        }
        map
    }

    /// Every use of a variable whose declared type cannot flow into its position.
    pub fn misplaced_variables(&self, doc: &ExecutableDocument) -> Vec<String> {
        let mut errors = Vec::new();
        for (_, op) in doc.operations.iter() {
            let root = match op.node.ty {
                OperationType::Query => Some(self.query.clone()),
                OperationType::Mutation => self.mutation.clone(),
                OperationType::Subscription => None,
            };
            let Some(root) = root else { continue };
            let vars: HashMap<&str, &VariableDefinition> = op
                .node
                .variable_definitions
                .iter()
                .map(|d| (d.node.name.node.as_str(), &d.node))
                .collect();
            let mut walk = Walk {
                map: self,
                doc,
                vars: &vars,
                errors: &mut errors,
                depth: 0,
            };
            walk.selection_set(&root, &op.node.selection_set.node);
        }
        errors.sort();
        errors.dedup();
        errors
    }
}

struct Walk<'a> {
    map: &'a TypeMap,
    doc: &'a ExecutableDocument,
    vars: &'a HashMap<&'a str, &'a VariableDefinition>,
    errors: &'a mut Vec<String>,
    depth: usize,
}

fn named(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// Spec `AreTypesCompatible`, with the nullable-with-default allowance.
fn allowed(var: &str, expected: &str) -> bool {
    if let Some(inner_expected) = expected.strip_suffix('!') {
        return match var.strip_suffix('!') {
            Some(inner_var) => allowed(inner_var, inner_expected),
            None => false,
        };
    }
    let var = var.strip_suffix('!').unwrap_or(var);
    match (var.strip_prefix('['), expected.strip_prefix('[')) {
        (Some(v), Some(e)) => allowed(
            v.strip_suffix(']').unwrap_or(v),
            e.strip_suffix(']').unwrap_or(e),
        ),
        (None, None) => var == expected,
        _ => false,
    }
}

impl Walk<'_> {
    fn selection_set(&mut self, parent: &str, set: &SelectionSet) {
        self.depth += 1;
        if self.depth > 64 {
            self.depth -= 1;
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let Some((ty, args)) = self
                        .map
                        .fields
                        .get(parent)
                        .and_then(|f| f.get(field.name.node.as_str()))
                    else {
                        continue;
                    };
                    for (name, value) in &field.arguments {
                        if let Some(expected) = args.get(name.node.as_str()) {
                            // The parser's non-constant value type is not exported; variables
                            // become marker strings, which no real argument can contain.
                            let Ok(marked) = value.node.clone().into_const_with(|var| {
                                Ok::<_, std::convert::Infallible>(Value::String(format!(
                                    "{VARIABLE_MARKER}{var}"
                                )))
                            });
                            self.value(&marked, expected);
                        }
                    }
                    let child = named(ty).to_owned();
                    self.selection_set(&child, &field.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if let Some(fragment) = self.doc.fragments.get(name) {
                        let on = fragment.node.type_condition.node.on.node.to_string();
                        self.selection_set(&on, &fragment.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.to_string())
                        .unwrap_or_else(|| parent.to_owned());
                    self.selection_set(&on, &inline.node.selection_set.node);
                }
            }
        }
        self.depth -= 1;
    }

    fn value(&mut self, value: &Value, expected: &str) {
        match value {
            Value::String(s) if s.starts_with(VARIABLE_MARKER) => {
                self.variable(&s[VARIABLE_MARKER.len()..], expected)
            }
            Value::List(items) => {
                let inner = expected.strip_suffix('!').unwrap_or(expected);
                let element = inner
                    .strip_prefix('[')
                    .and_then(|i| i.strip_suffix(']'))
                    .unwrap_or(inner);
                for item in items {
                    self.value(item, element);
                }
            }
            Value::Object(fields) => {
                if let Some(inputs) = self.map.input_fields.get(named(expected)) {
                    for (key, v) in fields {
                        if let Some(ty) = inputs.get(key.as_str()) {
                            self.value(v, ty);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn variable(&mut self, name: &str, expected: &str) {
        let Some(def) = self.vars.get(name) else {
            return;
        };
        let declared = def.var_type.node.to_string();
        let effective = if def.default_value.is_some() && !declared.ends_with('!') {
            format!("{declared}!")
        } else {
            declared.clone()
        };
        if !allowed(&effective, expected) {
            self.errors.push(format!(
                "Variable \"${name}\" of type \"{declared}\" used in position expecting type \"{expected}\""
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn variable_types_flow_as_the_spec_says() {
        assert!(allowed("Int!", "Int"));
        assert!(allowed("Int!", "Int!"));
        assert!(!allowed("Int", "Int!"));
        assert!(!allowed("Int!", "String!"));
        assert!(allowed("[String!]!", "[String!]!"));
        assert!(allowed("[String!]!", "[String]"));
        assert!(!allowed("[String]!", "[String!]!"));
        assert!(!allowed("String!", "[String!]!"));
    }
}
