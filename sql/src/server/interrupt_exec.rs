//! Interrupt checks inside execution: every batch a scan (any leaf of a
//! physical plan) produces first looks whether its session's statement was
//! cancelled or ran out of time, and fails with 57014 if so.
//!
//! [`super::cancel::Interrupts::run`] stops a statement when its task
//! yields, but a statement that consumes a stream and does much work per
//! batch (`INSERT … SELECT`: encoding, uniqueness checks) may run for
//! seconds between yields: tokio's cooperative budget lets 128 batches
//! through per poll. A check per leaf batch bounds that to one batch, as
//! PostgreSQL's `CHECK_FOR_INTERRUPTS` in its scan loops does.
//!
//! The wrapper is invisible: it shows and downcasts as the scan it wraps,
//! and is added last, after every DataFusion optimizer rule.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{RecordBatchStream, TaskContext};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
    SendableRecordBatchStream, Statistics, StatisticsArgs,
};
use futures::Stream;

use super::cancel::Interrupts;

/// Adds the check to `ctx`'s plans, for the session `interrupts` belongs
/// to.
pub fn install(ctx: &SessionContext, interrupts: &Interrupts) {
    let rule = Arc::new(InterruptRule {
        interrupts: interrupts.clone(),
    });
    let state = ctx.state();
    let state = SessionStateBuilder::new_from_existing(state)
        .with_physical_optimizer_rule(rule)
        .build();
    *ctx.state_ref().write() = state;
}

/// Wraps every leaf of a physical plan in an [`InterruptCheck`].
#[derive(Debug)]
struct InterruptRule {
    interrupts: Interrupts,
}

impl PhysicalOptimizerRule for InterruptRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            // (Not `is::<InterruptCheck>()`: that looks through the wrapper.)
            let placed = (node.as_ref() as &dyn std::any::Any).is::<InterruptCheck>();
            // A recursive query's work table is found and replaced by
            // its RecursiveQueryExec whenever that is rebuilt: it stays
            // bare (and is in memory: nothing to interrupt there).
            let work_table = node.name() == "WorkTableExec";
            if !node.children().is_empty() || placed || work_table {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(InterruptCheck {
                input: node,
                interrupts: self.interrupts.clone(),
            }) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "interrupt_check"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A leaf whose batches first check the session's interrupts.
#[derive(Debug)]
struct InterruptCheck {
    input: Arc<dyn ExecutionPlan>,
    interrupts: Interrupts,
}

impl DisplayAs for InterruptCheck {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.input.fmt_as(t, f)
    }
}

impl ExecutionPlan for InterruptCheck {
    fn name(&self) -> &str {
        self.input.name()
    }

    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.input.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        // A leaf, like the scan it wraps (optimizer rules and EXPLAIN see
        // the scan's place unchanged).
        Vec::new()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.input.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "an interrupt check has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(CheckedStream {
            schema: input.schema(),
            input,
            interrupts: self.interrupts.clone(),
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.input.metrics()
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.input.statistics_from_inputs(input_stats, args)
    }
}

struct CheckedStream {
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    interrupts: Interrupts,
}

impl Stream for CheckedStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(reason) = self.interrupts.check_now() {
            return Poll::Ready(Some(Err(DataFusionError::External(Box::new(
                reason.error(),
            )))));
        }
        self.input.as_mut().poll_next(cx)
    }
}

impl RecordBatchStream for CheckedStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
