//! OpenAI's `stop` strings on streamed text: text is handed out only once
//! it cannot be the start of a stop string, and generation ends at the
//! first stop string, which is not part of the answer.

/// Text held back until it is known not to start a stop string.
pub(crate) struct StopStrings {
    stops: Vec<String>,
    pending: String,
}

/// What a new piece of text gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Released {
    /// Text safe to hand out now.
    pub(crate) text: String,
    /// A stop string was reached: the answer ends with `text`.
    pub(crate) stopped: bool,
}

impl StopStrings {
    pub(crate) fn new(stops: Vec<String>) -> StopStrings {
        StopStrings { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), pending: String::new() }
    }

    pub(crate) fn push(&mut self, piece: &str) -> Released {
        self.pending.push_str(piece);
        let first_stop = self.stops.iter().filter_map(|s| self.pending.find(s.as_str())).min();
        if let Some(at) = first_stop {
            let text = self.pending[..at].to_string();
            self.pending.clear();
            return Released { text, stopped: true };
        }
        // Hold the longest tail that some stop string starts with.
        let hold = self
            .stops
            .iter()
            .flat_map(|s| (1..s.len()).filter(|&n| s.is_char_boundary(n)).map(move |n| &s[..n]))
            .filter(|prefix| self.pending.ends_with(prefix))
            .map(str::len)
            .max()
            .unwrap_or(0);
        let cut = self.pending.len() - hold;
        let text = self.pending[..cut].to_string();
        self.pending.drain(..cut);
        Released { text, stopped: false }
    }

    /// What is left when generation ends without a stop string.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::{Released, StopStrings};

    #[test]
    fn holds_possible_starts_and_cuts_at_the_stop() {
        let mut s = StopStrings::new(vec!["\n\nUser:".into(), "END".into()]);
        assert_eq!(s.push("Paris is"), Released { text: "Paris is".into(), stopped: false });
        assert_eq!(s.push(" nice.\n"), Released { text: " nice.".into(), stopped: false });
        assert_eq!(s.push("\nUs"), Released { text: "".into(), stopped: false });
        assert_eq!(s.push("er: hi"), Released { text: "".into(), stopped: true });
        let mut s = StopStrings::new(vec!["END".into()]);
        assert_eq!(s.push("aE"), Released { text: "a".into(), stopped: false });
        assert_eq!(s.push("x"), Released { text: "Ex".into(), stopped: false });
        assert_eq!(s.push("E"), Released { text: "".into(), stopped: false });
        assert_eq!(s.finish(), "E");
    }
}
