"""Runs cockroachdb.k through kcl-lib (PyPI), the way a Python user renders KCL: kcl.py COUNT."""
import sys

import kcl_lib.api as api

args = api.ExecProgramArgs(k_filename_list=[sys.argv[2]], args=[api.Argument(name="count", value=sys.argv[1])])
result = api.API().exec_program(args)
if result.err_message:
    sys.exit(result.err_message)
sys.stdout.write(result.yaml_result)
