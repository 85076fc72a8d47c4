//! How cdrlake's plans travel between the client, the scheduler and the executors: Ballista's
//! own nodes through Ballista's codecs, lakehouse tables and scans as [`TableVersion`]s and
//! [`ScanSpec`]s, and `destination_zone` with the prefix table it was planned with (so every
//! node rates with the tariff the client saw, not whatever it loaded last).

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use cdrlake_catalog::DeltaProvider;
use cdrlake_udfs::rating::destination_zone::DestinationZone;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;
use serde::{Deserialize, Serialize};

use super::scan::{LakehouseScanExec, LakehouseTables, RemoteTable, ScanSpec, TableVersion};
use super::sink::{WriteFiles, WriteFilesExec, WriteFilesSpec};

/// Marks cdrlake's encodings among Ballista's protobuf ones (no protobuf message starts so).
const MAGIC: &[u8] = b"CDRLAKE1";

fn ours(buf: &[u8]) -> Option<&[u8]> {
    buf.strip_prefix(MAGIC)
}

fn encode_json(value: &impl Serialize, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(MAGIC);
    serde_json::to_writer(buf, value).map_err(|e| DataFusionError::External(Box::new(e)))
}

fn decode_json<T: for<'a> Deserialize<'a>>(buf: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(buf)
        .map_err(|e| DataFusionError::Internal(format!("cannot decode {what}: {e}")))
}

/// Functions whose state travels with the plan.
fn encode_udf(udf: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
    if let Some(zones) = udf.inner().downcast_ref::<DestinationZone>() {
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&zones.table_bytes()?);
    }
    Ok(())
}

fn decode_udf(name: &str, buf: &[u8]) -> Result<Option<Arc<ScalarUDF>>> {
    match (name, ours(buf)) {
        ("destination_zone", Some(table)) => Ok(Some(Arc::new(ScalarUDF::new_from_impl(
            DestinationZone::with_table_bytes(table)?,
        )))),
        _ => Ok(None),
    }
}

/// The one input of a decoded write of files (logical or physical).
fn write_input<T>(inputs: &[T]) -> Result<&T> {
    match inputs {
        [input] => Ok(input),
        _ => Err(DataFusionError::Internal(format!(
            "a write of files has one input, not {}",
            inputs.len()
        ))),
    }
}

#[derive(Debug)]
pub struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
    tables: Arc<LakehouseTables>,
}

impl LogicalCodec {
    pub fn new(tables: Arc<LakehouseTables>) -> Self {
        Self {
            ballista: BallistaLogicalExtensionCodec::default(),
            tables,
        }
    }
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        let Some(buf) = ours(buf) else {
            return self.ballista.try_decode(buf, inputs, ctx);
        };
        let spec: WriteFilesSpec = decode_json(buf, "a write of files")?;
        Ok(Extension {
            node: Arc::new(WriteFiles::new(write_input(inputs)?.clone(), spec)?),
        })
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        match node.node.as_any().downcast_ref::<WriteFiles>() {
            Some(write) => encode_json(write.spec(), buf),
            None => self.ballista.try_encode(node, buf),
        }
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some(buf) = ours(buf) else {
            return self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let table: TableVersion = decode_json(buf, "a lakehouse table")?;
        self.tables.check(&table)?;
        Ok(Arc::new(RemoteTable::new(
            table,
            schema,
            self.tables.clone(),
        )))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(provider) = node.downcast_ref::<DeltaProvider>() else {
            return self
                .ballista
                .try_encode_table_provider(table_ref, node, buf);
        };
        let table = table_version(&self.tables.root(), provider).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "{table_ref} is not a whole lakehouse table and cannot be read on the cluster"
            ))
        })?;
        encode_json(&table, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match decode_udf(name, buf)? {
            Some(udf) => Ok(udf),
            None => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf)
    }
}

/// The version a provider reads, when it is a whole lakehouse table.
pub fn table_version(root: &str, provider: &DeltaProvider) -> Option<TableVersion> {
    let (schema, table) = provider.name()?;
    Some(TableVersion {
        root: root.to_string(),
        schema: schema.to_string(),
        table: table.to_string(),
        version: provider.delta_table().version()?,
    })
}

/// cdrlake's physical nodes on the wire.
#[derive(Serialize, Deserialize)]
enum PhysicalWire {
    Scan(ScanWire),
    WriteFiles(WriteFilesSpec),
}

/// A scan on the wire: its spec, partition count and output schema.
#[derive(Serialize, Deserialize)]
struct ScanWire {
    spec: ScanSpec,
    partitions: usize,
    /// DataFusion's protobuf schema.
    schema: Vec<u8>,
}

#[derive(Debug)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
    tables: Arc<LakehouseTables>,
}

impl PhysicalCodec {
    pub fn new(tables: Arc<LakehouseTables>) -> Self {
        Self {
            ballista: BallistaPhysicalExtensionCodec::default(),
            tables,
        }
    }
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(buf) = ours(buf) else {
            return self.ballista.try_decode(buf, inputs, ctx, converter);
        };
        let wire = match decode_json(buf, "a cdrlake plan node")? {
            PhysicalWire::Scan(wire) => wire,
            PhysicalWire::WriteFiles(spec) => {
                return Ok(Arc::new(WriteFilesExec::new(
                    write_input(inputs)?.clone(),
                    spec,
                    self.tables.clone(),
                )));
            }
        };
        self.tables.check(&wire.spec.table)?;
        let schema = datafusion_proto::protobuf::Schema::decode(wire.schema.as_slice())
            .map_err(|e| DataFusionError::Internal(format!("cannot decode a scan schema: {e}")))?;
        let schema = Arc::new(Schema::try_from(&schema)?);
        Ok(Arc::new(LakehouseScanExec::new(
            wire.spec,
            wire.partitions,
            schema,
            self.tables.clone(),
            None,
        )))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(write) = node.downcast_ref::<WriteFilesExec>() {
            return encode_json(&PhysicalWire::WriteFiles(write.spec().clone()), buf);
        }
        let Some(scan) = node.downcast_ref::<LakehouseScanExec>() else {
            return self.ballista.try_encode(node, buf, converter);
        };
        let schema: datafusion_proto::protobuf::Schema = node.schema().as_ref().try_into()?;
        let wire = ScanWire {
            spec: scan.spec().clone(),
            partitions: scan.partitions(),
            schema: schema.encode_to_vec(),
        };
        encode_json(&PhysicalWire::Scan(wire), buf)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match decode_udf(name, buf)? {
            Some(udf) => Ok(udf),
            None => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf)
    }
}
