//! The helm backend, in the making: a Helm chart whose values are the spec's parameters and whose
//! templates render what the kubernetes backend writes for those values. Not yet in the registry:
//! [`chart::chart`] writes the charts of the specs whose computed values it covers so far (the
//! member count, volumes' sizes and classes, CPU and memory, every `[container]` and `[init]`
//! string) and says why for the others; [`values`] is the chart's list of values and [`helpers`]
//! the Go templates its objects share.

pub mod chart;
mod checks;
pub mod helpers;
mod lift;
mod notes;
mod tags;
pub mod values;
