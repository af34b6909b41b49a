"""Renders a chart with Helm's own engine (helm-python-sdk, Helm's Go library) and prints each
ConfigMap's data as JSON: {name: {key: value}}. Used by tests/suite/go_templates.rs.

    python helm_render.py CHART VALUES.json
"""
import json
import sys

import helm_python
import yaml

chart_dir, values_file = sys.argv[1], sys.argv[2]
with open(values_file, encoding="utf-8") as f:
    values = json.load(f)
chart = helm_python.Chart.load(chart_dir)
manifests = chart.render(values, name="cases", namespace="default")
found = {}
for text in manifests.values():
    for document in yaml.safe_load_all(text):
        if document and document.get("kind") == "ConfigMap":
            found[document["metadata"]["name"]] = document.get("data") or {}
json.dump(found, sys.stdout)
