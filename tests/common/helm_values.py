"""Loads a chart with Helm's own code (helm-python-sdk, Helm's Go library) and prints, as JSON,
its default values as Helm read values.yaml, Helm's verdict on each set of values (null when
values.schema.json accepts it, else Helm's message), and each named template rendered with
its value. Used by tests/suite/helm_chart.rs.

    python helm_values.py CHART CASES.json

CASES.json: {"value_sets": [{...}, ...], "renders": [{...}, ...],
             "releases": [{"values": {...}, "name": NAME, "namespace": NAMESPACE}, ...],
             "lint": {"values": {...}}}
(each of "releases" rendered as that release, or Helm's message where it fails; with "lint",
`helm lint --strict` of the chart with those values; "releases", "renders" and "lint" may be
left out).
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
    lint = helm_python.lint(chart_dir, cases["lint"]["values"], strict=True)
json.dump(
    {
        "defaults": chart.values,
        "verdicts": verdicts,
        "rendered": rendered,
        "releases": releases,
        "lint": lint,
    },
    sys.stdout,
)
