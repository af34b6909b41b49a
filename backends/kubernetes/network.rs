//! NetworkPolicies: members admit their public ports from anywhere and their peers-only ports
//! from members only; the init pod serves nothing and admits nothing.

use berth_model::{Expose, Port, Protocol, Service};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The members' policy. Egress stays open: members reach their peers and whatever the software
/// needs (DNS, object stores), which berth cannot know.
pub fn members(
    service: &Service,
    metadata: ObjectMeta,
    member_labels: &BTreeMap<String, String>,
) -> NetworkPolicy {
    let ports_exposed = |expose: Expose| -> Option<Vec<NetworkPolicyPort>> {
        let ports: Vec<NetworkPolicyPort> = service
            .ports
            .iter()
            .filter(|p| p.expose == expose)
            .map(policy_port)
            .collect();
        (!ports.is_empty()).then_some(ports)
    };
    let mut ingress = Vec::new();
    if let Some(ports) = ports_exposed(Expose::Public) {
        ingress.push(NetworkPolicyIngressRule {
            ports: Some(ports),
            ..Default::default()
        });
    }
    if let Some(ports) = ports_exposed(Expose::Peers) {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                pod_selector: Some(selector(member_labels)),
                ..Default::default()
            }]),
            ports: Some(ports),
        });
    }
    policy(metadata, member_labels, ingress)
}

/// The init pod's policy: it only connects out.
pub fn init(metadata: ObjectMeta, init_labels: &BTreeMap<String, String>) -> NetworkPolicy {
    policy(metadata, init_labels, Vec::new())
}

fn policy(
    metadata: ObjectMeta,
    pods: &BTreeMap<String, String>,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(pods)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(ingress),
            ..Default::default()
        }),
    }
}

fn selector(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.clone()),
        ..Default::default()
    }
}

fn policy_port(port: &Port) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port.port))),
        protocol: Some(
            match port.protocol {
                Protocol::Udp => "UDP",
                Protocol::Tcp => "TCP",
            }
            .into(),
        ),
        ..Default::default()
    }
}
