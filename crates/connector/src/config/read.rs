//! Validation of raw values into typed ones while collecting every problem.
//!
//! Each section is deserialised into its raw struct (`raw.rs`), whose fields take any value;
//! the helpers here then check one field each against the reference connector's rules (some
//! numbers are converted from text, `maxFileSizeMb` deliberately is not; secrets come from
//! `os.environ/VAR`), record an error naming the source, the field and what would be accepted,
//! and return `None` on a bad value, so one pass reports everything.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::env::Env;
use super::error::{ConfigError, ConfigWarning};
use super::http_url::{is_loopback, HttpUrl};
use super::raw::{keys_of, Field};

/// Prefix of a secret value that names an environment variable instead of holding the secret.
pub const ENV_REFERENCE_PREFIX: &str = "os.environ/";

/// Whether a field must be present.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Required,
    Optional,
}

/// Whether a number written as text (`"200"`) is accepted. The reference converts most numbers
/// but deliberately not `maxFileSizeMb`; environment variables are always text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbers {
    FromText,
    Strict,
}

/// Collects the problems found in one source (a file, or the daemon settings).
pub(crate) struct Diag<'e> {
    file: String,
    /// Field paths whose value came from an environment variable, with that variable's name, so
    /// errors point at the variable rather than at a file that does not contain the value.
    env_origins: BTreeMap<String, String>,
    env: &'e Env,
    pub(crate) errors: Vec<ConfigError>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

/// Joins a parent path and a key into a dotted field path.
pub(crate) fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

/// A short description of a value's type for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Treats YAML `key:` (null) like an absent key: operators write it to mean "not set".
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

impl<'e> Diag<'e> {
    pub(crate) fn new(file: impl Into<String>, env: &'e Env) -> Self {
        Self {
            file: file.into(),
            env_origins: BTreeMap::new(),
            env,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn with_env_origins(mut self, origins: BTreeMap<String, String>) -> Self {
        self.env_origins = origins;
        self
    }

    fn source_of(&self, path: &str) -> String {
        // The most specific variable wins: `proxy.headers.x` may come from `proxy.headers`.
        let mut probe = path;
        loop {
            if let Some(var) = self.env_origins.get(probe) {
                return format!("environment variable {var}");
            }
            match probe.rfind('.') {
                Some(i) => probe = &probe[..i],
                None => return self.file.clone(),
            }
        }
    }

    pub(crate) fn error(
        &mut self,
        path: &str,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.errors.push(ConfigError {
            file: self.source_of(path),
            field: path.to_owned(),
            problem: problem.into(),
            expected: expected.into(),
        });
    }

    pub(crate) fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            file: self.source_of(path),
            field: path.to_owned(),
            message: message.into(),
        });
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// A mapping read into its raw struct `T`, with a warning for every key `T` does not have:
    /// the reference connector dropped them silently, which hides typos. Absent: every field
    /// absent, or a "missing" error when required. Not a mapping: an error and `None`.
    pub(crate) fn section<T: for<'de> Deserialize<'de> + Default>(
        &mut self,
        path: &str,
        v: Option<&Value>,
        need: Need,
    ) -> Option<T> {
        let Some(map) = self.object(path, v, need) else {
            return (need == Need::Optional && present(v).is_none()).then(T::default);
        };
        let mut unknown = Vec::new();
        // Every field of a raw struct takes any value, so only a non-mapping could fail, and
        // that was ruled out above.
        let raw = serde_ignored::deserialize(Value::Object(map.clone()), |key| {
            unknown.push(key.to_string());
        })
        .unwrap_or_default();
        for key in unknown {
            self.warn(
                &join(path, &key),
                format!(
                    "unknown key '{key}' ignored (known keys here: {})",
                    keys_of::<T>().join(", ")
                ),
            );
        }
        Some(raw)
    }

    /// Warns about settings that are set but do not apply (`condition` says when they do).
    pub(crate) fn not_applicable(&mut self, base: &str, set: &[(&str, &Field)], condition: &str) {
        for (key, value) in set {
            if present(value.as_ref()).is_some() {
                self.warn(
                    &join(base, key),
                    format!("'{key}' applies to {condition} only; ignored"),
                );
            }
        }
    }

    /// A mapping. Absent: `None`, with a "missing" error when required.
    pub(crate) fn object<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        need: Need,
    ) -> Option<&'v Map<String, Value>> {
        match present(v) {
            None => {
                if need == Need::Required {
                    self.error(path, "is missing", "a mapping of settings");
                }
                None
            }
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                self.error(path, format!("is {}", kind(other)), "a mapping of settings");
                None
            }
        }
    }

    /// Any text, as written.
    pub(crate) fn text(
        &mut self,
        path: &str,
        v: Option<&Value>,
        need: Need,
        expected: &str,
    ) -> Option<String> {
        match present(v) {
            None => {
                if need == Need::Required {
                    self.error(path, "is missing", expected);
                }
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(path, format!("is {}", kind(other)), expected);
                None
            }
        }
    }

    /// Text that is not blank, trimmed.
    pub(crate) fn non_blank(
        &mut self,
        path: &str,
        v: Option<&Value>,
        need: Need,
        expected: &str,
    ) -> Option<String> {
        let s = self.text(path, v, need, expected)?;
        let trimmed = s.trim();
        if trimmed.is_empty() {
            self.error(path, "is empty", expected);
            return None;
        }
        Some(trimmed.to_owned())
    }

    /// A secret: a literal or `os.environ/VAR`, trimmed (Kubernetes secrets often end with a
    /// newline), non-empty. The value is never quoted in messages.
    pub(crate) fn secret(
        &mut self,
        path: &str,
        v: Option<&Value>,
        need: Need,
    ) -> Option<SecretString> {
        const EXPECTED: &str =
            "a non-empty secret, written literally or as os.environ/VARIABLE_NAME";
        let raw = match present(v) {
            None => {
                if need == Need::Required {
                    self.error(path, "is missing", EXPECTED);
                }
                return None;
            }
            Some(Value::String(s)) => s,
            Some(other) => {
                self.error(path, format!("is {}", kind(other)), EXPECTED);
                return None;
            }
        };
        let value = match raw.trim().strip_prefix(ENV_REFERENCE_PREFIX) {
            Some(var) => match self.env.get(var) {
                Some(value) => value,
                None => {
                    self.error(
                        path,
                        format!("refers to environment variable {var}, which is not set"),
                        format!("{var} to be set to the secret value"),
                    );
                    return None;
                }
            },
            None => raw.as_str(),
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            let problem = if raw.trim().starts_with(ENV_REFERENCE_PREFIX) {
                "refers to an environment variable that is empty or only whitespace"
            } else {
                "is empty or only whitespace"
            };
            self.error(path, problem, EXPECTED);
            return None;
        }
        Some(SecretString::from(trimmed.to_owned()))
    }

    /// One of a fixed set of words. Absent: `None` (the caller applies the default or reports it
    /// missing with [`Diag::missing`]).
    pub(crate) fn choice<T: Copy>(
        &mut self,
        path: &str,
        v: Option<&Value>,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let expected = format!(
            "one of: {}",
            choices
                .iter()
                .map(|(w, _)| *w)
                .collect::<Vec<_>>()
                .join(", ")
        );
        match present(v)? {
            Value::String(s) => match choices.iter().find(|(w, _)| *w == s.trim()) {
                Some((_, t)) => Some(*t),
                None => {
                    self.error(path, format!("'{s}' is not allowed"), expected);
                    None
                }
            },
            other => {
                self.error(path, format!("is {}", kind(other)), expected);
                None
            }
        }
    }

    pub(crate) fn missing(&mut self, path: &str, expected: &str) {
        self.error(path, "is missing", expected);
    }

    /// The reference's `enabled | disabled` switches.
    pub(crate) fn toggle(&mut self, path: &str, v: Option<&Value>, default: bool) -> bool {
        self.choice(path, v, &[("enabled", true), ("disabled", false)])
            .unwrap_or(default)
    }

    /// `true`/`false`; text `"true"`/`"false"` is accepted because environment variables are
    /// text.
    pub(crate) fn boolean(&mut self, path: &str, v: Option<&Value>, default: bool) -> bool {
        match present(v) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => false,
            Some(other) => {
                self.error(path, format!("is {}", kind(other)), "true or false");
                default
            }
        }
    }

    /// A whole number in `min..=max`.
    pub(crate) fn whole_number(
        &mut self,
        path: &str,
        v: Option<&Value>,
        need: Need,
        numbers: Numbers,
        range: (u64, u64),
    ) -> Option<u64> {
        let (min, max) = range;
        let expected = if max >= u64::from(u32::MAX) {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        let n = match present(v) {
            None => {
                if need == Need::Required {
                    self.error(path, "is missing", &expected);
                }
                return None;
            }
            Some(Value::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Some(u as i128),
                (None, Some(i), _) => Some(i as i128),
                (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => Some(f as i128),
                _ => None,
            },
            Some(Value::String(s)) if numbers == Numbers::FromText => s.trim().parse::<i128>().ok(),
            Some(Value::String(s)) => {
                self.error(
                    path,
                    format!("is text (\"{s}\"), which this field does not convert"),
                    format!("{expected}, written without quotes"),
                );
                return None;
            }
            Some(other) => {
                self.error(path, format!("is {}", kind(other)), &expected);
                return None;
            }
        };
        match n {
            Some(n) if n >= i128::from(min) && n <= i128::from(max) => u64::try_from(n).ok(),
            Some(n) => {
                self.error(path, format!("is {n}, out of range"), &expected);
                None
            }
            None => {
                let shown = match present(v) {
                    Some(Value::String(s)) => format!("\"{s}\""),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                self.error(path, format!("{shown} is not a whole number"), &expected);
                None
            }
        }
    }

    /// An optional whole number in `min..=max`, text converted.
    pub(crate) fn number(
        &mut self,
        path: &str,
        v: Option<&Value>,
        range: (u64, u64),
    ) -> Option<u64> {
        self.whole_number(path, v, Need::Optional, Numbers::FromText, range)
    }

    /// A decimal number in `min..=max`, text converted.
    pub(crate) fn decimal(
        &mut self,
        path: &str,
        v: Option<&Value>,
        range: (f64, f64),
    ) -> Option<f64> {
        let expected = format!("a number from {} to {}", range.0, range.1);
        let n = match present(v)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            other => {
                self.error(path, format!("is {}", kind(other)), &expected);
                return None;
            }
        };
        match n {
            Some(n) if n >= range.0 && n <= range.1 => Some(n),
            _ => {
                self.error(path, "is not a number in range", &expected);
                None
            }
        }
    }

    /// An endpoint URL: absolute `http(s)`, no trailing `/`, no credentials, and HTTPS unless
    /// the host is loopback or `allow_plain_http`. The value is quoted only when it carries no
    /// credentials.
    pub(crate) fn url(
        &mut self,
        path: &str,
        v: Option<&Value>,
        need: Need,
        allow_plain_http: bool,
        plain_http_switch: &str,
    ) -> Option<HttpUrl> {
        const EXPECTED: &str = "an absolute https:// URL without a trailing '/'";
        let text = self.text(path, v, need, EXPECTED)?;
        let text = text.trim().to_owned();
        let url = match Url::parse(&text) {
            Ok(url) => url,
            Err(e) => {
                self.error(path, format!("is not a valid URL ({e})"), EXPECTED);
                return None;
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            self.error(
                path,
                "contains a user name or password",
                "a URL without credentials (put credentials in the auth settings)",
            );
            return None;
        }
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            self.error(path, format!("'{text}' is not an http(s) URL"), EXPECTED);
            return None;
        }
        if text.ends_with('/') {
            self.error(
                path,
                format!("'{text}' ends with '/'"),
                format!(
                    "the same URL without the trailing '/': '{}'",
                    text.trim_end_matches('/')
                ),
            );
            return None;
        }
        if url.scheme() == "http" && !allow_plain_http && !is_loopback(&url) {
            self.error(
                path,
                format!("'{text}' uses plain http"),
                format!(
                    "an https:// URL, or {plain_http_switch}: true to allow plain HTTP to this endpoint"
                ),
            );
            return None;
        }
        Some(HttpUrl::new(text, url))
    }
}
