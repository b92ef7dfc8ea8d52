//! lagtap's user-defined functions for DataFusion: `lagtap_event`, a row of any event
//! table as the event's JSON, and the unit aggregates (`lagtap_host_unit`,
//! `lagtap_messaging_unit`, `lagtap_media_unit`), which gather one unit's events and
//! call its function in `correlate::units`, returning the unit's result as JSON.
//!
//! The aggregates carry what their unit needs beyond its events (the options, the
//! kept hosts' units) as JSON inside the function, so a plan names everything it
//! runs; `codec.rs` writes that JSON into the plans Ballista ships to executors.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, LargeStringArray, LargeStringBuilder, RecordBatch, UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, UInt64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_datafusion_err, exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::correlate::units::{self, HostUnit};
use crate::correlate::{CorrelateOptions, HostEvents};
use crate::events::Event;

/// `lagtap_event(kind, columns, host, col...)`: each row of a `kind` table as its
/// event's JSON (the JSON Lines form). `columns` names the columns after `host`,
/// comma-separated, as a literal.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EventUdf {
    signature: Signature,
}

pub const EVENT_UDF: &str = "lagtap_event";

impl EventUdf {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(EventUdf {
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }
}

/// A literal string argument.
fn literal(v: &ColumnarValue, what: &str) -> Result<String> {
    match v {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s)))
        | ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some(s)))
        | ColumnarValue::Scalar(ScalarValue::Utf8View(Some(s))) => Ok(s.clone()),
        _ => exec_err!("{EVENT_UDF}: the {what} must be a string literal"),
    }
}

/// A string column as `LargeUtf8`, whatever string type the plan gave it.
fn large_strings(a: &ArrayRef) -> Result<LargeStringArray> {
    Ok(cast(a, &DataType::LargeUtf8)?.as_string::<i64>().clone())
}

impl ScalarUDFImpl for EventUdf {
    fn name(&self) -> &str {
        EVENT_UDF
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() < 3 {
            return exec_err!("{EVENT_UDF}(kind, columns, host, col...)");
        }
        let kind = literal(&args.args[0], "kind")?;
        let names = literal(&args.args[1], "column list")?;
        let arrays = ColumnarValue::values_to_arrays(&args.args[2..])?;
        let hosts = large_strings(&arrays[0])?;
        let columns = &arrays[1..];
        let names: Vec<&str> = names.split(',').collect();
        if names.len() != columns.len() {
            return exec_err!(
                "{EVENT_UDF}: {} names for {} columns",
                names.len(),
                columns.len()
            );
        }
        let fields: Vec<Field> = names
            .iter()
            .zip(columns)
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.to_vec())?;
        let rows: Vec<Map<String, Value>> = serde_arrow::from_record_batch(&batch)
            .map_err(|e| exec_datafusion_err!("{kind} rows: {e}"))?;
        let mut out = LargeStringBuilder::new();
        for (i, row) in rows.into_iter().enumerate() {
            let (_, event) = crate::events::parquet::event_from_row(&kind, hosts.value(i), row)
                .map_err(|e| exec_datafusion_err!("{kind} row: {e:#}"))?;
            let json = serde_json::to_string(&event)
                .map_err(|e| exec_datafusion_err!("{kind} event as JSON: {e}"))?;
            out.append_value(json);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Which unit an aggregate runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Grouped by host: [`units::host_unit`], a [`HostUnit`].
    Host,
    /// Grouped by chat channel: [`units::messaging_unit`], a `Messaging`.
    Messaging,
    /// One group: [`units::media_unit`], a [`units::Media`].
    Media,
}

impl Unit {
    pub fn function_name(self) -> &'static str {
        match self {
            Unit::Host => "lagtap_host_unit",
            Unit::Messaging => "lagtap_messaging_unit",
            Unit::Media => "lagtap_media_unit",
        }
    }

    pub fn from_function_name(name: &str) -> Option<Unit> {
        [Unit::Host, Unit::Messaging, Unit::Media]
            .into_iter()
            .find(|u| u.function_name() == name)
    }
}

/// What a unit needs beside its events.
#[derive(Debug, Serialize, Deserialize)]
pub struct UnitConfig {
    pub opts: CorrelateOptions,
    /// Host unit: each host's input as the report names it (its `file`).
    pub files: BTreeMap<String, String>,
    /// Messaging and media units: the kept hosts' units, in input order.
    pub hosts: Vec<HostUnit>,
}

/// `lagtap_*_unit(host, seq, event)`: one unit's result (JSON) from its events.
#[derive(Debug)]
pub struct UnitUdaf {
    unit: Unit,
    /// The [`UnitConfig`] as JSON: what the plan carries, and what equality means.
    config_json: String,
    config: Arc<UnitConfig>,
    signature: Signature,
}

impl PartialEq for UnitUdaf {
    fn eq(&self, other: &Self) -> bool {
        (self.unit, &self.config_json) == (other.unit, &other.config_json)
    }
}
impl Eq for UnitUdaf {}
impl Hash for UnitUdaf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.unit, &self.config_json).hash(state)
    }
}

impl UnitUdaf {
    pub fn udaf(unit: Unit, config: &UnitConfig) -> Result<AggregateUDF> {
        let json = serde_json::to_string(config)
            .map_err(|e| exec_datafusion_err!("unit configuration as JSON: {e}"))?;
        Self::from_json(unit, json)
    }

    /// The function again from [`UnitUdaf::config_json`] (an executor decoding a plan).
    pub fn from_json(unit: Unit, json: String) -> Result<AggregateUDF> {
        let config: UnitConfig = serde_json::from_str(&json)
            .map_err(|e| exec_datafusion_err!("a lagtap unit configuration: {e}"))?;
        Ok(AggregateUDF::new_from_impl(UnitUdaf {
            unit,
            config_json: json,
            config: Arc::new(config),
            signature: Signature::exact(
                vec![DataType::LargeUtf8, DataType::UInt64, DataType::LargeUtf8],
                Volatility::Immutable,
            ),
        }))
    }

    pub fn config_json(&self) -> &str {
        &self.config_json
    }
}

impl AggregateUDFImpl for UnitUdaf {
    fn name(&self) -> &str {
        self.unit.function_name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |what: &str, item: DataType| {
            Arc::new(Field::new(
                format!("{}[{what}]", args.name),
                DataType::new_list(item, true),
                true,
            ))
        };
        Ok(vec![
            list("hosts", DataType::LargeUtf8),
            list("seqs", DataType::UInt64),
            list("events", DataType::LargeUtf8),
        ])
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(UnitAccumulator {
            unit: self.unit,
            config: self.config.clone(),
            rows: Vec::new(),
            bytes: 0,
        }))
    }
}

/// One group's events, gathered until the group is complete.
#[derive(Debug)]
struct UnitAccumulator {
    unit: Unit,
    config: Arc<UnitConfig>,
    /// (host, seq, event JSON).
    rows: Vec<(String, u64, String)>,
    bytes: usize,
}

impl UnitAccumulator {
    fn push(&mut self, hosts: &LargeStringArray, seqs: &UInt64Array, events: &LargeStringArray) {
        for i in 0..hosts.len() {
            if hosts.is_null(i) || seqs.is_null(i) || events.is_null(i) {
                continue;
            }
            let (h, e) = (hosts.value(i), events.value(i));
            self.bytes += h.len() + e.len() + 64;
            self.rows
                .push((h.to_string(), seqs.value(i), e.to_string()));
        }
    }

    /// The group's events by host, each host's in timeline (`seq`) order.
    fn by_host(&mut self) -> Result<BTreeMap<String, Vec<Event>>> {
        self.rows
            .sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let mut out: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        for (host, _, json) in &self.rows {
            let e: Event = serde_json::from_str(json)
                .map_err(|e| exec_datafusion_err!("an event of host {host}: {e}"))?;
            out.entry(host.clone()).or_default().push(e);
        }
        Ok(out)
    }

    /// The kept hosts with their events in this group (none for a host without any).
    fn kept_hosts(&mut self) -> Result<Vec<HostEvents>> {
        let mut by_host = self.by_host()?;
        Ok(self
            .config
            .hosts
            .iter()
            .map(|u| HostEvents {
                name: u.info.name.clone(),
                file: u.info.file.clone(),
                events: by_host.remove(&u.info.name).unwrap_or_default(),
            })
            .collect())
    }

    fn result(&mut self) -> Result<String> {
        let config = self.config.clone();
        let opts = &config.opts;
        let json = match self.unit {
            Unit::Host => {
                let by_host = self.by_host()?;
                let [(name, events)] = <[_; 1]>::try_from(by_host.into_iter().collect::<Vec<_>>())
                    .map_err(|v| exec_datafusion_err!("a host unit of {} hosts", v.len()))?;
                let file = config.files.get(&name).cloned().unwrap_or_default();
                let h = HostEvents { name, file, events };
                serde_json::to_string(&units::host_unit(&h, opts))
            }
            Unit::Messaging => {
                let hosts = self.kept_hosts()?;
                serde_json::to_string(&units::messaging_unit(&hosts, &config.hosts, opts))
            }
            Unit::Media => {
                let hosts = self.kept_hosts()?;
                serde_json::to_string(&units::media_unit(&hosts, &config.hosts, opts))
            }
        };
        json.map_err(|e| exec_datafusion_err!("a unit's result as JSON: {e}"))
    }
}

impl Accumulator for UnitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [h, s, e] = values else {
            return exec_err!("a lagtap unit takes (host, seq, event)");
        };
        let seqs = cast(s, &DataType::UInt64)?;
        self.push(
            &large_strings(h)?,
            seqs.as_primitive::<UInt64Type>(),
            &large_strings(e)?,
        );
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [h, s, e] = states else {
            return exec_err!("a lagtap unit's state is (hosts, seqs, events)");
        };
        let (h, s, e) = (h.as_list::<i32>(), s.as_list::<i32>(), e.as_list::<i32>());
        for i in 0..h.len() {
            if h.is_null(i) {
                continue;
            }
            let seqs = s.value(i);
            self.push(
                &large_strings(&h.value(i))?,
                seqs.as_primitive::<UInt64Type>(),
                &large_strings(&e.value(i))?,
            );
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let rows = std::mem::take(&mut self.rows);
        self.bytes = 0;
        let hosts = LargeStringArray::from_iter_values(rows.iter().map(|r| r.0.as_str()));
        let seqs = UInt64Array::from_iter_values(rows.iter().map(|r| r.1));
        let events = LargeStringArray::from_iter_values(rows.iter().map(|r| r.2.as_str()));
        let list = |a: ArrayRef| SingleRowListArrayBuilder::new(a).build_list_scalar();
        Ok(vec![
            list(Arc::new(hosts)),
            list(Arc::new(seqs)),
            list(Arc::new(events)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::LargeUtf8(Some(self.result()?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bytes
    }
}
