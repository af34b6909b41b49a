//! The Kubernetes releases berth targets, for every backend whose output runs on Kubernetes: the
//! kubernetes backend's objects and a chart's `kubeVersion`.

/// The oldest Kubernetes minor release still supported upstream (1.35 until February 2027): the
/// default target, and the release the output is typed for (k8s-openapi's `v1_35`).
pub const OLDEST_SUPPORTED: u32 = 35;
/// The newest release the output is validated against (kubernetes-validate's newest schemas).
pub const NEWEST_VALIDATED: u32 = 37;
