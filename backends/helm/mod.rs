//! The helm backend, in the making: a Helm chart whose values are the spec's parameters and whose
//! templates render what the kubernetes backend writes for those values. Not yet in the registry:
//! what exists is the chart's list of values ([`values`]) and the Go templates that compute, from
//! those values, what berth's own templates see ([`helpers`]); the lowering of the objects
//! follows.

pub mod helpers;
pub mod values;
