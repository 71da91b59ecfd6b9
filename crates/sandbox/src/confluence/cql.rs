//! The subset of CQL the connector sends, parsed for real: a tokenizer and a recursive-descent
//! parser, so a malformed or unescaped query fails here the way it would on Confluence instead of
//! matching by accident.
//!
//! Grammar (keywords case-insensitive, `AND` binds tighter than `OR`):
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary ("AND" unary)*
//! unary   := "NOT" unary | "(" or ")" | clause
//! clause  := field ("=" | "!=") value | field ["NOT"] "IN" "(" value ("," value)* ")"
//! field   := label | type | space | space.key | space.type | ancestor | parent | id | title
//! value   := "string" | 'string' | word | number      (strings escape \" \' \\)
//! ```

use std::fmt;

/// A field the sandbox understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Label,
    Type,
    /// `space` and `space.key`.
    SpaceKey,
    SpaceType,
    Ancestor,
    Parent,
    Id,
    Title,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name.to_ascii_lowercase().as_str() {
            "label" => Field::Label,
            "type" => Field::Type,
            "space" | "space.key" => Field::SpaceKey,
            "space.type" => Field::SpaceType,
            "ancestor" => Field::Ancestor,
            "parent" => Field::Parent,
            "id" | "content" => Field::Id,
            "title" => Field::Title,
            _ => return None,
        })
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `field = value` (negated: `!=`).
    Equals {
        field: Field,
        value: String,
        negated: bool,
    },
    /// `field IN (values)` (negated: `NOT IN`).
    In {
        field: Field,
        values: Vec<String>,
        negated: bool,
    },
}

/// Why a query was rejected; becomes the 400 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Could not parse cql : {query} ({reason} at position {position})")]
pub struct CqlError {
    pub query: String,
    pub reason: String,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Unquoted word: field names, keywords, bare values (`global`, `123`, `ENG`).
    Word(String),
    /// Quoted string, escapes resolved.
    Str(String),
    Eq,
    NotEq,
    /// Comparison operators the sandbox does not support (`<`, `>=`, `~`, `!~`, ...), kept as
    /// tokens so the error names them.
    Other(String),
    LParen,
    RParen,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{w}"),
            Token::Str(s) => write!(f, "{s:?}"),
            Token::Eq => f.write_str("="),
            Token::NotEq => f.write_str("!="),
            Token::Other(op) => f.write_str(op),
            Token::LParen => f.write_str("("),
            Token::RParen => f.write_str(")"),
            Token::Comma => f.write_str(","),
        }
    }
}

fn tokenize(query: &str) -> Result<Vec<(usize, Token)>, CqlError> {
    let err = |reason: String, position: usize| CqlError {
        query: query.to_owned(),
        reason,
        position,
    };
    let chars: Vec<(usize, char)> = query.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push((pos, Token::LParen));
                i += 1;
            }
            ')' => {
                tokens.push((pos, Token::RParen));
                i += 1;
            }
            ',' => {
                tokens.push((pos, Token::Comma));
                i += 1;
            }
            '=' => {
                tokens.push((pos, Token::Eq));
                i += 1;
            }
            '!' => match chars.get(i + 1).map(|(_, c)| *c) {
                Some('=') => {
                    tokens.push((pos, Token::NotEq));
                    i += 2;
                }
                Some('~') => {
                    tokens.push((pos, Token::Other("!~".into())));
                    i += 2;
                }
                _ => return Err(err("expected '=' after '!'".into(), pos)),
            },
            '<' | '>' => {
                let mut op = c.to_string();
                i += 1;
                if chars.get(i).map(|(_, c)| *c) == Some('=') {
                    op.push('=');
                    i += 1;
                }
                tokens.push((pos, Token::Other(op)));
            }
            '~' if !chars.get(i + 1).is_some_and(|(_, c)| c.is_alphanumeric()) => {
                tokens.push((pos, Token::Other("~".into())));
                i += 1;
            }
            '"' | '\'' => {
                let quote = c;
                let mut value = String::new();
                i += 1;
                loop {
                    let Some(&(p, c)) = chars.get(i) else {
                        return Err(err("unterminated string".into(), pos));
                    };
                    i += 1;
                    if c == quote {
                        break;
                    }
                    if c == '\\' {
                        let Some(&(_, escaped)) = chars.get(i) else {
                            return Err(err("unterminated escape".into(), p));
                        };
                        if !matches!(escaped, '"' | '\'' | '\\') {
                            return Err(err(format!("unsupported escape \\{escaped}"), p));
                        }
                        value.push(escaped);
                        i += 1;
                    } else {
                        value.push(c);
                    }
                }
                tokens.push((pos, Token::Str(value)));
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '~' | ':') => {
                let mut word = String::new();
                while let Some(&(_, c)) = chars.get(i) {
                    if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '~' | ':') {
                        word.push(c);
                        i += 1;
                    } else {
                        break;
                    }
                }
                tokens.push((pos, Token::Word(word)));
            }
            other => return Err(err(format!("unexpected character {other:?}"), pos)),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    query: &'a str,
    tokens: Vec<(usize, Token)>,
    next: usize,
}

impl Parser<'_> {
    fn error(&self, reason: impl Into<String>) -> CqlError {
        CqlError {
            query: self.query.to_owned(),
            reason: reason.into(),
            position: self
                .tokens
                .get(self.next)
                .map(|(p, _)| *p)
                .unwrap_or(self.query.len()),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(_, t)| t)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).map(|(_, t)| t.clone());
        self.next += 1;
        token
    }

    fn expect(&mut self, expected: &Token) -> Result<(), CqlError> {
        match self.peek() {
            Some(t) if t == expected => {
                self.next += 1;
                Ok(())
            }
            Some(t) => Err(self.error(format!("expected '{expected}', found '{t}'"))),
            None => Err(self.error(format!("expected '{expected}', found end of query"))),
        }
    }

    fn or(&mut self) -> Result<Expr, CqlError> {
        let mut left = self.and()?;
        while self.peek_keyword("OR") {
            self.next += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, CqlError> {
        let mut left = self.unary()?;
        while self.peek_keyword("AND") {
            self.next += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, CqlError> {
        if self.peek_keyword("NOT") {
            self.next += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::LParen) {
            self.next += 1;
            let inner = self.or()?;
            self.expect(&Token::RParen)?;
            return Ok(inner);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, CqlError> {
        let field = match self.peek() {
            Some(Token::Word(w)) => match Field::parse(w) {
                Some(f) => f,
                None => return Err(self.error(format!("field '{w}' is not supported"))),
            },
            Some(t) => return Err(self.error(format!("expected a field, found '{t}'"))),
            None => return Err(self.error("expected a field, found end of query")),
        };
        self.next += 1;
        match self.bump() {
            Some(Token::Eq) => Ok(Expr::Equals {
                field,
                value: self.value()?,
                negated: false,
            }),
            Some(Token::NotEq) => Ok(Expr::Equals {
                field,
                value: self.value()?,
                negated: true,
            }),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => Ok(Expr::In {
                field,
                values: self.list()?,
                negated: false,
            }),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("NOT") && self.peek_keyword("IN") => {
                self.next += 1;
                Ok(Expr::In {
                    field,
                    values: self.list()?,
                    negated: true,
                })
            }
            Some(t) => {
                self.next -= 1;
                Err(self.error(format!("operator '{t}' is not supported")))
            }
            None => Err(self.error("expected an operator, found end of query")),
        }
    }

    fn value(&mut self) -> Result<String, CqlError> {
        match self.peek() {
            Some(Token::Str(s)) => {
                let s = s.clone();
                self.next += 1;
                Ok(s)
            }
            Some(Token::Word(w))
                if !["AND", "OR", "NOT", "IN"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                let w = w.clone();
                self.next += 1;
                Ok(w)
            }
            Some(t) => Err(self.error(format!("expected a value, found '{t}'"))),
            None => Err(self.error("expected a value, found end of query")),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, CqlError> {
        self.expect(&Token::LParen)?;
        let mut values = vec![self.value()?];
        while self.peek() == Some(&Token::Comma) {
            self.next += 1;
            values.push(self.value()?);
        }
        self.expect(&Token::RParen)?;
        Ok(values)
    }
}

/// Parses a CQL query.
pub fn parse(query: &str) -> Result<Expr, CqlError> {
    let tokens = tokenize(query)?;
    let mut parser = Parser {
        query,
        tokens,
        next: 0,
    };
    if parser.peek().is_none() {
        return Err(parser.error("empty query"));
    }
    let expr = parser.or()?;
    if let Some(t) = parser.peek() {
        return Err(parser.error(format!("unexpected '{t}'")));
    }
    Ok(expr)
}

/// What a query is evaluated against: one piece of content as the serving flavour sees it.
#[derive(Debug)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub content_type: &'a str,
    pub title: &'a str,
    pub labels: &'a [String],
    pub space_key: &'a str,
    pub space_type: &'a str,
    pub parent: Option<&'a str>,
    /// Ancestor ids, nearest first.
    pub ancestors: &'a [String],
}

impl Candidate<'_> {
    fn field_matches(&self, field: Field, value: &str) -> bool {
        match field {
            Field::Label => self.labels.iter().any(|l| l == value),
            Field::Type => self.content_type == value,
            Field::SpaceKey => self.space_key == value,
            Field::SpaceType => self.space_type == value,
            Field::Ancestor => self.ancestors.iter().any(|a| a == value),
            Field::Parent => self.parent == Some(value),
            Field::Id => self.id == value,
            Field::Title => self.title == value,
        }
    }
}

impl Expr {
    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        match self {
            Expr::And(a, b) => a.matches(c) && b.matches(c),
            Expr::Or(a, b) => a.matches(c) || b.matches(c),
            Expr::Not(e) => !e.matches(c),
            Expr::Equals {
                field,
                value,
                negated,
            } => c.field_matches(*field, value) != *negated,
            Expr::In {
                field,
                values,
                negated,
            } => values.iter().any(|v| c.field_matches(*field, v)) != *negated,
        }
    }

    /// Ids the query can only match among, when it pins them (`id = 5`, `id IN (…)`, or such a
    /// clause ANDed with anything); `None` when any content could match. Lets batched body
    /// fetches skip a full scan.
    pub fn id_restriction(&self) -> Option<Vec<&str>> {
        match self {
            Expr::Equals {
                field: Field::Id,
                value,
                negated: false,
            } => Some(vec![value.as_str()]),
            Expr::In {
                field: Field::Id,
                values,
                negated: false,
            } => Some(values.iter().map(String::as_str).collect()),
            Expr::And(a, b) => a.id_restriction().or_else(|| b.id_restriction()),
            Expr::Or(a, b) => {
                let mut ids = a.id_restriction()?;
                ids.extend(b.id_restriction()?);
                Some(ids)
            }
            _ => None,
        }
    }

    /// Whether the query uses `field` anywhere (ancestors are only computed when needed).
    pub fn mentions(&self, field: Field) -> bool {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => a.mentions(field) || b.mentions(field),
            Expr::Not(e) => e.mentions(field),
            Expr::Equals { field: f, .. } | Expr::In { field: f, .. } => *f == field,
        }
    }

    /// Space keys the query names (Data Center rejects unknown ones).
    pub fn space_keys(&self) -> Vec<&str> {
        self.values_of(Field::SpaceKey)
    }

    /// Every value the query compares `field` with, negated or not.
    pub fn values_of(&self, field: Field) -> Vec<&str> {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                let mut values = a.values_of(field);
                values.extend(b.values_of(field));
                values
            }
            Expr::Not(e) => e.values_of(field),
            Expr::Equals {
                field: f, value, ..
            } if *f == field => vec![value.as_str()],
            Expr::In {
                field: f, values, ..
            } if *f == field => values.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn quote(value: &str) -> String {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }

    fn candidate<'a>(labels: &'a [String], ancestors: &'a [String]) -> Candidate<'a> {
        Candidate {
            id: "5",
            content_type: "page",
            title: "A \"quoted\" title",
            labels,
            space_key: "ENG",
            space_type: "global",
            parent: Some("4"),
            ancestors,
        }
    }

    #[test]
    fn parses_the_cloud_label_query() {
        let q = r#"((label="ai-ingest") OR (label="ai-ingest-all")) AND (space.type=global OR space.type=collaboration) AND type != attachment"#;
        let expr = parse(q).unwrap();
        let labels = vec!["ai-ingest-all".to_owned()];
        assert!(expr.matches(&candidate(&labels, &[])));
        let other = vec!["x".to_owned()];
        assert!(!expr.matches(&candidate(&other, &[])));
    }

    #[test]
    fn parses_the_dc_query_without_parentheses_around_the_space_filter() {
        let q = r#"((label="a") OR (label="b")) AND space.type=global AND type != attachment"#;
        let labels = vec!["b".to_owned()];
        assert!(parse(q).unwrap().matches(&candidate(&labels, &[])));
    }

    #[test]
    fn escaped_label_round_trips() {
        for label in [
            r#"say "hi""#,
            r"back\slash",
            r#"both \" mixed"#,
            "plain",
            "it's",
        ] {
            let expr = parse(&format!("label={}", quote(label))).unwrap();
            assert_eq!(
                expr,
                Expr::Equals {
                    field: Field::Label,
                    value: label.to_owned(),
                    negated: false
                }
            );
        }
    }

    #[test]
    fn unescaped_quote_in_label_is_rejected() {
        let err = parse(r#"label="say "hi"""#).unwrap_err();
        assert!(err.reason.contains("unexpected"), "{err}");
    }

    #[test]
    fn ancestor_and_id_lists() {
        let ancestors = vec!["4".to_owned(), "1".to_owned()];
        let labels = vec![];
        let c = candidate(&labels, &ancestors);
        assert!(parse("ancestor IN (1,2) AND type != attachment")
            .unwrap()
            .matches(&c));
        assert!(!parse("ancestor in (7)").unwrap().matches(&c));
        assert!(parse("id in (1,2,5)").unwrap().matches(&c));
        assert!(parse("id=5").unwrap().matches(&c));
        assert!(parse("id not in (5)").is_ok_and(|e| !e.matches(&c)));
        assert!(parse(r#"space.key="ENG" and title="A \"quoted\" title""#)
            .unwrap()
            .matches(&c));
        assert!(parse("space=ENG AND type=page").unwrap().matches(&c));
        assert!(parse("NOT space=OTHER").unwrap().matches(&c));
    }

    #[test]
    fn id_restriction_pins_candidates_only_when_safe() {
        let ids = |q: &str| parse(q).unwrap().id_restriction().map(|ids| ids.join(","));
        assert_eq!(ids("id in (1,2) AND type=page"), Some("1,2".into()));
        assert_eq!(ids("type=page AND id=3"), Some("3".into()));
        assert_eq!(ids("id=1 OR id=2"), Some("1,2".into()));
        assert_eq!(ids("id=1 OR label=x"), None);
        assert_eq!(ids("id != 1"), None);
        assert_eq!(ids("NOT id = 1"), None);
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let labels = vec![];
        let c = candidate(&labels, &[]);
        // true OR (false AND false) = true
        assert!(parse("id=5 OR id=6 AND id=7").unwrap().matches(&c));
    }

    #[test]
    fn unsupported_syntax_is_reported_with_position() {
        let cases = [
            (
                "lastmodified > now(\"-1d\")",
                "field 'lastmodified' is not supported",
            ),
            ("label ~ \"x\"", "operator '~' is not supported"),
            ("created >= 2024-01-01", "field 'created' is not supported"),
            ("title !~ x", "operator '!~' is not supported"),
            ("label = x ; id = 1", "unexpected character ';'"),
            ("label = ", "expected a value"),
            ("(label = x", "expected ')'"),
            ("label = x y", "unexpected 'y'"),
            ("", "empty query"),
            ("label=\"x", "unterminated string"),
            (r#"label="\n""#, "unsupported escape"),
            ("id in 1,2", "expected '('"),
        ];
        for (q, needle) in cases {
            let err = parse(q).unwrap_err();
            assert!(err.to_string().contains(needle), "{q}: {err}");
        }
    }
}
