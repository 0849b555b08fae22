//! A small JSON writer for lines whose shape is known in advance: an object's keys are
//! written as they are given (plain ASCII names need no escaping), its values through
//! [`WriteJson`]: integers with `itoa`, strings, floats and anything else with serde_json,
//! so that values come out byte for byte as serde_json writes them.

use serde::Serialize;

/// A value that writes itself as JSON into a buffer.
pub trait WriteJson {
    /// Appends this value's JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

/// Writes a JSON object whose keys are known: `write_object!(out, { "a": &x, "b": &y })`
/// appends `{"a":…,"b":…}` to `out` (a `&mut Vec<u8>`), each value through [`WriteJson`],
/// and returns early with the first error. Keys are written as they are (one copy of
/// `,"key":` each): letters, digits and `_` only.
macro_rules! write_object {
    ($out:expr, { $first_key:literal : $first:expr $(, $key:literal : $value:expr)* $(,)? }) => {{
        let out: &mut Vec<u8> = $out;
        out.extend_from_slice(concat!("{\"", $first_key, "\":").as_bytes());
        $crate::batch::json::WriteJson::write_json($first, out)?;
        $(
            out.extend_from_slice(concat!(",\"", $key, "\":").as_bytes());
            $crate::batch::json::WriteJson::write_json($value, out)?;
        )*
        out.push(b'}');
    }};
}
pub(crate) use write_object;

/// Writes `value` as serde_json does.
fn with_serde(value: &(impl Serialize + ?Sized), out: &mut Vec<u8>) -> serde_json::Result<()> {
    serde_json::to_writer(out, value)
}

impl WriteJson for str {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        with_serde(self, out)
    }
}

impl WriteJson for String {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        with_serde(self.as_str(), out)
    }
}

impl WriteJson for f64 {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        with_serde(self, out)
    }
}

impl WriteJson for serde_json::Value {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        with_serde(self, out)
    }
}

impl WriteJson for bool {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
        Ok(())
    }
}

/// Integers, written with `itoa`.
macro_rules! write_integer {
    ($($t:ty),*) => {$(
        impl WriteJson for $t {
            fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
                out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
                Ok(())
            }
        }
    )*};
}
write_integer!(u32, u64);

impl<T: WriteJson + ?Sized> WriteJson for &T {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        (**self).write_json(out)
    }
}

impl<T: WriteJson> WriteJson for Option<T> {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Some(value) => value.write_json(out),
            None => {
                out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }
}

impl<T: WriteJson> WriteJson for [T] {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'[');
        for (at, item) in self.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            item.write_json(out)?;
        }
        out.push(b']');
        Ok(())
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.as_slice().write_json(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: &(impl WriteJson + Serialize + ?Sized)) -> (String, String) {
        let mut out = Vec::new();
        value.write_json(&mut out).unwrap();
        (
            String::from_utf8(out).unwrap(),
            serde_json::to_string(value).unwrap(),
        )
    }

    #[test]
    fn values_come_out_as_serde_json_writes_them() {
        for (ours, serde) in [
            written("a \"quoted\" \\ line\n\u{1b}[2J é"),
            written(&u64::MAX),
            written(&0u32),
            written(&true),
            written(&Some(f64::NAN)),
            written(&[0.1f64, 1e21, -0.0, 1.5e-7, 100.0][..]),
            written(&None::<u64>),
            written(&vec![Some(1u64), None]),
            written(&serde_json::json!({"b": [1, "x"], "a": null})),
        ] {
            assert_eq!(ours, serde);
        }
        fn object(out: &mut Vec<u8>) -> serde_json::Result<()> {
            write_object!(out, { "first": &1u32, "second_2": &Some("two"), "third": &[true][..] });
            Ok(())
        }
        let mut out = Vec::new();
        object(&mut out).unwrap();
        assert_eq!(out, br#"{"first":1,"second_2":"two","third":[true]}"#);
    }
}
