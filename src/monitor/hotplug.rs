//! Hot-plug: parses a `-device`-style spec (`driver,id=ID,prop=value`) into `device_add`'s
//! QMP arguments, and lists the devices that have ids (`/machine/peripheral`).
//!
//! The spec goes to QEMU as JSON, never as an HMP command line, so a value may hold any
//! printable text; names are still checked so that mistakes are caught before sending.

use super::network::valid_id;
use serde::Deserialize;
use serde_json::{Map, Value};

/// How a spec is written, for prompts and errors.
pub const SPEC_SYNTAX: &str = "DRIVER[,id=ID][,PROPERTY=VALUE…], e.g. usb-tablet,id=tablet0";

/// A device to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The driver (`usb-tablet`, `virtio-balloon-pci`…).
    pub driver: String,
    /// The id (given, or chosen by [`DeviceSpec::parse`]).
    pub id: String,
    /// Other properties, in order, as strings (QEMU converts them as on its command line).
    pub properties: Vec<(String, String)>,
}

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed device '{spec}': {reason}; write {SPEC_SYNTAX}")]
pub struct SpecError {
    /// The spec as typed.
    pub spec: String,
    /// What is wrong.
    pub reason: String,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// Splits at single commas; `,,` is a literal comma, as on QEMU's command line.
fn split_commas(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                if let Some(part) = parts.last_mut() {
                    part.push(',');
                }
            } else {
                parts.push(String::new());
            }
        } else if let Some(part) = parts.last_mut() {
            part.push(c);
        }
    }
    parts
}

impl DeviceSpec {
    /// Parses a spec; without `id=`, one is made from the driver that is not in `taken`.
    pub fn parse(spec: &str, taken: &[String]) -> Result<DeviceSpec, SpecError> {
        let error = |reason: String| SpecError {
            spec: spec.to_string(),
            reason,
        };
        let text = spec.trim();
        if text.is_empty() {
            return Err(error("it is empty".to_string()));
        }
        if text.chars().any(char::is_control) {
            return Err(error("it holds control characters".to_string()));
        }
        let mut parts = split_commas(text).into_iter();
        let driver = parts.next().unwrap_or_default();
        if let Some(rest) = driver.strip_prefix("driver=") {
            return Err(error(format!(
                "start with the driver name itself ('{rest},…'), not 'driver='"
            )));
        }
        if !valid_name(&driver) {
            return Err(error(format!(
                "'{driver}' is not a driver name (letters, digits, '-', '.', '_')"
            )));
        }
        let mut id = None;
        let mut properties: Vec<(String, String)> = Vec::new();
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                return Err(error(format!("'{part}' is not PROPERTY=VALUE")));
            };
            if !valid_name(key) {
                return Err(error(format!("'{key}' is not a property name")));
            }
            if key == "driver" {
                return Err(error("the driver is given twice".to_string()));
            }
            if key == "id" {
                if id.is_some() {
                    return Err(error("id is given twice".to_string()));
                }
                if !valid_id(value) {
                    return Err(error(format!(
                        "the id '{value}' must start with a letter and hold only letters, digits, '-', '.', '_'"
                    )));
                }
                id = Some(value.to_string());
                continue;
            }
            if properties.iter().any(|(k, _)| k == key) {
                return Err(error(format!("'{key}' is given twice")));
            }
            properties.push((key.to_string(), value.to_string()));
        }
        let id = id.unwrap_or_else(|| free_id(&driver, taken));
        Ok(DeviceSpec {
            driver,
            id,
            properties,
        })
    }

    /// The arguments of QMP `device_add`.
    pub fn arguments(&self) -> Value {
        let mut map = Map::new();
        map.insert("driver".into(), Value::String(self.driver.clone()));
        map.insert("id".into(), Value::String(self.id.clone()));
        for (key, value) in &self.properties {
            map.insert(key.clone(), Value::String(value.clone()));
        }
        Value::Object(map)
    }
}

/// `driver0`, `driver1`… (letters only at the start, as ids need), the first not taken.
fn free_id(driver: &str, taken: &[String]) -> String {
    let base: String = driver
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let base = if base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        base
    } else {
        format!("dev-{base}")
    };
    (0..)
        .map(|n| format!("{base}{n}"))
        .find(|id| !taken.contains(id))
        .unwrap_or(base)
}

/// A device with an id, from `qom-list /machine/peripheral`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peripheral {
    /// The id.
    pub id: String,
    /// Its type (the driver).
    pub driver: String,
}

#[derive(Deserialize)]
struct QomProperty {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The device drivers `device_add` takes: `qom-list-types` of concrete device types.
pub async fn device_types(client: &crate::qmp::Client) -> Result<Vec<String>, super::MonitorError> {
    let reply = client
        .execute(
            "qom-list-types",
            Some(serde_json::json!({"implements": "device", "abstract": false})),
        )
        .await?;
    let mut names: Vec<String> = reply
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    names.sort();
    Ok(names)
}

/// Turns `qom-list /machine/peripheral` into devices (the `child<TYPE>` entries).
pub fn peripherals(reply: Value) -> Vec<Peripheral> {
    let properties: Vec<QomProperty> = serde_json::from_value(reply).unwrap_or_default();
    let mut devices: Vec<Peripheral> = properties
        .into_iter()
        .filter_map(|p| {
            let driver = p.kind.strip_prefix("child<")?.strip_suffix('>')?;
            Some(Peripheral {
                id: p.name,
                driver: driver.to_string(),
            })
        })
        .collect();
    devices.sort_by(|a, b| a.id.cmp(&b.id));
    devices
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn specs_become_device_add_arguments() {
        let spec = DeviceSpec::parse("usb-tablet,id=t0,port=1", &[]).unwrap();
        assert_eq!(
            spec.arguments(),
            json!({"driver": "usb-tablet", "id": "t0", "port": "1"})
        );
        let spec = DeviceSpec::parse("virtio-net-pci,mac=52:54:00:00:00:01", &[]).unwrap();
        assert_eq!(spec.id, "virtio-net-pci0");
        let taken = vec!["usb-kbd0".to_string()];
        assert_eq!(DeviceSpec::parse("usb-kbd", &taken).unwrap().id, "usb-kbd1");
        let spec = DeviceSpec::parse("x,id=a,serial=a,,b", &[]).unwrap();
        assert_eq!(spec.properties, vec![("serial".into(), "a,b".into())]);
    }

    #[test]
    fn bad_specs_are_named() {
        for (spec, expected) in [
            ("", "empty"),
            ("driver=usb-tablet", "not 'driver='"),
            ("usb tablet", "not a driver name"),
            ("usb-tablet,id", "not PROPERTY=VALUE"),
            ("usb-tablet,id=0t", "must start with a letter"),
            ("usb-tablet,id=a,id=b", "id is given twice"),
            ("usb-tablet,port=1,port=2", "given twice"),
            ("usb-tablet,id=a\nquit", "control characters"),
        ] {
            let error = DeviceSpec::parse(spec, &[]).unwrap_err().to_string();
            assert!(error.contains(expected), "{spec:?}: {error}");
        }
    }

    #[test]
    fn qom_list_gives_peripherals() {
        let reply = json!([
            {"name": "type", "type": "string"},
            {"name": "t0", "type": "child<usb-tablet>"},
            {"name": "xhci", "type": "child<qemu-xhci>"}
        ]);
        let devices = peripherals(reply);
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0].id, "t0");
        assert_eq!(devices[0].driver, "usb-tablet");
    }
}
