//! AMF0 (fully) and AMF3 (the subset command messages use) value decoding.
//!
//! The decoders work on a complete message payload (the chunk layer has already
//! reassembled it), so they use nom's `complete` parsers. Lengths are never trusted
//! for allocation: every declared length or count is bounded by the bytes that are
//! actually left, and nesting is capped at [`crate::MAX_AMF_DEPTH`] so hostile input
//! cannot overflow the stack.

use nom::bytes::complete::take;
use nom::error::{Error, ErrorKind};
use nom::number::complete::{be_f64, be_i16, be_u16, be_u32, be_u8};
use nom::{Err, IResult};

use crate::MAX_AMF_DEPTH;

/// One decoded AMF value. AMF0 and AMF3 values share this type; the few AMF3-only
/// kinds have their own variants.
#[derive(Clone, Debug, PartialEq)]
pub enum Amf {
    Number(f64),
    Boolean(bool),
    String(String),
    /// Anonymous object (AMF0 0x03, AMF3 object without class name): ordered properties.
    Object(Vec<(String, Amf)>),
    /// Object with a class name (AMF0 typed object 0x10, AMF3 object with traits).
    TypedObject {
        class: String,
        properties: Vec<(String, Amf)>,
    },
    Null,
    Undefined,
    /// AMF0 reference (0x07) or AMF3 object reference: index into earlier objects.
    /// Not resolved, so decoded values stay a tree.
    Reference(u32),
    /// AMF0 ECMA array (0x08): associative, like an object.
    EcmaArray(Vec<(String, Amf)>),
    /// AMF0 strict array (0x0A) or the dense part of an AMF3 array.
    StrictArray(Vec<Amf>),
    /// Milliseconds since the Unix epoch.
    Date(f64),
    Xml(String),
    /// AMF3 integer (29-bit, sign-extended).
    Integer(i32),
    /// AMF3 byte array.
    ByteArray(Vec<u8>),
    /// AMF0 "unsupported" marker (0x0D).
    Unsupported,
}

impl Amf {
    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf::String(s) | Amf::Xml(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a number (AMF3 integers included).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf::Number(n) => Some(*n),
            Amf::Integer(n) => Some(f64::from(*n)),
            _ => None,
        }
    }

    /// Properties of an object-like value (object, typed object, ECMA array).
    pub fn properties(&self) -> Option<&[(String, Amf)]> {
        match self {
            Amf::Object(p) | Amf::EcmaArray(p) | Amf::TypedObject { properties: p, .. } => Some(p),
            _ => None,
        }
    }

    /// The property `name` of an object-like value (first match).
    pub fn get(&self, name: &str) -> Option<&Amf> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

fn fail<T>(i: &[u8]) -> IResult<&[u8], T> {
    Err(Err::Error(Error::new(i, ErrorKind::Verify)))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn amf0_utf8(i: &[u8]) -> IResult<&[u8], String> {
    let (i, len) = be_u16(i)?;
    let (i, s) = take(len)(i)?;
    Ok((i, lossy(s)))
}

fn amf0_utf8_long(i: &[u8]) -> IResult<&[u8], String> {
    let (i, len) = be_u32(i)?;
    let (i, s) = take(len)(i)?;
    Ok((i, lossy(s)))
}

/// Properties until the object-end marker `00 00 09`.
fn amf0_properties(mut i: &[u8], depth: u32) -> IResult<&[u8], Vec<(String, Amf)>> {
    let mut props = Vec::new();
    loop {
        let (rest, key) = amf0_utf8(i)?;
        // An empty key not followed by the end marker is taken as a key (some
        // encoders emit "" keys); the value that must follow decides.
        if key.is_empty() && rest.first() == Some(&0x09) {
            return Ok((&rest[1..], props));
        }
        let (rest, value) = amf0_value(rest, depth + 1)?;
        props.push((key, value));
        i = rest;
    }
}

/// Decode one AMF0 value. `depth` is the current nesting depth (0 at top level).
pub fn amf0_value(i: &[u8], depth: u32) -> IResult<&[u8], Amf> {
    if depth > MAX_AMF_DEPTH {
        return fail(i);
    }
    let (i, marker) = be_u8(i)?;
    match marker {
        0x00 => {
            let (i, n) = be_f64(i)?;
            Ok((i, Amf::Number(n)))
        }
        0x01 => {
            let (i, b) = be_u8(i)?;
            Ok((i, Amf::Boolean(b != 0)))
        }
        0x02 => {
            let (i, s) = amf0_utf8(i)?;
            Ok((i, Amf::String(s)))
        }
        0x03 => {
            let (i, p) = amf0_properties(i, depth)?;
            Ok((i, Amf::Object(p)))
        }
        0x05 => Ok((i, Amf::Null)),
        0x06 => Ok((i, Amf::Undefined)),
        0x07 => {
            let (i, r) = be_u16(i)?;
            Ok((i, Amf::Reference(u32::from(r))))
        }
        0x08 => {
            // The count is advisory (encoders get it wrong); the end marker ends it.
            let (i, _count) = be_u32(i)?;
            let (i, p) = amf0_properties(i, depth)?;
            Ok((i, Amf::EcmaArray(p)))
        }
        0x0a => {
            let (mut i, count) = be_u32(i)?;
            let mut items = Vec::new();
            for _ in 0..count {
                // Every value takes at least one byte: a count larger than what is
                // left fails here instead of allocating.
                let (rest, v) = amf0_value(i, depth + 1)?;
                items.push(v);
                i = rest;
            }
            Ok((i, Amf::StrictArray(items)))
        }
        0x0b => {
            let (i, ms) = be_f64(i)?;
            let (i, _tz) = be_i16(i)?;
            Ok((i, Amf::Date(ms)))
        }
        0x0c => {
            let (i, s) = amf0_utf8_long(i)?;
            Ok((i, Amf::String(s)))
        }
        0x0d => Ok((i, Amf::Unsupported)),
        0x0f => {
            let (i, s) = amf0_utf8_long(i)?;
            Ok((i, Amf::Xml(s)))
        }
        0x10 => {
            let (i, class) = amf0_utf8(i)?;
            let (i, properties) = amf0_properties(i, depth)?;
            Ok((i, Amf::TypedObject { class, properties }))
        }
        0x11 => Amf3Reader::default().value(i, depth + 1),
        // 0x04 movieclip and 0x0e recordset are reserved; 0x09 alone is malformed.
        _ => fail(i),
    }
}

/// Decode AMF0 values until the input ends. Stops at the first value that does not
/// decode and returns what decoded plus whether everything did.
pub fn amf0_values(mut i: &[u8]) -> (Vec<Amf>, bool) {
    let mut out = Vec::new();
    while !i.is_empty() {
        match amf0_value(i, 0) {
            Ok((rest, v)) => {
                out.push(v);
                i = rest;
            }
            Err(_) => return (out, false),
        }
    }
    (out, true)
}

/// AMF3 decoding state: the string and trait reference tables of one value tree.
#[derive(Default)]
pub struct Amf3Reader {
    strings: Vec<String>,
    traits: Vec<Traits>,
    objects: u32,
}

#[derive(Clone)]
struct Traits {
    class: String,
    dynamic: bool,
    sealed: Vec<String>,
}

/// AMF3 variable-length unsigned 29-bit integer.
fn u29(i: &[u8]) -> IResult<&[u8], u32> {
    let mut value: u32 = 0;
    let mut i = i;
    for n in 0..4 {
        let (rest, b) = be_u8(i)?;
        i = rest;
        if n == 3 {
            return Ok((i, (value << 8) | u32::from(b)));
        }
        value = (value << 7) | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok((i, value));
        }
    }
    unreachable!("the loop returns on its fourth byte")
}

impl Amf3Reader {
    fn string<'a>(&mut self, i: &'a [u8]) -> IResult<&'a [u8], String> {
        let (i, u) = u29(i)?;
        if u & 1 == 0 {
            return match self.strings.get((u >> 1) as usize) {
                Some(s) => Ok((i, s.clone())),
                None => fail(i),
            };
        }
        let (i, bytes) = take(u >> 1)(i)?;
        let s = lossy(bytes);
        if !s.is_empty() {
            self.strings.push(s.clone());
        }
        Ok((i, s))
    }

    /// Decode one AMF3 value.
    pub fn value<'a>(&mut self, i: &'a [u8], depth: u32) -> IResult<&'a [u8], Amf> {
        if depth > MAX_AMF_DEPTH {
            return fail(i);
        }
        let (i, marker) = be_u8(i)?;
        match marker {
            0x00 => Ok((i, Amf::Undefined)),
            0x01 => Ok((i, Amf::Null)),
            0x02 => Ok((i, Amf::Boolean(false))),
            0x03 => Ok((i, Amf::Boolean(true))),
            0x04 => {
                let (i, u) = u29(i)?;
                // Sign-extend the 29-bit value.
                Ok((i, Amf::Integer(((u << 3) as i32) >> 3)))
            }
            0x05 => {
                let (i, n) = be_f64(i)?;
                Ok((i, Amf::Number(n)))
            }
            0x06 => {
                let (i, s) = self.string(i)?;
                Ok((i, Amf::String(s)))
            }
            0x07 | 0x0b => {
                let (i, u) = u29(i)?;
                if u & 1 == 0 {
                    return Ok((i, Amf::Reference(u >> 1)));
                }
                let (i, bytes) = take(u >> 1)(i)?;
                self.objects += 1;
                Ok((i, Amf::Xml(lossy(bytes))))
            }
            0x08 => {
                let (i, u) = u29(i)?;
                if u & 1 == 0 {
                    return Ok((i, Amf::Reference(u >> 1)));
                }
                let (i, ms) = be_f64(i)?;
                self.objects += 1;
                Ok((i, Amf::Date(ms)))
            }
            0x09 => {
                let (i, u) = u29(i)?;
                if u & 1 == 0 {
                    return Ok((i, Amf::Reference(u >> 1)));
                }
                self.objects += 1;
                let mut assoc = Vec::new();
                let (mut i, ()) = self.dynamic_members(i, depth, &mut assoc)?;
                let mut dense = Vec::new();
                for _ in 0..(u >> 1) {
                    let (rest, v) = self.value(i, depth + 1)?;
                    dense.push(v);
                    i = rest;
                }
                if assoc.is_empty() {
                    Ok((i, Amf::StrictArray(dense)))
                } else {
                    for (n, v) in dense.into_iter().enumerate() {
                        assoc.push((n.to_string(), v));
                    }
                    Ok((i, Amf::EcmaArray(assoc)))
                }
            }
            0x0a => self.object(i, depth),
            0x0c => {
                let (i, u) = u29(i)?;
                if u & 1 == 0 {
                    return Ok((i, Amf::Reference(u >> 1)));
                }
                let (i, bytes) = take(u >> 1)(i)?;
                self.objects += 1;
                Ok((i, Amf::ByteArray(bytes.to_vec())))
            }
            // Vectors and dictionaries never appear in RTMP commands.
            _ => fail(i),
        }
    }

    /// `name value` pairs until an empty name (AMF3 associative array part and
    /// dynamic object members).
    fn dynamic_members<'a>(
        &mut self,
        mut i: &'a [u8],
        depth: u32,
        out: &mut Vec<(String, Amf)>,
    ) -> IResult<&'a [u8], ()> {
        loop {
            let (rest, key) = self.string(i)?;
            i = rest;
            if key.is_empty() {
                return Ok((i, ()));
            }
            let (rest, v) = self.value(i, depth + 1)?;
            out.push((key, v));
            i = rest;
        }
    }

    fn object<'a>(&mut self, i: &'a [u8], depth: u32) -> IResult<&'a [u8], Amf> {
        let (mut i, u) = u29(i)?;
        if u & 1 == 0 {
            return Ok((i, Amf::Reference(u >> 1)));
        }
        let traits = if u & 2 == 0 {
            match self.traits.get((u >> 2) as usize) {
                Some(t) => t.clone(),
                None => return fail(i),
            }
        } else {
            if u & 4 != 0 {
                // Externalizable: the class defines its own encoding; cannot decode.
                return fail(i);
            }
            let (rest, class) = self.string(i)?;
            i = rest;
            let mut sealed = Vec::new();
            for _ in 0..(u >> 4) {
                let (rest, name) = self.string(i)?;
                sealed.push(name);
                i = rest;
            }
            let t = Traits {
                class,
                dynamic: u & 8 != 0,
                sealed,
            };
            self.traits.push(t.clone());
            t
        };
        self.objects += 1;
        let mut properties = Vec::new();
        for name in &traits.sealed {
            let (rest, v) = self.value(i, depth + 1)?;
            properties.push((name.clone(), v));
            i = rest;
        }
        if traits.dynamic {
            i = self.dynamic_members(i, depth, &mut properties)?.0;
        }
        if traits.class.is_empty() {
            Ok((i, Amf::Object(properties)))
        } else {
            Ok((
                i,
                Amf::TypedObject {
                    class: traits.class,
                    properties,
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amf0_decodes_the_connect_command_of_ffmpeg() {
        // publish.c2s.bin offset 3073, payload of the first message ("connect").
        let payload: &[u8] = &[
            0x02, 0x00, 0x07, b'c', b'o', b'n', b'n', b'e', b'c', b't', 0x00, 0x3f, 0xf0, 0, 0, 0,
            0, 0, 0, 0x03, 0x00, 0x03, b'a', b'p', b'p', 0x02, 0x00, 0x04, b'l', b'i', b'v', b'e',
            0x00, 0x00, 0x09,
        ];
        let (values, complete) = amf0_values(payload);
        assert!(complete);
        assert_eq!(values[0], Amf::String("connect".into()));
        assert_eq!(values[1], Amf::Number(1.0));
        assert_eq!(values[2].get("app").and_then(Amf::as_str), Some("live"));
    }

    #[test]
    fn amf0_strict_array_with_absurd_count_fails_without_allocating() {
        let payload = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x05];
        assert!(amf0_value(&payload, 0).is_err());
    }

    #[test]
    fn amf0_string_longer_than_the_payload_fails() {
        assert!(amf0_value(&[0x02, 0xff, 0xff, b'a'], 0).is_err());
        assert!(amf0_value(&[0x0c, 0xff, 0xff, 0xff, 0xff, b'a'], 0).is_err());
    }

    #[test]
    fn amf0_nesting_deeper_than_the_cap_fails_instead_of_overflowing_the_stack() {
        let mut payload = [0x0a, 0, 0, 0, 1].repeat(10_000);
        payload.push(0x05);
        assert!(amf0_value(&payload, 0).is_err());
    }

    #[test]
    fn amf3_object_with_sealed_and_dynamic_members_and_string_references() {
        // AMF0 avmplus switch, then an AMF3 dynamic anonymous object with one sealed
        // member "a" = 5 and dynamic "b" = the string "a" (a string reference).
        let payload = [
            0x11, 0x0a, 0x1b, 0x01, 0x03, b'a', 0x04, 0x05, 0x03, b'b', 0x06, 0x00, 0x01,
        ];
        let (rest, v) = amf0_value(&payload, 0).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            v,
            Amf::Object(vec![
                ("a".into(), Amf::Integer(5)),
                ("b".into(), Amf::String("a".into()))
            ])
        );
    }

    #[test]
    fn amf3_integer_is_sign_extended_from_29_bits() {
        let (_, v) = Amf3Reader::default()
            .value(&[0x04, 0xff, 0xff, 0xff, 0xff], 0)
            .unwrap();
        assert_eq!(v, Amf::Integer(-1));
    }
}
