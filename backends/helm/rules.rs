//! The helm backend's rule: a value the chart cannot compute refuses the chart, never frozen in
//! it. The kubernetes backend's rules hold for the chart's objects, and report as its own.

use crate::not_in_chart::NotInChart;
use berth_diagnostic::Diagnostic;
use berth_model::Service;

berth_diagnostic::rules!();

pub fn not_in_chart(service: &Service, not: NotInChart) -> Diagnostic {
    NOT_IN_CHART.fire(
        service,
        not.span,
        format!("no chart: {}", not.reason),
        "the chart cannot compute this from its values",
        match not.varies {
            true => "write this key without a parameter, the release name or a port a parameter sets",
            false => "change the spec where the message says: what the chart cannot hold, or the text it cannot write",
        },
    )
}
