"""Runs the `helm` commands of the README's tour with Helm's own library (helm-python-sdk), as the
helm binary would but without a cluster: `helm lint [--strict] CHART`, `helm template NAME CHART
[--namespace NS] [--set K=V]...`, and `helm install NAME CHART [--namespace NS]
[--create-namespace] [--set K=V]...`, which runs as a client-side dry run (`--dry-run=client`).
Prints what helm prints (findings; manifests; the release's notes) and exits 1 where helm fails.

    python helm_cli.py lint --strict deploy/helm/ledger
"""
import argparse
import sys

import helm_python

# Helm's lint severities: 1 info, 2 warning, 3 error; `--strict` fails on warnings too.
WARNING, ERROR = 2, 3


def merged(expressions):
    """The values of each `--set` in turn, as Helm parses them, a later one winning."""
    values = {}

    def merge(into, new):
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    for expression in expressions:
        merge(values, helm_python.parse_set_string(expression))
    return values


def parser():
    helm = argparse.ArgumentParser(prog="helm")
    commands = helm.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("lint")
    lint.add_argument("chart")
    lint.add_argument("--strict", action="store_true")
    for name in ("template", "install"):
        command = commands.add_parser(name)
        command.add_argument("name")
        command.add_argument("chart")
        command.add_argument("--namespace", "-n", default="default")
        command.add_argument("--set", action="append", default=[])
        if name == "install":
            command.add_argument("--create-namespace", action="store_true")
    return helm


def main(argv):
    args = parser().parse_args(argv)
    if args.command == "lint":
        result = helm_python.lint(args.chart, {}, strict=args.strict)
        worst = WARNING if args.strict else ERROR
        failed = bool(result["errors"])
        for message in result["messages"]:
            print(f"[{message['severity']}] {message['path']}: {message['error']}")
            failed = failed or message["severity"] >= worst
        return 1 if failed else 0
    values = merged(args.set)
    if args.command == "template":
        chart = helm_python.Chart.load(args.chart)
        chart.validate_schema(values)
        rendered = chart.render(values, name=args.name, namespace=args.namespace)
        for path in sorted(p for p in rendered if not p.endswith("NOTES.txt")):
            print(f"---\n# Source: {path}\n{rendered[path].strip()}")
        return 0
    config = helm_python.Config(kube_apiserver="https://127.0.0.1:1", namespace=args.namespace)
    release = config.install(
        args.chart,
        args.name,
        values,
        namespace=args.namespace,
        create_namespace=args.create_namespace,
        dry_run="client",
    )
    print(release["manifest"])
    print(release["notes"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except helm_python.HelmError as failure:
        print(f"Error: {failure}", file=sys.stderr)
        sys.exit(1)
