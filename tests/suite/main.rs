//! Every test that needs no Docker engine, as modules of one test binary (one link instead of
//! one per file). `cargo test --test suite MODULE::` runs one module.

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod cli;
mod cloudfoundry;
mod diff;
mod docker_family;
mod first_hour;
mod go_templates;
mod hardening;
mod helm_backend;
mod helm_chart;
mod hostile_import;
mod hostile_output;
mod hostile_spec;
mod import;
mod marathon;
mod newcomer;
mod per_member;
mod plan;
mod plan_docker;
mod plan_marathon;
mod rules;
mod snapshots;
mod spec_keys;
mod swarm;
mod validators;
