//! Errors as the operator reads them.

/// An error and its causes on one line, each said once. The library errors end their own
/// message with their source (`cannot create the directory …: Not a directory (os error 20)`),
/// so anyhow's `{:#}`, which appends every source again, would print the OS error twice.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot create the directory /x for the SQLite ledger: {source}")]
    struct CreateDirectory {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn error_text_says_each_cause_once() {
        let os = std::io::Error::from_raw_os_error(20);
        let os_text = os.to_string();
        let error =
            anyhow::Error::new(CreateDirectory { source: os }).context("opening the ledger");
        let text = error_text(&error);
        assert_eq!(text.matches(&os_text).count(), 1, "{text}");
        assert!(
            text.starts_with("opening the ledger: cannot create the directory /x"),
            "{text}"
        );
    }

    #[test]
    fn error_text_keeps_causes_the_message_does_not_repeat() {
        let error = anyhow::anyhow!("disk full").context("writing the run");
        assert_eq!(error_text(&error), "writing the run: disk full");
    }
}
