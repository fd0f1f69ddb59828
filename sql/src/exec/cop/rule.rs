//! The physical optimizer rule that hands aggregates and top-N sorts to
//! the stores: an aggregate straight over a scan the stores can run
//! becomes a scan whose stores answer with partial aggregate states, under
//! DataFusion's final aggregate (which merges them as it merges its own
//! partial states); a sort with a fetch (ORDER BY … LIMIT n) over such a
//! scan keeps its place but reads only each store answer's first n rows.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::Result as DfResult;
use datafusion::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
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
            if let Some(sort) = node.downcast_ref::<SortExec>() {
                return top_to_stores(sort, &node);
            }
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
                    match scan.with_partial_aggregate(
                        agg.group_expr(),
                        agg.aggr_expr(),
                        agg.schema(),
                    )? {
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

/// `sort` (the plan node `node`) over a scan whose stores keep only
/// the first rows of each answer.
fn top_to_stores(
    sort: &SortExec,
    node: &Arc<dyn ExecutionPlan>,
) -> DfResult<Transformed<Arc<dyn ExecutionPlan>>> {
    let (Some(fetch), Some(scan)) = (sort.fetch(), scan_below(sort.input())) else {
        return Ok(Transformed::no(node.clone()));
    };
    let Some(pushed) = scan.with_top(sort.expr(), fetch)? else {
        return Ok(Transformed::no(node.clone()));
    };
    let mut input: Arc<dyn ExecutionPlan> = Arc::new(pushed);
    if sort.input().downcast_ref::<CooperativeExec>().is_some() {
        input = Arc::new(CooperativeExec::new(input));
    }
    Ok(Transformed::yes(Arc::new(
        SortExec::new(sort.expr().clone(), input)
            .with_fetch(Some(fetch))
            .with_preserve_partitioning(sort.preserve_partitioning()),
    )))
}

/// The scan an aggregate or a sort reads, seen through a round-robin
/// repartition (which only spreads the scan's batches over more partial
/// steps: the stores' partial states need no spreading) and DataFusion's
/// cooperative-scheduling wrapper.
fn scan_below(input: &Arc<dyn ExecutionPlan>) -> Option<&KvScanExec> {
    if let Some(r) = input.downcast_ref::<RepartitionExec>() {
        if matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)) {
            return scan_below(r.input());
        }
        return None;
    }
    // DataFusion's wrapper that makes a leaf yield to the scheduler.
    if let Some(c) = input.downcast_ref::<CooperativeExec>() {
        return c.input().downcast_ref::<KvScanExec>();
    }
    input.downcast_ref::<KvScanExec>()
}
