//! JSON bodies read strictly: a key repeated inside any object is an error
//! (RFC 6749 section 3.1's rule for parameters, applied to JSON), where
//! `serde_json::Value` would silently keep the last one.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a JSON body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not JSON at all.
    Syntax,
    /// An object repeats a key.
    RepeatedKey,
}

/// Parse `bytes` as JSON, refusing repeated keys at any depth.
pub fn parse(bytes: &[u8]) -> Result<Value, Refused> {
    match serde_json::from_slice::<Unique>(bytes) {
        Ok(Unique(value)) => Ok(value),
        // The only data error a `Unique` can raise is a repeated key.
        Err(e) if e.classify() == serde_json::error::Category::Data => Err(Refused::RepeatedKey),
        Err(_) => Err(Refused::Syntax),
    }
}

/// A JSON value whose objects have unique keys.
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if object.insert(key, value).is_some() {
                return Err(de::Error::custom("repeated key"));
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_keep_their_types() {
        let parsed = parse(br#"{"a":[1,-2,1.5,true,null,"s"],"b":{"c":{}}}"#).unwrap();
        assert_eq!(
            parsed,
            json!({"a": [1, -2, 1.5, true, null, "s"], "b": {"c": {}}})
        );
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for body in [
            r#"{"code":"a","code":"b"}"#,
            r#"{"fragment_params":{"x":1,"x":1}}"#,
            r#"[{"k":1,"k":2}]"#,
        ] {
            assert_eq!(parse(body.as_bytes()), Err(Refused::RepeatedKey), "{body}");
        }
        assert_eq!(parse(b"{"), Err(Refused::Syntax));
        assert_eq!(parse(b""), Err(Refused::Syntax));
    }
}
