"""Loads a chart with Helm's own code (helm-python-sdk, Helm's Go library) and prints, as JSON,
its default values as Helm read values.yaml, Helm's verdict on each set of values (null when
values.schema.json accepts it, else Helm's message), and each named template rendered with
its value. Used by tests/suite/helm_chart.rs.

    python helm_values.py CHART CASES.json

CASES.json: {"value_sets": [{...}, ...], "renders": [{...}, ...],
             "releases": [{"values": {...}, "name": NAME, "namespace": NAMESPACE}, ...],
             "lint": {"values": {...}, "kube_version": "1.N.0"},
             "install": {"values": {...}, "name": NAME, "namespace": NAMESPACE}}
(each of "releases" rendered as that release, or Helm's message where it fails; with "lint",
`helm lint --strict` of the chart with those values (at that Kubernetes release, if given); with "install", what `helm install
--dry-run=client` says: the release (its notes, manifest, chart and app versions) or Helm's
message; all but "value_sets" may be left out).
"""
import json
import sys

import helm_python

chart_dir, cases_file = sys.argv[1], sys.argv[2]
with open(cases_file, encoding="utf-8") as f:
    cases = json.load(f)
chart = helm_python.Chart.load(chart_dir)
verdicts = []
for values in cases["value_sets"]:
    try:
        chart.validate_schema(values)
        verdicts.append(None)
    except helm_python.HelmValuesError as refusal:
        verdicts.append(str(refusal))
rendered = [
    chart.render(values, name="cases", namespace="default") for values in cases.get("renders", [])
]
releases = []
for release in cases.get("releases", []):
    try:
        releases.append(
            chart.render(release["values"], name=release["name"], namespace=release["namespace"])
        )
    except helm_python.HelmError as failure:
        releases.append(str(failure))
lint = None
if "lint" in cases:
    lint = helm_python.lint(
        chart_dir,
        cases["lint"]["values"],
        strict=True,
        kube_version=cases["lint"].get("kube_version"),
    )
install = None
if "install" in cases:
    wanted = cases["install"]
    # A client-side dry run contacts no cluster: Helm checks the chart (its kubeVersion against the
    # Kubernetes release it assumes, its schema) and renders it as `helm install` would.
    config = helm_python.Config(kube_apiserver="https://127.0.0.1:1", namespace=wanted["namespace"])
    try:
        release = config.install(
            chart_dir,
            wanted["name"],
            wanted["values"],
            namespace=wanted["namespace"],
            dry_run="client",
        )
        install = {key: release[key] for key in ("notes", "manifest", "chart_version", "app_version")}
    except helm_python.HelmError as failure:
        install = str(failure)
json.dump(
    {
        "defaults": chart.values,
        "verdicts": verdicts,
        "rendered": rendered,
        "releases": releases,
        "lint": lint,
        "install": install,
    },
    sys.stdout,
)
