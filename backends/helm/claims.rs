//! The chart claims for each concern what the kubernetes backend claims for the same spec: its
//! templates render those objects (`tests/suite/helm_chart.rs` proves it with Helm's own code
//! for many values), so here each claim must be the kubernetes backend's, and the chart must hold
//! a template of every object the kubernetes backend writes.

use super::Helm;
use berth_backend_kubernetes::Kubernetes;
use berth_backends_testing::{Output, check_claims, compile, specs};
use berth_model::concern::Realization;

const HELM: Helm = Helm {
    kubernetes: &Kubernetes,
};

fn shows(claim: &Realization, out: &Output) -> bool {
    let (_, path) = specs()
        .into_iter()
        .find(|(name, _)| *name == out.spec)
        .expect("the spec is one of specs()");
    let objects = compile(&Kubernetes, &path).expect("a spec the chart takes targets kubernetes");
    let templated = objects.paths().filter(|p| p.ends_with(".yaml")).all(|p| {
        let template = format!("{}/templates/{p}", out.name());
        out.paths().any(|t| t == template)
    });
    templated && objects.concerns.contains(claim)
}

#[test]
fn every_claim_is_the_kubernetes_backends_and_its_objects_are_templates() {
    check_claims(&HELM, shows);
}
