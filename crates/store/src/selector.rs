//! Group selectors: Prometheus' series-selector syntax over grouping
//! labels (`{job=~"etl-.*",instance!="db1"}`), for listing and deleting
//! groups by matcher. Regexes are fully anchored, as in Prometheus, and a
//! label a group does not have matches as the empty value.

use std::fmt;

use regex::Regex;

use crate::key::GroupingKey;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Matches,
    /// `!~`
    NotMatches,
}

/// One `name op "value"` of a selector.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    /// The anchored regex of `=~` and `!~`.
    regex: Option<Regex>,
}

impl Matcher {
    fn matches_value(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Matches, Some(re)) => re.is_match(value),
            (MatchOp::NotMatches, Some(re)) => !re.is_match(value),
            (_, None) => false,
        }
    }
}

/// A parsed selector: a group matches when every matcher does.
#[derive(Debug, Clone)]
pub struct Selector {
    matchers: Vec<Matcher>,
}

/// What is wrong with a selector, with the position (in characters from 0)
/// where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector {selector:?}: {problem}")]
pub struct SelectorError {
    /// The selector as given.
    pub selector: String,
    /// What is wrong, and where.
    pub problem: String,
}

impl Selector {
    /// Parses `{name op "value", …}`; values are double- or single-quoted
    /// (with Go's escapes) or in backticks (raw), label names are
    /// identifiers or quoted (UTF-8 names).
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let fail = |problem: String| SelectorError {
            selector: text.to_string(),
            problem,
        };
        let mut p = Parser {
            chars: text.chars().collect(),
            at: 0,
        };
        p.skip_space();
        if !p.eat('{') {
            return Err(fail(format!(
                "expected '{{' at position {}; a selector is {{label=\"value\", …}}",
                p.at
            )));
        }
        let mut matchers = Vec::new();
        loop {
            p.skip_space();
            if p.eat('}') {
                break;
            }
            let matcher = p.matcher().map_err(fail)?;
            matchers.push(matcher);
            p.skip_space();
            if p.eat(',') {
                continue;
            }
            if p.eat('}') {
                break;
            }
            return Err(fail(format!("expected ',' or '}}' at position {}", p.at)));
        }
        p.skip_space();
        if p.at < p.chars.len() {
            return Err(fail(format!(
                "unexpected {:?} at position {} after the closing '}}'",
                p.chars[p.at], p.at
            )));
        }
        // As Prometheus requires of match[]: a selector that matches every
        // group (the empty value included) is refused, so that a typo
        // never deletes everything.
        if matchers.iter().all(|m| m.matches_value("")) {
            return Err(fail(
                "it needs at least one matcher that does not match the empty value, \
                 such as job=\"...\" or job=~\".+\""
                    .to_string(),
            ));
        }
        Ok(Selector { matchers })
    }

    /// Whether a group with this key is selected.
    pub fn matches(&self, key: &GroupingKey) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches_value(key.get(&m.name).unwrap_or("")))
    }

    /// Whether a group is selected by any of `selectors` (a union, as
    /// several `match[]` are in Prometheus).
    pub fn any_matches(selectors: &[Selector], key: &GroupingKey) -> bool {
        selectors.iter().any(|s| s.matches(key))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            let op = match m.op {
                MatchOp::Equal => "=",
                MatchOp::NotEqual => "!=",
                MatchOp::Matches => "=~",
                MatchOp::NotMatches => "!~",
            };
            let sep = if i > 0 { "," } else { "" };
            write!(f, "{sep}{}{op}{:?}", m.name, m.value)?;
        }
        f.write_str("}")
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn matcher(&mut self) -> Result<Matcher, String> {
        let name = match self.peek() {
            Some('"' | '\'' | '`') => self.string()?,
            _ => self.identifier()?,
        };
        self.skip_space();
        let op_at = self.at;
        let op = if self.eat('=') {
            if self.eat('~') {
                MatchOp::Matches
            } else {
                MatchOp::Equal
            }
        } else if self.eat('!') {
            if self.eat('=') {
                MatchOp::NotEqual
            } else if self.eat('~') {
                MatchOp::NotMatches
            } else {
                return Err(format!("expected '!=' or '!~' at position {op_at}"));
            }
        } else {
            return Err(format!(
                "expected one of =, !=, =~, !~ after {name:?} at position {op_at}"
            ));
        };
        self.skip_space();
        if !matches!(self.peek(), Some('"' | '\'' | '`')) {
            return Err(format!("expected a quoted value at position {}", self.at));
        }
        let value = self.string()?;
        let regex = match op {
            MatchOp::Matches | MatchOp::NotMatches => {
                let invalid =
                    |e: regex::Error| format!("invalid regex {value:?} for {name:?}: {e}");
                // Checked alone first, so that a value such as `a)|(b`
                // cannot close the anchoring group around it.
                Regex::new(&value).map_err(invalid)?;
                Some(Regex::new(&format!("^(?:{value})$")).map_err(invalid)?)
            }
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            regex,
        })
    }

    fn identifier(&mut self) -> Result<String, String> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
        {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected a label name at position {start}"));
        }
        Ok(name)
    }

    /// A quoted string: `"…"` or `'…'` with Go's escapes, or `` `…` `` raw.
    fn string(&mut self) -> Result<String, String> {
        let start = self.at;
        let quote = self.peek().unwrap_or('"');
        self.at += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(format!("unterminated string starting at position {start}"));
            };
            self.at += 1;
            match c {
                _ if c == quote => return Ok(out),
                '\\' if quote != '`' => {
                    let Some(e) = self.peek() else {
                        return Err(format!("unterminated string starting at position {start}"));
                    };
                    self.at += 1;
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' | '"' | '\'' => e,
                        other => {
                            return Err(format!(
                                "unknown escape '\\{other}' at position {}",
                                self.at - 2
                            ))
                        }
                    });
                }
                _ => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        GroupingKey::new(pairs.iter().copied())
    }

    fn selects(selector: &str, pairs: &[(&str, &str)]) -> bool {
        Selector::parse(selector).unwrap().matches(&key(pairs))
    }

    #[test]
    fn each_operator_anchored_and_absent_labels_as_empty() {
        let etl = [("job", "etl-daily"), ("instance", "db1")];
        assert!(selects(r#"{job="etl-daily"}"#, &etl));
        assert!(!selects(r#"{job="etl"}"#, &etl));
        assert!(selects(r#"{job!="etl",instance="db1"}"#, &etl));
        assert!(!selects(r#"{job!="etl-daily",instance="db1"}"#, &etl));
        assert!(selects(r#"{job=~"etl-.*"}"#, &etl));
        // Fully anchored: a regex must match the whole value.
        assert!(!selects(r#"{job=~"etl"}"#, &etl));
        assert!(!selects(r#"{job=~"daily"}"#, &etl));
        assert!(selects(r#"{job!~"etl",instance="db1"}"#, &etl));
        assert!(!selects(r#"{job!~"etl-.*",instance="db1"}"#, &etl));
        assert!(!selects(r#"{job=~"etl-.*",instance!="db1"}"#, &etl));
        assert!(selects(r#"{ job =~ 'etl-.*' , instance = `db1` }"#, &etl));
        // A label the group lacks has the empty value.
        assert!(selects(r#"{job=~".+",region=""}"#, &etl));
        assert!(!selects(r#"{job=~".+",region!=""}"#, &etl));
        assert!(selects(r#"{"job"="etl-daily"}"#, &etl));
        let union = [
            Selector::parse(r#"{job="a"}"#).unwrap(),
            Selector::parse(r#"{job="etl-daily"}"#).unwrap(),
        ];
        assert!(Selector::any_matches(&union, &key(&etl)));
        assert!(!Selector::any_matches(&union[..1], &key(&etl)));
    }

    #[test]
    fn bad_selectors_say_what_is_wrong_and_where() {
        let problem = |s: &str| Selector::parse(s).unwrap_err().problem;
        assert!(problem(r#"job="a""#).starts_with("expected '{' at position 0"));
        assert!(
            problem(r#"{job="a""#).starts_with("unterminated string")
                || problem(r#"{job="a""#).starts_with("expected ',' or '}'")
        );
        assert_eq!(
            problem(r#"{job="a"#),
            "unterminated string starting at position 5"
        );
        assert!(problem(r#"{job<"a"}"#).starts_with("expected one of =, !=, =~, !~"));
        assert!(problem(r#"{job=a}"#).starts_with("expected a quoted value at position 5"));
        assert!(problem(r#"{job=~"("}"#).starts_with("invalid regex \"(\""));
        // A value cannot break out of the anchoring around it.
        assert!(problem(r#"{job=~"a)|(b"}"#).starts_with("invalid regex"));
        assert!(problem(r#"{1job="a"}"#).starts_with("expected a label name"));
        assert!(problem(r#"{job="a"} x"#).starts_with("unexpected 'x'"));
        // Selecting everything is refused, as Prometheus refuses it.
        for everything in ["{}", r#"{job=~".*"}"#, r#"{job!="x"}"#] {
            assert!(
                problem(everything).contains("does not match the empty value"),
                "{everything}"
            );
        }
        let e = Selector::parse("{}").unwrap_err();
        assert!(e.to_string().starts_with("invalid selector \"{}\": "));
    }
}
