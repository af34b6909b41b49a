//! What `diff --against` says of a changed Cloud Foundry output: nothing yet, since `cf push`
//! applies every change of the manifest by restarting the app's instances.

pub fn rules(
    _service: &berth_model::Service,
    _path: &str,
    _before: &str,
    _after: &str,
) -> Vec<berth_diagnostic::Diagnostic> {
    Vec::new()
}
