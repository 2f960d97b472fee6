//! Import of the Go Pushgateway's persistence file, so that our binary can
//! replace Go's in place and keep the pushed groups.
//!
//! This module owns the Go `encoding/gob` wire format (messages, type
//! definitions and values) and the mapping of the one value in that file,
//! `map[K]MetricGroup`, onto [`GoGroup`]s. Rebuilding stored groups from
//! them is the persistence module's job (`import_go_groups`); the next snapshot replaces the
//! file in our own format.
//!
//! Go writes `MetricGroup{Labels map[string]string; Metrics
//! map[string]TimestampedMetricFamily}` with `TimestampedMetricFamily{
//! Timestamp time.Time; GobbableMetricFamily *GobbableMetricFamily}`; both
//! of the latter are GobEncoders (`time.Time.MarshalBinary` and
//! `proto.Marshal` of the `dto.MetricFamily`). The type descriptors in the
//! stream differ between versions: the map key was a `uint64` hash before
//! 1.0 and is a string since, the ids move, and Go also describes the
//! protobuf structs behind the GobEncoder (whose fields follow the
//! generated code of the day) although no value of them is ever sent. So
//! nothing here depends on a layout: every definition is parsed, values
//! are walked by their declared types, struct fields are matched by name
//! as Go matches them, and anything else is skipped.
//!
//! The file is untrusted input: every count and length is checked against
//! the bytes left before anything is allocated or looped over, nesting is
//! capped, and every error names the byte offset and what was expected.

use std::collections::{BTreeMap, HashMap};

use super::codec::{SEGMENT_MAGIC, SNAPSHOT_MAGIC};

/// One grouping key's families, as the Go gateway persisted them.
#[derive(Debug)]
pub(crate) struct GoGroup {
    /// The grouping labels, sorted by name.
    pub(crate) labels: Vec<(String, String)>,
    /// The families, sorted by name (the push-time gauges among them).
    pub(crate) families: Vec<GoFamily>,
}

/// One family of a [`GoGroup`].
#[derive(Debug)]
pub(crate) struct GoFamily {
    /// The name the family is filed under.
    pub(crate) name: String,
    /// When the push that stored it arrived.
    pub(crate) pushed_at_unix_nanos: i64,
    /// The family as a `dto.MetricFamily` protobuf message.
    pub(crate) proto: Vec<u8>,
}

/// Why a file could not be read: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GobError {
    /// Byte offset in the file.
    pub(crate) offset: usize,
    /// What was wrong.
    pub(crate) message: String,
}

impl std::fmt::Display for GobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for GobError {}

type Result<T> = std::result::Result<T, GobError>;

/// Type ids below this are gob's own; Go refuses to have them redefined.
const FIRST_USER_ID: i64 = 64;
/// Deeper values than this are refused, so a hostile recursive type
/// cannot exhaust the stack.
const MAX_DEPTH: u32 = 100;
/// Seconds from 0001-01-01 (Go's internal epoch) to 1970-01-01.
const UNIX_TO_INTERNAL: i128 = 62_135_596_800;
/// Pre-allocation cap: counts are checked against the input, but one
/// input byte may become a much larger item.
const MAX_PREALLOC: usize = 1024;

/// Whether `head` (the start of a file) looks like a gob stream as Go's
/// `Encoder` starts one: a message defining a user type. Cheap, and never
/// true for our own snapshot or journal files.
pub(crate) fn looks_like_gob(head: &[u8]) -> bool {
    if head.starts_with(SNAPSHOT_MAGIC) || head.starts_with(SEGMENT_MAGIC) {
        return false;
    }
    let mut r = Reader::new(head);
    let (Ok(length), Ok(id), Ok(kind), Ok(first)) = (
        r.uint("a message length"),
        r.int("a type id"),
        r.uint("a wireType field"),
        r.uint("a CommonType field"),
    ) else {
        return false;
    };
    // A definition (negative id) of a user type, of one of the seven kinds
    // of wireType, starting with its CommonType's name or id.
    length > 0 && id <= -FIRST_USER_ID && (1..=7).contains(&kind) && (first == 1 || first == 2)
}

/// Decodes a whole Go persistence file.
pub(crate) fn decode_go_file(bytes: &[u8]) -> Result<Vec<GoGroup>> {
    Decoder {
        r: Reader::new(bytes),
        types: HashMap::new(),
    }
    .file()
}

/// A cursor over the file, limited to the message being read.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            end: data.len(),
        }
    }

    fn left(&self) -> usize {
        self.end - self.pos
    }

    fn scope(&self) -> &'static str {
        if self.end == self.data.len() {
            "the file"
        } else {
            "the message"
        }
    }

    fn fail(&self, offset: usize, message: impl Into<String>) -> GobError {
        GobError {
            offset,
            message: message.into(),
        }
    }

    /// An unsigned integer: one byte below 128, else a byte holding the
    /// negated length of the big-endian value that follows.
    fn uint(&mut self, what: &str) -> Result<u64> {
        let at = self.pos;
        if self.pos >= self.end {
            return Err(self.fail(
                at,
                format!("expected {what}, found the end of {}", self.scope()),
            ));
        }
        let b = self.data[self.pos];
        self.pos += 1;
        if b < 0x80 {
            return Ok(u64::from(b));
        }
        let n = usize::from((b as i8).unsigned_abs());
        if n > 8 {
            return Err(self.fail(
                at,
                format!("expected {what}, found byte {b:#04x}, which is no integer length"),
            ));
        }
        if n > self.left() {
            return Err(self.fail(
                at,
                format!(
                    "expected {what}: its {n} bytes run past the end of {}",
                    self.scope()
                ),
            ));
        }
        let value = self.data[self.pos..self.pos + n]
            .iter()
            .fold(0u64, |v, &x| v << 8 | u64::from(x));
        self.pos += n;
        Ok(value)
    }

    /// A signed integer: the low bit of the unsigned one says whether to
    /// complement the rest.
    fn int(&mut self, what: &str) -> Result<i64> {
        let u = self.uint(what)?;
        let magnitude = (u >> 1) as i64;
        Ok(if u & 1 == 1 { !magnitude } else { magnitude })
    }

    /// A count of items of at least `min_size` bytes each, refused when
    /// the bytes left cannot hold that many.
    fn count(&mut self, what: &str, min_size: usize) -> Result<usize> {
        let at = self.pos;
        let n = self.uint(what)?;
        let left = self.left();
        match usize::try_from(n) {
            Ok(n) if n <= left / min_size => Ok(n),
            _ => Err(self.fail(
                at,
                format!(
                    "expected {what}: {n} does not fit in the {left} bytes left in {}",
                    self.scope()
                ),
            )),
        }
    }

    /// A length-prefixed byte string (strings, `[]byte`, GobEncoder data).
    fn bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        let n = self.count(what, 1)?;
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let at = self.pos;
        let b = self.bytes(what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(self.fail(at, format!("expected {what} in UTF-8, found other bytes"))),
        }
    }
}

/// Steps through the fields present in a struct value: each is announced
/// by the (positive) difference from the previous field number, starting
/// from -1; a zero ends the struct.
struct Fields {
    last: i64,
    count: usize,
}

impl Fields {
    fn new(count: usize) -> Fields {
        Fields { last: -1, count }
    }

    /// The next field number present, or `None` at the end of the struct.
    fn next(&mut self, r: &mut Reader<'_>, what: &str) -> Result<Option<usize>> {
        let at = r.pos;
        let delta = r.uint(what)?;
        if delta == 0 {
            return Ok(None);
        }
        // `last + delta` must name one of the fields; compared without
        // overflow.
        let room = (self.count as i64 - 1 - self.last) as u64;
        if delta > room {
            return Err(r.fail(
                at,
                format!(
                    "expected {what}: {delta} after field {} passes the last of the {} fields",
                    self.last, self.count
                ),
            ));
        }
        self.last += delta as i64;
        Ok(Some(self.last as usize))
    }
}

/// Gob's predefined types (ids 1 to 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basic {
    Bool,
    Int,
    Uint,
    Float,
    Bytes,
    String,
    Complex,
    Interface,
}

impl Basic {
    fn from_id(id: i64) -> Option<Basic> {
        Some(match id {
            1 => Basic::Bool,
            2 => Basic::Int,
            3 => Basic::Uint,
            4 => Basic::Float,
            5 => Basic::Bytes,
            6 => Basic::String,
            7 => Basic::Complex,
            8 => Basic::Interface,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Basic::Bool => "bool",
            Basic::Int => "int",
            Basic::Uint => "uint",
            Basic::Float => "float",
            Basic::Bytes => "[]byte",
            Basic::String => "string",
            Basic::Complex => "complex",
            Basic::Interface => "interface",
        }
    }
}

const STRING_ID: i64 = 6;

/// A type the stream defined.
#[derive(Debug)]
struct Defined {
    name: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Array {
        elem: i64,
        len: u64,
    },
    Slice {
        elem: i64,
    },
    Struct {
        fields: Vec<Field>,
    },
    Map {
        key: i64,
        elem: i64,
    },
    /// GobEncoder, BinaryMarshaler or TextMarshaler: opaque bytes.
    Encoded,
}

#[derive(Debug)]
struct Field {
    name: String,
    id: i64,
}

/// How to walk a value of some type; copied out of the type table so the
/// table can grow (interface values may define types) while walking.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Basic(Basic),
    Array { elem: i64, len: u64 },
    Slice { elem: i64 },
    Struct { id: i64, fields: usize },
    Map { key: i64, elem: i64 },
    Encoded,
}

/// Where the fields the import needs sit in Go's `MetricGroup`.
struct GroupLayout {
    id: i64,
    fields: usize,
    labels: Option<usize>,
    metrics: Option<(usize, FamilyLayout)>,
}

/// Where the fields the import needs sit in Go's `TimestampedMetricFamily`.
struct FamilyLayout {
    id: i64,
    fields: usize,
    timestamp: Option<usize>,
    family: usize,
}

struct Decoder<'a> {
    r: Reader<'a>,
    types: HashMap<i64, Defined>,
}

impl Decoder<'_> {
    fn fail(&self, offset: usize, message: impl Into<String>) -> GobError {
        self.r.fail(offset, message)
    }

    /// The message loop: type definitions, each in a message of its own,
    /// until the message carrying the value. Go decodes that one value and
    /// reads no further, so neither do we.
    fn file(&mut self) -> Result<Vec<GoGroup>> {
        let mut definitions = 0usize;
        loop {
            let at = self.r.pos;
            if at == self.r.data.len() {
                return Err(self.fail(
                    at,
                    if definitions == 0 {
                        "expected a gob message, found an empty file".to_string()
                    } else {
                        format!("expected the value after {definitions} type definitions, found the end of the file (truncated)")
                    },
                ));
            }
            let length = self.r.count("a message length", 1)?;
            if length == 0 {
                return Err(self.fail(at, "expected a message, found one of length 0"));
            }
            let end = self.r.pos + length;
            self.r.end = end;
            let id_at = self.r.pos;
            let id = self.r.int("a type id")?;
            if id >= 0 {
                return self.top_value(id, id_at);
            }
            self.definition(id, id_at)?;
            if self.r.pos != end {
                return Err(self.fail(
                    self.r.pos,
                    format!(
                        "expected the end of the type definition message, found {} more bytes",
                        end - self.r.pos
                    ),
                ));
            }
            self.r.end = self.r.data.len();
            definitions += 1;
        }
    }

    /// Reads a type definition for `-negative_id` (a `wireType` value).
    fn definition(&mut self, negative_id: i64, at: usize) -> Result<()> {
        let Some(id) = negative_id.checked_neg() else {
            return Err(self.fail(at, "expected a type id, found one out of range"));
        };
        if id < FIRST_USER_ID {
            return Err(self.fail(
                at,
                format!("expected a user type id (64 or more) to define, found {id}, which is gob's own"),
            ));
        }
        if self.types.contains_key(&id) {
            return Err(self.fail(
                at,
                format!("expected each type id to be defined once, found {id} defined twice"),
            ));
        }
        let defined = self.wire_type()?;
        self.types.insert(id, defined);
        Ok(())
    }

    /// `wireType{ArrayT, SliceT, StructT, MapT, GobEncoderT,
    /// BinaryMarshalerT, TextMarshalerT}`, exactly one of them set.
    fn wire_type(&mut self) -> Result<Defined> {
        let start = self.r.pos;
        let mut found: Option<Defined> = None;
        let mut fields = Fields::new(7);
        while let Some(n) = fields.next(&mut self.r, "a field of a type definition (wireType)")? {
            let defined = match n {
                0 => self.array_type()?,
                1 => self.slice_type()?,
                2 => self.struct_type()?,
                3 => self.map_type()?,
                _ => self.encoder_type()?,
            };
            if found.is_some() {
                return Err(self.fail(
                    start,
                    "expected a type definition of one kind, found one describing more than one type",
                ));
            }
            found = Some(defined);
        }
        found.ok_or_else(|| {
            self.fail(
                start,
                "expected a type definition, found one describing no type",
            )
        })
    }

    /// `CommonType{Name, Id}`; the id repeated inside is not trusted (Go
    /// writes the underlying struct's id there for GobEncoder types).
    fn common_type(&mut self) -> Result<String> {
        let mut name = String::new();
        let mut fields = Fields::new(2);
        while let Some(n) = fields.next(&mut self.r, "a field of CommonType")? {
            match n {
                0 => name = String::from_utf8_lossy(self.r.bytes("a type name")?).into_owned(),
                _ => {
                    self.r.int("a type id")?;
                }
            }
        }
        Ok(name)
    }

    fn type_id(&mut self, what: &str) -> Result<i64> {
        self.r.int(what)
    }

    /// `arrayType{CommonType, Elem, Len}`.
    fn array_type(&mut self) -> Result<Defined> {
        let (mut name, mut elem, mut len) = (String::new(), 0, 0);
        let mut fields = Fields::new(3);
        while let Some(n) = fields.next(&mut self.r, "a field of arrayType")? {
            match n {
                0 => name = self.common_type()?,
                1 => elem = self.type_id("the element type id of an array")?,
                _ => {
                    let at = self.r.pos;
                    let n = self.r.int("the length of an array type")?;
                    len = u64::try_from(n).map_err(|_| {
                        self.fail(at, format!("expected an array length, found {n}"))
                    })?;
                }
            }
        }
        Ok(Defined {
            name,
            kind: Kind::Array { elem, len },
        })
    }

    /// `sliceType{CommonType, Elem}`.
    fn slice_type(&mut self) -> Result<Defined> {
        let (mut name, mut elem) = (String::new(), 0);
        let mut fields = Fields::new(2);
        while let Some(n) = fields.next(&mut self.r, "a field of sliceType")? {
            match n {
                0 => name = self.common_type()?,
                _ => elem = self.type_id("the element type id of a slice")?,
            }
        }
        Ok(Defined {
            name,
            kind: Kind::Slice { elem },
        })
    }

    /// `structType{CommonType, Field []fieldType{Name, Id}}`.
    fn struct_type(&mut self) -> Result<Defined> {
        let mut name = String::new();
        let mut list = Vec::new();
        let mut fields = Fields::new(2);
        while let Some(n) = fields.next(&mut self.r, "a field of structType")? {
            match n {
                0 => name = self.common_type()?,
                _ => {
                    let count = self.r.count("the number of fields of a struct type", 1)?;
                    list = Vec::with_capacity(count.min(MAX_PREALLOC));
                    for _ in 0..count {
                        let mut field = Field {
                            name: String::new(),
                            id: 0,
                        };
                        let mut inner = Fields::new(2);
                        while let Some(n) = inner.next(&mut self.r, "a field of fieldType")? {
                            match n {
                                0 => {
                                    field.name =
                                        String::from_utf8_lossy(self.r.bytes("a field name")?)
                                            .into_owned()
                                }
                                _ => field.id = self.type_id("the type id of a struct field")?,
                            }
                        }
                        list.push(field);
                    }
                }
            }
        }
        Ok(Defined {
            name,
            kind: Kind::Struct { fields: list },
        })
    }

    /// `mapType{CommonType, Key, Elem}`.
    fn map_type(&mut self) -> Result<Defined> {
        let (mut name, mut key, mut elem) = (String::new(), 0, 0);
        let mut fields = Fields::new(3);
        while let Some(n) = fields.next(&mut self.r, "a field of mapType")? {
            match n {
                0 => name = self.common_type()?,
                1 => key = self.type_id("the key type id of a map")?,
                _ => elem = self.type_id("the element type id of a map")?,
            }
        }
        Ok(Defined {
            name,
            kind: Kind::Map { key, elem },
        })
    }

    /// `gobEncoderType{CommonType}`.
    fn encoder_type(&mut self) -> Result<Defined> {
        let mut name = String::new();
        let mut fields = Fields::new(1);
        while fields
            .next(&mut self.r, "a field of gobEncoderType")?
            .is_some()
        {
            name = self.common_type()?;
        }
        Ok(Defined {
            name,
            kind: Kind::Encoded,
        })
    }

    /// What type `id` is, for a value starting at `at`.
    fn shape(&self, id: i64, at: usize) -> Result<Shape> {
        if let Some(basic) = Basic::from_id(id) {
            return Ok(Shape::Basic(basic));
        }
        let Some(defined) = self.types.get(&id) else {
            return Err(self.fail(
                at,
                if (0..FIRST_USER_ID).contains(&id) {
                    format!("expected a value of a data type, found type id {id}, which is gob's own")
                } else {
                    format!("expected a value of a defined type, found type id {id}, which was never defined")
                },
            ));
        };
        Ok(match &defined.kind {
            Kind::Array { elem, len } => Shape::Array {
                elem: *elem,
                len: *len,
            },
            Kind::Slice { elem } => Shape::Slice { elem: *elem },
            Kind::Struct { fields } => Shape::Struct {
                id,
                fields: fields.len(),
            },
            Kind::Map { key, elem } => Shape::Map {
                key: *key,
                elem: *elem,
            },
            Kind::Encoded => Shape::Encoded,
        })
    }

    /// A type for messages: its name, else what kind it is.
    fn describe(&self, id: i64) -> String {
        if let Some(basic) = Basic::from_id(id) {
            return basic.name().to_string();
        }
        match self.types.get(&id) {
            None => format!("undefined type {id}"),
            Some(d) if !d.name.is_empty() => d.name.clone(),
            Some(d) => match d.kind {
                Kind::Array { .. } => "an array",
                Kind::Slice { .. } => "a slice",
                Kind::Struct { .. } => "a struct",
                Kind::Map { .. } => "a map",
                Kind::Encoded => "a GobEncoder",
            }
            .to_string(),
        }
    }

    fn struct_fields(&self, id: i64) -> &[Field] {
        match self.types.get(&id).map(|d| &d.kind) {
            Some(Kind::Struct { fields }) => fields,
            _ => &[],
        }
    }

    /// The type id of field `n` of struct `id` (`n` already checked
    /// against the field count).
    fn field_id(&self, id: i64, n: usize) -> i64 {
        self.struct_fields(id).get(n).map_or(0, |f| f.id)
    }

    fn field_named(&self, id: i64, name: &str) -> Option<usize> {
        self.struct_fields(id).iter().position(|f| f.name == name)
    }

    /// Walks over a value of type `id` without keeping it.
    fn skip(&mut self, id: i64, depth: u32) -> Result<()> {
        let at = self.r.pos;
        if depth > MAX_DEPTH {
            return Err(self.fail(
                at,
                format!("expected a value nested at most {MAX_DEPTH} deep, found deeper"),
            ));
        }
        match self.shape(id, at)? {
            Shape::Basic(Basic::Bool) => {
                self.r.uint("a bool")?;
            }
            Shape::Basic(Basic::Int) => {
                self.r.uint("an int")?;
            }
            Shape::Basic(Basic::Uint) => {
                self.r.uint("a uint")?;
            }
            Shape::Basic(Basic::Float) => {
                self.r.uint("a float")?;
            }
            Shape::Basic(Basic::Complex) => {
                self.r.uint("the real part of a complex")?;
                self.r.uint("the imaginary part of a complex")?;
            }
            Shape::Basic(Basic::Bytes) => {
                self.r.bytes("the length of a []byte")?;
            }
            Shape::Basic(Basic::String) => {
                self.r.bytes("the length of a string")?;
            }
            Shape::Basic(Basic::Interface) => self.skip_interface()?,
            Shape::Array { elem, len } => {
                let n = self.r.count("the length of an array", 1)?;
                if n as u64 != len {
                    return Err(self.fail(
                        at,
                        format!("expected an array of {len} elements, found {n}"),
                    ));
                }
                for _ in 0..n {
                    self.skip(elem, depth + 1)?;
                }
            }
            Shape::Slice { elem } => {
                let n = self.r.count("the length of a slice", 1)?;
                for _ in 0..n {
                    self.skip(elem, depth + 1)?;
                }
            }
            Shape::Map { key, elem } => {
                let n = self.r.count("the number of map entries", 2)?;
                for _ in 0..n {
                    self.skip(key, depth + 1)?;
                    self.skip(elem, depth + 1)?;
                }
            }
            Shape::Struct { id, fields } => {
                let mut present = Fields::new(fields);
                while let Some(n) = present.next(&mut self.r, "a struct field delta")? {
                    let field = self.field_id(id, n);
                    self.skip(field, depth + 1)?;
                }
            }
            Shape::Encoded => {
                self.r.bytes("the length of GobEncoder data")?;
            }
        }
        Ok(())
    }

    /// An interface value: the concrete type's registered name (empty for
    /// nil), definitions of types not sent before, the concrete type id,
    /// and the value with its byte count, which lets it be skipped whole.
    fn skip_interface(&mut self) -> Result<()> {
        if self
            .r
            .bytes("the length of an interface's type name")?
            .is_empty()
        {
            return Ok(());
        }
        loop {
            let at = self.r.pos;
            let id = self.r.int("the type id of an interface value")?;
            if id >= 0 {
                self.shape(id, at)?;
                break;
            }
            self.definition(id, at)?;
            // As Go's decoder does: after an in-line definition, a count
            // precedes whatever comes next.
            if self.r.left() > 0 {
                self.r.uint("the length after a type definition")?;
            }
        }
        self.r.bytes("the length of an interface value")?;
        Ok(())
    }

    /// The one value of the file: the map of groups. A value that is not
    /// a struct is sent as field 0 of an implied struct, hence a 0 first.
    fn top_value(&mut self, id: i64, at: usize) -> Result<Vec<GoGroup>> {
        let Shape::Map { key, elem } = self.shape(id, at)? else {
            return Err(self.fail(
                at,
                format!(
                    "expected the value to be a map of metric groups, found {}",
                    self.describe(id)
                ),
            ));
        };
        let tag_at = self.r.pos;
        let tag = self.r.uint("the field number 0 of a top-level value")?;
        if tag != 0 {
            return Err(self.fail(
                tag_at,
                format!("expected 0 before a top-level map, found {tag}"),
            ));
        }
        let layout = self.group_layout(elem, tag_at)?;
        let n = self.r.count("the number of metric groups", 2)?;
        let mut groups = Vec::with_capacity(n.min(MAX_PREALLOC));
        for _ in 0..n {
            // The key (a string of the labels, or before 1.0 a hash of
            // them) says nothing the labels do not.
            self.skip(key, 1)?;
            groups.push(self.group(&layout)?);
        }
        Ok(groups)
    }

    /// Finds the `MetricGroup` fields the import needs and checks their
    /// types, as Go does before decoding.
    fn group_layout(&self, id: i64, at: usize) -> Result<GroupLayout> {
        let Shape::Struct { fields, .. } = self.shape(id, at)? else {
            return Err(self.fail(
                at,
                format!(
                    "expected the metric groups to be structs (MetricGroup), found {}",
                    self.describe(id)
                ),
            ));
        };
        let labels = self.field_named(id, "Labels");
        if let Some(n) = labels {
            let field = self.field_id(id, n);
            match self.shape(field, at)? {
                Shape::Map { key, elem } if key == STRING_ID && elem == STRING_ID => {}
                _ => {
                    return Err(self.fail(
                        at,
                        format!(
                            "expected MetricGroup.Labels to be map[string]string, found {}",
                            self.describe(field)
                        ),
                    ))
                }
            }
        }
        let metrics = match self.field_named(id, "Metrics") {
            None => None,
            Some(n) => {
                let field = self.field_id(id, n);
                match self.shape(field, at)? {
                    Shape::Map { key, elem } if key == STRING_ID => {
                        Some((n, self.family_layout(elem, at)?))
                    }
                    _ => {
                        return Err(self.fail(
                            at,
                            format!(
                            "expected MetricGroup.Metrics to be a map keyed by string, found {}",
                            self.describe(field)
                        ),
                        ))
                    }
                }
            }
        };
        if labels.is_none() && metrics.is_none() {
            return Err(self.fail(
                at,
                format!(
                    "expected a MetricGroup with Labels and Metrics, found {} without either",
                    self.describe(id)
                ),
            ));
        }
        Ok(GroupLayout {
            id,
            fields,
            labels,
            metrics,
        })
    }

    fn family_layout(&self, id: i64, at: usize) -> Result<FamilyLayout> {
        let Shape::Struct { fields, .. } = self.shape(id, at)? else {
            return Err(self.fail(
                at,
                format!(
                    "expected the families to be structs (TimestampedMetricFamily), found {}",
                    self.describe(id)
                ),
            ));
        };
        let encoded = |name: &str| -> Result<Option<usize>> {
            let Some(n) = self.field_named(id, name) else {
                return Ok(None);
            };
            let field = self.field_id(id, n);
            match self.shape(field, at)? {
                Shape::Encoded => Ok(Some(n)),
                _ => Err(self.fail(
                    at,
                    format!(
                        "expected TimestampedMetricFamily.{name} to be a GobEncoder, found {}",
                        self.describe(field)
                    ),
                )),
            }
        };
        let timestamp = encoded("Timestamp")?;
        let Some(family) = encoded("GobbableMetricFamily")? else {
            return Err(self.fail(
                at,
                format!(
                    "expected TimestampedMetricFamily with a GobbableMetricFamily field, found {} without",
                    self.describe(id)
                ),
            ));
        };
        Ok(FamilyLayout {
            id,
            fields,
            timestamp,
            family,
        })
    }

    fn group(&mut self, layout: &GroupLayout) -> Result<GoGroup> {
        // Go fills maps entry by entry, so of repeated keys the last wins.
        let mut labels = BTreeMap::new();
        let mut families = BTreeMap::new();
        let mut present = Fields::new(layout.fields);
        while let Some(n) = present.next(&mut self.r, "a field of MetricGroup")? {
            if Some(n) == layout.labels {
                let count = self.r.count("the number of grouping labels", 2)?;
                for _ in 0..count {
                    let name = self.r.string("a grouping label name")?;
                    let value = self.r.string("a grouping label value")?;
                    labels.insert(name, value);
                }
            } else if let Some((_, family)) = layout.metrics.as_ref().filter(|(m, _)| *m == n) {
                let count = self.r.count("the number of metric families", 2)?;
                for _ in 0..count {
                    let name = self.r.string("a metric family name")?;
                    match self.family(family)? {
                        Some((pushed_at_unix_nanos, proto)) => {
                            families.insert(
                                name.clone(),
                                GoFamily {
                                    name,
                                    pushed_at_unix_nanos,
                                    proto,
                                },
                            );
                        }
                        // A nil family pointer: nothing Go could serve.
                        None => {
                            families.remove(&name);
                        }
                    }
                }
            } else {
                let field = self.field_id(layout.id, n);
                self.skip(field, 2)?;
            }
        }
        Ok(GoGroup {
            labels: labels.into_iter().collect(),
            families: families.into_values().collect(),
        })
    }

    /// A `TimestampedMetricFamily`: the push time and the protobuf bytes,
    /// or `None` when the family pointer was nil (the field is absent).
    fn family(&mut self, layout: &FamilyLayout) -> Result<Option<(i64, Vec<u8>)>> {
        // An absent Timestamp is Go's zero time, long before 1677.
        let mut pushed_at = i64::MIN;
        let mut proto = None;
        let mut present = Fields::new(layout.fields);
        while let Some(n) = present.next(&mut self.r, "a field of TimestampedMetricFamily")? {
            if Some(n) == layout.timestamp {
                let at = self.r.pos;
                let bytes = self.r.bytes("the length of a time.Time")?;
                pushed_at = unix_nanos(bytes).map_err(|m| self.fail(at, m))?;
            } else if n == layout.family {
                proto = Some(self.r.bytes("the length of a MetricFamily")?.to_vec());
            } else {
                let field = self.field_id(layout.id, n);
                self.skip(field, 3)?;
            }
        }
        Ok(proto.map(|p| (pushed_at, p)))
    }
}

/// A `time.Time` from its `MarshalBinary` form: version (1, or 2 when the
/// zone offset has seconds), seconds since 0001-01-01 (int64), nanoseconds
/// (int32) and the zone offset in minutes (int16), all big-endian, then in
/// version 2 the offset's seconds. The zone does not change the instant;
/// times outside the range of `i64` nanoseconds are clamped.
fn unix_nanos(b: &[u8]) -> std::result::Result<i64, String> {
    let want = match b.first() {
        None => return Err("expected a time.Time, found no bytes".to_string()),
        Some(1) => 15,
        Some(2) => 16,
        Some(v) => {
            return Err(format!(
                "expected time.Time encoding version 1 or 2, found {v}"
            ))
        }
    };
    if b.len() != want {
        return Err(format!(
            "expected {want} bytes of time.Time (version {}), found {}",
            b[0],
            b.len()
        ));
    }
    let big_endian = |bytes: &[u8]| bytes.iter().fold(0u64, |v, &x| v << 8 | u64::from(x));
    let seconds = big_endian(&b[1..9]) as i64;
    let nanos = big_endian(&b[9..13]) as u32 as i32;
    let total = (i128::from(seconds) - UNIX_TO_INTERNAL) * 1_000_000_000 + i128::from(nanos);
    Ok(total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::{LoadReport, PersistError, PersistMode, Persistence, PersistenceOptions};
    use crate::time::PushTime;
    use crate::{GroupingKey, StoreOptions};
    use exposition::protobuf::decode_family;
    use exposition::{MetricFamily, MetricType, Value};

    /// Written by Debian's prometheus-pushgateway 1.5.1 (Go 1.19): three
    /// groups, pushed as in `go_written_file_decodes`.
    const GO_FILE: &[u8] = include_bytes!("testdata/go-1.5.1.data");
    /// The same binary, started and stopped without a push.
    const GO_EMPTY: &[u8] = include_bytes!("testdata/go-1.5.1-empty.data");

    fn family(group: &GoGroup, name: &str) -> (MetricFamily, String) {
        let f = group
            .families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"));
        let decoded = decode_family(&f.proto).unwrap();
        assert_eq!(decoded.name, name);
        (
            decoded,
            PushTime::from_nanos(f.pushed_at_unix_nanos).to_rfc3339_nano(),
        )
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn gauge(f: &MetricFamily) -> f64 {
        match f.metrics[0].value {
            Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("not a gauge: {other:?}"),
        }
    }

    #[test]
    fn go_written_file_decodes() {
        // Pushed with curl:
        //   PUT  /metrics/job/alpha/instance/i1  requests_total (counter, HELP
        //        with \\ and \n, label value with quote, backslash, newline, ü)
        //   PUT  /metrics/job/beta/path@base64/L3Zhci90bXA  lat (histogram),
        //        rpc (summary, a NaN quantile), plain (summary, no quantiles)
        //   PUT  /metrics/job/gamma/empty@base64/=  temp -Inf, up NaN
        //   POST /metrics/job/alpha/instance/i1  added 7
        //   POST /metrics/job/gamma/empty@base64/=  with a timestamp (refused)
        let mut groups = decode_go_file(GO_FILE).unwrap();
        groups.sort_by(|a, b| a.labels.cmp(&b.labels));
        let keys: Vec<_> = groups.iter().map(|g| g.labels.clone()).collect();
        assert_eq!(
            keys,
            [
                labels(&[("empty", ""), ("job", "gamma")]),
                labels(&[("instance", "i1"), ("job", "alpha")]),
                labels(&[("job", "beta"), ("path", "/var/tmp")]),
            ]
        );
        let names = |g: &GoGroup| {
            g.families
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
        };
        let (gamma, alpha, beta) = (&groups[0], &groups[1], &groups[2]);
        assert_eq!(
            names(alpha),
            [
                "added",
                "push_failure_time_seconds",
                "push_time_seconds",
                "requests_total"
            ]
        );
        assert_eq!(
            names(beta),
            [
                "lat",
                "plain",
                "push_failure_time_seconds",
                "push_time_seconds",
                "rpc"
            ]
        );
        assert_eq!(
            names(gamma),
            [
                "push_failure_time_seconds",
                "push_time_seconds",
                "temp",
                "up"
            ]
        );

        // Push times as Go's /api/v1/metrics showed them before shutdown.
        let (requests, at) = family(alpha, "requests_total");
        assert_eq!(at, "2026-12-01T16:05:24.842802768Z");
        assert_eq!(requests.metric_type, MetricType::Counter);
        assert_eq!(
            requests.help.as_deref(),
            Some("Requests \\ seen.\nSecond line.")
        );
        let path = requests.metrics[0]
            .labels
            .iter()
            .find(|l| l.name == "path")
            .unwrap();
        assert_eq!(path.value, "/a\"b\\c\nd ü");
        match &requests.metrics[0].value {
            Value::Counter(c) => assert_eq!(c.value, 42.0),
            other => panic!("{other:?}"),
        }
        let (added, at) = family(alpha, "added");
        assert_eq!(at, "2026-12-01T16:05:24.914661118Z");
        assert_eq!(added.metric_type, MetricType::Untyped);
        let (push, at) = family(alpha, "push_time_seconds");
        assert_eq!(at, "2026-12-01T16:05:24.914661118Z");
        assert_eq!(gauge(&push), 1.7961411249146612e9);
        let (failure, _) = family(alpha, "push_failure_time_seconds");
        assert_eq!(gauge(&failure), 0.0);

        let (lat, at) = family(beta, "lat");
        assert_eq!(at, "2026-12-01T16:05:24.861092563Z");
        match &lat.metrics[0].value {
            Value::Histogram(h) => {
                assert_eq!(h.sample_count, Some(4));
                assert_eq!(h.sample_sum, Some(2.5));
                let bounds: Vec<_> = h.buckets.iter().map(|b| b.upper_bound).collect();
                assert_eq!(bounds, [0.5, 1.0, f64::INFINITY]);
            }
            other => panic!("{other:?}"),
        }
        let (rpc, _) = family(beta, "rpc");
        match &rpc.metrics[0].value {
            Value::Summary(s) => {
                assert_eq!((s.sample_count, s.sample_sum), (7, 10.0));
                assert_eq!(s.quantiles.len(), 2);
                assert!(s.quantiles[1].value.is_nan());
            }
            other => panic!("{other:?}"),
        }
        let (plain, _) = family(beta, "plain");
        match &plain.metrics[0].value {
            Value::Summary(s) => assert!(s.quantiles.is_empty()),
            other => panic!("{other:?}"),
        }

        let (temp, _) = family(gamma, "temp");
        assert_eq!(gauge(&temp), f64::NEG_INFINITY);
        let (up, at) = family(gamma, "up");
        assert_eq!(at, "2026-12-01T16:05:24.895529016Z");
        assert!(gauge(&up).is_nan());
        let (failure, at) = family(gamma, "push_failure_time_seconds");
        assert_eq!(at, "2026-12-01T16:05:24.954753857Z");
        assert_eq!(gauge(&failure), 1.7961411249547539e9);
    }

    #[test]
    fn go_written_empty_file_decodes() {
        assert!(decode_go_file(GO_EMPTY).unwrap().is_empty());
    }

    #[test]
    fn recognises_gob_but_not_our_files() {
        assert!(looks_like_gob(GO_FILE));
        assert!(looks_like_gob(GO_EMPTY));
        assert!(looks_like_gob(&GO_FILE[..6]));
        assert!(!looks_like_gob(b"PGWSNAP1\x00\x00\x00\x00"));
        assert!(!looks_like_gob(b"PGWWAL01"));
        assert!(!looks_like_gob(b""));
        assert!(!looks_like_gob(b"# HELP x y\n"));
        assert!(!looks_like_gob(b"{\"groups\": []}"));
        assert!(!looks_like_gob(&[0x03, 0x04, 0x00, 0x06]));
    }

    #[test]
    fn every_truncation_is_an_error_with_an_offset() {
        for file in [GO_FILE, GO_EMPTY] {
            for cut in 0..file.len() {
                let err = decode_go_file(&file[..cut])
                    .err()
                    .unwrap_or_else(|| panic!("a file cut at {cut} decoded"));
                assert!(err.offset <= cut, "cut {cut}: {err}");
                assert!(err.message.contains("expected"), "cut {cut}: {err}");
            }
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let mut data = GO_FILE.to_vec();
        let mut errors = 0;
        for i in 0..data.len() {
            for flip in [0xff, 0x80, 0x01, 0x7f] {
                let original = data[i];
                data[i] ^= flip;
                match decode_go_file(&data) {
                    Ok(_) => {}
                    Err(e) => {
                        assert!(e.offset <= data.len(), "{e}");
                        errors += 1;
                    }
                }
                data[i] = original;
            }
        }
        // Flips inside strings and protobuf bytes are not the decoder's to see.
        assert!(
            errors > data.len() / 2,
            "{errors} of {} noticed",
            data.len() * 4
        );
    }

    #[test]
    fn random_damage_never_panics() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut data = GO_FILE.to_vec();
            let at = (next() % data.len() as u64) as usize;
            let len = (next() % 8 + 1) as usize;
            for b in data.iter_mut().skip(at).take(len) {
                *b = next() as u8;
            }
            if next() % 4 == 0 {
                data.truncate(at + len);
            }
            if let Err(e) = decode_go_file(&data) {
                assert!(e.offset <= data.len(), "{e}");
            }
        }
    }

    #[test]
    fn integers_follow_the_gob_examples() {
        // From encoding/gob's documentation: 256 is FE 01 00, -129 FE 01 01,
        // 17.0 as a float FE 31 40.
        let mut r = Reader::new(&[0xfe, 0x01, 0x00, 0xfe, 0x01, 0x01, 0x07]);
        assert_eq!(r.uint("a").unwrap(), 256);
        assert_eq!(r.int("b").unwrap(), -129);
        assert_eq!(r.int("c").unwrap(), -4);
        let mut r = Reader::new(&[
            0xf8, 1, 2, 3, 4, 5, 6, 7, 8, 0xf7, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        assert_eq!(r.uint("max").unwrap(), 0x0102_0304_0506_0708);
        let err = r.uint("too long").unwrap_err();
        assert_eq!(err.offset, 9);
        let err = Reader::new(&[0xfd, 1]).uint("x").unwrap_err();
        assert!(err.message.contains("run past the end"), "{err}");
    }

    /// A minimal gob writer for hand-made streams.
    #[derive(Default)]
    struct W(Vec<u8>);

    impl W {
        fn uint(&mut self, v: u64) -> &mut W {
            if v < 0x80 {
                self.0.push(v as u8);
            } else {
                let bytes = v.to_be_bytes();
                let skip = bytes.iter().take_while(|&&b| b == 0).count();
                self.0.push((-((8 - skip) as i8)) as u8);
                self.0.extend_from_slice(&bytes[skip..]);
            }
            self
        }
        fn int(&mut self, v: i64) -> &mut W {
            let u = if v < 0 {
                (!(v as u64) << 1) | 1
            } else {
                (v as u64) << 1
            };
            self.uint(u)
        }
        fn bytes(&mut self, b: &[u8]) -> &mut W {
            self.uint(b.len() as u64);
            self.0.extend_from_slice(b);
            self
        }
        fn str(&mut self, s: &str) -> &mut W {
            self.bytes(s.as_bytes())
        }
        fn float(&mut self, f: f64) -> &mut W {
            self.uint(f.to_bits().swap_bytes())
        }
        /// A `CommonType` as field 0 of the descriptor being written.
        fn common(&mut self, name: &str, id: i64) -> &mut W {
            self.uint(1);
            if !name.is_empty() {
                self.uint(1).str(name);
                self.uint(1).int(id);
            } else {
                self.uint(2).int(id);
            }
            self.uint(0)
        }
    }

    /// Appends a length-prefixed message.
    fn message(out: &mut Vec<u8>, body: &W) {
        let mut w = W::default();
        w.uint(body.0.len() as u64);
        out.extend_from_slice(&w.0);
        out.extend_from_slice(&body.0);
    }

    fn define_struct(out: &mut Vec<u8>, id: i64, name: &str, fields: &[(&str, i64)]) {
        let mut w = W::default();
        w.int(-id)
            .uint(3)
            .common(name, id)
            .uint(1)
            .uint(fields.len() as u64);
        for (field, fid) in fields {
            w.uint(1).str(field).uint(1).int(*fid).uint(0);
        }
        w.uint(0).uint(0);
        message(out, &w);
    }

    fn define_map(out: &mut Vec<u8>, id: i64, key: i64, elem: i64) {
        let mut w = W::default();
        w.int(-id)
            .uint(4)
            .common("", id)
            .uint(1)
            .int(key)
            .uint(1)
            .int(elem)
            .uint(0)
            .uint(0);
        message(out, &w);
    }

    fn define_slice(out: &mut Vec<u8>, id: i64, elem: i64) {
        let mut w = W::default();
        w.int(-id)
            .uint(2)
            .common("", id)
            .uint(1)
            .int(elem)
            .uint(0)
            .uint(0);
        message(out, &w);
    }

    fn define_array(out: &mut Vec<u8>, id: i64, elem: i64, len: i64) {
        let mut w = W::default();
        w.int(-id)
            .uint(1)
            .common("", id)
            .uint(1)
            .int(elem)
            .uint(1)
            .int(len)
            .uint(0)
            .uint(0);
        message(out, &w);
    }

    /// `kind` 5, 6 or 7: GobEncoder, BinaryMarshaler, TextMarshaler.
    fn define_encoder(out: &mut Vec<u8>, id: i64, name: &str, kind: u64) {
        let mut w = W::default();
        w.int(-id).uint(kind).common(name, id).uint(0).uint(0);
        message(out, &w);
    }

    fn time_v2(unix_seconds: i64, nanos: i32) -> Vec<u8> {
        let mut b = vec![2];
        b.extend_from_slice(&(unix_seconds + UNIX_TO_INTERNAL as i64).to_be_bytes());
        b.extend_from_slice(&nanos.to_be_bytes());
        b.extend_from_slice(&60i16.to_be_bytes());
        b.push(30);
        b
    }

    /// A layout unlike Go 1.5.1's: a `uint64` key (as before 1.0), fields
    /// in another order with extra ones of every kind, a BinaryMarshaler
    /// timestamp in version 2, a nil family, a nil interface, repeated map
    /// keys, and types defined in another order.
    #[test]
    fn other_layouts_decode_by_field_name() {
        let mut out = Vec::new();
        define_encoder(&mut out, 70, "Time", 6);
        define_encoder(&mut out, 71, "", 5);
        define_slice(&mut out, 72, 4);
        define_array(&mut out, 73, 2, 3);
        define_map(&mut out, 74, 6, 6);
        define_struct(
            &mut out,
            75,
            "TimestampedMetricFamily",
            &[
                ("Extra", 73),
                ("GobbableMetricFamily", 71),
                ("Timestamp", 70),
            ],
        );
        define_map(&mut out, 76, 6, 75);
        define_struct(
            &mut out,
            77,
            "MetricGroup",
            &[
                ("Metrics", 76),
                ("Flag", 1),
                ("Any", 8),
                ("Ratio", 72),
                ("Labels", 74),
                ("Z", 7),
                ("Nested", 74),
            ],
        );
        define_map(&mut out, 78, 3, 77);
        let mut v = W::default();
        v.int(78).uint(0).uint(2);
        // Group 1, key 0xdeadbeef.
        v.uint(0xdead_beef);
        v.uint(1).uint(1); // Metrics, one family
        v.str("m");
        v.uint(2).bytes(b"\x0a\x01m"); // GobbableMetricFamily
        v.uint(1).bytes(&time_v2(1_700_000_000, 5)); // Timestamp
        v.uint(0);
        v.uint(1).uint(1); // Flag = true
        v.uint(1).str(""); // Any: an explicit nil interface
        v.uint(1).uint(2).float(0.5).float(f64::NAN); // Ratio
        v.uint(1)
            .uint(3)
            .str("job")
            .str("x")
            .str("job")
            .str("j")
            .str("a")
            .str("b"); // Labels
        v.uint(1).float(1.0).float(-2.0); // Z
        v.uint(1).uint(0); // Nested: empty map
        v.uint(0);
        // Group 2: a family twice (the last wins) and a nil one.
        v.uint(7);
        v.uint(5).uint(1).str("job").str("k"); // Labels only so far
        v.uint(0);
        // The same types, then another value.
        let mut out2 = out.clone();
        message(&mut out, &v);
        let groups = decode_go_file(&out).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].labels, labels(&[("a", "b"), ("job", "j")]));
        assert_eq!(groups[0].families.len(), 1);
        let f = &groups[0].families[0];
        assert_eq!(
            (f.name.as_str(), f.proto.as_slice()),
            ("m", &b"\x0a\x01m"[..])
        );
        assert_eq!(f.pushed_at_unix_nanos, 1_700_000_000_000_000_005);
        assert_eq!(groups[1].labels, labels(&[("job", "k")]));
        assert!(groups[1].families.is_empty());

        let mut v = W::default();
        v.int(78).uint(0).uint(1).uint(9);
        v.uint(1).uint(3); // Metrics: three entries
        v.str("a")
            .uint(1)
            .uint(3)
            .int(1)
            .int(2)
            .int(3)
            .uint(1)
            .bytes(b"first")
            .uint(0);
        v.str("b").uint(3).bytes(&time_v2(0, 0)).uint(0); // nil family
        v.str("a").uint(2).bytes(b"second").uint(0); // no timestamp
        v.uint(0);
        message(&mut out2, &v);
        let groups = decode_go_file(&out2).unwrap();
        assert_eq!(groups[0].families.len(), 1);
        assert_eq!(groups[0].families[0].proto, b"second");
        assert_eq!(groups[0].families[0].pushed_at_unix_nanos, i64::MIN);
    }

    #[test]
    fn hostile_streams_are_refused_cheaply() {
        let mut base = Vec::new();
        define_slice(&mut base, 65, 65); // a slice of itself
        define_map(&mut base, 67, 6, 6);
        define_struct(&mut base, 66, "MetricGroup", &[("Labels", 67), ("X", 65)]);
        define_map(&mut base, 68, 6, 66);
        let expect = |out: &[u8], what: &str| {
            let err = decode_go_file(out).unwrap_err();
            assert!(err.message.contains(what), "{err}");
            assert!(err.offset <= out.len());
        };

        // A count far beyond the input.
        let mut out = base.clone();
        message(&mut out, W::default().int(68).uint(0).uint(u64::MAX));
        expect(&out, "does not fit");

        // Nesting without end: field X, a slice of a slice of a slice...
        let mut out = base.clone();
        let mut v = W::default();
        v.int(68).uint(0).uint(1).str("k").uint(2);
        v.0.extend_from_slice(&[1; 500]);
        message(&mut out, &v);
        expect(&out, "nested at most");

        // A message longer than the file.
        let mut out = base.clone();
        out.extend_from_slice(&[0xfe, 0x10, 0x00, 0x84]);
        expect(&out, "message length");

        // Redefinitions and gob's own ids.
        let mut out = base.clone();
        define_slice(&mut out, 65, 2);
        expect(&out, "defined twice");
        let mut out = Vec::new();
        define_slice(&mut out, 16, 2);
        expect(&out, "gob's own");

        // A type used but never defined.
        let mut out = Vec::new();
        define_map(&mut out, 65, 6, 99);
        message(
            &mut out,
            W::default().int(65).uint(0).uint(1).str("k").uint(0),
        );
        expect(&out, "never defined");

        // The wrong top-level value.
        let mut out = Vec::new();
        message(&mut out, W::default().int(2).uint(0).int(3));
        expect(&out, "map of metric groups");

        // A definition with trailing bytes, and one with two kinds.
        let mut out = Vec::new();
        let mut w = W::default();
        w.int(-65)
            .uint(2)
            .common("", 65)
            .uint(1)
            .int(2)
            .uint(0)
            .uint(0)
            .uint(9);
        message(&mut out, &w);
        expect(&out, "end of the type definition");
        let mut out = Vec::new();
        let mut w = W::default();
        w.int(-65)
            .uint(2)
            .common("", 65)
            .uint(0)
            .uint(1)
            .common("", 65)
            .uint(0)
            .uint(0);
        message(&mut out, &w);
        expect(&out, "more than one type");

        // A bad time.
        let mut out = Vec::new();
        define_encoder(&mut out, 65, "Time", 5);
        define_struct(
            &mut out,
            66,
            "TimestampedMetricFamily",
            &[("Timestamp", 65), ("GobbableMetricFamily", 65)],
        );
        define_map(&mut out, 67, 6, 66);
        define_struct(&mut out, 68, "MetricGroup", &[("Metrics", 67)]);
        define_map(&mut out, 69, 6, 68);
        let mut v = W::default();
        v.int(69).uint(0).uint(1).str("k").uint(1).uint(1).str("m");
        v.uint(1).bytes(&[3; 15]).uint(0).uint(0);
        message(&mut out, &v);
        expect(&out, "version 1 or 2");
    }

    fn open(
        file: &std::path::Path,
        ignore_corrupt: bool,
    ) -> std::result::Result<(Persistence, LoadReport), PersistError> {
        Persistence::open(
            PersistenceOptions {
                file: file.to_path_buf(),
                mode: PersistMode::Durable,
                on_corruption: if ignore_corrupt {
                    crate::OnCorruption::KeepReadable
                } else {
                    crate::OnCorruption::Refuse
                },
            },
            StoreOptions::default(),
        )
    }

    #[test]
    fn persistence_imports_a_go_file_and_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pushgateway.data");
        std::fs::write(&file, GO_FILE).unwrap();
        let (persistence, report) = open(&file, false).unwrap();
        assert!(report.imported_go_file);
        assert_eq!(report.groups, 3);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let before: Vec<_> = persistence
            .store()
            .snapshot()
            .groups()
            .iter()
            .map(|g| {
                let families: Vec<_> = g
                    .families()
                    .iter()
                    .map(|f| (f.name().to_string(), f.pushed_at(), f.text().to_vec()))
                    .collect();
                (
                    g.key().to_string(),
                    g.push_time(),
                    g.failure_time(),
                    families,
                )
            })
            .collect();
        let gamma = persistence
            .store()
            .group(&GroupingKey::new([("job", "gamma"), ("empty", "")]))
            .unwrap();
        assert!(!gamma.last_push_successful());
        assert_eq!(
            gamma.failure_time().to_rfc3339_nano(),
            "2026-12-01T16:05:24.954753857Z"
        );
        persistence.close().unwrap();
        assert!(std::fs::read(&file).unwrap().starts_with(SNAPSHOT_MAGIC));

        let (persistence, report) = open(&file, false).unwrap();
        assert!(!report.imported_go_file);
        let after: Vec<_> = persistence
            .store()
            .snapshot()
            .groups()
            .iter()
            .map(|g| {
                let families: Vec<_> = g
                    .families()
                    .iter()
                    .map(|f| (f.name().to_string(), f.pushed_at(), f.text().to_vec()))
                    .collect();
                (
                    g.key().to_string(),
                    g.push_time(),
                    g.failure_time(),
                    families,
                )
            })
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn a_damaged_go_file_stops_start_up_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pushgateway.data");
        std::fs::write(&file, &GO_FILE[..GO_FILE.len() - 100]).unwrap();
        match open(&file, false) {
            Err(PersistError::Corrupt { offset, what, .. }) => {
                assert!(offset > 0 && offset < GO_FILE.len() as u64);
                assert!(what.starts_with("Go persistence file: expected"), "{what}");
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a truncated Go file loaded"),
        }
        let (persistence, report) = open(&file, true).unwrap();
        assert_eq!(persistence.store().group_count(), 0);
        assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);
        assert!(report.warnings[0].ends_with("starting empty"));
        // The Go file is kept before the fresh snapshot replaces it.
        assert!(report.warnings[1].starts_with("kept the damaged file as"));
        assert!(report.warnings[2].ends_with("wrote a fresh snapshot of what was readable"));
        let kept = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("pushgateway.data.corrupt-")
            })
            .count();
        assert_eq!(kept, 1);
    }

    #[test]
    fn field_types_are_checked_like_go_does() {
        let mut out = Vec::new();
        define_map(&mut out, 65, 6, 2);
        define_struct(&mut out, 66, "MetricGroup", &[("Labels", 65)]);
        define_map(&mut out, 67, 6, 66);
        message(&mut out, W::default().int(67).uint(0).uint(0));
        let err = decode_go_file(&out).unwrap_err();
        assert!(err.message.contains("map[string]string"), "{err}");
    }
}
