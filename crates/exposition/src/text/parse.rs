//! The text format 0.0.4 parser, with the semantics of Go's
//! `expfmt.TextParser` (the parser inside the Go Pushgateway).
//!
//! Grammar, one construct per line, every line ending in `\n`:
//!
//! ```text
//! line    = [blank] ( comment | sample | "" ) "\n"
//! comment = "#" [blank] ( ("HELP" | "TYPE") blank name [blank [text]] | anything )
//! sample  = name [blank] ["{" [labels] "}"] [blank] value [blank timestamp]
//! labels  = label { "," label } [","]
//! label   = [blank] lname [blank] "=" [blank] '"' escaped '"' [blank]
//! blank   = { " " | "\t" }+
//! ```
//!
//! `_sum`, `_count` and `_bucket` samples and the `quantile`/`le` labels are
//! folded into summaries and histograms only when the base name has a TYPE
//! line saying so. Strings are borrowed from the input unless an escape
//! sequence forces a copy.

use std::borrow::Cow;

use foldhash::HashMap;

use crate::golang::{go_f64_to_u64, parse_float, parse_int64, quote, quote_byte};
use crate::model::{Bucket, Counter, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use crate::model::{Quantile, Summary, Value};
use crate::names::{
    is_label_name_continuation, is_label_name_start, is_legacy_metric_name,
    is_metric_name_continuation, is_metric_name_start,
};
use crate::{Error, NameValidation};

/// Options for [`parse_text_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// Which metric and label names are accepted. With
    /// [`NameValidation::Utf8`], names may be quoted UTF-8
    /// (`{"my.metric",a="b"}`), as the Go Pushgateway accepts with
    /// `--push.enable-utf8-names`; with [`NameValidation::Legacy`], names
    /// follow the `[a-zA-Z_:][a-zA-Z0-9_:]*` rule and quotes are not part of
    /// the name syntax.
    pub names: NameValidation,
    /// Stop with [`Error::TooManySeries`] at the first series beyond this
    /// many, so that an oversized body costs no more than the limit.
    pub max_series: Option<u64>,
}

/// Families parsed from text, borrowing from the input.
pub type ParsedFamilies<'a> = Vec<MetricFamily<Cow<'a, str>>>;

/// Parses a text-format body with legacy name rules.
///
/// Families come back in the order their names first appear; families
/// without samples are dropped.
///
/// ```
/// let families = exposition::parse_text(b"# TYPE up gauge\nup{job=\"a\"} 1\n")?;
/// assert_eq!(families[0].name, "up");
/// assert_eq!(families[0].metrics[0].labels[0].value, "a");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_text(input: &[u8]) -> Result<ParsedFamilies<'_>, Error> {
    parse_text_with(input, ParseOptions::default())
}

/// Parses a text-format body with the given options.
pub fn parse_text_with(input: &[u8], options: ParseOptions) -> Result<ParsedFamilies<'_>, Error> {
    run_parser(Parser::new(input, options))
}

fn run_parser(mut parser: Parser<'_>) -> Result<ParsedFamilies<'_>, Error> {
    match parser.run() {
        Ok(()) => {}
        Err(Stop::Eof) => return Err(parser.error("unexpected end of input stream".into())),
        Err(Stop::Error(e)) => return Err(e),
    }
    Ok(parser.finish())
}

/// Why parsing stopped early.
enum Stop {
    /// The input ended inside a line.
    Eof,
    Error(Error),
}

type Step<T = ()> = Result<T, Stop>;

/// A summary or histogram identity: its labels without `quantile`/`le`, sorted.
type Signature<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Per-family parser state next to the family itself.
struct FamilyState<'a> {
    family: MetricFamily<Cow<'a, str>>,
    /// Whether a TYPE line or a sample fixed the type (Go: `Type != nil`).
    type_set: bool,
    /// Summary/histogram metrics by their label set (sorted, without
    /// `quantile`/`le`), so that lines of one summary or histogram meet.
    by_signature: HashMap<Signature<'a>, usize>,
}

impl FamilyState<'_> {
    /// The type as Go's `GetType()` reports it: COUNTER while unset.
    fn effective_type(&self) -> MetricType {
        if self.type_set {
            self.family.metric_type
        } else {
            MetricType::Counter
        }
    }
}

/// A token under construction: a slice of the input while it is contiguous,
/// a copy once an escape sequence or quote breaks contiguity.
struct Token {
    start: usize,
    end: usize,
    owned: Option<Vec<u8>>,
}

impl Token {
    fn empty() -> Token {
        Token {
            start: 0,
            end: 0,
            owned: None,
        }
    }

    fn at(start: usize) -> Token {
        Token {
            start,
            end: start,
            owned: None,
        }
    }

    /// Appends the input byte at `index`.
    fn push_index(&mut self, input: &[u8], index: usize) {
        match &mut self.owned {
            Some(v) => v.push(input[index]),
            None if self.end == index || self.start == self.end => {
                if self.start == self.end {
                    self.start = index;
                }
                self.end = index + 1;
            }
            None => {
                let mut v = input[self.start..self.end].to_vec();
                v.push(input[index]);
                self.owned = Some(v);
            }
        }
    }

    /// Appends a byte that is not in the input (the result of an escape).
    fn push_byte(&mut self, input: &[u8], b: u8) {
        self.owned
            .get_or_insert_with(|| input[self.start..self.end].to_vec())
            .push(b);
    }

    fn bytes<'t>(&'t self, input: &'t [u8]) -> &'t [u8] {
        match &self.owned {
            Some(v) => v,
            None => &input[self.start..self.end],
        }
    }

    fn is_empty(&self) -> bool {
        match &self.owned {
            Some(v) => v.is_empty(),
            None => self.start == self.end,
        }
    }

    /// The token as a string, or its bytes if they are not valid UTF-8.
    /// `text` is the whole input when it is known to be valid UTF-8.
    fn into_str_or_bytes<'a>(
        self,
        input: &'a [u8],
        text: Option<&'a str>,
    ) -> Result<Cow<'a, str>, Vec<u8>> {
        match self.owned {
            Some(v) => String::from_utf8(v)
                .map(Cow::Owned)
                .map_err(|e| e.into_bytes()),
            None => {
                if let Some(s) = text.and_then(|t| t.get(self.start..self.end)) {
                    return Ok(Cow::Borrowed(s));
                }
                let bytes = &input[self.start..self.end];
                std::str::from_utf8(bytes)
                    .map(Cow::Borrowed)
                    .map_err(|_| bytes.to_vec())
            }
        }
    }

    /// The token as a string, replacing invalid UTF-8 (used for HELP, which
    /// Go stores as raw bytes).
    fn into_str_lossy<'a>(self, input: &'a [u8]) -> Cow<'a, str> {
        match self.owned {
            Some(v) => match String::from_utf8(v) {
                Ok(s) => Cow::Owned(s),
                Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            },
            None => String::from_utf8_lossy(&input[self.start..self.end]),
        }
    }
}

struct Parser<'a> {
    input: &'a [u8],
    /// The input as text when it is valid UTF-8 throughout (the usual
    /// case), so that tokens need no validation of their own.
    text: Option<&'a str>,
    /// Index of the next unread byte; `cur` is `input[pos - 1]`.
    pos: usize,
    /// The byte read last (Go's `currentByte`).
    cur: u8,
    line: usize,
    utf8_names: bool,
    /// Series (metrics) read so far, and how many may be.
    series: u64,
    max_series: u64,
    /// Whether plain sample lines take [`Parser::plain_sample`] (always,
    /// but in the test that holds it to the general path's results).
    plain_lines: bool,
    families: Vec<FamilyState<'a>>,
    by_name: HashMap<Cow<'a, str>, usize>,
    /// The family the current line belongs to (Go's `currentMF`).
    current: Option<usize>,
    /// The index of the family matched last by exact name, for the common
    /// case of consecutive samples of one family.
    last_exact: Option<usize>,
    is_summary_count: bool,
    is_summary_sum: bool,
    is_histogram_count: bool,
    is_histogram_sum: bool,
    /// Label pairs of the current line (Go's `currentLabelPairs`).
    labels: Vec<LabelPair<Cow<'a, str>>>,
    /// Summary/histogram identity labels of the current line.
    signature: Signature<'a>,
    /// Label names of the current line once it has many labels, so that the
    /// duplicate check stays linear; valid for line `label_set_line`.
    label_set: foldhash::HashSet<Cow<'a, str>>,
    label_set_line: usize,
    current_quantile: f64,
    current_bucket: f64,
    inside_braces: bool,
    inside_braces_name_seen: bool,
}

fn is_blank_or_tab(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn strip_summary_suffix(name: &str) -> Option<&str> {
    if name.len() > 6 && name.ends_with("_count") {
        Some(&name[..name.len() - 6])
    } else if name.len() > 4 && name.ends_with("_sum") {
        Some(&name[..name.len() - 4])
    } else {
        None
    }
}

fn strip_histogram_suffix(name: &str) -> Option<&str> {
    if name.len() > 7 && name.ends_with("_bucket") {
        Some(&name[..name.len() - 7])
    } else {
        strip_summary_suffix(name)
    }
}

/// Upper-cases a TYPE token as Go's `strings.ToUpper` would for the letters
/// that can spell a metric type (including the two non-ASCII letters Go
/// folds onto ASCII `S` and `I`).
fn type_from_token(token: &[u8]) -> Option<MetricType> {
    let text = String::from_utf8_lossy(token);
    let upper: String = text
        .chars()
        .map(|c| match c {
            '\u{017F}' => 'S',
            '\u{0131}' => 'I',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    Some(match upper.as_str() {
        "COUNTER" => MetricType::Counter,
        "GAUGE" => MetricType::Gauge,
        "SUMMARY" => MetricType::Summary,
        "UNTYPED" => MetricType::Untyped,
        "HISTOGRAM" => MetricType::Histogram,
        "GAUGE_HISTOGRAM" | "GAUGEHISTOGRAM" => MetricType::GaugeHistogram,
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    fn new(input: &'a [u8], options: ParseOptions) -> Parser<'a> {
        Parser {
            input,
            text: std::str::from_utf8(input).ok(),
            pos: 0,
            cur: 0,
            line: 0,
            utf8_names: options.names == NameValidation::Utf8,
            series: 0,
            max_series: options.max_series.unwrap_or(u64::MAX),
            plain_lines: true,
            families: Vec::new(),
            by_name: HashMap::default(),
            current: None,
            last_exact: None,
            is_summary_count: false,
            is_summary_sum: false,
            is_histogram_count: false,
            is_histogram_sum: false,
            labels: Vec::new(),
            signature: Vec::new(),
            current_quantile: f64::NAN,
            current_bucket: f64::NAN,
            inside_braces: false,
            inside_braces_name_seen: false,
            label_set: Default::default(),
            label_set_line: 0,
        }
    }

    /// Whether the current line already has a label called `name`. Past a
    /// handful of labels a set takes over from the linear scan; it is
    /// updated with `name`, which the caller adds next.
    #[allow(clippy::ptr_arg)] // The set stores a clone of the Cow, keeping it borrowed.
    fn is_duplicate_label(&mut self, name: &Cow<'a, str>) -> bool {
        const LINEAR_LIMIT: usize = 16;
        if self.labels.len() < LINEAR_LIMIT {
            return self.labels.iter().any(|l| l.name == *name);
        }
        if self.label_set_line != self.line {
            self.label_set.clear();
            self.label_set
                .extend(self.labels.iter().map(|l| l.name.clone()));
            self.label_set_line = self.line;
        }
        !self.label_set.insert(name.clone())
    }

    fn error(&self, message: String) -> Error {
        Error::Text {
            line: self.line,
            message,
        }
    }

    /// Counts one more series, stopping beyond the limit.
    fn count_series(&mut self) -> Step {
        if self.series >= self.max_series {
            return Err(Stop::Error(Error::TooManySeries {
                limit: self.max_series,
            }));
        }
        self.series += 1;
        Ok(())
    }

    fn fail<T>(&self, message: String) -> Step<T> {
        Err(Stop::Error(self.error(message)))
    }

    /// Reads the next byte into `cur`.
    #[inline]
    fn read(&mut self) -> Step {
        match self.input.get(self.pos) {
            Some(&b) => {
                self.cur = b;
                self.pos += 1;
                Ok(())
            }
            None => Err(Stop::Eof),
        }
    }

    /// Reads bytes until one is neither blank nor tab; that byte is `cur`.
    #[inline]
    fn skip_blank_tab(&mut self) -> Step {
        loop {
            self.read()?;
            if !is_blank_or_tab(self.cur) {
                return Ok(());
            }
        }
    }

    #[inline]
    fn skip_blank_tab_if_current_blank_tab(&mut self) -> Step {
        if is_blank_or_tab(self.cur) {
            self.skip_blank_tab()
        } else {
            Ok(())
        }
    }

    /// The bytes from `cur` up to (not including) the next blank, tab or
    /// newline, which becomes `cur`.
    #[inline]
    fn read_token_until_whitespace(&mut self) -> Step<&'a [u8]> {
        let start = self.pos - 1;
        let rest = &self.input[start..];
        match rest
            .iter()
            .position(|&b| b == b' ' || b == b'\t' || b == b'\n')
        {
            Some(i) => {
                self.pos = start + i + 1;
                self.cur = rest[i];
                Ok(&rest[..i])
            }
            None => {
                self.pos = self.input.len();
                Err(Stop::Eof)
            }
        }
    }

    /// The rest of the line from `cur`, optionally resolving `\\`, `\n` and
    /// `\"`; the newline becomes `cur`.
    fn read_token_until_newline(&mut self, escapes: bool) -> Step<Token> {
        let mut token = Token::at(self.pos - 1);
        let mut escaped = false;
        loop {
            if escapes && escaped {
                match self.cur {
                    b'\\' => token.push_byte(self.input, b'\\'),
                    b'n' => token.push_byte(self.input, b'\n'),
                    b'"' => token.push_byte(self.input, b'"'),
                    other => {
                        return self
                            .fail(format!("invalid escape sequence '\\{}'", char::from(other)))
                    }
                }
                escaped = false;
            } else {
                match self.cur {
                    b'\n' => return Ok(token),
                    // Go drops a backslash even where it resolves no
                    // escapes (TYPE lines, after a timestamp).
                    b'\\' => escaped = escapes,
                    _ => token.push_index(self.input, self.pos - 1),
                }
            }
            self.read()?;
        }
    }

    /// A metric name starting at `cur`; the first byte after it becomes `cur`.
    fn read_token_as_metric_name(&mut self) -> Step<Token> {
        if self.utf8_names {
            return self.read_quotable_name(true);
        }
        if !is_metric_name_start(self.cur) {
            return Ok(Token::empty());
        }
        self.scan_token(is_metric_name_continuation)
    }

    /// Extends a token starting at `cur` while `continues` holds; the first
    /// byte after it becomes `cur`.
    #[inline]
    fn scan_token(&mut self, continues: fn(u8) -> bool) -> Step<Token> {
        let start = self.pos - 1;
        match self.input[self.pos..].iter().position(|&b| !continues(b)) {
            Some(i) => {
                self.pos += i + 1;
                self.cur = self.input[self.pos - 1];
                Ok(Token {
                    start,
                    end: self.pos - 1,
                    owned: None,
                })
            }
            None => {
                self.pos = self.input.len();
                Err(Stop::Eof)
            }
        }
    }

    /// A label name starting at `cur`; the first byte after it becomes `cur`.
    fn read_token_as_label_name(&mut self) -> Step<Token> {
        if self.utf8_names {
            return self.read_quotable_name(false);
        }
        if !is_label_name_start(self.cur) {
            return Ok(Token::empty());
        }
        self.scan_token(is_label_name_continuation)
    }

    /// A metric or label name that may be quoted (`"my.metric"`) and may
    /// contain escapes inside the quotes (UTF-8 mode only).
    fn read_quotable_name(&mut self, metric: bool) -> Step<Token> {
        let start_ok = |b: u8| is_label_name_start(b) || b == b'"' || (metric && b == b':');
        let continues = |b: u8, quoted: bool| {
            quoted || is_label_name_continuation(b) || b == b'"' || (metric && b == b':')
        };
        let stop_unquoted = if metric { b' ' } else { b'=' };
        if !start_ok(self.cur) {
            return Ok(Token::empty());
        }
        let mut token = Token::at(self.pos - 1);
        let mut quoted = false;
        let mut escaped = false;
        loop {
            if escaped {
                match self.cur {
                    b'\\' => token.push_byte(self.input, b'\\'),
                    b'n' => token.push_byte(self.input, b'\n'),
                    b'"' => token.push_byte(self.input, b'"'),
                    other => {
                        return self
                            .fail(format!("invalid escape sequence '\\{}'", char::from(other)))
                    }
                }
                escaped = false;
            } else {
                match self.cur {
                    b'"' => {
                        quoted = !quoted;
                        if !quoted {
                            self.read()?;
                            return Ok(token);
                        }
                    }
                    b'\n' => {
                        let what = if metric { "metric name" } else { "label name" };
                        return self.fail(format!(
                            "{what} {} contains unescaped new-line",
                            quote(token.bytes(self.input))
                        ));
                    }
                    b'\\' => escaped = true,
                    _ => token.push_index(self.input, self.pos - 1),
                }
            }
            self.read()?;
            if !continues(self.cur, quoted) || (!quoted && self.cur == stop_unquoted) {
                return Ok(token);
            }
        }
    }

    /// A label value after its opening quote, checked to be UTF-8; the
    /// closing quote becomes `cur`.
    fn read_label_value(&mut self) -> Step<Cow<'a, str>> {
        let start = self.pos;
        let rest = &self.input[start..];
        // Fast path: no escapes before the closing quote.
        match rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b == b'\n')
        {
            Some(i) if rest[i] == b'"' => {
                self.pos = start + i + 1;
                self.cur = b'"';
                if let Some(s) = self.text.and_then(|t| t.get(start..start + i)) {
                    return Ok(Cow::Borrowed(s));
                }
                return match std::str::from_utf8(&rest[..i]) {
                    Ok(s) => Ok(Cow::Borrowed(s)),
                    Err(_) => self.fail(format!("invalid label value {}", quote(&rest[..i]))),
                };
            }
            None => {
                self.pos = self.input.len();
                return Err(Stop::Eof);
            }
            Some(_) => {}
        }
        let mut token = Token::at(start);
        let mut escaped = false;
        loop {
            self.read()?;
            if escaped {
                match self.cur {
                    b'"' | b'\\' => token.push_byte(self.input, self.cur),
                    b'n' => token.push_byte(self.input, b'\n'),
                    other => {
                        return self
                            .fail(format!("invalid escape sequence '\\{}'", char::from(other)))
                    }
                }
                escaped = false;
                continue;
            }
            match self.cur {
                b'"' => break,
                b'\n' => {
                    return self.fail(format!(
                        "label value {} contains unescaped new-line",
                        quote(token.bytes(self.input))
                    ))
                }
                b'\\' => escaped = true,
                _ => token.push_index(self.input, self.pos - 1),
            }
        }
        match token.into_str_or_bytes(self.input, self.text) {
            Ok(value) => Ok(value),
            Err(bytes) => self.fail(format!("invalid label value {}", quote(&bytes))),
        }
    }

    fn run(&mut self) -> Step {
        loop {
            // Start of line.
            self.line += 1;
            self.inside_braces = false;
            self.inside_braces_name_seen = false;
            match self.skip_blank_tab() {
                Ok(()) => {}
                // The only place where the end of input is not an error.
                Err(Stop::Eof) => return Ok(()),
                Err(e) => return Err(e),
            }
            match self.cur {
                b'#' => self.comment()?,
                b'\n' => {}
                b'{' if self.utf8_names => {
                    self.inside_braces = true;
                    self.current = None;
                    self.reading_labels()?;
                }
                _ => self.sample()?,
            }
        }
    }

    /// A comment line; `cur` is the `#`. Returns with `cur` at the newline.
    fn comment(&mut self) -> Step {
        self.skip_blank_tab()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        let keyword = self.read_token_until_whitespace()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        let is_help = keyword == b"HELP";
        if !is_help && keyword != b"TYPE" {
            // A plain comment: skip to the end of the line.
            let rest = &self.input[self.pos..];
            return match memchr_newline(rest) {
                Some(i) => {
                    self.pos += i + 1;
                    self.cur = b'\n';
                    Ok(())
                }
                None => {
                    self.pos = self.input.len();
                    Err(Stop::Eof)
                }
            };
        }
        self.skip_blank_tab()?;
        let name = self.read_token_as_metric_name()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        if !is_blank_or_tab(self.cur) {
            return self.fail("invalid metric name in comment".into());
        }
        let family = self.set_or_create_current_family(name)?;
        self.skip_blank_tab()?;
        if self.cur == b'\n' {
            return Ok(());
        }
        if is_help {
            if self.families[family].family.help.is_some() {
                let name = quote(self.families[family].family.name.as_bytes());
                return self.fail(format!("second HELP line for metric name {name}"));
            }
            let text = self.read_token_until_newline(true)?;
            self.families[family].family.help = Some(text.into_str_lossy(self.input));
        } else {
            if self.families[family].type_set {
                let name = quote(self.families[family].family.name.as_bytes());
                return self.fail(format!(
                    "second TYPE line for metric name {name}, or TYPE reported after samples"
                ));
            }
            let token = self.read_token_until_newline(false)?;
            let bytes = token.bytes(self.input);
            let Some(metric_type) = type_from_token(bytes) else {
                return self.fail(format!("unknown metric type {}", quote(bytes)));
            };
            let state = &mut self.families[family];
            state.family.metric_type = metric_type;
            state.type_set = true;
        }
        Ok(())
    }

    /// Finds the family a name belongs to, creating it if needed, and makes
    /// it current. `_count`/`_sum`/`_bucket` names resolve to their summary
    /// or histogram when the base family is typed so.
    fn set_or_create_current_family(&mut self, name: Token) -> Step<usize> {
        self.is_summary_count = false;
        self.is_summary_sum = false;
        self.is_histogram_count = false;
        self.is_histogram_sum = false;
        // Fast path: the same family as the last exact match (whose name
        // was validated when it was created).
        if let Some(i) = self.last_exact {
            if !name.is_empty() && self.families[i].family.name.as_bytes() == name.bytes(self.input)
            {
                self.current = Some(i);
                return Ok(i);
            }
        }
        let name = match name.into_str_or_bytes(self.input, self.text) {
            Ok(name) if self.utf8_names && !name.is_empty() => name,
            Ok(name) if is_legacy_metric_name(&name) => name,
            Ok(name) => {
                return self.fail(format!("invalid metric name {}", quote(name.as_bytes())))
            }
            Err(bytes) => return self.fail(format!("invalid metric name {}", quote(&bytes))),
        };
        if let Some(&i) = self.by_name.get(name.as_ref()) {
            self.current = Some(i);
            self.last_exact = Some(i);
            return Ok(i);
        }
        if let Some(base) = strip_summary_suffix(&name) {
            if let Some(&i) = self.by_name.get(base) {
                if self.families[i].effective_type() == MetricType::Summary {
                    self.is_summary_count = name.ends_with("_count");
                    self.is_summary_sum = name.ends_with("_sum");
                    self.current = Some(i);
                    return Ok(i);
                }
            }
        }
        if let Some(base) = strip_histogram_suffix(&name) {
            if let Some(&i) = self.by_name.get(base) {
                if self.families[i].effective_type().is_histogram() {
                    self.is_histogram_count = name.ends_with("_count");
                    self.is_histogram_sum = name.ends_with("_sum");
                    self.current = Some(i);
                    return Ok(i);
                }
            }
        }
        let i = self.families.len();
        self.families.push(FamilyState {
            family: MetricFamily {
                name: name.clone(),
                help: None,
                metric_type: MetricType::Untyped,
                unit: None,
                metrics: Vec::new(),
            },
            type_set: false,
            by_signature: HashMap::default(),
        });
        self.by_name.insert(name, i);
        self.current = Some(i);
        self.last_exact = Some(i);
        Ok(i)
    }

    /// Fixes an unset family type to UNTYPED, as the first sample does.
    fn default_type(&mut self, family: usize) {
        let state = &mut self.families[family];
        if !state.type_set {
            state.family.metric_type = MetricType::Untyped;
            state.type_set = true;
        }
    }

    fn current_type(&self) -> MetricType {
        match self.current {
            Some(i) => self.families[i].effective_type(),
            None => MetricType::Counter,
        }
    }

    fn current_name_quoted(&self) -> String {
        match self.current {
            Some(i) => quote(self.families[i].family.name.as_bytes()),
            None => "\"\"".into(),
        }
    }

    /// A sample line whose first byte is `cur`.
    fn sample(&mut self) -> Step {
        if self.plain_lines && !self.utf8_names && self.plain_sample() {
            return Ok(());
        }
        let name = self.read_token_as_metric_name()?;
        if name.is_empty() {
            return self.fail("invalid metric name".into());
        }
        let family = self.set_or_create_current_family(name)?;
        self.default_type(family);
        self.labels.clear();
        self.skip_blank_tab_if_current_blank_tab()?;
        self.reading_labels()
    }

    /// A sample line in the plain form clients write, `name{a="b",c="d"} 1`
    /// (legacy names, no blanks inside the braces, no escapes, no
    /// timestamp) of a counter, gauge or untyped family, read in one pass.
    /// Anything else returns `false` with nothing consumed, and the general
    /// state machine reads the line (and words any error as Go does).
    fn plain_sample(&mut self) -> bool {
        let Some(text) = self.text else {
            return false;
        };
        if self.series >= self.max_series {
            // The general path says why.
            return false;
        }
        let bytes = self.input;
        let start = self.pos - 1;
        let line = &bytes[start..];
        let Some(newline) = memchr::memchr(b'\n', line) else {
            return false;
        };
        let line = &line[..newline];
        let name_end = match line.iter().position(|&b| !is_metric_name_continuation(b)) {
            Some(e) if e > 0 && is_metric_name_start(line[0]) => e,
            _ => return false,
        };
        let mut at = name_end;
        let mut labels: Vec<LabelPair<Cow<'a, str>>> = Vec::new();
        if line[at] == b'{' {
            at += 1;
            loop {
                if line.get(at) == Some(&b'}') && labels.is_empty() {
                    break;
                }
                let rest = &line[at..];
                let name_len = match rest.iter().position(|&b| !is_label_name_continuation(b)) {
                    Some(n) if n > 0 && is_label_name_start(rest[0]) => n,
                    _ => return false,
                };
                if rest.get(name_len..name_len + 2) != Some(b"=\"".as_slice()) {
                    return false;
                }
                let value_start = at + name_len + 2;
                let value_len = match line[value_start..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                {
                    Some(n) if line[value_start + n] == b'"' => n,
                    _ => return false,
                };
                let name = &text[start + at..start + at + name_len];
                if name == "__name__" || labels.iter().any(|l| l.name == name) {
                    return false;
                }
                let value = &text[start + value_start..start + value_start + value_len];
                labels.push(LabelPair {
                    name: Cow::Borrowed(name),
                    value: Cow::Borrowed(value),
                });
                at = value_start + value_len + 1;
                match line.get(at) {
                    Some(b',') if line.get(at + 1) != Some(&b'}') => at += 1,
                    Some(b'}') => break,
                    _ => return false,
                }
            }
            at += 1;
        }
        // One or more blanks, then the value up to the end of the line.
        let blanks = line[at..]
            .iter()
            .take_while(|&&b| is_blank_or_tab(b))
            .count();
        if blanks == 0 {
            return false;
        }
        let value = &text[start + at + blanks..start + newline];
        if value.is_empty() || value.bytes().any(is_blank_or_tab) {
            return false;
        }
        let Some(v) = parse_float(value) else {
            return false;
        };
        let Ok(family) = self.set_or_create_current_family(Token {
            start,
            end: start + name_end,
            owned: None,
        }) else {
            return false;
        };
        self.default_type(family);
        let value = match self.families[family].effective_type() {
            MetricType::Counter => Value::Counter(Counter {
                value: v,
                ..Counter::default()
            }),
            MetricType::Gauge => Value::Gauge(v),
            MetricType::Untyped => Value::Untyped(v),
            // Summaries and histograms gather lines: the general path.
            _ => return false,
        };
        self.series += 1;
        self.families[family].family.metrics.push(Metric {
            labels,
            value,
            timestamp_ms: None,
        });
        self.pos = start + newline + 1;
        self.cur = b'\n';
        true
    }

    /// `cur` is `{` or the first byte of the value.
    fn reading_labels(&mut self) -> Step {
        let t = self.current_type();
        self.labels.clear();
        if t == MetricType::Summary || t.is_histogram() {
            self.signature.clear();
            self.current_quantile = f64::NAN;
            self.current_bucket = f64::NAN;
        }
        if self.cur != b'{' {
            return self.reading_value();
        }
        loop {
            // Start of a label name.
            self.skip_blank_tab()?;
            if self.cur == b'}' {
                if self.current.is_none() {
                    return self.fail("invalid metric name".into());
                }
                self.skip_blank_tab()?;
                return self.reading_value();
            }
            let name = self.read_token_as_label_name()?;
            if name.is_empty() {
                let family = self.current_name_quoted();
                return self.fail(format!("invalid label name for metric {family}"));
            }
            self.skip_blank_tab_if_current_blank_tab()?;
            if self.cur != b'=' {
                if self.inside_braces {
                    if self.inside_braces_name_seen {
                        let family = self.current_name_quoted();
                        return self.fail(format!("multiple metric names for metric {family}"));
                    }
                    match self.cur {
                        b',' | b'}' => {
                            let closing = self.cur == b'}';
                            let family = self.set_or_create_current_family(name)?;
                            self.default_type(family);
                            self.inside_braces_name_seen = true;
                            if closing {
                                self.skip_blank_tab()?;
                                return self.reading_value();
                            }
                            continue;
                        }
                        other => {
                            return self.fail(format!(
                                "unexpected end of metric name {}",
                                quote_byte(other)
                            ))
                        }
                    }
                }
                return self.fail(format!(
                    "expected '=' after label name, found {}",
                    quote_byte(self.cur)
                ));
            }
            let name = match name.into_str_or_bytes(self.input, self.text) {
                Ok(name) => name,
                Err(bytes) => return self.fail(format!("invalid label name {}", quote(&bytes))),
            };
            if name == "__name__" {
                return self.fail("label name \"__name__\" is reserved".into());
            }
            let t = self.current_type();
            let is_quantile = t == MetricType::Summary && name == "quantile";
            let is_le = t.is_histogram() && name == "le";
            if !is_quantile && !is_le && self.is_duplicate_label(&name) {
                let family = self.current_name_quoted();
                return self.fail(format!("duplicate label names for metric {family}"));
            }
            // Start of the label value.
            self.skip_blank_tab()?;
            if self.cur != b'"' {
                return self.fail(format!(
                    "expected '\"' at start of label value, found {}",
                    quote_byte(self.cur)
                ));
            }
            let value = self.read_label_value()?;
            // Go quotes the label value just read in "unexpected end of
            // label value"; `quantile` and `le` values are not kept in
            // `labels`, so remember theirs.
            let mut special_value = None;
            if is_quantile {
                match parse_float(&value) {
                    Some(q) => {
                        self.current_quantile = q;
                        special_value = Some(value);
                    }
                    None => {
                        return self.fail(format!(
                            "expected float as value for 'quantile' label, got {}",
                            quote(value.as_bytes())
                        ))
                    }
                }
            } else if is_le {
                match parse_float(&value) {
                    Some(b) => {
                        self.current_bucket = b;
                        special_value = Some(value);
                    }
                    None => {
                        return self.fail(format!(
                            "expected float as value for 'le' label, got {}",
                            quote(value.as_bytes())
                        ))
                    }
                }
            } else {
                if t == MetricType::Summary || t.is_histogram() {
                    self.signature.push((name.clone(), value.clone()));
                }
                self.labels.push(LabelPair { name, value });
            }
            self.skip_blank_tab()?;
            match self.cur {
                b',' => continue,
                b'}' => {
                    if self.current.is_none() {
                        return self.fail("invalid metric name".into());
                    }
                    self.skip_blank_tab()?;
                    return self.reading_value();
                }
                _ => {
                    let last = match &special_value {
                        Some(v) => v.as_bytes(),
                        None => self.labels.last().map_or(&b""[..], |l| l.value.as_bytes()),
                    };
                    return self.fail(format!("unexpected end of label value {}", quote(last)));
                }
            }
        }
    }

    /// `cur` is the first byte of the value.
    fn reading_value(&mut self) -> Step {
        let Some(family) = self.current else {
            return self.fail("invalid metric name".into());
        };
        let t = self.families[family].effective_type();
        let capacity = self.labels.len();
        let labels = std::mem::replace(&mut self.labels, Vec::with_capacity(capacity));
        let metric_index = if t == MetricType::Summary || t.is_histogram() {
            let mut key = std::mem::take(&mut self.signature);
            key.sort_unstable();
            let state = &mut self.families[family];
            match state.by_signature.get(&key) {
                Some(&i) => i,
                None => {
                    self.count_series()?;
                    let state = &mut self.families[family];
                    let i = state.family.metrics.len();
                    let value = if t == MetricType::Summary {
                        Value::Summary(Summary::default())
                    } else {
                        Value::Histogram(Box::default())
                    };
                    state.family.metrics.push(Metric {
                        labels,
                        value,
                        timestamp_ms: None,
                    });
                    state.by_signature.insert(key, i);
                    i
                }
            }
        } else {
            self.count_series()?;
            let metrics = &mut self.families[family].family.metrics;
            metrics.push(Metric {
                labels,
                value: Value::Missing,
                timestamp_ms: None,
            });
            metrics.len() - 1
        };
        let token = self.read_token_until_whitespace()?;
        let parsed = std::str::from_utf8(token).ok().and_then(parse_float);
        let Some(v) = parsed else {
            return self.fail(format!("expected float as value, got {}", quote(token)));
        };
        let (is_summary_count, is_summary_sum) = (self.is_summary_count, self.is_summary_sum);
        let (is_histogram_count, is_histogram_sum) =
            (self.is_histogram_count, self.is_histogram_sum);
        let (quantile, bucket) = (self.current_quantile, self.current_bucket);
        let state = &mut self.families[family];
        let family_name = &state.family.name;
        let metric = &mut state.family.metrics[metric_index];
        match (t, &mut metric.value) {
            (MetricType::Counter, value) => {
                *value = Value::Counter(Counter {
                    value: v,
                    ..Counter::default()
                })
            }
            (MetricType::Gauge, value) => *value = Value::Gauge(v),
            (MetricType::Untyped, value) => *value = Value::Untyped(v),
            (MetricType::Summary, Value::Summary(s)) => {
                if is_summary_count {
                    s.sample_count = go_f64_to_u64(v);
                } else if is_summary_sum {
                    s.sample_sum = v;
                } else if !quantile.is_nan() {
                    s.quantiles.push(Quantile { quantile, value: v });
                }
            }
            (_, Value::Histogram(h)) => {
                if is_histogram_count {
                    let as_int = go_f64_to_u64(v);
                    if v == as_int as f64 {
                        h.sample_count = Some(as_int);
                    } else if v < 0.0 {
                        let name = quote(family_name.as_bytes());
                        return Err(Stop::Error(
                            self.error(format!("negative count for histogram {name}")),
                        ));
                    } else {
                        h.sample_count_float = Some(v);
                    }
                } else if is_histogram_sum {
                    h.sample_sum = Some(v);
                } else if !bucket.is_nan() {
                    let mut b = Bucket {
                        upper_bound: bucket,
                        ..Bucket::default()
                    };
                    let as_int = go_f64_to_u64(v);
                    if v == as_int as f64 {
                        b.cumulative_count = Some(as_int);
                    } else if v < 0.0 {
                        let name = quote(family_name.as_bytes());
                        let message = format!("negative bucket population for histogram {name}");
                        return Err(Stop::Error(self.error(message)));
                    } else {
                        b.cumulative_count_float = Some(v);
                    }
                    h.buckets.push(b);
                }
            }
            // Summary/histogram metrics are created with their value shape.
            _ => {}
        }
        if self.cur == b'\n' {
            return Ok(());
        }
        // Start of the timestamp.
        self.skip_blank_tab()?;
        let token = self.read_token_until_whitespace()?;
        let Some(ts) = std::str::from_utf8(token).ok().and_then(parse_int64) else {
            return self.fail(format!(
                "expected integer as timestamp, got {}",
                quote(token)
            ));
        };
        self.families[family].family.metrics[metric_index].timestamp_ms = Some(ts);
        let rest = self.read_token_until_newline(false)?;
        if !rest.is_empty() {
            let text = quote(rest.bytes(self.input));
            return self.fail(format!("spurious string after timestamp: {text}"));
        }
        Ok(())
    }

    /// Drops families without samples and makes float histograms
    /// consistently float, as Go does after parsing.
    fn finish(self) -> ParsedFamilies<'a> {
        self.families
            .into_iter()
            .filter(|s| !s.family.metrics.is_empty())
            .map(|mut s| {
                for m in &mut s.family.metrics {
                    if let Value::Histogram(h) = &mut m.value {
                        normalize_float_histogram(h);
                    }
                }
                s.family
            })
            .collect()
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

/// If any count of a histogram is a float, turns every count into a float.
fn normalize_float_histogram<S>(h: &mut Histogram<S>) {
    let any_float = h.sample_count_float.is_some_and(|f| f != 0.0)
        || h.buckets
            .iter()
            .any(|b| b.cumulative_count_float.is_some_and(|f| f != 0.0));
    if !any_float {
        return;
    }
    if h.sample_count_float.unwrap_or(0.0) == 0.0 {
        h.sample_count_float = Some(h.sample_count.take().unwrap_or(0) as f64);
    }
    for b in &mut h.buckets {
        if b.cumulative_count_float.unwrap_or(0.0) == 0.0 {
            b.cumulative_count_float = Some(b.cumulative_count.take().unwrap_or(0) as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_first_series_beyond_the_limit() {
        let at_most = |n| ParseOptions {
            max_series: Some(n),
            ..ParseOptions::default()
        };
        let body = b"a 1\nb{x=\"1\"} 2\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\nc 4\n";
        // A histogram's lines are one series.
        assert_eq!(parse_text_with(body, at_most(4)).unwrap().len(), 4);
        assert_eq!(
            parse_text_with(body, at_most(3)).unwrap_err(),
            Error::TooManySeries { limit: 3 }
        );
        assert_eq!(
            parse_text_with(body, at_most(1)).unwrap_err(),
            Error::TooManySeries { limit: 1 }
        );
        // Stopping early costs nothing after the limit: the rest of a
        // body is never looked at, however broken.
        let mut huge = b"m 1\nm2 2\n".to_vec();
        huge.extend_from_slice(b"this is not { a sample\n");
        assert_eq!(
            parse_text_with(&huge, at_most(1)).unwrap_err(),
            Error::TooManySeries { limit: 1 }
        );
    }

    /// Parses with the plain-line shortcut off: only the general path.
    fn parse_general(input: &[u8]) -> Result<ParsedFamilies<'_>, Error> {
        let mut parser = Parser::new(input, ParseOptions::default());
        parser.plain_lines = false;
        run_parser(parser)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn plain_lines_read_as_the_general_path_reads_them(
            lines in proptest::collection::vec((0usize..8, 0usize..12, 0usize..12, 0usize..3), 1..8)
        ) {
            const HEADS: &[&str] = &["", "# TYPE a summary\n", "# TYPE a histogram\n",
                "# TYPE a counter\n", "# TYPE b gauge\n", "# HELP a x\n", "\n", "  "];
            const NAMES: &[&str] = &["a", "a_count", "a_sum", "a_bucket", "b", "b:c", "_x", "1x",
                "a_total", "b", "a", "c d"];
            const LABELS: &[&str] = &["", "{l=\"v\"}", "{l=\"v\",m=\"w\"}", "{l=\"v\",}",
                "{ l=\"v\"}", "{l=\"v\\\"x\"}", "{}", "{__name__=\"x\"}", "{l=\"1\",l=\"2\"}",
                "{le=\"1\"}", "{quantile=\"0.5\"}", "{l=\"\u{e9}\"}"];
            const VALUES: &[&str] = &[" 1", " -2", " 1.5e3", " NaN", " +Inf", " x", "  3", "\t4",
                " 5 123", " 6 ", "7", " 0x10"];
            let mut body = String::new();
            for (i, (h, n, l, v)) in lines.iter().enumerate() {
                body.push_str(HEADS[*h]);
                body.push_str(NAMES[*n]);
                body.push_str(LABELS[*l]);
                body.push_str(VALUES[(*v + i) % VALUES.len()]);
                body.push('\n');
            }
            for cut in [body.len(), body.len() - 1] {
                let input = &body.as_bytes()[..cut];
                let fast = format!("{:?}", parse_text(input));
                let general = format!("{:?}", parse_general(input));
                proptest::prop_assert_eq!(fast, general, "{:?}", std::str::from_utf8(input));
            }
        }
    }

    fn err(input: &str) -> String {
        parse_text(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_simple_family() {
        let fams =
            parse_text(b"# HELP a Some help.\n# TYPE a counter\na{x=\"1\",y=\"2\"} 3\n").unwrap();
        assert_eq!(fams.len(), 1);
        let f = &fams[0];
        assert_eq!(f.name, "a");
        assert_eq!(f.help.as_deref(), Some("Some help."));
        assert_eq!(f.metric_type, MetricType::Counter);
        assert_eq!(f.metrics[0].labels.len(), 2);
        assert!(matches!(&f.metrics[0].value, Value::Counter(c) if c.value == 3.0));
        assert!(matches!(f.metrics[0].labels[0].value, Cow::Borrowed("1")));
    }

    #[test]
    fn messages_name_the_line() {
        assert_eq!(
            err("a 1\nb 2\nc 1\r\n"),
            "text format parsing error in line 3: expected float as value, got \"1\\r\""
        );
        assert_eq!(
            err("nonl 1"),
            "text format parsing error in line 1: unexpected end of input stream"
        );
        assert_eq!(
            err("a 1 \n"),
            "text format parsing error in line 1: expected integer as timestamp, got \"\""
        );
        assert_eq!(
            err("# TYPE x gauge\n# TYPE x gauge\n"),
            "text format parsing error in line 2: second TYPE line for metric name \"x\", or TYPE reported after samples"
        );
        assert_eq!(
            err("m{a=\"1\",a=\"2\"} 1\n"),
            "text format parsing error in line 1: duplicate label names for metric \"m\""
        );
        assert_eq!(
            err("m{__name__=\"x\"} 1\n"),
            "text format parsing error in line 1: label name \"__name__\" is reserved"
        );
    }

    #[test]
    fn escapes_in_label_values_and_help() {
        let fams = parse_text(b"# HELP m a\\\\b\\nc\\\"\nm{l=\"x\\\"y\\\\z\\n\"} 1\n").unwrap();
        assert_eq!(fams[0].help.as_deref(), Some("a\\b\nc\""));
        assert_eq!(fams[0].metrics[0].labels[0].value, "x\"y\\z\n");
    }

    #[test]
    fn folds_summaries_and_histograms_only_when_typed() {
        let fams =
            parse_text(b"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\nh_count 1\n")
                .unwrap();
        assert_eq!(fams.len(), 2);
        let Value::Summary(s) = &fams[0].metrics[0].value else {
            panic!()
        };
        assert_eq!((s.sample_count, s.sample_sum), (3, 2.0));
        assert_eq!(
            s.quantiles,
            vec![Quantile {
                quantile: 0.5,
                value: 1.0
            }]
        );
        assert_eq!(fams[1].name, "h_count");
        assert_eq!(fams[1].metric_type, MetricType::Untyped);
    }

    #[test]
    fn many_labels_stay_linear_and_duplicates_are_found() {
        let labels: Vec<String> = (0..5000).map(|i| format!("l{i}=\"v\"")).collect();
        let line = format!("m{{{}}} 1\n", labels.join(","));
        assert_eq!(
            parse_text(line.as_bytes()).unwrap()[0].metrics[0]
                .labels
                .len(),
            5000
        );
        let dup = format!(
            "m{{{},l7=\"x\"}} 1\nm{{{}}} 1\n",
            labels.join(","),
            labels[..20].join(",")
        );
        assert_eq!(
            parse_text(dup.as_bytes()).unwrap_err().to_string(),
            "text format parsing error in line 1: duplicate label names for metric \"m\""
        );
        let two_lines = format!(
            "m{{{}}} 1\nm{{{}}} 2\n",
            labels[..17].join(","),
            labels[..17].join(",")
        );
        assert_eq!(
            parse_text(two_lines.as_bytes()).unwrap()[0].metrics.len(),
            2
        );
    }

    #[test]
    fn quoted_names_only_in_utf8_mode() {
        let input = b"{\"my.metric\",\"dotted.label\"=\"v\"} 42\n";
        assert_eq!(
            parse_text(input).unwrap_err().to_string(),
            "text format parsing error in line 1: invalid metric name"
        );
        let fams = parse_text_with(
            input,
            ParseOptions {
                names: NameValidation::Utf8,
                ..ParseOptions::default()
            },
        )
        .unwrap();
        assert_eq!(fams[0].name, "my.metric");
        assert_eq!(fams[0].metrics[0].labels[0].name, "dotted.label");
    }

    /// Answers of Debian's Go Pushgateway 1.5.1 to the same bodies.
    #[test]
    fn backslashes_outside_escapes_are_dropped_as_in_go() {
        let fams = parse_text(b"# TYPE x gau\\ge\nx 1\n").unwrap();
        assert_eq!(fams[0].metric_type, MetricType::Gauge);
        assert_eq!(
            err("a 1 2 \\\n"),
            "text format parsing error in line 1: spurious string after timestamp: \" \""
        );
    }

    #[test]
    fn unexpected_end_of_label_value_quotes_the_value_just_read() {
        assert_eq!(
            err("# TYPE h histogram\nh_bucket{le=\"1\" x=\"y\"} 1\n"),
            "text format parsing error in line 2: unexpected end of label value \"1\""
        );
        assert_eq!(
            err("h{a=\"q\",b=\"1\" x=\"y\"} 1\n"),
            "text format parsing error in line 1: unexpected end of label value \"1\""
        );
    }
}
