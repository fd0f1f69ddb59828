//! The physical optimizer rule that hands aggregates to the stores: an
//! aggregate straight over a scan the stores can run becomes a scan whose
//! stores answer with partial aggregate states, under DataFusion's final
//! aggregate (which merges them as it merges its own partial states).

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::Result as DfResult;
use datafusion::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

use crate::exec::scan::KvScanExec;

/// Pushes partial aggregates into the scans below them.
#[derive(Debug, Default)]
pub struct AggregateToStores;

impl PhysicalOptimizerRule for AggregateToStores {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(agg) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(scan) = scan_below(agg.input()) else {
                return Ok(Transformed::no(node));
            };
            if agg.filter_expr().iter().any(Option::is_some) {
                return Ok(Transformed::no(node));
            }
            match agg.mode() {
                // The partial step moves into the stores as it is.
                AggregateMode::Partial => {
                    match scan.with_partial_aggregate(agg.group_expr(), agg.aggr_expr(), agg.schema())? {
                        Some(pushed) => Ok(Transformed::yes(Arc::new(pushed))),
                        None => Ok(Transformed::no(node)),
                    }
                }
                // One step over one partition: split into the stores'
                // partial step and a final one here.
                AggregateMode::Single => {
                    let partial = crate::exec::cop::partial_schema(
                        agg.group_expr(),
                        agg.aggr_expr(),
                        &agg.input_schema(),
                    )
                    .map_err(crate::exec::scan::df_err)?;
                    let Some(pushed) =
                        scan.with_partial_aggregate(agg.group_expr(), agg.aggr_expr(), partial)?
                    else {
                        return Ok(Transformed::no(node));
                    };
                    let merged = AggregateExec::try_new(
                        AggregateMode::Final,
                        agg.group_expr().as_final(),
                        agg.aggr_expr().to_vec(),
                        agg.filter_expr().to_vec(),
                        Arc::new(pushed),
                        agg.input_schema(),
                    )?;
                    Ok(Transformed::yes(Arc::new(merged)))
                }
                _ => Ok(Transformed::no(node)),
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "aggregate_to_stores"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The scan an aggregate reads, seen through a round-robin repartition
/// (which only spreads the scan's batches over more partial steps: the
/// stores' partial states need no spreading).
fn scan_below(input: &Arc<dyn ExecutionPlan>) -> Option<&KvScanExec> {
    if let Some(r) = input.downcast_ref::<RepartitionExec>() {
        if matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)) {
            return r.input().downcast_ref::<KvScanExec>();
        }
        return None;
    }
    input.downcast_ref::<KvScanExec>()
}
