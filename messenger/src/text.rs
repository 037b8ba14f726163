//! Message text checked against the Send API's limits, once, at the edge.

/// Meta accepts at most this many characters of text per message ("(#100) Length of
/// param message[text] must be less than or equal to 2000").
pub const MAX_CHARS: usize = 2000;

/// Text Meta accepts: not blank and at most [`MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

/// Why text can't be sent as one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace.
    #[error("the message is empty")]
    Empty,
    /// Too long for one message.
    #[error("the message has {chars} characters; Messenger takes at most {max} per message", max = MAX_CHARS)]
    TooLong {
        /// The text's length in characters.
        chars: usize,
    },
}

impl MessageText {
    /// Validates `text`.
    pub fn parse(text: impl Into<String>) -> Result<Self, TextError> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(TextError::Empty);
        }
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(TextError::TooLong { chars });
        }
        Ok(MessageText(text))
    }

    /// Splits long text into messages Meta accepts, at paragraph, line or word breaks
    /// where possible, never inside a character.
    pub fn split(text: &str) -> Result<Vec<MessageText>, TextError> {
        if text.trim().is_empty() {
            return Err(TextError::Empty);
        }
        let limit = MAX_CHARS;
        let mut parts = Vec::new();
        let mut rest = text.trim();
        while rest.chars().count() > limit {
            let hard = rest
                .char_indices()
                .nth(limit)
                .map_or(rest.len(), |(i, _)| i);
            let window = &rest[..hard];
            let cut = ["\n\n", "\n", " "]
                .iter()
                .find_map(|sep| window.rfind(sep).filter(|&i| i > 0))
                .unwrap_or(hard);
            parts.push(MessageText(rest[..cut].trim_end().to_owned()));
            rest = rest[cut..].trim_start();
        }
        if !rest.is_empty() {
            parts.push(MessageText(rest.to_owned()));
        }
        Ok(parts)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for MessageText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 1-based line and column of a byte offset in `text`, for errors about files
/// (configuration, scenarios) that name where the problem is.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        // At most 2000: exactly 2000 goes, 2001 doesn't.
        assert!(MessageText::parse("x".repeat(2000)).is_ok());
        assert_eq!(
            MessageText::parse("x".repeat(2001)),
            Err(TextError::TooLong { chars: 2001 })
        );
        assert_eq!(MessageText::parse("  \n"), Err(TextError::Empty));
        // Characters, not bytes.
        assert!(MessageText::parse("è".repeat(2000)).is_ok());
    }

    #[test]
    fn split_respects_words_and_limit() {
        let text = "word ".repeat(1000);
        let parts = MessageText::split(&text).unwrap();
        assert_eq!(parts.len(), 3);
        for p in &parts {
            assert!(p.as_str().chars().count() <= MAX_CHARS);
            assert!(!p.as_str().starts_with(' ') && !p.as_str().ends_with(' '));
        }
        let joined: Vec<&str> = parts.iter().map(MessageText::as_str).collect();
        assert_eq!(joined.join(" "), text.trim());
    }

    #[test]
    fn split_without_spaces_cuts_at_char_boundary() {
        let text = "é".repeat(4500);
        let parts = MessageText::split(&text).unwrap();
        assert_eq!(
            parts
                .iter()
                .map(|p| p.as_str().chars().count())
                .sum::<usize>(),
            4500
        );
    }
}
