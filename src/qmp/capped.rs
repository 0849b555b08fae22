//! Decoding JSON into a `serde_json::Value` within a memory budget.
//!
//! The peer decides how big its messages are (up to the line limit), and a decoded `Value`
//! can take sixteen times the bytes of its JSON (an array of one-digit numbers). Here every
//! value is charged about what it costs in memory; once the budget is spent, long strings are
//! cut and the rest of an array or object is skipped without being decoded. Each cut is marked
//! in the value (`… [9.9 MiB cut]`) and the bytes left out are counted. Input within the
//! budget decodes exactly as `serde_json::from_str` would decode it.

use crate::format;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// What a value costs besides the bytes of its strings.
const NODE: usize = std::mem::size_of::<Value>();

/// A value decoded within a budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Capped {
    /// The value, with any cut marked in it.
    pub value: Value,
    /// Bytes of the input left out (0 when the value is whole).
    pub cut_bytes: u64,
}

/// Decodes the JSON text `json`, keeping about `budget` bytes of memory at most.
pub fn decode(json: &str, budget: usize) -> Result<Capped, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let mut spend = Spend {
        left: budget,
        cut: 0,
    };
    let value = Seed { spend: &mut spend }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(Capped {
        value,
        cut_bytes: spend.cut,
    })
}

/// About what `value` costs in memory, counted the way [`decode`] charges it.
pub fn cost(value: &Value) -> usize {
    NODE + match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(cost).sum(),
        Value::Object(members) => members.iter().map(|(k, v)| k.len() + cost(v)).sum(),
        _ => 0,
    }
}

/// `text` cut to at most `max` bytes (at a character boundary), with the cut marked; the
/// number of bytes left out.
pub fn cut_text(text: &str, max: usize) -> (String, u64) {
    if text.len() <= max {
        return (text.to_string(), 0);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = (text.len() - end) as u64;
    (
        format!("{}… [{} cut]", &text[..end], format::bytes(cut)),
        cut,
    )
}

struct Spend {
    left: usize,
    cut: u64,
}

impl Spend {
    fn charge(&mut self, cost: usize) {
        self.left = self.left.saturating_sub(cost);
    }

    fn string(&mut self, text: &str) -> String {
        let room = self.left.saturating_sub(NODE);
        let (kept, cut) = cut_text(text, room);
        self.charge(NODE + text.len().min(room));
        self.cut += cut;
        kept
    }

    fn owned_string(&mut self, text: String) -> String {
        if text.len() + NODE <= self.left {
            self.charge(NODE + text.len());
            text
        } else {
            self.string(&text)
        }
    }

    /// Notes `count` skipped items of `bytes` bytes; the marker to put in their place.
    fn skipped(&mut self, count: u64, bytes: u64, what: &str) -> String {
        self.cut += bytes;
        format!("… [{count} more {what}, {} cut]", format::bytes(bytes))
    }
}

struct Seed<'s> {
    spend: &'s mut Spend,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        self.spend.charge(NODE);
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        self.spend.charge(NODE);
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        self.spend.charge(NODE);
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        self.spend.charge(NODE);
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(self.spend.string(value)))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(self.spend.owned_string(value)))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        self.spend.charge(NODE);
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        self.spend.charge(NODE);
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.spend.charge(NODE);
        let mut items = Vec::new();
        while self.spend.left >= NODE {
            match seq.next_element_seed(Seed {
                spend: &mut *self.spend,
            })? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
        // Out of budget: the rest is only scanned, as text borrowed from the input.
        let (mut count, mut bytes) = (0u64, 0u64);
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            count += 1;
            // With its separator.
            bytes += raw.get().len() as u64 + 1;
        }
        if count > 0 {
            items.push(Value::String(self.spend.skipped(count, bytes, "items")));
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.spend.charge(NODE);
        let mut members = Map::new();
        while self.spend.left >= NODE {
            // A key is a string: decoded (and cut) like any string.
            let key = match map.next_key_seed(Seed {
                spend: &mut *self.spend,
            })? {
                Some(Value::String(key)) => key,
                Some(other) => other.to_string(),
                None => return Ok(Value::Object(members)),
            };
            let value = map.next_value_seed(Seed {
                spend: &mut *self.spend,
            })?;
            members.insert(key, value);
        }
        let (mut count, mut bytes) = (0u64, 0u64);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let raw = map.next_value::<&'de RawValue>()?;
            count += 1;
            // With the key's quotes, the colon and the separator.
            bytes += (key.len() + raw.get().len() + 4) as u64;
        }
        if count > 0 {
            let marker = self.spend.skipped(count, bytes, "members");
            members.insert("…".to_string(), Value::String(marker));
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn within_budget_nothing_changes() {
        let text = r#"{"device": "disk0", "n": [1, -2, 3.5, null, true], "x": {"y": "é"}}"#;
        let capped = decode(text, 1 << 20).unwrap();
        assert_eq!(capped.value, serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(capped.cut_bytes, 0);
    }

    #[test]
    fn long_strings_are_cut_and_counted() {
        let reason = "r".repeat(1 << 20);
        let text = json!({"device": "disk0", "reason": reason}).to_string();
        let capped = decode(&text, 4096).unwrap();
        assert_eq!(capped.value["device"], "disk0");
        let kept = capped.value["reason"].as_str().unwrap();
        assert!(kept.starts_with("rrrr"), "{kept}");
        assert!(kept.ends_with(" cut]"), "{}", &kept[kept.len() - 20..]);
        assert!(kept.len() < 4096, "{}", kept.len());
        assert!(capped.cut_bytes > (1 << 20) - 4096, "{}", capped.cut_bytes);
    }

    #[test]
    fn big_arrays_and_objects_are_cut_without_being_decoded() {
        let zeros = format!("[{}0]", "0,".repeat(1 << 20));
        let capped = decode(&zeros, 64 * 1024).unwrap();
        let items = capped.value.as_array().unwrap();
        assert!(items.len() < 64 * 1024 / NODE + 2, "{}", items.len());
        let marker = items.last().unwrap().as_str().unwrap();
        assert!(marker.contains("more items"), "{marker}");
        assert!(cost(&capped.value) < 2 * 64 * 1024);
        let members: Map<String, Value> =
            (0..10_000).map(|n| (format!("k{n}"), json!(n))).collect();
        let capped = decode(&Value::Object(members).to_string(), 4096).unwrap();
        assert!(capped.value["…"].as_str().unwrap().contains("more members"));
        assert!(capped.cut_bytes > 0);
    }

    #[test]
    fn bad_json_is_the_parser_error() {
        let error = decode("{\"a\": ", 1024).unwrap_err();
        let expected = serde_json::from_str::<Value>("{\"a\": ").unwrap_err();
        assert_eq!(error.to_string(), expected.to_string());
        assert!(decode("[1] 2", 1024).is_err(), "trailing characters");
    }

    #[test]
    fn cut_text_keeps_whole_characters() {
        assert_eq!(cut_text("abc", 3), ("abc".to_string(), 0));
        let (kept, cut) = cut_text("éé", 3);
        assert_eq!(kept, "é… [2 B cut]");
        assert_eq!(cut, 2);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "\\PC{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map("\\PC{0,8}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn decodes_like_serde_json_within_budget(value in json_value()) {
            let text = value.to_string();
            let capped = decode(&text, 1 << 20).unwrap();
            prop_assert_eq!(capped.value, serde_json::from_str::<Value>(&text).unwrap());
            prop_assert_eq!(capped.cut_bytes, 0);
        }

        #[test]
        fn any_budget_keeps_memory_bounded(value in json_value(), budget in 0usize..512) {
            let text = value.to_string();
            let capped = decode(&text, budget).unwrap();
            // Every container entered was charged, and each may add one marker.
            prop_assert!(cost(&capped.value) <= 3 * budget + 4 * NODE, "{}", cost(&capped.value));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,64}", budget in 0usize..256) {
            let _ = decode(&text, budget);
        }
    }
}
