//! The forms the objects are handed over in agree, for every example: each document is its
//! file's text read back, and without files the findings are the same.

use super::Kubernetes;
use berth_backend::Form;
use berth_backends_testing::{Value, compile_as, specs};

#[test]
fn each_document_is_its_text_read_back_and_the_findings_do_not_depend_on_the_form() {
    for (name, path) in specs() {
        let Some(text) = compile_as(&Kubernetes, &path, Form::Text) else {
            continue;
        };
        let documents = compile_as(&Kubernetes, &path, Form::Documents).unwrap();
        let omitted = compile_as(&Kubernetes, &path, Form::Omitted).unwrap();
        let objects = text.files.iter().filter(|f| f.path.ends_with(".yaml"));
        assert_eq!(
            objects.clone().count(),
            documents
                .files
                .iter()
                .filter(|f| f.document.is_some())
                .count(),
            "{name}: a document for each object"
        );
        for file in objects {
            let read: Value = serde_saphyr::from_str(&file.contents).unwrap();
            let document = documents.files.iter().find(|f| f.path == file.path);
            assert_eq!(
                document.and_then(|d| d.document.as_ref()),
                Some(&read),
                "{name}: {}",
                file.path
            );
        }
        assert!(omitted.files.is_empty(), "{name}: no files when omitted");
        for other in [&documents, &omitted] {
            assert_eq!(other.diagnostics, text.diagnostics, "{name}");
            assert_eq!(other.concerns, text.concerns, "{name}");
            assert_eq!(other.tls_names, text.tls_names, "{name}");
        }
    }
}
