//! The end-to-end tests on the Docker engine, in their own binary so that they can run alone
//! (`cargo test --test engine`): the demo service (`demo`) and real upstream software
//! (`upstream`). They wait on real clusters; their tests take the engine one at a time.

#[path = "../common/mod.rs"]
mod common;

mod demo;
mod imported;
mod init;
mod multinode;
mod upstream;
