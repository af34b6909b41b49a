//! The Marathon and Metronome documents berth writes, as typed structs. Fields are declared in
//! alphabetical order, which is the order of the keys in the written JSON.

use serde::Serialize;
use std::collections::BTreeMap;

/// A `/v2/groups` document.
#[derive(Serialize)]
pub struct Group {
    pub apps: Vec<App>,
    pub id: String,
}

/// A `/v2/apps` app definition (`AppDefinition.json`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<[String; 3]>,
    pub container: Container,
    pub cpus: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    pub disk: u64,
    pub env: BTreeMap<String, EnvVar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,
    pub id: String,
    pub instances: u32,
    pub labels: BTreeMap<String, String>,
    pub mem: u64,
    pub networks: Vec<Network>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readiness_checks: Vec<ReadinessCheck>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretSource>,
    pub task_kill_grace_period_seconds: u64,
    pub unreachable_strategy: UnreachableStrategy,
    pub upgrade_strategy: UpgradeStrategy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub docker: Docker,
    pub port_mappings: Vec<PortMapping>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub volumes: Vec<Volume>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Docker {
    pub force_pull_image: bool,
    pub image: String,
    pub parameters: Vec<Parameter>,
}

/// A `docker run` flag of the Docker containerizer.
#[derive(Serialize)]
pub struct Parameter {
    pub key: &'static str,
    pub value: String,
}

/// A persistent volume (`persistent`) or a host path into one (`host_path`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub container_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent: Option<Persistent>,
}

#[derive(Serialize)]
pub struct Persistent {
    pub size: u64,
    #[serde(rename = "type")]
    pub kind: super::DiskType,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub container_port: u16,
    pub host_port: u16,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub name: String,
    pub protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    pub grace_period_seconds: u64,
    pub interval_seconds: u64,
    pub max_consecutive_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_index: Option<usize>,
    pub protocol: &'static str,
    pub timeout_seconds: u64,
}

#[derive(Serialize)]
pub struct Command {
    pub value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheck {
    pub interval_seconds: u64,
    pub name: &'static str,
    pub path: String,
    pub port_name: String,
    pub protocol: &'static str,
    pub timeout_seconds: u64,
}

/// An environment variable: a value, or a reference to one of the app's `secrets`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum EnvVar {
    Value(String),
    Secret { secret: String },
}

#[derive(Serialize)]
pub struct SecretSource {
    pub source: String,
}

#[derive(Serialize)]
pub struct Network {
    pub mode: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum UnreachableStrategy {
    /// Always the string `"disabled"`.
    Disabled(&'static str),
    #[serde(rename_all = "camelCase")]
    After {
        expunge_after_seconds: u64,
        inactive_after_seconds: u64,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    pub maximum_over_capacity: f64,
    pub minimum_health_capacity: u32,
}

/// A Metronome job (`/v1/jobs`).
#[derive(Serialize)]
pub struct Job {
    pub description: String,
    pub id: String,
    pub run: JobRun,
}

#[derive(Serialize)]
pub struct JobRun {
    pub args: Vec<String>,
    pub cpus: f64,
    pub disk: u64,
    pub docker: JobDocker,
    /// Metronome's `env` and `secrets` have the shape of Marathon's.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvVar>,
    pub mem: u64,
    pub restart: JobRestart,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretSource>,
}

#[derive(Serialize)]
pub struct JobDocker {
    pub image: String,
    /// `docker run` options; the entrypoint among them, since a job's `args` follow the image's.
    pub parameters: Vec<Parameter>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRestart {
    pub active_deadline_seconds: u64,
    pub policy: &'static str,
}
