//! What is deployed, read back from the directory an earlier compile wrote (`--against`) as every
//! file of an output directory is read: regular files only, no link followed.

use berth_backend::plan::Deployed;
use std::path::Path;

pub struct Against<'a>(pub &'a Path);

impl Deployed for Against<'_> {
    fn read(&self, path: &str) -> Option<String> {
        crate::inside::read_file(self.0, path)
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    }
}
