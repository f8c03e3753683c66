//! One line for an error and its causes, as users read it in diagnostics and logs.

/// The error's message followed by each cause's (`a: b: c`); a cause whose text the line
/// already contains is left out, since many errors repeat their source in their own message.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Layer {
        message: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layer(message: &'static str, source: Option<Layer>) -> Layer {
        Layer {
            message,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn causes_follow_the_message_and_repeats_are_left_out() {
        let error = layer(
            "create role failed: connection refused",
            Some(layer(
                "connection refused",
                Some(layer("os error 111", None)),
            )),
        );
        assert_eq!(
            error_chain(&error),
            "create role failed: connection refused: os error 111"
        );
    }
}
