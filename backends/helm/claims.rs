//! The chart claims for each concern what the kubernetes backend claims for the same spec (its
//! `compile` passes them on), because its templates render those objects: the kubernetes
//! backend's `claims.rs` holds the objects to the claims, `tests/suite/helm_chart.rs` holds the
//! chart's renderings to the objects with Helm's own code, and here the chart must hold a
//! template of every object the kubernetes backend writes (a `Namespace` aside, which a release
//! leaves to `helm install --create-namespace`).

use super::Helm;
use berth_backend_kubernetes::Kubernetes;
use berth_backends_testing::{Output, check_claims, compile, specs};
use berth_model::concern::Realization;

const HELM: Helm = Helm {
    kubernetes: &Kubernetes,
};

fn shows(_: &Realization, out: &Output) -> bool {
    let (_, path) = specs()
        .into_iter()
        .find(|(name, _)| *name == out.spec)
        .expect("the spec is one of specs()");
    let objects = compile(&Kubernetes, &path).expect("a spec the chart takes targets kubernetes");
    let objects = objects.paths().filter(|p| p.ends_with(".yaml"));
    // The kubernetes backend names each file `<order>-<kind>-<name>.yaml`.
    let kind = |p: &str| p.split('-').nth(1).unwrap_or_default().to_string();
    objects.filter(|p| kind(p) != "namespace").all(|p| {
        let template = format!("{}/templates/{p}", out.name());
        out.paths().any(|t| t == template)
    })
}

#[test]
fn the_chart_holds_a_template_of_every_object_its_claims_rest_on() {
    check_claims(&HELM, shows);
}
