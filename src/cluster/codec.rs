//! How lagtap's functions travel in Ballista's plans: the client sends the scheduler
//! a logical plan, the scheduler sends executors physical plans, both as protobuf
//! through extension codecs. These codecs are Ballista's own (its shuffle and cache
//! nodes, file formats) with lagtap's functions added: a unit aggregate is written
//! as its name and configuration JSON and built again from them on the other side,
//! so an executor needs lagtap's codec, not a registry that knows the hosts' units.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use super::functions::{EventUdf, Unit, UnitUdaf, EVENT_UDF};

/// What is written for `lagtap_event` (it has no configuration; something must be
/// written so the decoder is asked rather than the executor's registry).
const EVENT_MARK: &[u8] = b"lagtap_event";

fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) -> bool {
    let ours = node.inner().is::<EventUdf>();
    if ours {
        buf.extend_from_slice(EVENT_MARK);
    }
    ours
}

fn decode_udf(name: &str, buf: &[u8]) -> Option<Arc<ScalarUDF>> {
    (name == EVENT_UDF && buf == EVENT_MARK).then(|| Arc::new(EventUdf::udf()))
}

fn encode_udaf(node: &AggregateUDF, buf: &mut Vec<u8>) -> bool {
    match node.inner().downcast_ref::<UnitUdaf>() {
        Some(u) => {
            buf.extend_from_slice(u.config_json().as_bytes());
            true
        }
        None => false,
    }
}

fn decode_udaf(name: &str, buf: &[u8]) -> Option<Result<Arc<AggregateUDF>>> {
    let unit = Unit::from_function_name(name)?;
    Some(
        std::str::from_utf8(buf)
            .map_err(|e| datafusion::common::exec_datafusion_err!("{name}: {e}"))
            .and_then(|json| UnitUdaf::from_json(unit, json.to_string()))
            .map(Arc::new),
    )
}

/// The function methods both codecs share: lagtap's functions here, the rest to
/// Ballista's codec (`self.inner`).
macro_rules! lagtap_functions {
    () => {
        fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
            match decode_udf(name, buf) {
                Some(f) => Ok(f),
                None => self.inner.try_decode_udf(name, buf),
            }
        }
        fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
            if encode_udf(node, buf) {
                return Ok(());
            }
            self.inner.try_encode_udf(node, buf)
        }
        fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
            match decode_udaf(name, buf) {
                Some(f) => f,
                None => self.inner.try_decode_udaf(name, buf),
            }
        }
        fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
            if encode_udaf(node, buf) {
                return Ok(());
            }
            self.inner.try_encode_udaf(node, buf)
        }
    };
}

/// Ballista's logical codec with lagtap's functions.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }
    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }
    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }
    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }
    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }
    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
    lagtap_functions!();
}

/// Ballista's physical codec with lagtap's functions.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }
    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }
    lagtap_functions!();
}
